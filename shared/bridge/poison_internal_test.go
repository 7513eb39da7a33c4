package bridge

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/shared/fault"
)

// An event is a poison suspect only from ParkAfter receives, for a
// retryable failure, and when the core accepted another event while it
// waited for this retry (within the backoff before this receive, at most
// HealthyWithin): an event accepted before an outage began does not make
// the core look healthy, however short the backoff.
func TestPoisonSuspect(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	production := Backoff
	local := func(int) time.Duration { return 2 * time.Second } // WACLOUD_RETRY_BACKOFF=1s,2s
	retry := fault.Retryable(errors.New("core answered 500"))
	tests := []struct {
		name     string
		backoff  func(int) time.Duration
		accepted time.Duration // how long ago the core last accepted a push; 0: never
		receives int
		err      error
		want     bool
	}{
		{"core accepting others, 8th receive", production, 30 * time.Second, 8, retry, true},
		{"7th receive", production, 30 * time.Second, 7, retry, false},
		{"never accepted anything", production, 0, 20, retry, false},
		{"accepted before the last retry delay (5 min)", production, 6 * time.Minute, 20, retry, false},
		{"a permanent refusal is dead-lettered anyway", production, 30 * time.Second, 8, fault.PermanentErr(errors.New("core answered 400")), false},
		{"short local backoff, accepted during the wait", local, time.Second, 8, retry, true},
		{"short local backoff, accepted before the outage", local, time.Minute, 8, retry, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &Forwarder{Now: func() time.Time { return now }}
			if tt.accepted > 0 {
				f.lastAccepted.Store(now.Add(-tt.accepted).UnixNano())
			}
			rec := events.SQSMessage{Attributes: map[string]string{"ApproximateReceiveCount": fmt.Sprint(tt.receives)}}
			if got := f.poisonSuspect(rec, tt.backoff, tt.err); got != tt.want {
				t.Errorf("poisonSuspect(receive %d, accepted %s ago, %v) = %t, want %t", tt.receives, tt.accepted, tt.err, got, tt.want)
			}
		})
	}
}

// countingPusher fails every push with a retryable error and counts them.
type countingPusher struct{ pushes int }

func (p *countingPusher) Push(context.Context, string, string, []byte) error {
	p.pushes++
	return fault.Retryable(errors.New("core answered 500"))
}

// The confirming push is made only when the invocation has the time for
// it (the consumer's margin counts on one push per record); otherwise the
// event is retried as usual and confirmed on a later receive.
func TestConfirmOnlyWithTimeLeft(t *testing.T) {
	tests := []struct {
		name       string
		left       time.Duration // until the invocation's deadline; 0: none
		wantPushes int
		wantParked bool
	}{
		{"no deadline", 0, 1, true},
		{"a minute left", time.Minute, 1, true},
		{"within the margin", 5 * time.Second, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core := &countingPusher{}
			f := &Forwarder{Core: core}
			f.lastAccepted.Store(time.Now().UnixNano())
			ctx := context.Background()
			if tt.left > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.left)
				defer cancel()
			}
			rec := events.SQSMessage{Body: `{}`, Attributes: map[string]string{"ApproximateReceiveCount": "8"}}
			first := fault.Retryable(errors.New("core answered 500"))
			err := f.confirm(ctx, "e1", "message.status", rec, Backoff, []byte(rec.Body), first)
			if core.pushes != tt.wantPushes {
				t.Errorf("confirming pushes = %d, want %d", core.pushes, tt.wantPushes)
			}
			if got := fault.CodeOf(err) == CodeParked; got != tt.wantParked {
				t.Errorf("parked = %t (%v), want %t", got, err, tt.wantParked)
			}
		})
	}
}
