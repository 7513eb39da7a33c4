package esm

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/local/awsemu"
)

// TestPollerTimedOutInvocationDoesNotCount: a handler that ignores its
// context and returns success after the function's timeout has failed,
// as on Lambda: nothing is deleted, the record comes back, and OnTimeout
// hears of it (a one-function process exits there, as Lambda discards
// the execution environment).
func TestPollerTimedOutInvocationDoesNotCount(t *testing.T) {
	emu := awsemu.StartTest(t)
	c := sqs.NewFromConfig(emu.Config())
	q := newQueue(t, c, "timeout", map[string]string{"VisibilityTimeout": "1"})
	var calls, timeouts atomic.Int64
	p := &Poller{API: c, Function: "TestFunction", QueueURL: q.url, QueueARN: q.arn, Region: "us-east-1",
		BatchSize: 1, ReportItemFailures: true, Timeout: 200 * time.Millisecond, WaitSeconds: 1,
		OnTimeout: func() { timeouts.Add(1) },
		Handler: func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			if calls.Add(1) == 1 {
				<-ctx.Done() // outruns the timeout, then claims success
			}
			return events.SQSEventResponse{}, nil
		}}
	q.send(t, "slow", "")
	startPoller(t, p)
	eventually(t, "the record delivered again and done", func() bool { return calls.Load() >= 2 && q.count(t) == 0 })
	if got := timeouts.Load(); got != 1 {
		t.Errorf("timeouts reported = %d, want 1", got)
	}
	if got := p.Stats().BatchErrors; got != 1 {
		t.Errorf("batch errors = %d, want 1 (the timed-out invocation)", got)
	}
}
