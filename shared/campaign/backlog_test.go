package campaign_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/campaign/tally"
)

// slowSender stands in for a sender that gets a campaign's jobs done at
// rate a second (of the fake clock) from when they reach the outbound
// queue: its Totals are what the runner reads of the tally shards.
type slowSender struct {
	*campaign.Store
	t     *testing.T
	e     *env
	rate  float64
	start time.Time
	// received is every job taken off the queue, done what the sender
	// got done of them, worst the most ever outstanding.
	received, done, worst int64
	// slept, if set, runs after each of the runner's sleeps.
	slept func()
}

func (s *slowSender) observe() {
	s.received += int64(len(s.e.jobs(s.t)))
	s.done = min(s.received, int64(s.rate*s.e.clock.Now().Sub(s.start).Seconds()))
	s.worst = max(s.worst, s.received-s.done)
}

func (s *slowSender) Totals(context.Context, string, string) (tally.Totals, error) {
	s.observe()
	return tally.Totals{Accepted: s.done}, nil
}

func plainAudience(rows int) string {
	var b strings.Builder
	b.WriteString("to,body.1,body.2,header.document\n")
	for i := 1; i <= rows; i++ {
		fmt.Fprintf(&b, "+5511988%06d,Ana,%d,https://example.com/o.pdf\n", i, i)
	}
	return b.String()
}

// slowEnv is a runner with Ahead set whose jobs a slowSender of rate
// gets done; the sender also looks at the queue after every sleep, so
// worst sees the backlog between the runner's reads too.
func slowEnv(t *testing.T, rate float64, ahead time.Duration) (*env, *slowSender) {
	e := newEnv(t)
	s := &slowSender{Store: e.store, t: t, e: e, rate: rate, start: e.clock.Now()}
	e.r.Records, e.r.Ahead = s, ahead
	e.r.Sleep = func(_ context.Context, d time.Duration) error {
		e.clock.Add(d)
		s.observe()
		if s.slept != nil {
			s.slept()
		}
		return nil
	}
	return e, s
}

// TestRunnerHoldsBackForASlowSender: a number rated 80 a second whose
// sender gets 10 a second done. Fed at the nominal rate alone (Ahead 0),
// the campaign's 300 jobs pile up in the shared queue, where other
// tenants' jobs would wait behind them; held back, no more than MinAhead
// are ever outstanding, the campaign still queues every row once, and
// it keeps the sender busy (about 30 s of the fake clock for 300 rows).
func TestRunnerHoldsBackForASlowSender(t *testing.T) {
	tests := []struct {
		name      string
		ahead     time.Duration
		wantWorst func(int64) bool
	}{
		{"held back", time.Second, func(w int64) bool { return w <= campaign.MinAhead }},
		{"nominal rate only", 0, func(w int64) bool { return w > 200 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, s := slowEnv(t, 10, tt.ahead)
			c := e.campaign(t, "tenants/demo/campaigns/slow.csv", plainAudience(300))
			if err := e.r.Run(context.Background(), campaign.Command{TenantID: "demo", CampaignID: c.ID}); err != nil {
				t.Fatal(err)
			}
			s.observe()
			got, err := e.store.Get(context.Background(), "demo", c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != campaign.StateCompleted || got.Counts.Queued != 300 || s.received != 300 {
				t.Fatalf("campaign %s, %d queued, %d jobs received; want completed, 300", got.State, got.Counts.Queued, s.received)
			}
			if !tt.wantWorst(s.worst) {
				t.Errorf("at most %d jobs outstanding", s.worst)
			}
			if tt.ahead > 0 {
				if took := e.clock.Now().Sub(s.start); took > 40*time.Second {
					t.Errorf("300 rows took %s of a sender doing 10 a second: held back too much", took)
				}
			}
		})
	}
}

// TestRunnerHeldStillStops: while its sender gets nothing done, a held
// run queues no more than MinAhead jobs, and still stops at a pause
// (within Every) and hands over at its deadline, instead of waiting.
func TestRunnerHeldStillStops(t *testing.T) {
	tests := []struct {
		name      string
		pauseAt   time.Duration
		wantState string
		wantWake  bool
	}{
		{"paused while held", 5 * time.Second, campaign.StatePaused, false},
		{"deadline while held", 0, campaign.StateRunning, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, s := slowEnv(t, 0, time.Second)
			c := e.campaign(t, "tenants/demo/campaigns/stall.csv", plainAudience(100))
			e.r.MaxRun, e.r.Margin = time.Minute, 10*time.Second
			w := &wakes{next: e.r.Wake}
			e.r.Wake = w
			paused := false
			s.slept = func() {
				if tt.pauseAt > 0 && !paused && e.clock.Now().Sub(s.start) >= tt.pauseAt {
					paused = true
					if _, err := e.store.Transition(context.Background(), "demo", c.ID, campaign.StatePaused, "", campaign.StateRunning); err != nil {
						t.Error(err)
					}
				}
			}
			if err := e.r.Run(context.Background(), campaign.Command{TenantID: "demo", CampaignID: c.ID}); err != nil {
				t.Fatal(err)
			}
			s.observe()
			got, err := e.store.Get(context.Background(), "demo", c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tt.wantState || s.received > campaign.MinAhead || got.Counts.Queued != s.received {
				t.Errorf("campaign %s with %d queued, %d jobs received; want %s, at most %d", got.State, got.Counts.Queued, s.received, tt.wantState, campaign.MinAhead)
			}
			if (len(w.delays) > 0) != tt.wantWake {
				t.Errorf("next run commands %v", w.delays)
			}
			if tt.pauseAt > 0 {
				if took := e.clock.Now().Sub(s.start); took > tt.pauseAt+e.r.Every+campaign.DefaultEvery {
					t.Errorf("the run stopped %s after it started, paused at %s", took, tt.pauseAt)
				}
			}
		})
	}
}
