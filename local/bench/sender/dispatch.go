package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/queue"
)

// message is an outbound job in the dispatcher, and on the wire between
// the dispatcher and the sender processes.
type message struct {
	ID       string `json:"id"`
	Body     string `json:"body"`
	Group    string `json:"group"`
	Receives int    `json:"receives"`
	Receipt  string `json:"receipt"`

	visibleAt time.Time
}

// fifo is an in-memory SQS FIFO queue: groups in order, a group blocked
// while any of its messages is in flight.
type fifo struct {
	mu        sync.Mutex
	groups    map[string][]*message
	order     []string // groups with messages, by their first message
	inflight  map[string]bool
	byReceipt map[string]*message
	pending   int
	redeliver int
	seq       int
}

func newFIFO() *fifo {
	return &fifo{groups: map[string][]*message{}, inflight: map[string]bool{}, byReceipt: map[string]*message{}}
}

func (f *fifo) push(m *message) {
	if _, ok := f.groups[m.Group]; !ok {
		f.order = append(f.order, m.Group)
	}
	f.groups[m.Group] = append(f.groups[m.Group], m)
	f.pending++
}

// receive hands out up to n messages: from each available group, its
// visible head messages in order, groups taken oldest first (in the order
// their first message was sent), as SQS favours the oldest messages. A
// rotating pointer instead passes a group that is busy at that moment and
// comes back to it only after all the others: with thousands of groups a
// hot recipient waited most of the run.
func (f *fifo) receive(n int) []message {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	var out []message
	drained := 0
	for _, g := range f.order {
		if len(out) >= n {
			break
		}
		msgs := f.groups[g]
		if len(msgs) == 0 && !f.inflight[g] {
			drained++
			continue
		}
		if f.inflight[g] || msgs[0].visibleAt.After(now) {
			continue
		}
		for _, m := range msgs {
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
		f.inflight[g] = true
	}
	if drained > 0 {
		kept := f.order[:0]
		for _, g := range f.order {
			if len(f.groups[g]) > 0 || f.inflight[g] {
				kept = append(kept, g)
			}
		}
		f.order = kept
	}
	return out
}

func (f *fifo) setVisibility(receipt string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.byReceipt[receipt]; ok {
		m.visibleAt = time.Now().Add(d)
	}
}

// complete deletes a batch's successes (the heads of their groups) and
// releases the groups.
func (f *fifo) complete(receipts []string, failed map[string]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range receipts {
		m, ok := f.byReceipt[r]
		if !ok {
			continue
		}
		delete(f.byReceipt, r)
		if !failed[m.ID] {
			g := f.groups[m.Group]
			if len(g) > 0 && g[0] == m {
				f.groups[m.Group] = g[1:]
				f.pending--
			}
		}
		f.inflight[m.Group] = false
	}
}

func (f *fifo) finished() bool { return f.left() == 0 }

func (f *fifo) left() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending
}

func (f *fifo) redeliveries() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.redeliver
}

// Wire format of the dispatcher's HTTP interface.
type (
	receiveReply struct {
		Done     bool      `json:"done"`
		Messages []message `json:"messages"`
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
func dispatcher(q *fifo, deadline time.Time, invocations *int64) http.Handler {
	var mu sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("POST /receive", func(w http.ResponseWriter, r *http.Request) {
		reply := receiveReply{Done: q.finished() || time.Now().After(deadline)}
		if !reply.Done {
			reply.Messages = q.receive(10)
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
		q.complete(req.Receipts, failed)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /visibility", func(w http.ResponseWriter, r *http.Request) {
		var req visibilityRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		q.setVisibility(req.Receipt, time.Duration(req.Seconds)*time.Second)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// dispatchClient is a sender process's side of the dispatcher.
type dispatchClient struct {
	url  string
	http *http.Client
}

func (c *dispatchClient) post(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
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

func (c *dispatchClient) receive(ctx context.Context) (receiveReply, error) {
	var r receiveReply
	err := c.post(ctx, "/receive", struct{}{}, &r)
	return r, err
}

func (c *dispatchClient) complete(ctx context.Context, receipts, failed []string) error {
	return c.post(ctx, "/complete", completeRequest{Receipts: receipts, Failed: failed}, nil)
}

// visibility is a sender's SQS client: sends (events, dead letters) go to
// the emulator; visibility changes of outbound records go to the
// dispatcher.
type visibility struct {
	queue.SendAPI
	d *dispatchClient
}

func (v *visibility) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	req := visibilityRequest{Receipt: aws.ToString(in.ReceiptHandle), Seconds: in.VisibilityTimeout}
	if err := v.d.post(ctx, "/visibility", req, nil); err != nil {
		return nil, err
	}
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}
