package campaign

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/campaign/tally"
	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/msglimit"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/throttle"
)

// Records is the campaigns table as the runner uses it (Store).
type Records interface {
	record(ctx context.Context, tenantID, id string) (record, error)
	Transition(ctx context.Context, tenantID, id, to, reason string, from ...string) (Campaign, error)
	Lease(ctx context.Context, tenantID, id, owner string, nowMs, untilMs int64) (record, error)
	Commit(ctx context.Context, tenantID, id, owner string, from int64, p Progress, delta Counts, untilMs int64) (record, error)
	Hold(ctx context.Context, tenantID, id, owner string, from int64, untilMs int64) error
	Release(ctx context.Context, tenantID, id, owner string) error
	MarkStarted(ctx context.Context, tenantID, id, stateAt string) error
	MarkReported(ctx context.Context, tenantID, id, stateAt string) error
	Totals(ctx context.Context, tenantID, id string) (tally.Totals, error)
}

// Objects reads the audience and writes the invalid-rows report
// (*s3.Client). Errors are retryable, NoSuchKey permanent.
type Objects interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Publisher stores jobs on the outbound queue (queue.Publisher). An
// error means not every job was stored; publishing again is safe (the
// job id is the deduplication id and the sender's job record).
type Publisher interface {
	Publish(ctx context.Context, queueURL string, msgs ...queue.Message) error
}

// Waker sends the campaign's next run command (Control).
type Waker interface {
	Run(ctx context.Context, tenantID, id string, delay time.Duration) error
}

// Numbers reads the campaign's number (tenant.Registry): its WABA (the
// messaging-limit portfolio) and throughput. Errors wrap
// tenant.ErrNotFound for an unknown number; others are retryable.
type Numbers interface {
	Number(ctx context.Context, phoneNumberID string) (tenant.Number, error)
}

// Templates reads the campaign's template from the catalog
// (catalog.Store); the error wraps catalog.ErrNotFound when it is gone.
type Templates interface {
	Get(ctx context.Context, tenantID string, k catalog.Key) (catalog.Template, error)
}

// Recipients claims each recipient for the first row naming it (Claims).
type Recipients interface {
	Claim(ctx context.Context, tenantID, campaignID, recipient string, row int64) (bool, error)
}

// Suppressions is the tenant's opt-out list (suppression.Store).
// Errors are retryable.
type Suppressions interface {
	Suppressed(ctx context.Context, tenantID, contact string) (bool, error)
}

// Capacity is the messaging limit of the number's business portfolio
// (msglimit.Store): Reserve counts a recipient of a business-initiated
// message (idempotent for a recipient inside the window) or refuses it
// with when capacity frees; Health says whether the number's quality
// or status pauses campaigns. Errors are retryable.
type Capacity interface {
	Reserve(ctx context.Context, portfolio, recipient string, now time.Time) (msglimit.Decision, error)
	// State is the portfolio's tier and count (cached briefly).
	State(ctx context.Context, portfolio string, now time.Time) (msglimit.State, error)
	Health(ctx context.Context, phoneNumberID string) (msglimit.Health, error)
}

