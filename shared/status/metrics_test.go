package status_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/shared/delivery"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/status"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// tenantCounts sums the per-tenant delivery metrics in EMF output, as
// "Metric/Tenant" → value, checking each line's dimensions.
func tenantCounts(t *testing.T, out []byte) map[string]float64 {
	t.Helper()
	per := map[string]bool{status.MetricSent: true, status.MetricDelivered: true, status.MetricRead: true, status.MetricFailed: true}
	got := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var doc map[string]any
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatalf("not an EMF line: %v: %s", err, sc.Text())
		}
		cw := doc["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
		name := cw["Metrics"].([]any)[0].(map[string]any)["Name"].(string)
		if !per[name] {
			continue
		}
		if dims := fmt.Sprint(cw["Dimensions"]); dims != "[[Function Tenant]]" {
			t.Errorf("%s dimensions %s, want [[Function Tenant]]", name, dims)
		}
		got[name+"/"+doc["Tenant"].(string)] += doc[name].(float64)
	}
	return got
}

// TestDeliveryMetricsPerTenant: each message counts once per state, late
// states included, duplicates not; tenants past the limit count as other.
func TestDeliveryMetricsPerTenant(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var out bytes.Buffer
	e.h.Metrics = &metrics.Recorder{Out: &out, Function: "status"}
	e.h.MetricTenants = &metrics.Bounded{Limit: 1}

	// acme: one message read in order (with a duplicate delivered), one
	// whose sent arrives after delivered, one that failed.
	e.accept(t, "wamid.inorder")
	e.accept(t, "wamid.overtaken")
	e.accept(t, "wamid.failed")
	// globex: a second tenant, past the limit of 1.
	globex := delivery.Record{WAMID: "wamid.globex", TenantID: "globex", PhoneNumberID: "300", JobID: "job-globex",
		To: "5511977776666", Type: "text", AcceptedAt: now.Add(-time.Second)}
	if err := e.store.RecordAccepted(ctx, globex); err != nil {
		t.Fatal(err)
	}
	globexUnit := func(st string, sec int) whatsapp.Unit {
		u := statusUnit(globex.WAMID, st, sec)
		u.TenantID, u.Metadata.PhoneNumberID = "globex", "300"
		return u
	}
	units := []whatsapp.Unit{
		statusUnit("wamid.inorder", "sent", 1), statusUnit("wamid.inorder", "delivered", 2),
		statusUnit("wamid.inorder", "delivered", 2), statusUnit("wamid.inorder", "read", 3),
		statusUnit("wamid.overtaken", "delivered", 2), statusUnit("wamid.overtaken", "sent", 1),
		statusUnit("wamid.failed", "sent", 1), statusUnit("wamid.failed", "failed", 2),
		globexUnit("sent", 1), globexUnit("delivered", 2),
	}
	for _, u := range units {
		if err := e.h.ProcessUnit(ctx, u); err != nil {
			t.Fatalf("%s: %v", u.Item, err)
		}
	}
	got := tenantCounts(t, out.Bytes())
	want := map[string]float64{
		"MessagesSent/acme": 3, "MessagesDelivered/acme": 2, "MessagesRead/acme": 1, "MessagesFailed/acme": 1,
		"MessagesSent/other": 1, "MessagesDelivered/other": 1,
	}
	if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(want)) {
		t.Errorf("per-tenant counts\n got %v\nwant %v", sorted(got), sorted(want))
	}
}

func sorted(m map[string]float64) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s=%g", k, v))
	}
	sort.Strings(out)
	return out
}
