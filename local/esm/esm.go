// Package esm is a local stand-in for Lambda's SQS event source mapping: a
// Poller long-polls a queue, invokes the function with real events.SQSEvent
// batches, deletes the records that succeeded and leaves the others (batch
// item failures, or the whole batch on a function error) to come back after
// their visibility timeout. Dead-lettering is the queue's RedrivePolicy, as
// on AWS: the embedded emulator moves a message to the DLQ once it has been
// received more than maxReceiveCount times. It exists only for the local
// connector.
package esm

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/lambdactx"
)

// Handler is a function's handler for SQS events.
type Handler func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)

// API is the part of the SQS client a Poller uses.
type API interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// DefaultWaitSeconds is the long-poll wait of Lambda's SQS pollers.
const DefaultWaitSeconds = 20

// Poller feeds one queue to one function.
type Poller struct {
	API      API
	Function string // logical id, for logs and the Lambda context
	QueueURL string
	QueueARN string
	Region   string
	// BatchSize is the most records per invocation (at most 10 here: one
	// ReceiveMessage call per batch).
	BatchSize int
	// ReportItemFailures is FunctionResponseTypes: [ReportBatchItemFailures].
	// Without it any failure leaves the whole batch on the queue.
	ReportItemFailures bool
	// Timeout is the function's timeout.
	Timeout time.Duration
	// Concurrency is how many batches may be in flight at once, like
	// concurrent function instances (default 2). On a FIFO queue the
	// queue itself keeps a message group's messages out of a receive while
	// a batch holding that group is in flight.
	Concurrency int
	// WaitSeconds is the long-poll wait (default 20, as Lambda's pollers
	// wait: an idle queue costs one ReceiveMessage per poller every 20 s,
	// which AWS bills and make bench-calls counts). Shutdown does not wait
	// for it: the receive is cancelled with Run's context.
	WaitSeconds int32
	Handler     Handler
	Log         *slog.Logger
	// OnTimeout, when set, is called after an invocation outran Timeout
	// (its batch is left for redelivery). Lambda stops a timed-out handler
	// and discards its execution environment; a process running one
	// function exits here, so that nothing the handler still does counts.
	OnTimeout func()

	stats Stats
}

// Stats count what a poller did. Read them with Poller.Stats.
type Stats struct {
	Invocations  atomic.Int64
	Records      atomic.Int64
	Deleted      atomic.Int64
	ItemFailures atomic.Int64
	BatchErrors  atomic.Int64
}

// Snapshot is a copy of Stats.
type Snapshot struct {
	Invocations, Records, Deleted, ItemFailures, BatchErrors int64
}

// Stats returns the poller's counters.
func (p *Poller) Stats() Snapshot {
	return Snapshot{p.stats.Invocations.Load(), p.stats.Records.Load(), p.stats.Deleted.Load(),
		p.stats.ItemFailures.Load(), p.stats.BatchErrors.Load()}
}

// Run polls until ctx is done. Invocations already running when ctx ends
// are allowed to finish (up to the function timeout), so nothing half-done
// is abandoned.
func (p *Poller) Run(ctx context.Context) {
	n := p.Concurrency
	if n <= 0 {
		n = 2
	}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.loop(ctx)
		}()
	}
	wg.Wait()
}

func (p *Poller) loop(ctx context.Context) {
	for ctx.Err() == nil {
		msgs, err := p.receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			p.log().Warn("receive failed", "function", p.Function, "queue", queueName(p.QueueURL), "error", err.Error())
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		if len(msgs) == 0 {
			continue
		}
		// Finish the batch even if ctx ends now: its messages are invisible
		// until their timeout, and dropping the result would only delay them.
		p.process(context.WithoutCancel(ctx), msgs)
	}
}

