package awsemu

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The 5-minute deduplication window of FIFO queues, through the front.
//
// SQS accepts a send whose deduplication id it has seen on the queue in the
// last five minutes and does not deliver it, even when the first message
// was already received and deleted. Both emulators drop such a duplicate
// only while the first message is still on the queue: once it is deleted
// they deliver the duplicate, which made the local connector push events
// to the core twice where AWS would not (the status function's copy of
// outbound.accepted, sent after the sender's copy was already pushed). So
// the front remembers every FIFO send's deduplication id for the window
// and answers a duplicate itself: accepted, with the first message's id
// and sequence number, and not stored. The id is the explicit
// MessageDeduplicationId or, on a queue with ContentBasedDeduplication,
// the SHA-256 of the body; with DeduplicationScope messageGroup it counts
// within its message group only.

// dedupWindow is SQS's deduplication interval.
const dedupWindow = 5 * time.Minute

type sentID struct {
	at        time.Time
	messageID string
	seq       string
}

type dedupMemory struct {
	mu  sync.Mutex
	now func() time.Time
	// skew is how far Elapse moved the window's clock ahead of now.
	skew   time.Duration
	seen   map[string]sentID
	pruned time.Time
	// perGroup holds the DeduplicationScope of the queues created or
	// changed through the front (kumo does not keep the attribute), by
	// queue name.
	perGroup map[string]bool
}

func newDedupMemory() *dedupMemory {
	return &dedupMemory{now: time.Now, seen: map[string]sentID{}, perGroup: map[string]bool{}}
}

// noteScope records the DeduplicationScope a CreateQueue or
// SetQueueAttributes request sets.
func (d *dedupMemory) noteScope(action string, req []byte) {
	var in struct {
		QueueName, QueueUrl string
		Attributes          map[string]string
	}
	if json.Unmarshal(req, &in) != nil {
		return
	}
	scope, ok := in.Attributes["DeduplicationScope"]
	if !ok {
		return
	}
	name := in.QueueName
	if action == "SetQueueAttributes" {
		name = queueNameOf(in.QueueUrl)
	}
	d.mu.Lock()
	d.perGroup[name] = scope == "messageGroup"
	d.mu.Unlock()
}

func (d *dedupMemory) groupScoped(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.perGroup[name]
}

// lookup returns the first send of key within the window.
func (d *dedupMemory) lookup(key string) (sentID, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.seen[key]
	if !ok || d.clock().Sub(s.at) >= dedupWindow {
		return sentID{}, false
	}
	return s, true
}

// add remembers a send the emulator stored (a duplicate the emulator
// itself dropped keeps the first one's time).
func (d *dedupMemory) add(key, messageID, seq string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock()
	if s, ok := d.seen[key]; ok && now.Sub(s.at) < dedupWindow {
		return
	}
	d.seen[key] = sentID{at: now, messageID: messageID, seq: seq}
	if now.Sub(d.pruned) > dedupWindow {
		for k, s := range d.seen {
			if now.Sub(s.at) >= dedupWindow {
				delete(d.seen, k)
			}
		}
		d.pruned = now
	}
}

// clock is the window's time; d.mu is held.
func (d *dedupMemory) clock() time.Time { return d.now().Add(d.skew) }

// elapse moves the window's clock ahead by dt.
func (d *dedupMemory) elapse(dt time.Duration) {
	d.mu.Lock()
	d.skew += dt
	d.mu.Unlock()
}

// forgetQueue drops the ids of a purged or deleted queue.
func (d *dedupMemory) forgetQueue(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	prefix := name + "\x00"
	for k := range d.seen {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			delete(d.seen, k)
		}
	}
}

// sendEntry is one message of a send: SendMessage's (Id "") or a batch
// entry.
type sendEntry struct {
	Id, MessageBody, MessageGroupId, MessageDeduplicationId string
}

// dedupKey is the key of a send on the queue, "" when it has none (a
// content-deduplicated queue is read from conf). A send without a group is
// left to the emulator, which refuses it as AWS does.
func dedupKey(queue string, conf queueConf, e sendEntry) string {
	if e.MessageGroupId == "" {
		return ""
	}
	id := e.MessageDeduplicationId
	if id == "" && conf.contentDedup {
		sum := sha256.Sum256([]byte(e.MessageBody))
		id = hex.EncodeToString(sum[:])
	}
	if id == "" {
		return ""
	}
	group := ""
	if conf.dedupPerGroup {
		group = e.MessageGroupId
	}
	return queue + "\x00" + group + "\x00" + id
}

