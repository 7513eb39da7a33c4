package status_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/coresink"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/bridge"
	"github.com/tucanlink/wacloud/shared/delivery"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/event/eventtest"
	"github.com/tucanlink/wacloud/shared/status"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/tracing"
	"github.com/tucanlink/wacloud/shared/whatsapp"
	"github.com/tucanlink/wacloud/shared/window"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	coreToken   = "core-bearer-token"
	coreSigning = "core-signing-secret"
)

// env is a provisioned emulator with the status function built by Setup
// from the template's environment, pushing to the local core stand-in.
type env struct {
	h        *status.Handler
	store    *delivery.Store
	windows  window.Store
	registry *tenant.Registry
	sqs      *sqs.Client
	dlqURL   string
	// core is the local core stand-in (package coresink: bearer token,
	// signature and Idempotency-Key checked, repeats counted as
	// duplicates); seen is how many of its events were taken.
	core *coresink.Sink
	seen int
	// traces records the trace header each pushed event carried.
	traces *traceRecorder
	// cfg and templatesTable reach the template catalog.
	cfg            aws.Config
	templatesTable string
}

// traceRecorder passes pushes on to the status function's forwarder and
// records the trace each event was pushed in.
type traceRecorder struct {
	bridge.EventForwarder
	mu  sync.Mutex
	got map[string]string // event id → trace header
}

func (r *traceRecorder) Forward(ctx context.Context, rec events.SQSMessage, backoff func(int) time.Duration, eventID, eventType string, body []byte) error {
	r.mu.Lock()
	r.got[eventID] = tracing.FromContext(ctx)
	r.mu.Unlock()
	return r.EventForwarder.Forward(ctx, rec, backoff, eventID, eventType, body)
}

func (r *traceRecorder) trace(eventID string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[eventID]
}

