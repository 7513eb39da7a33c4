// Package sender is the sender function: it takes outbound jobs from the
// outbound FIFO queue, checks them (contract, tenant isolation, 24-hour
// window), paces them to Meta's limits across all instances, sends each
// through the Graph API at most once, and reports outbound.accepted or
// outbound.failed to the core.
//
// Exactly once. A job is checked (window, template, credentials, media)
// and paced (its number's slot, its recipient's pair limit) unclaimed;
// then it is claimed in the state table ("job#{tenant_id}#{job_id}": job
// ids are scoped by tenant; state sending, with a lease) and its request
// is written at once, and the record is finished as sent or failed after
// Meta answered. A job failing its checks is recorded failed in one write;
// one going back to the queue (a long pacing wait, a retryable error, the
// invocation's deadline near) leaves no record. A redelivered job finds
// its record and only publishes its result again. A record left in
// sending by a crash (the lease expired) therefore means the request may
// have reached Meta: the sender looks for the message record Meta's
// acceptance would have produced (delivery ByJob); without one it reports
// outbound.failed with reason outcome_unknown and does not send it again.
// Resubmitting it is the core's decision, under a new job id. A crash
// while the job waited for its pacing slot leaves no claim: it is sent
// normally when redelivered.
package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptrace"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/campaign/tally"
	"github.com/tucanlink/wacloud/shared/core"
	"github.com/tucanlink/wacloud/shared/crashpoint"
	"github.com/tucanlink/wacloud/shared/delivery"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/identity"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/throttle"
	"github.com/tucanlink/wacloud/shared/tracing"
)

// Tenants looks tenants and numbers up; *tenant.Registry satisfies it.
// Errors wrap tenant.ErrNotFound for unknown ids.
type Tenants interface {
	Tenant(ctx context.Context, id string) (tenant.Tenant, error)
	Number(ctx context.Context, phoneNumberID string) (tenant.Number, error)
}

// Secrets reads tenant credentials; *tenant.Vault satisfies it. Errors
// never contain the secret.
type Secrets interface {
	Credentials(ctx context.Context, secretID string) (tenant.Credentials, error)
	Invalidate(secretID string)
}

// Windows answers whether the 24-hour window is open; window.Store
// satisfies it. Errors are classified Retry.
type Windows interface {
	IsOpen(ctx context.Context, phoneNumberID, waID string) (bool, error)
	Close(ctx context.Context, phoneNumberID, waID string, at time.Time) error
}

// Graph sends a request body; *graph.Client satisfies it. Errors are
// *graph.Error (classified) or fault-classified.
type Graph interface {
	SendMessage(ctx context.Context, token, phoneNumberID string, body any) (graph.SendResult, error)
}

// Deliveries records accepted messages for status matching; *delivery.Store
// satisfies it. RecordAccepted is idempotent.
type Deliveries interface {
	RecordAccepted(ctx context.Context, r delivery.Record) error
	// AcceptedWrites are RecordAccepted's writes, for the sender's own
	// transaction with the job record.
	AcceptedWrites(r delivery.Record) ([]ddbtypes.TransactWriteItem, error)
	ByJob(ctx context.Context, tenantID, jobID string) (delivery.Message, error)
}

// MediaResolver turns an s3:// reference into a media id or a link;
// *media.OutboundResolver satisfies it. Errors are fault-classified.
type MediaResolver interface {
	Resolve(ctx context.Context, tenantID, phoneNumberID, accessToken, kind, s3URI string) (mediaID, link string, err error)
}

// NumberLimiter paces a business number; *throttle.Limiter satisfies it.
// WaitLead returns lead before the caller's slot, with how long remains
// until the slot, or a *throttle.WaitError when the number has no slot
// within the lane's horizon.
type NumberLimiter interface {
	WaitLead(ctx context.Context, phoneNumberID string, perSecond int, lane throttle.Lane, lead time.Duration) (time.Duration, error)
	// Prefetch starts booking n sends that are about to Wait, within
	// lane's horizon.
	Prefetch(ctx context.Context, phoneNumberID string, perSecond, n int, lane throttle.Lane)
	// Throttled slows the number down for every instance after Meta's
	// 130429; errors are classified and only mean it was not recorded.
	Throttled(ctx context.Context, phoneNumberID string) error
	// Defer places n sends the number has no room for on the lane's
	// deferral clock and returns their places, in order. Errors are
	// classified.
	Defer(ctx context.Context, phoneNumberID string, perSecond int, lane throttle.Lane, n int) ([]time.Time, error)
	// Room tells, without a call, whether the number is known booked
	// beyond the lane's horizon and whether the lane has a deferred
	// backlog.
	Room(phoneNumberID string, lane throttle.Lane) (booked, backlog bool)
}

// PairLimiter paces messages to one recipient; *throttle.Pair satisfies it.
// Take returns a *throttle.WaitError when the message must wait.
type PairLimiter interface {
	Take(ctx context.Context, phoneNumberID, waID string) error
	Throttled(ctx context.Context, phoneNumberID, waID string) error
	// Book, Booked and Refused book a message in the caller's own
	// transaction (with the job's claim); Take is the fallback.
	// Book fails (Permanent) only on a defect.
	Book(phoneNumberID, waID string) (throttle.Booking, error)
	Booked(b throttle.Booking)
	Refused(b throttle.Booking)
}

// Publisher publishes to SQS; queue.Publisher satisfies it.
type Publisher interface {
	Publish(ctx context.Context, queueURL string, msgs ...queue.Message) error
}

