package sender

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/coresink"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/delivery"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/event/eventtest"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/throttle"
	"github.com/tucanlink/wacloud/shared/window"
)

const (
	// The core's credentials in the test stack (its CoreSecret).
	coreToken, coreSigning = "core-bearer-token", "core-signing-secret"

	numberA = "100000000000001" // tenant demo
	numberB = "100000000000002" // tenant other
	tokenA  = "tok-demo"
	tokenB  = "tok-other"
)

// env is the emulator, the provisioned stack, the Graph simulator and
// the core stand-in the sender pushes its results to, shared by the
// package's tests (each test uses its own job ids and recipients).
type env struct {
	emu      *awsemu.Emulator
	cfg      aws.Config
	stack    *stack.Stack
	sim      *graphsim.Sim
	graphURL string
	core     *coresink.Sink
	coreURL  string
	sends    atomic.Int64 // POST .../messages requests the simulator received
	sqs      *sqs.Client
	ddb      *dynamodb.Client
}

var (
	envOnce sync.Once
	shared  *env
	envErr  error
)

func testEnv(t *testing.T) *env {
	t.Helper()
	envOnce.Do(func() { shared, envErr = newEnv() })
	if envErr != nil {
		t.Fatal(envErr)
	}
	return shared
}

func newEnv() (*env, error) {
	ctx := context.Background()
	emu := awsemu.Start() // lives for the test binary
	tmpl, err := stack.Load("../../template.yaml")
	if err != nil {
		return nil, err
	}
	st, err := stack.Provision(ctx, emu.Config(), tmpl, stack.Options{})
	if err != nil {
		return nil, err
	}
	e := &env{emu: emu, cfg: emu.Config(), stack: st, sqs: sqs.NewFromConfig(emu.Config()), ddb: dynamodb.NewFromConfig(emu.Config())}
	e.sim = graphsim.New(graphsim.Config{Numbers: []graphsim.Number{
		{PhoneNumberID: numberA, AccessToken: tokenA, Throughput: 80},
		{PhoneNumberID: numberB, AccessToken: tokenB, Throughput: 80},
	}})
	_ = e.sim.SetStatusConfig(graphsim.StatusConfig{Disabled: true})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages") {
			e.sends.Add(1)
		}
		e.sim.ServeHTTP(w, r)
	}))
	e.graphURL = srv.URL

	sm := secretsmanager.NewFromConfig(e.cfg)
	e.core = newCoreSink()
	e.coreURL = httptest.NewServer(e.core).URL
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:     aws.String(st.Functions["SenderFunction"].Env["CORE_SECRET_ID"]),
		SecretString: aws.String(`{"bearer_token":"` + coreToken + `","signing_secret":"` + coreSigning + `"}`),
	}); err != nil {
		return nil, err
	}

	reg := &tenant.Registry{API: e.ddb, Table: st.Names.Ref["TenantsTable"]}
	for _, tt := range []struct{ id, number, token string }{{"demo", numberA, tokenA}, {"other", numberB, tokenB}} {
		secret := "wacloud/tenants/" + tt.id
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(secret),
			SecretString: aws.String(`{"access_token":"` + tt.token + `","app_secret":"s","verify_token":"v"}`)}); err != nil {
			return nil, err
		}
		if err := reg.Put(ctx, tenant.Tenant{ID: tt.id, Status: tenant.StatusActive, SecretID: secret, PhoneNumbers: []string{tt.number}},
			[]tenant.Number{{PhoneNumberID: tt.number, TenantID: tt.id, WABAID: "2000" + tt.number}}); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (e *env) getenv(k string) string {
	switch k {
	case "GRAPH_API_BASE_URL":
		return e.graphURL
	case "S3_USE_PATH_STYLE":
		return "true"
	case "CORE_URL":
		return e.coreURL
	}
	return e.stack.Functions["SenderFunction"].Env[k]
}

// newCoreSink is a core stand-in that takes the test stack's core
// credentials and checks every push's signature.
func newCoreSink() *coresink.Sink {
	return coresink.New(coresink.Config{Path: "/wacloud/v1/events", BearerToken: coreToken, SigningSecret: coreSigning,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))})
}

