package awsemu

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
)

// sqsFix restores the FIFO system attributes kumo (v0.33) leaves out of
// ReceiveMessage answers: MessageGroupId, MessageDeduplicationId and
// SequenceNumber (kumo sends the last one outside Attributes, where the SDK
// drops it); and the AWSTraceHeader system attribute a message was sent
// with, which kumo never returns and moto (5.2) drops from
// SendMessageBatch. Consumers keep FIFO order per group with MessageGroupId, as
// Lambda's event source mapping does, so it must be there locally too.
//
// It remembers each FIFO message's group and deduplication id from the
// SendMessage/SendMessageBatch exchange, keyed by message id, and forgets
// it when the message is deleted.
//
// It also keeps FIFO order per message group as SQS does, which neither
// emulator does on its own (see sqsorder.go), and, for an emulator whose
// sequence numbers do not grow with each send (moto draws them at random),
// numbers the messages of each FIFO queue itself.
type sqsFix struct {
	order *fifoOrder
	// ownSequence makes the front number FIFO messages itself; seqMu then
	// serialises FIFO sends, so that the numbers follow the emulator's
	// order, and seq is the last number given.
	ownSequence bool
	seqMu       sync.Mutex
	seq         uint64

	// sends is held shared by every send while it is forwarded and
	// remembered, and exclusively by a receive before it fills in the
	// attributes: a long-polling receive can get a message back before the
	// send that stored it has been remembered.
	sends   sync.RWMutex
	mu      sync.Mutex
	byID    map[string]fifoInfo
	handles map[string]string // receipt handle -> message id

	dedup *dedupMemory // FIFO deduplication ids sent in the last 5 minutes
}

type fifoInfo struct {
	group, dedup string
	trace        string // the AWSTraceHeader system attribute sent
	seq          string // the front's sequence number, with ownSequence
	handle       string // latest receipt handle
}

func newSQSFix() *sqsFix {
	return &sqsFix{order: newFIFOOrder(), byID: map[string]fifoInfo{}, handles: map[string]string{}, dedup: newDedupMemory()}
}

// newMotoFix is the front for moto, which returns FIFO attributes but
// numbers messages at random.
func newMotoFix() *sqsFix {
	f := newSQSFix()
	f.ownSequence = true
	return f
}

const targetPrefix = "AmazonSQS."