// Handler defaults.
const (
	// DefaultMaxInlineWait is the longest pacing wait slept inside an
	// invocation; longer waits return the job to the queue with a delay.
	DefaultMaxInlineWait = 3 * time.Second
	// DefaultGiveUpAfter is the receive count from which a job that would
	// be retried again is reported failed (retryable) instead. It is below
	// the outbound queue's maxReceiveCount (30), so the core hears about
	// the job before SQS would move it to the dead-letter queue silently.
	DefaultGiveUpAfter = 25
	// DefaultConcurrency is how many records of a batch (of different
	// recipients) are handled at once.
	DefaultConcurrency = 10
	// DefaultMargin is the time before the invocation's deadline from
	// which no job starts (queue.Consumer.Margin): enough for a job's
	// inline pacing, Graph's 20 s timeout and its records.
	DefaultMargin = 30 * time.Second
	// DefaultSendBudget is the time a job must have left before the
	// invocation's deadline to be claimed and sent: Graph's 20 s timeout
	// and the records after it. With less, it goes back to the queue
	// unclaimed rather than risk a request cut off mid-way (an outcome
	// nobody knows).
	DefaultSendBudget = 25 * time.Second
	// DefaultPushWithin bounds how long a batch's results are pushed
	// straight to the core; what is not through by then goes on the core
	// events queue.
	DefaultPushWithin = time.Second
	// pushReserve is the time a batch keeps before its invocation's
	// deadline, after the direct pushes, to publish what the core did not
	// take and set its records' visibilities.
	pushReserve = 5 * time.Second
)

// Metric names.
const (
	MetricAccepted  = "OutboundAccepted"
	MetricFailed    = "OutboundFailed"
	MetricRetried   = "OutboundRetried"
	MetricThrottled = "OutboundThrottledByMeta"
	// MetricSlotMissed counts number slots given up because the job's
	// claim (or its recipient's pacing wait) ended too late for them.
	MetricSlotMissed = "OutboundSlotMissed"
	// MetricResultsPushed counts results pushed straight to the core;
	// MetricResultsQueued those published on the core events queue for
	// the bridge (the core failed or was slow, or there was no time).
	MetricResultsPushed = "OutboundResultsPushed"
	MetricResultsQueued = "OutboundResultsQueued"
)

// Identities resolves a job's recipient to the identity WhatsApp knows
// it by (package identity) and learns it from Meta's answers; the
// instance's identityCache over identity.Store satisfies it. Errors are
// classified Retry.
type Identities interface {
	// Resolve returns input's identity on the number (input itself when
	// none is recorded) and whether a mapping was recorded.
	Resolve(ctx context.Context, tenantID, phoneNumberID, input string) (id string, mapped bool, err error)
	// Learn records the identity Meta resolved input to.
	Learn(ctx context.Context, tenantID, phoneNumberID, input, id string) error
}

// Handler handles batches from the outbound queue.
type Handler struct {
	Tenants    Tenants
	Identities Identities // nil: recipients are used as the job names them
	Secrets    Secrets
	Windows    Windows
	Jobs       *JobStore
	Graph      Graph
	Deliveries Deliveries
	Media      MediaResolver   // nil: s3:// references fail as media_unavailable
	Templates  TemplateCatalog // nil: template jobs go to Meta unchecked (templates.go)
	// Suppressions holds template jobs to opted-out contacts back
	// (suppressions.go); nil: not checked.
	Suppressions Suppressions
	// Lookahead reads a batch's identities, windows and suppression
	// entries ahead in one call per table (lookahead.go); nil: each job
	// reads its own.
	Lookahead Prereader
	Numbers   NumberLimiter
	Pairs     PairLimiter
	// Limits counts business-initiated recipients against the portfolio's
	// messaging limit (limits.go); nil: not counted.
	Limits       MessagingLimits
	PhoneNumbers PhoneNumbers // reads a tier never recorded; nil: not read
	Events       Publisher
	// Core takes a batch's results straight to the core (outbox.push);
	// what it does not take, and every result when it is nil, goes on the
	// core events queue for the bridge.
	Core       CorePusher
	PushWithin time.Duration // default DefaultPushWithin
	// Consumer runs each record; its API also changes visibility for
	// pacing delays when Visibilities is nil.
	Consumer           queue.Consumer
	Visibilities       Visibilities
	CoreEventsQueueURL string
	// CampaignsTable is where a campaign's failed jobs are counted
	// (package tally); empty: not counted.
	CampaignsTable    string
	DefaultThroughput int // messages/s of numbers without their own setting
	MaxInlineWait     time.Duration
	GiveUpAfter       int
	SendBudget        time.Duration // default DefaultSendBudget
	SendWithin        time.Duration // default DefaultSendWithin
	// Outages records rejected tokens across instances (nil: each
	// instance tells the core itself). See token.go.
	Outages      Outages
	TokenHoldMax time.Duration // default DefaultTokenHoldMax
	TokenRecheck time.Duration // default DefaultTokenRecheck
	Metrics      *metrics.Recorder
	Log          *slog.Logger
	Now          func() time.Time

	rejectedTokens sync.Map // secret id → rejectedToken
	claims         claimTimes
	tierReads      tierReads
}