func (e *env) handler(t *testing.T) *Handler {
	t.Helper()
	h, err := Setup(context.Background(), e.getenv, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Metrics.Out = io.Discard
	notTimed(h)
	return h
}

// notTimed gives h the tolerances of a test about what is sent, not
// when. On a loaded machine a claim can end more than the default 20 ms
// after its slot four times running, and the job then goes back to the
// queue (by design) where the test expected a send; a push to the core
// can take longer than PushWithin, or two in a row longer than the
// breaker's Slow, and the results then go through the queue. The tests of
// those (TestSendLeavesOnItsSlot, push_test.go, TestCoreBreaker) set their
// own.
func notTimed(h *Handler) {
	h.SendWithin = time.Second
	h.PushWithin = 10 * time.Second
	if b, ok := h.Core.(*CoreBreaker); ok {
		b.Slow = time.Hour
	}
}

func (e *env) openWindow(t *testing.T, to string) {
	t.Helper()
	w := window.Store{API: e.ddb, Table: e.stack.Names.Ref["StateTable"]}
	if err := w.RecordInbound(context.Background(), numberA, strings.TrimPrefix(to, "+"), time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
}

// openWindowOn records an inbound message from to on a number at `at`.
func (e *env) openWindowOn(t *testing.T, number, to string, at time.Time) {
	t.Helper()
	w := window.Store{API: e.ddb, Table: e.stack.Names.Ref["StateTable"]}
	if err := w.RecordInbound(context.Background(), number, strings.TrimPrefix(to, "+"), at); err != nil {
		t.Fatal(err)
	}
}

// expiresAt reads an item's expires_at.
func (e *env) expiresAt(t *testing.T, table, pk string) time.Time {
	t.Helper()
	out, err := e.ddb.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(e.stack.Names.Ref[table]),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	n, ok := out.Item["expires_at"].(*ddbtypes.AttributeValueMemberN)
	if !ok {
		t.Fatalf("%s %s has no expires_at: %v", table, pk, out.Item)
	}
	var sec int64
	fmt.Sscan(n.Value, &sec)
	return time.Unix(sec, 0)
}

// simFor returns the messages the simulator accepted for recipient to.
func (e *env) simFor(to string) []graphsim.Accepted {
	var out []graphsim.Accepted
	for _, a := range e.sim.Messages() {
		if strings.TrimPrefix(a.To, "+") == strings.TrimPrefix(to, "+") {
			out = append(out, a)
		}
	}
	return out
}

// coreEvents returns the results of the given job ids that reached the
// core: those the sender pushed to the core stand-in, then those on the
// core events queue (drained; the bridge would push them), each event
// once. Other tests' events are kept for them.
var eventsMu sync.Mutex
var (
	pending    []event.Event
	sinkSeen   int             // events of e.core already moved to pending
	seenEvents map[string]bool // event ids moved to pending
)

func (e *env) coreEvents(t *testing.T, jobIDs ...string) []event.Event {
	t.Helper()
	eventsMu.Lock()
	defer eventsMu.Unlock()
	if seenEvents == nil {
		seenEvents = map[string]bool{}
	}
	add := func(body []byte) {
		if err := eventtest.Check(body); err != nil {
			t.Errorf("event violates the contract: %v\n%s", err, body)
		}
		var ev event.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Fatal(err)
		}
		if !seenEvents[ev.EventID] {
			seenEvents[ev.EventID] = true
			pending = append(pending, ev)
		}
	}
	pushed := e.core.Events()
	for _, raw := range pushed[sinkSeen:] {
		add(raw)
	}
	sinkSeen = len(pushed)
	ctx := context.Background()
	url := e.stack.Names.Ref["CoreEventsQueue"]
	for {
		out, err := awsemu.Receive(ctx, e.sqs, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			add([]byte(aws.ToString(m.Body)))
			_, _ = e.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
		}
	}
	want := map[string]bool{}
	for _, id := range jobIDs {
		want[id] = true
	}
	var mine, rest []event.Event
	for _, ev := range pending {
		if ev.Outbound != nil && want[ev.Outbound.JobID] {
			mine = append(mine, ev)
		} else {
			rest = append(rest, ev)
		}
	}
	pending = rest
	return mine
}

// coreForgets makes the core stand-in forget the idempotency keys it
// has seen, as a core does after it kept them long enough: a result
// reported again after that is taken again. The results not yet read by
// a test are kept for it.
func (e *env) coreForgets(t *testing.T) {
	t.Helper()
	e.coreEvents(t) // moves what came so far to pending
	eventsMu.Lock()
	defer eventsMu.Unlock()
	e.core.Reset()
	sinkSeen, seenEvents = 0, map[string]bool{}
}

// dlq drains the outbound dead-letter queue and returns the messages whose
// body mentions jobID, with their reason. Other tests' messages are put
// back; once a receive brings only messages seen before, it stops.
func (e *env) dlq(t *testing.T, jobID string) []string {
	t.Helper()
	ctx := context.Background()
	url := e.stack.Names.Ref["OutboundDLQ"]
	var reasons []string
	seen := map[string]bool{}
	for {
		out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		fresh := false
		for _, m := range out.Messages {
			if !seen[aws.ToString(m.MessageId)] {
				seen[aws.ToString(m.MessageId)], fresh = true, true
			}
		}
		if !fresh {
			for _, m := range out.Messages {
				_, _ = e.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
			}
			return reasons
		}
		for _, m := range out.Messages {
			if strings.Contains(aws.ToString(m.Body), `"`+jobID+`"`) {
				reasons = append(reasons, aws.ToString(m.MessageAttributes[queue.ReasonAttribute].StringValue))
				_, _ = e.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
			} else {
				_, _ = e.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
			}
		}
	}
}

var recSeq atomic.Int64

// record wraps a job as the event source mapping would deliver it.
func record(t *testing.T, job any, receiveCount int) events.SQSMessage {
	t.Helper()
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := outbound.Decode(b)
	return events.SQSMessage{
		MessageId: fmt.Sprintf("msg-%d", recSeq.Add(1)),
		Body:      string(b),
		Attributes: map[string]string{"MessageGroupId": j.GroupID(), "MessageDeduplicationId": j.JobID,
			"ApproximateReceiveCount": fmt.Sprint(receiveCount)},
	}
}

// runs numbers each run of a test: go test -count=N runs a test again in
// the same binary, against the same emulator and simulator, where the
// previous run's job records, messages and limits still are.
var runs sync.Map // *testing.T → int64

func runOf(t *testing.T) int64 {
	v, _ := runs.LoadOrStore(t, recSeq.Add(1))
	return v.(int64)
}

// jid is job id id, made unique to this run of the test.
func jid(t *testing.T, id string) string { return fmt.Sprintf("%s-r%d", id, runOf(t)) }

// rcpt is a recipient of this run of the test only, keeping the last
// three digits of base to tell a test's recipients apart.
func rcpt(t *testing.T, base string) string {
	return fmt.Sprintf("+551196%04d%s", runOf(t)%10000, base[len(base)-3:])
}

func textJob(id, to, body string) outbound.Job {
	return outbound.Job{JobID: id, TenantID: "demo", PhoneNumberID: numberA, To: to, Type: outbound.TypeText,
		ClientRef: "ref-" + id, Text: &outbound.Text{Body: body}}
}

func handle(t *testing.T, h *Handler, recs ...events.SQSMessage) []string {
	t.Helper()
	resp, err := h.Handle(context.Background(), events.SQSEvent{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	return failed
}

// TestSendsEverySampleJob runs every sample event of events/sender through
// the handler: each is accepted by the simulator (which validates it
// against Meta's schema) and reported to the core with the simulator's
// wamid, and its message record is written for status matching.
func TestSendsEverySampleJob(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	ctx := context.Background()
	bucket := e.stack.Names.Ref["DataBucket"]
	s3c := s3.NewFromConfig(e.cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("tenants/demo/outbound/catalog.jpg"),
		Body: strings.NewReader("\xff\xd8\xff\xe0 jpeg"), ContentType: aws.String("image/jpeg")}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../../events/sender/*.json")
	for i, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.SQSEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			var job map[string]any
			body := strings.ReplaceAll(ev.Records[0].Body, "wacloud-local-databucket", bucket)
			_ = json.Unmarshal([]byte(body), &job)
			// A recipient and job id per sample keep the tests apart; a
			// sample naming its contact by business-scoped user id keeps
			// that form.
			to := fmt.Sprintf("+55119888%05d", i)
			if _, ok := job["recipient"]; ok {
				to = fmt.Sprintf("BR.%d8880000001", 100000+i)
				job["recipient"] = to
			} else {
				job["to"] = to
			}
			job["job_id"] = "sample-" + name
			e.openWindow(t, to)
			e.sim.OpenWindow(numberA, strings.TrimPrefix(to, "+"), time.Now().Add(-time.Minute))
			if failed := handle(t, h, record(t, job, 1)); len(failed) != 0 {
				t.Fatalf("batch item failures %v", failed)
			}
			got := e.simFor(to)
			if job["type"] == "read" || job["type"] == "typing" {
				// Receipts name the message, not the recipient.
				got = nil
				for _, a := range e.sim.Messages() {
					if a.Type == job["type"] && strings.Contains(string(a.Body), job[job["type"].(string)].(map[string]any)["message_id"].(string)) {
						got = append(got, a)
					}
				}
			}
			if len(got) != 1 || got[0].Type != job["type"] {
				t.Fatalf("simulator accepted %+v, want one %s", got, job["type"])
			}
			evs := e.coreEvents(t, "sample-"+name)
			if len(evs) != 1 || evs[0].Type != event.TypeOutboundAccepted {
				t.Fatalf("core events %+v, want one outbound.accepted", evs)
			}
			res := evs[0].Outbound
			if res.MessageID != got[0].WAMID || res.ClientRef != job["client_ref"] || res.MessageType != job["type"] {
				t.Errorf("result %+v, want wamid %q", res, got[0].WAMID)
			}
			want := event.Contact{WaID: strings.TrimPrefix(to, "+")}
			if _, ok := job["recipient"]; ok {
				want = event.Contact{UserID: to}
			}
			if evs[0].Contact == nil || *evs[0].Contact != want || evs[0].PhoneNumberID != numberA {
				t.Errorf("event routing %+v", evs[0])
			}
			if got[0].WAMID != "" {
				m, err := (&delivery.Store{API: e.ddb, Table: e.stack.Names.Ref["MessagesTable"]}).ByJob(ctx, "demo", "sample-"+name)
				if err != nil || m.WAMID != got[0].WAMID || m.TenantID != "demo" {
					t.Errorf("message record %+v, %v", m, err)
				}
			}
			if strings.HasSuffix(name, "_s3") && strings.Contains(string(got[0].Body), "s3://") {
				t.Errorf("an s3:// reference reached Meta: %s", got[0].Body)
			}
		})
	}
}

func TestInvalidJobIsReportedAndDeadLettered(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	before := e.sends.Load()
	id1, id2, id3 := jid(t, "invalid-1"), jid(t, "invalid-2"), jid(t, "invalid-3")
	job := textJob(id1, "+5511977770001", strings.Repeat("x", 4097))
	if failed := handle(t, h, record(t, job, 1)); len(failed) != 0 {
		t.Fatalf("an invalid job is retried: %v", failed)
	}
	evs := e.coreEvents(t, id1)
	if len(evs) != 1 || evs[0].Type != event.TypeOutboundFailed || evs[0].Outbound.Reason != event.ReasonInvalidJob ||
		*evs[0].Outbound.Retryable || !strings.Contains(evs[0].Outbound.Details, "4097 characters") {
		t.Fatalf("events %+v", evs)
	}
	if reasons := e.dlq(t, id1); len(reasons) != 1 || !strings.Contains(reasons[0], "limit 4096") {
		t.Errorf("dead-letter reasons %q", reasons)
	}
	if e.sends.Load() != before {
		t.Error("an invalid job reached the Graph API")
	}
	// A field the contract does not know: reported with the job's ids.
	// Each job is a message of its own, with an SQS message id of its own.
	rec := record(t, job, 1)
	rec.Body = `{"job_id":"` + id2 + `","tenant_id":"demo","to":"+5511977770001","type":"text","txt":{"body":"x"}}`
	if failed := handle(t, h, rec); len(failed) != 0 {
		t.Fatalf("invalid job retried: %v", failed)
	}
	if evs := e.coreEvents(t, id2); len(evs) != 1 || evs[0].Outbound.Reason != event.ReasonInvalidJob || !strings.Contains(evs[0].Outbound.Details, "txt") {
		t.Errorf("events %+v", evs)
	}
	if reasons := e.dlq(t, id2); len(reasons) != 1 {
		t.Errorf("dead-letter reasons %q", reasons)
	}
	// Not even JSON: dead-lettered with the reason; there is no tenant to
	// tell.
	rec = record(t, job, 1)
	rec.Body = `{"job_id":"` + id3 + `","tenant_id":"demo",`
	if failed := handle(t, h, rec); len(failed) != 0 {
		t.Fatalf("garbage retried: %v", failed)
	}
	if reasons := e.dlq(t, id3); len(reasons) != 1 || !strings.Contains(reasons[0], "decode outbound job") {
		t.Errorf("dead-letter reasons %q", reasons)
	}
}

func TestWindowRule(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	before := e.sends.Load()
	to := "+5511977770002" // never wrote in
	if failed := handle(t, h, record(t, textJob("window-1", to, "hi"), 1)); len(failed) != 0 {
		t.Fatal(failed)
	}
	evs := e.coreEvents(t, "window-1")
	if len(evs) != 1 || evs[0].Outbound.Reason != event.ReasonWindowClosed || *evs[0].Outbound.Retryable {
		t.Fatalf("events %+v", evs)
	}
	if e.sends.Load() != before {
		t.Error("a free-form message outside the window reached the Graph API")
	}
	if reasons := e.dlq(t, "window-1"); len(reasons) != 0 {
		t.Errorf("a window failure was dead-lettered: %q", reasons)
	}
	// Templates are always allowed; so are read receipts.
	tmpl := outbound.Job{JobID: "window-2", TenantID: "demo", PhoneNumberID: numberA, To: to, Type: outbound.TypeTemplate,
		Template: &outbound.Template{Name: "hello_world", Language: outbound.TemplateLanguage{Code: "en_US"}}}
	read := outbound.Job{JobID: "window-3", TenantID: "demo", PhoneNumberID: numberA, To: to, Type: outbound.TypeRead,
		Read: &outbound.Receipt{MessageID: "wamid.X"}}
	if failed := handle(t, h, record(t, tmpl, 1), record(t, read, 1)); len(failed) != 0 {
		t.Fatal(failed)
	}
	for _, id := range []string{"window-2", "window-3"} {
		if evs := e.coreEvents(t, id); len(evs) != 1 || evs[0].Type != event.TypeOutboundAccepted {
			t.Errorf("%s: events %+v", id, evs)
		}
	}
	// Once the contact writes, free-form messages go out.
	e.openWindow(t, to)
	if failed := handle(t, h, record(t, textJob("window-4", to, "hi"), 1)); len(failed) != 0 {
		t.Fatal(failed)
	}
	if evs := e.coreEvents(t, "window-4"); len(evs) != 1 || evs[0].Type != event.TypeOutboundAccepted {
		t.Errorf("events %+v", evs)
	}
}

func TestTenantIsolation(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	before := e.sends.Load()
	to := "+5511977770003"
	e.openWindow(t, to)
	job := textJob("isolation-1", to, "hi")
	job.PhoneNumberID = numberB // tenant other's number
	if failed := handle(t, h, record(t, job, 1)); len(failed) != 0 {
		t.Fatal(failed)
	}
	evs := e.coreEvents(t, "isolation-1")
	if len(evs) != 1 || evs[0].Outbound.Reason != event.ReasonTenantMismatch || evs[0].TenantID != "demo" {
		t.Fatalf("events %+v", evs)
	}
	if e.sends.Load() != before {
		t.Error("a Graph call was made with one of the tenants' tokens")
	}
	if s := h.Numbers.(*throttle.Limiter).Stats(numberB); s.Prefetches != 0 || s.Leases != 0 {
		t.Errorf("the other tenant's send schedule was booked: %+v", s)
	}
	if reasons := e.dlq(t, "isolation-1"); len(reasons) != 1 || !strings.Contains(reasons[0], "does not belong to tenant demo") {
		t.Errorf("dead-letter reasons %q", reasons)
	}
	// A job id another tenant used is this tenant's own: TestJobIDScopedByTenant.
}

// TestRedeliveryNeverSendsTwice delivers the same job again, as SQS may.
func TestRedeliveryNeverSendsTwice(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	to := "+5511977770004"
	e.openWindow(t, to)
	rec := record(t, textJob("redeliver-1", to, "once"), 1)
	for i := 0; i < 3; i++ {
		other := e.handler(t) // another instance may get it
		for _, hh := range []*Handler{h, other} {
			if failed := handle(t, hh, rec); len(failed) != 0 {
				t.Fatal(failed)
			}
		}
	}
	if got := len(e.simFor(to)); got != 1 {
		t.Fatalf("sent %d times", got)
	}
	// The result is published again each time with the same event id;
	// the FIFO queue's deduplication keeps one.
	evs := e.coreEvents(t, "redeliver-1")
	if len(evs) != 1 || evs[0].Type != event.TypeOutboundAccepted {
		t.Errorf("events %+v", evs)
	}
}

// setsState reports whether a write names the job record's state and
// carries the value st: the write that moves a job to st.
func setsState(names map[string]string, values map[string]ddbtypes.AttributeValue, st string) bool {
	if !slices.Contains(slices.Collect(maps.Values(names)), "state") {
		return false
	}
	for _, v := range values {
		if s, ok := v.(*ddbtypes.AttributeValueMemberS); ok && s.Value == st {
			return true
		}
	}
	return false
}

// failingSent fails the write that records a send as sent, as a crash
// between Meta's answer and the record would leave it.
type failingSent struct {
	JobsAPI
	failed atomic.Int64
}

func (f *failingSent) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opt ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if setsState(in.ExpressionAttributeNames, in.ExpressionAttributeValues, StateSent) {
		f.failed.Add(1)
		return nil, errors.New("simulated crash before the record")
	}
	return f.JobsAPI.UpdateItem(ctx, in, opt...)
}

// TransactWriteItems fails the transaction that records the send together
// with the message record.
func (f *failingSent) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opt ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		if it.Update != nil && setsState(it.Update.ExpressionAttributeNames, it.Update.ExpressionAttributeValues, StateSent) {
			f.failed.Add(1)
			return nil, errors.New("simulated crash before the record")
		}
	}
	return f.JobsAPI.TransactWriteItems(ctx, in, opt...)
}

func TestCrashBetweenSendAndRecord(t *testing.T) {
	e := testEnv(t)
	to := rcpt(t, "+5511977770005")
	e.openWindow(t, to)
	h := e.handler(t)
	fs := &failingSent{JobsAPI: h.Jobs.API}
	h.Jobs.API = fs
	rec := record(t, textJob(jid(t, "crash-1"), to, "once"), 1)
	if failed := handle(t, h, rec); len(failed) != 0 {
		t.Fatal(failed)
	}
	// Both ways of recording it fail: with the message record, then alone.
	if fs.failed.Load() != 2 || len(e.simFor(to)) != 1 {
		t.Fatalf("record failures %d, sends %d", fs.failed.Load(), len(e.simFor(to)))
	}
	// Meta's wamid was known, so the result still went out.
	evs := e.coreEvents(t, jid(t, "crash-1"))
	if len(evs) != 1 || evs[0].Outbound.MessageID != e.simFor(to)[0].WAMID {
		t.Fatalf("events %+v", evs)
	}
	// Redelivered while the claim's lease runs: retried later, not sent.
	h2 := e.handler(t)
	if failed := handle(t, h2, rec); len(failed) != 1 {
		t.Errorf("redelivery during the lease: failures %v, want a retry", failed)
	}
	// After the lease: the message record shows Meta accepted it.
	later := func() time.Time { return time.Now().Add(DefaultLease + time.Minute) }
	h3 := e.handler(t)
	h3.Jobs.Now, h3.Now = later, later
	if failed := handle(t, h3, rec); len(failed) != 0 {
		t.Fatal(failed)
	}
	if got := len(e.simFor(to)); got != 1 {
		t.Fatalf("sent %d times", got)
	}
	r, err := h3.Jobs.Get(context.Background(), JobRef{TenantID: "demo", JobID: jid(t, "crash-1")})
	if err != nil || r.State != StateSent || r.WAMID != e.simFor(to)[0].WAMID {
		t.Errorf("record %+v, %v", r, err)
	}
	e.coreEvents(t, jid(t, "crash-1"))
}

// TestCrashAfterClaim: an attempt claimed the job and vanished, leaving no
// trace of Meta's answer. The job is reported outcome_unknown, not resent.
func TestCrashAfterClaim(t *testing.T) {
	e := testEnv(t)
	to := "+5511977770006"
	e.openWindow(t, to)
	before := e.sends.Load()
	h := e.handler(t)
	crashed := &JobStore{API: h.Jobs.API, Table: h.Jobs.Table, Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }}
	if _, _, err := crashed.Claim(context.Background(), JobRecord{JobID: "crash-2", TenantID: "demo", PhoneNumberID: numberA, To: "5511977770006", Type: "text"}); err != nil {
		t.Fatal(err)
	}
	if failed := handle(t, h, record(t, textJob("crash-2", to, "once"), 2)); len(failed) != 0 {
		t.Fatal(failed)
	}
	if e.sends.Load() != before {
		t.Error("a job of unknown outcome was sent again")
	}
	evs := e.coreEvents(t, "crash-2")
	if len(evs) != 1 || evs[0].Outbound.Reason != event.ReasonOutcomeUnknown || *evs[0].Outbound.Retryable {
		t.Errorf("events %+v", evs)
	}
}

// failingFailed fails, once, the write that records a job as failed.
type failingFailed struct {
	JobsAPI
	failed atomic.Int64
}

func (f *failingFailed) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opt ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if setsState(in.ExpressionAttributeNames, in.ExpressionAttributeValues, StateFailed) && f.failed.Add(1) == 1 {
		return nil, errors.New("simulated DynamoDB outage")
	}
	return f.JobsAPI.UpdateItem(ctx, in, opt...)
}

// TestUnknownOutcomeKeptWhenItsRecordFails: Meta may have acted on a send
// that got no answer; if recording that outcome fails, the claim must stay,
// so no redelivery sends the message again.
func TestUnknownOutcomeKeptWhenItsRecordFails(t *testing.T) {
	e := testEnv(t)
	to := rcpt(t, "+5511977770007")
	e.openWindow(t, to)
	h := e.handler(t)
	ff := &failingFailed{JobsAPI: h.Jobs.API}
	h.Jobs.API = ff
	e.sim.AddFault(graphsim.Fault{Code: 1, To: to, Transport: true})
	if failed := handle(t, h, record(t, textJob(jid(t, "unknown-1"), to, "once"), 1)); len(failed) != 1 {
		t.Fatalf("failures %v, want the job retried", failed)
	}
	if ff.failed.Load() != 1 {
		t.Fatalf("failed records %d, want 1", ff.failed.Load())
	}
	// Redelivered at once, and again after the claim's lease.
	if failed := handle(t, e.handler(t), record(t, textJob(jid(t, "unknown-1"), to, "once"), 2)); len(failed) != 1 {
		t.Errorf("redelivery during the lease: failures %v, want a retry", failed)
	}
	later := func() time.Time { return time.Now().Add(DefaultLease + time.Minute) }
	h3 := e.handler(t)
	h3.Jobs.Now, h3.Now = later, later
	if failed := handle(t, h3, record(t, textJob(jid(t, "unknown-1"), to, "once"), 3)); len(failed) != 0 {
		t.Fatal(failed)
	}
	if got := len(e.simFor(to)); got != 1 {
		t.Fatalf("Meta got it %d times", got)
	}
	evs := e.coreEvents(t, jid(t, "unknown-1"))
	if len(evs) != 1 || evs[0].Outbound.Reason != event.ReasonOutcomeUnknown {
		t.Errorf("events %+v", evs)
	}
}

func TestGraphErrors(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	t.Run("permanent", func(t *testing.T) {
		to := rcpt(t, "+5511977770010")
		e.openWindow(t, to)
		e.sim.AddFault(graphsim.Fault{Code: 131026, To: to})
		rec := record(t, textJob(jid(t, "graph-1"), to, "x"), 1)
		if failed := handle(t, h, rec); len(failed) != 0 {
			t.Fatal(failed)
		}
		evs := e.coreEvents(t, jid(t, "graph-1"))
		if len(evs) != 1 || evs[0].Outbound.Code != 131026 || evs[0].Outbound.Reason != event.ReasonGraphError || *evs[0].Outbound.Retryable {
			t.Fatalf("events %+v", evs)
		}
		if reasons := e.dlq(t, jid(t, "graph-1")); len(reasons) != 0 {
			t.Errorf("Meta's refusal was dead-lettered: %q", reasons)
		}
		before := e.sends.Load()
		if failed := handle(t, h, rec); len(failed) != 0 || e.sends.Load() != before {
			t.Errorf("redelivered failed job: failures %v, new sends %d", failed, e.sends.Load()-before)
		}
	})
	t.Run("transient then accepted", func(t *testing.T) {
		to := rcpt(t, "+5511977770011")
		e.openWindow(t, to)
		e.sim.AddFault(graphsim.Fault{Code: 131000, To: to})
		if failed := handle(t, h, record(t, textJob(jid(t, "graph-2"), to, "x"), 1)); len(failed) != 1 {
			t.Fatalf("failures %v, want a retry", failed)
		}
		if evs := e.coreEvents(t, jid(t, "graph-2")); len(evs) != 0 {
			t.Fatalf("a retried job reported %+v", evs)
		}
		if failed := handle(t, h, record(t, textJob(jid(t, "graph-2"), to, "x"), 2)); len(failed) != 0 {
			t.Fatal(failed)
		}
		if evs := e.coreEvents(t, jid(t, "graph-2")); len(evs) != 1 || evs[0].Type != event.TypeOutboundAccepted || evs[0].Outbound.Attempts != 2 {
			t.Errorf("events %+v", evs)
		}
	})
	t.Run("transient past the receive budget", func(t *testing.T) {
		to := rcpt(t, "+5511977770012")
		e.openWindow(t, to)
		e.sim.AddFault(graphsim.Fault{Code: 130429, To: to})
		if failed := handle(t, h, record(t, textJob(jid(t, "graph-3"), to, "x"), DefaultGiveUpAfter)); len(failed) != 0 {
			t.Fatal(failed)
		}
		evs := e.coreEvents(t, jid(t, "graph-3"))
		if len(evs) != 1 || evs[0].Outbound.Reason != event.ReasonRetriesExhausted || !*evs[0].Outbound.Retryable || evs[0].Outbound.Code != 130429 {
			t.Errorf("events %+v", evs)
		}
	})
	t.Run("no answer after the request went out", func(t *testing.T) {
		to := rcpt(t, "+5511977770013")
		e.openWindow(t, to)
		e.sim.AddFault(graphsim.Fault{Code: 1, To: to, Transport: true})
		rec := record(t, textJob(jid(t, "graph-4"), to, "x"), 1)
		if failed := handle(t, h, rec); len(failed) != 0 {
			t.Fatal(failed)
		}
		evs := e.coreEvents(t, jid(t, "graph-4"))
		if len(evs) != 1 || evs[0].Outbound.Reason != event.ReasonOutcomeUnknown {
			t.Fatalf("events %+v", evs)
		}
		handle(t, h, rec)
		if got := len(e.simFor(to)); got != 1 {
			t.Errorf("Meta got it %d times", got)
		}
	})
	// Token rejections (190) hold jobs: TestTokenOutageHoldsJobs.
}

// TestThroughQueues is the end-to-end path: a job enqueued on the outbound
// FIFO queue as the core does it is received like the event source mapping
// receives it, sent through the simulator, and its result lands on the
// core events queue.
func TestThroughQueues(t *testing.T) {
	e := testEnv(t)
	ctx := context.Background()
	h := e.handler(t)
	to := "+5511977770020"
	e.openWindow(t, to)
	job := textJob("queue-1", to, "through the queues")
	b, _ := json.Marshal(job)
	q := e.stack.Names.Ref["OutboundQueue"]
	if _, err := e.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q), MessageBody: aws.String(string(b)),
		MessageGroupId: aws.String(job.GroupID()), MessageDeduplicationId: aws.String(job.JobID)}); err != nil {
		t.Fatal(err)
	}
	out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q), MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive: %v, %d messages", err, len(out.Messages))
	}
	m := out.Messages[0]
	rec := events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body), Attributes: m.Attributes}
	if failed := handle(t, h, rec); len(failed) != 0 {
		t.Fatal(failed)
	}
	if _, err := e.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q), ReceiptHandle: m.ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	got := e.simFor(to)
	if len(got) != 1 || !strings.Contains(string(got[0].Body), "through the queues") {
		t.Fatalf("simulator %+v", got)
	}
	evs := e.coreEvents(t, "queue-1")
	if len(evs) != 1 || evs[0].Outbound.MessageID != got[0].WAMID {
		t.Errorf("events %+v", evs)
	}
}

// resolvedRecipient answers like Meta when it resolves the number a job
// named to another WhatsApp id (a Brazilian number without its ninth digit).
type resolvedRecipient struct {
	Graph
	waID string
}

func (r resolvedRecipient) SendMessage(ctx context.Context, token, phoneNumberID string, body any) (graph.SendResult, error) {
	res, err := r.Graph.SendMessage(ctx, token, phoneNumberID, body)
	if err == nil && len(res.Contacts) > 0 {
		res.Contacts[0].WaID = r.waID
	}
	return res, err
}

// Status webhooks name the recipient as Meta resolved it; the result event
// and the message record must use the same id so that the core gets the
// acceptance and the statuses in one FIFO group.
func TestAcceptedUsesMetasRecipientID(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	// A recipient of this run's own (the identity the first run learnt
	// would otherwise resolve the next run's job before it is sent), and
	// the same number as Meta resolves it: without the ninth digit.
	to := rcpt(t, "+5511977770099")
	resolved := strings.TrimPrefix(to[:5]+to[6:], "+")
	e.openWindow(t, to)
	h.Graph = resolvedRecipient{Graph: h.Graph, waID: resolved}
	if failed := handle(t, h, record(t, textJob(jid(t, "resolved-1"), to, "hi"), 1)); len(failed) != 0 {
		t.Fatal(failed)
	}
	evs := e.coreEvents(t, jid(t, "resolved-1"))
	if len(evs) != 1 || evs[0].Type != event.TypeOutboundAccepted {
		t.Fatalf("events %+v", evs)
	}
	if got := evs[0].Contact.WaID; got != resolved {
		t.Errorf("accepted contact = %q, want Meta's %q", got, resolved)
	}
	store := &delivery.Store{API: e.ddb, Table: e.stack.Names.Ref["MessagesTable"]}
	m, err := store.ByJob(context.Background(), "demo", jid(t, "resolved-1"))
	if err != nil {
		t.Fatal(err)
	}
	if m.To != resolved {
		t.Errorf("message record recipient = %q, want Meta's %q", m.To, resolved)
	}
}
