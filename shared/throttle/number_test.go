package throttle

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestNumberPrefetch checks that a batch's sends share one leased block,
// that Prefetch leases only what the instance lacks, and that prefetched
// slots nobody takes in time are counted as given up, not handed out.
func TestNumberPrefetch(t *testing.T) {
	api, table := stateTable(t)
	const limit = 1000
	tests := []struct {
		name string
		// steps: "p N" prefetches N, "r N" makes N reservations one after
		// the other, "late" moves the clock past every slot and the slack.
		steps                             []string
		leases, slots, unused, prefetches int64
		updates                           int
	}{
		{name: "a batch takes one block", steps: []string{"p 6", "r 6"},
			leases: 1, slots: 6, prefetches: 1, updates: 1},
		{name: "sends beyond the prefetch lease what they lack", steps: []string{"p 3", "r 5"},
			leases: 3, slots: 5, prefetches: 1, updates: 3},
		{name: "held slots count against a prefetch", steps: []string{"p 4", "r 1", "p 3", "p 5", "r 5"},
			leases: 2, slots: 6, prefetches: 2, updates: 2},
		{name: "a prefetch is at most one block", steps: []string{"p 25", "r 10"},
			leases: 1, slots: 10, prefetches: 1, updates: 1},
		{name: "prefetched slots nobody took in time are given up", steps: []string{"p 3", "r 0", "late", "r 1"},
			leases: 2, slots: 4, unused: 3, prefetches: 1, updates: 2},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			c := &countingAPI{API: api}
			l := &Limiter{API: c, Table: table, Now: clk.Now}
			number := fmt.Sprintf("4000%d", i)
			ctx := context.Background()
			var got []time.Time
			for _, step := range tc.steps {
				var n int
				switch {
				case step == "late":
					clk.Advance(time.Second)
				case step[0] == 'p':
					fmt.Sscanf(step, "p %d", &n)
					l.Prefetch(ctx, number, limit, n, Interactive)
				case step[0] == 'r':
					fmt.Sscanf(step, "r %d", &n)
					if n == 0 {
						// Wait for the prefetch's lease to land.
						l.dispenser(number).waitLease()
					}
					for range n {
						at, err := l.Reserve(ctx, number, limit, Interactive)
						if err != nil {
							t.Fatal(err)
						}
						got = append(got, at)
					}
				}
			}
			s := l.Stats(number)
			if s.Leases != tc.leases || s.Slots != tc.slots || s.Unused != tc.unused || s.Prefetches != tc.prefetches {
				t.Errorf("leases %d slots %d unused %d prefetches %d; want %d %d %d %d",
					s.Leases, s.Slots, s.Unused, s.Prefetches, tc.leases, tc.slots, tc.unused, tc.prefetches)
			}
			if n := int(c.updates.Load()); n != tc.updates {
				t.Errorf("UpdateItem calls %d, want %d", n, tc.updates)
			}
			for j := 1; j < len(got); j++ {
				if !got[j].After(got[j-1]) {
					t.Errorf("slot %d (%v) not after slot %d (%v)", j, got[j], j-1, got[j-1])
				}
			}
		})
	}
}