func newEnv(t *testing.T) *env {
	t.Helper()
	emu := awsemu.StartTest(t)
	tmpl, err := stack.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := stack.Provision(ctx, emu.Config(), tmpl, stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fn := st.Functions["StatusFunction"]
	sink := coresink.New(coresink.Config{Path: fn.Env["CORE_EVENTS_PATH"], BearerToken: coreToken, SigningSecret: coreSigning,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	getenv := func(k string) string {
		if k == "CORE_URL" {
			return srv.URL
		}
		return fn.Env[k]
	}
	if _, err := secretsmanager.NewFromConfig(emu.Config()).PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:     aws.String(getenv("CORE_SECRET_ID")),
		SecretString: aws.String(`{"bearer_token":"` + coreToken + `","signing_secret":"` + coreSigning + `"}`),
	}); err != nil {
		t.Fatal(err)
	}
	h, err := status.Setup(ctx, getenv, emu.Config())
	if err != nil {
		t.Fatal(err)
	}
	h.Now = func() time.Time { return now }
	h.Metrics = nil
	h.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	traces := &traceRecorder{EventForwarder: h.Core, got: map[string]string{}}
	h.Core = traces
	ddb := dynamodb.NewFromConfig(emu.Config())
	e := &env{
		h:        h,
		store:    &delivery.Store{API: ddb, Table: fn.Env["MESSAGES_TABLE"], Now: h.Now},
		windows:  window.Store{API: ddb, Table: fn.Env["STATE_TABLE"]},
		registry: &tenant.Registry{API: ddb, Table: fn.Env["TENANTS_TABLE"]},
		sqs:      sqs.NewFromConfig(emu.Config()),
		dlqURL:   fn.Env["STATUS_DLQ_URL"],
		core:     sink,
		traces:   traces,

		cfg:            emu.Config(),
		templatesTable: fn.Env["TEMPLATES_TABLE"],
	}
	h.Deliveries = e.store
	e.reset(t, ddb, fn.Env["MESSAGES_TABLE"], fn.Env["STATE_TABLE"], fn.Env["TENANTS_TABLE"])
	return e
}

// drain receives and deletes every message of a queue, in order.
func (e *env) drain(t *testing.T, url string) []sqstypes.Message {
	t.Helper()
	ctx := context.Background()
	var out []sqstypes.Message
	for {
		r, err := awsemu.Receive(ctx, e.sqs, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			return out
		}
		for _, m := range r.Messages {
			out = append(out, m)
			if _, err := e.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// events returns what the core accepted since the last take, validated
// against the published schema, leaving out the outbound.accepted copies
// that precede a message's first status event (allEvents keeps them).
func (e *env) events(t *testing.T) []event.Event {
	t.Helper()
	var out []event.Event
	for _, ev := range e.allEvents(t) {
		if ev.Type != event.TypeOutboundAccepted {
			out = append(out, ev)
		}
	}
	return out
}

// allEvents returns every event the core accepted since the last take, in
// arrival order (a repeat of an event it already had is not one).
func (e *env) allEvents(t *testing.T) []event.Event {
	t.Helper()
	st := e.core.Stats()
	if st.Unauthorized+st.BadSignature+st.BadRequest > 0 {
		t.Errorf("pushes the core refused as unauthenticated, unsigned or malformed: %+v", st)
	}
	raw := e.core.Events()
	var out []event.Event
	for _, b := range raw[e.seen:] {
		eventtest.ValidateJSON(t, b)
		var ev event.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	e.seen = len(raw)
	return out
}

// statusUnit is a status unit as the inbound function routes it.
func statusUnit(wamid, st string, sec int) whatsapp.Unit {
	item := map[string]any{
		"id": wamid, "status": st, "timestamp": fmt.Sprint(now.Add(time.Duration(sec) * time.Second).Unix()),
		"recipient_id": "5511988887777",
	}
	switch st {
	case "sent", "delivered":
		item["conversation"] = map[string]any{"id": "c1", "origin": map[string]any{"type": "service"}}
		item["pricing"] = map[string]any{"billable": false, "pricing_model": "PMP", "category": "service", "type": "free_customer_service"}
	case "failed":
		item["errors"] = []any{map[string]any{"code": 131026, "title": "Message undeliverable", "error_data": map[string]any{"details": "Unable to deliver"}}}
	}
	b, _ := json.Marshal(item)
	return whatsapp.Unit{
		Version: 1, Route: whatsapp.RoutePlatform, ReceivedAt: now.Format(time.RFC3339Nano), WABAID: "200",
		Field: "messages", Kind: whatsapp.KindStatus, Metadata: whatsapp.Metadata{PhoneNumberID: "100", DisplayPhoneNumber: "15550001111"},
		Item: b, TenantID: "acme",
	}
}

func sqsEvent(t *testing.T, units ...whatsapp.Unit) events.SQSEvent {
	t.Helper()
	var ev events.SQSEvent
	for i, u := range units {
		b, err := json.Marshal(u)
		if err != nil {
			t.Fatal(err)
		}
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprintf("m%d", i), Body: string(b),
			Attributes: map[string]string{"ApproximateReceiveCount": "1"}})
	}
	return ev
}

func (e *env) accept(t *testing.T, wamid string) delivery.Record {
	t.Helper()
	r := delivery.Record{WAMID: wamid, TenantID: "acme", PhoneNumberID: "100", JobID: "job-" + wamid,
		ClientRef: "crm-" + wamid, To: "5511988887777", Type: "text", AcceptedAt: now.Add(-time.Second)}
	if err := e.store.RecordAccepted(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func permutations(s []string) [][]string {
	if len(s) <= 1 {
		return [][]string{append([]string(nil), s...)}
	}
	var out [][]string
	for i := range s {
		rest := append(append([]string(nil), s[:i]...), s[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]string{s[i]}, p...))
		}
	}
	return out
}

// reported is the oracle: every state Meta reported, once, in arrival
// order. A state that raises the running maximum rank is an advance, with
// the state it replaces; a state below it, seen for the first time, is
// late, with the (unchanged) current state; a repeat is nothing.
func reported(seq []string) []string {
	cur := "accepted"
	seen := map[string]bool{}
	var out []string
	for _, s := range seq {
		r, _ := delivery.Rank(s)
		c, _ := delivery.Rank(cur)
		switch {
		case r > c:
			out = append(out, cur+">"+s)
			cur = s
		case !seen[s] && s != cur:
			out = append(out, "late "+s+"@"+cur)
		}
		seen[s] = true
	}
	return out
}

func transitions(evs []event.Event) []string {
	var out []string
	for _, ev := range evs {
		if ev.Status.Late {
			out = append(out, "late "+ev.Status.Reported+"@"+ev.Status.Current)
			continue
		}
		out = append(out, ev.Status.Previous+">"+ev.Status.Current)
	}
	return out
}

func TestEveryOrderEndsRightAndReportsEveryStateOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	perms := permutations([]string{"sent", "delivered", "read", "failed"})
	if len(perms) != 24 {
		t.Fatalf("%d permutations, want 24", len(perms))
	}
	type run struct {
		name string
		seq  []string
	}
	var runs []run
	for _, p := range perms {
		runs = append(runs, run{strings.Join(p, ","), p})
		// Each status twice in a row, then the whole order again.
		var dup []string
		for _, s := range p {
			dup = append(dup, s, s)
		}
		runs = append(runs, run{strings.Join(p, ",") + "/duplicated", append(dup, p...)})
	}
	// The oracle follows arrival order: the batch one record after another
	// (TestDuplicateStormReportsEachStateOnce runs them at once).
	e.h.Queue.Concurrency = 1
	for i, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			wamid := fmt.Sprintf("wamid.perm%02d", i)
			rec := e.accept(t, wamid)
			var units []whatsapp.Unit
			for j, s := range r.seq {
				units = append(units, statusUnit(wamid, s, j+1))
			}
			resp, err := e.h.Handle(ctx, sqsEvent(t, units...))
			if err != nil || len(resp.BatchItemFailures) > 0 {
				t.Fatalf("Handle: %v, failures %v", err, resp.BatchItemFailures)
			}
			m, err := e.store.Get(ctx, wamid)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != "read" {
				t.Errorf("final state %q, want read", m.Status)
			}
			if len(m.Pending()) != 0 {
				t.Errorf("pending after Handle: %v", m.Pending())
			}
			evs := e.events(t)
			got, want := transitions(evs), reported(r.seq)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("events %v, want %v", got, want)
			}
			for _, ev := range evs {
				if ev.Status.MessageID != wamid || ev.Status.JobID != rec.JobID || ev.Status.ClientRef != rec.ClientRef || ev.Status.External {
					t.Errorf("event %+v lacks the job", ev.Status)
				}
				wantID := event.StatusEventID("acme", "100", wamid, ev.Status.Current)
				if ev.Status.Late {
					wantID = event.LateStatusEventID("acme", "100", wamid, ev.Status.Reported)
				}
				if ev.EventID != wantID {
					t.Errorf("event id %s is not the stable id of %s (late %v)", ev.EventID, ev.Status.Reported, ev.Status.Late)
				}
				if ev.Status.Late && ev.Status.Previous != "" {
					t.Errorf("late %s names a previous state %q", ev.Status.Reported, ev.Status.Previous)
				}
				if !ev.Status.Late && ev.Status.Reported != ev.Status.Current {
					t.Errorf("advance to %s reports %s", ev.Status.Current, ev.Status.Reported)
				}
				if ev.Status.At == "" || ev.Status.At != ev.Status.Timestamps[ev.Status.Reported] || ev.OccurredAt != ev.Status.At {
					t.Errorf("%s: at %q, occurred_at %q, timestamps %v", ev.Status.Reported, ev.Status.At, ev.OccurredAt, ev.Status.Timestamps)
				}
				if ev.Contact == nil || ev.Contact.WaID != "5511988887777" || ev.OrderKey() != "acme:100:5511988887777" {
					t.Errorf("contact %+v: not in the recipient's FIFO group", ev.Contact)
				}
				if ev.Status.Reported == "failed" && (len(ev.Status.Errors) != 1 || ev.Status.Errors[0].Code != 131026 ||
					ev.Status.Errors[0].Details != "Unable to deliver" || ev.Status.Failure == nil || ev.Status.Failure.Reason != "undeliverable") {
					t.Errorf("failed event lost Meta's error: %+v %+v", ev.Status.Errors, ev.Status.Failure)
				}
			}
		})
	}
	// Spot checks of the oracle against hand-worked orders.
	for seq, want := range map[string]string{
		"sent,delivered,read,failed":              "[accepted>sent sent>delivered delivered>read late failed@read]",
		"read,delivered,sent,failed":              "[accepted>read late delivered@read late sent@read late failed@read]",
		"sent,failed,delivered,read":              "[accepted>sent sent>failed late delivered@failed failed>read]",
		"delivered,sent,failed,read":              "[accepted>delivered late sent@delivered delivered>failed failed>read]",
		"delivered,delivered,sent,sent,read,sent": "[accepted>delivered late sent@delivered delivered>read]",
	} {
		if got := fmt.Sprint(reported(strings.Split(seq, ","))); got != want {
			t.Errorf("oracle %s = %s, want %s", seq, got, want)
		}
	}
}