// Handle processes one batch. The consumer runs records of different
// message groups (recipients) in parallel, a group's records in order, a
// failure holding the rest of its group back. The batch's results are
// published together at the end (see outbox).
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	c := h.Consumer
	if c.Log == nil {
		c.Log = h.log()
	}
	// A cold instance reads the core's credentials while the batch is
	// paced and sent, not after (a no-op once they are cached).
	go core.Warm(ctx, h.Core)
	var delays sync.Map    // message id → delay asked by pacing
	var deferrals sync.Map // message id → *deferral
	box := &outbox{}
	early := h.admit(ctx, ev.Records)
	c.Handle = func(ctx context.Context, rec events.SQSMessage) error {
		if d, ok := early[rec.MessageId]; ok {
			deferrals.Store(rec.MessageId, d)
			return d
		}
		err := h.process(withOutbox(ctx, box, rec.MessageId, rec.Attributes["MessageGroupId"]), rec)
		if d, ok := asDeferral(err); ok {
			deferrals.Store(rec.MessageId, d)
		} else if ra, ok := retryAfter(err); ok {
			delays.Store(rec.MessageId, ra)
		}
		return err
	}
	// Records handed back for lack of time keep their short visibility.
	c.OnHandBack = func(rec events.SQSMessage, d time.Duration) { delays.Store(rec.MessageId, d) }
	resp, _ := c.Run(ctx, ev)

	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	if len(box.pending) > 0 {
		h.pushResults(ctx, box)
		crashpoint.Hit("sender.after_results_pushed")
	}
	queued := len(box.pending)
	if ids, err := box.flush(ctx, h.Events, h.CoreEventsQueueURL); err != nil {
		// The jobs' records hold their outcomes: a redelivery finds them
		// and publishes the results again (deduplicated by event id).
		h.log().ErrorContext(ctx, "could not report the batch's results; its jobs will be redelivered", "jobs", len(ids), "error", err.Error())
		for _, id := range ids {
			if !failed[id] {
				failed[id] = true
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
			}
		}
	} else if queued > 0 && h.Metrics != nil {
		h.Metrics.Count(MetricResultsQueued, float64(queued))
	}
	if len(failed) > 0 {
		h.visibilities(ctx, ev.Records, failed, &delays, &deferrals)
	}
	return resp, nil
}

