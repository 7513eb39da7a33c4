package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/esm"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/bridge"
	"github.com/tucanlink/wacloud/shared/core"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/event/eventtest"
	"github.com/tucanlink/wacloud/shared/inbound"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/webhook"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

const (
	coreToken   = "core-bearer-token"
	coreSigning = "core-signing-secret"
	appSecret   = "platform-app-secret"
)

// visibilitySQS is the real client, recording visibility changes.
type visibilitySQS struct {
	*sqs.Client
	mu       sync.Mutex
	timeouts []int32
}

func (v *visibilitySQS) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	v.mu.Lock()
	v.timeouts = append(v.timeouts, in.VisibilityTimeout)
	v.mu.Unlock()
	return v.Client.ChangeMessageVisibility(ctx, in, opts...)
}

// coreSink is a core that checks what the bridge sends and answers status
// (or 500 for the events in fail). It records every push, per FIFO group,
// and whether two pushes of one group were ever in flight together.
type coreSink struct {
	t        *testing.T
	mu       sync.Mutex
	status   int
	attempts int
	events   []json.RawMessage
	keys     []string
	// fail: event id → pushes still to answer 500 (negative: every push).
	fail map[string]int
	// pushes: event id → pushes received; log: per group, each push's
	// event name (see name), failed ones marked with "!".
	pushes map[string]int
	log    map[string][]string
	name   func(eventID string) string
	// together, when set, holds the first pushes until that many are in
	// flight at once.
	together    *barrier
	inFlight    int
	maxInFlight int
	busy        map[string]bool
	overlap     []string
}

