package throttle

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/dynamoexpr"
	"github.com/tucanlink/wacloud/shared/fault"
)

// API is the part of the DynamoDB client the limiters use.
type API interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// Number defaults.
const (
	// DefaultHeadroom is the share of a number's limit the schedule uses.
	// Slots are 1/(0.97·limit) apart, so limit slots span 1.031 s: a send
	// may reach Meta up to 31 ms later than its slot, relative to the send
	// one limit earlier, and Meta's one-second window still holds at most
	// limit messages.
	DefaultHeadroom = 0.97
	// DefaultMaxBlock is the most slots one UpdateItem leases. At 1000/s
	// and blocks of 10 the number's item takes about 100 writes a second,
	// far below DynamoDB's 1,000 per partition.
	DefaultMaxBlock = 10
	// DefaultHorizon is how far ahead of now the interactive lane may
	// lease slots.
	DefaultHorizon = 2 * time.Second
	// DefaultBulkHorizon is how far ahead of now a bulk send received for
	// the first time may lease: a backlog's sends hold an invocation at
	// most that long, so they never take the sender's concurrency from
	// other numbers' jobs (80 sends waiting 1.25 s at 80/s would take 8
	// instances' whole batches), and the rest are deferred at once.
	DefaultBulkHorizon = 250 * time.Millisecond
	// DefaultBulkDueHorizon is how far ahead a bulk send received again
	// (deferred jobs come back at their place on the number's clock) may
	// lease: short of DefaultHorizon, so that interactive sends always
	// find room ahead of a bulk backlog, and longer than SQS's one-second
	// granularity of visibility delays plus a margin, so that deferred
	// jobs, which come back up to a second after their place, find their
	// slots and are not deferred again.
	DefaultBulkDueHorizon = 1250 * time.Millisecond
	// DefaultFinalHorizon is how far ahead of now a send of the Final lane
	// may lease: past what the other lanes book, so it always finds room.
	DefaultFinalHorizon = 3 * time.Second
	// DefaultSlack is how late a slot may still be used: a send that wakes
	// later gives its slot up rather than bunch with later slots.
	DefaultSlack = 10 * time.Millisecond
	// keepRate is how long an idle number's item lives.
	keepRate = 24 * time.Hour
)

// Limiter paces sends per business number across instances. Each instance
// (Lambda container) has its own Limiter; they coordinate only through the
// table. It is safe for concurrent use.
type Limiter struct {
	API      API
	Table    string
	Headroom float64       // default DefaultHeadroom
	MaxBlock int           // default DefaultMaxBlock
	Horizon  time.Duration // interactive lane; default DefaultHorizon
	// BulkHorizon, BulkDueHorizon and FinalHorizon are the other lanes'
	// (defaults DefaultBulkHorizon, DefaultBulkDueHorizon and
	// DefaultFinalHorizon).
	BulkHorizon    time.Duration
	BulkDueHorizon time.Duration
	FinalHorizon   time.Duration
	Slack          time.Duration // default DefaultSlack
	Now            func() time.Time
	// Sleep waits until t or ctx ends (tests replace it).
	Sleep func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex
	numbers map[string]*dispenser
	// lead is the lead the last WaitLead asked for: leases start their
	// blocks at least that far ahead of now, so that a send has the time
	// to get ready before its slot.
	lead atomic.Int64
}

// dispenser holds an instance's leased slots of one number.
type dispenser struct {
	mu         sync.Mutex
	slots      []time.Time
	leasing    bool
	done       chan struct{} // closed when the lease in progress ends
	wanting    int           // callers in Reserve without a slot
	prefetches int64
	// slow is the number's shared slow-down, as the last lease or
	// Throttled saw it in the schedule's record.
	slow slowdown
	// lastTAT is the schedule end this instance saw last and lastBusy
	// whether its last lease found the schedule busy; together they pick
	// which conditional write to try first.
	lastTAT  time.Time
	lastBusy bool
	// bookedUntil is the schedule end a lease last found beyond the
	// horizon; until the horizon reaches it, callers are told to wait
	// without a DynamoDB call.
	bookedUntil time.Time
	// deferredUntil is each lane's deferral clock as this instance last
	// saw it (Defer).
	deferredUntil [laneCount]time.Time
	stale         int64
	unused        int64 // of which nobody took
	leases        int64 // successful leases
	idle          int64 // of which found the schedule idle (tat behind now)
	leased        int64 // slots leased
	deferred      int64 // places booked on the deferral clocks
	calls         int64 // conditional writes and reads of the schedule
}

