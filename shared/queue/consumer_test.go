package queue_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/esm"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/logging"
	"github.com/tucanlink/wacloud/shared/queue"
)

// recordingSQS is the real client, recording visibility changes.
type recordingSQS struct {
	*sqs.Client
	mu  sync.Mutex
	vis map[string]int32 // receipt handle -> timeout
}

func (r *recordingSQS) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	r.mu.Lock()
	r.vis[aws.ToString(in.ReceiptHandle)] = in.VisibilityTimeout
	r.mu.Unlock()
	return r.Client.ChangeMessageVisibility(ctx, in, opts...)
}

type queues struct {
	api           *recordingSQS
	src, dlq      string
	ctx           context.Context
	receiveEvents func() events.SQSEvent
}

func newQueues(t *testing.T) *queues {
	t.Helper()
	emu := awsemu.StartTest(t)
	c := sqs.NewFromConfig(emu.Config())
	ctx := context.Background()
	suffix := fmt.Sprint(time.Now().UnixNano())
	mk := func(name string) string {
		out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + suffix + ".fifo"), Attributes: map[string]string{"FifoQueue": "true"}})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.QueueUrl)
	}
	q := &queues{api: &recordingSQS{Client: c, vis: map[string]int32{}}, src: mk("src"), dlq: mk("dlq"), ctx: ctx}
	q.receiveEvents = func() events.SQSEvent {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.src), MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		return (&esm.Poller{}).Event(out.Messages)
	}
	return q
}

func (q *queues) send(t *testing.T, msgs ...queue.Message) {
	t.Helper()
	if err := (queue.Publisher{API: q.api}).Publish(q.ctx, q.src, msgs...); err != nil {
		t.Fatal(err)
	}
}

// retryAfterErr is an error asking for a minimum delay.
type retryAfterErr struct{ d time.Duration }

func (e retryAfterErr) Error() string             { return "busy" }
func (e retryAfterErr) RetryAfter() time.Duration { return e.d }

func TestConsumerOutcomes(t *testing.T) {
	for _, tt := range []struct {
		name        string
		concurrency int
	}{{"one record at a time", 0}, {"groups in parallel", 10}} {
		t.Run(tt.name, func(t *testing.T) { testConsumerOutcomes(t, tt.concurrency) })
	}
}