func TestDuplicateStormReportsEachStateOnce(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name    string
		latency time.Duration // how long the core takes to answer a push
	}{
		{"core answers at once", 0},
		// Slow pushes overlap: instances that applied different states
		// push at the same time.
		{"core answers in 20 ms", 20 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.core.SetLatency(tc.latency)
			defer e.core.SetLatency(0)
			ctx := context.Background()
			wamid := "wamid.storm." + strings.ReplaceAll(tc.name, " ", "")
			e.accept(t, wamid)
			states := []string{"sent", "delivered", "read"}
			done := make(chan error)
			const copies = 10
			for i := range copies * len(states) {
				go func() {
					done <- e.h.ProcessUnit(ctx, statusUnit(wamid, states[i%len(states)], i%len(states)+1))
				}()
			}
			for range copies * len(states) {
				if err := <-done; err != nil {
					t.Error(err)
				}
			}
			m, err := e.store.Get(ctx, wamid)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != "read" || len(m.Pending()) != 0 {
				t.Fatalf("final %q pending %v", m.Status, m.Pending())
			}
			if len(m.Late()) != 0 {
				t.Fatalf("late states not pushed: %v", m.Late())
			}
			all := e.allEvents(t)
			if len(all) == 0 || all[0].Type != event.TypeOutboundAccepted {
				t.Fatalf("the core's first event of the message is not outbound.accepted: %d events", len(all))
			}
			evs := all[1:]
			count := map[string]int{}
			for _, ev := range evs {
				if ev.Status == nil {
					t.Fatalf("%s after the first status event", ev.Type)
				}
				count[ev.Status.Reported]++
			}
			// Exactly one event per recorded transition, in rank order at
			// the core, and one per state that arrived late: every state
			// Meta reported, once.
			var wantStates []string
			for _, s := range delivery.States {
				if _, ok := m.Transitions[s]; ok {
					wantStates = append(wantStates, s)
				}
			}
			var gotStates []string
			for _, ev := range evs {
				if !ev.Status.Late {
					gotStates = append(gotStates, ev.Status.Current)
				}
			}
			if fmt.Sprint(gotStates) != fmt.Sprint(wantStates) {
				t.Errorf("advances %v, want one per transition %v (counts %v)", gotStates, wantStates, count)
			}
			for _, s := range states {
				if count[s] != 1 {
					t.Errorf("%s reported %d times, want once", s, count[s])
				}
			}
		})
	}
}