// Runner runs campaigns: the campaign function's handler, one run command
// per SQS record.
type Runner struct {
	Records      Records
	Objects      Objects
	Bucket       string
	Jobs         Publisher
	OutboundURL  string
	Wake         Waker
	Numbers      Numbers
	Templates    Templates
	Recipients   Recipients
	Suppressions Suppressions
	Capacity     Capacity
	Events       *Events
	Log          *slog.Logger
	Now          func() time.Time
	Sleep        func(ctx context.Context, d time.Duration) error

	// Margin is how long before the invocation's deadline the runner
	// commits and hands over to its next run (default DefaultMargin).
	Margin time.Duration
	// Every is how often it commits its checkpoint, reads the state
	// (pause, cancel) and reports progress (default DefaultEvery).
	Every time.Duration
	// ProgressEvery is the least time between two campaign.progress
	// events (default DefaultProgressEvery).
	ProgressEvery time.Duration
	// MaxRun bounds one run when the context has no deadline.
	MaxRun time.Duration
	// LeaseFor is how long a run's lease lasts past its last checkpoint
	// (default DefaultLease); the run keeps its command out of sight a
	// half more (keep.go), so a run killed outright is taken over soon
	// after its lease ends.
	LeaseFor time.Duration
	// Visibility returns a command whose run failed for a retryable
	// reason to the queue after Backoff of its receive count (default
	// DefaultBackoff), instead of after the campaign queue's visibility
	// timeout (90 minutes). Nil leaves it to the timeout.
	Visibility Visibility
	QueueURL   string
	Backoff    queue.Backoff

	// Window is how many rows have their checks (claim, suppression
	// list, messaging limit) in flight at once (default DefaultWindow).
	Window int

	// Ahead, when > 0, bounds how far the run feeds ahead of what the
	// sender gets done: it holds back while its campaign's queued jobs
	// not yet accepted or failed exceed Ahead of the sender's measured
	// rate (at least MinAhead jobs). The number's nominal rate is only
	// an upper bound; a sender slower than it (cold, throttled, or
	// shared) would otherwise build a backlog in the shared outbound
	// queue that other tenants' jobs wait behind. Zero feeds at the
	// nominal rate alone (tests without a sender).
	Ahead time.Duration
	// Waiting, when set, tells how many jobs wait in the outbound queue
	// for a sender to take them (every tenant's): a held run shrinks its
	// allowance while more than a quarter of Ahead of the sender's work
	// waits there (backlog.go). Nil: the campaign's own counts alone.
	Waiting QueueDepth

	// StopAfterRows, when > 0, ends a run after that many rows without
	// a commit, as a crash would (tests).
	StopAfterRows int64
}

// Visibility changes when a command comes back (*sqs.Client). Errors
// leave the queue's visibility timeout.
type Visibility interface {
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// DefaultBackoff is when a command whose run failed for a retryable
// reason comes back: 10 s after its first receive, doubling to 15 min.
var DefaultBackoff = queue.Exponential(10*time.Second, 15*time.Minute)

// Defaults of Runner.
const (
	DefaultMargin = 30 * time.Second
	DefaultEvery  = 2 * time.Second
	DefaultMaxRun = 14 * time.Minute
	// CapacityRetry is how soon a campaign waiting for capacity looks
	// again when the limit says no time.
	CapacityRetry = time.Minute
	// CapacityCheck is the longest a campaign waiting for capacity sleeps
	// before it looks again, so a tier Meta raises (UPGRADE) is used
	// within it rather than when the oldest recipients leave the 24 hours.
	CapacityCheck = 15 * time.Minute
	// DefaultAhead is Runner.Ahead in the campaign function.
	DefaultAhead = time.Second
	// MinAhead is the fewest jobs a held run keeps outstanding, so a
	// sender whose rate is not measured yet gets a start.
	MinAhead = 20
)

// batchSize is the most jobs one SendMessageBatch takes; maxLead is the
// most a run lets pacing run ahead to fill one.
const (
	batchSize = 10
	maxLead   = 100 * time.Millisecond
)

// errCrash ends a run without a commit (StopAfterRows).
var errCrash = errors.New("run stopped without a commit (test crash)")

// Handle runs each command of the batch; a command that failed for a
// retryable reason is returned to the queue (its visibility backs off).
func (r *Runner) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, m := range ev.Records {
		var cmd Command
		if err := json.Unmarshal([]byte(m.Body), &cmd); err != nil || cmd.TenantID == "" || !ValidID(cmd.CampaignID) {
			r.log().ErrorContext(ctx, "unreadable campaign command dropped", "message_id", m.MessageId)
			continue
		}
		cmd.receipt = m.ReceiptHandle
		if err := r.Run(ctx, cmd); err != nil {
			if errors.Is(err, errCrash) {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
				continue
			}
			log := r.log().With("tenant_id", cmd.TenantID, "campaign_id", cmd.CampaignID, "error", err.Error())
			if fault.ClassOf(err) == fault.Retry {
				log.WarnContext(ctx, "campaign run failed; retried")
				r.backOff(ctx, m, log)
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
				continue
			}
			log.ErrorContext(ctx, "campaign run failed")
		}
	}
	return resp, nil
}

