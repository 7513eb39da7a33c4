package campaign_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/msglimit"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/suppression"
)

// heldClaims holds the first n claims until all n are in flight at once,
// then lets them return one at a time, the last row's first, so the
// rows' checks end in the reverse of their order.
type heldClaims struct {
	next campaign.Recipients
	n    int

	mu      sync.Mutex
	arrived []int64 // rows of the held claims
	release map[int64]chan struct{}
	back    chan int64 // a held claim returned
	full    chan struct{}
}

func newHeldClaims(next campaign.Recipients, n int) *heldClaims {
	return &heldClaims{next: next, n: n, release: map[int64]chan struct{}{}, back: make(chan int64), full: make(chan struct{})}
}

func (h *heldClaims) Claim(ctx context.Context, tenantID, campaignID, recipient string, row int64) (bool, error) {
	h.mu.Lock()
	if len(h.arrived) >= h.n {
		h.mu.Unlock()
		return h.next.Claim(ctx, tenantID, campaignID, recipient, row)
	}
	h.arrived = append(h.arrived, row)
	mine := make(chan struct{})
	h.release[row] = mine
	if len(h.arrived) == h.n {
		close(h.full)
	}
	h.mu.Unlock()
	<-mine
	ok, err := h.next.Claim(ctx, tenantID, campaignID, recipient, row)
	h.back <- row
	return ok, err
}

// run lets the held claims go, last row first, once all n are in flight;
// it reports the rows held, or how many were in flight when the guard
// (a hang, not a measure) gave up.
func (h *heldClaims) run(guard time.Duration) ([]int64, error) {
	select {
	case <-h.full:
	case <-time.After(guard):
		h.mu.Lock()
		defer h.mu.Unlock()
		err := fmt.Errorf("%d claims in flight at once (rows %v), want %d", len(h.arrived), h.arrived, h.n)
		for _, ch := range h.release {
			close(ch)
		}
		h.n = len(h.arrived)
		go func() {
			for range h.n {
				<-h.back
			}
		}()
		return nil, err
	}
	h.mu.Lock()
	rows := append([]int64(nil), h.arrived...)
	h.mu.Unlock()
	sort.Slice(rows, func(i, j int) bool { return rows[i] > rows[j] })
	for _, r := range rows {
		close(h.release[r])
		<-h.back
	}
	return rows, nil
}

// publishLog records the jobs a runner queues, in the order it queues them.
type publishLog struct {
	next campaign.Publisher
	mu   sync.Mutex
	rows []int64
}

func (p *publishLog) Publish(ctx context.Context, url string, msgs ...queue.Message) error {
	for _, m := range msgs {
		var j outbound.Job
		if err := json.Unmarshal([]byte(m.Body), &j); err != nil {
			return err
		}
		n, _ := strconv.ParseInt(j.JobID[strings.LastIndex(j.JobID, "-")+1:], 10, 64)
		p.mu.Lock()
		p.rows = append(p.rows, n)
		p.mu.Unlock()
	}
	return p.next.Publish(ctx, url, msgs...)
}

func (p *publishLog) queued() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int64(nil), p.rows...)
}

// commitLog records each checkpoint a runner commits with the jobs it had
// queued by then.
type commitLog struct {
	campaign.Records
	jobs *publishLog
	mu   sync.Mutex
	at   []checkpoint
}

type checkpoint struct {
	from, row int64
	delta     campaign.Counts
	queued    []int64
}

func (c *commitLog) Commit(ctx context.Context, tenantID, id, owner string, from int64, p campaign.Progress, delta campaign.Counts, untilMs int64) (campaign.Record, error) {
	c.mu.Lock()
	c.at = append(c.at, checkpoint{from: from, row: p.Row, delta: delta, queued: c.jobs.queued()})
	c.mu.Unlock()
	return c.Records.Commit(ctx, tenantID, id, owner, from, p, delta, untilMs)
}

