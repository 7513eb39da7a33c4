package samples

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/bridge"
	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/inbound"
	"github.com/tucanlink/wacloud/shared/logging"
	"github.com/tucanlink/wacloud/shared/manage"
	"github.com/tucanlink/wacloud/shared/media"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/sender"
	"github.com/tucanlink/wacloud/shared/status"
	"github.com/tucanlink/wacloud/shared/webhook"
)

// handlers maps a directory under events/ to its function's logical id in
// template.yaml and its Setup.
var handlers = map[string]struct {
	id    string
	setup connector.Setup
}{
	"webhook": {"WebhookFunction", connector.HTTP(webhook.Setup)},
	"inbound": {"InboundFunction", connector.SQS(inbound.Setup)},
	"bridge":  {"BridgeFunction", connector.SQS(bridge.Setup)},
	"sender":  {"SenderFunction", connector.SQS(sender.Setup)},
	"media":   {"MediaFunction", connector.SQS(media.Setup)},
	"status":  {"StatusFunction", connector.SQS(status.Setup)},
	"api":     {"ApiFunction", connector.HTTP(manage.Setup)},
	// The scheduled template sync, with its EventBridge event.
	"templates": {"TemplatesFunction", connector.Scheduled(catalog.Setup)},
}

// demoSecrets must never appear in anything a handler logs.
var demoSecrets = []string{
	connector.DemoAccessToken, connector.PlatformAppSecret, connector.PlatformVerify,
	connector.CoreBearerToken, connector.CoreSigningSecret,
}

// Expect is an entry of events/expect.json. Files without an entry must
// succeed: HTTP 200, or no batch item failures.
type Expect struct {
	Status            int    `json:"status,omitempty"`
	Body              string `json:"body,omitempty"`
	BatchItemFailures *int   `json:"batch_item_failures,omitempty"`
	Note              string `json:"note,omitempty"`
}