// backOff makes m visible again after the backoff of its receive count.
// The invocation may be ending (its context cancelled), so the call runs
// on its own short context.
func (r *Runner) backOff(ctx context.Context, m events.SQSMessage, log *slog.Logger) {
	if r.Visibility == nil || r.QueueURL == "" || m.ReceiptHandle == "" {
		return
	}
	b := r.Backoff
	if b == nil {
		b = DefaultBackoff
	}
	n, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	d := b(max(n, 1))
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := r.Visibility.ChangeMessageVisibility(cctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(r.QueueURL),
		ReceiptHandle: aws.String(m.ReceiptHandle), VisibilityTimeout: int32((d + time.Second - 1) / time.Second)}); err != nil {
		log.WarnContext(ctx, "could not delay the campaign's retry; it comes back after the queue's visibility timeout", "error", err.Error())
	}
}

// run is one run of a campaign.
type run struct {
	*Runner
	c        Campaign
	owner    string
	deadline time.Time
	from     Progress // committed checkpoint
	delta    Counts
	invalid  bytes.Buffer
	report   *csv.Writer
	batch    []queue.Message
	paceNext time.Time
	interval time.Duration
	number   tenant.Number
	tpl      catalog.Template
	// progressAt is when the next campaign.progress may go out.
	progressAt time.Time
	// backlog is what the sender has not got done yet (Runner.Ahead).
	backlog backlog
	// paced is the time spent waiting for the number's pace since the
	// last checkpoint; committedAt is when that was.
	paced       time.Duration
	committedAt time.Time
	// receipt is the run command's receipt handle; keptAt is when the
	// run last kept the command out of sight (keep.go).
	receipt string
	keptAt  time.Time
	// spamBase is how many of the campaign's messages Meta had refused
	// with 131048 when the run started (spamKnown once read); spamAt is
	// when the run looks again (spam.go).
	spamBase  int64
	spamKnown bool
	spamAt    time.Time
}

