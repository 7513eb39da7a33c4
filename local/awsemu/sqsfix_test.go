package awsemu

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// runs numbers the runs of a test: go test -count=N runs it again in the
// same binary, where kumo (which keeps its state per process, not per
// server) still holds the previous run's queue, with its messages in
// flight holding their groups, so none would be received.
var runs atomic.Int64

// A FIFO message received through the emulator carries the system
// attributes SQS gives it, group id first among them.
func TestReceiveCarriesFIFOAttributes(t *testing.T) {
	emu := StartTest(t)
	ctx := context.Background()
	c := sqs.NewFromConfig(emu.Config())
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String(fmt.Sprintf("fix-test-r%d.fifo", runs.Add(1))),
		Attributes: map[string]string{"FifoQueue": "true"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: q.QueueUrl, MessageBody: aws.String("one <&>"),
		MessageGroupId: aws.String("g-single"), MessageDeduplicationId: aws.String("d-1"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: q.QueueUrl, Entries: []sqstypes.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: aws.String("two"), MessageGroupId: aws.String("g-batch"), MessageDeduplicationId: aws.String("d-2")},
	}}); err != nil {
		t.Fatal(err)
	}
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range out.Messages {
		got[aws.ToString(m.Body)] = m.Attributes["MessageGroupId"] + "/" + m.Attributes["MessageDeduplicationId"]
		if m.Attributes["SequenceNumber"] == "" {
			t.Errorf("message %q has no SequenceNumber: %v", aws.ToString(m.Body), m.Attributes)
		}
	}
	want := map[string]string{"one <&>": "g-single/d-1", "two": "g-batch/d-2"}
	for body, w := range want {
		if got[body] != w {
			t.Errorf("message %q group/dedup = %q, want %q", body, got[body], w)
		}
	}
}

// newFIFOQueue creates a FIFO queue of this run of the test.
func newFIFOQueue(t *testing.T, c *sqs.Client, name string, attrs map[string]string) string {
	t.Helper()
	a := map[string]string{"FifoQueue": "true", "VisibilityTimeout": "30"}
	for k, v := range attrs {
		a[k] = v
	}
	q, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{
		QueueName: aws.String(fmt.Sprintf("%s-r%d.fifo", name, runs.Add(1))), Attributes: a,
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(q.QueueUrl)
}

func sendGroup(t *testing.T, c *sqs.Client, url, group string, n int) {
	t.Helper()
	for i := range n {
		body := fmt.Sprintf("%s-%02d", group, i)
		if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body),
			MessageGroupId: aws.String(group), MessageDeduplicationId: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
}

func receive(t *testing.T, c *sqs.Client, url string, max int32, visibility int32) []sqstypes.Message {
	t.Helper()
	out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: max, VisibilityTimeout: visibility,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Messages
}

// A FIFO group's messages that become visible again come back in send
// order, and none of a group is handed out while an earlier one of the
// group is in flight: the queue's promise to a consumer that keeps order
// per contact. First every receive takes what it can (a prefix of some
// groups) and makes it visible again, the way a failed batch returns;
// then the queue is drained in small receives, each message deleted only
// after the next receive.
func TestFIFOGroupOrderSurvivesRedelivery(t *testing.T) {
	for _, tt := range []struct {
		name             string
		groups, perGroup int
		max              int32 // per receive while draining
		resetInReverse   bool
	}{
		{name: "one group, one message per receive", groups: 1, perGroup: 4, max: 1},
		{name: "ten groups, reset newest first", groups: 10, perGroup: 4, max: 3, resetInReverse: true},
		{name: "twenty groups, full receives", groups: 20, perGroup: 5, max: 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			emu := StartTest(t)
			c := sqs.NewFromConfig(emu.Config())
			ctx := context.Background()
			url := newFIFOQueue(t, c, "order", nil)
			for g := range tt.groups {
				sendGroup(t, c, url, fmt.Sprintf("g%02d", g), tt.perGroup)
			}
			total := tt.groups * tt.perGroup
			var handles []string
			first := map[string]bool{}
			for {
				got := receive(t, c, url, 10, 30)
				if len(got) == 0 {
					break
				}
				for _, m := range got {
					handles = append(handles, aws.ToString(m.ReceiptHandle))
					first[aws.ToString(m.Body)] = true
				}
			}
			if len(handles) < 2 {
				t.Fatalf("first pass received %d messages, want several", len(handles))
			}
			for i := range handles {
				h := handles[i]
				if tt.resetInReverse {
					h = handles[len(handles)-1-i]
				}
				if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String(h), VisibilityTimeout: 0}); err != nil {
					t.Fatal(err)
				}
			}

			next := map[string]int{}        // group -> index of the next message it must give
			inFlight := map[string]string{} // group -> a message of it the test holds
			var pending []sqstypes.Message  // received, deleted after the next receive
			for done, tries := 0, 0; done < total; tries++ {
				if tries > 10*total {
					t.Fatalf("drained %d of %d messages", done, total)
				}
				got := receive(t, c, url, tt.max, 30)
				for _, m := range got {
					body, g := aws.ToString(m.Body), m.Attributes["MessageGroupId"]
					if held, ok := inFlight[g]; ok {
						t.Fatalf("received %s while %s of its group is in flight", body, held)
					}
					if want := fmt.Sprintf("%s-%02d", g, next[g]); body != want {
						t.Fatalf("group %s gave %s, want %s", g, body, want)
					}
					want := "1"
					if first[body] {
						want = "2"
					}
					if got := m.Attributes["ApproximateReceiveCount"]; got != want {
						t.Errorf("%s ApproximateReceiveCount = %q, want %s", body, got, want)
					}
					next[g]++
				}
				for _, m := range pending {
					if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
						t.Fatal(err)
					}
					delete(inFlight, m.Attributes["MessageGroupId"])
					done++
				}
				pending = got
				for _, m := range got {
					inFlight[m.Attributes["MessageGroupId"]] = aws.ToString(m.Body)
				}
			}
			if got := receive(t, c, url, 10, 0); len(got) != 0 {
				t.Errorf("drained queue still gave %d messages", len(got))
			}
		})
	}
}