// syncBuffer collects log lines written from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestSampleEvents(t *testing.T) {
	root := "../.."
	files, err := filepath.Glob(filepath.Join(root, "events", "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no sample events under events/")
	}
	sort.Strings(files)
	expect := map[string]Expect{}
	if b, err := os.ReadFile(filepath.Join(root, "events", "expect.json")); err == nil {
		if err := json.Unmarshal(b, &expect); err != nil {
			t.Fatalf("events/expect.json: %v", err)
		}
	}

	ctx := context.Background()
	logs := &syncBuffer{}
	prev := slog.Default()
	slog.SetDefault(logging.NewWriter(logs, "", slog.LevelDebug))
	t.Cleanup(func() { slog.SetDefault(prev) })

	// Start from the template's empty tables and queues: kumo keeps its
	// state per process, not per server, so under go test -count=N a run
	// would find the previous run's job records, dedup entries and queued
	// messages, and the handlers would skip the samples as duplicates.
	// Any emulator of the process reaches that state; the connector's does
	// not exist yet. The stack name is the connector's, whose bucket the
	// samples' s3:// links name.
	stack.Fresh(t, awsemu.StartTest(t).Config(), stack.Options{StackName: "wacloud-local"})

	// The connector provides the emulator provisioned from the template,
	// the seeded demo tenant, the Graph API simulator and the core sink;
	// no function is wired, so nothing polls the queues behind our back.
	h, err := connector.Start(ctx, connector.Options{
		AWSAddr: "-", APIAddr: "127.0.0.1:0", GraphAddr: "127.0.0.1:0", SinkAddr: "127.0.0.1:0",
		Template: filepath.Join(root, "template.yaml"), Functions: map[string]connector.Setup{},
		Log: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)

	built := map[string]connector.Built{}
	// pushed are the event ids of the bridge samples, which must reach the
	// core sink.
	pushed := map[string]bool{}
	for _, f := range files {
		rel, _ := filepath.Rel(filepath.Join(root, "events"), f)
		rel = filepath.ToSlash(rel)
		dir := strings.Split(rel, "/")[0]
		t.Run(rel, func(t *testing.T) {
			fn, ok := handlers[dir]
			if !ok {
				t.Fatalf("no handler for events/%s/: add it to handlers", dir)
			}
			b, ok := built[dir]
			if !ok {
				b = build(t, ctx, h, fn.id, fn.setup, logs)
				built[dir] = b
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want := expect[rel]
			ictx, cancel := context.WithTimeout(lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
				AwsRequestID: "sample-" + rel, InvokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:" + fn.id,
			}), 2*time.Minute)
			defer cancel()
			switch {
			case b.HTTP != nil:
				var req events.APIGatewayV2HTTPRequest
				if err := strictDecode(raw, &req); err != nil {
					t.Fatalf("not an API Gateway v2 request: %v", err)
				}
				resp, err := b.HTTP(ictx, req)
				if err != nil {
					t.Fatalf("handler error: %v", err)
				}
				wantStatus := want.Status
				if wantStatus == 0 {
					wantStatus = 200
				}
				if resp.StatusCode != wantStatus {
					t.Errorf("status = %d, want %d (body %q)", resp.StatusCode, wantStatus, resp.Body)
				}
				if want.Body != "" && resp.Body != want.Body {
					t.Errorf("body = %q, want %q", resp.Body, want.Body)
				}
			case b.SQS != nil:
				var ev events.SQSEvent
				if err := strictDecode(raw, &ev); err != nil || len(ev.Records) == 0 {
					t.Fatalf("not an SQS event with records: %v", err)
				}
				if dir == "bridge" {
					for _, r := range ev.Records {
						var e struct {
							EventID string `json:"event_id"`
						}
						if json.Unmarshal([]byte(r.Body), &e) == nil && e.EventID != "" {
							pushed[e.EventID] = true
						}
					}
				}
				resp, err := b.SQS(ictx, ev)
				if err != nil {
					t.Fatalf("handler error: %v", err)
				}
				wantFailures := 0
				if want.BatchItemFailures != nil {
					wantFailures = *want.BatchItemFailures
				}
				if got := len(resp.BatchItemFailures); got != wantFailures {
					t.Errorf("batch item failures = %d %v, want %d", got, resp.BatchItemFailures, wantFailures)
				}
			case b.Scheduled != nil:
				var ev events.EventBridgeEvent
				if err := strictDecode(raw, &ev); err != nil || ev.DetailType != "Scheduled Event" {
					t.Fatalf("not an EventBridge scheduled event: %v", err)
				}
				if err := b.Scheduled(ictx, ev); err != nil {
					t.Fatalf("handler error: %v", err)
				}
			}
		})
	}

	t.Run("effects reached the core and Meta", func(t *testing.T) {
		got := map[string]bool{}
		for _, raw := range h.Sink.Events() {
			var e struct {
				EventID string `json:"event_id"`
			}
			if json.Unmarshal(raw, &e) == nil {
				got[e.EventID] = true
			}
		}
		for id := range pushed {
			if !got[id] {
				t.Errorf("bridge sample event %s never reached the core sink", id)
			}
		}
		if _, ok := built["sender"]; ok && len(h.Sim.Messages()) == 0 {
			t.Errorf("no sender sample reached the Graph API simulator")
		}
	})

	t.Run("no demo secret in the logs", func(t *testing.T) {
		out := logs.String()
		if len(out) == 0 {
			t.Fatal("no log line captured: the scan would prove nothing")
		}
		for _, s := range demoSecrets {
			if i := strings.Index(out, s); i >= 0 {
				line := out[strings.LastIndex(out[:i], "\n")+1:]
				if j := strings.IndexByte(line, '\n'); j >= 0 {
					line = line[:j]
				}
				t.Errorf("%q logged: %s", s, line)
			}
		}
		t.Logf("scanned %d bytes of logs and metrics from %d functions", len(out), len(built))
	})
}

// build sets a function up as its Lambda main would, with the template's
// environment, and points its logger and metrics at logs.
func build(t *testing.T, ctx context.Context, h *connector.Handle, id string, setup connector.Setup, logs io.Writer) connector.Built {
	t.Helper()
	f, ok := h.Stack.Functions[id]
	if !ok {
		t.Fatalf("%s is not in template.yaml", id)
	}
	env := map[string]string{"AWS_REGION": "us-east-1", "AWS_LAMBDA_FUNCTION_NAME": id, "S3_USE_PATH_STYLE": "true"}
	for k, v := range f.Env {
		env[k] = v
	}
	b, err := setup(ctx, func(k string) string { return env[k] }, h.Emulator.Config())
	if err != nil {
		t.Fatalf("set up %s: %v", id, err)
	}
	capture(b.Value, logging.NewWriter(logs, id, slog.LevelDebug), logs)
	return b
}

// capture sets the conventional Log and Metrics fields of a handler.
func capture(h any, log *slog.Logger, out io.Writer) {
	v := reflect.ValueOf(h)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return
	}
	s := v.Elem()
	if f := s.FieldByName("Log"); f.IsValid() && f.CanSet() && f.Type() == reflect.TypeFor[*slog.Logger]() {
		f.Set(reflect.ValueOf(log))
	}
	if f := s.FieldByName("Metrics"); f.IsValid() && f.Type() == reflect.TypeFor[*metrics.Recorder]() && !f.IsNil() {
		f.Interface().(*metrics.Recorder).Out = out
	}
}

// strictDecode rejects fields the event type does not have, so a sample
// with a typo fails instead of being silently half-read.
func strictDecode(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v)
}