// Run runs the campaign of cmd until its audience ends, it is paused or
// cancelled, it waits for capacity, or the invocation nears its end (then
// its next run command carries on from the checkpoint).
func (r *Runner) Run(ctx context.Context, cmd Command) error {
	now := r.now()
	rec, err := r.Records.record(ctx, cmd.TenantID, cmd.CampaignID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// A state entered without its event reported (a crash in between,
	// or a pause or cancel through the API) is reported now.
	if err := r.reportState(ctx, rec.Campaign, rec.Started, rec.Reported); err != nil {
		return err
	}
	switch rec.State {
	case StateScheduled:
		if at := startAt(rec.Campaign); at.After(now) {
			return r.Wake.Run(ctx, cmd.TenantID, cmd.CampaignID, at.Sub(now))
		}
		if _, err := r.Records.Transition(ctx, cmd.TenantID, cmd.CampaignID, StateRunning, "", StateScheduled); err != nil && !errors.Is(err, ErrState) {
			return err
		}
	case StateRunning, StateWaitingForCapacity:
	default:
		return nil // paused (resume sends a command), or over
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = now.Add(r.maxRun() + r.margin())
	}
	// Outside Lambda (no request id), a random owner: two runs started
	// at the same instant must not both hold the lease.
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	owner := "run-" + strconv.FormatInt(now.UnixNano(), 36) + "-" + hex.EncodeToString(rnd[:])
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		owner = lc.AwsRequestID
	}
	// The lease lasts LeaseFor past each checkpoint; the run's command
	// comes back after it if the run dies (keep.go).
	lease := now.Add(r.leaseFor()).UnixMilli()
	rec, err = r.Records.Lease(ctx, cmd.TenantID, cmd.CampaignID, owner, now.UnixMilli(), lease)
	if errors.Is(err, ErrLease) {
		r.log().InfoContext(ctx, "campaign held by another run", "tenant_id", cmd.TenantID, "campaign_id", cmd.CampaignID)
		return nil
	}
	if err != nil {
		return err
	}
	ru := &run{Runner: r, c: rec.Campaign, owner: owner, deadline: deadline.Add(-r.margin()), from: rec.Progress, receipt: cmd.receipt}
	if kerr := ru.keep(ctx); kerr != nil {
		err = ru.handOver(ctx, kerr, ru.from.Row)
	} else {
		err = ru.feed(ctx, rec)
	}
	if errors.Is(err, errCrash) {
		return err
	}
	if rerr := r.Records.Release(context.WithoutCancel(ctx), cmd.TenantID, cmd.CampaignID, owner); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

func startAt(c Campaign) time.Time {
	if c.StartAt == nil {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339, *c.StartAt)
	return t
}

// feed streams the rows from the checkpoint into jobs.
func (ru *run) feed(ctx context.Context, rec record) error {
	c := ru.c
	log := ru.log().With("tenant_id", c.TenantID, "campaign_id", c.ID)
	n, err := ru.Numbers.Number(ctx, c.PhoneNumberID)
	if errors.Is(err, tenant.ErrNotFound) || err == nil && n.TenantID != c.TenantID {
		return ru.fail(ctx, "the number is no longer the tenant's")
	}
	if err != nil {
		return err
	}
	ru.number = n
	t, err := ru.Templates.Get(ctx, c.TenantID, catalog.Key{WABAID: n.WABAID, Name: c.Template.Name, Language: c.Template.Language})
	if errors.Is(err, catalog.ErrNotFound) {
		return ru.fail(ctx, "the template is no longer in the tenant's catalog")
	}
	if err != nil {
		return err
	}
	if t.Status != catalog.StatusApproved {
		return ru.pause(ctx, fmt.Sprintf("the template is %s at Meta", t.Status))
	}
	ru.tpl = t
	// A campaign resumed (or woken) while Meta still flags the number
	// pauses again before it sends anything.
	h, err := ru.Capacity.Health(ctx, c.PhoneNumberID)
	if err != nil {
		return err
	}
	if h.Paused() {
		return ru.pause(ctx, healthReason(h))
	}
	// Refusals for Meta's spam rate limit before this run (a resume
	// goes on past them) are not counted against it (spam.go).
	if t, err := ru.Records.Totals(ctx, c.TenantID, c.ID); err == nil {
		ru.spamBase, ru.spamKnown = t.FailedByReason[SpamLimitCode], true
	}
	// The sender's slots on the number are 1/(headroom·L) apart: feeding
	// faster only builds a backlog in its hands, which the back-pressure
	// then holds (a run held at its allowance lost 4–15 % of the rate to
	// the sender's deferrals, where a paced one kept the slots' rate).
	rate := float64(n.Limit()) * throttle.DefaultHeadroom
	if c.RateLimit != nil && float64(*c.RateLimit) < rate {
		rate = float64(*c.RateLimit)
	}
	ru.interval = time.Duration(float64(time.Second) / max(rate, 1))
	if rec.State == StateWaitingForCapacity {
		st, err := ru.Capacity.State(ctx, n.WABAID, ru.now())
		if err != nil {
			return err
		}
		if st.Known() && !st.Unlimited && st.Used >= st.Limit {
			// Still full: look again later, with no state change or event.
			return ru.Wake.Run(ctx, c.TenantID, c.ID, CapacityCheck)
		}
		resumed, err := ru.Records.Transition(ctx, c.TenantID, c.ID, StateRunning, "", StateWaitingForCapacity)
		if err != nil {
			if errors.Is(err, ErrState) {
				return nil
			}
			return err
		}
		if err := ru.reportState(ctx, resumed, rec.Started, ""); err != nil {
			return err
		}
	}
	if !rec.Started && ru.Events != nil {
		// Published, then marked: a crash in between publishes it
		// again under the same event id.
		if err := ru.Events.Publish(ctx, EventStarted, c); err != nil {
			return err
		}
		if err := ru.Records.MarkStarted(ctx, c.TenantID, c.ID, c.StateAt); err != nil {
			return err
		}
	}

	key, format, err := SplitAudience(c.Audience, c.TenantID, ru.Bucket)
	if err != nil {
		return ru.fail(ctx, err.Error())
	}
	in := &s3.GetObjectInput{Bucket: aws.String(ru.Bucket), Key: aws.String(key)}
	if rec.Progress.Offset > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", rec.Progress.Offset))
	}
	obj, err := ru.Objects.GetObject(ctx, in)
	var nsk *s3types.NoSuchKey
	if errors.As(err, &nsk) {
		return ru.fail(ctx, "the audience file is not in S3")
	}
	if err != nil {
		if rec.Progress.Offset > 0 && strings.Contains(err.Error(), "InvalidRange") {
			return ru.complete(ctx, log) // the checkpoint is at the end of the file
		}
		return fault.Retryable(fmt.Errorf("read audience %s: %w", key, err))
	}
	defer obj.Body.Close()
	header := rec.Progress.Header
	if format == FormatCSV && rec.Progress.Row == 0 && rec.Progress.Offset == 0 {
		header = nil
	}
	rows, err := NewRows(obj.Body, format, header, rec.Progress.Offset, rec.Progress.Row+1)
	if err != nil {
		if fault.ClassOf(err) == fault.Retry {
			return err
		}
		return ru.fail(ctx, err.Error())
	}
	ru.from.Header = rows.Header()
	next := ru.from // the checkpoint as far as rows are done
	lastCommit := ru.now()
	ru.paceNext = ru.now()
	var sinceCrash int64
	// Rows are read in order and checked a window at a time; each is
	// taken (paced, queued, counted, checkpointed) in order, so the
	// checkpoint only ever covers rows that are done.
	w := ru.newWindow(ctx)
	defer w.close()
	var readErr error
	for {
		for readErr == nil && !w.full() {
			row, err := rows.Next()
			if err != nil {
				readErr = err
				break
			}
			w.add(row)
		}
		if w.empty() {
			if errors.Is(readErr, io.EOF) {
				if _, err := ru.commit(ctx, next); err != nil {
					return err
				}
				return ru.complete(ctx, log)
			}
			if _, cerr := ru.commit(ctx, next); cerr != nil {
				return cerr
			}
			if fault.ClassOf(readErr) == fault.Retry {
				// The audience's stream broke, not the file: the next
				// run reads on from the checkpoint just committed.
				log.WarnContext(ctx, "audience stream broke; handed over", "row", next.Row, "error", readErr.Error())
				return ru.Wake.Run(ctx, c.TenantID, c.ID, 0)
			}
			return ru.fail(ctx, readErr.Error())
		}
		p := w.next()
		if p.err != nil {
			return p.err
		}
		if p.outcome == rowWait {
			// The portfolio is at its limit: this row waits.
			if _, err := ru.commit(ctx, next); err != nil {
				return err
			}
			return ru.waitForCapacity(ctx, p.freeAt, log)
		}
		// A run held back by a slow sender still commits, sees a pause
		// or cancel and hands over at its deadline, every Every.
		for p.outcome == rowQueue && ru.Ahead > 0 {
			ok, err := ru.hold(ctx, lastCommit.Add(ru.every()))
			if err != nil {
				return err
			}
			if ok {
				break
			}
			lastCommit = ru.now()
			if stop, err := ru.checkpoint(ctx, next, log); stop {
				return err
			}
		}
		if err := ru.take(ctx, p); err != nil {
			return err
		}
		next.Row, next.Offset = p.row.N, p.row.End
		if sinceCrash++; ru.StopAfterRows > 0 && sinceCrash >= ru.StopAfterRows {
			if err := ru.flush(ctx); err != nil {
				return err
			}
			return errCrash
		}
		if ru.now().Sub(lastCommit) >= ru.every() {
			lastCommit = ru.now()
			if stop, err := ru.checkpoint(ctx, next, log); stop {
				return err
			}
		}
	}
}

