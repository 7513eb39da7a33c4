package manage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/apispec"
	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/manage"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/queue"
)

const messagesRoute = "POST /v1/tenants/{tenant_id}/messages"

// request is an API Gateway event for route, as the JWT authorizer passes
// it (scope nil: a route without the authorizer).
func request(route, tenantID string, scope *string, body string) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: route, Body: body,
		Headers:        map[string]string{"content-type": "application/json"},
		PathParameters: map[string]string{"tenant_id": tenantID},
	}
	if scope != nil {
		req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{
				"iss": "https://issuer.example", "client_id": "core", "scope": *scope, "exp": "1900000000",
			}},
		}
	}
	return req
}

// apiError reads the one error shape every failure answers.
func apiError(t *testing.T, resp events.APIGatewayV2HTTPResponse) manage.Error {
	t.Helper()
	if got := resp.Headers["Content-Type"]; got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	var body map[string]map[string]json.RawMessage
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || len(body) != 1 || body["error"] == nil {
		t.Fatalf("body %s is not {\"error\":{…}}: %v", resp.Body, err)
	}
	for _, k := range []string{"code", "message", "details"} {
		if _, ok := body["error"][k]; !ok {
			t.Errorf("error %s has no %q", resp.Body, k)
		}
	}
	var e manage.Error
	b, _ := json.Marshal(body["error"])
	if err := json.Unmarshal(b, &e); err != nil || e.Code == "" || e.Message == "" || e.Details == nil {
		t.Errorf("error %s: code, message and details (a list) are required: %v", resp.Body, err)
	}
	return e
}

var (
	specOnce sync.Once
	spec     *apispec.Spec
	specErr  error
)

// serve is h.Handle through api/openapi.yaml: the answer must be one the
// document describes, and so must the request when the API accepted it,
// unless lenient marks a form the API accepts beyond the document's
// (a job without tenant_id or job_id, which the path or the
// Idempotency-Key fill in).
func serve(t *testing.T, h *manage.Handler, req events.APIGatewayV2HTTPRequest, lenient bool) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := h.Handle(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	specOnce.Do(func() { spec, specErr = apispec.Load("../../api/openapi.yaml") })
	if specErr != nil {
		t.Fatal(specErr)
	}
	method, path, _ := strings.Cut(req.RouteKey, " ")
	for k, v := range req.PathParameters {
		path = strings.ReplaceAll(path, "{"+k+"}", url.PathEscape(v))
	}
	hr, err := http.NewRequest(method, "http://127.0.0.1:3000"+path, strings.NewReader(req.Body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range req.Headers {
		hr.Header.Set(k, v)
	}
	if manage.Claims(req) != nil {
		hr.Header.Set("Authorization", "Bearer token")
	}
	header := http.Header{}
	for k, v := range resp.Headers {
		header.Set(k, v)
	}
	check := resp.StatusCode/100 == 2 && !lenient
	if err := spec.Check(hr, []byte(req.Body), check, resp.StatusCode, header, []byte(resp.Body)); err != nil {
		t.Error(err)
	}
	return resp
}

// memQueue is a Publisher in memory; Err makes every publish fail.
type memQueue struct {
	Err  error
	msgs []queue.Message
}

func (q *memQueue) Publish(_ context.Context, _ string, msgs ...queue.Message) error {
	if q.Err != nil {
		return q.Err
	}
	q.msgs = append(q.msgs, msgs...)
	return nil
}

func TestTenantsOf(t *testing.T) {
	tests := []struct {
		name, scope string
		want        []string
	}{
		{"one tenant", "tenant:demo", []string{"demo"}},
		{"several, other scopes ignored", "openid tenant:demo tenant:acme messages.write", []string{"demo", "acme"}},
		{"resource server prefix (Cognito)", "wacloud/tenant:acme", []string{"acme"}},
		{"no tenant", "openid", nil},
		{"empty tenant", "tenant:", nil},
		{"an array claim as API Gateway flattens it grants nothing", "[tenant:demo tenant:acme]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := manage.TenantsOf(map[string]string{"scope": tt.scope}); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("TenantsOf(scope %q) = %q, want %q", tt.scope, got, tt.want)
			}
		})
	}
}