// Stats are counters of an instance's limiter, for metrics and benchmarks.
type Stats struct {
	Stale  int64 // slots given up: nobody took them in time or the caller woke too late
	Unused int64 // of which nobody took in time
	Leases int64 // blocks leased
	Idle   int64 // leases that found the schedule idle: time nobody booked
	Slots  int64 // slots leased
	Calls  int64 // DynamoDB calls made to lease them
	// Prefetches counts leases started ahead of the sends (Prefetch).
	Prefetches int64
	// Deferred counts sends placed on the number's deferral clocks (Defer).
	Deferred int64
	// Factor is the share of the number's rate the schedule hands out now
	// (below 1 after Meta's 130429, as this instance last read it).
	Factor float64
}

// Stats returns the counters of number phoneNumberID.
func (l *Limiter) Stats(phoneNumberID string) Stats {
	d := l.dispenser(phoneNumberID)
	d.mu.Lock()
	defer d.mu.Unlock()
	return Stats{Stale: d.stale, Unused: d.unused, Leases: d.leases, Idle: d.idle, Slots: d.leased, Calls: d.calls, Prefetches: d.prefetches, Deferred: d.deferred,
		Factor: d.slow.factor(l.now())}
}

func (l *Limiter) dispenser(id string) *dispenser {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.numbers == nil {
		l.numbers = map[string]*dispenser{}
	}
	d, ok := l.numbers[id]
	if !ok {
		d = &dispenser{}
		l.numbers[id] = d
	}
	return d
}

// Reserve returns the instant at which the caller may send one message
// of lane from phoneNumberID, whose limit is perSecond. The caller sleeps
// until then and sends; Wait does both. It returns a *WaitError when the
// schedule is booked beyond the lane's horizon.
func (l *Limiter) Reserve(ctx context.Context, phoneNumberID string, perSecond int, lane Lane) (time.Time, error) {
	d := l.dispenser(phoneNumberID)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.wanting++
	defer func() { d.wanting-- }()
	for {
		l.dropStale(d)
		if len(d.slots) > 0 {
			s := d.slots[0]
			if wait := s.Sub(l.now().Add(l.horizon(lane))); wait > 0 {
				// Leased for a lane that may book further ahead: this
				// lane does not go that far.
				return time.Time{}, &WaitError{Wait: wait, What: "number"}
			}
			d.slots = d.slots[1:]
			return s, nil
		}
		if wait := d.bookedUntil.Sub(l.now().Add(l.horizon(lane))); wait > 0 {
			// A lease found the schedule booked this far; it only moves
			// forward, so asking DynamoDB again now is a wasted write.
			return time.Time{}, &WaitError{Wait: wait, What: "number"}
		}
		if d.leasing {
			// Wait for the lease in progress; if its slots are gone by
			// then, the next lease counts this caller.
			done := d.done
			d.mu.Unlock()
			select {
			case <-done:
				d.mu.Lock()
				continue
			case <-ctx.Done():
				d.mu.Lock()
				return time.Time{}, ctx.Err()
			}
		}
		// Lease exactly for the callers without a slot: a slot nobody
		// takes within the slack is lost to every instance.
		run := l.beginLease(d, phoneNumberID, perSecond, d.wanting, lane)
		d.mu.Unlock()
		err := run(ctx)
		d.mu.Lock()
		if err != nil {
			return time.Time{}, err
		}
	}
}

// Prefetch starts leasing slots for n sends of phoneNumberID that are
// about to ask for them (a batch's jobs), in the background, so that the
// lease overlaps the work before the sends and a batch takes one block
// instead of one lease per send. It does nothing when this instance
// holds enough slots or a lease is in progress. Slots nobody takes within
// the slack are lost, so n should count only sends that follow shortly.
// The block starts within lane's horizon.
func (l *Limiter) Prefetch(ctx context.Context, phoneNumberID string, perSecond, n int, lane Lane) {
	d := l.dispenser(phoneNumberID)
	d.mu.Lock()
	defer d.mu.Unlock()
	l.dropStale(d)
	if d.leasing || n <= len(d.slots) || perSecond <= 0 || d.bookedUntil.After(l.now().Add(l.horizon(lane))) {
		return
	}
	run := l.beginLease(d, phoneNumberID, perSecond, n-len(d.slots), lane)
	d.prefetches++
	go func() { _ = run(ctx) }()
}

