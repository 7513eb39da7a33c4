package msglimit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/msglimit"
)

// newStores starts the emulator WACLOUD_TEST_AWS selects and returns n
// stores over one state table, as n instances would have.
func newStores(t *testing.T, n int) []*msglimit.Store {
	t.Helper()
	emu := awsemu.StartTest(t)
	st := stack.Fresh(t, emu.Config(), stack.Options{})
	ddb := dynamodb.NewFromConfig(emu.Config())
	var out []*msglimit.Store
	for i := 0; i < n; i++ {
		out = append(out, &msglimit.Store{API: ddb, Table: st.Names.Ref["StateTable"]})
	}
	return out
}

func TestTierLimit(t *testing.T) {
	tests := []struct {
		tier      string
		limit     int
		unlimited bool
		ok        bool
	}{
		{"TIER_50", 50, false, true},
		{"TIER_250", 250, false, true},
		{"TIER_1K", 1000, false, true},
		{"TIER_2K", 2000, false, true},
		{"TIER_10K", 10000, false, true},
		{"TIER_100K", 100000, false, true},
		{"TIER_UNLIMITED", 0, true, true},
		{"tier_2k", 2000, false, true},
		{"TIER_5", 0, false, false},
		{"", 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.tier, func(t *testing.T) {
			limit, unlimited, ok := msglimit.TierLimit(tt.tier)
			if limit != tt.limit || unlimited != tt.unlimited || ok != tt.ok {
				t.Errorf("TierLimit(%q) = %d, %v, %v; want %d, %v, %v", tt.tier, limit, unlimited, ok, tt.limit, tt.unlimited, tt.ok)
			}
		})
	}
}

