package queue_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/tracing"
)

// TestPublishCarriesTheTrace: a message published within a trace carries
// its header as AWSTraceHeader (the message's own header first), so the
// function that receives it continues the trace (tracing.ForRecord).
func TestPublishCarriesTheTrace(t *testing.T) {
	const (
		ctxHeader = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
		own       = "Root=1-5759e989-000000000000000000000001;Parent=0000000000000001;Sampled=1"
	)
	q := newQueues(t)
	ctx := tracing.WithHeader(context.Background(), ctxHeader)
	err := (queue.Publisher{API: q.api}).Publish(ctx, q.src,
		queue.Message{Body: "from the context", GroupID: "A", DedupID: "t1"},
		queue.Message{Body: "its own", GroupID: "B", DedupID: "t2", TraceHeader: own})
	if err != nil {
		t.Fatal(err)
	}
	if err := (queue.Publisher{API: q.api}).Publish(context.Background(), q.src,
		queue.Message{Body: "untraced", GroupID: "C", DedupID: "t3"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"from the context": ctxHeader, "its own": own, "untraced": ""}
	got := map[string]string{}
	for len(got) < len(want) {
		ev := q.receiveEvents()
		if len(ev.Records) == 0 {
			t.Fatalf("received %d of %d", len(got), len(want))
		}
		for _, r := range ev.Records {
			got[r.Body] = tracing.FromContext(tracing.ForRecord(context.Background(), r))
			if _, err := q.api.DeleteMessage(q.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.src), ReceiptHandle: aws.String(r.ReceiptHandle)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for body, h := range want {
		if got[body] != h {
			t.Errorf("%s: trace header %q, want %q", body, got[body], h)
		}
	}
}
