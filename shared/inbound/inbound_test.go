package inbound_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/coresink"
	"github.com/tucanlink/wacloud/local/esm"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/dedup"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/event/eventtest"
	"github.com/tucanlink/wacloud/shared/identity"
	"github.com/tucanlink/wacloud/shared/inbound"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/suppression"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/whatsapp"
	"github.com/tucanlink/wacloud/shared/window"
)

const (
	coreToken   = "core-bearer-token"
	coreSigning = "core-signing-secret"
)

// coreSink is the local core stand-in (package coresink: bearer token,
// signature and Idempotency-Key checked, repeats counted as duplicates);
// take hands out what it accepted since the last take.
type coreSink struct {
	*coresink.Sink
	t    *testing.T
	seen int
}

func (c *coreSink) take() []json.RawMessage {
	c.t.Helper()
	st := c.Stats()
	if st.Unauthorized+st.BadSignature+st.BadRequest > 0 {
		c.t.Errorf("pushes the core refused as unauthenticated, unsigned or malformed: %+v", st)
	}
	evs := c.Events()
	out := evs[c.seen:]
	c.seen = len(evs)
	return out
}

type env struct {
	t      *testing.T
	ctx    context.Context
	sqs    *sqs.Client
	s3     *s3.Client
	reg    *tenant.Registry
	ddb    *dynamodb.Client
	getenv func(string) string
	h      *inbound.Handler
	core   *coreSink
	emf    *bytes.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	emu := awsemu.StartTest(t)
	st := stack.Fresh(t, emu.Config(), stack.Options{})
	fn := st.Functions["InboundFunction"]
	sink := &coreSink{Sink: coresink.New(coresink.Config{Path: fn.Env["CORE_EVENTS_PATH"], BearerToken: coreToken, SigningSecret: coreSigning,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}), t: t}
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	getenv := func(k string) string {
		switch k {
		case "S3_USE_PATH_STYLE":
			return "true"
		case "CORE_URL":
			return srv.URL
		}
		return fn.Env[k]
	}
	cfg := emu.Config()
	if _, err := secretsmanager.NewFromConfig(cfg).PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:     aws.String(getenv("CORE_SECRET_ID")),
		SecretString: aws.String(`{"bearer_token":"` + coreToken + `","signing_secret":"` + coreSigning + `"}`),
	}); err != nil {
		t.Fatal(err)
	}
	h, err := inbound.Setup(ctx, getenv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, sqs: sqs.NewFromConfig(cfg),
		s3:     s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
		ddb:    dynamodb.NewFromConfig(cfg),
		getenv: getenv, h: h, core: sink, emf: &bytes.Buffer{},
	}
	e.reg = &tenant.Registry{API: e.ddb, Table: getenv("TENANTS_TABLE")}
	h.Queue = queue.Publisher{API: e.sqs}
	h.Metrics = &metrics.Recorder{Out: e.emf, Function: "inbound"}
	h.Log = slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	// Retried records stay out of sight for the rest of the test.
	h.Consumer.Backoff = queue.Exponential(time.Hour, time.Hour)
	return e
}

func (e *env) register(id string, status string, numbers ...tenant.Number) {
	e.t.Helper()
	if err := e.reg.Put(e.ctx, tenant.Tenant{ID: id, SecretID: "wacloud/tenants/" + id, Status: status}, numbers); err != nil {
		e.t.Fatal(err)
	}
}

func units(t *testing.T, file string) []whatsapp.Unit {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "webhooks", file))
	if err != nil {
		t.Fatal(err)
	}
	us, err := whatsapp.Split(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range us {
		us[i].Route = whatsapp.RoutePlatform
		us[i].ReceivedAt = "2026-01-02T03:04:05.123456789Z"
	}
	return us
}

