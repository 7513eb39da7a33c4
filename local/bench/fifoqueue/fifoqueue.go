// Package fifoqueue is an in-memory SQS FIFO queue for the sender
// benchmarks, served over HTTP to sender instances in other processes as
// the event source mapping would feed them: groups oldest first, a group
// held while any of its messages is in flight, visibility delays, receive
// counts. The emulator's own queue puts a group's expired in-flight
// messages back in map order, which would measure the emulator instead of
// the sender.
package fifoqueue

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/shared/queue"
)

// Message is an outbound job in the dispatcher, and on the wire between
// the dispatcher and the sender processes.
type Message struct {
	ID       string `json:"id"`
	Body     string `json:"body"`
	Group    string `json:"group"`
	Receives int    `json:"receives"`
	Receipt  string `json:"receipt"`

	visibleAt time.Time
}

// Queue is an in-memory SQS FIFO queue: groups in order, a group blocked
// while any of its messages is in flight. A receive costs the groups it
// hands out, not the queue's length (heaps of ready and delayed groups):
// the benchmark's own queue must not take the CPU the senders it
// measures need while thousands of deferred groups wait.
type Queue struct {
	mu        sync.Mutex
	groups    map[string]*group
	ready     readyHeap   // groups whose head may be visible, oldest first
	delayed   delayedHeap // groups whose head is visible later
	byReceipt map[string]*Message
	pending   int
	redeliver int
	seq       int
	gseq      int
	// Now is the queue's clock (default time.Now; tests set their own).
	Now func() time.Time
}

// group is a message group: its messages in order, whether a batch of
// it is in flight, and which heap holds it (a heap's other entries for
// it are stale and skipped).
type group struct {
	name     string
	seq      int // when its first message was sent: older groups first
	msgs     []*Message
	inflight bool
	where    int // inNone, inReady or inDelayed
	delayAt  time.Time
}

const (
	inNone = iota
	inReady
	inDelayed
)

type delayedEntry struct {
	at time.Time
	g  *group
}

type readyHeap []*group

func (h readyHeap) Len() int           { return len(h) }
func (h readyHeap) Less(i, j int) bool { return h[i].seq < h[j].seq }
func (h readyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *readyHeap) Push(x any)        { *h = append(*h, x.(*group)) }
func (h *readyHeap) Pop() any {
	old := *h
	g := old[len(old)-1]
	*h = old[:len(old)-1]
	return g
}

type delayedHeap []delayedEntry

func (h delayedHeap) Len() int           { return len(h) }
func (h delayedHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h delayedHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *delayedHeap) Push(x any)        { *h = append(*h, x.(delayedEntry)) }
func (h *delayedHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func New() *Queue {
	return &Queue{groups: map[string]*group{}, byReceipt: map[string]*Message{}}
}

// schedule puts g where its state says: ready when its head is visible,
// delayed until its head is, nowhere while in flight or empty (an empty
// group is forgotten, and a later message starts it anew, youngest).
func (f *Queue) schedule(g *group, now time.Time) {
	switch {
	case g.inflight:
		return
	case len(g.msgs) == 0:
		g.where = inNone
		delete(f.groups, g.name)
	case !g.msgs[0].visibleAt.After(now):
		if g.where != inReady {
			g.where = inReady
			heap.Push(&f.ready, g)
		}
	case g.where != inDelayed || !g.delayAt.Equal(g.msgs[0].visibleAt):
		g.where, g.delayAt = inDelayed, g.msgs[0].visibleAt
		heap.Push(&f.delayed, delayedEntry{at: g.delayAt, g: g})
	}
}

// Push sends m to the queue. It is safe for concurrent use, as are the
// other methods.
func (f *Queue) Push(m *Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.groups[m.Group]
	if !ok {
		f.gseq++
		g = &group{name: m.Group, seq: f.gseq}
		f.groups[m.Group] = g
	}
	g.msgs = append(g.msgs, m)
	f.pending++
	f.schedule(g, f.now())
}

// Receive hands out up to n messages: from each available group, its
// visible head messages in order, groups taken oldest first (in the order
// their first Message was sent), as SQS favours the oldest messages. A
// rotating pointer instead passes a group that is busy at that moment and
// comes back to it only after all the others: with thousands of groups a
// hot recipient waited most of the run.
func (f *Queue) Receive(n int) []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	for f.delayed.Len() > 0 && !f.delayed[0].at.After(now) {
		e := heap.Pop(&f.delayed).(delayedEntry)
		if e.g.where == inDelayed && e.g.delayAt.Equal(e.at) {
			e.g.where = inNone
			f.schedule(e.g, now)
		}
	}
	var out []Message
	for len(out) < n && f.ready.Len() > 0 {
		g := heap.Pop(&f.ready).(*group)
		if g.where != inReady {
			continue // stale
		}
		g.where = inNone
		if g.inflight || len(g.msgs) == 0 || g.msgs[0].visibleAt.After(now) {
			f.schedule(g, now)
			continue
		}
		for _, m := range g.msgs {
			if len(out) >= n || m.visibleAt.After(now) {
				break
			}
			f.seq++
			m.Receives++
			if m.Receives > 1 {
				f.redeliver++
			}
			m.Receipt = fmt.Sprintf("r%d", f.seq)
			f.byReceipt[m.Receipt] = m
			out = append(out, *m)
		}
		g.inflight = true
	}
	return out
}

