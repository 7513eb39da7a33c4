package campaign_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/campaign/tally"
)

// slowSender stands in for a sender that gets a campaign's jobs done at
// rate a second (of the fake clock) from when they reach the outbound
// queue, each no sooner than lag after it got there (the queue's and the
// sender's own time): its Totals are what the runner reads of the tally
// shards.
type slowSender struct {
	*campaign.Store
	t     *testing.T
	e     *env
	rate  float64
	lag   time.Duration
	start time.Time
	// arrived is the jobs received by each time observed.
	arrived []arrival
	// received is every job taken off the queue, done what the sender
	// got done of them, worst the most ever outstanding.
	received, done, worst int64
	// slept, if set, runs after each of the runner's sleeps.
	slept func()
}

type arrival struct {
	at time.Time
	n  int64
}

func (s *slowSender) observe() {
	now := s.e.clock.Now()
	s.received += int64(len(s.e.jobs(s.t)))
	s.arrived = append(s.arrived, arrival{now, s.received})
	ready := int64(0) // jobs that arrived at least lag ago
	for _, a := range s.arrived {
		if now.Sub(a.at) >= s.lag {
			ready = a.n
		}
	}
	s.done = min(ready, int64(s.rate*now.Sub(s.start).Seconds()))
	s.worst = max(s.worst, s.received-s.done)
}

// Waiting is the jobs in the queue no sender has taken: the sender takes
// them at its rate (and gets each done lag later).
func (s *slowSender) Waiting(context.Context) (int64, error) {
	s.observe()
	return s.received - min(s.received, int64(s.rate*s.e.clock.Now().Sub(s.start).Seconds())), nil
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
// gets done, and whose queue depth it tells; the sender also looks at
// the queue after every sleep, so
// worst sees the backlog between the runner's reads too.
func slowEnv(t *testing.T, rate float64, ahead time.Duration) (*env, *slowSender) {
	e := newEnv(t)
	s := &slowSender{Store: e.store, t: t, e: e, rate: rate, start: e.clock.Now()}
	e.r.Records, e.r.Ahead, e.r.Waiting = s, ahead, s
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
// tenants' jobs would wait behind them; held back, no more than about
// MinAhead are ever outstanding (the allowance never shrinks below it and
// grows by a quarter when the sender catches up), the campaign still
// queues every row once, and it keeps the sender busy (about 30 s of the
// fake clock for 300 rows). A sender that keeps up with the number's 80 a
// second but takes half a second to get each job done (queue, polling)
// gets the campaign at nearly that rate: back-pressure must not hold a
// run that the sender keeps up with (it did, to 44 a second, when the
// allowance was the measured rate times Ahead).
func TestRunnerHoldsBackForASlowSender(t *testing.T) {
	tests := []struct {
		name      string
		rate      float64
		lag       time.Duration
		rows      int
		ahead     time.Duration
		wantWorst func(int64) bool
		within    time.Duration // 0: not timed
	}{
		{"held back", 10, 0, 300, time.Second, func(w int64) bool { return w <= campaign.MinAhead*5/4+1 }, 40 * time.Second},
		{"nominal rate only", 10, 0, 300, 0, func(w int64) bool { return w > 200 }, 0},
		{"a sender that keeps up, half a second behind", 80, 500 * time.Millisecond, 800, time.Second,
			func(w int64) bool { return w <= 4*80 }, 800 * time.Second / 80 * 100 / 90},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, s := slowEnv(t, tt.rate, tt.ahead)
			s.lag = tt.lag
			c := e.campaign(t, "tenants/demo/campaigns/slow.csv", plainAudience(tt.rows))
			if err := e.r.Run(context.Background(), campaign.Command{TenantID: "demo", CampaignID: c.ID}); err != nil {
				t.Fatal(err)
			}
			s.observe()
			got, err := e.store.Get(context.Background(), "demo", c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != campaign.StateCompleted || got.Counts.Queued != int64(tt.rows) || s.received != int64(tt.rows) {
				t.Fatalf("campaign %s, %d queued, %d jobs received; want completed, %d", got.State, got.Counts.Queued, s.received, tt.rows)
			}
			if !tt.wantWorst(s.worst) {
				t.Errorf("at most %d jobs outstanding", s.worst)
			}
			if took := e.clock.Now().Sub(s.start); tt.within > 0 && took > tt.within {
				t.Errorf("%d rows took %s of a sender doing %v a second, want at most %s: held back too much", tt.rows, took, tt.rate, tt.within)
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

// TestQueueWaiting: the outbound queue's depth as the runner reads it
// counts the jobs a receive could take, not those a sender holds in
// flight.
func TestQueueWaiting(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	q := &campaign.QueueWaiting{API: e.sqs, QueueURL: e.out}
	for i := range 3 {
		if _, err := e.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(e.out), MessageBody: aws.String("{}"),
			MessageGroupId: aws.String(fmt.Sprintf("g%d", i)), MessageDeduplicationId: aws.String(fmt.Sprintf("d%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name    string
		receive int32 // messages a sender takes first
		want    int64
	}{
		{"three queued", 0, 3},
		{"one taken by a sender", 1, 2},
		{"all taken", 2, 0},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.receive > 0 {
				r, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.out), MaxNumberOfMessages: st.receive, VisibilityTimeout: 60})
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Messages) != int(st.receive) {
					t.Fatalf("received %d, want %d", len(r.Messages), st.receive)
				}
			}
			got, err := q.Waiting(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got != st.want {
				t.Errorf("waiting %d, want %d", got, st.want)
			}
		})
	}
}