func TestUnknownWamid(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	t.Run("recent status waits for the sender's record", func(t *testing.T) {
		u := statusUnit("wamid.race", "sent", -5) // 5 s old: inside the grace period
		err := e.h.ProcessUnit(ctx, u)
		if err == nil {
			t.Fatal("status of an unknown, recent wamid was applied at once")
		}
		resp, _ := e.h.Handle(ctx, sqsEvent(t, u))
		if len(resp.BatchItemFailures) != 1 {
			t.Fatalf("want the record retried, got %v", resp.BatchItemFailures)
		}
		if evs := e.events(t); len(evs) != 0 {
			t.Fatalf("events before the record exists: %v", transitions(evs))
		}
		e.accept(t, "wamid.race")
		if err := e.h.ProcessUnit(ctx, u); err != nil {
			t.Fatal(err)
		}
		evs := e.events(t)
		if len(evs) != 1 || evs[0].Status.External || evs[0].Status.JobID != "job-wamid.race" {
			t.Fatalf("after the record: %+v", evs)
		}
	})
	t.Run("old status is recorded as external", func(t *testing.T) {
		u := statusUnit("wamid.other-tool", "delivered", -120)
		if err := e.h.ProcessUnit(ctx, u); err != nil {
			t.Fatal(err)
		}
		evs := e.events(t)
		if len(evs) != 1 || !evs[0].Status.External || evs[0].Status.Previous != "" || evs[0].Status.Current != "delivered" || evs[0].Status.JobID != "" {
			t.Fatalf("events %+v, want one external delivered", evs)
		}
		m, err := e.store.Get(ctx, "wamid.other-tool")
		if err != nil || !m.External || m.TenantID != "acme" {
			t.Fatalf("record %+v, %v", m, err)
		}
	})
	t.Run("record written after statuses arrived", func(t *testing.T) {
		e.h.RecordGrace = -1
		defer func() { e.h.RecordGrace = 0 }()
		if err := e.h.ProcessUnit(ctx, statusUnit("wamid.late", "delivered", 2)); err != nil {
			t.Fatal(err)
		}
		e.accept(t, "wamid.late")
		for _, s := range []string{"sent", "read"} {
			if err := e.h.ProcessUnit(ctx, statusUnit("wamid.late", s, 3)); err != nil {
				t.Fatal(err)
			}
		}
		got := transitions(e.events(t))
		if want := "[>delivered late sent@delivered delivered>read]"; fmt.Sprint(got) != want {
			t.Errorf("events %v, want %s", got, want)
		}
		m, _ := e.store.Get(ctx, "wamid.late")
		if m.Status != "read" || m.External || m.JobID != "job-wamid.late" {
			t.Errorf("record %+v", m)
		}
	})
}