func (f *Queue) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Queue) SetVisibility(receipt string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.byReceipt[receipt]; ok {
		m.visibleAt = f.now().Add(d)
	}
}

// Complete deletes a batch's successes (the heads of their groups) and
// releases the groups.
func (f *Queue) Complete(receipts []string, failed map[string]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	var released []*group
	for _, r := range receipts {
		m, ok := f.byReceipt[r]
		if !ok {
			continue
		}
		delete(f.byReceipt, r)
		g := f.groups[m.Group]
		if g == nil {
			continue
		}
		if !failed[m.ID] && len(g.msgs) > 0 && g.msgs[0] == m {
			g.msgs = g.msgs[1:]
			f.pending--
		}
		if g.inflight {
			g.inflight = false
			released = append(released, g)
		}
	}
	for _, g := range released {
		f.schedule(g, now)
	}
}

func (f *Queue) Finished() bool { return f.Left() == 0 }

func (f *Queue) Left() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending
}

func (f *Queue) Redeliveries() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.redeliver
}

// Wire format of the dispatcher's HTTP interface.
type (
	ReceiveReply struct {
		Done     bool      `json:"done"`
		Messages []Message `json:"messages"`
	}
	completeRequest struct {
		Receipts []string `json:"receipts"`
		Failed   []string `json:"failed"`
	}
	visibilityRequest struct {
		Receipt string `json:"receipt"`
		Seconds int32  `json:"seconds"`
	}
)

// dispatcher serves the queue to the sender processes as the event
// source mapping would: POST /receive (a batch of up to 10, or done),
// POST /complete (delete the successes, release the groups), POST
// /visibility (ChangeMessageVisibility). done is true once every job is
// sent or the deadline passed.
func Handler(q *Queue, deadline time.Time, invocations *int64) http.Handler {
	var mu sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("POST /receive", func(w http.ResponseWriter, r *http.Request) {
		reply := ReceiveReply{Done: q.Finished() || time.Now().After(deadline)}
		if !reply.Done {
			reply.Messages = q.Receive(10)
			if len(reply.Messages) > 0 {
				mu.Lock()
				*invocations++
				mu.Unlock()
			}
		}
		_ = json.NewEncoder(w).Encode(reply)
	})
	mux.HandleFunc("POST /complete", func(w http.ResponseWriter, r *http.Request) {
		var req completeRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		failed := map[string]bool{}
		for _, id := range req.Failed {
			failed[id] = true
		}
		q.Complete(req.Receipts, failed)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /visibility", func(w http.ResponseWriter, r *http.Request) {
		var req visibilityRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		q.SetVisibility(req.Receipt, time.Duration(req.Seconds)*time.Second)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// Client is a sender process's side of the dispatcher.
type Client struct {
	URL  string
	HTTP *http.Client
}

func (c *Client) post(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("dispatcher %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("dispatcher %s: %s", path, resp.Status)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

func (c *Client) Receive(ctx context.Context) (ReceiveReply, error) {
	var r ReceiveReply
	err := c.post(ctx, "/receive", struct{}{}, &r)
	return r, err
}

func (c *Client) Complete(ctx context.Context, receipts, failed []string) error {
	return c.post(ctx, "/complete", completeRequest{Receipts: receipts, Failed: failed}, nil)
}

// visibility is a sender's SQS client: sends (events, dead letters) go to
// the emulator; visibility changes of outbound records go to the
// dispatcher.
type Visibility struct {
	queue.SendAPI
	D *Client
}

func (v *Visibility) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	req := visibilityRequest{Receipt: aws.ToString(in.ReceiptHandle), Seconds: in.VisibilityTimeout}
	if err := v.D.post(ctx, "/visibility", req, nil); err != nil {
		return nil, err
	}
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

// ChangeMessageVisibilityBatch changes each entry's visibility at the
// dispatcher.
func (v *Visibility) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	out := &sqs.ChangeMessageVisibilityBatchOutput{}
	for _, e := range in.Entries {
		req := visibilityRequest{Receipt: aws.ToString(e.ReceiptHandle), Seconds: e.VisibilityTimeout}
		if err := v.D.post(ctx, "/visibility", req, nil); err != nil {
			return nil, err
		}
		out.Successful = append(out.Successful, sqstypes.ChangeMessageVisibilityBatchResultEntry{Id: e.Id})
	}
	return out, nil
}
