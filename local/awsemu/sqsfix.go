package awsemu

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
)

// sqsFix restores the FIFO system attributes kumo (v0.33) leaves out of
// ReceiveMessage answers: MessageGroupId, MessageDeduplicationId and
// SequenceNumber (kumo sends the last one outside Attributes, where the SDK
// drops it). Consumers keep FIFO order per group with MessageGroupId, as
// Lambda's event source mapping does, so it must be there locally too.
//
// It remembers each FIFO message's group and deduplication id from the
// SendMessage/SendMessageBatch exchange, keyed by message id, and forgets
// it when the message is deleted.
type sqsFix struct {
	// sends is held shared by every send while it is forwarded and
	// remembered, and exclusively by a receive before it fills in the
	// attributes: a long-polling receive can get a message back before the
	// send that stored it has been remembered.
	sends   sync.RWMutex
	mu      sync.Mutex
	byID    map[string]fifoInfo
	handles map[string]string // receipt handle -> message id
}

type fifoInfo struct {
	group, dedup string
	handle       string // latest receipt handle
}

func newSQSFix() *sqsFix {
	return &sqsFix{byID: map[string]fifoInfo{}, handles: map[string]string{}}
}

const targetPrefix = "AmazonSQS."

func (f *sqsFix) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		action := r.Header.Get("X-Amz-Target")
		switch action {
		case targetPrefix + "SendMessage", targetPrefix + "SendMessageBatch", targetPrefix + "ReceiveMessage",
			targetPrefix + "DeleteMessage", targetPrefix + "DeleteMessageBatch":
		default:
			next.ServeHTTP(w, r)
			return
		}
		req, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read request", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(req))
		rec := httptest.NewRecorder()
		send := action == targetPrefix+"SendMessage" || action == targetPrefix+"SendMessageBatch"
		if send {
			f.sends.RLock()
		}
		next.ServeHTTP(rec, r)
		out := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			if action == targetPrefix+"ReceiveMessage" {
				// Wait for sends still being remembered.
				f.sends.Lock()
				f.sends.Unlock()
			}
			out = f.apply(action[len(targetPrefix):], req, out)
		}
		if send {
			f.sends.RUnlock()
		}
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(out)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(out)
	})
}

// apply records or applies what action tells; on anything it cannot read it
// returns the answer unchanged.
func (f *sqsFix) apply(action string, req, resp []byte) []byte {
	switch action {
	case "SendMessage":
		var in struct{ MessageGroupId, MessageDeduplicationId string }
		var out struct{ MessageId string }
		if json.Unmarshal(req, &in) == nil && json.Unmarshal(resp, &out) == nil && in.MessageGroupId != "" {
			f.remember(out.MessageId, in.MessageGroupId, in.MessageDeduplicationId)
		}
		return bodyMD5s(req, resp)
	case "SendMessageBatch":
		var in struct {
			Entries []struct{ Id, MessageGroupId, MessageDeduplicationId string }
		}
		var out struct {
			Successful []struct{ Id, MessageId string }
		}
		if json.Unmarshal(req, &in) != nil || json.Unmarshal(resp, &out) != nil {
			return resp
		}
		for _, s := range out.Successful {
			for _, e := range in.Entries {
				if e.Id == s.Id && e.MessageGroupId != "" {
					f.remember(s.MessageId, e.MessageGroupId, e.MessageDeduplicationId)
				}
			}
		}
		return bodyMD5s(req, resp)
	case "DeleteMessage":
		var in struct{ ReceiptHandle string }
		if json.Unmarshal(req, &in) == nil {
			f.forget(in.ReceiptHandle)
		}
	case "DeleteMessageBatch":
		var in struct {
			Entries []struct{ Id, ReceiptHandle string }
		}
		var out struct {
			Successful []struct{ Id string }
		}
		if json.Unmarshal(req, &in) != nil || json.Unmarshal(resp, &out) != nil {
			return resp
		}
		for _, s := range out.Successful {
			for _, e := range in.Entries {
				if e.Id == s.Id {
					f.forget(e.ReceiptHandle)
				}
			}
		}
	case "ReceiveMessage":
		return f.fillReceive(resp)
	}
	return resp
}

