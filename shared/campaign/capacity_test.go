package campaign_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/msglimit"
)

// wakes records the delays a runner asks to be woken after, passing each
// request on to the real control.
type wakes struct {
	next   campaign.Waker
	delays []time.Duration
}

func (w *wakes) Run(ctx context.Context, tenantID, id string, delay time.Duration) error {
	w.delays = append(w.delays, delay)
	return w.next.Run(ctx, tenantID, id, delay)
}

// TestRunnerWaitsForCapacity: with the portfolio's tier at 50, a campaign
// of 60 recipients queues exactly 50 and waits for capacity; woken while
// the portfolio is still full it stays waiting, queues nothing and
// changes nothing in the record (no state flapping, no event); it
// goes on by itself, from the row that waited, once Meta raises the tier
// (seen at the next check, at most CapacityCheck later) or once the
// oldest recipients leave the 24 hours; every row is queued once.
func TestRunnerWaitsForCapacity(t *testing.T) {
	tests := []struct {
		name  string
		frees func(e *env, limits *msglimit.Store) error
	}{
		{"Meta raises the tier", func(e *env, limits *msglimit.Store) error {
			_, err := limits.Apply(context.Background(), msglimit.Report{Portfolio: waba, Tier: msglimit.Tier1K, At: e.clock.Now()})
			e.clock.Add(campaign.CapacityCheck)
			return err
		}},
		{"the oldest recipients leave the 24 hours", func(e *env, _ *msglimit.Store) error {
			e.clock.Add(msglimit.Window + msglimit.Bucket)
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t)
			limits := e.r.Capacity.(*msglimit.Store)
			w := &wakes{next: e.r.Wake}
			e.r.Wake = w
			if _, err := limits.Apply(ctx, msglimit.Report{Portfolio: waba, Tier: msglimit.Tier50, At: e.clock.Now()}); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			b.WriteString("to,body.1,body.2,header.document\n")
			for i := 1; i <= 60; i++ {
				fmt.Fprintf(&b, "+5511977%06d,Ana,%d,https://example.com/o.pdf\n", i, i)
			}
			c := e.campaign(t, "tenants/demo/campaigns/cap.csv", b.String())
			cmd := campaign.Command{TenantID: "demo", CampaignID: c.ID}
			jobs := map[string]int{}
			run := func(wantState string, wantNew int) campaign.Campaign {
				t.Helper()
				if err := e.r.Run(ctx, cmd); err != nil {
					t.Fatal(err)
				}
				got := e.jobs(t)
				for _, j := range got {
					jobs[j.JobID]++
				}
				c, err := e.store.Get(ctx, "demo", c.ID)
				if err != nil {
					t.Fatal(err)
				}
				if c.State != wantState || len(got) != wantNew {
					t.Fatalf("%s with %d new jobs (%+v), want %s with %d", c.State, len(got), c.Counts, wantState, wantNew)
				}
				return c
			}
			waiting := run(campaign.StateWaitingForCapacity, 50)
			if waiting.Counts.Rows != 50 || waiting.Counts.Queued != 50 {
				t.Errorf("counts %+v, want 50 rows queued", waiting.Counts)
			}
			e.clock.Add(5 * time.Minute)
			if again := run(campaign.StateWaitingForCapacity, 0); again.UpdatedAt != waiting.UpdatedAt {
				t.Errorf("a run while still full changed the record (updated_at %s, was %s)", again.UpdatedAt, waiting.UpdatedAt)
			}
			if fmt.Sprint(w.delays) != fmt.Sprint([]time.Duration{campaign.CapacityCheck, campaign.CapacityCheck}) {
				t.Errorf("woken after %v, want every %s", w.delays, campaign.CapacityCheck)
			}
			if err := tt.frees(e, limits); err != nil {
				t.Fatal(err)
			}
			if c := run(campaign.StateCompleted, 10); c.Counts.Rows != 60 || c.Counts.Queued != 60 {
				t.Errorf("counts %+v, want 60 rows queued", c.Counts)
			}
			for id, n := range jobs {
				if n != 1 {
					t.Errorf("job %s queued %d times", id, n)
				}
			}
			if len(jobs) != 60 {
				t.Errorf("%d jobs, want 60", len(jobs))
			}
		})
	}
}
