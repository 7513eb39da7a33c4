package sender

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/throttle"
)

// slotCounter counts the number slots a handler takes.
type slotCounter struct {
	NumberLimiter
	slots atomic.Int64
}

func (c *slotCounter) WaitLead(ctx context.Context, phoneNumberID string, perSecond int, lane throttle.Lane, lead time.Duration) (time.Duration, error) {
	remain, err := c.NumberLimiter.WaitLead(ctx, phoneNumberID, perSecond, lane, lead)
	if err == nil {
		c.slots.Add(1)
	}
	return remain, err
}

// pairCounter counts the pair bookings made in a claim's transaction,
// and those the transaction refused.
type pairCounter struct {
	PairLimiter
	booked, refused atomic.Int64
}

func (c *pairCounter) Refused(b throttle.Booking) {
	c.refused.Add(1)
	c.PairLimiter.Refused(b)
}

func (c *pairCounter) Booked(b throttle.Booking) {
	c.booked.Add(1)
	c.PairLimiter.Booked(b)
}

// slowClaims makes the next n claims (the writes that create a job's
// record) take at least d, as a loaded DynamoDB would.
type slowClaims struct {
	JobsAPI
	n atomic.Int64
	d time.Duration
}

func (s *slowClaims) slow() {
	if s.n.Add(-1) >= 0 {
		time.Sleep(s.d)
	}
}

func (s *slowClaims) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opt ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	s.slow()
	return s.JobsAPI.PutItem(ctx, in, opt...)
}

func (s *slowClaims) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opt ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	s.slow()
	return s.JobsAPI.TransactWriteItems(ctx, in, opt...)
}

// TestSendLeavesOnItsSlot: a job's request leaves within SendWithin of
// its number slot, whatever came between the slot and the claim. Before,
// a slow claim, or a wait for the recipient's pair limit (which comes
// after the slot), sent the job on a slot long past: a send outside the
// number's schedule, which took Meta's one-second window over the limit
// (make bench-sender: 130429, every instance slowed down, ratio 0.84).
// Counts, not timing: SendWithin is raised to a second for the delayed
// jobs, and each delay is 2.5 s, so that the slot it follows is spent
// whatever the load; the job must take another slot, be sent once, and
// book its recipient once. The job on time gets 30 s, so that its
// ordinary claim fits its slot however slow the emulator (moto) and the
// machine are (a loaded machine was seen taking over a second). A delayed
// job must take at least two slots, not exactly two: on a machine loaded
// enough (CI runs every package at once against one moto) the claim on
// the new slot can itself run late and take a third, which is the
// behaviour under test too. The pair wait needs the first job's send to
// end within the 2.5 s pair period; when load outlasts it, the case
// skips and says so.
func TestSendLeavesOnItsSlot(t *testing.T) {
	cases := []struct {
		name string
		// prepare sends what must go first and returns the job to watch.
		prepare func(t *testing.T, e *env, h *Handler, to string) string
		// minSlots and maxSlots bound the number slots the job takes.
		minSlots, maxSlots int64
		// sendWithin is the handler's SendWithin.
		sendWithin time.Duration
		// pairWait says the case needs the recipient's pair booking
		// refused in the claim.
		pairWait bool
	}{
		{
			name: "claim slower than the slot allows",
			prepare: func(t *testing.T, e *env, h *Handler, to string) string {
				slow := &slowClaims{JobsAPI: h.Jobs.API, d: 2500 * time.Millisecond}
				slow.n.Store(1)
				h.Jobs.API = slow
				return jid(t, "slot-slow-claim")
			},
			minSlots: 2, maxSlots: maxSlotTries, sendWithin: time.Second,
		},
		{
			name: "recipient's pair wait after the slot",
			prepare: func(t *testing.T, e *env, h *Handler, to string) string {
				// One message per 2.5 s, no burst: a second job right after
				// the first has its pair booking refused in the claim and
				// waits for its recipient (inline, ~2.5 s) after its slot.
				h.Pairs.(*pairCounter).PairLimiter.(*throttle.Pair).Period = 2500 * time.Millisecond
				h.Pairs.(*pairCounter).PairLimiter.(*throttle.Pair).Burst = 1
				first := jid(t, "slot-pair-first")
				if failed := handle(t, h, record(t, textJob(first, to, "first"), 1)); len(failed) != 0 {
					t.Fatalf("first job failed: %v", failed)
				}
				h.Numbers.(*slotCounter).slots.Store(0)
				h.Pairs.(*pairCounter).booked.Store(0)
				h.Pairs.(*pairCounter).refused.Store(0)
				return jid(t, "slot-pair-second")
			},
			minSlots: 2, maxSlots: maxSlotTries, sendWithin: time.Second, pairWait: true,
		},
		{
			name: "claim on time",
			prepare: func(t *testing.T, e *env, h *Handler, to string) string {
				return jid(t, "slot-on-time")
			},
			minSlots: 1, maxSlots: 1, sendWithin: 30 * time.Second,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := testEnv(t)
			h := e.handler(t)
			slots := &slotCounter{NumberLimiter: h.Numbers}
			pairs := &pairCounter{PairLimiter: h.Pairs}
			h.Numbers, h.Pairs = slots, pairs
			h.SendWithin = tc.sendWithin
			to := rcpt(t, "+5511977770090")
			e.openWindow(t, to)
			id := tc.prepare(t, e, h, to)
			sentBefore := len(e.simFor(to))

			if failed := handle(t, h, record(t, textJob(id, to, "on its slot"), 1)); len(failed) != 0 {
				t.Fatalf("job failed: %v", failed)
			}
			if tc.pairWait && pairs.refused.Load() == 0 {
				// The first job's send, record and push outlasted the
				// 2.5 s pair period (a machine loaded enough): the second
				// job found its recipient free, so there was no wait.
				t.Skip("the recipient's pair period had passed before the second job's claim: no pair wait to test on this run")
			}
			if got := len(e.simFor(to)) - sentBefore; got != 1 {
				t.Errorf("sent %d times, want 1", got)
			}
			if got := slots.slots.Load(); got < tc.minSlots || got > tc.maxSlots {
				t.Errorf("number slots taken: got %d, want %d to %d", got, tc.minSlots, tc.maxSlots)
			}
			if got := pairs.booked.Load(); got > 1 {
				t.Errorf("recipient booked %d times in claims, want at most 1", got)
			}
			evs := e.coreEvents(t, id)
			if len(evs) != 1 || evs[0].Type != event.TypeOutboundAccepted {
				t.Errorf("events %+v, want one outbound.accepted", evs)
			}
		})
	}
}
