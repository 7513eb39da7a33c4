package sender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/identity"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/suppression"
	"github.com/tucanlink/wacloud/shared/window"
)

// bodyRecorder counts DynamoDB operations and keeps BatchGetItem bodies.
type bodyRecorder struct {
	mu      sync.Mutex
	ops     map[string]int
	batches []string // BatchGetItem bodies
	gets    []string // GetItem bodies
}

func (b *bodyRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	op := r.Header.Get("X-Amz-Target")
	if i := strings.LastIndex(op, "."); i >= 0 {
		op = op[i+1:]
	}
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	b.mu.Lock()
	b.ops[op]++
	switch op {
	case "BatchGetItem":
		b.batches = append(b.batches, string(body))
	case "GetItem":
		b.gets = append(b.gets, string(body))
	}
	b.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (b *bodyRecorder) take() (ops map[string]int, batches, gets []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ops, batches, gets = b.ops, b.batches, b.gets
	b.ops, b.batches, b.gets = map[string]int{}, nil, nil
	return ops, batches, gets
}

// TestLookaheadReadsTheBatchOnce: a batch's identities and windows (with
// their other forms) come in one read of the state table and its template
// recipients' opt-outs in one read of the suppressions table, no job reads
// any of them itself, and each job still gets the answer its own read
// would have given: an open window sends, a closed one fails
// window_closed, a suppressed contact fails suppressed, a recipient named
// twice is asked for once, and a job naming another tenant's number is
// read nothing for.
func TestLookaheadReadsTheBatchOnce(t *testing.T) {
	e := testEnv(t)
	rec := &bodyRecorder{ops: map[string]int{}}
	cfg := e.cfg.Copy()
	cfg.HTTPClient = &http.Client{Transport: rec}
	h, err := Setup(context.Background(), e.getenv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Metrics.Out = io.Discard
	h.SendWithin = time.Second
	ctx := context.Background()

	open, closed := rcpt(t, "+5511900000601"), rcpt(t, "+5511900000602")
	suppressed, free := rcpt(t, "+5511900000603"), rcpt(t, "+5511900000604")
	foreign := rcpt(t, "+5511900000605")
	e.openWindow(t, open)
	list := &suppression.Store{API: e.ddb, Table: e.getenv("SUPPRESSIONS_TABLE")}
	if _, _, err := list.Add(ctx, suppression.Entry{TenantID: "demo", Contact: strings.TrimPrefix(suppressed, "+"), Reason: suppression.ReasonKeyword, Keyword: "STOP"}); err != nil {
		t.Fatal(err)
	}
	// Warm the tenant, number and secret caches with a job to nobody here.
	warm := rcpt(t, "+5511900000606")
	e.openWindow(t, warm)
	if failed := handle(t, h, record(t, textJob(jid(t, "look-warm"), warm, "x"), 1)); len(failed) != 0 {
		t.Fatal(failed)
	}
	_, _, _ = rec.take()

	const body = `[{"type":"body","parameters":[{"type":"text","text":"Ana"}]}]`
	mismatch := textJob(jid(t, "look-foreign"), foreign, "not yours")
	mismatch.PhoneNumberID = numberB // tenant "other"'s number
	jobs := []struct {
		job    outbound.Job
		reason string // "" when it must be accepted
	}{
		{textJob(jid(t, "look-open-1"), open, "one"), ""},
		{textJob(jid(t, "look-open-2"), open, "two"), ""},
		{textJob(jid(t, "look-closed"), closed, "too late"), event.ReasonWindowClosed},
		{templateJob(jid(t, "look-suppressed"), suppressed, "opt_out_probe", "en_US", body), event.ReasonSuppressed},
		{templateJob(jid(t, "look-free"), free, "opt_out_probe", "en_US", body), ""},
		{mismatch, event.ReasonTenantMismatch},
	}
	var recs []events.SQSMessage
	var ids []string
	for _, j := range jobs {
		recs = append(recs, record(t, j.job, 1))
		ids = append(ids, j.job.JobID)
	}
	if failed := handle(t, h, recs...); len(failed) != 0 {
		t.Fatalf("batch item failures %v", failed)
	}
	ops, batches, gets := rec.take()
	if ops["BatchGetItem"] != 2 {
		t.Errorf("BatchGetItem calls = %d, want 2: one per table (all: %v)", ops["BatchGetItem"], ops)
	}
	// No job read an identity, a window or a suppression entry itself
	// (the tenant registry, the template catalog and the portfolio's
	// messaging limit have caches of their own).
	for _, g := range gets {
		if strings.Contains(g, `"window#`) || strings.Contains(g, `"contact#`) || strings.Contains(g, "SuppressionsTable") {
			t.Errorf("a job read for itself what was read ahead: %s", g)
		}
	}
	all := strings.Join(batches, "\n")
	for _, who := range []string{open, closed, suppressed, free} {
		if !strings.Contains(all, strings.TrimPrefix(who, "+")) {
			t.Errorf("%s was not read ahead: %s", who, all)
		}
	}
	if strings.Contains(all, numberB) || strings.Contains(all, strings.TrimPrefix(foreign, "+")) {
		t.Errorf("a job naming another tenant's number was read ahead: %s", all)
	}
	if n := strings.Count(all, `"window#`+numberA+"#"+strings.TrimPrefix(open, "+")+`"`); n != 1 {
		t.Errorf("the recipient named twice was asked for %d times, want once: %s", n, all)
	}

	evs := e.coreEvents(t, ids...)
	got := map[string]event.Event{}
	for _, ev := range evs {
		got[ev.Outbound.JobID] = ev
	}
	for _, j := range jobs {
		ev, ok := got[j.job.JobID]
		switch {
		case !ok:
			t.Errorf("%s: no event", j.job.JobID)
		case j.reason == "" && ev.Type != event.TypeOutboundAccepted:
			t.Errorf("%s: %s %+v, want accepted", j.job.JobID, ev.Type, ev.Outbound)
		case j.reason != "" && (ev.Type != event.TypeOutboundFailed || ev.Outbound.Reason != j.reason):
			t.Errorf("%s: %s %+v, want failed %s", j.job.JobID, ev.Type, ev.Outbound, j.reason)
		}
	}
	if reasons := e.dlq(t, mismatch.JobID); len(reasons) != 1 {
		t.Errorf("dead-letter reasons of the job naming another tenant's number: %q", reasons)
	}
}

// batchFake is a state table for Lookahead's unit tests. It refuses
// duplicate keys and more than 100 keys as DynamoDB does, and can leave
// keys unprocessed or fail.
type batchFake struct {
	items       map[string]map[string]ddbtypes.AttributeValue // pk (pk#sk) → item
	unprocessed map[string]bool
	err         error
	calls       int
	keys        int
}

func (f *batchFake) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]ddbtypes.AttributeValue{},
		UnprocessedKeys: map[string]ddbtypes.KeysAndAttributes{}}
	for table, ka := range in.RequestItems {
		if len(ka.Keys) > maxBatchGet {
			return nil, errors.New("ValidationException: Too many items requested for the BatchGetItem call")
		}
		if !aws.ToBool(ka.ConsistentRead) {
			return nil, errors.New("test: the read ahead must be strongly consistent")
		}
		seen := map[string]bool{}
		for _, k := range ka.Keys {
			pk := itemID(k)
			if seen[pk] {
				return nil, errors.New("ValidationException: Provided list of item keys contains duplicates")
			}
			seen[pk] = true
			f.keys++
			switch {
			case f.unprocessed[pk]:
				u := out.UnprocessedKeys[table]
				u.Keys = append(u.Keys, k)
				out.UnprocessedKeys[table] = u
			case f.items[pk] != nil:
				out.Responses[table] = append(out.Responses[table], f.items[pk])
			}
		}
	}
	return out, nil
}