// confOf is conf with what the front knows of the queue's scope.
func (f *sqsFix) confOf(queue string, conf queueConf) queueConf {
	if f.dedup.groupScoped(queue) {
		conf.dedupPerGroup = true
	}
	return conf
}

// dropDuplicates takes the sends of req that are duplicates within the
// window out of it. It returns the request to forward (nil: nothing left,
// answer locally), and the answers of the duplicates (by entry id; "" for
// SendMessage).
func (f *sqsFix) dropDuplicates(action string, req []byte, queue string, conf queueConf) ([]byte, map[string]sentID) {
	dups := map[string]sentID{}
	if action == "SendMessage" {
		var e sendEntry
		if json.Unmarshal(req, &e) != nil {
			return req, nil
		}
		if s, ok := f.dedup.lookup(dedupKey(queue, conf, e)); ok {
			dups[""] = s
			return nil, dups
		}
		return req, nil
	}
	var in map[string]json.RawMessage
	var entries []json.RawMessage
	if json.Unmarshal(req, &in) != nil || json.Unmarshal(in["Entries"], &entries) != nil {
		return req, nil
	}
	var keep []json.RawMessage
	for _, raw := range entries {
		var e sendEntry
		if json.Unmarshal(raw, &e) == nil {
			if s, ok := f.dedup.lookup(dedupKey(queue, conf, e)); ok {
				dups[e.Id] = s
				continue
			}
		}
		keep = append(keep, raw)
	}
	if len(dups) == 0 {
		return req, nil
	}
	if len(keep) == 0 {
		return nil, dups
	}
	in["Entries"], _ = json.Marshal(keep)
	out, err := json.Marshal(in)
	if err != nil {
		return req, nil
	}
	return out, dups
}

// rememberSends records the deduplication ids of the sends the emulator
// accepted (resp answers req).
func (f *sqsFix) rememberSends(action string, req, resp []byte, queue string, conf queueConf) {
	type answer struct{ Id, MessageId, SequenceNumber string }
	if action == "SendMessage" {
		var e sendEntry
		var a answer
		if json.Unmarshal(req, &e) == nil && json.Unmarshal(resp, &a) == nil && a.MessageId != "" {
			if k := dedupKey(queue, conf, e); k != "" {
				f.dedup.add(k, a.MessageId, a.SequenceNumber)
			}
		}
		return
	}
	var in struct{ Entries []sendEntry }
	var out struct{ Successful []answer }
	if json.Unmarshal(req, &in) != nil || json.Unmarshal(resp, &out) != nil {
		return
	}
	for _, a := range out.Successful {
		for _, e := range in.Entries {
			if e.Id == a.Id {
				if k := dedupKey(queue, conf, e); k != "" {
					f.dedup.add(k, a.MessageId, a.SequenceNumber)
				}
			}
		}
	}
}

// duplicateAnswers adds the answers of the duplicates taken out of a send
// to the emulator's answer resp (nil: none was asked for): accepted, with
// the first message's id and sequence number and the MD5 of the body sent.
func duplicateAnswers(action string, req, resp []byte, dups map[string]sentID) []byte {
	md5hex := func(b string) string {
		h := md5.Sum([]byte(b)) //nolint:gosec // SQS's body checksum is MD5
		return hex.EncodeToString(h[:])
	}
	if action == "SendMessage" {
		var e sendEntry
		_ = json.Unmarshal(req, &e)
		s := dups[""]
		b, _ := json.Marshal(map[string]string{"MessageId": s.messageID, "MD5OfMessageBody": md5hex(e.MessageBody), "SequenceNumber": s.seq})
		return b
	}
	var in struct{ Entries []sendEntry }
	_ = json.Unmarshal(req, &in)
	out := map[string]json.RawMessage{}
	if resp != nil && json.Unmarshal(resp, &out) != nil {
		return resp
	}
	var ok []json.RawMessage
	if raw, has := out["Successful"]; has {
		_ = json.Unmarshal(raw, &ok)
	}
	for _, e := range in.Entries {
		if s, dup := dups[e.Id]; dup {
			b, _ := json.Marshal(map[string]string{"Id": e.Id, "MessageId": s.messageID, "MD5OfMessageBody": md5hex(e.MessageBody), "SequenceNumber": s.seq})
			ok = append(ok, b)
		}
	}
	out["Successful"], _ = json.Marshal(ok)
	if _, has := out["Failed"]; !has {
		out["Failed"] = json.RawMessage("[]")
	}
	b, err := json.Marshal(out)
	if err != nil {
		return resp
	}
	return b
}

// writeJSONAnswer writes an SQS JSON-protocol answer of the front's own.
func writeJSONAnswer(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
