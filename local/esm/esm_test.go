package esm

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/lambdactx"
)

type testQueue struct {
	c        *sqs.Client
	url, arn string
}

// runs numbers each run of a test: go test -count=N runs a test again in
// the same binary, where the emulator (kumo keeps its state per process,
// not per server) still holds the previous run's queues with their
// messages, in-flight receives and deduplication entries.
var (
	runs   sync.Map // *testing.T → int64
	runSeq atomic.Int64
)

func runOf(t *testing.T) int64 {
	v, _ := runs.LoadOrStore(t, runSeq.Add(1))
	return v.(int64)
}

// runQueue is name made unique to this run of the test; a FIFO queue
// keeps its .fifo suffix.
func runQueue(t *testing.T, name string) string {
	base, fifo := strings.CutSuffix(name, ".fifo")
	name = fmt.Sprintf("%s-r%d", base, runOf(t))
	if fifo {
		name += ".fifo"
	}
	return name
}

// newQueue creates a queue of this run of the test (see runQueue).
func newQueue(t *testing.T, c *sqs.Client, name string, attrs map[string]string) testQueue {
	t.Helper()
	ctx := context.Background()
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(runQueue(t, name)), Attributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	ga, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	return testQueue{c: c, url: aws.ToString(out.QueueUrl), arn: ga.Attributes["QueueArn"]}
}

