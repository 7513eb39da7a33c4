package esm_test

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/local/esm"
)

// idleQueue answers every receive empty, as an idle queue does after its
// long poll, and remembers each receive's wait; the second receive ends the
// run.
type idleQueue struct {
	mu     sync.Mutex
	waits  []int32
	cancel context.CancelFunc
}

func (q *idleQueue) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.waits = append(q.waits, in.WaitTimeSeconds)
	if len(q.waits) >= 2 {
		q.cancel()
	}
	return &sqs.ReceiveMessageOutput{}, nil
}

func (q *idleQueue) DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	return &sqs.DeleteMessageBatchOutput{}, nil
}

// The pollers long-poll as Lambda's do (20 s): an idle queue costs the
// receives AWS would bill, no more.
func TestPollerLongPollsLikeLambda(t *testing.T) {
	cases := []struct {
		name string
		wait int32
		want int32
	}{
		{"default", 0, 20},
		{"set", 1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			q := &idleQueue{cancel: cancel}
			p := &esm.Poller{API: q, Function: "F", QueueURL: "http://q/idle", Concurrency: 1, WaitSeconds: tc.wait,
				Handler: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
					t.Error("invoked for an empty receive")
					return events.SQSEventResponse{}, nil
				}}
			p.Run(ctx)
			for i, w := range q.waits {
				if w != tc.want {
					t.Errorf("receive %d waited %d s, want %d", i+1, w, tc.want)
				}
			}
		})
	}
}