// Sequence numbers grow within a group in send order, as SQS promises: a
// consumer that sorts a batch's records by sequence number (Lambda's
// event source mapping keeps that order) must not reorder the group.
func TestFIFOSequenceNumbersGrow(t *testing.T) {
	emu := StartTest(t)
	c := sqs.NewFromConfig(emu.Config())
	url := newFIFOQueue(t, c, "seq", nil)
	sendGroup(t, c, url, "g", 10)
	got := receive(t, c, url, 10, 30)
	if len(got) != 10 {
		t.Fatalf("received %d messages, want 10", len(got))
	}
	prev := ""
	for i, m := range got {
		body, seq := aws.ToString(m.Body), m.Attributes["SequenceNumber"]
		if want := fmt.Sprintf("g-%02d", i); body != want {
			t.Errorf("message %d = %s, want %s", i, body, want)
		}
		if prev != "" && !seqLess(prev, seq) {
			t.Errorf("%s has SequenceNumber %s, not above the previous message's %s", body, seq, prev)
		}
		prev = seq
	}
}

// A FIFO message received maxReceiveCount times goes to the dead-letter
// queue with its group, and its group goes on with the next message.
func TestFIFORedrive(t *testing.T) {
	emu := StartTest(t)
	c := sqs.NewFromConfig(emu.Config())
	ctx := context.Background()
	dlq := newFIFOQueue(t, c, "redrive-dlq", nil)
	ga, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(dlq), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	rp := fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":2}`, ga.Attributes["QueueArn"])
	url := newFIFOQueue(t, c, "redrive", map[string]string{"RedrivePolicy": rp})
	sendGroup(t, c, url, "g", 2)
	for i, want := range []string{"1", "2"} {
		got := receive(t, c, url, 1, 30)
		if len(got) != 1 || aws.ToString(got[0].Body) != "g-00" || got[0].Attributes["ApproximateReceiveCount"] != want {
			t.Fatalf("receive %d = %+v, want g-00 received %s times", i+1, got, want)
		}
		if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: got[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
			t.Fatal(err)
		}
	}
	if got := receive(t, c, url, 1, 30); len(got) != 1 || aws.ToString(got[0].Body) != "g-01" {
		t.Errorf("after the redrive the group gave %+v, want g-01", got)
	}
	got := receive(t, c, dlq, 10, 30)
	if len(got) != 1 || aws.ToString(got[0].Body) != "g-00" || got[0].Attributes["MessageGroupId"] != "g" {
		t.Errorf("dead-letter queue holds %+v, want g-00 of group g", got)
	}
}
