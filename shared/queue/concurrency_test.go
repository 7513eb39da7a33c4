package queue_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/queue"
)

// batch builds records "g1", "g2", ... for each group spec "A:3" (group A,
// three records), interleaved across groups as SQS delivers them. An empty
// group name gives records without a group (a standard queue).
func batch(specs ...string) events.SQSEvent {
	type spec struct {
		group string
		n     int
	}
	var ss []spec
	longest := 0
	for _, s := range specs {
		var sp spec
		g, n, _ := strings.Cut(s, ":")
		sp.group = g
		fmt.Sscan(n, &sp.n)
		ss = append(ss, sp)
		longest = max(longest, sp.n)
	}
	var ev events.SQSEvent
	for i := 1; i <= longest; i++ {
		for k, sp := range ss {
			if i > sp.n {
				continue
			}
			name := fmt.Sprintf("%s%d", sp.group, i)
			attrs := map[string]string{}
			source := "arn:aws:sqs:us-east-1:123456789012:batch"
			if sp.group != "" {
				attrs["MessageGroupId"] = sp.group
				source += ".fifo"
			} else {
				name = fmt.Sprintf("x%d.%d", k, i)
			}
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: name, Body: name, Attributes: attrs, EventSourceARN: source})
		}
	}
	return ev
}

func failures(resp events.SQSEventResponse) string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return strings.Join(ids, ",")
}

// tracker records what ran, per group, and how many records ran at once.
type tracker struct {
	mu        sync.Mutex
	order     map[string][]string
	inFlight  int
	maxFlight int
	perGroup  map[string]int
	overlap   []string // groups seen with two records running at once
}

func newTracker() *tracker {
	return &tracker{order: map[string][]string{}, perGroup: map[string]int{}}
}

func (tr *tracker) start(rec events.SQSMessage) {
	g := rec.Attributes["MessageGroupId"]
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.order[g] = append(tr.order[g], rec.Body)
	tr.inFlight++
	tr.maxFlight = max(tr.maxFlight, tr.inFlight)
	if g != "" {
		tr.perGroup[g]++
		if tr.perGroup[g] > 1 {
			tr.overlap = append(tr.overlap, g)
		}
	}
}

func (tr *tracker) end(rec events.SQSMessage) {
	g := rec.Attributes["MessageGroupId"]
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.inFlight--
	if g != "" {
		tr.perGroup[g]--
	}
}

// barrier releases its waiters once n of them have arrived. A waiter gives
// up when ctx ends, so a consumer that runs fewer records at once than
// expected fails the test instead of hanging it.
type barrier struct {
	mu      sync.Mutex
	n       int
	arrived int
	open    chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, open: make(chan struct{})} }

func (b *barrier) wait(ctx context.Context) error {
	b.mu.Lock()
	b.arrived++
	if b.arrived == b.n {
		close(b.open)
	}
	b.mu.Unlock()
	select {
	case <-b.open:
		return nil
	case <-ctx.Done():
		return errors.New("barrier never filled: records did not run concurrently")
	}
}

