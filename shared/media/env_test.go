package media

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/esm"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// Two tenants, one business number each.
const (
	tenantA = "acme"
	numberA = "100000000000011"
	tokenA  = "token-acme"
	tenantB = "other"
	numberB = "100000000000022"
	tokenB  = "token-other"
	contact = "5511999990000"
)

// testEnv is the media function against the embedded AWS emulator
// (provisioned from template.yaml) and the Graph API simulator.
type testEnv struct {
	ctx    context.Context
	st     *stack.Stack
	getenv func(string) string
	cfg    aws.Config
	sim    *graphsim.Sim
	simURL string
	clock  *clock
	h      *Handler
	sqs    *sqs.Client
	s3     *s3.Client
	mediaQ string
	coreQ  string
	dlq    string
	poller *esm.Poller
	bucket string
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// envRuns numbers the environments the package's tests create.
var envRuns atomic.Int64

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	ctx := context.Background()
	emu := awsemu.StartTest(t)
	cfg := emu.Config()
	// Fresh clears tables and queues but not secrets or buckets, which
	// outlive a run of the test (go test -count): each run gets a stack
	// name, so secret prefix and bucket, of its own.
	name := fmt.Sprintf("m-%s-r%d", stack.TestName(t), envRuns.Add(1))
	st := stack.Fresh(t, cfg, stack.Options{StackName: name, Params: map[string]string{"SecretPrefix": name}})
	fn := st.Functions["MediaFunction"]

	reg := &tenant.Registry{API: dynamodb.NewFromConfig(cfg), Table: fn.Env["TENANTS_TABLE"]}
	sm := secretsmanager.NewFromConfig(cfg)
	for _, tn := range []struct{ id, number, token string }{{tenantA, numberA, tokenA}, {tenantB, numberB, tokenB}} {
		secretID := fn.Env["TENANT_SECRET_PREFIX"] + tn.id
		b, _ := json.Marshal(map[string]string{"access_token": tn.token, "app_secret": "s", "verify_token": "v"})
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(secretID), SecretString: aws.String(string(b))}); err != nil {
			t.Fatal(err)
		}
		if err := reg.Put(ctx, tenant.Tenant{ID: tn.id, SecretID: secretID}, []tenant.Number{{PhoneNumberID: tn.number, WABAID: "2" + tn.number}}); err != nil {
			t.Fatal(err)
		}
	}

	clk := &clock{now: time.Date(2025, 6, 8, 12, 0, 0, 0, time.UTC)}
	sim := graphsim.New(graphsim.Config{
		Numbers: []graphsim.Number{{PhoneNumberID: numberA, AccessToken: tokenA}, {PhoneNumberID: numberB, AccessToken: tokenB}},
		Now:     clk.Now,
	})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	getenv := func(k string) string {
		switch k {
		case "GRAPH_API_BASE_URL":
			return srv.URL
		case "S3_USE_PATH_STYLE":
			return "true"
		}
		return fn.Env[k]
	}
	h, err := Setup(ctx, getenv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Log = discardLog()
	h.Metrics = &metrics.Recorder{Out: io.Discard}

	e := &testEnv{
		ctx: ctx, st: st, getenv: getenv, cfg: cfg, sim: sim, simURL: srv.URL, clock: clk, h: h,
		sqs: sqs.NewFromConfig(cfg), s3: s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
		mediaQ: fn.Env["MEDIA_QUEUE_URL"], coreQ: fn.Env["CORE_EVENTS_QUEUE_URL"], dlq: fn.Env["MEDIA_DLQ_URL"],
		bucket: fn.Env["DATA_BUCKET"],
	}
	e.poller = &esm.Poller{QueueARN: "arn:aws:sqs:us-east-1:000000000000:MediaQueue", Region: awsemu.Region}
	return e
}

// enqueue puts a job on the real MediaQueue, as the inbound function does.
func (e *testEnv) enqueue(t *testing.T, job queue.MediaJob) {
	t.Helper()
	b, _ := json.Marshal(job)
	if err := (queue.Publisher{API: e.sqs}).Publish(e.ctx, e.mediaQ, queue.Message{Body: string(b)}); err != nil {
		t.Fatal(err)
	}
}

