package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/tucanlink/wacloud/shared/logging"
	"github.com/tucanlink/wacloud/shared/tracing"
)

func decode(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("log line is not JSON: %v: %s", err, buf)
	}
	return m
}

func TestLoggerShape(t *testing.T) {
	var buf bytes.Buffer
	log := logging.NewWriter(&buf, "webhook", slog.LevelInfo)
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	ctx = tracing.WithHeader(ctx, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	ctx = logging.WithColdStart(ctx)
	ctx = logging.With(ctx, logging.Tenant("demo"), logging.PhoneNumber("100000000000001"))
	ctx = logging.With(ctx, logging.WAMID("wamid.X"), logging.Job("job-1"))
	log.InfoContext(ctx, "stored", "units", 2)

	got := decode(t, &buf)
	want := map[string]any{
		"level": "INFO", "message": "stored", "function": "webhook", "request_id": "req-1",
		"tenant_id": "demo", "phone_number_id": "100000000000001", "wamid": "wamid.X", "job_id": "job-1", "units": float64(2),
		"trace_id": "1-5759e988-bd862e3fe1be46a994272793", "cold_start": true,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (line %v)", k, got[k], v, got)
		}
	}
	if _, ok := got["timestamp"]; !ok {
		t.Errorf("no timestamp key: %v", got)
	}

	buf.Reset()
	log.InfoContext(lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-2"}), "warm")
	if got := decode(t, &buf); got["cold_start"] != nil || got["trace_id"] != nil {
		t.Errorf("a warm, untraced invocation's line has cold_start or trace_id: %v", got)
	}

	buf.Reset()
	log.Debug("hidden")
	if buf.Len() != 0 {
		t.Errorf("debug line written at INFO: %s", buf.String())
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name    string
		log     func(l *slog.Logger)
		secret  string
		wantKey string // a key that must still be present
	}{
		{"access token attribute", func(l *slog.Logger) { l.Info("x", "access_token", "local-access-token") }, "local-access-token", "access_token"},
		{"app secret in a group", func(l *slog.Logger) { l.Info("x", slog.Group("creds", "AppSecret", "local-app-secret")) }, "local-app-secret", "creds"},
		{"authorization header", func(l *slog.Logger) { l.Info("x", "Authorization", "Bearer abc") }, "abc", "Authorization"},
		{"bearer token in an error", func(l *slog.Logger) {
			l.Info("x", "error", errors.New(`call failed: header "Bearer local-core-token" refused`))
		}, "local-core-token", "error"},
		{"bearer token in the message", func(l *slog.Logger) { l.Info("sent Bearer local-core-token") }, "local-core-token", "message"},
		{"bound attribute", func(l *slog.Logger) { l.With("verify_token", "local-verify-token").Info("x") }, "local-verify-token", "verify_token"},
		{"signing secret", func(l *slog.Logger) { l.Info("x", "signing_secret", "local-core-signing-secret") }, "local-core-signing-secret", "signing_secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(logging.NewWriter(&buf, "test", slog.LevelInfo))
			if strings.Contains(buf.String(), tt.secret) {
				t.Errorf("%q logged: %s", tt.secret, buf.String())
			}
			if !strings.Contains(buf.String(), `"`+tt.wantKey+`"`) {
				t.Errorf("key %q dropped: %s", tt.wantKey, buf.String())
			}
		})
	}

	t.Run("facts about credentials are kept, their values are not", func(t *testing.T) {
		var buf bytes.Buffer
		logging.NewWriter(&buf, "test", slog.LevelInfo).Info("x", "signature_present", false, "token_age_s", 42, "app_secret", "s3cr3t")
		got := decode(t, &buf)
		if got["signature_present"] != false || got["token_age_s"] != float64(42) || got["app_secret"] != logging.Masked {
			t.Errorf("got %v; want the bool and the number kept, the string masked", got)
		}
	})

	t.Run("ordinary values are kept", func(t *testing.T) {
		var buf bytes.Buffer
		logging.NewWriter(&buf, "test", slog.LevelInfo).Info("x", "tenant_id", "demo", "token_count", "", "queue", "InboundQueue.fifo")
		got := decode(t, &buf)
		if got["tenant_id"] != "demo" || got["queue"] != "InboundQueue.fifo" || got["token_count"] != "" {
			t.Errorf("values changed: %v", got)
		}
	})
}

func TestLevelFromEnv(t *testing.T) {
	tests := []struct {
		env  string
		want slog.Level
	}{
		{"", slog.LevelInfo}, {"DEBUG", slog.LevelDebug}, {"WARN", slog.LevelWarn}, {"bogus", slog.LevelInfo},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			got := logging.LevelFromEnv(func(string) string { return tt.env })
			if got != tt.want {
				t.Errorf("LevelFromEnv(%q) = %v, want %v", tt.env, got, tt.want)
			}
		})
	}
}

func ExampleWith() {
	log := logging.New("sender")
	ctx := logging.With(context.Background(), logging.Tenant("demo"), logging.Job("job-42"))
	log.InfoContext(ctx, "job accepted") // {"timestamp":...,"level":"INFO","message":"job accepted","function":"sender","tenant_id":"demo","job_id":"job-42"}
}
