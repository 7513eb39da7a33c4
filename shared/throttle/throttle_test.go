package throttle

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/stack"
)

// clock is a manual clock shared by every limiter instance of a test, so
// that results depend on counts, not on timing.
type clock struct{ us atomic.Int64 }

func (c *clock) Now() time.Time          { return time.UnixMicro(c.us.Load()) }
func (c *clock) Advance(d time.Duration) { c.us.Add(d.Microseconds()) }

// newClock starts a day after the previous test's clock: the emulator's
// tables are shared by the tests of one binary and outlive a run (go test
// -count), and their schedules must lie in the past of a new test.
func newClock() *clock {
	c := &clock{}
	c.us.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(runs.Add(1)) * 24 * time.Hour).UnixMicro())
	return c
}

var runs atomic.Int64

func stateTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	emu := awsemu.StartTest(t)
	tmpl, err := stack.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := stack.Provision(context.Background(), emu.Config(), tmpl, stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return dynamodb.NewFromConfig(emu.Config()), st.Names.Ref["StateTable"]
}

// TestNumberLimitAcrossInstances runs many separate limiter instances (as
// separate Lambda containers) concurrently against one table, each
// reserving slots (and prefetching blocks) until the schedule is booked, for several seconds of
// manual clock. No window of one second may hold more than the limit, and
// the schedule must still hand out nearly the whole limit.
func TestNumberLimitAcrossInstances(t *testing.T) {
	api, table := stateTable(t)
	for _, limit := range []int{80, 1000} {
		t.Run("limit="+itoa(limit), func(t *testing.T) {
			clk := newClock()
			const instances, seconds = 8, 4
			number := "1000" + itoa(limit)
			lims := make([]*Limiter, instances)
			for i := range lims {
				lims[i] = &Limiter{API: api, Table: table, Now: clk.Now, Slack: time.Hour}
			}
			var mu sync.Mutex
			var grants []time.Time
			start := clk.Now()
			for s := 0; s < seconds; s++ {
				var wg sync.WaitGroup
				for _, l := range lims {
					for g := 0; g < 3; g++ { // concurrent callers inside one instance too
						wg.Add(1)
						go func(l *Limiter, g int) {
							defer wg.Done()
							for {
								if g == 0 {
									// Batches book ahead too.
									l.Prefetch(context.Background(), number, limit, 5, Interactive)
								}
								at, err := l.Reserve(context.Background(), number, limit, Interactive)
								if _, booked := AsWait(err); booked {
									return
								}
								if err != nil {
									t.Error(err)
									return
								}
								mu.Lock()
								grants = append(grants, at)
								mu.Unlock()
							}
						}(l, g)
					}
				}
				wg.Wait()
				clk.Advance(time.Second)
			}
			sort.Slice(grants, func(i, j int) bool { return grants[i].Before(grants[j]) })
			for i := 1; i < len(grants); i++ {
				if !grants[i].Equal(grants[i-1]) {
					continue
				}
				t.Fatalf("slot %v granted twice", grants[i])
			}
			// Any limit+1 consecutive slots span more than a second, i.e.
			// no one-second window holds more than limit sends.
			worst := 0
			for i := range grants {
				j := sort.Search(len(grants), func(k int) bool { return !grants[k].Before(grants[i].Add(time.Second)) })
				worst = max(worst, j-i)
			}
			if worst > limit {
				t.Errorf("a one-second window holds %d slots, limit %d", worst, limit)
			}
			// The schedule covers [start, start+seconds+horizon); expect
			// nearly all of it at 0.97·limit.
			span := grants[len(grants)-1].Sub(start).Seconds()
			if rate := float64(len(grants)) / span; rate < 0.95*float64(limit) || rate > float64(limit) {
				t.Errorf("%d slots over %.2fs = %.1f/s, want between %.0f and %d", len(grants), span, rate, 0.95*float64(limit), limit)
			}
			t.Logf("%d slots, busiest second %d", len(grants), worst)
		})
	}
}