// pushResults pushes the batch's results straight to the core, within
// PushWithin and keeping pushReserve before the invocation's deadline;
// what the core does not take stays in box for the core events queue.
func (h *Handler) pushResults(ctx context.Context, box *outbox) {
	if h.Core == nil {
		return
	}
	within := h.pushWithin(ctx)
	if within <= 0 {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	n, err := box.push(pctx, h.Core)
	if n > 0 && h.Metrics != nil {
		h.Metrics.Count(MetricResultsPushed, float64(n))
	}
	if err != nil {
		h.log().WarnContext(ctx, "the core did not take every result of the batch; the rest go on the core events queue, and the next batches' too for a while",
			"pushed", n, "left", len(box.pending), "error", err.Error())
	}
}

// pushWithin is how long results may be pushed straight to the core from
// now: PushWithin, leaving pushReserve before ctx's deadline; 0 while the
// core's breaker is open (CoreBreaker).
func (h *Handler) pushWithin(ctx context.Context) time.Duration {
	if b, ok := h.Core.(interface{ Open() bool }); ok && b.Open() {
		return 0
	}
	within := h.PushWithin
	if within <= 0 {
		within = DefaultPushWithin
	}
	if dl, ok := ctx.Deadline(); ok {
		within = min(within, time.Until(dl)-pushReserve)
	}
	return within
}

// throughput is the messages per second a number may send.
func (h *Handler) throughput(num tenant.Number) int {
	if h.DefaultThroughput > 0 {
		return num.LimitOr(h.DefaultThroughput)
	}
	return num.Limit()
}

// retryAfterError asks for a specific visibility delay.
type retryAfterError struct {
	after time.Duration
	err   error
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

func retryAfter(err error) (time.Duration, bool) {
	var ra *retryAfterError
	if errors.As(err, &ra) {
		return ra.after, true
	}
	if we, ok := throttle.AsWait(err); ok {
		return we.Wait, true
	}
	return 0, false
}

func receiveCount(rec events.SQSMessage) int {
	n, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	return n
}

// attempt is one job being handled.
type attempt struct {
	job      outbound.Job
	tenant   tenant.Tenant
	limit    int
	attempts int
	to       string    // the recipient as WhatsApp knows it (identity)
	mapped   bool      // to came from a recorded mapping
	ref      JobRef    // the job's record
	claim    string    // set once claimed, just before the request
	paired   bool      // the recipient's pair limit is booked for this attempt
	waited   bool      // the claim waited for the recipient's pair limit
	queuedAt time.Time // when SQS got the job (zero if unknown)
	waba     string    // the number's WhatsApp Business Account
	creds    tenant.Credentials
	log      *slog.Logger
}

func (h *Handler) process(ctx context.Context, rec events.SQSMessage) error {
	attempts := receiveCount(rec)
	job, err := outbound.Decode([]byte(rec.Body))
	if err == nil {
		err = outbound.Validate(job)
	}
	if err != nil {
		id, tid, pnid, to, ref := outbound.Peek([]byte(rec.Body))
		job = outbound.Job{JobID: id, TenantID: tid, PhoneNumberID: pnid, To: to, ClientRef: ref, Type: job.Type}
		if outbound.IsBSUID(to) {
			job.To, job.Recipient = "", to
		}
		return h.reject(ctx, job, attempts, event.ReasonInvalidJob, err)
	}
	log := h.log().With("job_id", job.JobID, "tenant_id", job.TenantID, "type", job.Type)

	t, err := h.Tenants.Tenant(ctx, job.TenantID)
	if errors.Is(err, tenant.ErrNotFound) {
		return h.reject(ctx, job, attempts, event.ReasonTenantUnavailable, fault.Invalidf("tenant %s is not registered (never onboarded, or offboarded)", job.TenantID))
	}
	if err != nil {
		return fmt.Errorf("send job %s: %w", job.JobID, err)
	}
	if job.PhoneNumberID == "" {
		if len(t.PhoneNumbers) != 1 {
			return h.reject(ctx, job, attempts, event.ReasonInvalidJob,
				fault.Invalidf("phone_number_id is required: tenant %s has %d numbers", job.TenantID, len(t.PhoneNumbers)))
		}
		job.PhoneNumberID = t.PhoneNumbers[0]
	}
	log = log.With("phone_number_id", job.PhoneNumberID)
	num, err := h.Tenants.Number(ctx, job.PhoneNumberID)
	switch {
	case errors.Is(err, tenant.ErrNotFound):
		return h.reject(ctx, job, attempts, event.ReasonTenantMismatch, fault.Invalidf("phone number %s is not registered (never onboarded, or removed from its tenant)", job.PhoneNumberID))
	case err != nil:
		return fmt.Errorf("send job %s: %w", job.JobID, err)
	case num.TenantID != job.TenantID:
		// Never use either tenant's token for this job.
		log.WarnContext(ctx, "job names a phone number of another tenant")
		return h.reject(ctx, job, attempts, event.ReasonTenantMismatch,
			fault.Invalidf("phone number %s does not belong to tenant %s", job.PhoneNumberID, job.TenantID))
	}
	limit := h.throughput(num)

	// The recipient as WhatsApp knows it, for the window, the pair limit
	// and the reports (read receipts and typing indicators need none).
	to, mapped := job.RecipientID(), false
	if job.IsMessage() && h.Identities != nil {
		if to, mapped, err = h.Identities.Resolve(ctx, job.TenantID, job.PhoneNumberID, to); err != nil {
			return fmt.Errorf("send job %s: %w", job.JobID, err)
		}
	}
	a := &attempt{job: job, tenant: t, limit: limit, attempts: attempts, to: to, mapped: mapped,
		ref: JobRef{TenantID: job.TenantID, JobID: job.JobID}, queuedAt: sentAt(rec), waba: num.WABAID, log: log}
	return h.send(ctx, a)
}

// record is the job's record as a claim or an unclaimed failure writes it.
func (a *attempt) record() JobRecord {
	job := a.job
	return JobRecord{
		JobID: job.JobID, TenantID: job.TenantID, PhoneNumberID: job.PhoneNumberID, To: a.to,
		Type: job.Type, ClientRef: job.ClientRef, CampaignID: job.CampaignID, Attempts: a.attempts,
	}
}

// claim takes the job just before its request is written, so that a claim
// a crash left behind means the request may have reached Meta (see the
// package comment). A message books its recipient's pair limit in the
// claim's own transaction: one call instead of two. If that booking is
// refused, the job waits for its recipient through Take (unclaimed, so a
// crash while it waits loses nothing) and claims alone. It returns the
// job's record instead when it already has one, or the pacing's outcome.
func (h *Handler) claim(ctx context.Context, a *attempt) (existing *JobRecord, err error) {
	job := a.job
	jr := a.record()
	if !job.IsMessage() || a.paired {
		// A job claiming again for a new slot booked its recipient with
		// its first claim.
		a.claim, existing, err = h.Jobs.Claim(ctx, jr)
		return existing, err
	}
	b, err := h.Pairs.Book(job.PhoneNumberID, a.to)
	if err != nil {
		return nil, err
	}
	claim, existing, refused, err := h.Jobs.ClaimWith(ctx, jr, b.Write)
	switch {
	case err != nil || existing != nil:
		return existing, err
	case !refused:
		h.Pairs.Booked(b)
		a.claim, a.paired = claim, true
		return nil, nil
	}
	h.Pairs.Refused(b)
	a.waited = true
	if err := h.pace(ctx, a, func() error { return h.Pairs.Take(ctx, job.PhoneNumberID, a.to) }); err != nil {
		return nil, err
	}
	a.paired = true
	a.claim, existing, err = h.Jobs.Claim(ctx, jr)
	return existing, err
}

// send carries a job to Meta: its checks and its number's pacing first,
// unclaimed (a failure is recorded in one write, a retry leaves nothing
// behind), then the claim and at once the request. Every path out after
// the claim either sends, records a failure, or releases the claim.
func (h *Handler) send(ctx context.Context, a *attempt) error {
	job := a.job
	if t := a.tenant; t.Status == tenant.StatusDisabled {
		return h.fail(ctx, a, Failure{Reason: event.ReasonTenantUnavailable, Details: "tenant is disabled", Retryable: true})
	}
	if f, err := h.checkSuppressed(ctx, a); err != nil {
		return h.release(ctx, a, err)
	} else if f != nil {
		return h.fail(ctx, a, *f)
	}
	if f := h.checkTemplate(ctx, a); f != nil {
		return h.fail(ctx, a, *f)
	}
	if job.NeedsWindow() {
		open, err := h.windowOpen(ctx, a)
		if err != nil {
			return h.release(ctx, a, err)
		}
		if !open {
			return h.fail(ctx, a, Failure{Reason: event.ReasonWindowClosed,
				Details: "free-form message outside the 24-hour customer service window; send a template"})
		}
	}
	creds, err := h.Secrets.Credentials(ctx, a.tenant.SecretID)
	a.creds = creds
	var rejected bool
	if err == nil {
		// Meta rejected this token: hold the job, do not call again.
		rejected, err = h.tokenRejected(ctx, a)
		creds = a.creds
	}
	if err != nil {
		if fault.ClassOf(err) == fault.Retry {
			return h.release(ctx, a, err)
		}
		a.log.ErrorContext(ctx, "tenant credentials unreadable", "error", err.Error())
		return h.fail(ctx, a, Failure{Reason: event.ReasonTenantUnavailable, Details: "tenant credentials cannot be read", Retryable: true})
	}
	if rejected {
		return h.hold(ctx, a, nil)
	}
	for _, ref := range job.MediaRefs() {
		if !ref.Media.IsS3() {
			continue
		}
		if h.Media == nil {
			return h.fail(ctx, a, Failure{Reason: event.ReasonMediaUnavailable, Details: "s3:// media is not enabled"})
		}
		id, link, err := h.Media.Resolve(ctx, job.TenantID, job.PhoneNumberID, creds.AccessToken, ref.Kind, ref.Media.Link)
		if err != nil {
			if fault.ClassOf(err) == fault.Retry {
				return h.release(ctx, a, err)
			}
			return h.fail(ctx, a, Failure{Reason: event.ReasonMediaUnavailable, Details: err.Error()})
		}
		ref.Resolved(id, link)
	}
	body, err := outbound.Build(job)
	if err != nil {
		return h.fail(ctx, a, Failure{Reason: event.ReasonInvalidJob, Details: err.Error()})
	}
	if f, err := h.messagingLimit(ctx, a); err != nil {
		return h.release(ctx, a, err)
	} else if f != nil {
		return h.fail(ctx, a, *f)
	}

	crashpoint.Hit("sender.before_pace")
	existing, err := h.paceAndClaim(ctx, a)
	if err != nil {
		return err
	}
	if existing != nil {
		a.ref = existing.Ref()
		return h.replay(ctx, a, existing)
	}

	res, err := h.Graph.SendMessage(crashAfterRequest(ctx), creds.AccessToken, job.PhoneNumberID, body)
	if err != nil {
		return h.graphFailed(ctx, a, err)
	}
	crashpoint.Hit("sender.after_answer")
	if waID := res.RecipientWaID(); waID != "" && job.IsMessage() && job.To != "" && h.Identities != nil {
		// Meta resolved the number: later jobs to it use that identity.
		if err := h.Identities.Learn(ctx, job.TenantID, job.PhoneNumberID, job.RecipientID(), waID); err != nil {
			a.log.WarnContext(ctx, "could not record the recipient's identity", "error", err.Error())
		}
	}
	return h.accepted(ctx, a, res.WAMID(), res.RecipientWaID())
}

// windowOpen reports whether the recipient's 24-hour window is open. The
// window is written under the wa_id of the user who wrote in; without a
// mapping yet (no send answered for this number, or it was learnt by
// another instance moments ago), a Brazilian or Mexican number may be
// written there in its other form (identity.Variants): the first open
// one found becomes the attempt's identity.
func (h *Handler) windowOpen(ctx context.Context, a *attempt) (bool, error) {
	open, err := h.Windows.IsOpen(ctx, a.job.PhoneNumberID, a.to)
	if err != nil || open || a.mapped || a.job.To == "" {
		return open, err
	}
	for _, v := range identity.Variants(a.to) {
		open, err := h.Windows.IsOpen(ctx, a.job.PhoneNumberID, v)
		if err != nil {
			return false, err
		}
		if open {
			a.log.InfoContext(ctx, "window found under the number's other form", "form", "variant")
			a.to = v
			return true, nil
		}
	}
	return false, nil
}

// pace runs a limiter step, sleeping short waits and turning long ones
// into a delayed retry (or, past the receive budget, a failure).
func (h *Handler) pace(ctx context.Context, a *attempt, step func() error) error {
	for {
		err := step()
		we, waiting := throttle.AsWait(err)
		switch {
		case err == nil:
			return nil
		case !waiting:
			return h.release(ctx, a, err)
		case we.Wait <= h.maxInlineWait() && h.hasTime(ctx, we.Wait):
			crashpoint.Hit("sender.while_waiting")
			if err := throttle.SleepContext(ctx, we.Wait); err != nil {
				return h.release(ctx, a, err)
			}
		case a.attempts >= h.giveUpAfter():
			return h.fail(ctx, a, Failure{Reason: event.ReasonRetriesExhausted, Retryable: true,
				Details: fmt.Sprintf("still throttled (%s) after %d receives", we.What, a.attempts)})
		default:
			return h.release(ctx, a, fault.Retryable(fmt.Errorf("send job %s: %w", a.job.JobID, err)))
		}
	}
}

// crashAfterRequest arms the crash point that ends the process once the
// Graph request is written, before Meta's answer is read.
func crashAfterRequest(ctx context.Context) context.Context {
	if !crashpoint.Armed("sender.after_request") {
		return ctx
	}
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { crashpoint.Hit("sender.after_request") },
	})
}

