// Command routes measures what unauthenticated requests to random tenant
// routes cost one webhook instance (make bench-routes): it posts -ids
// random /webhook/{tenant_id} requests with bad signatures to the handler
// webhook.Setup builds, against the embedded AWS emulator fronted by a
// request counter, with a correctly signed request for a real tenant
// every -every requests. It prints the AWS calls by operation and the
// heap growth, and last one line:
//
//	routes=100000 aws_calls=114 getitem=114 calls_per_1000_routes=1.14 heap_growth_mb=0.05 elapsed_s=1.5 known_ok=100/100
//
// (aws_calls leaves out the known tenant's own calls, printed above it).
// -no-budget shows what the bounded cache alone costs.
//
// The calls are bounded by the per-instance lookup budget
// (webhook.RouteLookupBurst + RouteLookupsPerSecond per second of the run),
// not by the number of ids. It is not a test: TestRandomRoutesCostBounded
// asserts the bound at a frozen clock.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/local/awscount"
	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/webhook"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

const (
	knownTenant = "acme"
	appSecret   = "bench-routes-app-secret"
)

// payload is a text message webhook, as Meta signs it.
const payload = `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Kerry Fisher"},"wa_id":"16315551181"}],"messages":[{"from":"16315551181","id":"wamid.ABGGFlA5FpafAgo6EhAtAkc4OA","timestamp":"1603059201","text":{"body":"Hello this is an answer"},"type":"text"}]},"field":"messages"}]}]}`

func main() {
	ids := flag.Int("ids", 100000, "random tenant routes posted")
	every := flag.Int("every", 1000, "a signed request for the known tenant every this many random ones")
	noBudget := flag.Bool("no-budget", false, "no lookup budget: what the bounded cache alone costs")
	templatePath := flag.String("template", "template.yaml", "SAM template to provision")
	flag.Parse()
	if err := run(*templatePath, *ids, *every, *noBudget); err != nil {
		fmt.Fprintln(os.Stderr, "bench-routes:", err)
		os.Exit(1)
	}
}

func run(templatePath string, ids, every int, noBudget bool) error {
	ctx := context.Background()
	emu := awsemu.Start()
	defer emu.Close()
	front, err := awscount.Start(emu.URL)
	if err != nil {
		return err
	}
	defer front.Close()
	cfg := front.Config(emu.Config())
	tmpl, err := stack.Load(templatePath)
	if err != nil {
		return err
	}
	st, err := stack.Provision(ctx, cfg, tmpl, stack.Options{StackName: "bench-routes"})
	if err != nil {
		return err
	}
	fn := st.Functions["WebhookFunction"]
	getenv := func(k string) string {
		if k == "S3_USE_PATH_STYLE" {
			return "true"
		}
		return fn.Env[k]
	}
	secret, _ := json.Marshal(map[string]string{"app_secret": appSecret, "verify_token": "bench-verify"})
	if _, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(getenv("TENANT_WEBHOOK_SECRET_PREFIX") + knownTenant), SecretString: aws.String(string(secret))}); err != nil {
		return err
	}
	reg := &tenant.Registry{API: dynamodb.NewFromConfig(cfg), Table: getenv("TENANTS_TABLE")}
	if err := reg.Put(ctx, tenant.Tenant{ID: knownTenant, SecretID: "wacloud/tenants/" + knownTenant, OwnApp: true}, nil); err != nil {
		return err
	}

	h, err := webhook.Setup(ctx, getenv, cfg)
	if err != nil {
		return err
	}
	if noBudget {
		h.Tenants = &tenant.Registry{API: dynamodb.NewFromConfig(cfg), Table: getenv("TENANTS_TABLE")}
	}
	h.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	h.Metrics = &metrics.Recorder{Out: io.Discard, Function: "webhook"}
	body := []byte(payload)
	signed := request(knownTenant, body, whatsapp.Sign(appSecret, body))
	if resp, err := h.Handle(ctx, signed); err != nil || resp.StatusCode != 200 {
		return fmt.Errorf("known tenant before the run: status %d, %v", resp.StatusCode, err)
	}

	front.Reset()
	before := heapInUse()
	start := time.Now()
	knownOK, knownSent, knownCalls, knownGets := 0, 0, 0, 0
	bad := whatsapp.Sign("guessed", body)
	for i := range ids {
		id := fmt.Sprintf("t%016x", uint64(i+1)*0x9E3779B97F4A7C15)
		resp, err := h.Handle(ctx, request(id, body, bad))
		if err != nil {
			return err
		}
		if resp.StatusCode != 401 {
			return fmt.Errorf("random route %s answered %d, want 401", id, resp.StatusCode)
		}
		if every > 0 && (i+1)%every == 0 {
			knownSent++
			n, g := front.Count(""), front.Count("DynamoDB.GetItem")
			if resp, _ := h.Handle(ctx, signed); resp.StatusCode == 200 {
				knownOK++
			}
			knownCalls += front.Count("") - n
			knownGets += front.Count("DynamoDB.GetItem") - g
		}
	}
	elapsed := time.Since(start)
	growth := heapInUse() - before
	counts, names := front.Counts()
	for _, n := range names {
		fmt.Printf("aws %s %d\n", n, counts[n])
	}
	fmt.Printf("of which for the %d signed requests of the known tenant: %d\n", knownSent, knownCalls)
	calls := front.Count("") - knownCalls
	if noBudget {
		fmt.Println("budget: none (-no-budget), bounded cache only")
	} else {
		fmt.Printf("budget: burst %d, %d/s per instance\n", webhook.RouteLookupBurst, webhook.RouteLookupsPerSecond)
	}
	fmt.Printf("routes=%d aws_calls=%d getitem=%d calls_per_1000_routes=%.2f heap_growth_mb=%.2f elapsed_s=%.1f known_ok=%d/%d\n",
		ids, calls, counts["DynamoDB.GetItem"]-knownGets, float64(calls)*1000/float64(max(ids, 1)), float64(growth)/(1<<20), elapsed.Seconds(), knownOK, knownSent)
	return nil
}

// request is what API Gateway hands the function for a POST to the tenant
// route.
func request(id string, body []byte, signature string) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{
		RouteKey: "POST /webhook/{tenant_id}", RawPath: "/webhook/" + id, Body: string(body),
		PathParameters: map[string]string{"tenant_id": id},
		Headers:        map[string]string{"content-type": "application/json", "x-hub-signature-256": signature},
	}
	req.RequestContext.RouteKey = req.RouteKey
	req.RequestContext.HTTP.Method = "POST"
	req.RequestContext.HTTP.Path = req.RawPath
	return req
}

// heapInUse returns the bytes in use on the heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