func (f *sqsFix) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		action := r.Header.Get("X-Amz-Target")
		if action == targetPrefix+"CreateQueue" || action == targetPrefix+"SetQueueAttributes" {
			if req, err := io.ReadAll(r.Body); err == nil {
				r.Body = io.NopCloser(bytes.NewReader(req))
				f.dedup.noteScope(action[len(targetPrefix):], req)
			}
		}
		switch action {
		case targetPrefix + "SendMessage", targetPrefix + "SendMessageBatch", targetPrefix + "ReceiveMessage",
			targetPrefix + "DeleteMessage", targetPrefix + "DeleteMessageBatch",
			targetPrefix + "ChangeMessageVisibility", targetPrefix + "ChangeMessageVisibilityBatch",
			targetPrefix + "SetQueueAttributes", targetPrefix + "PurgeQueue", targetPrefix + "DeleteQueue":
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
		name := action[len(targetPrefix):]
		var queue struct{ QueueUrl string }
		_ = json.Unmarshal(req, &queue)
		switch name {
		case "ReceiveMessage":
			if f.receive(w, r, next, req) {
				return
			}
		case "ChangeMessageVisibility", "ChangeMessageVisibilityBatch":
			if f.changeVisibility(w, r, next, name, req) {
				return
			}
		case "SetQueueAttributes", "PurgeQueue", "DeleteQueue":
			// Forget the queue's settings before and after: a receive
			// between the two may have read the old ones.
			f.order.forgetQueue(queue.QueueUrl, name != "SetQueueAttributes")
			defer f.order.forgetQueue(queue.QueueUrl, name != "SetQueueAttributes")
			if name != "SetQueueAttributes" {
				f.dedup.forgetQueue(queueNameOf(queue.QueueUrl))
			}
		}
		var held map[string]*heldMsg
		if name == "DeleteMessage" || name == "DeleteMessageBatch" {
			req, held = f.deleteHeld(name, req)
			r.Body = io.NopCloser(bytes.NewReader(req))
			r.ContentLength = int64(len(req))
			r.Header.Set("Content-Length", strconv.Itoa(len(req)))
		}
		send := name == "SendMessage" || name == "SendMessageBatch"
		fifoSend := send && isFIFOURL(queue.QueueUrl)
		unlockSend := func() {}
		if send {
			f.sends.RLock()
			if f.ownSequence && fifoSend {
				f.seqMu.Lock()
			}
			unlockSend = func() {
				if f.ownSequence && fifoSend {
					f.seqMu.Unlock()
				}
				f.sends.RUnlock()
			}
		}
		full := req
		var conf queueConf
		var dups map[string]sentID
		if fifoSend {
			// Looked up under the send lock: no receive hands out a
			// message before its send is remembered, so no consumer can
			// delete it, and an id not found here is new or still on the
			// queue, where the emulator drops the duplicate itself.
			conf, _ = f.order.queueConf(next, r, queue.QueueUrl)
			conf = f.confOf(queueNameOf(queue.QueueUrl), conf)
			var fwd []byte
			fwd, dups = f.dropDuplicates(name, req, queueNameOf(queue.QueueUrl), conf)
			if fwd == nil {
				unlockSend()
				writeJSONAnswer(w, duplicateAnswers(name, full, nil, dups))
				return
			}
			if len(dups) > 0 {
				req = fwd
				r.Body = io.NopCloser(bytes.NewReader(req))
				r.ContentLength = int64(len(req))
				r.Header.Set("Content-Length", strconv.Itoa(len(req)))
			}
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		out := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			if name == "ReceiveMessage" {
				// Wait for sends still being remembered.
				f.sends.Lock()
				f.sends.Unlock()
			}
			out = f.apply(name, req, out)
			if fifoSend {
				f.rememberSends(name, req, out, queueNameOf(queue.QueueUrl), conf)
				if len(dups) > 0 {
					out = duplicateAnswers(name, full, out, dups)
				}
			}
			if held != nil {
				f.deleted(name, out, held)
			}
			if name != "ReceiveMessage" && isFIFOURL(queue.QueueUrl) {
				f.order.signal(queue.QueueUrl)
			}
		}
		unlockSend()
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
		var in struct {
			MessageGroupId, MessageDeduplicationId string
			MessageSystemAttributes                systemAttributes
		}
		var out struct{ MessageId string }
		seqs := map[string]string{}
		if json.Unmarshal(req, &in) == nil && json.Unmarshal(resp, &out) == nil && (in.MessageGroupId != "" || in.MessageSystemAttributes.trace() != "") {
			seqs[""] = f.remember(out.MessageId, in.MessageGroupId, in.MessageDeduplicationId, in.MessageSystemAttributes.trace())
		}
		return withSequences(bodyMD5s(req, resp), seqs)
	case "SendMessageBatch":
		var in struct {
			Entries []struct {
				Id, MessageGroupId, MessageDeduplicationId string
				MessageSystemAttributes                    systemAttributes
			}
		}
		var out struct {
			Successful []struct{ Id, MessageId string }
		}
		if json.Unmarshal(req, &in) != nil || json.Unmarshal(resp, &out) != nil {
			return resp
		}
		seqs := map[string]string{}
		for _, s := range out.Successful {
			for _, e := range in.Entries {
				if e.Id == s.Id && (e.MessageGroupId != "" || e.MessageSystemAttributes.trace() != "") {
					seqs[s.Id] = f.remember(s.MessageId, e.MessageGroupId, e.MessageDeduplicationId, e.MessageSystemAttributes.trace())
				}
			}
		}
		return withSequences(bodyMD5s(req, resp), seqs)
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

// systemAttributes are a send's MessageSystemAttributes.
type systemAttributes map[string]struct{ DataType, StringValue string }

// trace is the AWSTraceHeader sent, or "".
func (a systemAttributes) trace() string { return a["AWSTraceHeader"].StringValue }

// remember records a FIFO message, or a message with a trace header; with
// ownSequence it returns the sequence number the front gives a FIFO
// message.
func (f *sqsFix) remember(id, group, dedup, trace string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	info := fifoInfo{group: group, dedup: dedup, trace: trace}
	if f.ownSequence && group != "" {
		if old, ok := f.byID[id]; ok && old.seq != "" {
			info.seq = old.seq // a deduplicated send: the stored message's number
		} else {
			f.seq++
			info.seq = fmt.Sprintf("%020d", f.seq)
		}
	}
	f.byID[id] = info
	return info.seq
}

// withSequences sets the SequenceNumber of a send answer (key "") or of
// its batch entries (by entry id) to the front's numbers.
func withSequences(resp []byte, seqs map[string]string) []byte {
	set := func(m map[string]json.RawMessage, seq string) {
		if seq != "" {
			m["SequenceNumber"], _ = json.Marshal(seq)
		}
	}
	var out map[string]json.RawMessage
	if len(seqs) == 0 || json.Unmarshal(resp, &out) != nil {
		return resp
	}
	set(out, seqs[""])
	var ok []map[string]json.RawMessage
	if raw, has := out["Successful"]; has && json.Unmarshal(raw, &ok) == nil {
		for _, s := range ok {
			var id string
			_ = json.Unmarshal(s["Id"], &id)
			set(s, seqs[id])
		}
		out["Successful"], _ = json.Marshal(ok)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return resp
	}
	return b
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
		if info.group != "" {
			attrs["MessageGroupId"] = info.group
		}
		if _, ok := attrs["AWSTraceHeader"]; !ok && info.trace != "" {
			attrs["AWSTraceHeader"] = info.trace
		}
		if info.dedup != "" {
			attrs["MessageDeduplicationId"] = info.dedup
		}
		if seq != "" {
			attrs["SequenceNumber"] = seq
		}
		if info.seq != "" {
			attrs["SequenceNumber"] = info.seq
			m["SequenceNumber"], _ = json.Marshal(info.seq)
		}
		if _, ok := attrs["SenderId"]; !ok && info.group != "" {
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
