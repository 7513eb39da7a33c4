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
