package awsemu

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// cutFirstReceive is an HTTP client whose first ReceiveMessage answer
// breaks off after a few bytes, as when the connection closes under the
// SDK while it reads the answer: SQS has handed the messages out, the
// caller never sees them.
type cutFirstReceive struct {
	next aws.HTTPClient
	cut  atomic.Bool
}

func (c *cutFirstReceive) Do(r *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(r)
	if err != nil || r.Header.Get("X-Amz-Target") != "AmazonSQS.ReceiveMessage" || !c.cut.CompareAndSwap(false, true) {
		return resp, err
	}
	resp.Body = &brokenBody{rc: resp.Body, left: 16}
	return resp, nil
}

type brokenBody struct {
	rc   io.ReadCloser
	left int
}

func (b *brokenBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, fmt.Errorf("read tcp: %w", net.ErrClosed)
	}
	n, err := b.rc.Read(p[:min(len(p), b.left)])
	b.left -= n
	return n, err
}

func (b *brokenBody) Close() error { return b.rc.Close() }

// A receive whose answer is lost leaves its messages in flight: the SDK's
// own retry finds none of them, Receive waits for them to come back.
func TestReceiveSurvivesALostAnswer(t *testing.T) {
	emu := StartTest(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		fifo bool
	}{{"standard queue", false}, {"FIFO queue through the front", true}} {
		t.Run(tc.name, func(t *testing.T) {
			plain := sqs.NewFromConfig(emu.Config())
			name, attrs := uniqueName("receive"), map[string]string{}
			if tc.fifo {
				name, attrs = name+".fifo", map[string]string{"FifoQueue": "true"}
			}
			q, err := plain.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
			if err != nil {
				t.Fatal(err)
			}
			send := func(body string) {
				in := &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(body)}
				if tc.fifo {
					in.MessageGroupId, in.MessageDeduplicationId = aws.String("g-"+body), aws.String(body)
				}
				if _, err := plain.SendMessage(ctx, in); err != nil {
					t.Fatal(err)
				}
			}
			cutting := func() *sqs.Client {
				cfg := emu.Config()
				cfg.HTTPClient = &cutFirstReceive{next: cfg.HTTPClient}
				return sqs.NewFromConfig(cfg)
			}
			in := &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 1}

			// The SDK's own retry: the first answer's messages are gone
			// for the caller.
			send("a")
			out, err := cutting().ReceiveMessage(ctx, in)
			if err != nil {
				t.Fatalf("SDK retry: %v", err)
			}
			if len(out.Messages) != 0 {
				t.Fatalf("SDK retry received %d messages; the lost answer's message should still be in flight", len(out.Messages))
			}

			send("b")
			var bodies []string
			r := Receiver{Client: cutting(), Hold: 1}
			for len(bodies) < 2 {
				out, err := r.Receive(ctx, in)
				if err != nil {
					t.Fatal(err)
				}
				msgs := out.Messages
				if len(msgs) == 0 {
					t.Fatalf("received %v, then nothing; want a and b", bodies)
				}
				for _, m := range msgs {
					bodies = append(bodies, aws.ToString(m.Body))
					if _, err := plain.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
						t.Fatal(err)
					}
				}
			}
			sort.Strings(bodies)
			if fmt.Sprint(bodies) != "[a b]" {
				t.Errorf("bodies = %v, want [a b]", bodies)
			}
		})
	}
}