func TestTenantIsolation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.accept(t, "wamid.iso")
	u := statusUnit("wamid.iso", "read", 1)
	u.TenantID = "intruder"
	resp, err := e.h.Handle(ctx, sqsEvent(t, u))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("want the record parked, not retried: %v %v", err, resp.BatchItemFailures)
	}
	dlq := e.drain(t, e.dlqURL)
	if len(dlq) != 1 || aws.ToString(dlq[0].MessageAttributes["wacloud-failure-code"].StringValue) != "tenant_mismatch" {
		t.Fatalf("DLQ %+v, want the status parked with its reason", dlq)
	}
	if evs := e.events(t); len(evs) != 0 {
		t.Errorf("events for another tenant's message: %v", transitions(evs))
	}
	m, _ := e.store.Get(ctx, "wamid.iso")
	if m.Status != "accepted" {
		t.Errorf("record moved to %q", m.Status)
	}
}

func TestRejectsBadUnits(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// Statuses without a tenant come from the webhook and are resolved
	// (TestStatusStraightFromWebhook); any other unit needs one.
	noTenant := whatsapp.Unit{Kind: whatsapp.KindChange, Field: "account_update", WABAID: "200", Value: json.RawMessage(`{}`)}
	badItem := statusUnit("w", "sent", 1)
	badItem.Item = json.RawMessage(`{"status":"sent"}`)
	unknown := statusUnit("w", "pending", 1)
	message := statusUnit("w", "sent", 1)
	message.Kind = whatsapp.KindMessage
	messagesChange := whatsapp.Unit{Kind: whatsapp.KindChange, Field: "messages", TenantID: "acme", Value: json.RawMessage(`{}`)}
	notObject := whatsapp.Unit{Kind: whatsapp.KindChange, Field: "account_update", TenantID: "acme", Value: json.RawMessage(`[1]`)}
	units := []whatsapp.Unit{noTenant, badItem, unknown, message, messagesChange, notObject}
	ev := sqsEvent(t, units...)
	ev.Records = append(ev.Records, events.SQSMessage{MessageId: "garbage", Body: "not json"})
	resp, err := e.h.Handle(ctx, ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("bad input must be dead-lettered, not retried: %v %v", err, resp.BatchItemFailures)
	}
	dlq := e.drain(t, e.dlqURL)
	if got, want := len(dlq), len(units)+1; got != want {
		t.Errorf("%d records dead-lettered, want %d", got, want)
	}
	for _, m := range dlq {
		if c := aws.ToString(m.MessageAttributes["wacloud-failure-class"].StringValue); c != "invalid" {
			t.Errorf("class %q for %s", c, aws.ToString(m.MessageAttributes["wacloud-failure-reason"].StringValue))
		}
	}
	if evs := e.events(t); len(evs) != 0 {
		t.Errorf("events from bad input: %d", len(evs))
	}
}

func TestFailed131047ClosesWindow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.windows.RecordInbound(ctx, "100", "5511988887777", now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	e.accept(t, "wamid.window")
	u := statusUnit("wamid.window", "failed", 1)
	u.Item = json.RawMessage(fmt.Sprintf(`{"id":"wamid.window","status":"failed","timestamp":"%d","recipient_id":"5511988887777",
		"errors":[{"code":131047,"title":"Re-engagement message"}]}`, now.Unix()))
	if err := e.h.ProcessUnit(ctx, u); err != nil {
		t.Fatal(err)
	}
	st, err := e.windows.Get(ctx, "100", "5511988887777")
	if err != nil {
		t.Fatal(err)
	}
	if st.Open(now) {
		t.Error("window still open after 131047")
	}
	evs := e.events(t)
	if len(evs) != 1 || evs[0].Status.Failure == nil || evs[0].Status.Failure.Reason != "window_closed" || evs[0].Status.Failure.Retryable {
		t.Errorf("events %+v", evs)
	}
}

