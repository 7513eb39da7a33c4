package awsemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FIFO order through the front.
//
// SQS never hands out a message of a FIFO group while an earlier message of
// that group is in flight, and hands a group's messages out in send order,
// also after they come back from a visibility timeout. Neither emulator
// keeps that promise on its own: kumo puts expired messages back at the
// head of the queue in Go map order (a group's messages return reversed or
// rotated, and a 10-message receive can take a group's third message
// without its first), and moto decides which groups are in flight once
// per long poll, so a receive that waited can hand out a group's next
// message while another receive holds the previous one.
//
// So the front keeps a per-group queue of every FIFO message it has
// received from the emulator and manages their visibility itself:
//
//   - A receive from the emulator asks for a 12-hour visibility: the
//     emulator then keeps the message, and with it its group, in flight
//     until the message is deleted, and never puts it back out of order.
//     The emulator only ever hands out the oldest messages of a group that
//     nobody holds, in send order: the front appends them to the group's
//     queue.
//   - A receive by a client is answered from those queues first: a group
//     none of whose messages is in flight gives its messages from the front
//     of its queue; then from the emulator. The front gives every delivery
//     its own receipt handle, visibility deadline and receive count
//     (ApproximateReceiveCount). Receives from the emulator are one at a
//     time per queue and do not wait there: the front long polls itself,
//     woken by sends, deletes and visibility changes that pass through it
//     and by held messages becoming visible.
//   - ChangeMessageVisibility on a held message changes the front's
//     deadline; DeleteMessage deletes it in the emulator with the
//     emulator's receipt handle and drops it from the queue.
//   - The queue's RedrivePolicy is applied by the front, as SQS does: a
//     message already received maxReceiveCount times is sent to the
//     dead-letter queue (same body, message attributes and group) and
//     deleted instead of being delivered again.
//
// Gaps: a long poll sees a message sent around the front (the query
// protocol, another front on the same kumo) within a second; a message held for more than 12 hours goes back to the emulator's
// queue; ApproximateNumberOfMessagesNotVisible counts held messages whose
// visibility ran out; the query (XML) protocol bypasses the front, as it
// does sqsfix.go.

// holdSeconds is the visibility the front asks the emulator for: SQS's
// longest.
const holdSeconds = 43200

// recheck bounds a long poll's wait between looks at the emulator, for
// what the front does not see change (a message sent around it, a delay
// running out).
const recheck = time.Second

type heldMsg struct {
	id, group     string
	serial        uint64 // arrival order at the front
	msg           map[string]json.RawMessage
	attrs         map[string]string
	backendHandle string
	handle        string    // receipt handle of the latest delivery; "" before the first
	visibleAt     time.Time // in flight until then
	count         int       // deliveries so far, the emulator's first one included
	moving        bool      // being moved to the dead-letter queue
}

func (h *heldMsg) inFlight(now time.Time) bool {
	return h.moving || (h.handle != "" && h.visibleAt.After(now))
}

type fifoQueue struct {
	groups map[string][]*heldMsg
}

type queueConf struct {
	visibility  int    // default visibility timeout, seconds
	maxReceives int    // RedrivePolicy maxReceiveCount; 0: none
	dlqName     string // RedrivePolicy deadLetterTargetArn's queue name
	// contentDedup is ContentBasedDeduplication; dedupPerGroup is
	// DeduplicationScope messageGroup (sqsdedup.go).
	contentDedup, dedupPerGroup bool
}

type fifoOrder struct {
	// polls serialises the receives from the emulator per queue: moto
	// decides which groups are in flight when a receive starts, so two
	// receives at once could hand out a group's first and second message.
	pollsMu sync.Mutex
	polls   map[string]*sync.Mutex

	mu       sync.Mutex
	changed  map[string]chan struct{} // by queue name; closed on a change
	queues   map[string]*fifoQueue    // by queue name
	byHandle map[string]*heldMsg      // client receipt handle -> message
	conf     map[string]queueConf     // by queue name
	serial   uint64
}

func newFIFOOrder() *fifoOrder {
	return &fifoOrder{polls: map[string]*sync.Mutex{}, changed: map[string]chan struct{}{}, queues: map[string]*fifoQueue{}, byHandle: map[string]*heldMsg{}, conf: map[string]queueConf{}}
}

// changes returns a channel closed at the next change to the queue.
func (o *fifoOrder) changes(name string) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	ch := o.changed[name]
	if ch == nil {
		ch = make(chan struct{})
		o.changed[name] = ch
	}
	return ch
}