func (q testQueue) send(t *testing.T, body, group string) {
	t.Helper()
	in := &sqs.SendMessageInput{QueueUrl: aws.String(q.url), MessageBody: aws.String(body),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String("test")}}}
	if group != "" {
		in.MessageGroupId, in.MessageDeduplicationId = aws.String(group), aws.String(body)
	}
	if _, err := q.c.SendMessage(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

// count returns visible plus in-flight messages.
func (q testQueue) count(t *testing.T) int {
	t.Helper()
	out, err := q.c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	b, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesNotVisible"])
	return a + b
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startPoller(t *testing.T, p *Poller) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// recorder is a handler that remembers what it saw and fails records whose
// body is in fail (by count of remaining failures).
type recorder struct {
	mu      sync.Mutex
	seen    []events.SQSMessage
	fail    map[string]int
	errBody string
}

func (r *recorder) handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var resp events.SQSEventResponse
	for _, rec := range ev.Records {
		r.seen = append(r.seen, rec)
		if rec.Body == r.errBody {
			return resp, fmt.Errorf("function error")
		}
		if r.fail[rec.Body] > 0 {
			r.fail[rec.Body]--
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	if lambdactx.Function(ctx) == "" {
		return resp, fmt.Errorf("no Lambda context")
	}
	return resp, nil
}

func (r *recorder) bodies() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.seen {
		out = append(out, rec.Body)
	}
	return out
}

func (r *recorder) timesSeen(body string) int {
	n := 0
	for _, b := range r.bodies() {
		if b == body {
			n++
		}
	}
	return n
}

func TestPollerDeliversAndDeletes(t *testing.T) {
	emu := awsemu.StartTest(t)
	c := sqs.NewFromConfig(emu.Config())
	q := newQueue(t, c, "deliver", map[string]string{"VisibilityTimeout": "1"})
	rec := &recorder{fail: map[string]int{"flaky": 1}}
	p := &Poller{API: c, Function: "TestFunction", QueueURL: q.url, QueueARN: q.arn, Region: "us-east-1",
		BatchSize: 10, ReportItemFailures: true, Timeout: 5 * time.Second, WaitSeconds: 1, Handler: rec.handle}
	for _, b := range []string{"a", "b", "flaky"} {
		q.send(t, b, "")
	}
	startPoller(t, p)

	eventually(t, "flaky delivered twice and queue empty", func() bool { return rec.timesSeen("flaky") == 2 && q.count(t) == 0 })
	for _, b := range []string{"a", "b"} {
		if got := rec.timesSeen(b); got != 1 {
			t.Errorf("%q delivered %d times, want 1", b, got)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, r := range rec.seen {
		if r.EventSource != "aws:sqs" || r.EventSourceARN != q.arn || r.AWSRegion != "us-east-1" {
			t.Errorf("record source = %q %q %q", r.EventSource, r.EventSourceARN, r.AWSRegion)
		}
		if r.Attributes["SentTimestamp"] == "" || r.Attributes["ApproximateReceiveCount"] == "" {
			t.Errorf("record attributes = %v", r.Attributes)
		}
		if got := r.MessageAttributes["kind"]; aws.ToString(got.StringValue) != "test" || got.DataType != "String" {
			t.Errorf("message attribute kind = %+v", got)
		}
		if r.Body == "flaky" && r.Attributes["ApproximateReceiveCount"] == "2" {
			return
		}
	}
	t.Errorf("the redelivered record did not carry ApproximateReceiveCount 2")
}

func TestPollerLeavesBatchOnFunctionError(t *testing.T) {
	emu := awsemu.StartTest(t)
	c := sqs.NewFromConfig(emu.Config())
	dlq := newQueue(t, c, "err-dlq", nil)
	rp, _ := json.Marshal(map[string]string{"deadLetterTargetArn": dlq.arn, "maxReceiveCount": "2"})
	q := newQueue(t, c, "err", map[string]string{"VisibilityTimeout": "1", "RedrivePolicy": string(rp)})
	rec := &recorder{errBody: "poison"}
	p := &Poller{API: c, Function: "TestFunction", QueueURL: q.url, QueueARN: q.arn, Region: "us-east-1",
		BatchSize: 1, ReportItemFailures: true, Timeout: 5 * time.Second, WaitSeconds: 1, Handler: rec.handle}
	q.send(t, "poison", "")
	startPoller(t, p)

	// The queue's redrive policy, not the poller, moves it after two receives.
	eventually(t, "poison on the DLQ", func() bool { return dlq.count(t) == 1 })
	if got := rec.timesSeen("poison"); got != 2 {
		t.Errorf("poison delivered %d times, want maxReceiveCount 2", got)
	}
	if got := q.count(t); got != 0 {
		t.Errorf("source queue still holds %d messages", got)
	}
}

// A FIFO group is never in two invocations at once, and its records arrive
// in order, even with several concurrent pollers and small batches.
func TestPollerKeepsFIFOGroupsSerial(t *testing.T) {
	emu := awsemu.StartTest(t)
	c := sqs.NewFromConfig(emu.Config())
	q := newQueue(t, c, "order.fifo", map[string]string{"FifoQueue": "true", "VisibilityTimeout": "30"})
	var mu sync.Mutex
	active := map[string]int{}
	overlap := false
	order := map[string][]string{}
	h := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		groups := map[string]bool{}
		mu.Lock()
		for _, r := range ev.Records {
			g := r.Attributes["MessageGroupId"]
			if g == "" {
				mu.Unlock()
				return events.SQSEventResponse{}, fmt.Errorf("record without MessageGroupId")
			}
			if !groups[g] {
				groups[g] = true
				active[g]++
				if active[g] > 1 {
					overlap = true
				}
			}
			order[g] = append(order[g], r.Body)
		}
		mu.Unlock()
		time.Sleep(5 * time.Millisecond) // hold the group in flight while others poll
		mu.Lock()
		for g := range groups {
			active[g]--
		}
		mu.Unlock()
		return events.SQSEventResponse{}, nil
	}
	const perGroup = 8
	for i := range perGroup {
		for _, g := range []string{"g1", "g2"} {
			q.send(t, fmt.Sprintf("%s-%02d", g, i), g)
		}
	}
	p := &Poller{API: c, Function: "TestFunction", QueueURL: q.url, QueueARN: q.arn, Region: "us-east-1",
		BatchSize: 3, ReportItemFailures: true, Timeout: 5 * time.Second, Concurrency: 4, WaitSeconds: 1, Handler: h}
	startPoller(t, p)
	eventually(t, "all messages processed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order["g1"])+len(order["g2"]) == 2*perGroup && q.count(t) == 0
	})
	mu.Lock()
	defer mu.Unlock()
	if overlap {
		t.Error("a message group was in two invocations at once")
	}
	for _, g := range []string{"g1", "g2"} {
		for i, b := range order[g] {
			if want := fmt.Sprintf("%s-%02d", g, i); b != want {
				t.Errorf("group %s record %d = %q, want %q (order %v)", g, i, b, want, order[g])
				break
			}
		}
	}
}

// Records of a FIFO group that fail together and come back after their
// visibility timeout are handed over again in order, also when the batch is
// too small to hold them all and other groups come back at the same time.
func TestPollerKeepsFIFOOrderThroughRedelivery(t *testing.T) {
	for _, tt := range []struct {
		name                    string
		groups, perGroup, batch int
		failFirstDeliveries     int // per group, of the batches holding its head
	}{
		{name: "five groups, batch of three", groups: 5, perGroup: 6, batch: 3, failFirstDeliveries: 2},
		{name: "ten groups, batch of ten", groups: 10, perGroup: 4, batch: 10, failFirstDeliveries: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			emu := awsemu.StartTest(t)
			c := sqs.NewFromConfig(emu.Config())
			q := newQueue(t, c, "redeliver.fifo", map[string]string{"FifoQueue": "true", "VisibilityTimeout": "1"})
			for g := range tt.groups {
				for i := range tt.perGroup {
					q.send(t, fmt.Sprintf("g%02d-%02d", g, i), fmt.Sprintf("g%02d", g))
				}
			}
			var mu sync.Mutex
			failsLeft := map[string]int{}
			done := map[string][]string{}
			h := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				mu.Lock()
				defer mu.Unlock()
				var resp events.SQSEventResponse
				failing := map[string]bool{}
				for _, r := range ev.Records {
					g := r.Attributes["MessageGroupId"]
					if _, seen := failsLeft[g]; !seen {
						failsLeft[g] = tt.failFirstDeliveries
					}
					if !failing[g] && failsLeft[g] > 0 && len(done[g]) == 0 {
						failsLeft[g]--
						failing[g] = true
					}
					if failing[g] {
						// The group's head failed: it and the rest of the
						// group in the batch come back later.
						resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
						continue
					}
					done[g] = append(done[g], r.Body)
				}
				return resp, nil
			}
			p := &Poller{API: c, Function: "TestFunction", QueueURL: q.url, QueueARN: q.arn, Region: "us-east-1",
				BatchSize: tt.batch, ReportItemFailures: true, Timeout: 5 * time.Second, Concurrency: 2, WaitSeconds: 1, Handler: h}
			startPoller(t, p)
			eventually(t, "every message processed", func() bool {
				mu.Lock()
				defer mu.Unlock()
				n := 0
				for _, d := range done {
					n += len(d)
				}
				return n == tt.groups*tt.perGroup && q.count(t) == 0
			})
			mu.Lock()
			defer mu.Unlock()
			for g := range tt.groups {
				group := fmt.Sprintf("g%02d", g)
				for i, b := range done[group] {
					if want := fmt.Sprintf("%s-%02d", group, i); b != want {
						t.Errorf("group %s record %d = %s, want %s (order %v)", group, i, b, want, done[group])
						break
					}
				}
			}
		})
	}
}