// reset empties the tables and queues the status function uses. The
// emulator keeps one store per process and the stack names resources by
// their logical ids, so every test of this package sees the same tables.
func (e *env) reset(t *testing.T, ddb *dynamodb.Client, tables ...string) {
	t.Helper()
	ctx := context.Background()
	for _, table := range tables {
		out, err := ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			if _, err := ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]ddbtypes.AttributeValue{"pk": it["pk"]}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.drain(t, e.dlqURL)
}

// The sender publishes outbound.accepted after writing the record, so a
// status can be applied in between; the status function then publishes the
// same acceptance (same id) first, once per message.
func TestAcceptedPrecedesFirstStatus(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	rec := e.accept(t, "wamid.ORDER1")
	for _, st := range []string{"sent", "delivered", "sent", "read"} {
		if err := e.h.ProcessUnit(ctx, statusUnit(rec.WAMID, st, 1)); err != nil {
			t.Fatal(err)
		}
	}
	evs := e.allEvents(t)
	var got []string
	for _, ev := range evs {
		if ev.Status != nil {
			got = append(got, ev.Type+":"+ev.Status.Current)
		} else {
			got = append(got, ev.Type)
		}
	}
	want := []string{"outbound.accepted", "message.status:sent", "message.status:delivered", "message.status:read"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	acc := evs[0]
	if want := event.OutboundEventID(event.TypeOutboundAccepted, rec.TenantID, rec.JobID); acc.EventID != want {
		t.Errorf("accepted event id = %s, want the sender's %s", acc.EventID, want)
	}
	if acc.Outbound.MessageID != rec.WAMID || acc.Outbound.JobID != rec.JobID || acc.Outbound.ClientRef != rec.ClientRef {
		t.Errorf("accepted = %+v, want the record's wamid, job and client ref", acc.Outbound)
	}
	if acc.OrderKey() != evs[1].OrderKey() {
		t.Errorf("accepted group %q differs from the status group %q", acc.OrderKey(), evs[1].OrderKey())
	}
}

// A batch runs its messages at once but one message's statuses one after
// another, in batch order (status.Lane): each finds the states before it
// pushed and marked, so the core gets every state once, with no repeats.
func TestBatchRunsAMessagesStatusesInTurn(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var units []whatsapp.Unit
	for i := range 3 {
		wamid := fmt.Sprintf("wamid.turn%d", i)
		e.accept(t, wamid)
		for j, st := range []string{"sent", "delivered", "read"} {
			units = append(units, statusUnit(wamid, st, j+1))
		}
	}
	dup0 := e.core.Stats().Duplicates
	resp, err := e.h.Handle(ctx, sqsEvent(t, units...))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle: %v, failures %v", err, resp.BatchItemFailures)
	}
	got := map[string][]string{}
	for _, ev := range e.allEvents(t) {
		if ev.Status == nil {
			got[ev.Outbound.MessageID] = append(got[ev.Outbound.MessageID], ev.Type)
			continue
		}
		got[ev.Status.MessageID] = append(got[ev.Status.MessageID], transitions([]event.Event{ev})...)
	}
	for i := range 3 {
		wamid := fmt.Sprintf("wamid.turn%d", i)
		if want := "[outbound.accepted accepted>sent sent>delivered delivered>read]"; fmt.Sprint(got[wamid]) != want {
			t.Errorf("%s: core has %v, want %s", wamid, got[wamid], want)
		}
	}
	if n := e.core.Stats().Duplicates - dup0; n != 0 {
		t.Errorf("%d repeat pushes, want none", n)
	}
}