// dropStale gives up the slots too old to use. d.mu is held.
func (l *Limiter) dropStale(d *dispenser) {
	now := l.now()
	for len(d.slots) > 0 && now.Sub(d.slots[0]) > l.slack() {
		d.slots = d.slots[1:]
		d.stale++
		d.unused++
	}
}

// beginLease marks a lease of n slots (at most MaxBlock) in progress and
// returns the function that makes it and stores its slots; call that
// without d.mu held. d.mu is held.
func (l *Limiter) beginLease(d *dispenser, id string, perSecond, n int, lane Lane) func(context.Context) error {
	n = min(max(n, 1), l.maxBlock())
	d.leasing, d.done = true, make(chan struct{})
	// Try the busy write first when this instance booked ahead of now, or
	// when its last lease found others had: at a high rate the schedule
	// is nearly always busy, whatever this instance's own lease says. A
	// number sending now and then finds it idle every time and tries that
	// first.
	factor, idleFirst := d.slow.factor(l.now()), !d.lastBusy && !d.lastTAT.After(l.now())
	return func(ctx context.Context) error {
		slots, tat, idle, slow, calls, err := l.lease(ctx, id, perSecond, n, factor, idleFirst, l.horizon(lane), time.Duration(l.lead.Load()))
		d.mu.Lock()
		defer d.mu.Unlock()
		d.calls += int64(calls)
		d.leasing = false
		close(d.done)
		if !tat.IsZero() {
			d.lastTAT = tat
		}
		if slow != nil {
			d.slow = *slow
		}
		if _, booked := AsWait(err); booked && tat.After(d.bookedUntil) {
			d.bookedUntil = tat
		}
		if err != nil {
			return err
		}
		d.slots = append(d.slots, slots...)
		d.leases++
		d.leased += int64(len(slots))
		d.lastBusy = !idle
		if idle {
			d.idle++
		}
		return nil
	}
}

// Wait blocks until this instance may send one message of lane from
// phoneNumberID. It gives up a slot it woke too late for and takes
// another. It returns a *WaitError instead of sleeping past the lane's
// horizon.
func (l *Limiter) Wait(ctx context.Context, phoneNumberID string, perSecond int, lane Lane) error {
	_, err := l.WaitLead(ctx, phoneNumberID, perSecond, lane, 0)
	return err
}

// WaitLead is Wait for a caller that needs lead to get its send ready
// (the job's claim): it returns lead before the slot, with how long
// remains until the slot (negative when it woke after it, within the
// slack). The caller prepares its send, waits out what remains, and
// sends at the slot.
func (l *Limiter) WaitLead(ctx context.Context, phoneNumberID string, perSecond int, lane Lane, lead time.Duration) (time.Duration, error) {
	l.lead.Store(int64(max(lead, 0)))
	for {
		at, err := l.Reserve(ctx, phoneNumberID, perSecond, lane)
		if err != nil {
			return 0, err
		}
		if d := at.Add(-lead).Sub(l.now()); d > 0 {
			if err := l.sleep(ctx, d); err != nil {
				return 0, err
			}
		}
		if late := l.now().Sub(at); late <= l.slack() {
			return -late, nil
		}
		d := l.dispenser(phoneNumberID)
		d.mu.Lock()
		d.stale++
		d.mu.Unlock()
	}
}

