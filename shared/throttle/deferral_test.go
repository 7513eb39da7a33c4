package throttle

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"
)

// book fills number's schedule as far as lane's horizon lets it and
// returns the schedule's end (the booking that failed).
func book(t *testing.T, l *Limiter, number string, limit int, lane Lane) *WaitError {
	t.Helper()
	for i := 0; i < 10*limit; i++ {
		_, err := l.Reserve(context.Background(), number, limit, lane)
		if we, ok := AsWait(err); ok {
			return we
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("schedule of %s never booked", number)
	return nil
}

// TestDeferSpreadsAtTheNumbersRate checks that deferred sends get places
// one slot interval apart, starting at the schedule's end (or the lane's
// clock, or now), batch after batch, so that a backlog comes back at the
// number's rate; and that the two lanes keep separate clocks.
func TestDeferSpreadsAtTheNumbersRate(t *testing.T) {
	api, table := stateTable(t)
	tests := []struct {
		name    string
		limit   int
		booked  bool  // fill the schedule first
		batches []int // sends deferred per call, in order
		lane    Lane
	}{
		{name: "idle number, one batch", limit: 80, batches: []int{10}, lane: Bulk},
		{name: "booked number, batches follow each other", limit: 80, booked: true, batches: []int{10, 3, 7, 10}, lane: Bulk},
		{name: "booked number at 1000/s", limit: 1000, booked: true, batches: []int{10, 10, 1}, lane: Bulk},
		{name: "interactive clock", limit: 80, booked: true, batches: []int{4, 6}, lane: Interactive},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			number := fmt.Sprintf("7100%d", i)
			l := &Limiter{API: api, Table: table, Now: clk.Now}
			other := &Limiter{API: api, Table: table, Now: clk.Now} // another instance deferring too
			floor := clk.Now()
			if tc.booked {
				we := book(t, l, number, tc.limit, Interactive)
				floor = clk.Now().Add(DefaultHorizon + we.Wait)
			}
			interval := time.Duration(float64(time.Second) / (float64(tc.limit) * DefaultHeadroom))
			var places []time.Time
			for j, n := range tc.batches {
				inst := l
				if j%2 == 1 {
					inst = other
				}
				got, err := inst.Defer(context.Background(), number, tc.limit, tc.lane, n)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != n {
					t.Fatalf("batch %d: %d places, want %d", j, len(got), n)
				}
				places = append(places, got...)
				clk.Advance(10 * time.Millisecond) // the next batch comes a little later
			}
			if places[0].Before(floor) {
				t.Errorf("first place %v is before the schedule's end %v", places[0], floor)
			}
			if d := places[0].Sub(floor); d > time.Millisecond {
				t.Errorf("first place %v after the schedule's end: a gap nobody sends in", d)
			}
			for j := 1; j < len(places); j++ {
				if d := places[j].Sub(places[j-1]); math.Abs(float64(d-interval)) > float64(2*time.Microsecond) {
					t.Errorf("place %d is %v after place %d, want one slot interval (%v)", j, d, j-1, interval)
				}
			}
			// The other lane's clock is untouched: its first deferral
			// starts at the schedule's end, not after this lane's places.
			otherLane := Interactive
			if tc.lane == Interactive {
				otherLane = Bulk
			}
			got, err := l.Defer(context.Background(), number, tc.limit, otherLane, 1)
			if err != nil {
				t.Fatal(err)
			}
			if !got[0].Before(places[len(places)-1]) && len(places) > 1 {
				t.Errorf("%s lane's first place %v is behind the %s lane's backlog (last %v)", otherLane, got[0], tc.lane, places[len(places)-1])
			}
			if s := l.Stats(number).Deferred + other.Stats(number).Deferred; s != int64(len(places)+1) {
				t.Errorf("Stats.Deferred %d, want %d", s, len(places)+1)
			}
		})
	}
}

// TestLanesOnOneNumber checks that the bulk lane stops leasing at its
// shorter horizon, where the interactive lane still finds room; that the
// Final lane finds room beyond both; and that once the bulk lane has
// deferred sends beyond its horizon, Room says so for bulk only.
func TestLanesOnOneNumber(t *testing.T) {
	api, table := stateTable(t)
	const limit, number = 80, "7200"
	clk := newClock()
	ctx := context.Background()
	l := &Limiter{API: api, Table: table, Now: clk.Now}

	bulk := book(t, l, number, limit, Bulk)
	bulkSlots := l.Stats(number).Slots
	if want := int64(float64(limit) * DefaultHeadroom * DefaultBulkHorizon.Seconds()); bulkSlots < want {
		t.Errorf("bulk leased %d slots before its horizon, want at least %d", bulkSlots, want)
	}
	// Interactive sends overtake: they find room beyond the bulk horizon.
	for i := 0; i < 10; i++ {
		at, err := l.Reserve(ctx, number, limit, Interactive)
		if err != nil {
			t.Fatalf("interactive send %d on a number full for bulk: %v", i, err)
		}
		if at.Sub(clk.Now()) > DefaultHorizon+time.Second/4 {
			t.Errorf("interactive slot %v ahead, beyond its horizon", at.Sub(clk.Now()))
		}
	}
	if _, err := l.Reserve(ctx, number, limit, Bulk); err == nil {
		t.Errorf("bulk send leased after interactive sends took the room; want a WaitError (first one said %v)", bulk)
	}
	book(t, l, number, limit, Interactive)
	if _, err := l.Reserve(ctx, number, limit, Final); err != nil {
		t.Errorf("final send on a number full for interactive: %v", err)
	}

	if _, backlog := l.Room(number, Bulk); backlog {
		t.Fatal("Room(bulk) tells a backlog before anything was deferred")
	}
	if _, err := l.Defer(ctx, number, limit, Bulk, 10); err != nil {
		t.Fatal(err)
	}
	_, bulkBacklog := l.Room(number, Bulk)
	_, interactiveBacklog := l.Room(number, Interactive)
	if !bulkBacklog || interactiveBacklog {
		t.Errorf("backlog: bulk %v, interactive %v; want true, false", bulkBacklog, interactiveBacklog)
	}
	if booked, _ := l.Room(number, Bulk); !booked {
		t.Error("Room(bulk) does not tell the schedule is booked beyond the bulk horizon")
	}
	// Once time passes the clock, nothing is deferred any more.
	clk.Advance(time.Minute)
	if booked, backlog := l.Room(number, Bulk); booked || backlog {
		t.Errorf("Room(bulk) = %v, %v after the backlog's places passed", booked, backlog)
	}
}
