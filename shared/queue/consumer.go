package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/logging"
	"github.com/tucanlink/wacloud/shared/tracing"
)

// ConsumeAPI is the part of the SQS client Consumer uses.
type ConsumeAPI interface {
	SendAPI
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// ReasonAttribute is the message attribute that carries, on a dead-letter
// queue, why the message was put there.
const ReasonAttribute = "wacloud-failure-reason"

// Backoff gives the visibility delay before retry number n (n ≥ 1).
type Backoff func(n int) time.Duration

// Exponential doubles from base up to max: base, 2·base, 4·base, ...
func Exponential(base, max time.Duration) Backoff {
	return func(n int) time.Duration {
		d := base
		for i := 1; i < n && d < max; i++ {
			d *= 2
		}
		return min(d, max)
	}
}

// Consumer runs Handle over every record of an SQS batch and reports the
// records to retry. The class of a record's error decides its fate:
//   - nil: done, deleted by the event source mapping.
//   - Retry: reported as a batch item failure; its visibility is set from
//     Backoff and its receive count, so retries slow down.
//   - Permanent or Invalid: sent to DLQ with the reason as a message
//     attribute, then treated as done so it is never retried. A panic in
//     Handle counts as Invalid.
//   - a Deferred error: the record was put off, not failed; it is
//     reported as a batch item failure, without a warning and with its
//     visibility left to the caller (who knows when it should return).
//
// On a FIFO queue, once a record of a message group fails, the later records
// of that group in the batch are reported as failures without being run, so
// that order within the group is kept.
//
// Deadlines. No record starts when the invocation's deadline
// (ctx.Deadline(), which Lambda sets to the function's timeout) is nearer
// than Margin: the records not started are handed back unrun, as batch
// item failures made visible again after HandBackVisibility, so a slow
// batch ends before the function's timeout instead of failing whole (its
// finished records then redelivered after the queue's visibility
// timeout). Margin must cover the longest a record can take once started.
type Consumer struct {
	API      ConsumeAPI
	QueueURL string // the source queue, for visibility changes
	DLQURL   string // where Permanent and Invalid records go
	Backoff  Backoff
	Log      *slog.Logger
	// Concurrency, when above 1, runs up to that many records at once:
	// records of different FIFO message groups (and records without a
	// group) in parallel, a group's records still one after another and
	// held back after a failure. Handle must then be safe for concurrent
	// use. 0 or 1: the whole batch one record after another.
	Concurrency int
	// Lane, when set, names the lane each record of a standard queue runs
	// in: records of one lane run one after another, in batch order, and
	// are held back after a failure, as a FIFO group's are; "" runs a
	// record alone. Nil: the record's FIFO message group. A FIFO queue's
	// consumer must leave it nil, or its groups' order is lost.
	Lane func(events.SQSMessage) string
	// MaxRetryAfter bounds how long an error's RetryAfter may delay a
	// retry (0: SQS's limit, 12 h): a Retry-After is honoured up to it.
	MaxRetryAfter time.Duration
	// Margin is how much time must be left before the invocation's
	// deadline for a record to start (default DefaultMargin; at most half
	// the time the batch had when it started, so that a short timeout
	// still makes progress).
	Margin time.Duration
	// OnHandBack, when set, hears of each record handed back unrun for
	// lack of time, with the visibility it was given.
	OnHandBack func(rec events.SQSMessage, visibility time.Duration)
	// Now is the clock deadlines are read with (default time.Now).
	Now func() time.Time
	// Handle processes one record.
	Handle func(ctx context.Context, rec events.SQSMessage) error

	stopAt time.Time // no record starts from then on (zero: no deadline)
}

// Deadline defaults.
const (
	// DefaultMargin is Consumer.Margin's default: the core's and Graph's
	// HTTP timeouts (10 s, 20 s) bound what one record takes once started;
	// functions whose records can take longer set their own.
	DefaultMargin = 15 * time.Second
	// HandBackVisibility is how soon a record handed back unrun is
	// visible again: it did nothing wrong, so it gets no backoff.
	HandBackVisibility = time.Second
)

// stopTime is when records stop starting: Margin before ctx's deadline.
func (c Consumer) stopTime(ctx context.Context) time.Time {
	dl, ok := ctx.Deadline()
	if !ok {
		return time.Time{}
	}
	m := c.Margin
	if m <= 0 {
		m = DefaultMargin
	}
	m = max(min(m, dl.Sub(c.now())/2), 0)
	return dl.Add(-m)
}

// outOfTime reports whether a record may no longer start.
func (c Consumer) outOfTime() bool {
	return !c.stopAt.IsZero() && !c.now().Before(c.stopAt)
}

func (c Consumer) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Run processes the batch; it is what the Lambda handler returns.
// Failures are reported in the batch's order.
func (c Consumer) Run(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	failed := make([]bool, len(ev.Records))
	c.stopAt = c.stopTime(ctx)
	if c.Concurrency <= 1 {
		all := make([]int, len(ev.Records))
		for i := range all {
			all[i] = i
		}
		c.runLane(ctx, ev.Records, all, failed)
	} else {
		lanes := c.lanes(ev.Records)
		sem := make(chan struct{}, c.Concurrency)
		var wg sync.WaitGroup
		for _, lane := range lanes {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				// Lanes write disjoint indices of failed.
				c.runLane(ctx, ev.Records, lane, failed)
			}()
		}
		wg.Wait()
	}
	var resp events.SQSEventResponse
	for i, rec := range ev.Records {
		if failed[i] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

// lanes splits a batch into lists of record indices that may run
// concurrently: one per lane (FIFO message group, or Lane's key), in
// order, and one per record without one (a standard queue promises no
// order).
func (c Consumer) lanes(recs []events.SQSMessage) [][]int {
	var out [][]int
	byGroup := map[string]int{}
	for i, rec := range recs {
		g := c.laneOf(rec)
		if g == "" {
			out = append(out, []int{i})
			continue
		}
		if l, ok := byGroup[g]; ok {
			out[l] = append(out[l], i)
			continue
		}
		byGroup[g] = len(out)
		out = append(out, []int{i})
	}
	return out
}

// laneOf is the lane rec runs in ("": alone). On a standard queue a
// message group is a fair-queue tenant (Message.Tenant), not an order:
// its records run apart unless Lane says otherwise.
func (c Consumer) laneOf(rec events.SQSMessage) string {
	if c.Lane != nil {
		return c.Lane(rec)
	}
	if !strings.HasSuffix(c.QueueURL, ".fifo") && !strings.HasSuffix(rec.EventSourceARN, ".fifo") {
		return ""
	}
	return rec.Attributes["MessageGroupId"]
}

// runLane runs the records at idx one after another, marking failures.
func (c Consumer) runLane(ctx context.Context, recs []events.SQSMessage, idx []int, failed []bool) {
	// blocked holds, per lane (FIFO group), the delay given to the record that
	// stopped it (0: its visibility was left as it was). Records held back
	// behind it get that same delay, whatever their own receive counts, so
	// the group resumes as one, head first.
	blocked := map[string]time.Duration{}
	batchCtx := ctx
	for _, i := range idx {
		rec := recs[i]
		// The record's work continues the trace of whoever sent it.
		ctx := tracing.ForRecord(batchCtx, rec)
		group := c.laneOf(rec)
		if d, ok := blocked[group]; ok && group != "" {
			c.setVisibility(ctx, rec, d)
			failed[i] = true
			continue
		}
		if c.outOfTime() {
			c.logger().InfoContext(ctx, "record handed back unrun: the invocation's deadline is near", "sqs_message_id", rec.MessageId)
			c.setVisibility(ctx, rec, HandBackVisibility)
			if c.OnHandBack != nil {
				c.OnHandBack(rec, HandBackVisibility)
			}
			if group != "" {
				blocked[group] = HandBackVisibility
			}
			failed[i] = true
			continue
		}
		err := c.handle(ctx, rec)
		if err == nil {
			continue
		}
		if IsDeferred(err) {
			if group != "" {
				blocked[group] = 0
			}
			failed[i] = true
			continue
		}
		log := c.logger().With("sqs_message_id", rec.MessageId, "error_class", fault.ClassOf(err).String())
		// The error may quote the record (a recipient, a text): what the
		// log and the dead-letter reason say is masked.
		reason := logging.MaskValues(err.Error(), logging.PIIValues(rec.Body))
		var d time.Duration
		switch fault.ClassOf(err) {
		case fault.Permanent, fault.Invalid:
			log.WarnContext(ctx, "record dead-lettered", "error", reason)
			if dlqErr := c.deadLetter(ctx, rec, err, reason); dlqErr == nil {
				continue
			} else {
				log.ErrorContext(ctx, "dead-letter failed; record will be retried", "error", dlqErr.Error())
			}
		default:
			d = c.retryDelay(rec, err)
			log.WarnContext(ctx, "record will be retried", "error", reason, "receive_count", rec.Attributes["ApproximateReceiveCount"],
				"retry_in_s", int(d.Round(time.Second)/time.Second), "next_attempt_at", time.Now().Add(d).UTC().Format(time.RFC3339))
			c.setVisibility(ctx, rec, d)
		}
		if group != "" {
			blocked[group] = d
		}
		failed[i] = true
	}
}

// handle runs Handle, turning a panic into an Invalid error: the record is
// dead-lettered with the reason, and the batch's other records (possibly
// running in other goroutines, where a panic would end the process) go on.
func (c Consumer) handle(ctx context.Context, rec events.SQSMessage) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.logger().ErrorContext(ctx, "record handling panicked", "sqs_message_id", rec.MessageId,
				"panic", logging.MaskValues(fmt.Sprint(r), logging.PIIValues(rec.Body)), "stack", string(debug.Stack()))
			err = fault.Invalidf("handle record: panic: %v", r)
		}
	}()
	return c.Handle(ctx, rec)
}