func (c *coreSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get("Authorization") != "Bearer "+coreToken || !core.VerifySignature(coreSigning, body, r.Header.Get(core.SignatureHeader)) {
		c.t.Errorf("push not authenticated or not signed: %v", r.Header)
		w.WriteHeader(401)
		return
	}
	var ev event.Event
	_ = json.Unmarshal(body, &ev)
	group := ev.OrderKey()
	c.mu.Lock()
	c.attempts++
	if c.pushes == nil {
		c.pushes, c.log, c.busy = map[string]int{}, map[string][]string{}, map[string]bool{}
	}
	c.pushes[ev.EventID]++
	if c.busy[group] {
		c.overlap = append(c.overlap, group)
	}
	c.busy[group] = true
	c.inFlight++
	c.maxInFlight = max(c.maxInFlight, c.inFlight)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight--
		c.busy[group] = false
		c.mu.Unlock()
	}()
	if c.together != nil {
		if err := c.together.wait(5 * time.Second); err != nil {
			c.t.Error(err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	name := ev.EventID
	if c.name != nil {
		name = c.name(ev.EventID)
	}
	status := c.status
	if n := c.fail[ev.EventID]; n != 0 {
		status = 500
		if n > 0 {
			c.fail[ev.EventID]--
		}
	}
	if status != 0 && status != 200 {
		c.log[group] = append(c.log[group], name+"!")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"error":"rejected by test core"}`)
		return
	}
	c.log[group] = append(c.log[group], name)
	c.events = append(c.events, body)
	c.keys = append(c.keys, r.Header.Get(core.IdempotencyHeader))
}

// barrier holds its first n arrivals until all n have arrived; later ones
// pass. An arrival gives up after a while, so a bridge that pushes fewer
// events at once than expected fails the test instead of hanging it.
type barrier struct {
	mu      sync.Mutex
	n       int
	arrived int
	open    chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, open: make(chan struct{})} }

func (b *barrier) wait(giveUp time.Duration) error {
	b.mu.Lock()
	b.arrived++
	if b.arrived == b.n {
		close(b.open)
	}
	late := b.arrived > b.n
	b.mu.Unlock()
	if late {
		return nil
	}
	select {
	case <-b.open:
		return nil
	case <-time.After(giveUp):
		return fmt.Errorf("only %d of %d pushes in flight at once: groups were not pushed concurrently", b.arrived, b.n)
	}
}

type env struct {
	t      *testing.T
	ctx    context.Context
	cfg    aws.Config
	st     *stack.Stack
	sqs    *sqs.Client
	sink   *coreSink
	getenv func(fn string) func(string) string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	emu := awsemu.StartTest(t)
	cfg := emu.Config()
	st := stack.Fresh(t, cfg, stack.Options{})
	sink := &coreSink{t: t}
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	e := &env{t: t, ctx: ctx, cfg: cfg, st: st, sqs: sqs.NewFromConfig(cfg), sink: sink}
	e.getenv = func(fn string) func(string) string {
		return func(k string) string {
			switch k {
			case "S3_USE_PATH_STYLE":
				return "true"
			case "CORE_URL":
				return srv.URL
			}
			return st.Functions[fn].Env[k]
		}
	}
	sm := secretsmanager.NewFromConfig(cfg)
	for id, v := range map[string]string{
		e.getenv("BridgeFunction")("CORE_SECRET_ID"):              `{"bearer_token":"` + coreToken + `","signing_secret":"` + coreSigning + `"}`,
		e.getenv("WebhookFunction")("PLATFORM_WEBHOOK_SECRET_ID"): `{"app_secret":"` + appSecret + `","verify_token":"v"}`,
	} {
		if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) bridge() (*bridge.Handler, *visibilitySQS) {
	e.t.Helper()
	h, err := bridge.Setup(e.ctx, e.getenv("BridgeFunction"), e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	v := &visibilitySQS{Client: e.sqs}
	h.Consumer.API = v
	h.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	h.Metrics = nil
	h.ConfirmPause = 0
	return h, v
}

func (e *env) url(name string) string { return e.st.Functions["BridgeFunction"].Env[name] }

func (e *env) receive(url string) []sqstypes.Message {
	e.t.Helper()
	out, err := awsemu.Receive(e.ctx, e.sqs, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out.Messages
}

// pump feeds queueURL to handle like the event source mapping, until
// nothing is visible; it returns how many records were reported failed.
func (e *env) pump(queueURL string, handle esm.Handler) int {
	e.t.Helper()
	failed := 0
	for {
		msgs := e.receive(queueURL)
		if len(msgs) == 0 {
			return failed
		}
		resp, err := handle(e.ctx, (&esm.Poller{}).Event(msgs))
		if err != nil {
			e.t.Fatal(err)
		}
		bad := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			bad[f.ItemIdentifier] = true
		}
		failed += len(bad)
		for _, m := range msgs {
			if !bad[aws.ToString(m.MessageId)] {
				_, _ = e.sqs.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle})
			}
		}
		if len(bad) > 0 {
			return failed // the rest waits for its visibility timeout
		}
	}
}

func testEvent(id string) event.Event {
	return event.Event{SchemaVersion: event.SchemaVersion, EventID: event.ID("test", id), Type: event.TypeMessageReceived,
		TenantID: "acme", PhoneNumberID: "111", OccurredAt: "2026-01-02T03:04:05Z",
		Contact: &event.Contact{WaID: "5511999"}, Message: &event.Message{ID: "wamid." + id, Kind: "text", Text: &event.Text{Body: "hi"}}}
}

func (e *env) publishEvents(evs ...event.Event) {
	e.t.Helper()
	for _, ev := range evs {
		m, err := queue.EventMessage(ev)
		if err != nil {
			e.t.Fatal(err)
		}
		if err := (queue.Publisher{API: e.sqs}).Publish(e.ctx, e.url("CORE_EVENTS_QUEUE_URL"), m); err != nil {
			e.t.Fatal(err)
		}
	}
}

func TestBridgeOutcomes(t *testing.T) {
	tests := []struct {
		name       string
		coreStatus int
		body       string // raw queue body instead of an event
		delivered  int
		failed     int
		deadLetter string // reason substring, when the record goes to the DLQ
		visibility int32  // expected delay set on a retry
	}{
		{name: "accepted", coreStatus: 200, delivered: 1},
		{name: "core down", coreStatus: 503, failed: 1, visibility: 5},
		{name: "throttled", coreStatus: 429, failed: 1, visibility: 5},
		{name: "rejected", coreStatus: 400, deadLetter: "core answered 400"},
		{name: "invalid event", coreStatus: 200, body: `{"event_id":`, deadLetter: "decode core event"},
		{name: "event without id", coreStatus: 200, body: `{"type":"message.received"}`, deadLetter: "event_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.sink.status = tt.coreStatus
			if tt.body != "" {
				if err := (queue.Publisher{API: e.sqs}).Publish(e.ctx, e.url("CORE_EVENTS_QUEUE_URL"), queue.Message{Body: tt.body, GroupID: "g", DedupID: "d"}); err != nil {
					t.Fatal(err)
				}
			} else {
				e.publishEvents(testEvent("1"))
			}
			h, vis := e.bridge()
			if got, want := e.pump(e.url("CORE_EVENTS_QUEUE_URL"), h.Handle), tt.failed; got != want {
				t.Errorf("failed records = %d, want %d", got, want)
			}
			if got, want := len(e.sink.events), tt.delivered; got != want {
				t.Errorf("delivered = %d, want %d", got, want)
			}
			if tt.delivered > 0 {
				if got, want := e.sink.keys[0], event.ID("test", "1"); got != want {
					t.Errorf("Idempotency-Key = %q, want the event id %q", got, want)
				}
				eventtest.ValidateJSON(t, e.sink.events[0])
			}
			if tt.visibility != 0 && (len(vis.timeouts) != 1 || vis.timeouts[0] != tt.visibility) {
				t.Errorf("visibility changes = %v, want [%d]", vis.timeouts, tt.visibility)
			}
			dl := e.receive(e.url("CORE_EVENTS_DLQ_URL"))
			if tt.deadLetter == "" {
				if len(dl) != 0 {
					t.Errorf("dead-lettered = %d, want none", len(dl))
				}
				return
			}
			if len(dl) != 1 {
				t.Fatalf("dead-lettered = %d, want 1", len(dl))
			}
			r := dl[0].MessageAttributes[queue.ReasonAttribute]
			if r.StringValue == nil || !strings.Contains(*r.StringValue, tt.deadLetter) {
				t.Errorf("reason = %v, want it to mention %q", r.StringValue, tt.deadLetter)
			}
			if strings.Contains(*r.StringValue, coreToken) || strings.Contains(*r.StringValue, coreSigning) {
				t.Errorf("reason leaks a secret: %s", *r.StringValue)
			}
		})
	}
}

// After a failed push, the rest of the contact's events wait: the core sees
// a group's events in order.
func TestBridgeKeepsGroupOrder(t *testing.T) {
	e := newEnv(t)
	e.publishEvents(testEvent("1"), testEvent("2"), testEvent("3"))
	e.sink.status = 503
	h, _ := e.bridge()
	// Retry at once instead of after the real backoff, so the test needs
	// no clock: a zero visibility timeout makes the records visible again.
	h.Consumer.Backoff = func(int) time.Duration { return time.Nanosecond }
	e.pump(e.url("CORE_EVENTS_QUEUE_URL"), h.Handle)
	if len(e.sink.events) != 0 {
		t.Fatalf("delivered %d events while the core was down", len(e.sink.events))
	}
	// The core is back; make the held records visible again, as their
	// visibility timeout would.
	if got, want := e.sink.attempts, 1; got != want {
		t.Errorf("push attempts while down = %d, want %d: the rest of the group must wait", got, want)
	}
	e.sink.status = 200
	e.pump(e.url("CORE_EVENTS_QUEUE_URL"), h.Handle)
	var ids []string
	for _, b := range e.sink.events {
		var ev event.Event
		_ = json.Unmarshal(b, &ev)
		ids = append(ids, ev.EventID)
	}
	if got, want := strings.Join(ids, ","), strings.Join([]string{event.ID("test", "1"), event.ID("test", "2"), event.ID("test", "3")}, ","); got != want {
		t.Errorf("core received %s, want %s", got, want)
	}
}

// Signed webhook in, event at the core: the same payload posted three times
// at once reaches the core once per message.
func TestWebhookToCoreOnce(t *testing.T) {
	e := newEnv(t)
	reg := &tenant.Registry{API: dynamodb.NewFromConfig(e.cfg), Table: e.getenv("InboundFunction")("TENANTS_TABLE")}
	if err := reg.Put(e.ctx, tenant.Tenant{ID: "acme", SecretID: "wacloud/tenants/acme"},
		[]tenant.Number{{PhoneNumberID: "106540352242922", WABAID: "419561257915477"}}); err != nil {
		t.Fatal(err)
	}
	wh, err := webhook.Setup(e.ctx, e.getenv("WebhookFunction"), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	in, err := inbound.Setup(e.ctx, e.getenv("InboundFunction"), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	br, _ := e.bridge()
	for _, h := range []any{wh, in} {
		switch h := h.(type) {
		case *webhook.Handler:
			h.Log, h.Metrics = slog.New(slog.NewJSONHandler(io.Discard, nil)), nil
		case *inbound.Handler:
			h.Log, h.Metrics = slog.New(slog.NewJSONHandler(io.Discard, nil)), nil
		}
	}

	body, err := os.ReadFile(filepath.Join("testdata", "webhooks", "text.json"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := postReq(body, whatsapp.Sign(appSecret, body))
			resp, err := wh.Handle(e.ctx, req)
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("webhook answered %d, %v", resp.StatusCode, err)
			}
		}()
	}
	wg.Wait()
	if failed := e.pump(e.getenv("InboundFunction")("INBOUND_QUEUE_URL"), in.Handle); failed != 0 {
		t.Fatalf("inbound failed %d records", failed)
	}
	if failed := e.pump(e.url("CORE_EVENTS_QUEUE_URL"), br.Handle); failed != 0 {
		t.Fatalf("bridge failed %d records", failed)
	}
	if got := len(e.sink.events); got != 1 {
		t.Fatalf("core received %d events, want 1", got)
	}
	var ev event.Event
	_ = json.Unmarshal(e.sink.events[0], &ev)
	if ev.TenantID != "acme" || ev.Message == nil || ev.Message.Text == nil || ev.Message.Text.Body != "Does it come in another color?" {
		t.Errorf("event = %s", e.sink.events[0])
	}
	eventtest.ValidateJSON(t, e.sink.events[0])

	// A bad signature: 401 and nothing arrives.
	resp, _ := wh.Handle(e.ctx, postReq(body, whatsapp.Sign("wrong", body)))
	if resp.StatusCode != 401 {
		t.Errorf("bad signature answered %d", resp.StatusCode)
	}
	if got := len(e.receive(e.getenv("InboundFunction")("INBOUND_QUEUE_URL"))); got != 0 {
		t.Errorf("inbound queue holds %d units after a bad signature", got)
	}
}

func postReq(body []byte, sig string) (req webhookRequest) {
	req.RawPath = "/webhook"
	req.Body = string(body)
	req.Headers = map[string]string{"x-hub-signature-256": sig}
	req.RequestContext.HTTP.Method = "POST"
	return req
}

type webhookRequest = events.APIGatewayV2HTTPRequest