// checkpoint commits the rows done so far and says whether the run
// stops there (with err, nil for a clean stop): the campaign is no
// longer running, Meta flags the number, or the run nears its deadline
// (its next run command carries on).
func (ru *run) checkpoint(ctx context.Context, next Progress, log *slog.Logger) (bool, error) {
	c := ru.c
	state, err := ru.commit(ctx, next)
	if err != nil {
		return true, err
	}
	if state != StateRunning {
		log.InfoContext(ctx, "campaign stopped", "state", state, "row", next.Row)
		return true, ru.reportState(ctx, ru.c, true, ru.from.Reported)
	}
	if h, err := ru.Capacity.Health(ctx, c.PhoneNumberID); err == nil && h.Paused() {
		return true, ru.pause(ctx, healthReason(h))
	}
	if reason := ru.spamLimited(ctx); reason != "" {
		return true, ru.pause(ctx, reason)
	}
	if err := ru.keep(ctx); err != nil {
		return true, ru.handOver(ctx, err, next.Row)
	}
	if ru.now().After(ru.deadline) {
		log.InfoContext(ctx, "campaign run handed over", "row", next.Row)
		return true, ru.Wake.Run(ctx, c.TenantID, c.ID, 0)
	}
	return false, nil
}

// take counts a checked row and queues its job, at the number's pace.
func (ru *run) take(ctx context.Context, p *pending) error {
	switch p.outcome {
	case rowInvalid:
		ru.delta.Rows++
		ru.delta.Invalid++
		ru.addInvalid(p.row, p.problems)
		return nil
	case rowDuplicate:
		ru.delta.Rows++
		ru.delta.Duplicates++
		return nil
	case rowSuppressed:
		ru.delta.Rows++
		ru.delta.Suppressed++
		return nil
	case rowQueue:
	default:
		return fault.PermanentErr(fmt.Errorf("campaign %s: row %d was not checked", ru.c.ID, p.row.N))
	}
	// Just in time: at the number's pace (or the campaign's cap), so
	// the queue never holds more than a moment of this campaign. It
	// runs up to a batch (at most maxLead) ahead, so jobs leave in
	// batches rather than one call each.
	if d := ru.paceNext.Sub(ru.now()); d > 0 && d >= min(batchSize*ru.interval, maxLead) {
		if err := ru.flush(ctx); err != nil {
			return err
		}
		ru.paced += d
		if err := ru.sleep(ctx, d); err != nil {
			return fault.Retryable(fmt.Errorf("campaign %s: %w", ru.c.ID, err))
		}
	}
	ru.paceNext = maxTime(ru.paceNext, ru.now().Add(-time.Second)).Add(ru.interval)
	ru.batch = append(ru.batch, queue.Message{Body: string(p.body), GroupID: p.job.GroupID(), DedupID: p.job.JobID})
	if len(ru.batch) >= batchSize {
		if err := ru.flush(ctx); err != nil {
			return err
		}
	}
	ru.delta.Rows++
	ru.delta.Queued++
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (ru *run) addInvalid(row Row, problems []string) {
	if ru.report == nil {
		ru.report = csv.NewWriter(&ru.invalid)
		_ = ru.report.Write([]string{"row", "to", "reason"})
	}
	_ = ru.report.Write([]string{strconv.FormatInt(row.N, 10), row.Columns[ColumnTo], strings.Join(problems, "; ")})
}

func (ru *run) flush(ctx context.Context) error {
	if len(ru.batch) == 0 {
		return nil
	}
	if err := ru.Jobs.Publish(ctx, ru.OutboundURL, ru.batch...); err != nil {
		return fault.Retryable(fmt.Errorf("queue jobs of campaign %s: %w", ru.c.ID, err))
	}
	ru.batch = ru.batch[:0]
	return nil
}

// commit publishes the batch, writes the report part of the rows since
// the last checkpoint, and commits the checkpoint with their counts. It
// returns the campaign's state.
func (ru *run) commit(ctx context.Context, next Progress) (string, error) {
	if err := ru.flush(ctx); err != nil {
		return "", err
	}
	c := ru.c
	until := ru.now().Add(ru.leaseFor()).UnixMilli()
	if ru.report != nil {
		// The part is named by the checkpoint it follows: a run that
		// lost the campaign (stalled past its lease) must not overwrite
		// the part of the run that took over.
		if err := ru.Records.Hold(ctx, c.TenantID, c.ID, ru.owner, ru.from.Row, until); err != nil {
			return "", err
		}
		ru.report.Flush()
		key := ReportPrefix(c.TenantID, c.ID) + fmt.Sprintf("%012d.csv", ru.from.Row+1)
		if _, err := ru.Objects.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(ru.Bucket), Key: aws.String(key),
			Body: bytes.NewReader(ru.invalid.Bytes()), ContentType: aws.String("text/csv")}); err != nil {
			return "", fault.Retryable(fmt.Errorf("write invalid-rows report of campaign %s: %w", c.ID, err))
		}
	}
	next.Header = ru.from.Header
	rec, err := ru.Records.Commit(ctx, c.TenantID, c.ID, ru.owner, ru.from.Row, next, ru.delta, until)
	if err != nil {
		return "", err
	}
	ru.figures(ctx)
	ru.from = rec.Progress
	ru.from.Header = next.Header
	ru.delta = Counts{}
	ru.invalid.Reset()
	ru.report = nil
	ru.c = rec.Campaign
	if ru.Events != nil && rec.State == StateRunning && !ru.now().Before(ru.progressAt) {
		if err := ru.progress(ctx); err != nil {
			return "", err
		}
	}
	return rec.State, nil
}