// A 130429 seen by one instance slows the number down for every instance,
// once per burst, and the rate comes back gradually.
func TestNumberLimiterSlowsDownOnThrottle(t *testing.T) {
	api, table := stateTable(t)
	clk := newClock()
	ctx := context.Background()
	seen := &Limiter{API: api, Table: table, Now: clk.Now, MaxBlock: 1}  // got the 130429
	other := &Limiter{API: api, Table: table, Now: clk.Now, MaxBlock: 1} // another sender instance
	also := &Limiter{API: api, Table: table, Now: clk.Now, MaxBlock: 1}  // got one from the same burst
	// spacing is the distance between two consecutive slots other leases
	// after the clock moved past everything booked.
	spacing := func() time.Duration {
		t.Helper()
		clk.Advance(time.Second)
		a, err1 := other.Reserve(ctx, "200", 100, Interactive)
		b, err2 := other.Reserve(ctx, "200", 100, Interactive)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		return b.Sub(a)
	}
	normal := spacing()
	if err := seen.Throttled(ctx, "200"); err != nil {
		t.Fatal(err)
	}
	if err := also.Throttled(ctx, "200"); err != nil { // the same burst: not halved again
		t.Fatal(err)
	}
	// One lease at the old rate may be in flight: the second pair shows it.
	spacing()
	slowed := spacing() // 1 s after the 130429 plus one second per call
	steps := []struct {
		name    string
		advance time.Duration
		min     float64 // spacing / normal
		max     float64
	}{
		{"right after: half the rate", 0, 1.8, 2.0},
		{"recovering", 10 * time.Second, 1.25, 1.4},
		{"recovered", 30 * time.Second, 0.99, 1.01},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got := slowed
			if st.advance > 0 {
				clk.Advance(st.advance)
				got = spacing()
			}
			if r := float64(got) / float64(normal); r < st.min || r > st.max {
				t.Errorf("another instance's spacing %v = %.2f × %v, want %.2f–%.2f ×", got, r, normal, st.min, st.max)
			}
		})
	}
}

func TestNumberLimiterStaleSlots(t *testing.T) {
	api, table := stateTable(t)
	clk := newClock()
	ctx := context.Background()
	// Another instance books the next slot, so this one's is ahead.
	other := &Limiter{API: api, Table: table, Now: clk.Now}
	if _, err := other.Reserve(ctx, "300", 80, Interactive); err != nil {
		t.Fatal(err)
	}
	sleeps := 0
	l := &Limiter{API: api, Table: table, Now: clk.Now}
	l.Sleep = func(c context.Context, d time.Duration) error {
		sleeps++
		clk.Advance(d + 50*time.Millisecond) // wakes 50 ms late: past the slack
		return nil
	}
	if err := l.Wait(ctx, "300", 80, Interactive); err != nil {
		t.Fatal(err)
	}
	// The late slot was given up; by then the schedule was idle, so the
	// next slot was due at once.
	if got := l.Stats("300").Stale; got != 1 || sleeps != 1 {
		t.Errorf("stale slots %d, sleeps %d; want 1 and 1", got, sleeps)
	}
}

func TestPairBurstThenPeriod(t *testing.T) {
	api, table := stateTable(t)
	clk := newClock()
	// Two instances share the pair's record.
	p1 := &Pair{API: api, Table: table, Now: clk.Now}
	p2 := &Pair{API: api, Table: table, Now: clk.Now}
	ctx := context.Background()
	for i := 0; i < DefaultPairBurst; i++ {
		p := p1
		if i%2 == 1 {
			p = p2
		}
		if err := p.Take(ctx, "100", "5511999990001"); err != nil {
			t.Fatalf("message %d of the burst: %v", i+1, err)
		}
	}
	err := p2.Take(ctx, "100", "5511999990001")
	we, ok := AsWait(err)
	if !ok || we.Wait != DefaultPairPeriod {
		t.Fatalf("message %d: err %v, want a wait of %v", DefaultPairBurst+1, err, DefaultPairPeriod)
	}
	if err := p1.Take(ctx, "100", "5511999990002"); err != nil {
		t.Errorf("another recipient is limited too: %v", err)
	}
	clk.Advance(DefaultPairPeriod)
	if err := p1.Take(ctx, "100", "5511999990001"); err != nil {
		t.Errorf("after one period: %v", err)
	}
	if _, ok := AsWait(p1.Take(ctx, "100", "5511999990001")); !ok {
		t.Error("two messages allowed within one period after the burst")
	}
	// Idle long enough, the whole burst is available again.
	clk.Advance(time.Duration(DefaultPairBurst+1) * DefaultPairPeriod)
	for i := 0; i < DefaultPairBurst; i++ {
		if err := p1.Take(ctx, "100", "5511999990001"); err != nil {
			t.Fatalf("burst after idling, message %d: %v", i+1, err)
		}
	}
}

