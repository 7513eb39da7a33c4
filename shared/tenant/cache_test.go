package tenant_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tucanlink/wacloud/local/awscount"
	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// TestRegistryCacheBounds looks up made-up tenant ids, counting the
// requests that reach the AWS endpoint and the keys the Registry holds:
// both must stay within the configured bounds whatever the number of ids,
// and a real tenant must keep resolving without a read.
func TestRegistryCacheBounds(t *testing.T) {
	emu := awsemu.StartTest(t)
	front, err := awscount.Start(emu.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(front.Close)
	cfg := front.Config(emu.Config())
	table := stack.Fresh(t, cfg, stack.Options{}).Names.Ref["TenantsTable"]
	ctx := context.Background()
	setup := &tenant.Registry{API: dynamodb.NewFromConfig(cfg), Table: table}
	if err := setup.Put(ctx, tenant.Tenant{ID: "acme", SecretID: "wacloud/tenants/acme", OwnApp: true}, nil); err != nil {
		t.Fatal(err)
	}
	const getItem = "DynamoDB.GetItem"

	tests := []struct {
		name   string
		budget *tenant.LookupBudget
		// ids made-up ids looked up at a frozen clock, each repeated.
		ids, repeats int
		// advance moves the clock before the known tenant is looked up
		// again (past the TTL: a refresh).
		advance time.Duration
		// wantReads is the GetItem calls for the made-up ids: with a
		// budget, its burst less the known tenant's first read.
		wantReads   int
		wantMissing int
		wantBusy    bool
	}{
		{name: "repeated unknown id is read once", ids: 1, repeats: 1000, wantReads: 1, wantMissing: 1},
		{name: "misses are bounded in memory", ids: 2000, repeats: 1, wantReads: 2000, wantMissing: 100},
		{name: "100000 random ids cost the budget's burst", budget: &tenant.LookupBudget{PerSecond: 5, Burst: 20},
			ids: 100000, repeats: 1, wantReads: 19, wantMissing: 19, wantBusy: true},
		{name: "a known tenant is refreshed when the budget is spent", budget: &tenant.LookupBudget{PerSecond: 5, Burst: 3},
			ids: 50, repeats: 1, advance: 2 * time.Minute, wantReads: 2, wantMissing: 2, wantBusy: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			r := &tenant.Registry{API: dynamodb.NewFromConfig(cfg), Table: table, MissCacheSize: 100, Unknown: tt.budget,
				Now: func() time.Time { return now }}
			// The real tenant is known before the made-up ids arrive.
			if _, err := r.Tenant(ctx, "acme"); err != nil {
				t.Fatal(err)
			}
			front.Reset()
			busy := 0
			for i := range tt.ids {
				id := fmt.Sprintf("rnd%08x", uint32(i)*2654435761)
				for range tt.repeats {
					_, err := r.Tenant(ctx, id)
					switch {
					case errors.Is(err, tenant.ErrBusy):
						if fault.ClassOf(err) != fault.Retry {
							t.Fatalf("busy error class = %v, want retry", fault.ClassOf(err))
						}
						busy++
					case !errors.Is(err, tenant.ErrNotFound):
						t.Fatalf("Tenant(%s) = %v, want ErrNotFound", id, err)
					}
				}
			}
			if got := front.Count(getItem); got != tt.wantReads {
				t.Errorf("GetItem calls for %d ids = %d, want %d", tt.ids, got, tt.wantReads)
			}
			if got, want := front.Count(""), front.Count(getItem); got != want {
				t.Errorf("AWS calls = %d, want only the %d GetItem", got, want)
			}
			if _, missing := tenant.Cached(r); missing != tt.wantMissing {
				t.Errorf("missing keys cached = %d, want %d", missing, tt.wantMissing)
			}
			if got := busy > 0; got != tt.wantBusy {
				t.Errorf("some lookups refused = %v (%d), want %v", got, busy, tt.wantBusy)
			}

			now = now.Add(tt.advance)
			front.Reset()
			if got, err := r.Tenant(ctx, "acme"); err != nil || got.ID != "acme" {
				t.Fatalf("Tenant(acme) after the made-up ids = %+v, %v", got, err)
			}
			wantRefresh := 0
			if tt.advance > 0 {
				wantRefresh = 1
			}
			if got := front.Count(getItem); got != wantRefresh {
				t.Errorf("GetItem calls for the known tenant = %d, want %d", got, wantRefresh)
			}
		})
	}
}

// TestRegistryCacheEvictsLeastRecentlyUsed fills a small cache of found
// items: the oldest is dropped, so reading it again costs a call.
func TestRegistryCacheEvictsLeastRecentlyUsed(t *testing.T) {
	emu := awsemu.StartTest(t)
	front, err := awscount.Start(emu.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(front.Close)
	cfg := front.Config(emu.Config())
	table := stack.Fresh(t, cfg, stack.Options{}).Names.Ref["TenantsTable"]
	ctx := context.Background()
	r := &tenant.Registry{API: dynamodb.NewFromConfig(cfg), Table: table, CacheSize: 3}
	for _, id := range []string{"t1", "t2", "t3", "t4"} {
		if err := r.Put(ctx, tenant.Tenant{ID: id, SecretID: "wacloud/tenants/" + id}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"t1", "t2", "t3", "t1", "t4"} { // t2 is now the oldest
		if _, err := r.Tenant(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if found, _ := tenant.Cached(r); found != 3 {
		t.Errorf("found items cached = %d, want 3", found)
	}
	for _, tt := range []struct {
		id    string
		calls int
	}{{"t1", 0}, {"t3", 0}, {"t4", 0}, {"t2", 1}} {
		front.Reset()
		if _, err := r.Tenant(ctx, tt.id); err != nil {
			t.Fatal(err)
		}
		if got := front.Count("DynamoDB.GetItem"); got != tt.calls {
			t.Errorf("GetItem calls for %s = %d, want %d", tt.id, got, tt.calls)
		}
	}
}