// figures logs, at debug level, how the run went since its last
// checkpoint: rows taken, the time spent waiting for the number's pace
// and held back by the sender (Runner.Ahead), and the back-pressure's
// view (outstanding jobs, allowance, the sender's measured rate, the
// outbound queue's depth).
func (ru *run) figures(ctx context.Context) {
	now := ru.now()
	if log := ru.log(); log.Enabled(ctx, slog.LevelDebug) && !ru.committedAt.IsZero() {
		b := &ru.backlog
		queued := ru.c.Counts.Queued + ru.delta.Queued
		log.DebugContext(ctx, "campaign checkpoint", "tenant_id", ru.c.TenantID, "campaign_id", ru.c.ID,
			"rows", ru.delta.Rows, "span_ms", now.Sub(ru.committedAt).Milliseconds(),
			"paced_ms", ru.paced.Milliseconds(), "held_ms", b.held.Milliseconds(),
			"outstanding", b.outstanding(now, queued), "allowed", b.allowed(), "sender_rate", int64(b.rate), "outbound_waiting", b.waiting)
	}
	ru.committedAt, ru.paced, ru.backlog.held = now, 0, 0
}

func (ru *run) complete(ctx context.Context, log *slog.Logger) error {
	c, err := ru.Records.Transition(ctx, ru.c.TenantID, ru.c.ID, StateCompleted, "", StateRunning)
	if errors.Is(err, ErrState) {
		return nil // paused or cancelled at the last moment: resume completes it
	}
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "campaign completed", "rows", c.Counts.Rows, "queued", c.Counts.Queued)
	if err := ru.reportState(ctx, c, true, ""); err != nil {
		return err
	}
	return nil
}