// hasTime reports whether, after waiting wait, the invocation still has
// the time to claim and send a job before its deadline.
func (h *Handler) hasTime(ctx context.Context, wait time.Duration) bool {
	dl, ok := ctx.Deadline()
	if !ok {
		return true
	}
	budget := h.SendBudget
	if budget <= 0 {
		budget = DefaultSendBudget
	}
	return dl.Sub(h.now()) >= wait+budget
}

// timeToSend hands the job back, unclaimed, when the invocation no longer
// has the time to send it and record the outcome.
func (h *Handler) timeToSend(ctx context.Context, a *attempt) error {
	if h.hasTime(ctx, 0) {
		return nil
	}
	a.log.InfoContext(ctx, "job handed back unclaimed: the invocation's deadline is near")
	return &retryAfterError{after: queue.HandBackVisibility,
		err: fault.Retryable(fmt.Errorf("send job %s: handed back: the invocation's deadline is near", a.job.JobID))}
}

// paceNumber waits for the job's slot on its number, within its lane's
// horizon, until lead before it, and returns how long remains until the
// slot; with no slot there it defers the job, unclaimed (deferral.go). A
// Final job (at the end of its receive budget) is never deferred: it may
// wait inline up to MaxInlineWait, else it fails as retries exhausted.
func (h *Handler) paceNumber(ctx context.Context, a *attempt, lead time.Duration) (time.Duration, error) {
	lane := h.lane(a.job, a.attempts)
	var remain time.Duration
	wait := func() (err error) {
		remain, err = h.Numbers.WaitLead(ctx, a.job.PhoneNumberID, a.limit, lane, lead)
		return err
	}
	if lane == throttle.Final {
		return remain, h.pace(ctx, a, wait)
	}
	err := wait()
	if _, ok := throttle.AsWait(err); ok {
		return 0, h.release(ctx, a, &deferral{number: a.job.PhoneNumberID, limit: a.limit, lane: lane, err: err})
	}
	if err != nil {
		return 0, h.release(ctx, a, err)
	}
	return remain, nil
}

