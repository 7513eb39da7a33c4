package webhook_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/webhook"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

const (
	platformSecret = "platform-app-secret"
	platformVerify = "platform-verify-token"
	acmeSecret     = "acme-app-secret"
	acmeVerify     = "acme-verify-token"
	// acme's sending secret still carries these from before the split;
	// the webhook must never use them.
	staleSecret = "stale-acme-app-secret"
	staleVerify = "stale-acme-verify-token"
)

// env is a provisioned local stack with a platform app, a tenant "acme" on
// its own app, a disabled tenant "gone", and own-app tenants whose
// webhook-side secret is missing ("nosecret"), holds an access token
// ("leaky") or has no app secret yet ("unset").
type env struct {
	t      *testing.T
	ctx    context.Context
	cfg    aws.Config
	stack  *stack.Stack
	sqs    *sqs.Client
	s3     *s3.Client
	getenv func(string) string
	logs   *bytes.Buffer
	emf    *bytes.Buffer
}

// envRuns numbers the environments the package's tests create.
var envRuns atomic.Int64

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	emu := awsemu.StartTest(t)
	// Fresh clears tables and queues but not the bucket, whose parked
	// payloads outlive a run of the test (go test -count): each run gets a
	// stack name, so a bucket, of its own.
	st := stack.Fresh(t, emu.Config(), stack.Options{StackName: fmt.Sprintf("t-%s-r%d", stack.TestName(t), envRuns.Add(1))})
	fn := st.Functions["WebhookFunction"]
	e := &env{t: t, ctx: ctx, cfg: emu.Config(), stack: st,
		sqs: sqs.NewFromConfig(emu.Config()),
		s3:  s3.NewFromConfig(emu.Config(), func(o *s3.Options) { o.UsePathStyle = true }),
		getenv: func(k string) string {
			if k == "S3_USE_PATH_STYLE" {
				return "true"
			}
			return fn.Env[k]
		},
		logs: &bytes.Buffer{}, emf: &bytes.Buffer{},
	}
	sm := secretsmanager.NewFromConfig(e.cfg)
	put := func(id string, v map[string]string) {
		b, _ := json.Marshal(v)
		if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(string(b))}); err == nil {
			return
		}
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(string(b))}); err != nil {
			t.Fatal(err)
		}
	}
	webhookSide := e.getenv("TENANT_WEBHOOK_SECRET_PREFIX")
	put(e.getenv("PLATFORM_WEBHOOK_SECRET_ID"), map[string]string{"app_secret": platformSecret, "verify_token": platformVerify})
	put(webhookSide+"acme", map[string]string{"app_secret": acmeSecret, "verify_token": acmeVerify})
	put("wacloud/tenants/acme", map[string]string{"access_token": "acme-access", "app_secret": staleSecret, "verify_token": staleVerify})
	put(webhookSide+"gone", map[string]string{"app_secret": "gone-secret", "verify_token": "gone-verify"})
	put(webhookSide+"leaky", map[string]string{"app_secret": "leaky-secret", "verify_token": "leaky-verify", "access_token": "leaky-access"})
	put(webhookSide+"unset", map[string]string{"app_secret": "", "verify_token": "unset-verify"})
	reg := &tenant.Registry{API: dynamodb.NewFromConfig(e.cfg), Table: e.getenv("TENANTS_TABLE")}
	if err := reg.Put(ctx, tenant.Tenant{ID: "acme", SecretID: "wacloud/tenants/acme", OwnApp: true},
		[]tenant.Number{{PhoneNumberID: "111", WABAID: "222"}}); err != nil {
		t.Fatal(err)
	}
	for _, tn := range []tenant.Tenant{
		{ID: "gone", SecretID: "wacloud/tenants/gone", OwnApp: true, Status: tenant.StatusDisabled},
		{ID: "nosecret", SecretID: "wacloud/tenants/nosecret", OwnApp: true},
		{ID: "leaky", SecretID: "wacloud/tenants/leaky", OwnApp: true},
		{ID: "unset", SecretID: "wacloud/tenants/unset", OwnApp: true},
	} {
		if err := reg.Put(ctx, tn, nil); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) handler() *webhook.Handler {
	e.t.Helper()
	h, err := webhook.Setup(e.ctx, e.getenv, e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	h.Log = slog.New(slog.NewJSONHandler(e.logs, nil))
	h.Metrics = &metrics.Recorder{Out: e.emf, Function: "webhook"}
	return h
}

func (e *env) inboundURL() string { return e.getenv("INBOUND_QUEUE_URL") }

func (e *env) statusURL() string { return e.getenv("STATUS_QUEUE_URL") }

// drain receives and deletes every message on the queue.
func (e *env) drain(url string) []sqstypes.Message {
	e.t.Helper()
	var all []sqstypes.Message
	for {
		out, err := awsemu.Receive(e.ctx, e.sqs, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			e.t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return all
		}
		all = append(all, out.Messages...)
		// Delete as SQS would after a successful batch: a FIFO group with
		// messages in flight hands out no more.
		for _, m := range out.Messages {
			if _, err := e.sqs.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

func (e *env) parked(prefix string) []string {
	e.t.Helper()
	out, err := e.s3.ListObjectsV2(e.ctx, &s3.ListObjectsV2Input{Bucket: aws.String(e.getenv("DATA_BUCKET")), Prefix: aws.String(prefix)})
	if err != nil {
		e.t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

func readPayload(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "webhooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withMessageID is the payload with its one message's id replaced by id,
// another message than the payload's as far as Meta and SQS are concerned.
func withMessageID(t *testing.T, payload []byte, id string) []byte {
	t.Helper()
	re := regexp.MustCompile(`"id": ?"wamid\.[^"]*"`)
	if n := len(re.FindAll(payload, -1)); n != 1 {
		t.Fatalf("payload has %d message ids, want 1", n)
	}
	return re.ReplaceAll(payload, []byte(`"id": "`+id+`"`))
}

func get(path string, pathParams map[string]string, q map[string]string) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{RawPath: path, PathParameters: pathParams, QueryStringParameters: q}
	req.RequestContext.HTTP.Method = "GET"
	req.RequestContext.HTTP.Path = path
	return routed(req)
}

func post(path string, body []byte, signature string) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{RawPath: path, Body: string(body), Headers: map[string]string{"content-type": "application/json"}}
	if signature != "" {
		req.Headers["x-hub-signature-256"] = signature
	}
	req.RequestContext.HTTP.Method = "POST"
	req.RequestContext.HTTP.Path = path
	return routed(req)
}

// routed fills what API Gateway adds for the template's routes: the route
// key and the tenant_id path parameter. Paths outside the routes keep none,
// as API Gateway would never invoke the function for them.
func routed(req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
	m := req.RequestContext.HTTP.Method
	switch id, tenantRoute := strings.CutPrefix(req.RawPath, "/webhook/"); {
	case req.RawPath == "/webhook":
		req.RouteKey = m + " /webhook"
	case tenantRoute && id != "" && !strings.Contains(id, "/"):
		req.RouteKey = m + " /webhook/{tenant_id}"
		if req.PathParameters == nil {
			req.PathParameters = map[string]string{"tenant_id": id}
		}
	}
	req.RequestContext.RouteKey = req.RouteKey
	return req
}

func TestVerifySubscription(t *testing.T) {
	e := newEnv(t)
	h := e.handler()
	sub := func(token string) map[string]string {
		return map[string]string{"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"}
	}
	tests := []struct {
		name   string
		path   string
		params map[string]string
		query  map[string]string
		status int
	}{
		{"platform right token", "/webhook", nil, sub(platformVerify), 200},
		{"platform wrong token", "/webhook", nil, sub("nope"), 403},
		{"platform empty token", "/webhook", nil, sub(""), 403},
		{"platform token prefix", "/webhook", nil, sub(platformVerify[:5]), 403},
		{"wrong mode", "/webhook", nil, map[string]string{"hub.mode": "unsubscribe", "hub.verify_token": platformVerify, "hub.challenge": "1"}, 403},
		{"no query", "/webhook", nil, nil, 403},
		{"tenant right token", "/webhook/acme", map[string]string{"tenant_id": "acme"}, sub(acmeVerify), 200},
		{"tenant route from raw path", "/webhook/acme", nil, sub(acmeVerify), 200},
		{"tenant with platform token", "/webhook/acme", map[string]string{"tenant_id": "acme"}, sub(platformVerify), 403},
		{"tenant with its sending secret's stale token", "/webhook/acme", map[string]string{"tenant_id": "acme"}, sub(staleVerify), 403},
		{"tenant without app secret yet", "/webhook/unset", map[string]string{"tenant_id": "unset"}, sub("unset-verify"), 200},
		{"tenant without webhook-side secret", "/webhook/nosecret", map[string]string{"tenant_id": "nosecret"}, sub(""), 500},
		{"access token in the webhook-side secret", "/webhook/leaky", map[string]string{"tenant_id": "leaky"}, sub("leaky-verify"), 500},
		{"platform with tenant token", "/webhook", nil, sub(acmeVerify), 403},
		{"unknown tenant", "/webhook/nobody", map[string]string{"tenant_id": "nobody"}, sub(acmeVerify), 403},
		{"disabled tenant", "/webhook/gone", map[string]string{"tenant_id": "gone"}, sub("gone-verify"), 403},
		{"odd tenant id", "/webhook/a%2Fb", map[string]string{"tenant_id": "a/b"}, sub(acmeVerify), 403},
		{"other path", "/hooks", nil, sub(platformVerify), 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := h.Handle(e.ctx, get(tt.path, tt.params, tt.query))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := resp.StatusCode, tt.status; got != want {
				t.Fatalf("status = %d, want %d (body %q)", got, want, resp.Body)
			}
			if tt.status == 200 {
				if got, want := resp.Body, "1158201444"; got != want {
					t.Errorf("body = %q, want the challenge %q", got, want)
				}
				if got := resp.Headers["Content-Type"]; !strings.HasPrefix(got, "text/plain") {
					t.Errorf("Content-Type = %q, want text/plain", got)
				}
			} else if strings.Contains(resp.Body, "1158201444") {
				t.Errorf("refusal echoes the challenge: %q", resp.Body)
			}
		})
	}
}

func TestReceiveSignature(t *testing.T) {
	body := readPayload(t, "text.json")
	tests := []struct {
		name    string
		headers map[string]string
		status  int
		units   int
	}{
		{"valid", map[string]string{"x-hub-signature-256": whatsapp.Sign(platformSecret, body)}, 200, 1},
		{"valid, header not lower-cased", map[string]string{"X-Hub-Signature-256": whatsapp.Sign(platformSecret, body)}, 200, 1},
		{"missing", map[string]string{}, 401, 0},
		{"signed with another secret", map[string]string{"x-hub-signature-256": whatsapp.Sign(acmeSecret, body)}, 401, 0},
		{"garbage", map[string]string{"x-hub-signature-256": "sha256=zz"}, 401, 0},
		{"sha1 only", map[string]string{"x-hub-signature": "sha1=0123"}, 401, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			h := e.handler()
			req := post("/webhook", body, "")
			req.Headers = tt.headers
			resp, err := h.Handle(e.ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := resp.StatusCode, tt.status; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
			if got, want := len(e.drain(e.inboundURL())), tt.units; got != want {
				t.Errorf("units on the inbound queue = %d, want %d", got, want)
			}
			if tt.status == 401 {
				if got := e.parked("parked/"); len(got) != 0 {
					t.Errorf("a refused payload was stored: %v", got)
				}
				if !strings.Contains(e.emf.String(), webhook.MetricSignatureFailed) {
					t.Errorf("signature failure not counted")
				}
			}
			for _, secret := range []string{platformSecret, acmeSecret, platformVerify} {
				if strings.Contains(e.logs.String(), secret) {
					t.Errorf("logs contain a secret: %s", e.logs.String())
				}
			}
		})
	}
}

func TestReceiveBodies(t *testing.T) {
	e := newEnv(t)
	h := e.handler()
	text := readPayload(t, "text.json")

	t.Run("base64 body", func(t *testing.T) {
		req := post("/webhook", nil, whatsapp.Sign(platformSecret, text))
		req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(text), true
		resp, _ := h.Handle(e.ctx, req)
		if got, want := resp.StatusCode, 200; got != want {
			t.Fatalf("status = %d, want %d", got, want)
		}
		if got, want := len(e.drain(e.inboundURL())), 1; got != want {
			t.Errorf("units = %d, want %d", got, want)
		}
	})
	t.Run("base64 body signed over the encoding", func(t *testing.T) {
		enc := base64.StdEncoding.EncodeToString(text)
		req := post("/webhook", nil, whatsapp.Sign(platformSecret, []byte(enc)))
		req.Body, req.IsBase64Encoded = enc, true
		resp, _ := h.Handle(e.ctx, req)
		if got, want := resp.StatusCode, 401; got != want {
			t.Fatalf("status = %d, want %d", got, want)
		}
	})
	// A signed body over MAX_BODY_BYTES (Meta's largest payload by default)
	// is kept whole and answered 200, never refused with a 413 that Meta
	// would retry for days and then drop; an unsigned one is refused.
	t.Run("oversized", func(t *testing.T) {
		small := e.handler()
		small.MaxBodyBytes = len(text) - 1
		for _, tt := range []struct {
			name   string
			b64    bool
			secret string
			status int
		}{
			{"signed", false, platformSecret, 200},
			{"signed, base64", true, platformSecret, 200},
			{"bad signature", false, "wrong-secret", 401},
		} {
			t.Run(tt.name, func(t *testing.T) {
				before := len(e.parked("parked/body_too_large/"))
				req := post("/webhook", text, whatsapp.Sign(tt.secret, text))
				if tt.b64 {
					req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(text), true
				}
				resp, _ := small.Handle(e.ctx, req)
				if got, want := resp.StatusCode, tt.status; got != want {
					t.Fatalf("status = %d, want %d", got, want)
				}
				if got := len(e.drain(e.inboundURL())); got != 0 {
					t.Errorf("units = %d, want none (the body is parked whole)", got)
				}
				keys := e.parked("parked/body_too_large/")
				if tt.status != 200 {
					if len(keys) != before {
						t.Errorf("parked %v for an unsigned body", keys)
					}
					return
				}
				var key string
				for _, k := range keys {
					if strings.HasSuffix(k, parkedName(text)) {
						key = k
					}
				}
				if key == "" {
					t.Fatalf("parked under body_too_large: %v, want the body", keys)
				}
				obj, err := e.s3.GetObject(e.ctx, &s3.GetObjectInput{Bucket: aws.String(e.getenv("DATA_BUCKET")), Key: aws.String(key)})
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(obj.Body)
				obj.Body.Close()
				if !bytes.Equal(got, text) || obj.Metadata["route"] != "platform" || obj.Metadata["reason"] != "body_too_large" {
					t.Errorf("parked %d bytes with metadata %v, want the raw body with route and reason", len(got), obj.Metadata)
				}
			})
		}
		if !strings.Contains(e.emf.String(), `"Reason":"body_too_large"`) || !strings.Contains(e.emf.String(), "WebhookTooLarge") {
			t.Errorf("metrics do not count the parked body: %s", e.emf.String())
		}
	})
	for _, tt := range []struct{ name, body, reason string }{
		{"unparseable", `{"object":"whatsapp_business_account","entry":[`, "unparseable"},
		{"not whatsapp", `{"object":"page","entry":[{"id":"1","changes":[]}]}`, "not_whatsapp"},
		{"no entries", `{"object":"whatsapp_business_account","entry":[]}`, "not_whatsapp"},
		{"keys differing only in case", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"100000000000001","Phone_Number_Id":"100000000000002"},"messages":[]}}]}]}`, "unparseable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			resp, _ := h.Handle(e.ctx, post("/webhook", body, whatsapp.Sign(platformSecret, body)))
			if got, want := resp.StatusCode, 200; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
			var keys []string
			for _, k := range e.parked("parked/" + tt.reason + "/") {
				if strings.HasSuffix(k, parkedName(body)) {
					keys = append(keys, k)
				}
			}
			if len(keys) != 1 {
				t.Fatalf("parked under %s: %v, want one object", tt.reason, keys)
			}
			obj, err := e.s3.GetObject(e.ctx, &s3.GetObjectInput{Bucket: aws.String(e.getenv("DATA_BUCKET")), Key: aws.String(keys[0])})
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			_, _ = got.ReadFrom(obj.Body)
			if got.String() != tt.body {
				t.Errorf("parked body = %q, want the raw body %q", got.String(), tt.body)
			}
			if got, want := obj.Metadata["reason"], tt.reason; got != want {
				t.Errorf("metadata reason = %q, want %q", got, want)
			}
			if obj.Metadata["route"] != "platform" || obj.Metadata["received-at"] == "" {
				t.Errorf("metadata = %v, want route and received-at", obj.Metadata)
			}
			if got := len(e.drain(e.inboundURL())); got != 0 {
				t.Errorf("units = %d, want none", got)
			}
		})
	}
}

// Every reference payload is accepted and every unit Split finds is on the
// inbound queue, grouped by its order key.
func TestReceiveEveryReferencePayload(t *testing.T) {
	e := newEnv(t)
	h := e.handler()
	files, _ := filepath.Glob(filepath.Join("testdata", "webhooks", "*.json"))
	if len(files) < 80 {
		t.Fatalf("found %d reference payloads, want the whole set", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			body := readPayload(t, filepath.Base(f))
			want, err := whatsapp.Split(body)
			if err != nil {
				t.Fatal(err)
			}
			resp, _ := h.Handle(e.ctx, post("/webhook", body, whatsapp.Sign(platformSecret, body)))
			if resp.StatusCode != 200 {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			inbound, statuses := e.drain(e.inboundURL()), e.drain(e.statusURL())
			onStatus := map[string]bool{}
			for _, m := range statuses {
				onStatus[aws.ToString(m.MessageId)] = true
			}
			msgs := append(inbound, statuses...)
			if got := len(msgs); got != len(want) {
				t.Fatalf("units on the queues = %d, want %d", got, len(want))
			}
			sort.Slice(msgs, func(i, j int) bool { return seq(t, msgs[i]) < seq(t, msgs[j]) })
			for i, m := range msgs {
				var u whatsapp.Unit
				if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &u); err != nil {
					t.Fatal(err)
				}
				if u.Route != whatsapp.RoutePlatform || u.RouteTenant != "" || u.ReceivedAt == "" {
					t.Errorf("unit %d route = %q/%q received_at %q", i, u.Route, u.RouteTenant, u.ReceivedAt)
				}
				if got, want := u.Kind, want[i].Kind; got != want {
					t.Errorf("unit %d kind = %q, want %q", i, got, want)
				}
				if got, want := onStatus[aws.ToString(m.MessageId)], u.Kind == whatsapp.KindStatus; got != want {
					t.Errorf("unit %d (kind %q) on the status queue = %v, want %v", i, u.Kind, got, want)
				}
				if onStatus[aws.ToString(m.MessageId)] {
					continue // a standard queue: no group
				}
				if got, want := m.Attributes["MessageGroupId"], want[i].OrderKey(); got != want {
					t.Errorf("unit %d group = %q, want %q", i, got, want)
				}
			}
		})
	}
}

func seq(t *testing.T, m sqstypes.Message) int {
	var u whatsapp.Unit
	if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &u); err != nil {
		t.Fatal(err)
	}
	return u.Seq
}

func TestReceiveManyUnits(t *testing.T) {
	// 25 messages in one change: three SendMessageBatch calls, one answer.
	var msgs []string
	for i := 0; i < 25; i++ {
		msgs = append(msgs, `{"from":"5511999`+pad(i)+`","id":"wamid.`+pad(i)+`","timestamp":"1700000000","type":"text","text":{"body":"hi"}}`)
	}
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"222","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"111"},"messages":[` + strings.Join(msgs, ",") + `]}}]}]}`)
	e := newEnv(t)
	resp, _ := e.handler().Handle(e.ctx, post("/webhook", body, whatsapp.Sign(platformSecret, body)))
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if got, want := len(e.drain(e.inboundURL())), 25; got != want {
		t.Errorf("units = %d, want %d", got, want)
	}
}

