package campaign

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/shared/fault"
)

// QueueDepth tells how many messages wait in a queue to be received;
// *QueueWaiting satisfies it.
type QueueDepth interface {
	Waiting(ctx context.Context) (int64, error)
}

// QueueAttributes is the part of the SQS client QueueWaiting uses.
type QueueAttributes interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// QueueWaiting reads a queue's ApproximateNumberOfMessages: messages a
// receive could take now (not those in flight, deferred or delayed).
type QueueWaiting struct {
	API      QueueAttributes
	QueueURL string
}

// Waiting returns the queue's visible messages. Errors are Retry.
func (q *QueueWaiting) Waiting(ctx context.Context) (int64, error) {
	out, err := q.API.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.QueueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		return 0, fault.Retryable(fmt.Errorf("read the outbound queue's depth: %w", err))
	}
	n, err := strconv.ParseInt(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)], 10, 64)
	if err != nil {
		return 0, fault.Retryable(fmt.Errorf("read the outbound queue's depth: %w", err))
	}
	return n, nil
}

// Back-pressure (Runner.Ahead): how often a held run reads its counts,
// over what span it measures the sender's rate, and after how long a
// queued job no longer holds the run back.
const (
	backlogRead  = 200 * time.Millisecond
	backlogSpan  = 5 * time.Second
	backlogStale = 5 * time.Minute
	backlogStep  = 10 * time.Second
	// allowCeiling bounds the allowance, in Ahead of the run's pace.
	allowCeiling = 4
)

type sample struct {
	at time.Time
	n  int64
}

// backlog estimates how many of a campaign's queued jobs the sender has
// not got done (accepted by Meta or failed) and how fast it gets them
// done, from the campaign's tally shards.
//
// Two things make the estimate loose, never tight: a message Meta
// accepts and later reports failed counts twice (accepted and failed),
// and a job queued more than backlogStale ago (dead-lettered, or in a
// long retry backoff) stops counting, so a lost job cannot hold a
// campaign back for ever.
//
// How many jobs may be outstanding (allow) adapts at each read, since
// the sender's rate as measured is also what the run let it do. A run
// that allowed exactly the measured rate times Ahead settled where a
// job's time from the queue to done was Ahead; with the queue's polling
// and the sender's pacing and deferrals in that time (~1.3 s at 80 msg/s
// locally), that held a number the sender could keep at 80 a second to
// 44–60. So allow starts at MinAhead and grows by a quarter at a read
// that finds the sender keeping up: a quarter of the allowance done
// since the last read, or three quarters of it done in Ahead at the
// measured rate (the allowance, not the sender, holds the run); up to
// allowCeiling times Ahead of the run's own pace. It shrinks towards the
// measured rate times Ahead, at most by half a read and never below
// MinAhead, at a read that finds the sender getting less than half of it
// done in Ahead; not before the rate is measured. A sender slower than
// the pace is therefore allowed between about its rate and twice its
// rate times Ahead of outstanding jobs; one that keeps the pace, what
// it needs. With Runner.Waiting, a read that finds more than a quarter
// of Ahead of the sender's work waiting in the outbound queue, untaken
// by any sender (what another tenant's job waits behind), never grows
// the allowance and shrinks it to the measured rate times Ahead (by half
// a read at most): the queue, not the campaign's count, says the sender
// is behind.
type backlog struct {
	done   int64     // accepted+failed as last read
	readAt time.Time // when done was read
	rate   float64   // jobs per second, last measured
	// measured: rate spans at least half a second of reads.
	measured bool
	allow    float64  // jobs that may be outstanding; 0: MinAhead
	reads    []sample // done within backlogSpan
	queued   []sample // queued count every backlogStep, within backlogStale
	// waiting is the outbound queue's depth as last read (0 before any
	// read, -1 when the read failed); held is the time the run spent
	// held since the last checkpoint.
	waiting int64
	held    time.Duration
}