func (h *Handler) graphFailed(ctx context.Context, a *attempt, err error) error {
	job := a.job
	ge, isGraph := graph.AsError(err)
	if isGraph && ge.MayHaveActed() {
		// Sending again could deliver it twice.
		a.log.ErrorContext(ctx, "Meta may have accepted the message but gave no usable answer", "error", err.Error())
		return h.fail(ctx, a, Failure{Reason: event.ReasonOutcomeUnknown,
			Details: "the request reached Meta but no usable answer came back; it is not sent again under this job id"})
	}
	if !isGraph {
		if fault.ClassOf(err) == fault.Retry {
			return h.release(ctx, a, err)
		}
		return h.fail(ctx, a, Failure{Reason: event.ReasonInvalidJob, Details: err.Error()})
	}
	f := Failure{Reason: event.ReasonGraphError, Code: ge.Code, Title: ge.Message, Details: ge.Details()}
	if ge.Title != "" {
		f.Title = ge.Title
	}
	switch ge.Code {
	case graph.CodeInvalidToken:
		return h.tokenInvalid(ctx, a, ge)
	case graph.CodeThroughput:
		if err := h.Numbers.Throttled(ctx, job.PhoneNumberID); err != nil {
			a.log.WarnContext(ctx, "could not slow the number down", "error", err.Error())
		}
		h.count(MetricThrottled, "Code", strconv.Itoa(ge.Code))
	case graph.CodePairRateLimit:
		if err := h.Pairs.Throttled(ctx, job.PhoneNumberID, a.to); err != nil {
			a.log.WarnContext(ctx, "could not slow the pair down", "error", err.Error())
		}
		h.count(MetricThrottled, "Code", strconv.Itoa(ge.Code))
	case graph.CodeWindowClosed:
		if err := h.Windows.Close(ctx, job.PhoneNumberID, a.to, h.now()); err != nil {
			a.log.WarnContext(ctx, "could not record the closed window", "error", err.Error())
		}
	case graph.CodeMarketingLimit, graph.CodeSpamRateLimit:
		h.limitedByMeta(ctx, a, ge, &f)
	}
	if fault.ClassOf(err) != fault.Retry {
		return h.fail(ctx, a, f)
	}
	if a.attempts >= h.giveUpAfter() {
		f.Reason, f.Retryable = event.ReasonRetriesExhausted, true
		return h.fail(ctx, a, f)
	}
	return h.release(ctx, a, fmt.Errorf("send job %s: %w", job.JobID, err))
}

// accepted records and reports a send Meta accepted. waID is the recipient
// as Meta resolved it: status webhooks name the recipient that way, so the
// message record and the result event use it to share the statuses' FIFO
// group; it falls back to the job's number.
func (h *Handler) accepted(ctx context.Context, a *attempt, wamid, waID string) error {
	job := a.job
	log := a.log.With("wamid", wamid)
	if waID == "" {
		waID = a.to
	}
	rec := &JobRecord{JobID: job.JobID, TenantID: job.TenantID, PhoneNumberID: job.PhoneNumberID, To: waID,
		Type: job.Type, ClientRef: job.ClientRef, CampaignID: job.CampaignID, State: StateSent, WAMID: wamid, Attempts: a.attempts,
		FinishedAt: h.now().UnixMilli()}
	if h.recordSent(ctx, a, rec) {
		crashpoint.Hit("sender.after_record")
		if err := h.publishResult(ctx, rec); err != nil {
			return err
		}
	} else {
		if err := h.Jobs.MarkSent(ctx, a.ref, a.claim, wamid, a.attempts); err != nil {
			// Meta has the message: go on and report it. A redelivery would
			// find the claim and never send it again.
			log.ErrorContext(ctx, "could not record the send; the result is reported anyway", "error", err.Error())
		}
		crashpoint.Hit("sender.after_record")
		if err := h.publishAccepted(ctx, rec); err != nil {
			return err
		}
	}
	log.InfoContext(ctx, "message accepted by Meta", "attempts", a.attempts)
	h.count(MetricAccepted)
	return nil
}

// recordSent marks the job sent and writes its message record in one
// transaction. It reports false when that did not happen (nothing was
// written), and the caller makes the two writes apart, which tell each
// failure apart as before: a lost claim, a wamid recorded for another job.
func (h *Handler) recordSent(ctx context.Context, a *attempt, r *JobRecord) bool {
	if r.WAMID == "" {
		return false // read receipts and typing indicators have no message record
	}
	items, err := h.Deliveries.AcceptedWrites(deliveryRecord(ctx, r))
	if err == nil {
		err = h.Jobs.MarkSentWith(ctx, a.ref, a.claim, r.WAMID, a.attempts, items)
	}
	if err != nil {
		a.log.WarnContext(ctx, "could not record the send in one transaction; recording it in two writes", "wamid", r.WAMID, "error", err.Error())
		return false
	}
	return true
}

