package sender

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/throttle"
)

// A send leaves on its slot. The job is claimed after its number's slot
// comes up, immediately before the request (outcome_unknown then means the
// request may have reached Meta), and the claim takes time: a DynamoDB
// transaction, and, when the recipient's pair booking is refused in it,
// an inline wait for the recipient. The schedule's slots are
// 1/(0.97·L) apart, so L of them span 1.031 s, and Meta's one-second
// window stays within L only while no send leaves more than 31 ms later,
// relative to its slot, than the send L slots after it. So the job wakes
// a little before its slot (the lead: this instance's recent claim times,
// their slowest or twice their average), claims, waits out what remains and sends at the slot; a
// claim that ends more than SendWithin after the slot gives the slot up,
// releases the claim (nothing reached Meta) and takes a new slot.
// See docs/sender.md, "A send leaves on its slot".

const (
	// DefaultSendWithin is how late after its slot a job's request may
	// still leave: 20 of the 31 ms the schedule's headroom absorbs, the
	// rest left to the network.
	DefaultSendWithin = 20 * time.Millisecond
	// DefaultClaimLead is the lead before this instance has timed a claim.
	DefaultClaimLead = 20 * time.Millisecond
	// maxClaimLead bounds the lead, and so how long a claim can be held
	// before its request when claims are fast again.
	maxClaimLead = 250 * time.Millisecond
	// maxSlotTries is how many slots a job takes in one receive before it
	// goes back to the queue, each claim having ended too late for its
	// slot.
	maxSlotTries = 4
)

// claimTimes estimates how long this instance's claims take: a moving
// average, and the slowest recent one (decaying by an eighth per claim),
// so that after a slow claim (a busy table, or claims queued behind each
// other) the next ones start early enough. It is safe for concurrent use.
type claimTimes struct {
	mu       sync.Mutex
	avg, top time.Duration
}

func (c *claimTimes) observe(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.avg == 0 {
		c.avg = d
	} else {
		c.avg += (d - c.avg) / 8
	}
	c.top = max(d, c.top-c.top/8)
}

// lead is how long before its slot a job starts its claim.
func (c *claimTimes) lead() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.avg == 0 {
		return DefaultClaimLead
	}
	return min(max(2*c.avg, c.top), maxClaimLead)
}

// paceAndClaim takes the job's slot on its number and claims the job so
// that its request leaves at the slot, within SendWithin. It returns the
// job's record instead when it already has one.
func (h *Handler) paceAndClaim(ctx context.Context, a *attempt) (*JobRecord, error) {
	for try := 1; ; try++ {
		remain, err := h.paceNumber(ctx, a, h.claims.lead())
		if err != nil {
			return nil, err
		}
		woke := h.now()
		if err := h.timeToSend(ctx, a); err != nil {
			return nil, err
		}
		a.waited = false
		existing, err := h.claim(ctx, a)
		if err != nil || existing != nil {
			return existing, err
		}
		took := h.now().Sub(woke)
		if !a.waited {
			h.claims.observe(took)
		}
		remain -= took
		if remain > 0 {
			slot := h.now().Add(remain)
			if err := throttle.SleepContext(ctx, remain); err != nil {
				return nil, h.release(ctx, a, err)
			}
			// A loaded machine wakes sleepers late too.
			remain = slot.Sub(h.now())
		}
		late := -remain
		if late <= h.sendWithin() {
			return nil, nil
		}
		h.count(MetricSlotMissed)
		a.log.DebugContext(ctx, "claimed too late for the number's slot; taking another", "late_ms", late.Milliseconds(), "try", try, "took_ms", took.Milliseconds())
		if try >= maxSlotTries {
			return nil, h.release(ctx, a, &retryAfterError{after: time.Second,
				err: fault.Retryable(fmt.Errorf("send job %s: claimed too late for %d slots of number %s", a.job.JobID, try, a.job.PhoneNumberID))})
		}
		if err := h.Jobs.Release(ctx, a.ref, a.claim); err != nil {
			// release tries once more and hands the job back.
			return nil, h.release(ctx, a, fmt.Errorf("send job %s: give a late slot up: %w", a.job.JobID, err))
		}
		a.claim = ""
	}
}

func (h *Handler) sendWithin() time.Duration {
	if h.SendWithin > 0 {
		return h.SendWithin
	}
	return DefaultSendWithin
}