// Deferred is implemented by errors that put a record off rather than
// fail it (see Consumer).
type Deferred interface {
	Deferred() bool
}

// IsDeferred reports whether err's chain holds a Deferred error that says
// so.
func IsDeferred(err error) bool {
	var d Deferred
	return errors.As(err, &d) && d.Deferred()
}

// RetryAfter is implemented by errors that know how long to wait before
// the next attempt (an HTTP Retry-After); the consumer waits at least that.
type RetryAfter interface {
	RetryAfter() time.Duration
}

// maxVisibility is SQS's limit for a visibility timeout.
const maxVisibility = 12 * time.Hour

// retryDelay is how long rec waits before its next attempt: Backoff of its
// receive count, at least the error's RetryAfter (up to MaxRetryAfter), at
// most SQS's limit.
func (c Consumer) retryDelay(rec events.SQSMessage, cause error) time.Duration {
	var d time.Duration
	if c.Backoff != nil {
		n, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
		d = c.Backoff(max(n, 1))
	}
	var ra RetryAfter
	if errors.As(cause, &ra) {
		after := ra.RetryAfter()
		if c.MaxRetryAfter > 0 {
			after = min(after, c.MaxRetryAfter)
		}
		d = max(d, after)
	}
	return min(d, maxVisibility)
}