// A unit too large for an SQS message is parked, and the payload's other
// units still reach the queue: one oversized change must not make Meta
// retry (and finally drop) the whole payload.
func TestReceiveUnitTooLargeForSQS(t *testing.T) {
	big := `{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"111"},"history":[{"threads":[{"id":"5511999000001","messages":[{"from":"5511999000001","id":"wamid.H","timestamp":"1700000000","type":"text","text":{"body":"` + strings.Repeat("x", 300<<10) + `"}}]}]}]}`
	text := `{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"111"},"contacts":[{"profile":{"name":"A"},"wa_id":"5511999000002"}],"messages":[{"from":"5511999000002","id":"wamid.T","timestamp":"1700000000","type":"text","text":{"body":"hi"}}]}`
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"222","changes":[{"field":"history","value":` + big + `},{"field":"messages","value":` + text + `}]}]}`)
	e := newEnv(t)
	resp, _ := e.handler().Handle(e.ctx, post("/webhook", body, whatsapp.Sign(platformSecret, body)))
	if got, want := resp.StatusCode, 200; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
	msgs := e.drain(e.inboundURL())
	if len(msgs) != 1 || !strings.Contains(aws.ToString(msgs[0].Body), "wamid.T") {
		t.Fatalf("units on queue = %d, want the text message only", len(msgs))
	}
	keys := e.parked("parked/too_large/")
	if len(keys) != 1 {
		t.Fatalf("parked too_large = %v, want one object", keys)
	}
	obj, err := e.s3.GetObject(e.ctx, &s3.GetObjectInput{Bucket: aws.String(e.getenv("DATA_BUCKET")), Key: aws.String(keys[0])})
	if err != nil {
		t.Fatal(err)
	}
	var u whatsapp.Unit
	if err := json.NewDecoder(obj.Body).Decode(&u); err != nil {
		t.Fatal(err)
	}
	if u.Field != "history" || u.ReceivedAt == "" || u.Route != whatsapp.RoutePlatform {
		t.Errorf("parked unit field %q received_at %q route %q, want the history unit as the queue would have had it", u.Field, u.ReceivedAt, u.Route)
	}
}

func parkedName(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:]) + ".json"
}

func pad(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

func TestReceiveStoreFailure(t *testing.T) {
	e := newEnv(t)
	h := e.handler()
	h.InboundQueueURL = strings.Replace(e.inboundURL(), "InboundQueue", "NoSuchQueue", 1)
	body := readPayload(t, "batch_one_entry_two_changes.json")
	resp, err := h.Handle(e.ctx, post("/webhook", body, whatsapp.Sign(platformSecret, body)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.StatusCode, 500; got != want {
		t.Fatalf("status = %d, want %d so that Meta retries", got, want)
	}
	if strings.Contains(resp.Body, "NoSuchQueue") {
		t.Errorf("response leaks internals: %q", resp.Body)
	}
}

// Meta delivering the same payload three times at once leaves one set of
// units: the FIFO deduplication ids do not depend on arrival time.
func TestReceiveConcurrentCopies(t *testing.T) {
	e := newEnv(t)
	h := e.handler()
	body := readPayload(t, "batch_one_entry_two_changes.json")
	units, _ := whatsapp.Split(body)
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := h.Handle(e.ctx, post("/webhook", body, whatsapp.Sign(platformSecret, body)))
			codes[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("copy %d: status %d", i, c)
		}
	}
	if got, want := len(e.drain(e.inboundURL())), len(units); got != want {
		t.Errorf("units on queue = %d, want %d (one set)", got, want)
	}
}

func TestReceiveTenantRoute(t *testing.T) {
	e := newEnv(t)
	h := e.handler()
	body := readPayload(t, "text.json")
	tests := []struct {
		name   string
		path   string
		secret string
		status int
	}{
		{"own secret", "/webhook/acme", acmeSecret, 200},
		{"platform secret on tenant route", "/webhook/acme", platformSecret, 401},
		{"sending secret's stale app secret", "/webhook/acme", staleSecret, 401},
		{"no webhook-side secret", "/webhook/nosecret", acmeSecret, 500},
		{"access token in the webhook-side secret", "/webhook/leaky", "leaky-secret", 500},
		{"app secret not set", "/webhook/unset", "", 500},
		{"unknown tenant", "/webhook/nobody", acmeSecret, 401},
		{"disabled tenant", "/webhook/gone", "gone-secret", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := h.Handle(e.ctx, post(tt.path, body, whatsapp.Sign(tt.secret, body)))
			if got, want := resp.StatusCode, tt.status; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
			msgs := e.drain(e.inboundURL())
			if tt.status != 200 {
				if len(msgs) != 0 {
					t.Errorf("units = %d, want none", len(msgs))
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("units = %d, want 1", len(msgs))
			}
			var u whatsapp.Unit
			_ = json.Unmarshal([]byte(aws.ToString(msgs[0].Body)), &u)
			if u.Route != whatsapp.RouteTenant || u.RouteTenant != "acme" {
				t.Errorf("route = %q/%q, want tenant/acme", u.Route, u.RouteTenant)
			}
		})
	}
	for _, secret := range []string{"acme-access", "leaky-access", "leaky-secret", acmeSecret, staleSecret} {
		if strings.Contains(e.logs.String(), secret) {
			t.Errorf("logs contain a secret value: %s", e.logs.String())
		}
	}
}

// Behind a named stage or a custom domain's base path, API Gateway's raw
// path carries the prefix while the route key stays the template's: the
// route key is what decides.
func TestRouteBehindStageOrBasePath(t *testing.T) {
	e := newEnv(t)
	h := e.handler()
	text := readPayload(t, "text.json")
	tests := []struct {
		name     string
		rawPath  string
		routeKey string
		params   map[string]string
		secret   string
		status   int
		tenant   string
	}{
		{"platform on a named stage", "/live/webhook", "POST /webhook", nil, platformSecret, 200, ""},
		{"platform behind a base path", "/whatsapp/v1/webhook", "POST /webhook", nil, platformSecret, 200, ""},
		{"tenant on a named stage", "/live/webhook/acme", "POST /webhook/{tenant_id}", map[string]string{"tenant_id": "acme"}, acmeSecret, 200, "acme"},
		{"tenant behind a base path", "/whatsapp/webhook/acme", "POST /webhook/{tenant_id}", map[string]string{"tenant_id": "acme"}, acmeSecret, 200, "acme"},
		// A raw path that looks like the platform route decides nothing
		// when API Gateway says which route matched.
		{"raw path names another route", "/webhook", "POST /webhook/{tenant_id}", map[string]string{"tenant_id": "acme"}, acmeSecret, 200, "acme"},
		{"tenant route without its parameter", "/live/webhook/acme", "POST /webhook/{tenant_id}", nil, acmeSecret, 401, ""},
		{"unknown route key", "/live/webhook", "POST /hooks", nil, platformSecret, 404, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each case is another message: SQS would drop a copy of
			// the one before as a duplicate.
			body := withMessageID(t, text, fmt.Sprintf("wamid.route%d", i))
			req := events.APIGatewayV2HTTPRequest{RouteKey: tt.routeKey, RawPath: tt.rawPath, PathParameters: tt.params,
				Body: string(body), Headers: map[string]string{"content-type": "application/json", "x-hub-signature-256": whatsapp.Sign(tt.secret, body)}}
			req.RequestContext.RouteKey = tt.routeKey
			req.RequestContext.Stage = "live"
			req.RequestContext.HTTP.Method = "POST"
			req.RequestContext.HTTP.Path = tt.rawPath
			resp, _ := h.Handle(e.ctx, req)
			if got, want := resp.StatusCode, tt.status; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
			msgs := e.drain(e.inboundURL())
			if tt.status != 200 {
				if len(msgs) != 0 {
					t.Errorf("units = %d, want none", len(msgs))
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("units = %d, want 1", len(msgs))
			}
			var u whatsapp.Unit
			_ = json.Unmarshal([]byte(aws.ToString(msgs[0].Body)), &u)
			wantRoute := whatsapp.RoutePlatform
			if tt.tenant != "" {
				wantRoute = whatsapp.RouteTenant
			}
			if u.Route != wantRoute || u.RouteTenant != tt.tenant {
				t.Errorf("route = %q/%q, want %q/%q", u.Route, u.RouteTenant, wantRoute, tt.tenant)
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	req := get("/webhook", nil, nil)
	req.RequestContext.HTTP.Method = http.MethodDelete
	resp, _ := e.handler().Handle(e.ctx, req)
	if got, want := resp.StatusCode, 405; got != want {
		t.Errorf("status = %d, want %d", got, want)
	}
}

// BenchmarkReceive measures one signed POST of text.json through the
// handler into the emulated inbound queue and prints p50/p99.
// Run: go test -run '^$' -bench Receive -benchtime 2000x ./shared/webhook
func BenchmarkReceive(b *testing.B) {
	ctx := context.Background()
	emu := awsemu.StartTest(b)
	cfg := emu.Config()
	tmpl, err := stack.Load("../../template.yaml")
	if err != nil {
		b.Fatal(err)
	}
	st, err := stack.Provision(ctx, cfg, tmpl, stack.Options{StackName: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	env := st.Functions["WebhookFunction"].Env
	getenv := func(k string) string { return env[k] }
	sm := secretsmanager.NewFromConfig(cfg)
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(env["PLATFORM_WEBHOOK_SECRET_ID"]),
		SecretString: aws.String(`{"app_secret":"` + platformSecret + `","verify_token":"v"}`)}); err != nil {
		b.Fatal(err)
	}
	h, err := webhook.Setup(ctx, getenv, cfg)
	if err != nil {
		b.Fatal(err)
	}
	h.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	h.Metrics = &metrics.Recorder{Out: io.Discard}
	body, err := os.ReadFile(filepath.Join("testdata", "webhooks", "text.json"))
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A distinct payload each time, so SQS deduplication does not
		// shortcut the store.
		bb := bytes.Replace(body, []byte("Does it come"), []byte(fmt.Sprintf("%012d", i)), 1)
		req := post("/webhook", bb, whatsapp.Sign(platformSecret, bb))
		start := time.Now()
		resp, _ := h.Handle(ctx, req)
		lat = append(lat, time.Since(start))
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// Message statuses go straight to the status queue (the status function
// resolves their tenant), with their business number as fair-queue
// tenant, every other unit to the inbound queue: a status costs no
// inbound hop. A payload mixing both stores each on its queue
// before the 200.
func TestStatusesGoStraightToStatusQueue(t *testing.T) {
	e := newEnv(t)
	h := e.handler()
	for _, tc := range []struct {
		name                  string
		payloads              []string
		wantInbound, wantStat int
	}{
		{"one status", []string{"status_sent.json"}, 0, 1},
		{"failed status", []string{"status_failed_131047_reengagement.json"}, 0, 1},
		{"text message", []string{"text.json"}, 1, 0},
		{"account change", []string{"account_update_disabled_update.json"}, 1, 0},
		{"status and message in one payload", []string{"status_sent.json", "text.json"}, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := readPayload(t, tc.payloads[0])
			if len(tc.payloads) > 1 {
				body = mergeEntries(t, body, readPayload(t, tc.payloads[1]))
			}
			resp, _ := h.Handle(e.ctx, post("/webhook", body, whatsapp.Sign(platformSecret, body)))
			if resp.StatusCode != 200 {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			if got := len(e.drain(e.inboundURL())); got != tc.wantInbound {
				t.Errorf("units on the inbound queue = %d, want %d", got, tc.wantInbound)
			}
			stats := e.drain(e.statusURL())
			if got := len(stats); got != tc.wantStat {
				t.Fatalf("units on the status queue = %d, want %d", got, tc.wantStat)
			}
			for _, m := range stats {
				var u whatsapp.Unit
				if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &u); err != nil {
					t.Fatal(err)
				}
				if u.Kind != whatsapp.KindStatus || u.Route != whatsapp.RoutePlatform || u.ReceivedAt == "" || u.Metadata.PhoneNumberID == "" {
					t.Errorf("status unit = kind %q route %q received_at %q phone %q", u.Kind, u.Route, u.ReceivedAt, u.Metadata.PhoneNumberID)
				}
				// The business number is the message's tenant on the fair
				// standard queue (queue.Message.Tenant).
				if g := m.Attributes["MessageGroupId"]; g != u.Metadata.PhoneNumberID {
					t.Errorf("status message's MessageGroupId %q, want its business number %q", g, u.Metadata.PhoneNumberID)
				}
			}
		})
	}
}

// mergeEntries puts b's entries after a's, as Meta batches changes.
func mergeEntries(t *testing.T, a, b []byte) []byte {
	t.Helper()
	var pa, pb map[string]any
	if err := json.Unmarshal(a, &pa); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pb); err != nil {
		t.Fatal(err)
	}
	pa["entry"] = append(pa["entry"].([]any), pb["entry"].([]any)...)
	out, err := json.Marshal(pa)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
