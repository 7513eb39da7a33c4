package tokenhealth_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/tokenhealth"
)

// BenchmarkScheduledRun is one run of the scheduled templates function
// (catalog sync and token check of every tenant) over many tenants, each
// with a WABA, a number and a token of its own, against a Graph API that
// answers every request BENCH_GRAPH_LATENCY later (default 100ms; Meta
// answers in 100-500 ms) and the embedded AWS emulator. Tenants:
// BENCH_TENANTS (default 100). It reports seconds per run and tenants per
// second, one tenant at a time and the default eight:
//
//	go test ./shared/tokenhealth -run '^$' -bench ScheduledRun -benchtime 1x
//
// A tenant costs a listing and a debug_token at Meta (and its secret,
// template writes and counts at AWS): one at a time, ~0.2 s a tenant at
// 100 ms when the check followed the sync, ~1 s at Meta's slower 500 ms,
// so the function's 300 s timeout held a few hundred to ~1,400 tenants.
func BenchmarkScheduledRun(b *testing.B) {
	tenants := envInt(b, "BENCH_TENANTS", 100)
	latency := 100 * time.Millisecond
	if v := os.Getenv("BENCH_GRAPH_LATENCY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		latency = d
	}
	emu := awsemu.StartTest(b)
	ctx := context.Background()
	st := stack.Fresh(b, emu.Config(), stack.Options{})
	fn := st.Functions["TemplatesFunction"]
	var numbers []graphsim.Number
	var templates []graphsim.Template
	for i := range tenants {
		waba := fmt.Sprintf("2100000%08d", i)
		numbers = append(numbers, graphsim.Number{PhoneNumberID: fmt.Sprintf("1100000%08d", i), WABAID: waba, AccessToken: fmt.Sprintf("token-%d", i)})
		templates = append(templates, graphsim.SampleTemplates(waba)...)
	}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()
	sim := graphsim.New(graphsim.Config{WebhookURL: hook.URL, AppSecret: "app-secret", Numbers: numbers, Templates: templates})
	defer sim.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency)
		sim.ServeHTTP(w, r)
	}))
	defer srv.Close()
	sm := secretsmanager.NewFromConfig(emu.Config())
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(fn.Env["META_APP_SECRET"]),
		SecretString: aws.String(`{"app_id":"` + graphsim.DefaultAppID + `","app_secret":"app-secret"}`)}); err != nil {
		b.Fatal(err)
	}
	reg := &tenant.Registry{API: dynamodb.NewFromConfig(emu.Config()), Table: fn.Env["TENANTS_TABLE"]}
	for i, n := range numbers {
		id := fmt.Sprintf("bench-%d", i)
		secretID := fn.Env["TENANT_SECRET_PREFIX"] + id
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(secretID),
			SecretString: aws.String(`{"access_token":"` + n.AccessToken + `"}`)}); err != nil {
			b.Fatal(err)
		}
		if err := reg.Put(ctx, tenant.Tenant{ID: id, Status: tenant.StatusActive, SecretID: secretID, WABAIDs: []string{n.WABAID}},
			[]tenant.Number{{PhoneNumberID: n.PhoneNumberID, TenantID: id, WABAID: n.WABAID}}); err != nil {
			b.Fatal(err)
		}
	}
	for _, concurrency := range []int{1, 8} {
		b.Run(fmt.Sprintf("tenants=%d/concurrency=%d", tenants, concurrency), func(b *testing.B) {
			h, err := tokenhealth.Setup(ctx, func(k string) string {
				if k == "GRAPH_API_BASE_URL" {
					return srv.URL
				}
				return fn.Env[k]
			}, emu.Config())
			if err != nil {
				b.Fatal(err)
			}
			h.Catalog.Concurrency, h.Tokens.Concurrency = concurrency, concurrency
			h.Catalog.Metrics, h.Tokens.Metrics = nil, nil
			h.Log = slog.New(slog.DiscardHandler)
			start := time.Now()
			for b.Loop() {
				if err := h.Handle(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"}); err != nil {
					b.Fatal(err)
				}
			}
			perRun := time.Since(start).Seconds() / float64(b.N)
			b.ReportMetric(perRun, "s/run")
			b.ReportMetric(float64(tenants)/perRun, "tenants/s")
		})
	}
}

func envInt(b *testing.B, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want a positive number", name, v)
		}
		return n
	}
	return def
}