func deliveryRecord(ctx context.Context, r *JobRecord) delivery.Record {
	return delivery.Record{
		WAMID: r.WAMID, TenantID: r.TenantID, PhoneNumberID: r.PhoneNumberID, JobID: r.JobID,
		ClientRef: r.ClientRef, CampaignID: r.CampaignID, To: r.To, Type: r.Type, AcceptedAt: time.UnixMilli(r.FinishedAt),
		TraceHeader: tracing.FromContext(ctx),
	}
}

// publishAccepted records the wamid for status matching and reports the
// acceptance. Both are idempotent, so a replay repeats them.
func (h *Handler) publishAccepted(ctx context.Context, r *JobRecord) error {
	if r.WAMID != "" {
		err := h.Deliveries.RecordAccepted(ctx, deliveryRecord(ctx, r))
		if err != nil && fault.ClassOf(err) == fault.Retry {
			return fmt.Errorf("send job %s: %w", r.JobID, err)
		}
		if err != nil {
			h.log().ErrorContext(ctx, "message record refused", "job_id", r.JobID, "wamid", r.WAMID, "error", err.Error())
		}
	}
	return h.publishResult(ctx, r)
}

// publishResult reports an accepted job to the core.
func (h *Handler) publishResult(ctx context.Context, r *JobRecord) error {
	return h.publish(ctx, r, event.TypeOutboundAccepted, &event.OutboundResult{
		JobID: r.JobID, ClientRef: r.ClientRef, MessageType: r.Type, MessageID: r.WAMID, CampaignID: r.CampaignID, Attempts: r.Attempts,
	})
}

// fail records and reports a failure under the attempt's claim. The job is
// done: it is not retried and does not go to the dead-letter queue.
func (h *Handler) fail(ctx context.Context, a *attempt, f Failure) error {
	job := a.job
	if a.claim == "" {
		// Failed before any request: recorded in one write, unless the job
		// has a record already (a redelivery): that one decides.
		existing, err := h.Jobs.Fail(ctx, a.record(), f, h.countFailed(a, f)...)
		if err != nil {
			return err
		}
		if existing != nil {
			a.ref = existing.Ref()
			return h.replay(ctx, a, existing)
		}
	} else if err := h.Jobs.MarkFailed(ctx, a.ref, a.claim, f, a.attempts, h.countFailed(a, f)...); err != nil {
		if f.Reason == event.ReasonOutcomeUnknown {
			// Meta may have the message: keep the claim, so no retry sends
			// it again; once its lease runs out a redelivery settles it.
			return fault.Retryable(fmt.Errorf("send job %s: %w", job.JobID, err))
		}
		// Nothing was sent: drop the claim so the retry starts over.
		return h.release(ctx, a, err)
	}
	rec := &JobRecord{JobID: job.JobID, TenantID: job.TenantID, PhoneNumberID: job.PhoneNumberID, To: a.to,
		Type: job.Type, ClientRef: job.ClientRef, CampaignID: job.CampaignID, State: StateFailed, Reason: f.Reason, Code: f.Code, Title: f.Title,
		Details: f.Details, Retryable: f.Retryable, Attempts: a.attempts, FinishedAt: h.now().UnixMilli()}
	if err := h.publishFailed(ctx, rec); err != nil {
		return err
	}
	a.log.WarnContext(ctx, "outbound job failed", "reason", f.Reason, "code", f.Code, "retryable", f.Retryable)
	return nil
}

// countFailed is the write that counts a failed job in its campaign,
// made in the transaction that records the failure (once per job): by
// Meta's error code when Meta refused it, else by the reason.
func (h *Handler) countFailed(a *attempt, f Failure) []ddbtypes.TransactWriteItem {
	job := a.job
	if job.CampaignID == "" || h.CampaignsTable == "" {
		return nil
	}
	reason := f.Reason
	if f.Reason == event.ReasonGraphError && f.Code != 0 {
		reason = strconv.Itoa(f.Code)
	}
	w, err := tally.Write(h.CampaignsTable, job.TenantID, job.CampaignID, job.JobID,
		tally.Delta{States: []string{tally.Failed}, FailedReason: reason})
	if err != nil {
		a.log.ErrorContext(context.Background(), "campaign count not built", "campaign_id", job.CampaignID, "error", err.Error())
		return nil
	}
	return []ddbtypes.TransactWriteItem{w}
}

func (h *Handler) publishFailed(ctx context.Context, r *JobRecord) error {
	retryable := r.Retryable
	err := h.publish(ctx, r, event.TypeOutboundFailed, &event.OutboundResult{
		JobID: r.JobID, ClientRef: r.ClientRef, CampaignID: r.CampaignID, Reason: r.Reason, Code: r.Code, Title: r.Title,
		Details: r.Details, Retryable: &retryable, Attempts: r.Attempts,
	})
	if err == nil {
		h.count(MetricFailed, "Reason", r.Reason)
	}
	return err
}

// release gives the claim back (nothing reached Meta) and returns cause,
// so the consumer retries the job.
func (h *Handler) release(ctx context.Context, a *attempt, cause error) error {
	if a.claim != "" {
		if err := h.Jobs.Release(ctx, a.ref, a.claim); err != nil {
			a.log.ErrorContext(ctx, "could not release the job's claim", "error", err.Error())
		}
		a.claim = ""
	}
	if _, deferred := asDeferral(cause); !deferred && fault.ClassOf(cause) == fault.Retry {
		h.count(MetricRetried)
	}
	return cause
}

