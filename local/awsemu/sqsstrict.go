package awsemu

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

// strictSQS refuses, as SQS does, a FIFO send whose MessageGroupId or
// MessageDeduplicationId is not 1 to 128 alphanumeric or punctuation
// characters: kumo (v0.33) and moto take ids of any length. SQS refuses a
// SendMessage with InvalidParameterValue; the front refuses a
// SendMessageBatch holding such an entry the same way (every entry), which
// fails a publish as a per-entry failure would.
func strictSQS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		action := r.Header.Get("X-Amz-Target")
		if action != targetPrefix+"SendMessage" && action != targetPrefix+"SendMessageBatch" {
			next.ServeHTTP(w, r)
			return
		}
		req, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read request", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(req))
		type ids struct{ MessageGroupId, MessageDeduplicationId *string }
		var in struct {
			ids
			Entries []ids
		}
		_ = json.Unmarshal(req, &in)
		for _, e := range append([]ids{in.ids}, in.Entries...) {
			for _, f := range []struct {
				name string
				v    *string
			}{{"MessageGroupId", e.MessageGroupId}, {"MessageDeduplicationId", e.MessageDeduplicationId}} {
				if f.v != nil && !validFIFOID(*f.v) {
					writeSQSError(w, "InvalidParameterValue", "Value "+*f.v+" for parameter "+f.name+" is invalid. Reason: "+
						f.name+" can only include alphanumeric and punctuation characters. 1 to 128 in length.")
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// validFIFOID is SQS's rule for group and deduplication ids.
func validFIFOID(s string) bool {
	if len(s) < 1 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return true
}

// writeSQSError answers in SQS's JSON protocol.
func writeSQSError(w http.ResponseWriter, code, msg string) {
	b, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.sqs#" + code, "message": msg})
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Query-Error", code+";Sender")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(b)
}