// TestNumberLeaseCalls checks which conditional write a lease tries first:
// a number sent from now and then finds the schedule idle and takes one
// write per lease; an instance sharing a busy schedule with others takes
// one write per lease too once it has seen the schedule busy, even when
// its own last block has passed.
func TestNumberLeaseCalls(t *testing.T) {
	api, table := stateTable(t)
	ctx := context.Background()

	t.Run("idle number", func(t *testing.T) {
		clk := newClock()
		c := &countingAPI{API: api}
		l := &Limiter{API: c, Table: table, Now: clk.Now}
		for range 5 {
			if _, err := l.Reserve(ctx, "5001", 80, Interactive); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Second)
		}
		if s := l.Stats("5001"); s.Leases != 5 || s.Calls != 5 || s.Idle != 5 {
			t.Errorf("leases %d calls %d idle %d; want 5 5 5", s.Leases, s.Calls, s.Idle)
		}
	})

	t.Run("busy schedule shared with another instance", func(t *testing.T) {
		clk := newClock()
		c := &countingAPI{API: api}
		l := &Limiter{API: c, Table: table, Now: clk.Now, MaxBlock: 1}
		other := &Limiter{API: api, Table: table, Now: clk.Now, MaxBlock: 10}
		const rounds = 20
		for range rounds {
			// This instance books one slot, the other instance ten after
			// it; then time passes this instance's slot but not the
			// other's block, so the schedule is busy although this
			// instance's own booking has ended.
			at, err := l.Reserve(ctx, "5002", 1000, Interactive)
			if err != nil {
				t.Fatal(err)
			}
			other.Prefetch(ctx, "5002", 1000, 10, Interactive)
			for range 10 {
				if _, err := other.Reserve(ctx, "5002", 1000, Interactive); err != nil {
					t.Fatal(err)
				}
			}
			clk.Advance(at.Sub(clk.Now()) + 1500*time.Microsecond)
		}
		s := l.Stats("5002")
		// The first lease finds the schedule idle; the second guesses
		// idle from it and is wrong once; from then on one write each.
		if s.Leases != rounds || s.Calls != rounds+1 {
			t.Errorf("leases %d calls %d; want %d leases in %d calls", s.Leases, s.Calls, rounds, rounds+1)
		}
	})
}

// waitLease waits for the lease in progress, if any.
func (d *dispenser) waitLease() {
	d.mu.Lock()
	leasing, done := d.leasing, d.done
	d.mu.Unlock()
	if leasing {
		<-done
	}
}

// TestNumberBookedSchedule checks that once a lease finds the schedule
// booked beyond the horizon, the instance's callers and prefetches are
// told to wait without asking DynamoDB again until the horizon reaches
// the booking.
func TestNumberBookedSchedule(t *testing.T) {
	api, table := stateTable(t)
	clk := newClock()
	ctx := context.Background()
	// Another instance books a 10/s number until its schedule reaches
	// beyond the 2 s horizon.
	other := &Limiter{API: api, Table: table, Now: clk.Now, MaxBlock: 10}
	for {
		other.Prefetch(ctx, "6001", 10, 10, Interactive)
		_, err := other.Reserve(ctx, "6001", 10, Interactive)
		if _, booked := AsWait(err); booked {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Its last prefetch may still be leasing in the background: let it
	// finish, so the schedule no longer moves while this instance reads it.
	d := other.dispenser("6001")
	d.mu.Lock()
	leasing, done := d.leasing, d.done
	d.mu.Unlock()
	if leasing {
		<-done
	}
	c := &countingAPI{API: api}
	l := &Limiter{API: c, Table: table, Now: clk.Now}
	_, err := l.Reserve(ctx, "6001", 10, Interactive)
	first, ok := AsWait(err)
	if !ok {
		t.Fatalf("first reservation: %v, want a WaitError", err)
	}
	calls := c.updates.Load() + c.gets.Load()
	for range 5 {
		l.Prefetch(ctx, "6001", 10, 3, Interactive)
		_, err := l.Reserve(ctx, "6001", 10, Interactive)
		if we, ok := AsWait(err); !ok || we.Wait > first.Wait {
			t.Fatalf("reservation while booked: %v, want a WaitError of at most %v", err, first.Wait)
		}
	}
	if n := c.updates.Load() + c.gets.Load(); n != calls {
		t.Errorf("%d DynamoDB calls while the schedule was known booked, want none", n-calls)
	}
	// Once the horizon reaches the booking, the instance leases again.
	clk.Advance(first.Wait + time.Millisecond)
	if _, err := l.Reserve(ctx, "6001", 10, Interactive); err != nil {
		t.Fatalf("reservation after the wait: %v", err)
	}
}