// signal wakes the receives long polling the queue at url.
func (o *fifoOrder) signal(url string) {
	name := queueNameOf(url)
	o.mu.Lock()
	defer o.mu.Unlock()
	if ch := o.changed[name]; ch != nil {
		close(ch)
		delete(o.changed, name)
	}
}

// nextVisible is when the first held message of the queue in flight
// becomes visible again.
func (o *fifoOrder) nextVisible(name string, now time.Time) (time.Time, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var at time.Time
	q := o.queues[name]
	if q == nil {
		return at, false
	}
	for _, hs := range q.groups {
		for _, h := range hs {
			if h.handle != "" && h.visibleAt.After(now) && (at.IsZero() || h.visibleAt.Before(at)) {
				at = h.visibleAt
			}
		}
	}
	return at, !at.IsZero()
}

func (o *fifoOrder) pollLock(name string) *sync.Mutex {
	o.pollsMu.Lock()
	defer o.pollsMu.Unlock()
	m := o.polls[name]
	if m == nil {
		m = &sync.Mutex{}
		o.polls[name] = m
	}
	return m
}

func queueNameOf(url string) string {
	return url[strings.LastIndexByte(url, '/')+1:]
}

func isFIFOURL(url string) bool { return strings.HasSuffix(url, ".fifo") }

// call sends one SQS JSON request to the emulator, with the headers of the
// client's request r.
func call(next http.Handler, r *http.Request, action string, in any) (int, []byte) {
	body, _ := json.Marshal(in)
	req := httptest.NewRequestWithContext(r.Context(), http.MethodPost, r.URL.String(), bytes.NewReader(body))
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	req.Header.Set("X-Amz-Target", targetPrefix+action)
	req.Header.Set("Content-Length", strconv.Itoa(len(body)))
	req.ContentLength = int64(len(body))
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// queueConf reads (and caches) the queue's visibility timeout and redrive
// policy.
func (o *fifoOrder) queueConf(next http.Handler, r *http.Request, url string) (queueConf, bool) {
	name := queueNameOf(url)
	o.mu.Lock()
	c, ok := o.conf[name]
	o.mu.Unlock()
	if ok {
		return c, true
	}
	code, out := call(next, r, "GetQueueAttributes", map[string]any{"QueueUrl": url, "AttributeNames": []string{"VisibilityTimeout", "RedrivePolicy", "ContentBasedDeduplication", "DeduplicationScope"}})
	if code != http.StatusOK {
		return c, false
	}
	var ans struct{ Attributes map[string]string }
	if json.Unmarshal(out, &ans) != nil {
		return c, false
	}
	c.visibility, _ = strconv.Atoi(ans.Attributes["VisibilityTimeout"])
	c.contentDedup = ans.Attributes["ContentBasedDeduplication"] == "true"
	c.dedupPerGroup = ans.Attributes["DeduplicationScope"] == "messageGroup"
	if rp := ans.Attributes["RedrivePolicy"]; rp != "" {
		var p struct {
			DeadLetterTargetArn string
			MaxReceiveCount     json.RawMessage
		}
		if json.Unmarshal([]byte(rp), &p) == nil {
			c.maxReceives, _ = strconv.Atoi(strings.Trim(string(p.MaxReceiveCount), `"`))
			c.dlqName = p.DeadLetterTargetArn[strings.LastIndexByte(p.DeadLetterTargetArn, ':')+1:]
		}
	}
	o.mu.Lock()
	o.conf[name] = c
	o.mu.Unlock()
	return c, true
}

// forgetQueue drops what the front knows of a queue that was changed,
// purged or deleted.
func (o *fifoOrder) forgetQueue(url string, messages bool) {
	name := queueNameOf(url)
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.conf, name)
	if !messages {
		return
	}
	if q, ok := o.queues[name]; ok {
		for _, hs := range q.groups {
			for _, h := range hs {
				delete(o.byHandle, h.handle)
			}
		}
		delete(o.queues, name)
	}
}

type receiveInput struct {
	QueueUrl            string
	MaxNumberOfMessages *int
	VisibilityTimeout   *int
	WaitTimeSeconds     *int
}