// TestEveryRouteChecksTheTenant: every route with a {tenant_id} answers
// 401 without claims, 403 for a tenant the token does not name, 400 for
// a path tenant that is no tenant id, and gets past the check with it.
func TestEveryRouteChecksTheTenant(t *testing.T) {
	h := &manage.Handler{Queue: &memQueue{}, OutboundQueueURL: "https://sqs.example/q.fifo", Log: slog.New(slog.DiscardHandler)}
	scope := func(s string) *string { return &s }
	for _, rt := range h.Routes() {
		if !strings.Contains(rt.Path, "{tenant_id}") {
			continue
		}
		tests := []struct {
			name     string
			tenant   string
			scope    *string
			want     int
			wantCode string
		}{
			{"no claims", "demo", nil, http.StatusUnauthorized, manage.CodeUnauthorized},
			{"token for another tenant", "demo", scope("tenant:acme"), http.StatusForbidden, manage.CodeForbiddenTenant},
			{"token for a tenant whose id starts alike", "demo", scope("tenant:demo2 tenant:dem"), http.StatusForbidden, manage.CodeForbiddenTenant},
			{"token without scope", "demo", scope(""), http.StatusForbidden, manage.CodeForbiddenTenant},
			{"path tenant is no tenant id", "demo$", scope("tenant:demo$"), http.StatusBadRequest, manage.CodeInvalidTenant},
			{"token for the tenant", "demo", scope("tenant:acme tenant:demo"), 0, ""},
		}
		for _, tt := range tests {
			t.Run(rt.Key()+"/"+tt.name, func(t *testing.T) {
				resp := serve(t, h, request(rt.Key(), tt.tenant, tt.scope, "{}"), false)
				if tt.want == 0 {
					if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
						t.Errorf("status %d %s; the token names the tenant", resp.StatusCode, resp.Body)
					}
					return
				}
				if resp.StatusCode != tt.want {
					t.Errorf("status %d, want %d (%s)", resp.StatusCode, tt.want, resp.Body)
				}
				if e := apiError(t, resp); e.Code != tt.wantCode {
					t.Errorf("code %q, want %q", e.Code, tt.wantCode)
				}
			})
		}
	}
}

func TestUnknownRouteIsNotFound(t *testing.T) {
	h := &manage.Handler{Log: slog.New(slog.DiscardHandler)}
	all := "tenant:demo"
	resp, _ := h.Handle(context.Background(), request("GET /v1/tenants/{tenant_id}/nothing", "demo", &all, ""))
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status %d, want 404", resp.StatusCode)
	}
	if e := apiError(t, resp); e.Code != manage.CodeNotFound {
		t.Errorf("code %q", e.Code)
	}
}

// env is the handler as its Lambda main builds it, over the template's
// outbound queue in the emulator.
type env struct {
	h     *manage.Handler
	sqs   *sqs.Client
	queue string
}

var envRuns atomic.Int64

func newEnv(t *testing.T) *env {
	t.Helper()
	emu := awsemu.StartTest(t)
	st := stack.Fresh(t, emu.Config(), stack.Options{StackName: fmt.Sprintf("t-%s-r%d", stack.TestName(t), envRuns.Add(1))})
	fn := st.Functions["ApiFunction"]
	h, err := manage.Setup(context.Background(), fn.Getenv, emu.Config())
	if err != nil {
		t.Fatal(err)
	}
	h.Log = slog.New(slog.DiscardHandler)
	h.Metrics.Out = io.Discard
	return &env{h: h, sqs: sqs.NewFromConfig(emu.Config()), queue: st.Names.Ref["OutboundQueue"]}
}