// observe records the campaign's done count at now.
func (b *backlog) observe(now time.Time, done int64) {
	b.done, b.readAt = done, now
	b.reads = append(b.reads, sample{now, done})
	i := 0
	for i < len(b.reads)-2 && now.Sub(b.reads[i].at) > backlogSpan {
		i++
	}
	b.reads = b.reads[i:]
	first := b.reads[0]
	if span := now.Sub(first.at); span >= 500*time.Millisecond {
		b.rate, b.measured = float64(done-first.n)/span.Seconds(), true
	}
}

// queue records the campaign's queued count at now (every backlogStep).
func (b *backlog) queue(now time.Time, queued int64) {
	if n := len(b.queued); n > 0 && now.Sub(b.queued[n-1].at) < backlogStep {
		return
	}
	b.queued = append(b.queued, sample{now, queued})
	for len(b.queued) > 1 && now.Sub(b.queued[1].at) >= backlogStale {
		b.queued = b.queued[1:]
	}
}

// outstanding is how many of queued jobs are not yet done, as last read.
func (b *backlog) outstanding(now time.Time, queued int64) int64 {
	n := queued - b.done
	if len(b.queued) > 0 && now.Sub(b.queued[0].at) >= backlogStale {
		n = min(n, queued-b.queued[0].n)
	}
	return max(n, 0)
}

// adapt sets how many jobs may be outstanding after a read that found
// outstanding of them, for a run paced at pace jobs a second.
func (b *backlog) adapt(outstanding int64, pace float64, ahead time.Duration, waiting int64) {
	allow := max(b.allow, MinAhead)
	ceiling := max(MinAhead, allowCeiling*pace*ahead.Seconds())
	done := b.rate * ahead.Seconds() // what the sender gets done in Ahead
	// More than a quarter of Ahead of the sender's work waits in the
	// queue, untaken: other tenants' jobs wait behind it.
	waits := waiting >= 0 && float64(waiting) > max(MinAhead, done/4)
	switch o := float64(outstanding); {
	case waits && b.measured:
		allow = max(MinAhead, min(allow, done), allow/2)
	case waits:
	case 4*o < 3*allow, b.measured && 4*done >= 3*allow:
		allow = min(ceiling, allow*1.25)
	case b.measured && 2*done < allow:
		allow = max(MinAhead, done, allow/2)
	}
	b.allow = allow
}

// allowed is how many jobs may be outstanding.
func (b *backlog) allowed() int64 {
	return max(MinAhead, int64(b.allow))
}

// hold waits until the campaign's outstanding jobs are within what the
// sender gets done in Ahead, and reports true; or reports false at
// until, for the run to commit and look at its state.
func (ru *run) hold(ctx context.Context, until time.Time) (bool, error) {
	queued := ru.c.Counts.Queued + ru.delta.Queued
	b := &ru.backlog
	for {
		now := ru.now()
		b.queue(now, queued)
		if b.outstanding(now, queued) < b.allowed() {
			return true, nil
		}
		heldFrom := now
		if next := b.readAt.Add(backlogRead); now.Before(next) {
			// The jobs held in the batch go now: the sender cannot
			// get done what it has not got.
			if err := ru.flush(ctx); err != nil {
				return false, err
			}
			if !now.Before(until) {
				return false, nil
			}
			wait := next.Sub(now)
			if until.Before(next) {
				wait = until.Sub(now)
			}
			err := ru.sleep(ctx, wait)
			b.held += ru.now().Sub(heldFrom)
			if err != nil {
				return false, fault.Retryable(fmt.Errorf("campaign %s: %w", ru.c.ID, err))
			}
			continue
		}
		t, err := ru.Records.Totals(ctx, ru.c.TenantID, ru.c.ID)
		if err != nil {
			return false, err
		}
		waiting := int64(-1) // unknown
		if ru.Waiting != nil {
			if n, err := ru.Waiting.Waiting(ctx); err == nil {
				waiting = n
			}
		}
		now = ru.now()
		b.held += now.Sub(heldFrom)
		b.waiting = waiting
		b.observe(now, t.Accepted+t.Failed)
		b.adapt(b.outstanding(now, queued), float64(time.Second)/float64(max(ru.interval, 1)), ru.Ahead, waiting)
	}
}