// Throttled slows the number down for every instance after Meta answered
// 130429 despite the schedule (clock skew, another system sending from
// the number, a lowered limit): it halves the rate the schedule hands out
// (at least a tenth of the limit stays) and records that in the
// schedule's record, where every instance's next lease reads it. The rate
// recovers linearly, by DefaultRecovery of the limit per second. Several
// instances seeing the same burst halve it once: a halving less than
// a second old is not halved again.
func (l *Limiter) Throttled(ctx context.Context, phoneNumberID string) error {
	d := l.dispenser(phoneNumberID)
	now := l.now()
	d.mu.Lock()
	next := slowdown{at: now, factorAt: math.Max(minFactor, d.slow.factor(now)/2)}
	d.slots = nil // leased at the old rate
	d.mu.Unlock()
	e := dynamoexpr.New()
	in := write(l.Table, map[string]ddbtypes.AttributeValue{"pk": sAttr("rate#num#" + phoneNumberID)}, e,
		e.Update().Set(attrSlow, nAttr(int64(math.Round(next.factorAt*slowScale)))).
			Set(attrSlowAt, nAttr(micros(now))).
			Set(attrExpires, nAttr(now.Add(keepRate).Unix())).
			SetIfAbsent(attrTAT, nAttr(micros(now))).String(),
		dynamoexpr.Or(e.NotExists(attrSlowAt), e.Compare(attrSlowAt, "<", e.N(micros(now.Add(-time.Second))))))
	_, err := l.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: in.TableName, Key: in.Key, UpdateExpression: in.UpdateExpression, ConditionExpression: in.ConditionExpression,
		ExpressionAttributeNames: in.ExpressionAttributeNames, ExpressionAttributeValues: in.ExpressionAttributeValues,
	})
	if conditionFailed(err) {
		return nil // another instance halved it just now; the next lease reads it
	}
	if err != nil {
		return fault.Retryable(fmt.Errorf("slow %s down: %w", phoneNumberID, err))
	}
	d.mu.Lock()
	d.slow = next
	d.mu.Unlock()
	return nil
}

// Shared slow-down of a number after 130429, in the schedule's record:
// slow, the rate factor then (in thousandths), and slow_at (Unix µs).
const (
	attrSlow   = "slow"
	attrSlowAt = "slow_at"
	slowScale  = 1000
	minFactor  = 0.1
	// DefaultRecovery is how much of the limit a slowed-down number gets
	// back per second: from half the rate to all of it in 25 s.
	DefaultRecovery = 0.02
)

// slowdown is a number's rate factor after Meta's 130429.
type slowdown struct {
	factorAt float64   // 0: never slowed down
	at       time.Time // when
}

// factor is the share of the rate the schedule hands out at now.
func (s slowdown) factor(now time.Time) float64 {
	if s.factorAt <= 0 {
		return 1
	}
	return math.Min(1, s.factorAt+DefaultRecovery*now.Sub(s.at).Seconds())
}

// readSlowdown reads the slow-down from a schedule record; nil when the
// record holds none.
func readSlowdown(item map[string]ddbtypes.AttributeValue) *slowdown {
	f, ok1 := readN(item, attrSlow)
	at, ok2 := readN(item, attrSlowAt)
	if !ok1 || !ok2 || f <= 0 {
		return nil
	}
	return &slowdown{factorAt: float64(f) / slowScale, at: fromMicros(at)}
}