// enqueue puts units on the inbound queue as the webhook does.
func (e *env) enqueue(us ...whatsapp.Unit) {
	e.t.Helper()
	var msgs []queue.Message
	for i, u := range us {
		b, _ := json.Marshal(u)
		msgs = append(msgs, queue.Message{Body: string(b), GroupID: u.OrderKey(), DedupID: u.OrderKey() + time.Now().String() + string(rune('a'+i))})
	}
	if err := (queue.Publisher{API: e.sqs}).Publish(e.ctx, e.getenv("INBOUND_QUEUE_URL"), msgs...); err != nil {
		e.t.Fatal(err)
	}
}

// pump runs the handler over the inbound queue like Lambda's event source
// mapping until nothing is visible, and returns the records it reported
// as failed.
func (e *env) pump() (failed int) {
	e.t.Helper()
	url := e.getenv("INBOUND_QUEUE_URL")
	for {
		msgs := e.receive(url)
		if len(msgs) == 0 {
			return failed
		}
		ev := (&esm.Poller{}).Event(msgs)
		resp, err := e.h.Handle(e.ctx, ev)
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
				_, _ = e.sqs.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
			}
		}
	}
}

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

// drain reads and deletes everything visible on a queue.
func (e *env) drain(name string) []sqstypes.Message {
	e.t.Helper()
	url := e.getenv(name)
	var all []sqstypes.Message
	for {
		msgs := e.receive(url)
		if len(msgs) == 0 {
			return all
		}
		for _, m := range msgs {
			_, _ = e.sqs.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
		}
		all = append(all, msgs...)
	}
}

