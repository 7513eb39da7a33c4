package sender

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/throttle"
)

// Deferral. A job whose number has no free slot within its lane's horizon
// is not held by the invocation and not retried within seconds: it is
// placed on its number's deferral clock (throttle.Limiter.Defer) and made
// visible again at its place, so a number's backlog comes back spread at
// the number's rate, behind the jobs of every other number and tenant,
// which the queue hands out meanwhile. A job received for the first time
// on a number whose lane already has a backlog deferred (or whose
// schedule this instance knows to be booked) is deferred before anything
// else is done for it: no claim, no window or template check, one
// conditional write per number and one visibility change per batch.
// See docs/sender.md, Lanes and deferral.

// Visibilities changes the visibility of several records in one call;
// the SQS client satisfies it. Handler.Visibilities nil: the Consumer's
// API when it has the call (the SQS client does), else one
// ChangeMessageVisibility per record.
type Visibilities interface {
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// MetricDeferred counts jobs put off to their place on the number's
// deferral clock.
const MetricDeferred = "OutboundDeferred"

// maxDeferral is the longest visibility delay a deferred job gets: SQS
// refuses one past 12 hours after the receive, and the invocation has
// run a while since.
const maxDeferral = 12*time.Hour - 10*time.Minute

// deferral is a job put off because its number has no slot for it within
// its lane's horizon. It is not a failure: the consumer leaves the record's
// visibility to the handler, which sets it from the number's deferral
// clock at the end of the batch.
type deferral struct {
	number string
	limit  int
	lane   throttle.Lane
	err    error
}

func (e *deferral) Error() string {
	return fmt.Sprintf("deferred on number %s (%s lane): %v", e.number, e.lane, e.err)
}
func (e *deferral) Unwrap() error { return e.err }

// Deferred marks the error as a deferral for the queue consumer.
func (e *deferral) Deferred() bool { return true }

func asDeferral(err error) (*deferral, bool) {
	var d *deferral
	ok := errors.As(err, &d)
	return d, ok
}

// lane is the pacing lane of a job received attempts times: a job at the
// end of its receive budget is never deferred again (throttle.Final), so a
// deferral never takes a job to the dead-letter queue.
func (h *Handler) lane(job outbound.Job, attempts int) throttle.Lane {
	switch {
	case attempts >= h.giveUpAfter():
		return throttle.Final
	case job.TrafficLane() == outbound.LaneBulk && attempts > 1:
		return throttle.BulkDue
	case job.TrafficLane() == outbound.LaneBulk:
		return throttle.Bulk
	}
	return throttle.Interactive
}

// lenient is the lane with the shorter horizon: a batch's block is booked
// where every one of its lanes may use it.
func lenient(a, b throttle.Lane) throttle.Lane {
	rank := map[throttle.Lane]int{throttle.Bulk: 0, throttle.BulkDue: 1, throttle.Interactive: 2, throttle.Final: 3}
	if rank[b] < rank[a] {
		return b
	}
	return a
}

// admit looks at the batch before it runs: the first record of a message
// group, received for the first time, on a number (of the job's own
// tenant) whose lane this instance knows has no room, is deferred at once
// (the rest of its group follows it). The other records' numbers get
// their send slots booked as one block each (Prefetch, within the horizon
// of the batch's least urgent lane on the number) while the jobs are
// being claimed: a group's later records count too, since the schedule's
// backlog usually holds the first ones back long enough for the block's
// later slots to still be due when they come. Before that, Lookahead reads
// what the admitted jobs will read (identities, windows, suppressions) in
// one call per table. Jobs that do not decode,
// or name a number of another tenant, are left to process (which rejects
// them): nobody may push another tenant's number's clock. The batch's
// tenants are read beside its numbers, and the admitted jobs' credentials
// beside the lookahead (readTenant, warmCredentials), so that a cold
// instance's first job does not wait for them one after the other.
func (h *Handler) admit(ctx context.Context, recs []events.SQSMessage) map[string]*deferral {
	type key struct{ number, tenant string }
	type want struct {
		n    int
		lane throttle.Lane
	}
	// The batch's tenants are read beside its numbers: on a cold
	// instance, the first job waits for two reads at once, not one after
	// the other (and for its credentials beside the lookahead, below).
	tenants := &tenantReads{byID: map[string]*tenantRead{}}
	defer tenants.read.Wait() // process finds them in the registry's cache
	counts := map[key]*want{}
	var order []key
	deferred := map[string]*deferral{}
	seen := map[string]bool{}
	var admitted []outbound.Job
	for _, rec := range recs {
		group := rec.Attributes["MessageGroupId"]
		head := !seen[group]
		seen[group] = true
		job, err := outbound.Decode([]byte(rec.Body))
		if err == nil {
			h.readTenant(ctx, tenants, job.TenantID)
		}
		if err != nil || job.PhoneNumberID == "" || job.TenantID == "" {
			continue
		}
		num, err := h.Tenants.Number(ctx, job.PhoneNumberID)
		if err != nil || num.TenantID != job.TenantID {
			continue
		}
		attempts, limit := receiveCount(rec), h.throughput(num)
		lane := h.lane(job, attempts)
		if head && lane != throttle.Final {
			booked, backlog := h.Numbers.Room(job.PhoneNumberID, lane)
			if booked || (backlog && attempts <= 1) {
				deferred[rec.MessageId] = &deferral{number: job.PhoneNumberID, limit: limit, lane: lane,
					err: errors.New("no room within the lane's horizon")}
				continue
			}
		}
		admitted = append(admitted, job)
		k := key{job.PhoneNumberID, job.TenantID}
		w, ok := counts[k]
		if !ok {
			w = &want{lane: lane}
			counts[k] = w
			order = append(order, k)
		}
		w.n++
		w.lane = lenient(w.lane, lane)
	}
	// The admitted jobs' tenants' credentials are read beside the
	// lookahead and the slots' booking.
	h.warmCredentials(ctx, tenants, admitted)
	if h.Lookahead != nil && len(admitted) > 0 {
		// Before the slots are booked: the reads would otherwise come
		// between a job's slot and its send.
		h.Lookahead.Preread(ctx, admitted)
	}
	for _, k := range order {
		num, err := h.Tenants.Number(ctx, k.number)
		if err != nil {
			continue
		}
		h.Numbers.Prefetch(ctx, k.number, h.throughput(num), counts[k].n, counts[k].lane)
	}
	return deferred
}

// tenantReads are the reads admit starts for a batch's tenants: each
// tenant named by a job, at once (the job's own read would make the same
// call), and once a job of it is admitted, that tenant's credentials.
type tenantReads struct {
	read sync.WaitGroup // the tenants' reads
	byID map[string]*tenantRead
}

type tenantRead struct {
	done   chan struct{}
	t      tenant.Tenant
	err    error
	warmed bool // its credentials are being read
}

// readTenant starts reading tenant id on a goroutine of its own, once per
// batch, if id is a tenant id at all (process reads none otherwise).
// Nothing of a tenant is used here: process reads it from the registry's
// cache.
func (h *Handler) readTenant(ctx context.Context, r *tenantReads, id string) {
	if r.byID[id] != nil || !tenant.ValidID(id) {
		return
	}
	tr := &tenantRead{done: make(chan struct{})}
	r.byID[id] = tr
	r.read.Add(1)
	go func() {
		defer r.read.Done()
		defer close(tr.done)
		tr.t, tr.err = h.Tenants.Tenant(ctx, id)
	}()
}

// warmCredentials reads, once its tenant is read, the credentials of the
// tenant of each admitted job: only jobs whose number proved to be their
// tenant's are admitted, so no job warms another tenant's secret. A read
// may go on after admit returns; a job needing it waits for it in the
// vault, which reads a secret once. Errors are left to the jobs' own
// reads.
func (h *Handler) warmCredentials(ctx context.Context, r *tenantReads, admitted []outbound.Job) {
	for _, job := range admitted {
		tr := r.byID[job.TenantID]
		if tr == nil || tr.warmed {
			continue
		}
		tr.warmed = true
		go func() {
			<-tr.done
			if tr.err == nil && tr.t.SecretID != "" && tr.t.Status != tenant.StatusDisabled {
				_, _ = h.Secrets.Credentials(ctx, tr.t.SecretID)
			}
		}()
	}
}

// visibilities sets the visibility of the batch's failed records: a
// deferred group's records until their place on the number's deferral
// clock, every other failed group's records to the pacing delay its first
// failed record asked for, or the consumer's backoff. The records behind a
// group's first failure are in flight too, and SQS keeps the whole group
// waiting until they come back, so they get the same delay. One
// ChangeMessageVisibilityBatch per ten records.
func (h *Handler) visibilities(ctx context.Context, recs []events.SQSMessage, failed map[string]bool, delays, deferrals *sync.Map) {
	c := h.Consumer
	if c.QueueURL == "" || (c.API == nil && h.Visibilities == nil) {
		return
	}
	var order []string
	groups := map[string][]events.SQSMessage{}
	for _, rec := range recs {
		if !failed[rec.MessageId] {
			continue
		}
		g := rec.Attributes["MessageGroupId"]
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], rec)
	}
	delay := map[string]time.Duration{} // group → visibility delay
	// Deferred groups, per number and lane: one place on the clock for
	// each of the group's records, since each will need a slot.
	type key struct {
		number string
		lane   throttle.Lane
	}
	type clockGroup struct {
		group string
		n     int
	}
	var keys []key
	byKey := map[key][]clockGroup{}
	limits := map[key]int{}
	for _, g := range order {
		first := groups[g][0]
		if v, ok := deferrals.Load(first.MessageId); ok {
			d := v.(*deferral)
			k := key{d.number, d.lane}
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], clockGroup{g, len(groups[g])})
			limits[k] = d.limit
			continue
		}
		var d time.Duration
		if v, ok := delays.Load(first.MessageId); ok {
			d = v.(time.Duration)
		} else if c.Backoff != nil {
			d = c.Backoff(max(receiveCount(first), 1))
		}
		delay[g] = d
	}
	for _, k := range keys {
		n := 0
		for _, cg := range byKey[k] {
			n += cg.n
		}
		places, err := h.Numbers.Defer(ctx, k.number, limits[k], k.lane, n)
		if err != nil {
			// Not placed: come back after the horizon, as a wait would.
			h.log().WarnContext(ctx, "could not place deferred jobs on the number's clock", "phone_number_id", k.number, "jobs", n, "error", err.Error())
		}
		i := 0
		for _, cg := range byKey[k] {
			d := throttle.DefaultHorizon
			if err == nil {
				d = places[i].Sub(h.now())
			}
			// Visibility is in whole seconds: round up, so a job comes back
			// at or after its place, never before the jobs placed ahead.
			delay[cg.group] = min(max(time.Second, (d+time.Second-1)/time.Second*time.Second), maxDeferral)
			i += cg.n
			h.count(MetricDeferred)
		}
	}

	var entries []sqstypes.ChangeMessageVisibilityBatchRequestEntry
	for _, g := range order {
		secs := int32((delay[g] + time.Second - 1) / time.Second)
		for _, rec := range groups[g] {
			if rec.ReceiptHandle == "" {
				continue
			}
			entries = append(entries, sqstypes.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(len(entries))), ReceiptHandle: aws.String(rec.ReceiptHandle), VisibilityTimeout: secs,
			})
		}
	}
	h.changeVisibility(ctx, entries)
}

// changeVisibility applies entries, ten per call.
func (h *Handler) changeVisibility(ctx context.Context, entries []sqstypes.ChangeMessageVisibilityBatchRequestEntry) {
	c := h.Consumer
	batch := h.Visibilities
	if batch == nil {
		batch, _ = c.API.(Visibilities)
	}
	if batch == nil {
		for _, e := range entries {
			if _, err := c.API.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
				QueueUrl: aws.String(c.QueueURL), ReceiptHandle: e.ReceiptHandle, VisibilityTimeout: e.VisibilityTimeout,
			}); err != nil {
				h.log().WarnContext(ctx, "could not delay retry", "error", err.Error())
			}
		}
		return
	}
	for len(entries) > 0 {
		n := min(len(entries), 10)
		out, err := batch.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{
			QueueUrl: aws.String(c.QueueURL), Entries: entries[:n],
		})
		switch {
		case err != nil:
			h.log().WarnContext(ctx, "could not delay retries", "records", n, "error", fault.Retryable(err).Error())
		case len(out.Failed) > 0:
			h.log().WarnContext(ctx, "could not delay some retries", "records", len(out.Failed), "code", aws.ToString(out.Failed[0].Code))
		}
		entries = entries[n:]
	}
}