func testConsumerOutcomes(t *testing.T, concurrency int) {
	q := newQueues(t)
	q.send(t,
		queue.Message{Body: "a1 fail", GroupID: "A", DedupID: "a1"},
		queue.Message{Body: "a2 ok", GroupID: "A", DedupID: "a2"},
		queue.Message{Body: "b1 invalid", GroupID: "B", DedupID: "b1"},
		queue.Message{Body: "b2 ok", GroupID: "B", DedupID: "b2"},
		queue.Message{Body: "c1 permanent", GroupID: "C", DedupID: "c1"},
		queue.Message{Body: "d1 retry-after", GroupID: "D", DedupID: "d1"},
	)
	ev := q.receiveEvents()
	if len(ev.Records) != 6 {
		t.Fatalf("received %d records, want 6", len(ev.Records))
	}
	var mu sync.Mutex
	var ran []string
	c := queue.Consumer{
		API: q.api, QueueURL: q.src, DLQURL: q.dlq,
		Backoff:     queue.Exponential(5*time.Second, 5*time.Minute),
		Concurrency: concurrency,
		Handle: func(_ context.Context, rec events.SQSMessage) error {
			mu.Lock()
			ran = append(ran, rec.Body)
			mu.Unlock()
			switch {
			case strings.HasSuffix(rec.Body, "fail"):
				return fmt.Errorf("push: %w", fault.Retryable(errors.New("core down")))
			case strings.HasSuffix(rec.Body, "invalid"):
				return fault.Invalidf("decode: not JSON")
			case strings.HasSuffix(rec.Body, "permanent"):
				return fault.WithCode(fault.Permanent, "http_400", errors.New("core refused"))
			case strings.HasSuffix(rec.Body, "retry-after"):
				return retryAfterErr{d: 90 * time.Second}
			}
			return nil
		},
	}
	resp, err := c.Run(q.ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	failed, handle := failedBodies(ev, resp)
	if got, want := strings.Join(failed, ","), "a1 fail,a2 ok,d1 retry-after"; got != want {
		t.Errorf("batch item failures = %s, want %s", got, want)
	}
	if strings.Contains(strings.Join(ran, ","), "a2") {
		t.Errorf("a2 ran after a1 of its group failed: %v", ran)
	}
	for body, want := range map[string]int32{"a1 fail": 5, "a2 ok": 5, "d1 retry-after": 90} {
		if got := q.api.vis[handle[body]]; got != want {
			t.Errorf("visibility of %q = %d, want %d", body, got, want)
		}
	}

	out, err := q.api.ReceiveMessage(q.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.dlq), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"},
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]sqstypes.Message{}
	for _, m := range out.Messages {
		got[aws.ToString(m.Body)] = m
	}
	if len(got) != 2 {
		t.Fatalf("dead-lettered %d, want 2 (invalid and permanent)", len(got))
	}
	for body, want := range map[string][2]string{"b1 invalid": {"invalid", "decode: not JSON"}, "c1 permanent": {"permanent", "core refused"}} {
		m, ok := got[body]
		if !ok {
			t.Errorf("%q not on the DLQ", body)
			continue
		}
		if c := aws.ToString(m.MessageAttributes["wacloud-failure-class"].StringValue); c != want[0] {
			t.Errorf("%q class = %q, want %q", body, c, want[0])
		}
		if r := aws.ToString(m.MessageAttributes[queue.ReasonAttribute].StringValue); !strings.Contains(r, want[1]) {
			t.Errorf("%q reason = %q, want it to contain %q", body, r, want[1])
		}
		if g := m.Attributes["MessageGroupId"]; g != body[:1] && g != strings.ToUpper(body[:1]) {
			t.Errorf("%q DLQ group = %q, want its source group", body, g)
		}
	}
	if code := aws.ToString(got["c1 permanent"].MessageAttributes["wacloud-failure-code"].StringValue); code != "http_400" {
		t.Errorf("failure code = %q, want http_400", code)
	}
}

// Records held back behind a failed record of their FIFO group get the
// failed record's delay, not one from their own receive counts (which can
// be higher: a record that came back after its group's head), so the group
// comes back head first.
func TestConsumerHeldBackTakeHeadDelay(t *testing.T) {
	for _, tt := range []struct {
		name    string
		headErr error
		noDLQ   bool
		counts  map[string]string // body -> ApproximateReceiveCount
		want    map[string]int32  // body -> visibility set; absent: none
	}{
		{
			name:    "retried head",
			headErr: fault.Retryable(errors.New("core down")),
			counts:  map[string]string{"a1": "1", "a2": "4", "a3": "2"},
			want:    map[string]int32{"a1": 5, "a2": 5, "a3": 5},
		},
		{
			name:    "head with Retry-After",
			headErr: retryAfterErr{d: 90 * time.Second},
			counts:  map[string]string{"a1": "3", "a2": "6", "a3": "1"},
			want:    map[string]int32{"a1": 90, "a2": 90, "a3": 90},
		},
		{
			name:    "head that could not be dead-lettered",
			headErr: fault.Invalidf("decode: not JSON"),
			noDLQ:   true,
			counts:  map[string]string{"a1": "1", "a2": "5", "a3": "5"},
			want:    map[string]int32{},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueues(t)
			q.send(t,
				queue.Message{Body: "a1", GroupID: "A", DedupID: "a1"},
				queue.Message{Body: "a2", GroupID: "A", DedupID: "a2"},
				queue.Message{Body: "a3", GroupID: "A", DedupID: "a3"},
			)
			ev := q.receiveEvents()
			if len(ev.Records) != 3 {
				t.Fatalf("received %d records, want 3", len(ev.Records))
			}
			for i := range ev.Records {
				ev.Records[i].Attributes["ApproximateReceiveCount"] = tt.counts[ev.Records[i].Body]
			}
			c := queue.Consumer{
				API: q.api, QueueURL: q.src, DLQURL: q.dlq,
				Backoff: queue.Exponential(5*time.Second, 5*time.Minute),
				Handle: func(_ context.Context, rec events.SQSMessage) error {
					if rec.Body == "a1" {
						return tt.headErr
					}
					return nil
				},
			}
			if tt.noDLQ {
				c.DLQURL = ""
			}
			resp, err := c.Run(q.ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.BatchItemFailures) != 3 {
				t.Errorf("batch item failures = %v, want all three records", resp.BatchItemFailures)
			}
			for _, r := range ev.Records {
				got, set := q.api.vis[r.ReceiptHandle]
				want, wantSet := tt.want[r.Body]
				if set != wantSet || got != want {
					t.Errorf("visibility of %s (receive count %s) = %d (set %v), want %d (set %v)", r.Body, tt.counts[r.Body], got, set, want, wantSet)
				}
			}
		})
	}
}

