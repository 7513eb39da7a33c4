package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/shared/core"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/metrics"
)

// Forwarder pushes the events of queued records to the core and decides
// when a failing one is poison (poison.go). The bridge forwards the core
// events queue's records with one; the inbound function forwards a
// contact's messages with another, straight from the inbound queue, so
// that an inbound message costs no second queue hop. It is safe for
// concurrent use and must not be copied once used.
type Forwarder struct {
	Core Pusher

	// ParkAfter is the receive count from which an event the core still
	// fails with a retryable error, while it accepted another event within
	// the event's last retry delay (and HealthyWithin), is parked in the
	// dead-letter queue (after one more push ConfirmPause later, which
	// must fail too) instead of being retried. 0: DefaultParkAfter;
	// negative: never park. See poison.go.
	ParkAfter     int
	HealthyWithin time.Duration // 0: DefaultHealthyWithin
	ConfirmPause  time.Duration // 0: no pause; the functions' Setup sets DefaultConfirmPause
	Now           func() time.Time

	lastAccepted atomic.Int64 // unix nanoseconds of the last push the core accepted
}

// Forward pushes body, the event eventID of type eventType carried by rec,
// to the core. backoff is the retry delay of rec's queue by receive count
// (the consumer's Backoff), which bounds how recently the core must have
// accepted another event for a failing one to count as poison. A poison
// event comes back Permanent with CodeParked; other errors are the core
// client's, classified Retry or Permanent.
func (f *Forwarder) Forward(ctx context.Context, rec events.SQSMessage, backoff func(int) time.Duration, eventID, eventType string, body []byte) error {
	err := f.Core.Push(ctx, eventID, eventType, body)
	if err != nil && f.poisonSuspect(rec, backoff, err) {
		err = f.confirm(ctx, eventID, eventType, rec, backoff, body, err)
	}
	if err == nil {
		f.lastAccepted.Store(f.now().UnixNano())
	}
	return err
}

// Warm has the core client read its credentials ahead of the first push,
// when it can (core.Client.Warm); safe to call from another goroutine.
func (f *Forwarder) Warm(ctx context.Context) {
	core.Warm(ctx, f.Core)
}

func (f *Forwarder) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// EventForwarder pushes one event of a queued record (*Forwarder).
type EventForwarder interface {
	Forward(ctx context.Context, rec events.SQSMessage, backoff func(int) time.Duration, eventID, eventType string, body []byte) error
}

// ForwardEvents pushes evs, the events of rec, through f one after another,
// in order, stopping at the first failure (the retry pushes the earlier
// ones again and the core drops them by Idempotency-Key), and counts each
// push's outcome on m. Its error is f's, classified.
func ForwardEvents(ctx context.Context, f EventForwarder, rec events.SQSMessage, backoff func(int) time.Duration, m *metrics.Recorder, evs ...event.Event) error {
	for _, ev := range evs {
		body, err := json.Marshal(ev)
		if err != nil {
			return fault.PermanentErr(fmt.Errorf("encode event %s: %w", ev.EventID, err))
		}
		err = f.Forward(ctx, rec, backoff, ev.EventID, ev.Type, body)
		countPush(m, err)
		if err != nil {
			return fmt.Errorf("push event %s (%s) of tenant %s to the core: %w", ev.EventID, ev.Type, ev.TenantID, err)
		}
	}
	return nil
}

// countPush counts one push: pushed, or failed by class (and parked).
func countPush(m *metrics.Recorder, err error) {
	if err == nil {
		m.Count(MetricPushed, 1)
		return
	}
	m.Count(MetricFailed, 1, "Class", fault.ClassOf(err).String())
	if fault.CodeOf(err) == CodeParked {
		m.Count(MetricParked, 1)
	}
}