// replay handles a job that already has a record: it publishes the known
// result again, waits for a send in progress, or settles a crashed one.
func (h *Handler) replay(ctx context.Context, a *attempt, r *JobRecord) error {
	switch r.State {
	case StateSent:
		return h.publishAccepted(ctx, r)
	case StateFailed:
		return h.publishFailed(ctx, r)
	}
	if wait := time.UnixMilli(r.LeaseUntil).Sub(h.now()); wait > 0 {
		return &retryAfterError{after: wait, err: fault.Retryable(fmt.Errorf("send job %s: another attempt holds it for %s", r.JobID, wait.Round(time.Second)))}
	}
	claim, err := h.Jobs.TakeOver(ctx, r)
	if err != nil {
		return err
	}
	a.claim = claim
	m, err := h.Deliveries.ByJob(ctx, r.TenantID, r.JobID)
	if err == nil && m.TenantID == r.TenantID && m.WAMID != "" {
		a.log.InfoContext(ctx, "send of a crashed attempt was accepted by Meta", "wamid", m.WAMID)
		return h.accepted(ctx, a, m.WAMID, m.To)
	}
	if err != nil && !errors.Is(err, delivery.ErrNotFound) {
		return err // retried; the takeover lease expires first
	}
	a.log.ErrorContext(ctx, "an attempt crashed after claiming the job; its outcome at Meta is unknown")
	return h.fail(ctx, a, Failure{Reason: event.ReasonOutcomeUnknown,
		Details: "a previous attempt stopped after claiming the job; Meta may or may not have accepted it, so it is not sent again under this job id"})
}

// reject reports a job that can never be sent and returns an Invalid error,
// so the consumer moves it to the dead-letter queue with the reason.
func (h *Handler) reject(ctx context.Context, job outbound.Job, attempts int, reason string, cause error) error {
	if fault.ClassOf(cause) != fault.Invalid {
		cause = fault.InvalidErr(cause)
	}
	if job.JobID == "" || job.TenantID == "" {
		h.log().ErrorContext(ctx, "outbound job without job or tenant id dead-lettered", "error", cause.Error())
		return cause
	}
	pnid := job.PhoneNumberID
	if pnid == "" {
		pnid = "unknown"
	}
	retryable := false
	r := &JobRecord{JobID: job.JobID, TenantID: job.TenantID, PhoneNumberID: pnid, To: job.RecipientID(),
		ClientRef: job.ClientRef, Reason: reason, Details: cause.Error(), Attempts: attempts, FinishedAt: h.now().UnixMilli()}
	msg, err := h.eventMessage(r, event.TypeOutboundFailed, &event.OutboundResult{
		JobID: job.JobID, ClientRef: job.ClientRef, CampaignID: job.CampaignID, Reason: reason, Details: detailOf(cause), Retryable: &retryable, Attempts: attempts,
	})
	if err != nil {
		return err
	}
	// At once: the record goes to the dead-letter queue as soon as this
	// returns, and there is no job record to publish it again from. The
	// same contact's results still waiting for the batch's end go first,
	// so the core sees them in the order the jobs ran.
	if err := publishNow(ctx, h.Core, h.pushWithin(ctx), h.Events, h.CoreEventsQueueURL, msg); err != nil {
		return fault.Retryable(fmt.Errorf("report %s of job %s: %w", event.TypeOutboundFailed, r.JobID, err))
	}
	h.count(MetricFailed, "Reason", reason)
	return cause
}

// detailOf strips the class prefix fault adds, for the core's eyes.
func detailOf(err error) string {
	var fe *fault.Error
	if errors.As(err, &fe) {
		return fe.Err.Error()
	}
	return err.Error()
}

// publish reports a result: in the batch's outbox when there is one,
// else at once (pushed to the core, or on the core events queue).
func (h *Handler) publish(ctx context.Context, r *JobRecord, typ string, res *event.OutboundResult) error {
	msg, err := h.eventMessage(r, typ, res)
	if err != nil {
		return err
	}
	if deferred(ctx, msg) {
		return nil
	}
	if err := publishNow(ctx, h.Core, h.pushWithin(ctx), h.Events, h.CoreEventsQueueURL, msg); err != nil {
		return fault.Retryable(fmt.Errorf("report %s of job %s: %w", typ, r.JobID, err))
	}
	return nil
}

// eventMessage is the core event reporting a job's result.
func (h *Handler) eventMessage(r *JobRecord, typ string, res *event.OutboundResult) (queue.Message, error) {
	at := time.UnixMilli(r.FinishedAt)
	if r.FinishedAt == 0 {
		at = h.now()
	}
	ev := event.Event{
		SchemaVersion: event.SchemaVersion,
		EventID:       event.OutboundEventID(typ, r.TenantID, r.JobID),
		Type:          typ,
		TenantID:      r.TenantID,
		PhoneNumberID: r.PhoneNumberID,
		OccurredAt:    at.UTC().Format(time.RFC3339),
		Outbound:      res,
	}
	if r.To != "" {
		// A contact known only by its business-scoped user id is named
		// by it, as inbound events name it.
		ev.Contact = &event.Contact{WaID: r.To}
		if outbound.IsBSUID(r.To) {
			ev.Contact = &event.Contact{UserID: r.To}
		}
	}
	msg, err := queue.EventMessage(ev)
	if err != nil {
		return queue.Message{}, fault.PermanentErr(err)
	}
	return msg, nil
}

func (h *Handler) count(name string, dims ...string) {
	if h.Metrics != nil {
		h.Metrics.Count(name, 1, dims...)
	}
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) maxInlineWait() time.Duration {
	if h.MaxInlineWait > 0 {
		return h.MaxInlineWait
	}
	return DefaultMaxInlineWait
}

func (h *Handler) giveUpAfter() int {
	if h.GiveUpAfter > 0 {
		return h.GiveUpAfter
	}
	return DefaultGiveUpAfter
}

// sentAt is when SQS received the record's message.
func sentAt(rec events.SQSMessage) time.Time {
	ms, err := strconv.ParseInt(rec.Attributes["SentTimestamp"], 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