// countingWindows and countingIdentities count the reads jobs make.
type countingWindows struct {
	states map[string]window.State
	reads  int
}

func (c *countingWindows) Get(_ context.Context, number, waID string) (window.State, error) {
	c.reads++
	return c.states[number+"#"+waID], nil
}

func (c *countingWindows) Close(context.Context, string, string, time.Time) error { return nil }

type countingIdentities struct{ reads int }

func (c *countingIdentities) Get(context.Context, string, string, string) (identity.Mapping, bool, error) {
	c.reads++
	return identity.Mapping{}, false, nil
}

func (c *countingIdentities) Put(context.Context, string, string, string, string) error { return nil }

// TestLookaheadKeepsOnlyWhatItRead: a key DynamoDB left unprocessed, or a
// read that failed, caches nothing (those jobs read for themselves, and
// an absent item is never mistaken for one not read); a closed window is
// not cached; many recipients are read 100 keys at a time.
func TestLookaheadKeepsOnlyWhatItRead(t *testing.T) {
	now := time.Now()
	openAt := func(at time.Time) map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{"last_inbound_at": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(at.Unix())}}
	}
	windowItem := func(to string, at time.Time) map[string]ddbtypes.AttributeValue {
		item := openAt(at)
		item["pk"] = window.ItemKey(numberA, to)["pk"]
		return item
	}
	jobsTo := func(tos ...string) []outbound.Job {
		var jobs []outbound.Job
		for i, to := range tos {
			jobs = append(jobs, textJob(fmt.Sprintf("j%d", i), "+"+to, "hi"))
		}
		return jobs
	}
	many := make([]string, 120)
	for i := range many {
		many[i] = fmt.Sprintf("5511977%06d", i)
	}
	tests := []struct {
		name      string
		fake      batchFake
		tos       []string
		wantCalls int
		after     time.Duration // between the read ahead and the jobs' own
		// after Preread, reads each job makes: windows, identities
		wantWindowReads, wantIdentityReads int
		wantOpen                           bool // the first job's window
	}{
		{
			name: "open window and absent mapping: no read left",
			fake: batchFake{items: map[string]map[string]ddbtypes.AttributeValue{
				pkOf(window.ItemKey(numberA, "5511900000001")): windowItem("5511900000001", now.Add(-time.Hour))}},
			tos: []string{"5511900000001"}, wantCalls: 1, wantOpen: true,
		},
		{
			name: "the same recipient twice is asked for once",
			fake: batchFake{items: map[string]map[string]ddbtypes.AttributeValue{
				pkOf(window.ItemKey(numberA, "5511900000001")): windowItem("5511900000001", now.Add(-time.Hour))}},
			tos: []string{"5511900000001", "5511900000001"}, wantCalls: 1, wantOpen: true,
		},
		{
			name: "closed window read ahead is its job's answer",
			fake: batchFake{items: map[string]map[string]ddbtypes.AttributeValue{
				pkOf(window.ItemKey(numberA, "5511900000002")): windowItem("5511900000002", now.Add(-25*time.Hour))}},
			tos: []string{"5511900000002"}, wantCalls: 1,
		},
		{
			name: "closed window read ahead too long ago is read again",
			fake: batchFake{items: map[string]map[string]ddbtypes.AttributeValue{
				pkOf(window.ItemKey(numberA, "5511900000002")): windowItem("5511900000002", now.Add(-25*time.Hour))}},
			tos: []string{"5511900000002"}, after: DefaultLookaheadFresh, wantCalls: 1, wantWindowReads: 1,
		},
		{
			name: "unprocessed keys are read by their jobs",
			fake: batchFake{unprocessed: map[string]bool{
				pkOf(window.ItemKey(numberA, "5511900000003")):           true,
				pkOf(identity.ItemKey("demo", numberA, "5511900000003")): true}},
			tos: []string{"5511900000003"}, wantCalls: 1, wantWindowReads: 1, wantIdentityReads: 1,
		},
		{
			name: "a failed read leaves every job its own reads",
			fake: batchFake{err: errors.New("ProvisionedThroughputExceededException")},
			tos:  []string{"5511900000004", "5511900000005"}, wantCalls: 1, wantWindowReads: 2, wantIdentityReads: 2,
		},
		{
			name: "120 recipients, 360 keys with the numbers' other forms, in four reads",
			fake: batchFake{}, tos: many, wantCalls: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wins := &countingWindows{states: map[string]window.State{}}
			for pk, item := range tt.fake.items {
				wins.states[strings.TrimPrefix(pk, "window#")] = window.StateOf(item)
			}
			ids := &countingIdentities{}
			clock := &stepClock{now: now}
			wc, ic := &windowCache{Store: wins, Now: clock.Now}, &identityCache{Store: ids, Now: clock.Now}
			l := &Lookahead{API: &tt.fake, StateTable: "state", Identities: ic, Mappings: &identity.Store{}, Windows: wc, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			jobs := jobsTo(tt.tos...)
			l.Preread(context.Background(), jobs)
			if tt.fake.calls != tt.wantCalls {
				t.Errorf("BatchGetItem calls = %d, want %d", tt.fake.calls, tt.wantCalls)
			}
			_ = clock.Sleep(context.Background(), tt.after)
			for i, j := range jobs {
				to, _, err := ic.Resolve(context.Background(), j.TenantID, j.PhoneNumberID, j.RecipientID())
				if err != nil {
					t.Fatal(err)
				}
				open, err := wc.IsOpen(context.Background(), j.PhoneNumberID, to)
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 && open != tt.wantOpen {
					t.Errorf("window open = %v, want %v", open, tt.wantOpen)
				}
			}
			// A job's reads after Preread; a recipient named twice reads
			// once at most (the first job's read caches an open window).
			if wins.reads != tt.wantWindowReads || ids.reads != tt.wantIdentityReads {
				t.Errorf("jobs read %d windows and %d identities themselves, want %d and %d",
					wins.reads, ids.reads, tt.wantWindowReads, tt.wantIdentityReads)
			}
		})
	}
}