// A push the core fails leaves the status on its queue with the state
// applied but not marked notified: the next
// status of the message (or the retry) pushes it, ahead of its own state,
// and the core has every state once, in rank order.
func TestFailedPushIsRepairedInOrder(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		fault coresink.Fault
	}{
		{"core answers 503", coresink.Fault{Mode: coresink.FaultStatus, Status: 503, Count: 1}},
		{"core answers 429 with Retry-After", coresink.Fault{Mode: coresink.FaultStatus, Status: 429, RetryAfterS: 30, Count: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wamid := "wamid.repair." + strings.ReplaceAll(tc.name, " ", "")
			e.accept(t, wamid)
			// The first push of sent's record (the acceptance copy) fails.
			if err := e.core.SetFault(tc.fault); err != nil {
				t.Fatal(err)
			}
			sent := statusUnit(wamid, "sent", 1)
			resp, err := e.h.Handle(ctx, sqsEvent(t, sent))
			if err != nil || len(resp.BatchItemFailures) != 1 {
				t.Fatalf("sent with the core failing: %v, failures %v; want it retried", err, resp.BatchItemFailures)
			}
			if m, err := e.store.Get(ctx, wamid); err != nil || m.Status != "sent" || fmt.Sprint(m.Pending()) != "[sent]" {
				t.Fatalf("record after the failed push: status %q pending %v (%v); want sent applied and pending", m.Status, m.Pending(), err)
			}
			// delivered comes before sent's retry, then the retry.
			for _, u := range []whatsapp.Unit{statusUnit(wamid, "delivered", 2), sent} {
				resp, err := e.h.Handle(ctx, sqsEvent(t, u))
				if err != nil || len(resp.BatchItemFailures) != 0 {
					t.Fatalf("Handle: %v, failures %v", err, resp.BatchItemFailures)
				}
			}
			var got []string
			for _, ev := range e.allEvents(t) {
				if ev.Status == nil {
					got = append(got, ev.Type)
					continue
				}
				got = append(got, transitions([]event.Event{ev})...)
			}
			if want := "[outbound.accepted accepted>sent sent>delivered]"; fmt.Sprint(got) != want {
				t.Errorf("core has %v, want %s", got, want)
			}
			if m, _ := e.store.Get(ctx, wamid); len(m.Pending()) != 0 {
				t.Errorf("pending after the repair: %v", m.Pending())
			}
		})
	}
}

// The README's outbound walkthrough: Meta's sent arrives before the
// sender's record and is retried; meanwhile the record is written and
// delivered is applied; the retried sent now ranks below delivered. The
// core still hears of sent, with Meta's time, in a late event that leaves
// the current state at delivered, and every later event lists it.
func TestSentOvertakenByDeliveredStillReachesCore(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const wamid = "wamid.walkthrough"
	sent := statusUnit(wamid, "sent", -5) // 5 s old: inside the record grace
	resp, err := e.h.Handle(ctx, sqsEvent(t, sent))
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("sent before the record: %v, failures %v; want it retried", err, resp.BatchItemFailures)
	}
	e.accept(t, wamid)
	for _, u := range []whatsapp.Unit{statusUnit(wamid, "delivered", -3), sent, statusUnit(wamid, "read", -1)} {
		resp, err := e.h.Handle(ctx, sqsEvent(t, u))
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("Handle: %v, failures %v", err, resp.BatchItemFailures)
		}
	}
	evs := e.allEvents(t)
	var got []string
	for _, ev := range evs {
		if ev.Type == event.TypeOutboundAccepted {
			got = append(got, "outbound.accepted")
			continue
		}
		got = append(got, transitions([]event.Event{ev})...)
	}
	want := "[outbound.accepted accepted>delivered late sent@delivered delivered>read]"
	if fmt.Sprint(got) != want {
		t.Fatalf("core saw %v, want %s", got, want)
	}
	at := func(sec int) string { return now.Add(time.Duration(sec) * time.Second).UTC().Format(time.RFC3339) }
	late, read := evs[2].Status, evs[3].Status
	if late.Reported != "sent" || late.Current != "delivered" || late.At != at(-5) || evs[2].OccurredAt != at(-5) ||
		late.JobID != "job-"+wamid || evs[2].Contact == nil || evs[2].OrderKey() != "acme:100:5511988887777" {
		t.Errorf("late sent event %+v (occurred_at %s, contact %+v)", late, evs[2].OccurredAt, evs[2].Contact)
	}
	wantTimes := map[string]string{"accepted": now.Add(-time.Second).UTC().Format(time.RFC3339), // accept()'s time
		"sent": at(-5), "delivered": at(-3), "read": at(-1)}
	if fmt.Sprint(read.Timestamps) != fmt.Sprint(wantTimes) {
		t.Errorf("read event timestamps %v, want %v", read.Timestamps, wantTimes)
	}
	// A redelivery of the late sent publishes nothing new.
	if err := e.h.ProcessUnit(ctx, sent); err != nil {
		t.Fatal(err)
	}
	if again := e.allEvents(t); len(again) != 0 {
		t.Errorf("redelivered late sent published %v", transitions(again))
	}
}

