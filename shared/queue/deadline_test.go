package queue_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/shared/queue"
)

// TestConsumerDeadline runs batches whose records each take 30 s (on a
// fake clock) under an invocation deadline: records start while more than
// the margin is left, the rest are handed back unrun as batch item
// failures made visible again after HandBackVisibility.
func TestConsumerDeadline(t *testing.T) {
	tests := []struct {
		name        string
		groups      []string // one record per entry, its FIFO group
		concurrency int
		left        time.Duration // time to the deadline when the batch starts
		margin      time.Duration
		wantRun     int
	}{
		{"no deadline near: all run", []string{"A", "B", "C", "D", "E", "F"}, 0, time.Hour, 15 * time.Second, 6},
		{"one at a time", []string{"A", "B", "C", "D", "E", "F"}, 0, 100 * time.Second, 15 * time.Second, 3},
		{"one group in a concurrent consumer", []string{"A", "A", "A", "A", "A", "A"}, 10, 100 * time.Second, 15 * time.Second, 3},
		{"margin over half the time left", []string{"A", "A", "A", "A"}, 0, 50 * time.Second, time.Hour, 1},
		{"less time left than the margin: the first still runs", []string{"A", "B"}, 0, 10 * time.Second, 15 * time.Second, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueues(t)
			for i, g := range tt.groups {
				q.send(t, queue.Message{Body: fmt.Sprintf("r%d", i), GroupID: g, DedupID: fmt.Sprintf("r%d", i)})
			}
			ev := q.receiveEvents()
			if len(ev.Records) != len(tt.groups) {
				t.Fatalf("received %d records, want %d", len(ev.Records), len(tt.groups))
			}
			var mu sync.Mutex
			now := time.Now()
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			ran := 0
			var handedBack []string
			c := queue.Consumer{
				API: q.api, QueueURL: q.src, DLQURL: q.dlq, Concurrency: tt.concurrency, Margin: tt.margin, Now: clock,
				Backoff: queue.Exponential(5*time.Second, time.Minute),
				OnHandBack: func(rec events.SQSMessage, d time.Duration) {
					mu.Lock()
					handedBack = append(handedBack, rec.Body)
					mu.Unlock()
				},
				Handle: func(context.Context, events.SQSMessage) error {
					mu.Lock()
					ran++
					now = now.Add(30 * time.Second)
					mu.Unlock()
					return nil
				},
			}
			ctx, cancel := context.WithDeadline(context.Background(), clock().Add(tt.left))
			defer cancel()
			resp, err := c.Run(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if ran != tt.wantRun {
				t.Errorf("records run = %d, want %d", ran, tt.wantRun)
			}
			if got, want := len(resp.BatchItemFailures), len(tt.groups)-tt.wantRun; got != want {
				t.Errorf("batch item failures = %d, want %d (the records not run)", got, want)
			}
			// A FIFO group's later records are held back behind its first
			// handed-back one; each handed-back record is visible again
			// after HandBackVisibility.
			if len(handedBack) == 0 && tt.wantRun < len(tt.groups) {
				t.Errorf("no record reported as handed back")
			}
			for _, f := range resp.BatchItemFailures {
				for _, r := range ev.Records {
					if r.MessageId != f.ItemIdentifier {
						continue
					}
					if got, want := q.api.vis[r.ReceiptHandle], int32(queue.HandBackVisibility/time.Second); got != want {
						t.Errorf("visibility of %s = %d, want %d", r.Body, got, want)
					}
				}
			}
		})
	}
}

// TestConsumerRetryAfterBounded: a Retry-After beyond MaxRetryAfter delays
// the retry by MaxRetryAfter only; below it, it is honoured.
func TestConsumerRetryAfterBounded(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter time.Duration
		max        time.Duration
		want       int32
	}{
		{"honoured below the bound", 90 * time.Second, 15 * time.Minute, 90},
		{"bounded", 24 * time.Hour, 15 * time.Minute, 900},
		{"no bound: SQS's limit", 24 * time.Hour, 0, 12 * 3600},
		{"backoff longer than Retry-After", time.Second, 15 * time.Minute, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueues(t)
			q.send(t, queue.Message{Body: "x", GroupID: "A", DedupID: "x"})
			ev := q.receiveEvents()
			c := queue.Consumer{API: q.api, QueueURL: q.src, DLQURL: q.dlq, MaxRetryAfter: tt.max,
				Backoff: queue.Exponential(5*time.Second, time.Minute),
				Handle: func(context.Context, events.SQSMessage) error {
					return fmt.Errorf("push: %w", retryAfterErr{d: tt.retryAfter})
				}}
			resp, _ := c.Run(q.ctx, ev)
			if len(resp.BatchItemFailures) != 1 {
				t.Fatalf("failures = %d, want 1", len(resp.BatchItemFailures))
			}
			if got := q.api.vis[ev.Records[0].ReceiptHandle]; got != tt.want {
				t.Errorf("visibility = %d s, want %d s", got, tt.want)
			}
		})
	}
}

func TestBackoffFromEnv(t *testing.T) {
	def := queue.Exponential(5*time.Second, 5*time.Minute)
	tests := []struct {
		name, value string
		want        []time.Duration // retries 1..len
		wantErr     bool
	}{
		{"unset: the function's own", "", []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second}, false},
		{"local walkthrough", "1s,4s", []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}, false},
		{"spaces", " 500ms , 1s ", []time.Duration{500 * time.Millisecond, time.Second, time.Second}, false},
		{"one value", "1s", nil, true},
		{"max below base", "4s,1s", nil, true},
		{"not durations", "fast,slow", nil, true},
		{"zero base", "0s,1s", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := queue.BackoffFromEnv(func(k string) string {
				if k == queue.EnvBackoff {
					return tt.value
				}
				return ""
			}, def)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			for i, want := range tt.want {
				if got := b(i + 1); got != want {
					t.Errorf("retry %d: %s, want %s", i+1, got, want)
				}
			}
		})
	}
}