func TestConsumerConcurrency(t *testing.T) {
	tests := []struct {
		name        string
		concurrency int
		ev          events.SQSEvent
		// fail: records whose Handle returns a retryable error.
		fail map[string]bool
		// together: how many records must be running at the same moment
		// (the first record of that many lanes waits for the others).
		together     int
		wantFailures string
		// wantOrder: what ran, per group, in order.
		wantOrder map[string]string
		wantMax   int // most records running at once, at most
	}{
		{
			name: "groups run in parallel, each in order", concurrency: 10,
			ev: batch("A:3", "B:3", "C:2", "D:2"), together: 4,
			wantOrder: map[string]string{"A": "A1,A2,A3", "B": "B1,B2,B3", "C": "C1,C2", "D": "D1,D2"},
			wantMax:   4,
		},
		{
			name: "a failure holds the rest of its group back, others go on", concurrency: 10,
			ev: batch("A:4", "B:3"), fail: map[string]bool{"A2": true}, together: 2,
			wantFailures: "A2,A3,A4",
			wantOrder:    map[string]string{"A": "A1,A2", "B": "B1,B2,B3"},
			wantMax:      2,
		},
		{
			name: "failure of a group's first record blocks the whole group", concurrency: 10,
			ev: batch("A:3", "B:1", "C:2"), fail: map[string]bool{"A1": true, "C2": true}, together: 3,
			wantFailures: "A1,A2,C2,A3",
			wantOrder:    map[string]string{"A": "A1", "B": "B1", "C": "C1,C2"},
			wantMax:      3,
		},
		{
			name: "bounded by Concurrency", concurrency: 2,
			ev: batch("A:2", "B:2", "C:2", "D:2", "E:2"), together: 2,
			wantOrder: map[string]string{"A": "A1,A2", "B": "B1,B2", "C": "C1,C2", "D": "D1,D2", "E": "E1,E2"},
			wantMax:   2,
		},
		{
			name: "records without a group are independent", concurrency: 10,
			ev: batch(":1", ":1", ":1"), fail: map[string]bool{"x0.1": true}, together: 3,
			wantFailures: "x0.1",
			wantOrder:    map[string]string{"": "x0.1,x1.1,x2.1"},
			wantMax:      3,
		},
		{
			name: "concurrency 0 keeps one record at a time", concurrency: 0,
			ev: batch("A:2", "B:2"), fail: map[string]bool{"A1": true},
			wantFailures: "A1,A2",
			wantOrder:    map[string]string{"A": "A1", "B": "B1,B2"},
			wantMax:      1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The deadline only stops a broken consumer from hanging the
			// test; nothing is judged by time.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tr := newTracker()
			var bar *barrier
			if tt.together > 1 {
				bar = newBarrier(tt.together)
			}
			firsts := map[string]bool{} // message ids of each lane's first record
			seen := map[string]bool{}
			for _, rec := range tt.ev.Records {
				if g := rec.Attributes["MessageGroupId"]; g == "" || !seen[g] {
					firsts[rec.MessageId], seen[g] = true, true
				}
			}
			var barrierErr error
			var errMu sync.Mutex
			c := queue.Consumer{
				Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
				Concurrency: tt.concurrency,
				Handle: func(ctx context.Context, rec events.SQSMessage) error {
					tr.start(rec)
					defer tr.end(rec)
					// The first record of the first `together` lanes to
					// start waits until that many are running.
					if bar != nil && firsts[rec.MessageId] {
						if err := bar.waitIfNeeded(ctx); err != nil {
							errMu.Lock()
							barrierErr = err
							errMu.Unlock()
						}
					}
					if tt.fail[rec.MessageId] {
						return fault.Retryable(fmt.Errorf("handle %s: core down", rec.MessageId))
					}
					return nil
				},
			}
			resp, err := c.Run(ctx, tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			if barrierErr != nil {
				t.Fatal(barrierErr)
			}
			if got := failures(resp); got != tt.wantFailures {
				t.Errorf("batch item failures = %q, want %q", got, tt.wantFailures)
			}
			for g, want := range tt.wantOrder {
				got := strings.Join(tr.order[g], ",")
				if g == "" {
					// Records without a group have no order to keep.
					sorted := append([]string(nil), tr.order[g]...)
					sort.Strings(sorted)
					got = strings.Join(sorted, ",")
				}
				if got != want {
					t.Errorf("group %q ran %s, want %s", g, got, want)
				}
			}
			if len(tr.order) != len(tt.wantOrder) {
				t.Errorf("groups run = %d, want %d", len(tr.order), len(tt.wantOrder))
			}
			if len(tr.overlap) > 0 {
				t.Errorf("records of one group ran at the same time: %v", tr.overlap)
			}
			if tr.maxFlight > tt.wantMax {
				t.Errorf("records running at once = %d, want at most %d", tr.maxFlight, tt.wantMax)
			}
			if tt.together > 1 && tr.maxFlight < tt.together {
				t.Errorf("records running at once = %d, want %d", tr.maxFlight, tt.together)
			}
		})
	}
}

// waitIfNeeded joins the barrier while it still needs waiters; later
// arrivals (more lanes than the barrier counts) go straight through.
func (b *barrier) waitIfNeeded(ctx context.Context) error {
	b.mu.Lock()
	full := b.arrived >= b.n
	b.mu.Unlock()
	if full {
		return nil
	}
	return b.wait(ctx)
}

// TestConsumerStandardQueueGroupsRunApart: on a standard queue a message
// group is a fair-queue tenant (Message.Tenant), not an order: a failure
// holds none of the group's other records back.
func TestConsumerStandardQueueGroupsRunApart(t *testing.T) {
	var ev events.SQSEvent
	for _, id := range []string{"t1", "t2", "t3"} {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: id, Body: id, EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:statuses",
			Attributes: map[string]string{"MessageGroupId": "tenant-a"}})
	}
	var ran sync.Map
	c := queue.Consumer{
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Concurrency: 3,
		Handle: func(ctx context.Context, rec events.SQSMessage) error {
			ran.Store(rec.MessageId, true)
			if rec.MessageId == "t1" {
				return fault.Retryable(fmt.Errorf("handle t1: core down"))
			}
			return nil
		},
	}
	resp, err := c.Run(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if fmt.Sprint(failed) != "[t1]" {
		t.Errorf("batch item failures %v, want [t1] alone: the tenant's other records are not held back", failed)
	}
	for _, id := range []string{"t2", "t3"} {
		if _, ok := ran.Load(id); !ok {
			t.Errorf("%s did not run", id)
		}
	}
}