// A record whose handling panics is dead-lettered with the reason; the
// batch's other records, running concurrently, are not taken down with it.
func TestConsumerPanic(t *testing.T) {
	for _, tt := range []struct {
		name        string
		concurrency int
	}{{"one record at a time", 0}, {"groups in parallel", 10}} {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueues(t)
			q.send(t,
				queue.Message{Body: "a1 panic", GroupID: "A", DedupID: "a1"},
				queue.Message{Body: "b1 ok", GroupID: "B", DedupID: "b1"},
			)
			ev := q.receiveEvents()
			var mu sync.Mutex
			var done []string
			c := queue.Consumer{
				API: q.api, QueueURL: q.src, DLQURL: q.dlq, Concurrency: tt.concurrency,
				Handle: func(_ context.Context, rec events.SQSMessage) error {
					if strings.HasSuffix(rec.Body, "panic") {
						var m map[string]int
						m["boom"]++
					}
					mu.Lock()
					done = append(done, rec.Body)
					mu.Unlock()
					return nil
				},
			}
			resp, err := c.Run(q.ctx, ev)
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("failures %v, err %v; want the panicking record dead-lettered", resp.BatchItemFailures, err)
			}
			if got, want := strings.Join(done, ","), "b1 ok"; got != want {
				t.Errorf("handled %s, want %s", got, want)
			}
			out, err := q.api.ReceiveMessage(q.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.dlq), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != "a1 panic" ||
				!strings.Contains(aws.ToString(out.Messages[0].MessageAttributes[queue.ReasonAttribute].StringValue), "panic") {
				t.Errorf("dead letters %+v, want a1 with a panic reason", out.Messages)
			}
		})
	}
}

