package bridge

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/queue"
)

// A poison event is one the core keeps failing with a retryable error
// (5xx, 429, a timeout) while it accepts other events. Retried like an
// outage, it would hold every later event of its contact for the queue's
// whole redrive (60 receives, more than four hours). So an event is parked
// in the dead-letter queue, with the core's answer as the reason, when
//
//   - it has been received at least ParkAfter times (about ten minutes of
//     backoff by default),
//   - this instance saw the core accept another event while this one
//     waited for its retry: within the backoff delay before this receive,
//     at most HealthyWithin (so the core is up: in an outage nothing is
//     parked and the events wait for it, in order, as before; an event
//     accepted before the outage began does not count, however short the
//     backoff is made for a local run), and
//   - one more push, ConfirmPause later, fails as well.
//
// The rest of the group then moves on. The receive count also counts the
// receives of a record held back behind its group's failed head, so a
// record that waited may be parked after fewer pushes of its own; it still
// needs a failed push and a confirming one while the core accepts other
// events. Nothing is lost: `wacloudctl dlq redrive` puts a parked event
// back once the core accepts it (after the contact's later events).

// poisonSuspect reports whether a failed push of rec may be a poison event.
func (f *Forwarder) poisonSuspect(rec events.SQSMessage, backoff func(int) time.Duration, err error) bool {
	after := f.ParkAfter
	if after == 0 {
		after = DefaultParkAfter
	}
	if after < 0 || fault.ClassOf(err) != fault.Retry {
		return false
	}
	n, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	return n >= after && f.coreHealthy(n, backoff)
}

// coreHealthy reports whether the core accepted a push of this instance
// while the event, on its receive n, waited for its retry: within the
// backoff before receive n, and within HealthyWithin.
func (f *Forwarder) coreHealthy(n int, backoff func(int) time.Duration) bool {
	last := f.lastAccepted.Load()
	if last == 0 {
		return false
	}
	within := f.HealthyWithin
	if within <= 0 {
		within = DefaultHealthyWithin
	}
	if backoff != nil && n > 1 {
		within = min(within, backoff(n-1))
	}
	return f.now().Sub(time.Unix(0, last)) <= within
}

// confirm pushes a suspected poison event once more after ConfirmPause. If
// that fails too and the core is still accepting other events, the event
// is parked: the error becomes Permanent with CodeParked, which the
// consumer dead-letters with the reason. Otherwise the outcome of the
// second push stands (nil, or an error retried as usual).
func (f *Forwarder) confirm(ctx context.Context, eventID, eventType string, rec events.SQSMessage, backoff func(int) time.Duration, body []byte, first error) error {
	// The consumer starts no record within its margin of the deadline,
	// counting on one push per record: a second one must fit as well, or
	// the event is simply retried (and confirmed on a later receive).
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < f.ConfirmPause+queue.DefaultMargin {
		return first
	}
	if f.ConfirmPause > 0 {
		t := time.NewTimer(f.ConfirmPause)
		select {
		case <-ctx.Done():
			t.Stop()
			return first
		case <-t.C:
		}
	}
	err := f.Core.Push(ctx, eventID, eventType, body)
	n, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	if err == nil || fault.ClassOf(err) != fault.Retry || !f.coreHealthy(n, backoff) {
		return err
	}
	return fault.WithCode(fault.Permanent, CodeParked,
		fmt.Errorf("parked after %s receives: the core keeps failing this event while it accepts others: %w",
			rec.Attributes["ApproximateReceiveCount"], err))
}
