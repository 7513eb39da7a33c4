package campaign_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/shared/campaign"
)

// receiveCommand takes the next run command off the campaign queue
// within wait, leaving it out of sight for the queue's own visibility
// timeout (90 minutes), as Lambda's event source does; nil when none
// came.
func receiveCommand(t *testing.T, e *env, wait time.Duration) *sqstypes.Message {
	t.Helper()
	for end := time.Now().Add(wait); time.Now().Before(end); {
		out, err := e.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.r.QueueURL),
			MaxNumberOfMessages: 1, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			t.Fatalf("receive a run command: %v", err)
		}
		if len(out.Messages) == 1 {
			return &out.Messages[0]
		}
	}
	return nil
}

func commandEvent(m *sqstypes.Message) events.SQSEvent {
	return events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
		Body: aws.ToString(m.Body), Attributes: m.Attributes}}}
}

// TestRunnerKilledOutrightIsTakenOver: a run killed outright (it
// neither hands over nor backs its command off, as when its process
// dies) leaves its command to come back soon after its lease ends, not
// after the campaign queue's 90-minute visibility timeout; the run it
// starts goes on from the checkpoint, and every valid row is queued
// once and counted once.
func TestRunnerKilledOutrightIsTakenOver(t *testing.T) {
	e := newEnv(t)
	body, valid := audience(40)
	c := e.campaign(t, "tenants/demo/campaigns/killed.csv", body)
	e.r.LeaseFor = 2 * time.Second // the command comes back 3 s after the run's last renewal
	e.r.Every = 10 * time.Millisecond
	if err := e.r.Wake.Run(context.Background(), "demo", c.ID, 0); err != nil {
		t.Fatal(err)
	}
	m := receiveCommand(t, e, 5*time.Second)
	if m == nil {
		t.Fatal("no run command on the campaign queue")
	}
	e.r.StopAfterRows = 15
	// Killed: what Handle answers goes nowhere, as no event source
	// would hear from a process that died.
	_, _ = e.r.Handle(context.Background(), commandEvent(m))
	s := newSent()
	s.take(t, e)
	stopped, err := e.store.Get(context.Background(), "demo", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stopped.State != campaign.StateRunning || stopped.Counts.Rows == 0 || stopped.Counts.Rows >= 40 {
		t.Fatalf("after the killed run: %s with %d rows counted, want running part-way", stopped.State, stopped.Counts.Rows)
	}

	again := receiveCommand(t, e, 30*time.Second)
	if again == nil {
		t.Fatal("the killed run's command did not come back (it waits out the queue's 90-minute visibility timeout)")
	}
	if aws.ToString(again.MessageId) != aws.ToString(m.MessageId) {
		t.Errorf("command %s came back, want the killed run's %s", aws.ToString(again.MessageId), aws.ToString(m.MessageId))
	}
	e.clock.Add(e.r.LeaseFor + time.Second) // the runner's clock: the killed run's lease has ended
	e.r.StopAfterRows = 0
	resp, err := e.r.Handle(context.Background(), commandEvent(again))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("the run taking over: %v, %+v", err, resp)
	}
	s.take(t, e)
	got, err := e.store.Get(context.Background(), "demo", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != campaign.StateCompleted || got.Counts.Rows != 40 || got.Counts.Queued != int64(valid) {
		t.Errorf("campaign %s %+v, want completed with 40 rows and %d queued", got.State, got.Counts, valid)
	}
	if len(s.copies) != valid {
		t.Errorf("%d distinct jobs queued, want %d", len(s.copies), valid)
	}
	for to, ids := range s.to {
		if len(ids) > 1 {
			t.Errorf("recipient %s has %d jobs: %v", to, len(ids), ids)
		}
	}
}

// refusingVisibility refuses every visibility change after the first
// ok, as SQS does once the command was received again or deleted.
type refusingVisibility struct {
	campaign.Visibility
	ok, calls int
}

func (v *refusingVisibility) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	v.calls++
	if v.calls > v.ok {
		return nil, errors.New("ReceiptHandleIsInvalid: the receipt handle has expired")
	}
	return v.Visibility.ChangeMessageVisibility(ctx, in, optFns...)
}

// TestRunnerThatCannotKeepItsCommandHandsOver: a run whose command can
// no longer be kept out of sight (SQS refuses its receipt handle) has
// no command behind its campaign if it dies, so it hands over at once:
// it commits, sends the campaign's next command and ends; the next run
// goes on from the checkpoint. Whether the refusal comes before the
// first row or part-way, every valid row is queued once.
func TestRunnerThatCannotKeepItsCommandHandsOver(t *testing.T) {
	tests := []struct {
		name string
		ok   int // visibility changes that succeed
		rows bool
	}{
		{name: "refused when the run starts", ok: 0},
		{name: "refused part-way", ok: 1, rows: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			body, valid := audience(60)
			// Ten rows a second: the run's pacing moves the runner's clock
			// past renewals within the audience.
			c := e.campaignWith(t, "tenants/demo/campaigns/unkept-"+strings.ReplaceAll(tt.name, " ", "-")+".csv", body, func(c *campaign.Campaign) {
				rate := 10
				c.RateLimit = &rate
			})
			e.r.LeaseFor = 3 * time.Second // renewed every second of the runner's clock
			e.r.Every = 100 * time.Millisecond
			if err := e.r.Wake.Run(context.Background(), "demo", c.ID, 0); err != nil {
				t.Fatal(err)
			}
			m := receiveCommand(t, e, 5*time.Second)
			if m == nil {
				t.Fatal("no run command on the campaign queue")
			}
			v := &refusingVisibility{Visibility: e.r.Visibility, ok: tt.ok}
			e.r.Visibility = v
			resp, err := e.r.Handle(context.Background(), commandEvent(m))
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("Handle: %v, %+v, want the run handed over cleanly", err, resp)
			}
			s := newSent()
			s.take(t, e)
			mid, err := e.store.Get(context.Background(), "demo", c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if mid.State != campaign.StateRunning || (mid.Counts.Rows > 0) != tt.rows || mid.Counts.Rows >= 60 {
				t.Fatalf("after the run that lost its command: %s with %d rows, want running with rows done: %v", mid.State, mid.Counts.Rows, tt.rows)
			}
			// The run's own command comes back too once its visibility
			// lapses, which a loaded machine can reach first; the new one
			// is what the handover must have sent.
			var next *sqstypes.Message
			for end := time.Now().Add(10 * time.Second); next == nil && time.Now().Before(end); {
				if got := receiveCommand(t, e, time.Until(end)); got != nil && aws.ToString(got.MessageId) != aws.ToString(m.MessageId) {
					next = got
				}
			}
			if next == nil {
				t.Fatal("the run handed over without sending the campaign's next command")
			}
			e.r.Visibility = v.Visibility
			if resp, err := e.r.Handle(context.Background(), commandEvent(next)); err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("the next run: %v, %+v", err, resp)
			}
			s.take(t, e)
			got, err := e.store.Get(context.Background(), "demo", c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != campaign.StateCompleted || got.Counts.Rows != 60 || got.Counts.Queued != int64(valid) || len(s.copies) != valid {
				t.Errorf("campaign %s %+v with %d jobs, want completed with 60 rows and %d jobs", got.State, got.Counts, len(s.copies), valid)
			}
		})
	}
}