// receive answers a ReceiveMessage on a FIFO queue; ok is false when the
// request is not one it handles (the caller forwards it).
func (f *sqsFix) receive(w http.ResponseWriter, r *http.Request, next http.Handler, req []byte) bool {
	var in receiveInput
	if json.Unmarshal(req, &in) != nil || !isFIFOURL(in.QueueUrl) {
		return false
	}
	n, wait := 1, 0
	if in.MaxNumberOfMessages != nil {
		n = *in.MaxNumberOfMessages
	}
	if in.WaitTimeSeconds != nil {
		wait = *in.WaitTimeSeconds
	}
	if n < 1 || n > 10 || wait < 0 || wait > 20 || (in.VisibilityTimeout != nil && (*in.VisibilityTimeout < 0 || *in.VisibilityTimeout > holdSeconds)) {
		return false // the emulator answers with its validation error
	}
	conf, ok := f.order.queueConf(next, r, in.QueueUrl)
	if !ok {
		return false // no such queue: the emulator says so
	}
	vis := conf.visibility
	if in.VisibilityTimeout != nil {
		vis = *in.VisibilityTimeout
	}
	o := f.order
	name := queueNameOf(in.QueueUrl)
	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	var out []json.RawMessage
	for {
		changed := o.changes(name) // before looking, so no change is missed
		got, moves := o.pick(name, n-len(out), vis, conf)
		out = append(out, got...)
		f.moveToDLQ(next, r, in.QueueUrl, conf, moves)
		if len(out) >= n {
			break
		}
		poll := o.pollLock(name)
		poll.Lock()
		code, ans := call(next, r, "ReceiveMessage", map[string]any{
			"QueueUrl": in.QueueUrl, "MaxNumberOfMessages": n - len(out), "VisibilityTimeout": holdSeconds,
			"WaitTimeSeconds": 0, "AttributeNames": []string{"All"},
			"MessageSystemAttributeNames": []string{"All"}, "MessageAttributeNames": []string{"All"},
		})
		if code != http.StatusOK {
			poll.Unlock()
			if len(out) == 0 {
				w.Header().Set("Content-Type", "application/x-amz-json-1.0")
				w.WriteHeader(code)
				_, _ = w.Write(ans)
				return true
			}
			break
		}
		// Wait for sends still being remembered.
		f.sends.Lock()
		f.sends.Unlock()
		o.add(name, f.fillReceive(ans))
		poll.Unlock()
		got, moves = o.pick(name, n-len(out), vis, conf)
		out = append(out, got...)
		f.moveToDLQ(next, r, in.QueueUrl, conf, moves)
		now := time.Now()
		if len(out) > 0 || !now.Before(deadline) || r.Context().Err() != nil {
			break
		}
		// Long poll: until a send, delete or visibility change through the
		// front, a held message's visibility running out, or a recheck.
		d := min(deadline.Sub(now), recheck)
		if at, ok := o.nextVisible(name, now); ok {
			d = min(d, at.Sub(now))
		}
		timer := time.NewTimer(max(d, time.Millisecond))
		select {
		case <-changed:
		case <-timer.C:
		case <-r.Context().Done():
		}
		timer.Stop()
	}
	body := []byte("{}")
	if len(out) > 0 {
		body, _ = json.Marshal(map[string]any{"Messages": out})
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return true
}

// add appends the messages of an emulator answer to their groups' queues.
func (o *fifoOrder) add(name string, resp []byte) {
	var ans struct{ Messages []map[string]json.RawMessage }
	if json.Unmarshal(resp, &ans) != nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	q := o.queues[name]
	if q == nil {
		q = &fifoQueue{groups: map[string][]*heldMsg{}}
		o.queues[name] = q
	}
	for _, m := range ans.Messages {
		h := &heldMsg{msg: m, attrs: map[string]string{}}
		_ = json.Unmarshal(m["MessageId"], &h.id)
		_ = json.Unmarshal(m["ReceiptHandle"], &h.backendHandle)
		_ = json.Unmarshal(m["Attributes"], &h.attrs)
		h.group = h.attrs["MessageGroupId"]
		if h.group == "" {
			// Sent around the front: its own group, so it is never held
			// behind another message.
			h.group = "\x00" + h.id
		}
		n, _ := strconv.Atoi(h.attrs["ApproximateReceiveCount"])
		h.count = max(n, 1) - 1
		o.serial++
		h.serial = o.serial
		// In sequence order: the emulator hands a group's messages out
		// oldest first, but answers may be added in another order.
		hs := q.groups[h.group]
		i := len(hs)
		for i > 0 && hs[i-1].handle == "" && seqLess(h.attrs["SequenceNumber"], hs[i-1].attrs["SequenceNumber"]) {
			i--
		}
		q.groups[h.group] = append(hs[:i:i], append([]*heldMsg{h}, hs[i:]...)...)
	}
}

// pick delivers up to n held messages: from each group none of whose
// messages is in flight, its oldest ones, oldest groups first. Messages
// already received maxReceiveCount times are returned in moves instead
// (marked as moving, which keeps their group waiting).
func (o *fifoOrder) pick(name string, n, vis int, conf queueConf) (out []json.RawMessage, moves []*heldMsg) {
	o.mu.Lock()
	defer o.mu.Unlock()
	q := o.queues[name]
	if q == nil || n <= 0 {
		return nil, nil
	}
	now := time.Now()
	type head struct {
		group  string
		serial uint64
	}
	var heads []head
	for g, hs := range q.groups {
		if len(hs) == 0 {
			delete(q.groups, g)
			continue
		}
		busy := false
		for _, h := range hs {
			if h.inFlight(now) {
				busy = true
				break
			}
		}
		if !busy {
			heads = append(heads, head{g, hs[0].serial})
		}
	}
	sort.Slice(heads, func(i, j int) bool { return heads[i].serial < heads[j].serial })
	for _, hd := range heads {
		for _, h := range q.groups[hd.group] {
			if len(out) >= n {
				return out, moves
			}
			if conf.maxReceives > 0 && conf.dlqName != "" && h.count >= conf.maxReceives {
				h.moving = true
				moves = append(moves, h)
				break
			}
			h.count++
			delete(o.byHandle, h.handle)
			h.handle = fmt.Sprintf("%s~%d", h.backendHandle, h.count)
			h.visibleAt = now.Add(time.Duration(vis) * time.Second)
			o.byHandle[h.handle] = h
			out = append(out, h.delivery())
		}
	}
	return out, moves
}

// delivery is the message as the client receives it this time.
func (h *heldMsg) delivery() json.RawMessage {
	m := make(map[string]json.RawMessage, len(h.msg))
	for k, v := range h.msg {
		m[k] = v
	}
	attrs := make(map[string]string, len(h.attrs))
	for k, v := range h.attrs {
		attrs[k] = v
	}
	attrs["ApproximateReceiveCount"] = strconv.Itoa(h.count)
	m["Attributes"], _ = json.Marshal(attrs)
	m["ReceiptHandle"], _ = json.Marshal(h.handle)
	b, _ := json.Marshal(m)
	return b
}

// drop removes a deleted message from its group's queue.
func (o *fifoOrder) drop(h *heldMsg) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.byHandle, h.handle)
	for _, q := range o.queues {
		hs := q.groups[h.group]
		for i, x := range hs {
			if x == h {
				q.groups[h.group] = append(hs[:i:i], hs[i+1:]...)
				return
			}
		}
	}
}