func (ru *run) waitForCapacity(ctx context.Context, at time.Time, log *slog.Logger) error {
	c, err := ru.Records.Transition(ctx, ru.c.TenantID, ru.c.ID, StateWaitingForCapacity, "the business portfolio's messaging limit is reached", StateRunning)
	if errors.Is(err, ErrState) {
		return nil
	}
	if err != nil {
		return err
	}
	delay := min(at.Sub(ru.now()), CapacityCheck)
	if delay <= 0 {
		delay = CapacityRetry
	}
	log.InfoContext(ctx, "campaign waiting for capacity", "until", at.UTC().Format(time.RFC3339))
	if err := ru.reportState(ctx, c, true, ""); err != nil {
		return err
	}
	return ru.Wake.Run(ctx, c.TenantID, c.ID, delay)
}

// healthReason is why a campaign paused for the number's health.
func healthReason(h msglimit.Health) string {
	var parts []string
	if h.Quality != "" {
		parts = append(parts, "quality rating "+h.Quality)
	}
	if h.Status != "" {
		parts = append(parts, "status "+h.Status)
	}
	return "the number's " + strings.Join(parts, ", ") + " at Meta: resume it once Meta no longer rates the number low or flags it"
}

// pause pauses the campaign for reason (a quality drop, a template Meta
// paused): it waits for POST …/resume, never resuming by itself: what
// made Meta flag the number is what the campaign was sending.
func (ru *run) pause(ctx context.Context, reason string) error {
	c, err := ru.Records.Transition(ctx, ru.c.TenantID, ru.c.ID, StatePaused, reason, StateRunning, StateWaitingForCapacity)
	if errors.Is(err, ErrState) {
		return nil
	}
	if err != nil {
		return err
	}
	ru.log().WarnContext(ctx, "campaign paused", "tenant_id", c.TenantID, "campaign_id", c.ID, "reason", reason)
	if err := ru.reportState(ctx, c, true, ""); err != nil {
		return err
	}
	return nil
}