func (e *env) coreEvents() []event.Event {
	e.t.Helper()
	var out []event.Event
	for _, b := range e.core.take() {
		eventtest.ValidateJSON(e.t, b)
		var ev event.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func (e *env) parked(reason string) []string {
	e.t.Helper()
	out, err := e.s3.ListObjectsV2(e.ctx, &s3.ListObjectsV2Input{Bucket: aws.String(e.getenv("DATA_BUCKET")), Prefix: aws.String("parked/" + reason + "/")})
	if err != nil {
		e.t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// Every unit of every reference payload ends up somewhere: a core event, the
// status queue, or parked with a reason. Nothing is dropped or failed.
func TestEveryReferencePayloadIsRouted(t *testing.T) {
	e := newEnv(t)
	files, _ := filepath.Glob(filepath.Join("testdata", "webhooks", "*.json"))
	numbers := map[string]tenant.Number{}
	var all []whatsapp.Unit
	for _, f := range files {
		us := units(t, filepath.Base(f))
		for _, u := range us {
			if pn := u.Metadata.PhoneNumberID; pn != "" {
				if _, ok := numbers[pn]; !ok {
					numbers[pn] = tenant.Number{PhoneNumberID: pn, WABAID: u.WABAID}
				}
			} else {
				numbers["waba-"+u.WABAID] = tenant.Number{PhoneNumberID: "waba-" + u.WABAID, WABAID: u.WABAID}
			}
		}
		all = append(all, us...)
	}
	var list []tenant.Number
	for _, n := range numbers {
		list = append(list, n)
	}
	e.register("demo", "", list...)

	// Some reference payloads carry the same Meta message (the same event
	// id): dedup rightly lets only the first through.
	ids := map[string]bool{}
	wantStatus := 0
	for _, u := range all {
		switch {
		case u.Kind == whatsapp.KindStatus, u.Kind == whatsapp.KindChange && u.Field != "messages":
			wantStatus++
		case u.Kind == whatsapp.KindChange:
		default:
			evs, err := event.Normalize(u, "demo")
			if err != nil {
				t.Fatal(err)
			}
			ids[evs[0].EventID] = true
			// A stop keyword also tells the core the contact opted out.
			if m := evs[0].Message; m != nil && m.Text != nil {
				if _, ok := suppression.Match(m.Text.Body, nil); ok {
					ids[evs[0].EventID+"/opted_out"] = true
				}
			}
		}
	}
	wantEvents := len(ids)
	for i := 0; i < len(all); i += 10 {
		e.enqueue(all[i:min(i+10, len(all))]...)
		if failed := e.pump(); failed != 0 {
			t.Fatalf("%d records failed", failed)
		}
	}
	evs := e.coreEvents()
	if got := len(evs); got != wantEvents {
		t.Errorf("core events = %d, want %d", got, wantEvents)
	}
	for _, ev := range evs {
		if ev.TenantID != "demo" {
			t.Errorf("event %s tenant = %q, want demo", ev.EventID, ev.TenantID)
		}
	}
	st := e.drain("STATUS_QUEUE_URL")
	if got := len(st); got != wantStatus {
		t.Errorf("status queue units = %d, want %d", got, wantStatus)
	}
	for _, m := range st {
		var u whatsapp.Unit
		_ = json.Unmarshal([]byte(aws.ToString(m.Body)), &u)
		if u.TenantID != "demo" {
			t.Errorf("status unit tenant = %q, want demo", u.TenantID)
		}
	}
	if got := len(e.drain("INBOUND_DLQ_URL")); got != 0 {
		t.Errorf("dead-lettered = %d, want none", got)
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	e.register("acme", "",
		tenant.Number{PhoneNumberID: "106540352242922", WABAID: "419561257915477"},
		tenant.Number{PhoneNumberID: "1122334455667", WABAID: "5467539754836534"},
		tenant.Number{PhoneNumberID: "123456123", WABAID: "0"},
		tenant.Number{PhoneNumberID: "acme-second", WABAID: "102290129340398"},
	)

	t.Run("text message", func(t *testing.T) {
		us := units(t, "text.json")
		e.enqueue(us...)
		e.pump()
		evs := e.coreEvents()
		if len(evs) != 1 {
			t.Fatalf("core events = %d, want 1", len(evs))
		}
		ev := evs[0]
		if ev.Type != event.TypeMessageReceived || ev.TenantID != "acme" || ev.PhoneNumberID != "106540352242922" {
			t.Errorf("event = %s %s %s", ev.Type, ev.TenantID, ev.PhoneNumberID)
		}
		if ev.Message == nil || ev.Message.ID != "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=" {
			t.Errorf("message = %+v", ev.Message)
		}
		st, err := window.Store{API: e.ddb, Table: e.getenv("STATE_TABLE")}.Get(e.ctx, "106540352242922", "16505551234")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := st.LastInbound.Unix(), int64(1749416383); got != want {
			t.Errorf("window last inbound = %d, want %d", got, want)
		}
		if got := len(e.drain("MEDIA_QUEUE_URL")); got != 0 {
			t.Errorf("media jobs = %d, want none", got)
		}
	})
	// Meta names the user by wa_id and business-scoped user id: the window
	// is under the wa_id, and the BSUID resolves to it, so a job answering
	// the user by BSUID finds the window.
	t.Run("message naming the user both ways", func(t *testing.T) {
		e.enqueue(units(t, "text_v25_username_bsuid.json")...)
		e.pump()
		if evs := e.coreEvents(); len(evs) != 1 {
			t.Fatalf("core events = %d, want 1", len(evs))
		}
		st, err := window.Store{API: e.ddb, Table: e.getenv("STATE_TABLE")}.Get(e.ctx, "123456123", "16315551181")
		if err != nil || st.LastInbound.Unix() != 1504902988 {
			t.Errorf("window under the wa_id: %+v, %v", st, err)
		}
		m, ok, err := (&identity.Store{API: e.ddb, Table: e.getenv("STATE_TABLE")}).Get(e.ctx, "acme", "123456123", "US.13491208655302741918")
		if err != nil || !ok || m.Identity != "16315551181" {
			t.Errorf("the BSUID resolves to %+v (%v, %v), want wa_id 16315551181", m, ok, err)
		}
	})
	t.Run("image message", func(t *testing.T) {
		us := units(t, "image.json")
		e.enqueue(us...)
		e.pump()
		evs := e.coreEvents()
		if len(evs) != 1 || evs[0].Message == nil || evs[0].Message.Media == nil {
			t.Fatalf("core events = %+v, want one media message", evs)
		}
		jobs := e.drain("MEDIA_QUEUE_URL")
		if len(jobs) != 1 {
			t.Fatalf("media jobs = %d, want 1", len(jobs))
		}
		var j queue.MediaJob
		_ = json.Unmarshal([]byte(aws.ToString(jobs[0].Body)), &j)
		if j.TenantID != "acme" || j.MediaID != evs[0].Message.Media.ID || j.MessageID != evs[0].Message.ID || j.Kind != "image" {
			t.Errorf("media job = %+v", j)
		}
	})
	for _, tt := range []struct{ file, kind string }{
		{"status_delivered.json", whatsapp.KindStatus},
		{"message_template_status_update_approved.json", whatsapp.KindChange},
	} {
		t.Run("to status queue: "+tt.file, func(t *testing.T) {
			e.enqueue(units(t, tt.file)...)
			e.pump()
			msgs := e.drain("STATUS_QUEUE_URL")
			if len(msgs) != 1 {
				t.Fatalf("status units = %d, want 1", len(msgs))
			}
			var u whatsapp.Unit
			_ = json.Unmarshal([]byte(aws.ToString(msgs[0].Body)), &u)
			if u.TenantID != "acme" || u.Kind != tt.kind {
				t.Errorf("unit tenant %q kind %q, want acme %s", u.TenantID, u.Kind, tt.kind)
			}
			if got := len(e.coreEvents()); got != 0 {
				t.Errorf("core events = %d, want none", got)
			}
		})
	}
	t.Run("value-level error", func(t *testing.T) {
		e.enqueue(units(t, "errors_value_level_130429.json")...)
		e.pump()
		evs := e.coreEvents()
		if len(evs) != 1 || evs[0].Type != event.TypeWebhookError {
			t.Fatalf("core events = %+v, want one webhook.error", evs)
		}
	})
	t.Run("contacts only", func(t *testing.T) {
		e.enqueue(units(t, "no_messages_contacts_only.json")...)
		e.pump()
		if got := len(e.coreEvents()) + len(e.parked("unhandled_change")); got != 1 {
			t.Errorf("events + parked = %d, want 1", got)
		}
	})
}

func TestParking(t *testing.T) {
	e := newEnv(t)
	e.register("acme", "", tenant.Number{PhoneNumberID: "106540352242922", WABAID: "419561257915477"})
	e.register("other", "", tenant.Number{PhoneNumberID: "123456123", WABAID: "0"})
	e.register("gone", tenant.StatusDisabled, tenant.Number{PhoneNumberID: "1122334455667", WABAID: "1234567890987654321"})

	tenantRoute := func(us []whatsapp.Unit, id string) []whatsapp.Unit {
		for i := range us {
			us[i].Route, us[i].RouteTenant = whatsapp.RouteTenant, id
		}
		return us
	}
	tests := []struct {
		name   string
		units  []whatsapp.Unit
		reason string
	}{
		{"unknown number", units(t, "video_bindambc.json"), "unknown_phone_number"},
		{"unknown WABA", units(t, "account_update_partner_added.json"), "unknown_waba"},
		{"tenant route naming another tenant's number", tenantRoute(units(t, "text.json"), "other"), "tenant_mismatch"},
		{"disabled tenant", units(t, "document.json"), "tenant_disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.enqueue(tt.units...)
			if failed := e.pump(); failed != 0 {
				t.Fatalf("%d records failed", failed)
			}
			if got := len(e.parked(tt.reason)); got != 1 {
				t.Errorf("parked as %s = %d, want 1", tt.reason, got)
			}
			if got := len(e.coreEvents()); got != 0 {
				t.Errorf("core events = %d, want none: a parked unit is never delivered", got)
			}
			if got := len(e.drain("STATUS_QUEUE_URL")); got != 0 {
				t.Errorf("status units = %d, want none", got)
			}
		})
	}
	if !strings.Contains(e.emf.String(), `"Reason":"unknown_phone_number"`) {
		t.Errorf("parking not counted by reason: %s", e.emf.String())
	}
	t.Run("tenant route with its own number", func(t *testing.T) {
		e.enqueue(tenantRoute(units(t, "text.json"), "acme")...)
		e.pump()
		evs := e.coreEvents()
		if len(evs) != 1 || evs[0].TenantID != "acme" {
			t.Errorf("core events = %+v, want one for acme", evs)
		}
	})
}

func TestInvalidUnitIsDeadLettered(t *testing.T) {
	e := newEnv(t)
	for _, body := range []string{`{not json`, `{"v":1,"route":"platform"}`, `{"v":1,"kind":"message","route":"elsewhere"}`} {
		if err := (queue.Publisher{API: e.sqs}).Publish(e.ctx, e.getenv("INBOUND_QUEUE_URL"), queue.Message{Body: body, GroupID: "g", DedupID: body}); err != nil {
			t.Fatal(err)
		}
	}
	if failed := e.pump(); failed != 0 {
		t.Fatalf("%d records left for retry, want all dead-lettered", failed)
	}
	dl := e.drain("INBOUND_DLQ_URL")
	if len(dl) != 3 {
		t.Fatalf("dead-lettered = %d, want 3", len(dl))
	}
	for _, m := range dl {
		if r := m.MessageAttributes[queue.ReasonAttribute]; r.StringValue == nil || !strings.Contains(*r.StringValue, "decode inbound unit") {
			t.Errorf("reason = %v", r.StringValue)
		}
	}
}

// The same Meta message delivered twice (two SQS messages, as after a Meta
// retry outside SQS's 5-minute window) gives one core event.
func TestDuplicateUnitGivesOneEvent(t *testing.T) {
	e := newEnv(t)
	e.register("acme", "", tenant.Number{PhoneNumberID: "106540352242922", WABAID: "419561257915477"})
	u := units(t, "text.json")[0]
	e.enqueue(u)
	e.pump()
	later := u
	later.ReceivedAt = "2026-01-09T00:00:00Z"
	e.enqueue(later)
	e.pump()
	if got, want := len(e.core.take()), 1; got != want {
		t.Errorf("core events pushed = %d, want %d", got, want)
	}
	if got, want := e.core.Stats().Requests, 1; got != want {
		t.Errorf("pushes to the core = %d, want %d", got, want)
	}
	if !strings.Contains(e.emf.String(), inbound.MetricDuplicates) {
		t.Errorf("duplicate not counted")
	}
}

// A delivery that claimed its event and failed before pushing it keeps the
// claim: Meta's later delivery of the same event is a duplicate at once
// (the first one's message is still on the queue), and the first delivery
// finishes when its message comes back, also as a new SQS message (a
// redrive from the DLQ), without waiting for any lease. The event reaches
// the core once.
func TestClaimedDeliveryFinishesItsEvent(t *testing.T) {
	e := newEnv(t)
	e.register("acme", "", tenant.Number{PhoneNumberID: "106540352242922", WABAID: "419561257915477"})
	e.core.Fail(500, 1) // the core answers 500 once
	u := units(t, "text.json")[0]

	e.enqueue(u)
	msgs := e.receive(e.getenv("INBOUND_QUEUE_URL"))
	resp, err := e.h.Handle(e.ctx, (&esm.Poller{}).Event(msgs))
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("failures = %d, %v; want the first delivery left for retry", len(resp.BatchItemFailures), err)
	}
	// Its receives run out: SQS moves it to the DLQ, which frees its group.
	if _, err := e.sqs.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(e.getenv("INBOUND_QUEUE_URL")), ReceiptHandle: msgs[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name   string
		unit   func() whatsapp.Unit
		failed int
		events int
	}{
		{"Meta delivers the event again", func() whatsapp.Unit { v := u; v.ReceivedAt = "2026-01-02T03:09:00Z"; return v }, 0, 0},
		{"the first delivery redriven as a new SQS message", func() whatsapp.Unit { return u }, 0, 1},
		{"Meta's retry after that", func() whatsapp.Unit { v := u; v.ReceivedAt = "2026-01-08T00:00:00Z"; return v }, 0, 0},
	}
	for _, st := range steps {
		e.enqueue(st.unit())
		if got := e.pump(); got != st.failed {
			t.Errorf("%s: failures = %d, want %d", st.name, got, st.failed)
		}
		if got := len(e.coreEvents()); got != st.events {
			t.Errorf("%s: core events = %d, want %d", st.name, got, st.events)
		}
	}
}

// countingDDB is the real client, counting calls by operation and table.
type countingDDB struct {
	*dynamodb.Client
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingDDB) count(op string, table *string) {
	c.mu.Lock()
	c.calls[op+" "+aws.ToString(table)]++
	c.mu.Unlock()
}

func (c *countingDDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.count("PutItem", in.TableName)
	return c.Client.PutItem(ctx, in, opts...)
}

func (c *countingDDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.count("UpdateItem", in.TableName)
	return c.Client.UpdateItem(ctx, in, opts...)
}

func (c *countingDDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.count("GetItem", in.TableName)
	return c.Client.GetItem(ctx, in, opts...)
}

// A text costs the state table two writes, the dedup claim and the
// window, and no completion write; a duplicate costs only the refused
// claim (it carries the record that tells it is one).
func TestStateTableCallsPerText(t *testing.T) {
	e := newEnv(t)
	e.register("acme", "", tenant.Number{PhoneNumberID: "106540352242922", WABAID: "419561257915477"})
	state := e.getenv("STATE_TABLE")
	c := &countingDDB{Client: e.ddb, calls: map[string]int{}}
	e.h.Dedup = dedup.Store{API: c, Table: state}
	e.h.Windows = window.Store{API: c, Table: state}
	u := units(t, "text.json")[0]
	again := u
	again.ReceivedAt = "2026-01-02T04:00:00Z"
	cases := []struct {
		name string
		unit whatsapp.Unit
		want map[string]int
	}{
		{"first delivery", u, map[string]int{"PutItem " + state: 1, "UpdateItem " + state: 1}},
		{"Meta's second delivery", again, map[string]int{"PutItem " + state: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.mu.Lock()
			c.calls = map[string]int{}
			c.mu.Unlock()
			e.enqueue(tc.unit)
			if failed := e.pump(); failed != 0 {
				t.Fatalf("failures = %d", failed)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if fmt.Sprint(c.calls) != fmt.Sprint(tc.want) {
				t.Errorf("state table calls = %v, want %v", c.calls, tc.want)
			}
		})
	}
}

// One loosely typed field no longer costs the whole order: a quantity "1"
// reaches the core as 1 (raw keeps the string); a quantity that means
// nothing still goes to the DLQ with the reason.
func TestLooselyTypedOrderReachesCore(t *testing.T) {
	e := newEnv(t)
	e.register("demo", "", tenant.Number{PhoneNumberID: "106540352242922", WABAID: "419561257915477"})
	edit := func(quantity string) whatsapp.Unit {
		u := units(t, "order.json")[0]
		var compact bytes.Buffer
		if err := json.Compact(&compact, u.Item); err != nil {
			t.Fatal(err)
		}
		u.Item = json.RawMessage(strings.Replace(compact.String(), `"quantity":1`, `"quantity":`+quantity, 1))
		if !strings.Contains(string(u.Item), `"quantity":`+quantity) {
			t.Fatalf("order item not edited: %s", u.Item)
		}
		return u
	}
	e.enqueue(edit(`"1"`))
	if failed := e.pump(); failed != 0 {
		t.Fatalf("%d records left for retry", failed)
	}
	if dl := e.drain("INBOUND_DLQ_URL"); len(dl) != 0 {
		t.Fatalf("order with quantity \"1\" dead-lettered: %v", dl[0].MessageAttributes[queue.ReasonAttribute].StringValue)
	}
	evs := e.coreEvents()
	if len(evs) != 1 || evs[0].Message == nil || evs[0].Message.Order == nil || len(evs[0].Message.Order.Items) != 2 {
		t.Fatalf("core events %+v, want the order", evs)
	}
	if it := evs[0].Message.Order.Items[1]; it.Quantity != 1 || !strings.Contains(string(evs[0].Message.Raw), `"quantity":"1"`) {
		t.Errorf("item %+v, raw %s", it, evs[0].Message.Raw)
	}

	bad := edit(`"one"`)
	bad.Item = json.RawMessage(strings.Replace(string(bad.Item), "wamid.", "wamid.bad", 1)) // another message
	e.enqueue(bad)
	if failed := e.pump(); failed != 0 {
		t.Fatalf("%d records left for retry, want it dead-lettered", failed)
	}
	dl := e.drain("INBOUND_DLQ_URL")
	if len(dl) != 1 {
		t.Fatalf("dead-lettered %d, want 1", len(dl))
	}
	if r := dl[0].MessageAttributes[queue.ReasonAttribute].StringValue; r == nil || !strings.Contains(*r, "integer") {
		t.Errorf("reason %v, want the quantity named", r)
	}
}

// A contact's messages go from the inbound queue straight to the core. A
// push the core fails leaves the unit on the inbound queue and its
// contact's later units behind it, so the core reads them in order once it
// takes them; a push the core refuses for good dead-letters the unit with
// the core's answer and the contact goes on. Nothing goes through the core
// events queue.
func TestMessagesPushedToCoreInOrder(t *testing.T) {
	tests := []struct {
		name       string
		fail       int // pushes the core fails first
		status     int // with this answer
		wantFailed int // records left for retry by the first pass
		want       string
		wantDead   []string // bodies dead-lettered, with the core's answer
	}{
		{"core takes them", 0, 0, 0, "one,two,three", nil},
		{"core fails the first push", 1, 500, 3, "one,two,three", nil},
		{"core down for two pushes", 2, 503, 3, "one,two,three", nil},
		{"core refuses the first for good", 1, 422, 0, "two,three", []string{"one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.register("acme", "", tenant.Number{PhoneNumberID: "106540352242922", WABAID: "419561257915477"})
			// A retried record comes back at once.
			e.h.Consumer.Backoff = func(int) time.Duration { return time.Nanosecond }
			base := units(t, "text.json")[0]
			var us []whatsapp.Unit
			for i, body := range []string{"one", "two", "three"} {
				us = append(us, withText(t, base, body, fmt.Sprintf("wamid.order-%d", i)))
			}
			e.core.Fail(tt.status, tt.fail)
			e.enqueue(us...)
			msgs := e.receive(e.getenv("INBOUND_QUEUE_URL"))
			resp, err := e.h.Handle(e.ctx, (&esm.Poller{}).Event(msgs))
			if err != nil {
				t.Fatal(err)
			}
			if got := len(resp.BatchItemFailures); got != tt.wantFailed {
				t.Errorf("first pass left %d records for retry, want %d", got, tt.wantFailed)
			}
			for i := 0; i < 5 && e.pump() > 0; i++ {
			}
			var got []string
			for _, ev := range e.coreEvents() {
				got = append(got, ev.Message.Text.Body)
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("core read %v, want %s", got, tt.want)
			}
			var dead []string
			for _, m := range e.drain("INBOUND_DLQ_URL") {
				var u whatsapp.Unit
				_ = json.Unmarshal([]byte(aws.ToString(m.Body)), &u)
				var item struct {
					Text struct{ Body string } `json:"text"`
				}
				_ = json.Unmarshal(u.Item, &item)
				dead = append(dead, item.Text.Body)
				if r := aws.ToString(m.MessageAttributes[queue.ReasonAttribute].StringValue); !strings.Contains(r, "simulated core failure") || strings.Contains(r, coreToken) {
					t.Errorf("dead-letter reason %q, want the core's answer and no credential", r)
				}
			}
			if strings.Join(dead, ",") != strings.Join(tt.wantDead, ",") {
				t.Errorf("dead-lettered %v, want %v", dead, tt.wantDead)
			}
			if n := len(e.drain("CORE_EVENTS_QUEUE_URL")); n != 0 {
				t.Errorf("%d events on the core events queue, want none (pushed directly)", n)
			}
		})
	}
}