// setVisibility makes rec visible again after d; d ≤ 0 leaves the
// visibility timeout it was received with.
func (c Consumer) setVisibility(ctx context.Context, rec events.SQSMessage, d time.Duration) {
	if c.QueueURL == "" || rec.ReceiptHandle == "" || d <= 0 {
		return
	}
	_, err := c.API.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(c.QueueURL),
		ReceiptHandle:     aws.String(rec.ReceiptHandle),
		VisibilityTimeout: int32(d / time.Second),
	})
	if err != nil {
		c.logger().WarnContext(ctx, "could not delay retry", "sqs_message_id", rec.MessageId, "error", err.Error())
	}
}

// deadLetter copies rec to the DLQ with the reason (cause's text with the
// record's personal data masked: attributes are shown by every console and
// tool that lists the queue; the body, which the operator may need, is
// kept as it was). On a FIFO DLQ it keeps the group and uses the source
// message id as deduplication id, so a crash between the copy and the
// delete does not duplicate it.
func (c Consumer) deadLetter(ctx context.Context, rec events.SQSMessage, cause error, reason string) error {
	if c.DLQURL == "" {
		return fmt.Errorf("no dead-letter queue configured")
	}
	if len(reason) > 1000 {
		reason = strings.ToValidUTF8(reason[:1000], "")
	}
	m := Message{
		Body:    rec.Body,
		GroupID: rec.Attributes["MessageGroupId"],
		DedupID: "dlq-" + rec.MessageId,
		Attributes: map[string]string{
			ReasonAttribute:          reason,
			"wacloud-failure-class":  fault.ClassOf(cause).String(),
			"wacloud-source-queue":   queueName(c.QueueURL),
			"wacloud-source-message": rec.MessageId,
		},
	}
	if m.GroupID == "" && strings.HasSuffix(c.DLQURL, ".fifo") {
		m.GroupID = "dead-letter"
	}
	if code := fault.CodeOf(cause); code != "" {
		m.Attributes["wacloud-failure-code"] = code
	}
	return Publisher{API: c.API}.Publish(ctx, c.DLQURL, m)
}

func (c Consumer) logger() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}