// TestSuppressionMemo: an answer read ahead is trusted for its freshness
// only; after that, and for a contact not read ahead, the list is asked.
func TestSuppressionMemo(t *testing.T) {
	clock := &stepClock{now: time.Now()}
	list := &countingList{on: map[string]bool{"demo#5511900000007": true}}
	m := &suppressionMemo{Store: list, Now: clock.Now}
	m.remember("demo", "5511900000007", false) // read ahead before the opt-out landed
	tests := []struct {
		name      string
		advance   time.Duration
		tenant    string
		contact   string
		want      bool
		wantReads int
	}{
		{"fresh answer read ahead", 0, "demo", "+5511900000007", false, 0},
		{"another tenant's contact is asked", 0, "other", "+5511900000007", false, 1},
		{"contact not read ahead is asked", 0, "demo", "5511900000008", false, 2},
		{"stale answer: the list is asked", DefaultLookaheadFresh, "demo", "5511900000007", true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = clock.Sleep(context.Background(), tt.advance)
			got, err := m.Suppressed(context.Background(), tt.tenant, tt.contact)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || list.reads != tt.wantReads {
				t.Errorf("Suppressed = %v after %d list reads, want %v after %d", got, list.reads, tt.want, tt.wantReads)
			}
		})
	}
}