// TestTierWalk walks a small tier across two instances: exactly limit
// unique recipients are counted, repeats are free, the next one is
// refused with the time capacity frees, and once the first bucket leaves
// the 24 hours the next recipient is counted.
func TestTierWalk(t *testing.T) {
	ctx := context.Background()
	stores := newStores(t, 2)
	const portfolio = "waba-walk"
	t0 := time.Date(2026, 3, 1, 10, 3, 0, 0, time.UTC)
	if _, err := stores[0].Apply(ctx, msglimit.Report{Portfolio: portfolio, Tier: msglimit.Tier50, At: t0.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	const limit = 50
	// 30 recipients in the first bucket, 20 an hour later, split across
	// the instances.
	at := func(i int) time.Time {
		if i < 30 {
			return t0
		}
		return t0.Add(time.Hour)
	}
	for i := 0; i < limit; i++ {
		d, err := stores[i%2].Reserve(ctx, portfolio, fmt.Sprintf("5511999%05d", i), at(i))
		if err != nil {
			t.Fatal(err)
		}
		if d.Outcome != msglimit.Allowed {
			t.Fatalf("recipient %d: outcome %v, want allowed", i, d.Outcome)
		}
	}
	later := t0.Add(2 * time.Hour)
	// Repeats are free on either instance, whoever counted them.
	for i := 0; i < limit; i += 7 {
		d, err := stores[(i+1)%2].Reserve(ctx, portfolio, fmt.Sprintf("5511999%05d", i), later)
		if err != nil {
			t.Fatal(err)
		}
		if d.Outcome != msglimit.Repeat {
			t.Errorf("repeat of recipient %d: outcome %v, want repeat", i, d.Outcome)
		}
	}
	d, err := stores[0].Reserve(ctx, portfolio, "551188800001", later)
	if err != nil {
		t.Fatal(err)
	}
	wantFree := t0.Truncate(msglimit.Bucket).Add(msglimit.Bucket + msglimit.Window)
	if d.Outcome != msglimit.Exceeded || d.Limit != limit || d.Tier != msglimit.Tier50 || !d.FreeAt.Equal(wantFree) {
		t.Fatalf("recipient 51: %+v, want exceeded at %d (TIER_50), free at %v", d, limit, wantFree)
	}
	// Just before the first bucket leaves the window: still full.
	if d, err := stores[1].Reserve(ctx, portfolio, "551188800001", wantFree.Add(-time.Second)); err != nil || d.Outcome != msglimit.Exceeded {
		t.Fatalf("a second before capacity frees: %+v, %v; want exceeded", d, err)
	}
	// Once it has, its 30 recipients' capacity is free again: 30 new
	// recipients, then full.
	for i := 0; i < 30; i++ {
		d, err := stores[i%2].Reserve(ctx, portfolio, fmt.Sprintf("551188800%03d", i+1), wantFree)
		if err != nil {
			t.Fatal(err)
		}
		if d.Outcome != msglimit.Allowed {
			t.Fatalf("after the window, new recipient %d: %v, want allowed", i, d.Outcome)
		}
	}
	if d, err := stores[0].Reserve(ctx, portfolio, "551177700000", wantFree); err != nil || d.Outcome != msglimit.Exceeded {
		t.Fatalf("31st after the window: %+v, %v; want exceeded", d, err)
	}
	// A recipient of the first bucket is new again after 24 hours.
	st, err := stores[1].State(ctx, portfolio, wantFree.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if st.Tier != msglimit.Tier50 || st.Limit != limit {
		t.Errorf("state = %+v, want TIER_50 / 50", st)
	}
}

// TestReserveConcurrent: many instances at once never count past the
// limit, and each recipient once.
func TestReserveConcurrent(t *testing.T) {
	ctx := context.Background()
	stores := newStores(t, 4)
	const portfolio = "waba-race"
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	if _, err := stores[0].Apply(ctx, msglimit.Report{Portfolio: portfolio, Tier: msglimit.Tier50, At: now}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[msglimit.Outcome]int{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				// 80 distinct recipients, each tried by two workers.
				r := fmt.Sprintf("5521%04d", (w/2)*20+i)
				d, err := stores[w%4].Reserve(ctx, portfolio, r, now)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got[d.Outcome]++
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	if got[msglimit.Allowed] != 50 {
		t.Errorf("allowed = %d, want exactly 50 (outcomes %v)", got[msglimit.Allowed], got)
	}
	if got[msglimit.Allowed]+got[msglimit.Repeat]+got[msglimit.Exceeded] != 160 {
		t.Errorf("outcomes %v, want 160 in all", got)
	}
}

func TestUnknownAndUnlimitedTier(t *testing.T) {
	ctx := context.Background()
	stores := newStores(t, 1)
	s := stores[0]
	now := time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)
	// Unknown tier: counted, never refused.
	for i := 0; i < 60; i++ {
		d, err := s.Reserve(ctx, "waba-new", fmt.Sprintf("5531%04d", i), now)
		if err != nil || d.Outcome != msglimit.Allowed {
			t.Fatalf("unknown tier, recipient %d: %+v, %v; want allowed", i, d, err)
		}
	}
	// Learning a tier below the count refuses the next new recipient.
	if applied, err := s.Apply(ctx, msglimit.Report{Portfolio: "waba-new", Tier: "TIER_50", At: now}); err != nil || !applied {
		t.Fatalf("apply: %v, %v", applied, err)
	}
	if d, err := s.Reserve(ctx, "waba-new", "5531999999", now); err != nil || d.Outcome != msglimit.Exceeded || d.Used != 60 {
		t.Fatalf("over a tier learnt late: %+v, %v; want exceeded with 60 used", d, err)
	}
	// Unlimited: nothing counted.
	if _, err := s.Apply(ctx, msglimit.Report{Portfolio: "waba-new", Tier: "TIER_UNLIMITED", At: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Reserve(ctx, "waba-new", "5531999999", now.Add(time.Minute)); err != nil || d.Outcome != msglimit.Unlimited {
		t.Fatalf("unlimited: %+v, %v", d, err)
	}
}

// TestApplyOrder: an older report (webhooks arrive out of order) never
// overwrites a newer one; quality and status are kept per number.
func TestApplyOrder(t *testing.T) {
	ctx := context.Background()
	s := newStores(t, 1)[0]
	now := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	steps := []struct {
		name        string
		r           msglimit.Report
		wantApplied bool
		wantTier    string
		wantHealth  msglimit.Health
	}{
		{"API read", msglimit.Report{Portfolio: "w1", PhoneNumberID: "p1", Tier: "TIER_1K", Quality: "GREEN", Status: "CONNECTED", At: now}, true, "TIER_1K",
			msglimit.Health{Quality: "GREEN", Status: "CONNECTED"}},
		{"webhook flagged", msglimit.Report{Portfolio: "w1", PhoneNumberID: "p1", Tier: "TIER_10K", Status: "FLAGGED", At: now.Add(time.Hour)}, true, "TIER_10K",
			msglimit.Health{Quality: "GREEN", Status: "FLAGGED"}},
		{"older webhook", msglimit.Report{Portfolio: "w1", PhoneNumberID: "p1", Tier: "TIER_250", Status: "UNFLAGGED", At: now.Add(30 * time.Minute)}, false, "TIER_10K",
			msglimit.Health{Quality: "GREEN", Status: "FLAGGED"}},
		{"API read, rated low", msglimit.Report{Portfolio: "w1", PhoneNumberID: "p1", Tier: "TIER_10K", Quality: "RED", Status: "FLAGGED", At: now.Add(2 * time.Hour)}, true, "TIER_10K",
			msglimit.Health{Quality: "RED", Status: "FLAGGED"}},
		{"webhook unflagged forgets the low rating", msglimit.Report{Portfolio: "w1", PhoneNumberID: "p1", Tier: "TIER_10K", Status: "UNFLAGGED", At: now.Add(3 * time.Hour)}, true, "TIER_10K",
			msglimit.Health{Quality: "", Status: "UNFLAGGED"}},
		{"webhook flagged keeps no rating it was not given", msglimit.Report{Portfolio: "w1", PhoneNumberID: "p1", Tier: "TIER_10K", Status: "FLAGGED", At: now.Add(4 * time.Hour)}, true, "TIER_10K",
			msglimit.Health{Quality: "", Status: "FLAGGED"}},
		{"webhook downgrade ends the flag", msglimit.Report{Portfolio: "w1", PhoneNumberID: "p1", Tier: "TIER_1K", Status: "DOWNGRADE", At: now.Add(5 * time.Hour)}, true, "TIER_1K",
			msglimit.Health{Quality: "", Status: "DOWNGRADE"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			applied, err := s.Apply(ctx, st.r)
			if err != nil {
				t.Fatal(err)
			}
			if applied != st.wantApplied {
				t.Errorf("applied = %v, want %v", applied, st.wantApplied)
			}
			got, err := s.State(ctx, "w1", now.Add(48*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if got.Tier != st.wantTier {
				t.Errorf("tier = %q, want %q", got.Tier, st.wantTier)
			}
			h, err := s.Health(ctx, "p1")
			if err != nil {
				t.Fatal(err)
			}
			if h.Quality != st.wantHealth.Quality || h.Status != st.wantHealth.Status {
				t.Errorf("health = %+v, want %+v", h, st.wantHealth)
			}
			if !h.Paused() != (st.wantHealth.Status != "FLAGGED") {
				t.Errorf("Paused() = %v for %+v", h.Paused(), h)
			}
		})
	}
	if _, err := s.Apply(ctx, msglimit.Report{Portfolio: "w1", Tier: "TIER_3", At: now.Add(6 * time.Hour)}); err == nil {
		t.Error("an unknown tier was accepted")
	}
}
