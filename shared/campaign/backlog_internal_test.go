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
		wantRate        float64
	}{
		{name: "nothing read yet", queued: 15, wantOutstanding: 15},
		{name: "rate measured over the span", reads: []sample{{t0, 0}, {t0.Add(time.Second), 100}, {t0.Add(2 * time.Second), 200}},
			queued: 350, at: 2 * time.Second, wantOutstanding: 150, wantRate: 100},
		{name: "reads older than the span drop", reads: []sample{{t0, 0}, {t0.Add(time.Second), 1000}, {t0.Add(10 * time.Second), 1000}, {t0.Add(11 * time.Second), 1050}},
			queued: 1100, at: 11 * time.Second, wantOutstanding: 50, wantRate: 50},
		{name: "done after a failure after acceptance", reads: []sample{{t0, 110}}, queued: 100, wantOutstanding: 0},
		{name: "jobs queued before backlogStale stop counting", reads: []sample{{t0, 0}},
			queues: []sample{{t0, 500}, {t0.Add(time.Minute), 520}, {t0.Add(6 * time.Minute), 530}},
			queued: 530, at: 6 * time.Minute, wantOutstanding: 10},
		{name: "recent jobs all count", reads: []sample{{t0, 0}},
			queues: []sample{{t0, 500}, {t0.Add(time.Minute), 520}},
			queued: 530, at: 2 * time.Minute, wantOutstanding: 530},
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
			if b.rate != tt.wantRate {
				t.Errorf("rate %v, want %v", b.rate, tt.wantRate)
			}
		})
	}
}

// TestBacklogAllowance: the allowance starts at MinAhead, grows by a
// quarter at each read that finds the sender got a quarter of it done
// since, or does three quarters of it in Ahead, up to allowCeiling times
// Ahead of the run's pace, and shrinks towards the measured rate
// times Ahead (at most by half a read, never below MinAhead) at a read
// that finds the sender getting less than half of it done in Ahead.
func TestBacklogAllowance(t *testing.T) {
	type read struct {
		outstanding int64
		rate        float64
		waiting     int64 // -1: not read
	}
	repeat := func(r read, n int) []read {
		var rs []read
		for range n {
			rs = append(rs, r)
		}
		return rs
	}
	tests := []struct {
		name  string
		pace  float64
		reads []read
		want  int64
	}{
		{name: "before any read", pace: 80, want: MinAhead},
		{name: "a sender that drains it grows it", pace: 80,
			reads: []read{{0, 5, -1}, {5, 5, -1}, {10, 5, -1}}, want: 39},
		{name: "a sender doing three quarters of it in Ahead grows it", pace: 80,
			reads: []read{{20, 15, -1}, {25, 19, -1}, {31, 24, -1}}, want: 39},
		{name: "never beyond allowCeiling times Ahead of the pace", pace: 30, reads: repeat(read{0, 30, -1}, 20), want: 4 * 30},
		{name: "a sender doing less than half the allowance shrinks it to within twice its rate", pace: 1000,
			reads: []read{{0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {1000, 100, -1}, {1000, 100, -1}, {1000, 100, -1}}, want: 181},
		{name: "by half a read at most", pace: 1000,
			reads: []read{{0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {1000, 1, -1}}, want: 181},
		{name: "no shrinking before the rate is measured", pace: 1000,
			reads: []read{{0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {1000, -1, -1}, {1000, -1, -1}}, want: 39},
		{name: "jobs waiting in the queue stop the growth", pace: 80,
			reads: []read{{0, 80, 0}, {0, 80, 0}, {0, 80, 40}, {0, 80, 40}}, want: 31},
		{name: "jobs waiting in the queue shrink it to the rate", pace: 1000,
			reads: append(repeat(read{0, 100, -1}, 13), read{0, 100, 30}, read{0, 100, 30}, read{0, 100, 30}), want: 100},
		{name: "a few jobs waiting are a queue that keeps up", pace: 1000,
			reads: append(repeat(read{0, 100, -1}, 13), read{0, 100, 20}), want: 454},
		{name: "never below MinAhead", pace: 1000, reads: []read{{0, 100, -1}, {0, 100, -1}, {500, 0, -1}, {500, 0, -1}, {500, 0, -1}}, want: MinAhead},
		{name: "a sender busy within the allowance leaves it", pace: 80, reads: []read{{0, 80, -1}, {0, 80, -1}, {30, 20, -1}}, want: 31},
		{name: "a rate short of the allowance by less than half leaves it", pace: 1000,
			reads: []read{{0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {0, 100, -1}, {1000, 100, -1}}, want: 149},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b backlog
			for _, r := range tt.reads {
				b.rate, b.measured = r.rate, r.rate >= 0
				b.adapt(r.outstanding, tt.pace, time.Second, r.waiting)
			}
			if got := b.allowed(); got != tt.want {
				t.Errorf("allowed %d, want %d", got, tt.want)
			}
		})
	}
}
