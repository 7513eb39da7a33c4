package bridge_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/local/coresink"
	"github.com/tucanlink/wacloud/shared/bridge"
	"github.com/tucanlink/wacloud/shared/core"
	"github.com/tucanlink/wacloud/shared/queue"
)

// TestBridgeCoreFaults pushes one event while the core sink suffers a
// fault a real core has, then again once the fault is spent: the first
// push is retried with the backoff or the core's Retry-After (bounded by
// bridge.MaxRetryAfter), and the core ends up with the event exactly once,
// a push it had accepted unheard coming back as a duplicate.
func TestBridgeCoreFaults(t *testing.T) {
	tests := []struct {
		name       string
		fault      coresink.Fault
		backoffEnv string
		visibility int32 // the retry's delay, s
		duplicates int   // pushes the core had already taken
	}{
		{"accepted, connection dropped", coresink.Fault{Mode: coresink.FaultDrop, Count: 1}, "", 5, 1},
		{"answer slower than the bridge's timeout", coresink.Fault{Mode: coresink.FaultSlow, Count: 1, DelayMS: 5000}, "", 5, 1},
		{"429 Retry-After honoured", coresink.Fault{Mode: coresink.FaultStatus, Count: 1, Status: 429, RetryAfterS: 30}, "", 30, 0},
		{"503 Retry-After bounded", coresink.Fault{Mode: coresink.FaultStatus, Count: 1, Status: 503, RetryAfterS: 7200}, "", int32(bridge.MaxRetryAfter / time.Second), 0},
		{"local backoff schedule", coresink.Fault{Mode: coresink.FaultStatus, Count: 1, Status: 503}, "1s,4s", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			sink := coresink.New(coresink.Config{Path: "/events", BearerToken: coreToken, SigningSecret: coreSigning})
			srv := httptest.NewServer(sink)
			defer srv.Close()
			getenv := e.getenv("BridgeFunction")
			h, err := bridge.Setup(e.ctx, func(k string) string {
				switch k {
				case "CORE_URL":
					return srv.URL
				case "CORE_EVENTS_PATH":
					return "/events"
				case queue.EnvBackoff:
					return tt.backoffEnv
				}
				return getenv(k)
			}, e.cfg)
			if err != nil {
				t.Fatal(err)
			}
			vis := &visibilitySQS{Client: e.sqs}
			h.Consumer.API = vis
			h.Metrics = nil
			// The bridge's timeout, shortened so the slow answer outlasts it.
			h.Core.(*core.Client).HTTP = &http.Client{Timeout: 500 * time.Millisecond}
			if err := sink.SetFault(tt.fault); err != nil {
				t.Fatal(err)
			}
			e.publishEvents(testEvent("1"))
			q := e.url("CORE_EVENTS_QUEUE_URL")
			var handles []string
			handle := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				for _, r := range ev.Records {
					handles = append(handles, r.ReceiptHandle)
				}
				return h.Handle(ctx, ev)
			}
			if got := e.pump(q, handle); got != 1 {
				t.Fatalf("failed records = %d, want 1", got)
			}
			if len(vis.timeouts) != 1 || vis.timeouts[0] != tt.visibility {
				t.Errorf("visibility changes = %v, want [%d]", vis.timeouts, tt.visibility)
			}
			// Let the retry come now instead of after its delay.
			for _, m := range handles {
				if _, err := e.sqs.ChangeMessageVisibility(e.ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(q), ReceiptHandle: aws.String(m), VisibilityTimeout: 0}); err != nil {
					t.Fatal(err)
				}
			}
			if got := e.pump(q, h.Handle); got != 0 {
				t.Fatalf("failed records after the fault = %d, want 0", got)
			}
			st := sink.Stats()
			if got := len(sink.Events()); got != 1 {
				t.Errorf("events at the core = %d, want exactly 1", got)
			}
			if st.Duplicates != tt.duplicates {
				t.Errorf("duplicate pushes = %d, want %d", st.Duplicates, tt.duplicates)
			}
		})
	}
}