// bodyMD5s sets each MD5OfMessageBody of a send answer to the MD5 of the
// body sent, as SQS does. kumo answers a FIFO send deduplicated within the
// 5-minute window with the stored message's MD5, which the SDK then rejects
// when the duplicate's body differs (for example by a receipt time).
func bodyMD5s(req, resp []byte) []byte {
	var in struct {
		MessageBody string
		Entries     []struct{ Id, MessageBody string }
	}
	var out map[string]json.RawMessage
	if json.Unmarshal(req, &in) != nil || json.Unmarshal(resp, &out) != nil {
		return resp
	}
	sum := func(b string) json.RawMessage {
		h := md5.Sum([]byte(b)) //nolint:gosec // SQS's body checksum is MD5
		r, _ := json.Marshal(hex.EncodeToString(h[:]))
		return r
	}
	if _, ok := out["MD5OfMessageBody"]; ok {
		out["MD5OfMessageBody"] = sum(in.MessageBody)
	}
	var ok []map[string]json.RawMessage
	if raw, has := out["Successful"]; has && json.Unmarshal(raw, &ok) == nil {
		for _, s := range ok {
			var id string
			_ = json.Unmarshal(s["Id"], &id)
			for _, e := range in.Entries {
				if e.Id == id {
					s["MD5OfMessageBody"] = sum(e.MessageBody)
				}
			}
		}
		out["Successful"], _ = json.Marshal(ok)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return resp
	}
	return b
}

func (f *sqsFix) remember(id, group, dedup string) {
	f.mu.Lock()
	f.byID[id] = fifoInfo{group: group, dedup: dedup}
	f.mu.Unlock()
}

func (f *sqsFix) forget(handle string) {
	f.mu.Lock()
	if id, ok := f.handles[handle]; ok {
		delete(f.handles, handle)
		delete(f.byID, id)
	}
	f.mu.Unlock()
}

// fillReceive adds the FIFO attributes to each received message, leaving
// every other byte of the message (body, MD5s) as kumo sent it.
func (f *sqsFix) fillReceive(resp []byte) []byte {
	var out map[string]json.RawMessage
	if json.Unmarshal(resp, &out) != nil {
		return resp
	}
	var msgs []map[string]json.RawMessage
	if raw, ok := out["Messages"]; !ok || json.Unmarshal(raw, &msgs) != nil {
		return resp
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range msgs {
		var id, handle, seq string
		_ = json.Unmarshal(m["MessageId"], &id)
		_ = json.Unmarshal(m["ReceiptHandle"], &handle)
		_ = json.Unmarshal(m["SequenceNumber"], &seq)
		info, ok := f.byID[id]
		if !ok {
			continue
		}
		attrs := map[string]string{}
		if raw, ok := m["Attributes"]; ok {
			_ = json.Unmarshal(raw, &attrs)
		}
		attrs["MessageGroupId"] = info.group
		if info.dedup != "" {
			attrs["MessageDeduplicationId"] = info.dedup
		}
		if seq != "" {
			attrs["SequenceNumber"] = seq
		}
		if _, ok := attrs["SenderId"]; !ok {
			attrs["SenderId"] = "AIDALOCALWACLOUD"
		}
		m["Attributes"], _ = json.Marshal(attrs)
		if info.handle != "" {
			delete(f.handles, info.handle)
		}
		info.handle = handle
		f.byID[id] = info
		f.handles[handle] = id
	}
	out["Messages"], _ = json.Marshal(msgs)
	b, err := json.Marshal(out)
	if err != nil {
		return resp
	}
	return b
}