// fail ends the campaign as failed for reason (said to the core).
func (ru *run) fail(ctx context.Context, reason string) error {
	c, err := ru.Records.Transition(ctx, ru.c.TenantID, ru.c.ID, StateFailed, reason, StateRunning, StateWaitingForCapacity, StateScheduled)
	if errors.Is(err, ErrState) {
		return nil
	}
	if err != nil {
		return err
	}
	ru.log().ErrorContext(ctx, "campaign failed", "tenant_id", c.TenantID, "campaign_id", c.ID, "reason", reason)
	if err := ru.reportState(ctx, c, true, ""); err != nil {
		return err
	}
	return nil
}

// reportState publishes the event of the state c entered (StateEvent), with
// its message counts, unless reported is that state's time already, and
// marks it reported.
func (r *Runner) reportState(ctx context.Context, c Campaign, started bool, reported string) error {
	typ := StateEvent(c, started)
	if r.Events == nil || typ == "" || c.StateAt == "" || c.StateAt == reported {
		return nil
	}
	t, err := r.Records.Totals(ctx, c.TenantID, c.ID)
	if err != nil {
		return err
	}
	if err := r.Events.Publish(ctx, typ, WithTotals(c, t)); err != nil {
		return err
	}
	return r.Records.MarkReported(ctx, c.TenantID, c.ID, c.StateAt)
}

// progress publishes campaign.progress with the counts as they are, at
// most every ProgressEvery.
func (ru *run) progress(ctx context.Context) error {
	t, err := ru.Records.Totals(ctx, ru.c.TenantID, ru.c.ID)
	if err != nil {
		return err
	}
	if err := ru.Events.Publish(ctx, EventProgress, WithTotals(ru.c, t)); err != nil {
		return err
	}
	every := ru.ProgressEvery
	if every <= 0 {
		every = DefaultProgressEvery
	}
	ru.progressAt = ru.now().Add(every)
	return nil
}

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (r *Runner) margin() time.Duration {
	if r.Margin > 0 {
		return r.Margin
	}
	return DefaultMargin
}

func (r *Runner) every() time.Duration {
	if r.Every > 0 {
		return r.Every
	}
	return DefaultEvery
}

func (r *Runner) leaseFor() time.Duration {
	if r.LeaseFor > 0 {
		return r.LeaseFor
	}
	return DefaultLease
}

func (r *Runner) maxRun() time.Duration {
	if r.MaxRun > 0 {
		return r.MaxRun
	}
	return DefaultMaxRun
}
