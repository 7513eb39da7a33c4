package campaign

import (
	"testing"
	"time"
)

// TestBacklog: the outstanding estimate and what it allows, from the
// samples a run takes.
func TestBacklog(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name            string
		reads           []sample // done counts read
		queues          []sample // queued counts recorded
		queued          int64
		at              time.Duration
		wantOutstanding int64
		wantAllowed     int64
	}{
		{name: "nothing read yet", queued: 15, wantOutstanding: 15, wantAllowed: MinAhead},
		{name: "rate measured over the span", reads: []sample{{t0, 0}, {t0.Add(time.Second), 100}, {t0.Add(2 * time.Second), 200}},
			queued: 350, at: 2 * time.Second, wantOutstanding: 150, wantAllowed: 100},
		{name: "reads older than the span drop", reads: []sample{{t0, 0}, {t0.Add(time.Second), 1000}, {t0.Add(10 * time.Second), 1000}, {t0.Add(11 * time.Second), 1050}},
			queued: 1100, at: 11 * time.Second, wantOutstanding: 50, wantAllowed: 50},
		{name: "done after a failure after acceptance", reads: []sample{{t0, 110}}, queued: 100, wantOutstanding: 0, wantAllowed: MinAhead},
		{name: "jobs queued before backlogStale stop counting", reads: []sample{{t0, 0}},
			queues: []sample{{t0, 500}, {t0.Add(time.Minute), 520}, {t0.Add(6 * time.Minute), 530}},
			queued: 530, at: 6 * time.Minute, wantOutstanding: 10, wantAllowed: MinAhead},
		{name: "recent jobs all count", reads: []sample{{t0, 0}},
			queues: []sample{{t0, 500}, {t0.Add(time.Minute), 520}},
			queued: 530, at: 2 * time.Minute, wantOutstanding: 530, wantAllowed: MinAhead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b backlog
			for _, r := range tt.reads {
				b.observe(r.at, r.n)
			}
			for _, q := range tt.queues {
				b.queue(q.at, q.n)
			}
			now := t0.Add(tt.at)
			if got := b.outstanding(now, tt.queued); got != tt.wantOutstanding {
				t.Errorf("outstanding %d, want %d", got, tt.wantOutstanding)
			}
			if got := b.allowed(time.Second); got != tt.wantAllowed {
				t.Errorf("allowed %d, want %d", got, tt.wantAllowed)
			}
		})
	}
}