// TestRunnerChecksRowsConcurrently: a run has a window of rows' checks in
// flight at once (all its rows' recipient claims held until every one
// has arrived), and though their checks end last row first, it queues,
// counts and checkpoints the rows in row order; a recipient named twice
// in the window is claimed by its first row only once that row's checks
// are over, so the first row is sent and the second counted a duplicate.
func TestRunnerChecksRowsConcurrently(t *testing.T) {
	const window, rows = 8, 30
	ctx := context.Background()
	e := newEnv(t)
	e.r.Window = window
	e.r.Every = 50 * time.Millisecond // a checkpoint every few rows at 80/s
	held := newHeldClaims(e.r.Recipients, window-1)
	e.r.Recipients = held
	jobs := &publishLog{next: e.r.Jobs}
	e.r.Jobs = jobs
	commits := &commitLog{Records: e.r.Records, jobs: jobs}
	e.r.Records = commits

	var b strings.Builder
	b.WriteString("to,body.1,body.2,header.document\n")
	want := map[int64]expectRow{}
	for i := int64(1); i <= rows; i++ {
		to := fmt.Sprintf("+5511966%06d", i)
		if i == 6 {
			to = "+5511966000002" // row 2's recipient, in the same window
		}
		fmt.Fprintf(&b, "%s,Ana,%d,https://example.com/o.pdf\n", to, i)
		if i != 6 {
			want[i] = expectRow{to: to, body: "Ana|" + strconv.FormatInt(i, 10)}
		}
	}
	c := e.campaign(t, "tenants/demo/campaigns/window.csv", b.String())

	done := make(chan error, 1)
	go func() { done <- e.r.Run(ctx, campaign.Command{TenantID: "demo", CampaignID: c.ID}) }()
	heldRows, herr := held.run(30 * time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if herr != nil {
		t.Fatal(herr)
	}
	if got, want := fmt.Sprint(heldRows), "[8 7 5 4 3 2 1]"; got != want {
		t.Errorf("claims held (released in this order) for rows %s, want %s (row 6 waits for row 2)", got, want)
	}

	queued := jobs.queued()
	var wantOrder []int64
	for i := int64(1); i <= rows; i++ {
		if _, ok := want[i]; ok {
			wantOrder = append(wantOrder, i)
		}
	}
	if fmt.Sprint(queued) != fmt.Sprint(wantOrder) {
		t.Errorf("rows queued in the order %v, want %v", queued, wantOrder)
	}
	s := newSent()
	s.take(t, e)
	s.check(t, c, want)

	// Every checkpoint covers a prefix of rows: the rows it adds are
	// counted in it, and exactly the valid first rows up to it are queued.
	if len(commits.at) < 3 {
		t.Fatalf("%d checkpoints, want several", len(commits.at))
	}
	var total campaign.Counts
	for _, cp := range commits.at {
		if got := cp.delta.Rows; got != cp.row-cp.from {
			t.Errorf("checkpoint at row %d (from %d) counts %d rows, want %d", cp.row, cp.from, got, cp.row-cp.from)
		}
		var upTo []int64
		for _, n := range wantOrder {
			if n <= cp.row {
				upTo = append(upTo, n)
			}
		}
		if fmt.Sprint(cp.queued) != fmt.Sprint(upTo) {
			t.Errorf("at the checkpoint of row %d, rows %v queued, want %v", cp.row, cp.queued, upTo)
		}
		total.Rows += cp.delta.Rows
		total.Queued += cp.delta.Queued
		total.Duplicates += cp.delta.Duplicates
	}
	if total.Rows != rows || total.Queued != rows-1 || total.Duplicates != 1 {
		t.Errorf("checkpoints count %+v, want %d rows, %d queued, 1 duplicate", total, rows, rows-1)
	}
	got, err := e.store.Get(ctx, "demo", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != campaign.StateCompleted || got.Counts.Rows != rows || got.Counts.Queued != rows-1 || got.Counts.Duplicates != 1 {
		t.Errorf("campaign %s with %+v, want completed with %d rows, %d queued, 1 duplicate", got.State, got.Counts, rows, rows-1)
	}
}

// reserveLog records the recipients a runner reserves capacity for.
type reserveLog struct {
	campaign.Capacity
	mu   sync.Mutex
	seen []string
}

func (r *reserveLog) Reserve(ctx context.Context, portfolio, recipient string, now time.Time) (msglimit.Decision, error) {
	r.mu.Lock()
	r.seen = append(r.seen, recipient)
	r.mu.Unlock()
	return r.Capacity.Reserve(ctx, portfolio, recipient, now)
}

func (r *reserveLog) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.seen
	r.seen = nil
	return out
}

// TestRunnerLimitInsideWindow: the portfolio's limit refuses a row in the
// middle of a window whose later rows' checks already ran (recipients
// claimed, among them a recipient named twice after the refused row, an
// invalid row, a suppressed contact and a repeat of a recipient already
// sent). The run queues exactly the tier, commits the checkpoint before
// the refused row, and reserves nothing after it; once capacity frees,
// the next run decides those rows as one run would have: every valid
// first row queued once, the later of the pair a duplicate, the repeat a
// duplicate, the contact suppressed, counts exact.
func TestRunnerLimitInsideWindow(t *testing.T) {
	const tier = 50
	ctx := context.Background()
	e := newEnv(t)
	e.r.Window = 16
	limits := e.r.Capacity.(*msglimit.Store)
	reserves := &reserveLog{Capacity: limits}
	e.r.Capacity = reserves
	commits := &commitLog{Records: e.r.Records, jobs: &publishLog{next: e.r.Jobs}}
	e.r.Records = commits
	if _, err := limits.Apply(ctx, msglimit.Report{Portfolio: waba, Tier: msglimit.Tier50, At: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.r.Suppressions.(*suppression.Store).Add(ctx, suppression.Entry{TenantID: "demo", Contact: "5511955000056",
		Reason: suppression.ReasonAPI, At: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	// Rows 1-50 fill the tier; 51 is refused; in its window: 52 and 54
	// name one recipient, 53 is invalid, 55 repeats row 10's recipient,
	// 56 is suppressed.
	var b strings.Builder
	b.WriteString("to,body.1,body.2,header.document\n")
	want := map[int64]expectRow{}
	const rows = 70
	for i := int64(1); i <= rows; i++ {
		to := fmt.Sprintf("+5511955%06d", i)
		switch i {
		case 53:
			fmt.Fprintf(&b, "%s,Ana,%d\n", to, i) // no document
			continue
		case 54:
			to = "+5511955000052"
		case 55:
			to = "+5511955000010"
		}
		fmt.Fprintf(&b, "%s,Ana,%d,https://example.com/o.pdf\n", to, i)
		if i != 54 && i != 55 && i != 56 {
			want[i] = expectRow{to: to, body: "Ana|" + strconv.FormatInt(i, 10)}
		}
	}
	c := e.campaign(t, "tenants/demo/campaigns/limit-window.csv", b.String())
	cmd := campaign.Command{TenantID: "demo", CampaignID: c.ID}
	s := newSent()

	if err := e.r.Run(ctx, cmd); err != nil {
		t.Fatal(err)
	}
	s.take(t, e)
	got, err := e.store.Get(ctx, "demo", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != campaign.StateWaitingForCapacity || got.Counts.Rows != tier || got.Counts.Queued != tier || len(s.byID) != tier {
		t.Fatalf("%s with %+v and %d jobs, want waiting_for_capacity with %d rows queued", got.State, got.Counts, len(s.byID), tier)
	}
	if last := commits.at[len(commits.at)-1]; last.row != tier {
		t.Errorf("checkpoint at row %d, want %d (the row before the refused one)", last.row, tier)
	}
	// Reserved in row order, and nothing after the refused row.
	r1 := reserves.take()
	if n := len(r1); n != tier+1 || r1[n-1] != "5511955000051" {
		t.Errorf("%d reservations, the last %v, want %d ending with row 51's recipient", n, r1[max(n-1, 0):], tier+1)
	}
	if !sort.SliceIsSorted(r1, func(i, j int) bool { return r1[i] < r1[j] }) {
		t.Errorf("reservations out of row order: %v", r1)
	}

	// Capacity frees: Meta raises the tier.
	if _, err := limits.Apply(ctx, msglimit.Report{Portfolio: waba, Tier: msglimit.Tier1K, At: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(campaign.CapacityCheck)
	if err := e.r.Run(ctx, cmd); err != nil {
		t.Fatal(err)
	}
	s.take(t, e)
	s.check(t, c, want)
	got, err = e.store.Get(ctx, "demo", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := campaign.Counts{Rows: rows, Invalid: 1, Duplicates: 2, Suppressed: 1, Queued: int64(len(want))}
	if got.State != campaign.StateCompleted || got.Counts.Rows != wantCounts.Rows || got.Counts.Invalid != wantCounts.Invalid ||
		got.Counts.Duplicates != wantCounts.Duplicates || got.Counts.Suppressed != wantCounts.Suppressed || got.Counts.Queued != wantCounts.Queued {
		t.Errorf("%s with %+v, want completed with %+v", got.State, got.Counts, wantCounts)
	}
	for id, n := range s.copies {
		if n != 1 {
			t.Errorf("job %s queued %d times", id, n)
		}
	}
}