// received takes every message off the queue, with its FIFO attributes.
func (e *env) received(t *testing.T) []sqstypes.Message {
	t.Helper()
	var out []sqstypes.Message
	for {
		r, err := awsemu.Receive(context.Background(), e.sqs, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(e.queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 0,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			return out
		}
		for _, m := range r.Messages {
			out = append(out, m)
			if _, err := e.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(e.queue), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// sampleJobs are the sender's sample jobs (events/sender), by file.
func sampleJobs(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("../../events/sender/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample jobs: %v", err)
	}
	out := map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev events.SQSEvent
		if err := json.Unmarshal(raw, &ev); err != nil || len(ev.Records) != 1 {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = ev.Records[0].Body
	}
	return out
}

// TestSendMessageQueuesAsTheCoreWould posts every sample job, once with
// its tenant_id and once without (the path names it, and the job has an id
// of its own: SQS would drop a second job_id within 5 minutes), and finds
// it on the outbound FIFO queue as the core would have sent it: the same
// job, in group outbound.Job.GroupID, deduplicated by job_id.
func TestSendMessageQueuesAsTheCoreWould(t *testing.T) {
	e := newEnv(t)
	scope := "tenant:demo"
	for name, body := range sampleJobs(t) {
		withTenant, err := outbound.Decode([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var noTenant map[string]any
		if err := json.Unmarshal([]byte(body), &noTenant); err != nil {
			t.Fatal(err)
		}
		delete(noTenant, "tenant_id")
		noTenant["job_id"] = withTenant.JobID + "-path"
		b, _ := json.Marshal(noTenant)
		fromPath := withTenant
		fromPath.JobID += "-path"
		for _, v := range []struct {
			variant, posted string
			want            outbound.Job
		}{{"with tenant_id", body, withTenant}, {"tenant from the path", string(b), fromPath}} {
			want := v.want
			t.Run(name+"/"+v.variant, func(t *testing.T) {
				resp := serve(t, e.h, request(messagesRoute, want.TenantID, &scope, v.posted), v.variant == "tenant from the path")
				if resp.StatusCode != http.StatusAccepted {
					t.Fatalf("status %d %s, want 202", resp.StatusCode, resp.Body)
				}
				var acc manage.Accepted
				if err := json.Unmarshal([]byte(resp.Body), &acc); err != nil || acc.JobID != want.JobID {
					t.Errorf("answer %s, want job_id %q (%v)", resp.Body, want.JobID, err)
				}
				msgs := e.received(t)
				if len(msgs) != 1 {
					t.Fatalf("%d messages on the queue, want 1", len(msgs))
				}
				m := msgs[0]
				if got, want := m.Attributes["MessageGroupId"], want.GroupID(); got != want {
					t.Errorf("group %q, want %q", got, want)
				}
				if got, want := m.Attributes["MessageDeduplicationId"], want.JobID; got != want {
					t.Errorf("deduplication id %q, want %q", got, want)
				}
				got, err := outbound.Decode([]byte(aws.ToString(m.Body)))
				if err != nil {
					t.Fatalf("the queued job does not decode as the sender decodes it: %v", err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("queued job\n%+v\nwant\n%+v", got, want)
				}
			})
		}
	}
}

// TestSendMessageRefusesWhatTheSenderRefuses: a job the sender would fail
// as invalid_job is answered 400 with the sender's reasons, and nothing is
// queued.
func TestSendMessageRefusesWhatTheSenderRefuses(t *testing.T) {
	q := &memQueue{}
	h := &manage.Handler{Queue: q, OutboundQueueURL: "https://sqs.example/q.fifo", Log: slog.New(slog.DiscardHandler)}
	scope := "tenant:demo"
	text := `"job_id":"j1","to":"+5511999990001","type":"text","text":{"body":"hi"}`
	tests := []struct {
		name, body string
		headers    map[string]string
		wantCode   string
		// sender is true when the sender would refuse the same body
		// (tenant filled in) as invalid_job, with the same reasons.
		sender bool
	}{
		{"unknown key", `{` + text + `,"txt":{"body":"x"}}`, nil, manage.CodeInvalidJob, true},
		{"key in another case", `{` + text + `,"To":"+5511999990002"}`, nil, manage.CodeInvalidJob, true},
		{"no type", `{"job_id":"j1","to":"+5511999990001","text":{"body":"hi"}}`, nil, manage.CodeInvalidJob, true},
		{"recipient not E.164", `{"job_id":"j1","to":"12","type":"text","text":{"body":"hi"}}`, nil, manage.CodeInvalidJob, true},
		{"media of another tenant", `{"job_id":"j1","to":"+5511999990001","type":"image","image":{"link":"s3://b/tenants/acme/x.jpg"}}`, nil, manage.CodeInvalidJob, true},
		{"no job id", `{"to":"+5511999990001","type":"text","text":{"body":"hi"}}`, nil, manage.CodeInvalidJob, true},
		{"not JSON", `hello`, nil, manage.CodeInvalidJob, true},
		{"another tenant in the body", `{"tenant_id":"acme",` + text + `}`, nil, manage.CodeTenantMismatch, false},
		{"Idempotency-Key other than job_id", `{` + text + `}`, map[string]string{"idempotency-key": "j2"}, manage.CodeIdempotencyKey, false},
		{"empty body", ``, nil, manage.CodeInvalidJSON, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request(messagesRoute, "demo", &scope, tt.body)
			for k, v := range tt.headers {
				req.Headers[k] = v
			}
			resp := serve(t, h, req, false)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d %s, want 400", resp.StatusCode, resp.Body)
			}
			e := apiError(t, resp)
			if e.Code != tt.wantCode {
				t.Errorf("code %q, want %q", e.Code, tt.wantCode)
			}
			if tt.sender {
				if want := senderReasons(t, tt.body); !reflect.DeepEqual(e.Details, want) {
					t.Errorf("details %q, want the sender's reasons %q", e.Details, want)
				}
			}
			if len(q.msgs) > 0 {
				t.Errorf("%d messages queued", len(q.msgs))
			}
		})
	}
}

// senderReasons are the problems the sender finds in body with the
// tenant set, as it decodes and validates a queued job.
func senderReasons(t *testing.T, body string) []string {
	t.Helper()
	j, err := outbound.Decode([]byte(body))
	if err == nil {
		if j.TenantID == "" {
			j.TenantID = "demo"
		}
		err = outbound.Validate(j)
	}
	var ve *outbound.ValidationError
	if errors.As(err, &ve) {
		return ve.Problems
	}
	if err == nil {
		t.Fatalf("the sender accepts %s", body)
	}
	// A decoding problem: the sender's reason ends with it.
	msg := err.Error()
	return []string{msg[strings.LastIndex(msg, "decode outbound job: ")+len("decode outbound job: "):]}
}

func TestSendMessageIdempotencyKeyIsTheJobID(t *testing.T) {
	q := &memQueue{}
	h := &manage.Handler{Queue: q, OutboundQueueURL: "https://sqs.example/q.fifo", Log: slog.New(slog.DiscardHandler)}
	scope := "tenant:demo"
	for _, tt := range []struct{ name, body, key string }{
		{"key only", `{"to":"+5511999990001","type":"text","text":{"body":"hi"}}`, "k-1"},
		{"both, equal", `{"job_id":"k-1","to":"+5511999990001","type":"text","text":{"body":"hi"}}`, "k-1"},
		{"job_id only", `{"job_id":"k-1","to":"+5511999990001","type":"text","text":{"body":"hi"}}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q.msgs = nil
			req := request(messagesRoute, "demo", &scope, tt.body)
			if tt.key != "" {
				req.Headers["Idempotency-Key"] = tt.key
			}
			resp := serve(t, h, req, true)
			if resp.StatusCode != http.StatusAccepted || len(q.msgs) != 1 {
				t.Fatalf("status %d %s, %d queued; want 202 and 1", resp.StatusCode, resp.Body, len(q.msgs))
			}
			if got := q.msgs[0].DedupID; got != "k-1" {
				t.Errorf("deduplication id %q, want k-1", got)
			}
		})
	}
}

// TestSendMessageQueueDown: a failed publish is a 503 the core retries,
// without the AWS error's text.
func TestSendMessageQueueDown(t *testing.T) {
	secret := "arn:aws:sqs:us-east-1:000000000000:internal-detail"
	h := &manage.Handler{Queue: &memQueue{Err: errors.New("AccessDenied on " + secret)}, OutboundQueueURL: "https://sqs.example/q.fifo", Log: slog.New(slog.DiscardHandler)}
	scope := "tenant:demo"
	resp := serve(t, h, request(messagesRoute, "demo", &scope, `{"job_id":"j","tenant_id":"demo","to":"+5511999990001","type":"text","text":{"body":"hi"}}`), false)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	if e := apiError(t, resp); e.Code != manage.CodeUnavailable || strings.Contains(resp.Body, secret) || slices.Contains(e.Details, secret) {
		t.Errorf("answer %s: want %s without the error's text", resp.Body, manage.CodeUnavailable)
	}
}