// deliver receives one record from MediaQueue and runs the handler on it
// as Lambda's event source mapping would, deleting it unless it failed. It
// returns whether the record was reported as a batch item failure.
func (e *testEnv) deliver(t *testing.T) (failed bool) {
	t.Helper()
	out, err := e.sqs.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(e.mediaQ), MaxNumberOfMessages: 1, WaitTimeSeconds: 5,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("no media job on the queue")
	}
	resp, err := e.h.Handle(e.ctx, e.poller.Event(out.Messages))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(resp.BatchItemFailures) > 0 {
		// Let the backoff pass at once: the retry is visible again now.
		if _, err := e.sqs.ChangeMessageVisibility(e.ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(e.mediaQ), ReceiptHandle: out.Messages[0].ReceiptHandle, VisibilityTimeout: 0,
		}); err != nil {
			t.Fatal(err)
		}
		return true
	}
	if _, err := e.sqs.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(e.mediaQ), ReceiptHandle: out.Messages[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	return false
}

// coreEvent is an event read from the core events queue with its group.
type coreEvent struct {
	event.Event
	Raw   []byte
	Group string
}

// coreEvents drains the core events queue.
func (e *testEnv) coreEvents(t *testing.T) []coreEvent {
	t.Helper()
	var evs []coreEvent
	for {
		out, err := awsemu.Receive(e.ctx, e.sqs, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(e.coreQ), MaxNumberOfMessages: 10, WaitTimeSeconds: 0,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return evs
		}
		for _, m := range out.Messages {
			var ce coreEvent
			ce.Raw = []byte(aws.ToString(m.Body))
			if err := json.Unmarshal(ce.Raw, &ce.Event); err != nil {
				t.Fatal(err)
			}
			ce.Group = m.Attributes["MessageGroupId"]
			evs = append(evs, ce)
			if _, err := e.sqs.DeleteMessage(e.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(e.coreQ), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// dlqCount is how many messages the media DLQ holds.
func (e *testEnv) dlqCount(t *testing.T) int {
	t.Helper()
	out, err := e.sqs.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.dlq), MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Messages)
}

// object returns the stored bytes of key, or nil when there is no object.
func (e *testEnv) object(t *testing.T, key string) []byte {
	t.Helper()
	out, err := e.s3.GetObject(e.ctx, &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key)})
	if err != nil {
		var nk *s3types.NoSuchKey
		if errors.As(err, &nk) || isNotFound(err) {
			return nil
		}
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// noObjects checks that nothing (not even an unfinished multipart upload)
// is under the tenant's media prefix.
func (e *testEnv) noObjects(t *testing.T, tenantID string) {
	t.Helper()
	prefix := TenantPrefix(tenantID) + "media/"
	l, err := e.s3.ListObjectsV2(e.ctx, &s3.ListObjectsV2Input{Bucket: aws.String(e.bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Contents) != 0 {
		t.Errorf("objects stored: %s ...", aws.ToString(l.Contents[0].Key))
	}
	mu, err := e.s3.ListMultipartUploads(e.ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(e.bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	if len(mu.Uploads) != 0 {
		t.Errorf("%d multipart uploads left open", len(mu.Uploads))
	}
}

// imageJob is the job the inbound function writes for an image message
// carrying media o.
func imageJob(o graphsim.MediaObject, wamid, kind string) queue.MediaJob {
	return queue.MediaJob{
		TenantID: tenantA, PhoneNumberID: numberA, WABAID: "2" + numberA, MessageID: wamid, MediaID: o.ID,
		Kind: kind, MimeType: o.MimeType, SHA256: o.SHA256Base64, Filename: o.Filename,
		ContactWaID: contact, OccurredAt: "2025-06-08T11:59:00Z",
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *testEnv) createMedia(t *testing.T, spec graphsim.MediaSpec) graphsim.MediaObject {
	t.Helper()
	o, err := e.sim.CreateMedia(spec)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// fetch GETs a presigned URL.
func fetch(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET presigned URL: HTTP %d: %s", resp.StatusCode, b)
	}
	return b
}

func simContent(t *testing.T, sim *graphsim.Sim, id string) []byte {
	t.Helper()
	r, _, ok := sim.MediaContent(id)
	if !ok {
		t.Fatalf("no sim media %s", id)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// doerFunc lets a test watch or alter the Graph client's requests.
type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }
