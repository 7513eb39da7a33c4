package webhook_test

import (
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tucanlink/wacloud/local/awscount"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/webhook"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// TestUnknownRoutesAnswerAsKnownOnes sends what an unauthenticated caller
// can send (no signature, a wrong one, a wrong verify token) to a known
// tenant route and to routes no request can be served on: every answer
// must be the known route's, byte for byte, so that no tenant id can be
// probed.
func TestUnknownRoutesAnswerAsKnownOnes(t *testing.T) {
	e := newEnv(t)
	h := e.handler()
	// An unseen id is refused unread once this budget is spent.
	h.Tenants = &tenant.Registry{API: dynamodb.NewFromConfig(e.cfg), Table: e.getenv("TENANTS_TABLE"),
		Unknown: &tenant.LookupBudget{PerSecond: 0, Burst: 3}}
	body := readPayload(t, "text.json")
	for _, id := range []string{"acme", "gone", "nobody"} { // spends the budget
		if _, err := h.Handle(e.ctx, post("/webhook/"+id, body, "")); err != nil {
			t.Fatal(err)
		}
	}
	routes := []struct{ name, id string }{
		{"unknown tenant", "nobody"},
		{"unknown tenant, lookup budget spent", "somebody"},
		{"disabled tenant", "gone"},
		{"id starting with a dot", ".acme"},
		{"id longer than the rule", strings.Repeat("a", 65)},
		{"id with a colon", "acme:1"},
	}
	requests := []struct {
		name string
		req  func(id string) events.APIGatewayV2HTTPRequest
	}{
		{"POST without signature", func(id string) events.APIGatewayV2HTTPRequest { return post("/webhook/"+id, body, "") }},
		{"POST signed with another app's secret", func(id string) events.APIGatewayV2HTTPRequest {
			return post("/webhook/"+id, body, whatsapp.Sign(platformSecret, body))
		}},
		{"POST with a malformed signature", func(id string) events.APIGatewayV2HTTPRequest { return post("/webhook/"+id, body, "sha256=zz") }},
		{"GET with a wrong verify token", func(id string) events.APIGatewayV2HTTPRequest {
			return get("/webhook/"+id, map[string]string{"tenant_id": id},
				map[string]string{"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "42"})
		}},
		{"GET without a verify token", func(id string) events.APIGatewayV2HTTPRequest {
			return get("/webhook/"+id, map[string]string{"tenant_id": id}, map[string]string{"hub.mode": "subscribe", "hub.challenge": "42"})
		}},
	}
	for _, rq := range requests {
		want, err := h.Handle(e.ctx, rq.req("acme"))
		if err != nil {
			t.Fatal(err)
		}
		if want.StatusCode != 401 && want.StatusCode != 403 {
			t.Fatalf("%s on the known route: status %d, want a refusal", rq.name, want.StatusCode)
		}
		for _, rt := range routes {
			t.Run(rq.name+"/"+rt.name, func(t *testing.T) {
				got, err := h.Handle(e.ctx, rq.req(rt.id))
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("answer = %+v, want the known route's %+v", got, want)
				}
			})
		}
	}
	if got := len(e.drain(e.inboundURL())); got != 0 {
		t.Errorf("units on queue = %d, want none", got)
	}
	for _, reason := range []string{"unknown", "lookup_budget", "disabled", "malformed"} {
		if !strings.Contains(e.emf.String(), `"Reason":"`+reason+`"`) {
			t.Errorf("no %s metric with Reason %s in %s", webhook.MetricRouteRefused, reason, e.emf.String())
		}
	}
}

// TestRandomRoutesCostBounded posts 100,000 random tenant ids with bad
// signatures to the handler Setup builds, counting the requests that reach
// the AWS endpoint: at a frozen clock they may cost no more than the
// per-instance lookup budget's burst, and the known tenant keeps being
// served without a read. The heap growth is logged (go test -v).
func TestRandomRoutesCostBounded(t *testing.T) {
	const ids = 100000
	e := newEnv(t)
	front, err := awscount.Start(aws.ToString(e.cfg.BaseEndpoint))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(front.Close)
	h, err := webhook.Setup(e.ctx, e.getenv, front.Config(e.cfg))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h.Now = func() time.Time { return now }
	h.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	h.Metrics = &metrics.Recorder{Out: io.Discard, Function: "webhook"}
	body := readPayload(t, "text.json")
	good := post("/webhook/acme", body, whatsapp.Sign(acmeSecret, body))
	if resp, _ := h.Handle(e.ctx, good); resp.StatusCode != 200 {
		t.Fatalf("known tenant: status %d, want 200", resp.StatusCode)
	}
	e.drain(e.inboundURL())

	front.Reset()
	before := heap()
	refusals := map[int]int{}
	for i := range ids {
		id := fmt.Sprintf("t%016x", uint64(i+1)*0x9E3779B97F4A7C15)
		resp, err := h.Handle(e.ctx, post("/webhook/"+id, body, whatsapp.Sign("guess", body)))
		if err != nil {
			t.Fatal(err)
		}
		refusals[resp.StatusCode]++
	}
	growth := heap() - before
	counts, names := front.Counts()
	t.Logf("%d random routes: AWS calls %v (%v), heap growth %.2f MB", ids, front.Count(""), names, float64(growth)/(1<<20))
	if got, want := refusals, map[int]int{401: ids}; !reflect.DeepEqual(got, want) {
		t.Errorf("answers by status = %v, want %v", got, want)
	}
	// The known tenant took one read of the budget.
	if got, want := counts["DynamoDB.GetItem"], webhook.RouteLookupBurst-1; got != want {
		t.Errorf("GetItem calls for %d random routes = %d, want %d (the budget's burst)", ids, got, want)
	}
	if got, want := front.Count(""), counts["DynamoDB.GetItem"]; got != want {
		t.Errorf("AWS calls = %d %v, want only the %d GetItem", got, counts, want)
	}

	front.Reset()
	if resp, _ := h.Handle(e.ctx, good); resp.StatusCode != 200 {
		t.Fatalf("known tenant after the random routes: status %d, want 200", resp.StatusCode)
	}
	if got := front.Count("DynamoDB.GetItem"); got != 0 {
		t.Errorf("GetItem calls for the known tenant = %d, want 0 (cached)", got)
	}
}

// heap returns the bytes in use on the heap after a collection.
func heap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
