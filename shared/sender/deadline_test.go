package sender

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/queue"
)

// visibilityLog records visibility changes instead of making them (the
// test's records were never received from a queue).
type visibilityLog struct {
	queue.ConsumeAPI
	mu  sync.Mutex
	vis map[string]int32
}

func (v *visibilityLog) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	v.mu.Lock()
	v.vis[aws.ToString(in.ReceiptHandle)] = in.VisibilityTimeout
	v.mu.Unlock()
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

// TestJobsHandedBackNearTheDeadline: a batch that arrives with its
// invocation's deadline within the margin starts no job: nothing is
// claimed or sent, every record is a batch item failure, visible again
// after queue.HandBackVisibility rather than after the retry backoff.
func TestJobsHandedBackNearTheDeadline(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	vis := &visibilityLog{ConsumeAPI: h.Consumer.API, vis: map[string]int32{}}
	h.Consumer.API = vis
	// The invocation has an hour left on the wall clock (so the AWS
	// calls of the test work) and none on the consumer's clock.
	h.Consumer.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	before := e.sends.Load()
	var recs []events.SQSMessage
	for i := range 3 {
		to := rcpt(t, fmt.Sprintf("+5511977770%03d", 60+i))
		e.openWindow(t, to)
		rec := record(t, textJob(jid(t, fmt.Sprintf("deadline-%d", i)), to, "late"), 1)
		rec.ReceiptHandle = "rh-" + rec.MessageId
		recs = append(recs, rec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	resp, err := h.Handle(ctx, events.SQSEvent{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(resp.BatchItemFailures); got != len(recs) {
		t.Errorf("batch item failures = %d, want %d", got, len(recs))
	}
	if got := e.sends.Load() - before; got != 0 {
		t.Errorf("sent %d, want 0", got)
	}
	for _, rec := range recs {
		if got, want := vis.vis[rec.ReceiptHandle], int32(queue.HandBackVisibility/time.Second); got != want {
			t.Errorf("visibility of %s = %d s, want %d s", rec.MessageId, got, want)
		}
		r, err := h.Jobs.Get(context.Background(), JobRef{TenantID: "demo", JobID: jobIDOf(t, rec)})
		if err != nil || r != nil {
			t.Errorf("job record of a job handed back unrun: %+v, %v; want none", r, err)
		}
	}
}

func jobIDOf(t *testing.T, rec events.SQSMessage) string {
	t.Helper()
	id, _, _, _, _ := outbound.Peek([]byte(rec.Body))
	return id
}

// TestJobNotClaimedWithoutTimeToSend: a job that starts with less time
// left than its send budget (Graph's timeout and its records) goes back
// to the queue unclaimed and unsent, visible again soon, rather than have
// its request cut off by the function's timeout (an outcome nobody knows).
func TestJobNotClaimedWithoutTimeToSend(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	vis := &visibilityLog{ConsumeAPI: h.Consumer.API, vis: map[string]int32{}}
	h.Consumer.API = vis
	h.SendBudget = time.Hour
	to := rcpt(t, "+5511977770065")
	e.openWindow(t, to)
	rec := record(t, textJob(jid(t, "no-time"), to, "late"), 1)
	rec.ReceiptHandle = "rh-" + rec.MessageId
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	resp, err := h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{rec}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 {
		t.Fatalf("batch item failures = %d, want 1", len(resp.BatchItemFailures))
	}
	if got := len(e.simFor(to)); got != 0 {
		t.Errorf("sent %d, want 0", got)
	}
	if got, want := vis.vis[rec.ReceiptHandle], int32(queue.HandBackVisibility/time.Second); got != want {
		t.Errorf("visibility = %d s, want %d s", got, want)
	}
	if r, err := h.Jobs.Get(context.Background(), JobRef{TenantID: "demo", JobID: jobIDOf(t, rec)}); err != nil || r != nil {
		t.Errorf("job record %+v, %v; want none", r, err)
	}
}
