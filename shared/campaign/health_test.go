package campaign_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/msglimit"
)

// flagAt is the runner's real capacity that records Meta flagging the
// number (as the status function does from the webhook) when the runner
// reserves its n-th recipient.
type flagAt struct {
	*msglimit.Store
	n     int64
	calls atomic.Int64
	at    time.Time
}

func (f *flagAt) Reserve(ctx context.Context, portfolio, recipient string, now time.Time) (msglimit.Decision, error) {
	if f.calls.Add(1) == f.n {
		if _, err := f.Apply(ctx, msglimit.Report{PhoneNumberID: number, Status: "FLAGGED", At: f.at}); err != nil {
			return msglimit.Decision{}, err
		}
	}
	return f.Store.Reserve(ctx, portfolio, recipient, now)
}

// TestRunnerPausesOnQuality: a number Meta flags pauses its running
// campaign at the next checkpoint, with the reason; a resume while Meta
// still flags it pauses again before any job; after Meta unflags it, a
// resume sends the rest, each row once.
func TestRunnerPausesOnQuality(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.r.Every = 100 * time.Millisecond // a checkpoint every 8 rows at 80/s
	limits := e.r.Capacity.(*msglimit.Store)
	flag := &flagAt{Store: limits, n: 10, at: e.clock.Now()}
	e.r.Capacity = flag
	body, valid := audience(40)
	c := e.campaign(t, "tenants/demo/campaigns/q.csv", body)
	cmd := campaign.Command{TenantID: "demo", CampaignID: c.ID}
	jobs := map[string]int{}
	take := func() int {
		got := e.jobs(t)
		for _, j := range got {
			jobs[j.JobID]++
		}
		return len(got)
	}
	resume := func() {
		t.Helper()
		if _, err := e.store.Transition(ctx, "demo", c.ID, campaign.StateRunning, "", campaign.StatePaused); err != nil {
			t.Fatal(err)
		}
	}
	state := func(want string) campaign.Campaign {
		t.Helper()
		got, err := e.store.Get(ctx, "demo", c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != want {
			t.Fatalf("state %s (%s), want %s", got.State, got.Reason, want)
		}
		return got
	}

	t.Run("flagged while running", func(t *testing.T) {
		if err := e.r.Run(ctx, cmd); err != nil {
			t.Fatal(err)
		}
		got := state(campaign.StatePaused)
		if !strings.Contains(got.Reason, "status FLAGGED") {
			t.Errorf("reason %q does not name the flag", got.Reason)
		}
		// The window checks rows ahead of the ones it queues, so the
		// flag may come before the flagged reservation's row is queued:
		// the pause still comes at the next checkpoint, not the end.
		if n := take(); n == 0 || n >= valid {
			t.Errorf("%d jobs before the pause, want from 1 to fewer than %d", n, valid)
		}
	})
	t.Run("resumed while still flagged", func(t *testing.T) {
		resume()
		if err := e.r.Run(ctx, cmd); err != nil {
			t.Fatal(err)
		}
		state(campaign.StatePaused)
		if n := take(); n != 0 {
			t.Errorf("%d jobs queued while Meta flags the number", n)
		}
	})
	t.Run("resumed after Meta unflags it", func(t *testing.T) {
		if _, err := limits.Apply(ctx, msglimit.Report{PhoneNumberID: number, Status: "UNFLAGGED", At: flag.at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		resume()
		if err := e.r.Run(ctx, cmd); err != nil {
			t.Fatal(err)
		}
		got := state(campaign.StateCompleted)
		take()
		for id, n := range jobs {
			if n != 1 {
				t.Errorf("job %s queued %d times", id, n)
			}
		}
		if len(jobs) != valid || got.Counts.Queued != int64(valid) {
			t.Errorf("%d jobs, %d queued, want %d", len(jobs), got.Counts.Queued, valid)
		}
	})
}