func TestExponential(t *testing.T) {
	b := queue.Exponential(5*time.Second, 5*time.Minute)
	for _, tt := range []struct {
		n    int
		want time.Duration
	}{{1, 5 * time.Second}, {2, 10 * time.Second}, {4, 40 * time.Second}, {7, 5 * time.Minute}, {60, 5 * time.Minute}} {
		if got := b(tt.n); got != tt.want {
			t.Errorf("Exponential(5s, 5m)(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

// TestConsumerKeepsPersonalDataOutOfReasons dead-letters and retries
// records whose errors quote the recipient and the text of the record
// (as a validation error may): the DLQ reason attribute and every log line
// carry neither; the dead-lettered body is kept whole for the operator.
func TestConsumerKeepsPersonalDataOutOfReasons(t *testing.T) {
	const to, text = "5511987650031", "segredo do cliente"
	body := `{"job_id":"pii-1","tenant_id":"demo","to":"` + to + `","type":"text","text":{"body":"` + text + `"}}`
	for _, class := range []fault.Class{fault.Invalid, fault.Permanent, fault.Retry} {
		t.Run(class.String(), func(t *testing.T) {
			q := newQueues(t)
			q.send(t, queue.Message{Body: body, GroupID: "demo:100000000000001:pii", DedupID: "pii-1"})
			var logs bytes.Buffer
			c := queue.Consumer{
				API: q.api, QueueURL: q.src, DLQURL: q.dlq, Log: logging.NewWriter(&logs, "sender", slog.LevelDebug),
				Backoff: queue.Exponential(time.Second, time.Minute),
				Handle: func(_ context.Context, rec events.SQSMessage) error {
					return fault.WithCode(class, "x", fmt.Errorf(`invalid outbound job: to %q is not an E.164 number; text.body %q; phone number 100000000000001`, to, text))
				},
			}
			if _, err := c.Run(q.ctx, q.receiveEvents()); err != nil {
				t.Fatal(err)
			}
			var attrs []string
			if class != fault.Retry {
				out, err := q.api.ReceiveMessage(q.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.dlq), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
				if err != nil || len(out.Messages) != 1 {
					t.Fatalf("dead letters %v, %v; want one", out.Messages, err)
				}
				if aws.ToString(out.Messages[0].Body) != body {
					t.Errorf("dead-lettered body changed: %s", aws.ToString(out.Messages[0].Body))
				}
				for k, v := range out.Messages[0].MessageAttributes {
					attrs = append(attrs, k+"="+aws.ToString(v.StringValue))
				}
				if r := aws.ToString(out.Messages[0].MessageAttributes[queue.ReasonAttribute].StringValue); !strings.Contains(r, "100000000000001") {
					t.Errorf("reason %q lost the ids an operator needs", r)
				}
			}
			for _, where := range append(attrs, strings.Split(logs.String(), "\n")...) {
				if strings.Contains(where, to) || strings.Contains(where, text) {
					t.Errorf("personal data in %q", where)
				}
			}
			if logs.Len() == 0 {
				t.Error("nothing logged")
			}
		})
	}
}

// With Lane set, records of a standard queue that share a lane run one
// after another in batch order and are held back after a failure, as a
// FIFO group's are; other lanes run beside them.
func TestConsumerLanes(t *testing.T) {
	q := newQueues(t)
	bodies := []string{"x1", "y1", "x2 fail", "y2", "x3", "z1"}
	var msgs []queue.Message
	for i, b := range bodies {
		msgs = append(msgs, queue.Message{Body: b, GroupID: fmt.Sprint("g", i), DedupID: fmt.Sprint("d", i)})
	}
	q.send(t, msgs...)
	ev := q.receiveEvents()
	if len(ev.Records) != len(bodies) {
		t.Fatalf("received %d records, want %d", len(ev.Records), len(bodies))
	}
	for i := range ev.Records {
		// As a standard queue hands them out: no group.
		delete(ev.Records[i].Attributes, "MessageGroupId")
	}
	var mu sync.Mutex
	var ran []string
	active := map[string]int{}
	overlap := false
	c := queue.Consumer{
		API: q.api, QueueURL: q.src, DLQURL: q.dlq,
		Backoff:     queue.Exponential(5*time.Second, 5*time.Minute),
		Concurrency: 10,
		Lane:        func(rec events.SQSMessage) string { return rec.Body[:1] },
		Handle: func(_ context.Context, rec events.SQSMessage) error {
			lane := rec.Body[:1]
			mu.Lock()
			ran = append(ran, rec.Body)
			active[lane]++
			overlap = overlap || active[lane] > 1
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			active[lane]--
			mu.Unlock()
			if strings.HasSuffix(rec.Body, "fail") {
				return fault.Retryable(errors.New("core down"))
			}
			return nil
		},
	}
	resp, err := c.Run(q.ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if overlap {
		t.Errorf("records of one lane ran at the same time: %v", ran)
	}
	var xs []string
	for _, b := range ran {
		if b[0] == 'x' {
			xs = append(xs, b)
		}
	}
	if fmt.Sprint(xs) != "[x1 x2 fail]" {
		t.Errorf("lane x ran %v, want [x1 x2 fail] (x3 held back)", xs)
	}
	failed, handle := failedBodies(ev, resp)
	if got := strings.Join(failed, ","); got != "x2 fail,x3" {
		t.Errorf("batch item failures = %s, want x2 fail,x3", got)
	}
	if got := q.api.vis[handle["x3"]]; got != 5 {
		t.Errorf("visibility of the held-back x3 = %d, want x2's 5", got)
	}
}

// failedBodies returns the bodies of resp's batch item failures, in
// order, and each record's receipt handle by body.
func failedBodies(ev events.SQSEvent, resp events.SQSEventResponse) (failed []string, handle map[string]string) {
	byID := map[string]string{}
	handle = map[string]string{}
	for _, r := range ev.Records {
		byID[r.MessageId] = r.Body
		handle[r.Body] = r.ReceiptHandle
	}
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, byID[f.ItemIdentifier])
	}
	return failed, handle
}