func TestPairThrottled(t *testing.T) {
	api, table := stateTable(t)
	clk := newClock()
	p := &Pair{API: api, Table: table, Now: clk.Now}
	ctx := context.Background()
	if err := p.Throttled(ctx, "100", "5511"); err != nil {
		t.Fatal(err)
	}
	if _, ok := AsWait(p.Take(ctx, "100", "5511")); !ok {
		t.Error("allowed right after Meta's 131056")
	}
	clk.Advance(DefaultPairPeriod)
	if err := p.Take(ctx, "100", "5511"); err != nil {
		t.Errorf("one period after 131056: %v", err)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// countingAPI counts the calls made through it.
type countingAPI struct {
	API
	updates, gets atomic.Int64
}

func (c *countingAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.updates.Add(1)
	return c.API.UpdateItem(ctx, in, optFns...)
}

func (c *countingAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.gets.Add(1)
	return c.API.GetItem(ctx, in, optFns...)
}

// TestPairOneWritePerMessage checks that the write a message takes is the
// one its pair's state calls for: an idle pair and a busy pair this
// instance knows both cost one write; a pair made busy by another instance
// costs two on this one (idle is tried first), and one from then on.
func TestPairOneWritePerMessage(t *testing.T) {
	api, table := stateTable(t)
	clk := newClock()
	c1, c2 := &countingAPI{API: api}, &countingAPI{API: api}
	p1 := &Pair{API: c1, Table: table, Now: clk.Now}
	p2 := &Pair{API: c2, Table: table, Now: clk.Now}
	ctx := context.Background()
	take := func(p *Pair, c *countingAPI) int64 {
		t.Helper()
		before := c.updates.Load() + c.gets.Load()
		// A recipient no other test uses: the emulator's tables may be
		// shared by the tests of one binary.
		if err := p.Take(ctx, "100", "5511000000042"); err != nil {
			t.Fatal(err)
		}
		return c.updates.Load() + c.gets.Load() - before
	}
	tests := []struct {
		name    string
		p       *Pair
		c       *countingAPI
		advance time.Duration
		want    int64
	}{
		{"new pair", p1, c1, 0, 1},
		{"busy, known here", p1, c1, time.Second, 1},
		{"busy, unknown to the other instance", p2, c2, 0, 2},
		{"busy, now known there", p2, c2, 0, 1},
		{"idle again: the known tat has passed", p1, c1, time.Hour, 1},
		{"busy again, known here", p1, c1, 0, 1},
		{"busy, the other instance's hint has passed", p2, c2, 0, 2},
	}
	for _, tt := range tests {
		clk.Advance(tt.advance)
		if got := take(tt.p, tt.c); got != tt.want {
			t.Errorf("%s: %d calls, want %d", tt.name, got, tt.want)
		}
	}
}

// TestPairBooking books messages through the caller's transaction, as the
// sender does with its job claim: the write matches the pair's state when
// this instance knows it, is refused (nothing booked) when it does not or
// the burst is used up, and the limit holds across instances either way.
func TestPairBooking(t *testing.T) {
	api, table := stateTable(t)
	clk := newClock()
	c2 := &countingAPI{API: api}
	p1 := &Pair{API: api, Table: table, Now: clk.Now}
	p2 := &Pair{API: c2, Table: table, Now: clk.Now}
	ctx := context.Background()
	const to = "5511000000043"
	book := func(p *Pair) bool {
		t.Helper()
		b, err := p.Book("100", to)
		if err != nil {
			t.Fatal(err)
		}
		_, err = api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{b.Write}})
		if err == nil {
			p.Booked(b)
			return true
		}
		var tc *ddbtypes.TransactionCanceledException
		if !errors.As(err, &tc) {
			t.Fatal(err)
		}
		p.Refused(b)
		return false
	}
	if !book(p1) {
		t.Fatal("first booking of an idle pair refused")
	}
	for i := 2; i <= DefaultPairBurst; i++ {
		if !book(p1) {
			t.Fatalf("booking %d of the burst refused", i)
		}
	}
	if book(p1) {
		t.Fatal("booking beyond the burst accepted")
	}
	if _, ok := AsWait(p1.Take(ctx, "100", to)); !ok {
		t.Fatal("Take after the burst: want a wait")
	}
	// p2 never saw the pair: its booking assumes idle and is refused;
	// Take then tries the busy write first, which succeeds.
	clk.Advance(DefaultPairPeriod)
	if book(p2) {
		t.Fatal("a booking assuming an idle pair was accepted on a busy one")
	}
	before := c2.updates.Load()
	if err := p2.Take(ctx, "100", to); err != nil {
		t.Fatalf("one period later: %v", err)
	}
	if n := c2.updates.Load() - before; n != 1 {
		t.Errorf("Take after a refused idle booking made %d writes, want 1 (busy first)", n)
	}
}