// lease books n slots of the shared schedule. The schedule's end (tat) only
// moves forward: from max(tat, now+lead) by n intervals (stretched by
// 1/factor); lead leaves the sends the time to get ready before their
// first slot. idleFirst says which of the two conditional writes to try
// first; the usual case is one write, a wrong guess takes a second.
// horizon is the lane's: how far ahead of now the block may start.
func (l *Limiter) lease(ctx context.Context, id string, perSecond, n int, factor float64, idleFirst bool, horizon, lead time.Duration) (slots []time.Time, end time.Time, idle bool, slow *slowdown, calls int, err error) {
	if perSecond <= 0 {
		return nil, time.Time{}, false, nil, 0, fault.Invalidf("rate limit of %s: limit %d per second", id, perSecond)
	}
	interval := float64(time.Second/time.Microsecond) / (float64(perSecond) * l.headroom()) / factor
	span := int64(math.Ceil(interval * float64(n)))
	key := map[string]ddbtypes.AttributeValue{"pk": sAttr("rate#num#" + id)}
	for attempt := 0; attempt < 4; attempt++ {
		now := l.now()
		base := now.Add(lead)
		exp := nAttr(now.Add(keepRate).Unix())
		// Busy: the schedule runs at or after now+lead, within the
		// horizon; book n more intervals after its end.
		be := dynamoexpr.New()
		busyIn := write(l.Table, key, be,
			be.Update().SetExpr(attrTAT, be.Name(attrTAT)+" + "+be.N(span)).Set(attrExpires, exp).String(),
			dynamoexpr.And(be.Compare(attrTAT, ">=", be.N(micros(base))), be.Compare(attrTAT, "<=", be.N(micros(now.Add(horizon))))))
		// Idle: nothing booked from now+lead on; the block starts there.
		ie := dynamoexpr.New()
		idleIn := write(l.Table, key, ie,
			ie.Update().Set(attrTAT, nAttr(micros(base)+span)).Set(attrExpires, exp).String(),
			dynamoexpr.Or(ie.NotExists(attrTAT), ie.Compare(attrTAT, "<", ie.N(micros(base)))))
		busy := func() (int64, bool, error) {
			calls++
			out, err := l.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:                 busyIn.TableName,
				Key:                       busyIn.Key,
				UpdateExpression:          busyIn.UpdateExpression,
				ConditionExpression:       busyIn.ConditionExpression,
				ExpressionAttributeNames:  busyIn.ExpressionAttributeNames,
				ExpressionAttributeValues: busyIn.ExpressionAttributeValues,
				ReturnValues:              ddbtypes.ReturnValueAllNew,
			})
			if conditionFailed(err) {
				return 0, false, nil
			}
			if err != nil {
				return 0, false, err
			}
			slow = readSlowdown(out.Attributes)
			tat, _ := readN(out.Attributes, "tat")
			return tat - span, true, nil
		}
		idle := func() (int64, bool, error) {
			calls++
			out, err := l.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:                 idleIn.TableName,
				Key:                       idleIn.Key,
				UpdateExpression:          idleIn.UpdateExpression,
				ConditionExpression:       idleIn.ConditionExpression,
				ExpressionAttributeNames:  idleIn.ExpressionAttributeNames,
				ExpressionAttributeValues: idleIn.ExpressionAttributeValues,
				ReturnValues:              ddbtypes.ReturnValueAllNew,
			})
			if conditionFailed(err) {
				return 0, false, nil
			}
			if err != nil {
				return 0, false, err
			}
			slow = readSlowdown(out.Attributes)
			return micros(base), true, nil
		}
		tries := []func() (int64, bool, error){busy, idle}
		if idleFirst {
			tries = []func() (int64, bool, error){idle, busy}
		}
		for i, try := range tries {
			start, ok, err := try()
			if err != nil {
				return nil, time.Time{}, false, nil, calls, fault.Retryable(fmt.Errorf("lease send slots of %s: %w", id, err))
			}
			if ok {
				slots := make([]time.Time, n)
				for i := range slots {
					slots[i] = fromMicros(start + int64(math.Round(interval*float64(i))))
				}
				return slots, fromMicros(start + span), (i == 0) == idleFirst, slow, calls, nil
			}
		}
		// Neither: booked beyond the horizon, or the schedule moved between
		// the two writes. Read it to tell.
		calls++
		out, err := l.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.Table), Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, time.Time{}, false, nil, calls, fault.Retryable(fmt.Errorf("read send schedule of %s: %w", id, err))
		}
		tat, _ := readN(out.Item, "tat")
		if wait := fromMicros(tat).Sub(l.now().Add(horizon)); wait > 0 {
			return nil, fromMicros(tat), false, readSlowdown(out.Item), calls, &WaitError{Wait: wait, What: "number"}
		}
		idleFirst = tat < micros(l.now().Add(lead))
	}
	return nil, time.Time{}, false, nil, calls, fault.Retryable(fmt.Errorf("lease send slots of %s: schedule contended", id))
}

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Limiter) sleep(ctx context.Context, d time.Duration) error {
	if l.Sleep != nil {
		return l.Sleep(ctx, d)
	}
	return SleepContext(ctx, d)
}

// SleepContext sleeps for d or until ctx ends.
func SleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *Limiter) headroom() float64 {
	if l.Headroom > 0 && l.Headroom <= 1 {
		return l.Headroom
	}
	return DefaultHeadroom
}

func (l *Limiter) maxBlock() int {
	if l.MaxBlock > 0 {
		return l.MaxBlock
	}
	return DefaultMaxBlock
}

// horizon is how far ahead of now lane may lease.
func (l *Limiter) horizon(lane Lane) time.Duration {
	switch lane {
	case Bulk:
		if l.BulkHorizon > 0 {
			return l.BulkHorizon
		}
		return DefaultBulkHorizon
	case BulkDue:
		if l.BulkDueHorizon > 0 {
			return l.BulkDueHorizon
		}
		return DefaultBulkDueHorizon
	case Final:
		if l.FinalHorizon > 0 {
			return l.FinalHorizon
		}
		return DefaultFinalHorizon
	}
	if l.Horizon > 0 {
		return l.Horizon
	}
	return DefaultHorizon
}

func (l *Limiter) slack() time.Duration {
	if l.Slack > 0 {
		return l.Slack
	}
	return DefaultSlack
}