func (p *Poller) receive(ctx context.Context) ([]sqstypes.Message, error) {
	size := p.BatchSize
	if size <= 0 || size > 10 {
		size = 10
	}
	wait := p.WaitSeconds
	if wait <= 0 {
		wait = DefaultWaitSeconds
	}
	out, err := p.API.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(p.QueueURL),
		MaxNumberOfMessages:         int32(size),
		WaitTimeSeconds:             wait,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// process invokes the function with one batch and deletes what succeeded.
func (p *Poller) process(ctx context.Context, msgs []sqstypes.Message) {
	ev := p.Event(msgs)
	p.stats.Invocations.Add(1)
	p.stats.Records.Add(int64(len(ev.Records)))
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ictx, cancel := context.WithTimeout(lambdactx.New(ctx, p.Function), timeout)
	resp, err := lambdactx.Invoke(ictx, p.Handler, ev)
	cancel()
	log := p.log().With("function", p.Function, "queue", queueName(p.QueueURL))
	if err != nil {
		p.stats.BatchErrors.Add(1)
		log.Error("function failed; batch left for redelivery", "records", len(ev.Records), "error", err.Error())
		if errors.Is(err, lambdactx.ErrTimedOut) && p.OnTimeout != nil {
			p.OnTimeout()
		}
		return
	}
	failed := map[string]bool{}
	if len(resp.BatchItemFailures) > 0 {
		if !p.ReportItemFailures {
			// Without ReportBatchItemFailures Lambda ignores the list and
			// treats the batch as a success.
			log.Warn("function reported item failures but the event source does not enable ReportBatchItemFailures; ignored")
		} else {
			known := map[string]bool{}
			for _, r := range ev.Records {
				known[r.MessageId] = true
			}
			for _, f := range resp.BatchItemFailures {
				if f.ItemIdentifier == "" || !known[f.ItemIdentifier] {
					// Lambda treats an unknown or empty identifier as a
					// failure of the whole batch.
					p.stats.BatchErrors.Add(1)
					log.Error("function reported an unknown item identifier; batch left for redelivery", "item", f.ItemIdentifier)
					return
				}
				failed[f.ItemIdentifier] = true
			}
			p.stats.ItemFailures.Add(int64(len(failed)))
		}
	}
	var done []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range msgs {
		if failed[aws.ToString(m.MessageId)] {
			continue
		}
		done = append(done, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
	}
	if len(done) == 0 {
		return
	}
	out, err := p.API.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: done})
	if err != nil {
		log.Error("delete failed; records will be delivered again", "records", len(done), "error", err.Error())
		return
	}
	p.stats.Deleted.Add(int64(len(out.Successful)))
	for _, f := range out.Failed {
		log.Error("delete failed; record will be delivered again", "entry", aws.ToString(f.Id), "code", aws.ToString(f.Code))
	}
}

// Event builds the SQS event Lambda would deliver for msgs, in the order
// the queue gave them: a FIFO queue hands a group's messages out in order
// (the local emulator's front keeps that promise, see local/awsemu), and
// re-sorting here would hide a queue that does not.
func (p *Poller) Event(msgs []sqstypes.Message) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, m := range msgs {
		rec := events.SQSMessage{
			MessageId:              aws.ToString(m.MessageId),
			ReceiptHandle:          aws.ToString(m.ReceiptHandle),
			Body:                   aws.ToString(m.Body),
			Md5OfBody:              aws.ToString(m.MD5OfBody),
			Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
			Attributes:             map[string]string{},
			MessageAttributes:      map[string]events.SQSMessageAttribute{},
			EventSourceARN:         p.QueueARN,
			EventSource:            "aws:sqs",
			AWSRegion:              p.Region,
		}
		for k, v := range m.Attributes {
			rec.Attributes[k] = v
		}
		for k, v := range m.MessageAttributes {
			a := events.SQSMessageAttribute{DataType: aws.ToString(v.DataType), StringValue: v.StringValue, BinaryValue: v.BinaryValue}
			a.StringListValues = v.StringListValues
			a.BinaryListValues = v.BinaryListValues
			rec.MessageAttributes[k] = a
		}
		ev.Records = append(ev.Records, rec)
	}
	return ev
}

func (p *Poller) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.Default()
}

func queueName(url string) string {
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		return url[i+1:]
	}
	return url
}