type countingList struct {
	on    map[string]bool
	reads int
}

func (c *countingList) Suppressed(_ context.Context, tenantID, contact string) (bool, error) {
	c.reads++
	k, _ := suppression.Key(contact)
	return c.on[tenantID+"#"+k], nil
}

// TestLookaheadReadsSuppressionsEachBatch: a suppression answer read
// ahead serves its own batch only. The next batch reads again, so a
// contact taken off the list gets its template; a next batch whose read
// fails drops the earlier answer, so its job asks the list itself.
func TestLookaheadReadsSuppressionsEachBatch(t *testing.T) {
	const contact = "5511900000009"
	key, err := suppression.ItemKey("demo", contact)
	if err != nil {
		t.Fatal(err)
	}
	onList := func() map[string]map[string]ddbtypes.AttributeValue {
		return map[string]map[string]ddbtypes.AttributeValue{itemID(key): key}
	}
	fake := &batchFake{items: onList()}
	list := &countingList{on: map[string]bool{"demo#" + contact: true}}
	clock := &stepClock{now: time.Now()}
	memo := &suppressionMemo{Store: list, Now: clock.Now}
	l := &Lookahead{API: fake, SuppressionsTable: "suppressions", Suppressions: memo, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	job := templateJob("t1", "+"+contact, "opt_out_probe", "en_US", `[]`)
	steps := []struct {
		name      string
		change    func()
		want      bool
		wantReads int // the list's own reads so far
	}{
		{"on the list", func() {}, true, 0},
		{"taken off the list: the next batch reads again", func() { fake.items = nil; list.on = map[string]bool{} }, false, 0},
		{"put back, the next batch's read fails: the job asks the list", func() {
			fake.items, fake.err = onList(), errors.New("InternalServerError")
			list.on = map[string]bool{"demo#" + contact: true}
		}, true, 1},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.change()
			l.Preread(context.Background(), []outbound.Job{job})
			got, err := memo.Suppressed(context.Background(), "demo", job.To)
			if err != nil {
				t.Fatal(err)
			}
			if got != st.want || list.reads != st.wantReads {
				t.Errorf("suppressed %v after %d list reads, want %v after %d", got, list.reads, st.want, st.wantReads)
			}
		})
	}
}