func (o *fifoOrder) lookup(handle string) *heldMsg {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.byHandle[handle]
}

// moveToDLQ sends each message to the queue's dead-letter queue and deletes
// it, as SQS's redrive does; a message it cannot move waits for the next
// receive.
func (f *sqsFix) moveToDLQ(next http.Handler, r *http.Request, url string, conf queueConf, moves []*heldMsg) {
	for _, h := range moves {
		dlq := url[:strings.LastIndexByte(url, '/')+1] + conf.dlqName
		var body string
		_ = json.Unmarshal(h.msg["Body"], &body)
		in := map[string]any{"QueueUrl": dlq, "MessageBody": body}
		if a, ok := h.msg["MessageAttributes"]; ok && len(a) > 2 {
			in["MessageAttributes"] = a
		}
		if isFIFOURL(dlq) {
			in["MessageGroupId"] = h.attrs["MessageGroupId"]
			in["MessageDeduplicationId"] = "redrive-" + h.id
		}
		req, _ := json.Marshal(in)
		code, out := call(next, r, "SendMessage", in)
		if code == http.StatusOK {
			f.apply("SendMessage", req, out)
			code, out = call(next, r, "DeleteMessage", map[string]any{"QueueUrl": url, "ReceiptHandle": h.backendHandle})
		}
		if code != http.StatusOK {
			log.Printf("awsemu: move message %s to dead-letter queue %s: %d %s", h.id, conf.dlqName, code, out)
			f.order.mu.Lock()
			h.moving = false
			f.order.mu.Unlock()
			continue
		}
		f.forget(h.backendHandle)
		f.order.drop(h)
		f.order.signal(url)
	}
}