// A status the webhook stored directly carries no tenant: the status
// function resolves it by the business number, with the inbound
// function's rules, and dead-letters what cannot be delivered with the
// reason the inbound function parks it under.
func TestStatusStraightFromWebhook(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.registry.Put(ctx, tenant.Tenant{ID: "acme", SecretID: "wacloud/tenants/acme"}, []tenant.Number{{PhoneNumberID: "100", WABAID: "200"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.registry.Put(ctx, tenant.Tenant{ID: "gone", SecretID: "wacloud/tenants/gone", Status: tenant.StatusDisabled}, []tenant.Number{{PhoneNumberID: "300", WABAID: "400"}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		phone    string
		route    string // route tenant; "" is the platform route
		wantCode string // dead-letter code; "" applies the status
	}{
		{"platform route, registered number", "100", "", ""},
		{"own app of the number's tenant", "100", "acme", ""},
		{"own app of another tenant", "100", "other", "tenant_mismatch"},
		{"unregistered number", "999", "", "unknown_phone_number"},
		{"disabled tenant", "300", "", "tenant_disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wamid := "wamid.direct." + tc.phone + tc.route
			e.accept(t, wamid)
			u := statusUnit(wamid, "sent", 1)
			u.TenantID, u.Metadata.PhoneNumberID = "", tc.phone
			if tc.route != "" {
				u.Route, u.RouteTenant = whatsapp.RouteTenant, tc.route
			}
			resp, err := e.h.Handle(ctx, sqsEvent(t, u))
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("want no retry: %v %v", err, resp.BatchItemFailures)
			}
			dlq := e.drain(t, e.dlqURL)
			evs := e.events(t)
			if tc.wantCode != "" {
				if len(dlq) != 1 || aws.ToString(dlq[0].MessageAttributes["wacloud-failure-code"].StringValue) != tc.wantCode {
					t.Fatalf("DLQ %+v, want the status dead-lettered with code %s", dlq, tc.wantCode)
				}
				if len(evs) != 0 {
					t.Errorf("events %v, want none", transitions(evs))
				}
				return
			}
			if len(dlq) != 0 {
				t.Fatalf("dead-lettered: %s", aws.ToString(dlq[0].MessageAttributes["wacloud-failure-reason"].StringValue))
			}
			if len(evs) != 1 || evs[0].TenantID != "acme" || evs[0].Status == nil || evs[0].Status.Current != "sent" {
				t.Fatalf("events %+v, want acme's message.status sent", evs)
			}
			if m, _ := e.store.Get(ctx, wamid); m.Status != "sent" {
				t.Errorf("record status %q, want sent", m.Status)
			}
		})
	}
}

// The status function's copy of outbound.accepted carries the trace of
// the job that sent the message (kept on its record), so the core hears
// the acceptance in the job's trace whichever copy reaches it first; the
// status events carry the status's own trace.
func TestAcceptedKeepsTheJobsTrace(t *testing.T) {
	const (
		jobTrace    = "Root=1-6751c0de-00000000000000000000000a;Parent=000000000000000a;Sampled=1"
		statusTrace = "Root=1-6751c0df-00000000000000000000000b;Parent=000000000000000b;Sampled=1"
	)
	e := newEnv(t)
	r := delivery.Record{WAMID: "wamid.TRACE1", TenantID: "acme", PhoneNumberID: "100", JobID: "job-trace1",
		To: "5511988887777", Type: "text", AcceptedAt: now.Add(-time.Second), TraceHeader: jobTrace}
	if err := e.store.RecordAccepted(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	ctx := tracing.WithHeader(context.Background(), statusTrace)
	if err := e.h.ProcessUnit(ctx, statusUnit(r.WAMID, "sent", 1)); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, ev := range e.allEvents(t) {
		got[ev.Type] = e.traces.trace(ev.EventID)
	}
	if got[event.TypeOutboundAccepted] != jobTrace {
		t.Errorf("outbound.accepted carries trace %q, want the job's %q", got[event.TypeOutboundAccepted], jobTrace)
	}
	if got[event.TypeStatusUpdated] != statusTrace {
		t.Errorf("message.status carries trace %q, want the status's %q", got[event.TypeStatusUpdated], statusTrace)
	}
}