// deleteHeld handles DeleteMessage and DeleteMessageBatch for held
// messages: their handles become the emulator's before the request goes
// on. It returns the request to forward and, per entry id ("" for
// DeleteMessage), the held message.
func (f *sqsFix) deleteHeld(action string, req []byte) ([]byte, map[string]*heldMsg) {
	held := map[string]*heldMsg{}
	var in map[string]json.RawMessage
	if json.Unmarshal(req, &in) != nil {
		return req, held
	}
	switch action {
	case "DeleteMessage":
		var handle string
		_ = json.Unmarshal(in["ReceiptHandle"], &handle)
		h := f.order.lookup(handle)
		if h == nil {
			return req, held
		}
		held[""] = h
		in["ReceiptHandle"], _ = json.Marshal(h.backendHandle)
	case "DeleteMessageBatch":
		var entries []map[string]json.RawMessage
		if json.Unmarshal(in["Entries"], &entries) != nil {
			return req, held
		}
		for _, e := range entries {
			var id, handle string
			_ = json.Unmarshal(e["Id"], &id)
			_ = json.Unmarshal(e["ReceiptHandle"], &handle)
			if h := f.order.lookup(handle); h != nil {
				held[id] = h
				e["ReceiptHandle"], _ = json.Marshal(h.backendHandle)
			}
		}
		in["Entries"], _ = json.Marshal(entries)
	}
	if len(held) == 0 {
		return req, held
	}
	out, err := json.Marshal(in)
	if err != nil {
		return req, map[string]*heldMsg{}
	}
	return out, held
}

// deleted drops the held messages a delete answer reports deleted.
func (f *sqsFix) deleted(action string, resp []byte, held map[string]*heldMsg) {
	if action == "DeleteMessage" {
		if h := held[""]; h != nil {
			f.order.drop(h)
		}
		return
	}
	var out struct{ Successful []struct{ Id string } }
	if json.Unmarshal(resp, &out) != nil {
		return
	}
	for _, s := range out.Successful {
		if h := held[s.Id]; h != nil {
			f.order.drop(h)
		}
	}
}

// changeVisibility answers ChangeMessageVisibility(Batch) for held
// messages; entries of other messages go on to the emulator. It reports
// false when nothing in the request is held.
func (f *sqsFix) changeVisibility(w http.ResponseWriter, r *http.Request, next http.Handler, action string, req []byte) bool {
	type entry struct {
		Id                string
		ReceiptHandle     string
		VisibilityTimeout int
	}
	var in struct {
		QueueUrl          string
		ReceiptHandle     string
		VisibilityTimeout int
		Entries           []entry
	}
	if json.Unmarshal(req, &in) != nil {
		return false
	}
	set := func(e entry) bool {
		if e.VisibilityTimeout < 0 || e.VisibilityTimeout > holdSeconds {
			return false
		}
		o := f.order
		o.mu.Lock()
		defer o.mu.Unlock()
		h := o.byHandle[e.ReceiptHandle]
		if h == nil || h.handle != e.ReceiptHandle {
			return false
		}
		h.visibleAt = time.Now().Add(time.Duration(e.VisibilityTimeout) * time.Second)
		if ch := o.changed[queueNameOf(in.QueueUrl)]; ch != nil {
			close(ch)
			delete(o.changed, queueNameOf(in.QueueUrl))
		}
		return true
	}
	write := func(code int, body []byte) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(code)
		_, _ = w.Write(body)
	}
	if action == "ChangeMessageVisibility" {
		if !set(entry{ReceiptHandle: in.ReceiptHandle, VisibilityTimeout: in.VisibilityTimeout}) {
			return false
		}
		write(http.StatusOK, []byte("{}"))
		return true
	}
	var done []map[string]string
	var rest []entry
	for _, e := range in.Entries {
		if set(e) {
			done = append(done, map[string]string{"Id": e.Id})
		} else {
			rest = append(rest, e)
		}
	}
	if len(done) == 0 {
		return false
	}
	ans := struct {
		Successful []map[string]string
		Failed     []json.RawMessage
	}{Successful: done, Failed: []json.RawMessage{}}
	if len(rest) > 0 {
		code, out := call(next, r, action, map[string]any{"QueueUrl": in.QueueUrl, "Entries": rest})
		if code != http.StatusOK {
			write(code, out)
			return true
		}
		var more struct {
			Successful []map[string]string
			Failed     []json.RawMessage
		}
		_ = json.Unmarshal(out, &more)
		ans.Successful = append(ans.Successful, more.Successful...)
		ans.Failed = append(ans.Failed, more.Failed...)
	}
	body, _ := json.Marshal(ans)
	write(http.StatusOK, body)
	return true
}

// seqLess compares SQS sequence numbers (decimal strings of up to 128
// bits); an empty one sorts first.
func seqLess(a, b string) bool {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}
