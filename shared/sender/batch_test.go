package sender

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/throttle"
)

// countingPublisher counts Publish calls and can refuse the first ones.
type countingPublisher struct {
	Publisher
	calls  atomic.Int64
	refuse atomic.Int64 // calls left to refuse
}

func (p *countingPublisher) Publish(ctx context.Context, url string, msgs ...queue.Message) error {
	p.calls.Add(1)
	if p.refuse.Add(-1) >= 0 {
		return errors.New("simulated SQS outage")
	}
	return p.Publisher.Publish(ctx, url, msgs...)
}

// TestBatchResultsPublishedTogether: without a core to push to, a
// batch's results leave in one publish, each recipient's in the order its
// jobs ran.
func TestBatchResultsPublishedTogether(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	h.Core = nil
	pub := &countingPublisher{Publisher: h.Events}
	h.Events = pub
	toA, toB := "+5511977770030", "+5511977770031"
	e.openWindow(t, toA)
	e.openWindow(t, toB)
	ids := []string{"batch-a1", "batch-b1", "batch-a2", "batch-b2"}
	tos := map[string]string{"batch-a1": toA, "batch-a2": toA, "batch-b1": toB, "batch-b2": toB}
	var recs []events.SQSMessage
	for _, id := range ids {
		recs = append(recs, record(t, textJob(id, tos[id], id), 1))
	}
	if failed := handle(t, h, recs...); len(failed) != 0 {
		t.Fatal(failed)
	}
	if got := pub.calls.Load(); got != 1 {
		t.Errorf("publish calls = %d, want 1 for the batch", got)
	}
	evs := e.coreEvents(t, ids...)
	if len(evs) != len(ids) {
		t.Fatalf("got %d events, want %d", len(evs), len(ids))
	}
	var gotA, gotB []string
	for _, ev := range evs {
		if ev.Type != event.TypeOutboundAccepted || ev.Outbound.MessageID == "" {
			t.Errorf("event %+v", ev)
		}
		if ev.Contact.WaID == toA[1:] {
			gotA = append(gotA, ev.Outbound.JobID)
		} else {
			gotB = append(gotB, ev.Outbound.JobID)
		}
	}
	if len(gotA) != 2 || gotA[0] != "batch-a1" || len(gotB) != 2 || gotB[0] != "batch-b1" {
		t.Errorf("events per recipient A %v, B %v; want each in job order", gotA, gotB)
	}
}

// TestBatchPublishFailureRedelivers: when the batch's results cannot be
// published, its jobs are reported as failures (already sent, nothing is
// lost); their redelivery publishes the results from the job records and
// sends nothing again.
func TestBatchPublishFailureRedelivers(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	h.Core = nil // the queue is the only way to the core
	pub := &countingPublisher{Publisher: h.Events}
	pub.refuse.Store(1)
	h.Events = pub
	toA, toB := "+5511977770032", "+5511977770033"
	e.openWindow(t, toA)
	e.openWindow(t, toB)
	recs := []events.SQSMessage{
		record(t, textJob("outage-a1", toA, "a1"), 1),
		record(t, textJob("outage-b1", toB, "b1"), 1),
		record(t, textJob("outage-a2", toA, "a2"), 1),
	}
	failed := handle(t, h, recs...)
	if len(failed) != len(recs) {
		t.Fatalf("failures %v, want all %d records (their results were not published)", failed, len(recs))
	}
	if evs := e.coreEvents(t, "outage-a1", "outage-b1", "outage-a2"); len(evs) != 0 {
		t.Fatalf("events published despite the outage: %+v", evs)
	}
	wamids := map[string]string{}
	for _, to := range []string{toA, toB} {
		for _, a := range e.simFor(to) {
			wamids[string(a.Body)] = a.WAMID
		}
	}
	if len(wamids) != 3 {
		t.Fatalf("simulator accepted %d messages, want 3", len(wamids))
	}

	before := e.sends.Load()
	for i := range recs {
		recs[i].Attributes["ApproximateReceiveCount"] = "2"
	}
	other := e.handler(t) // the redelivery may reach another instance
	other.Core = nil
	if failed := handle(t, other, recs...); len(failed) != 0 {
		t.Fatal(failed)
	}
	if n := e.sends.Load() - before; n != 0 {
		t.Errorf("redelivery sent %d messages again", n)
	}
	evs := e.coreEvents(t, "outage-a1", "outage-b1", "outage-a2")
	if len(evs) != 3 {
		t.Fatalf("got %d events after redelivery, want 3", len(evs))
	}
	known := map[string]bool{}
	for _, w := range wamids {
		known[w] = true
	}
	for _, ev := range evs {
		if ev.Type != event.TypeOutboundAccepted || !known[ev.Outbound.MessageID] {
			t.Errorf("event %s %s wamid %s, want accepted with the simulator's wamid", ev.Outbound.JobID, ev.Type, ev.Outbound.MessageID)
		}
	}
}

// windowClosedAnswer answers a send with a synchronous 131047. Meta (and
// the simulator) report 131047 in a failed status instead; the sender
// still handles the answer should Meta ever give it.
type windowClosedAnswer struct{ Graph }

func (windowClosedAnswer) SendMessage(context.Context, string, string, any) (graph.SendResult, error) {
	return graph.SendResult{}, &graph.Error{Op: "send message", HTTPStatus: http.StatusBadRequest, Code: 131047, Message: "Re-engagement message"}
}

// TestWindowClosedByMeta: a window this instance trusts as open is
// dropped when Meta answers 131047, so the next free-form job is refused
// before any Graph call.
func TestWindowClosedByMeta(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	to := "+5511977770034"
	e.openWindow(t, to)
	if failed := handle(t, h, record(t, textJob("closed-1", to, "x"), 1)); len(failed) != 0 {
		t.Fatal(failed)
	}
	real := h.Graph
	h.Graph = windowClosedAnswer{real}
	if failed := handle(t, h, record(t, textJob("closed-2", to, "x"), 1)); len(failed) != 0 {
		t.Fatal(failed)
	}
	h.Graph = real
	before := e.sends.Load()
	if failed := handle(t, h, record(t, textJob("closed-3", to, "x"), 1)); len(failed) != 0 {
		t.Fatal(failed)
	}
	if n := e.sends.Load() - before; n != 0 {
		t.Errorf("%d Graph calls after Meta closed the window", n)
	}
	for id, want := range map[string]string{"closed-1": "", "closed-2": event.ReasonGraphError, "closed-3": event.ReasonWindowClosed} {
		evs := e.coreEvents(t, id)
		if len(evs) != 1 {
			t.Fatalf("%s: %d events", id, len(evs))
		}
		got := ""
		if evs[0].Type == event.TypeOutboundFailed {
			got = evs[0].Outbound.Reason
		}
		if got != want {
			t.Errorf("%s: reason %q, want %q", id, got, want)
		}
	}
}

// opCounter counts AWS calls by operation.
type opCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *opCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	op := r.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(op, '.'); i >= 0 {
		op = op[i+1:]
	}
	c.mu.Lock()
	c.n[op]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *opCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

// TestCallsPerMessage pins the AWS calls of the hot path: per message, one
// transaction claiming the job and booking the recipient's pair limit, one
// recording the send with its message record; the batch's identities and
// windows in one read ahead; number schedule leases; the batch's results
// pushed to the core, with no queue call.
func TestCallsPerMessage(t *testing.T) {
	e := testEnv(t)
	counter := &opCounter{n: map[string]int{}}
	cfg := e.cfg.Copy()
	cfg.HTTPClient = &http.Client{Transport: counter}
	h, err := Setup(context.Background(), e.getenv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Metrics.Out = io.Discard
	// A missed slot or a slow push would add calls that are not the hot
	// path's (TestSendLeavesOnItsSlot and TestCoreBreaker count those).
	notTimed(h)
	// Warm the tenant, number and secret caches.
	e.openWindow(t, "+5511977770050")
	run := fmt.Sprint(recSeq.Add(1)) // job ids unique per run (go test -count)
	if failed := handle(t, h, record(t, textJob("calls-warm-"+run, "+5511977770050", "x"), 1)); len(failed) != 0 {
		t.Fatal(failed)
	}
	counter.take()

	// Recipients new to this run, so their pair limits start idle.
	n := 100 + 2*(recSeq.Add(1)%40000)
	toA, toB := fmt.Sprintf("+55119777%05d", n), fmt.Sprintf("+55119777%05d", n+1)
	e.openWindow(t, toA)
	e.openWindow(t, toB)
	var recs []events.SQSMessage
	for _, id := range []string{"calls-a1", "calls-b1", "calls-a2", "calls-b2"} {
		to := toA
		if strings.Contains(id, "-b") {
			to = toB
		}
		recs = append(recs, record(t, textJob(id+"-"+run, to, id), 1))
	}
	lim := h.Numbers.(*throttle.Limiter)
	// The limiter's time moves only when it waits, so a slow AWS
	// implementation (moto answers in milliseconds, not microseconds)
	// cannot make sends miss their prefetched slots and lease again: the
	// counts below are the code's, not the machine's.
	clock := &stepClock{now: time.Now()}
	lim.Now, lim.Sleep = clock.Now, clock.Sleep
	// Nor can a slow claim make a send give its slot up and claim again
	// (TestSendLeavesOnItsSlot counts that).
	h.SendWithin = time.Hour
	before := lim.Stats(numberA)
	if failed := handle(t, h, recs...); len(failed) != 0 {
		t.Fatal(failed)
	}
	// The batch booked its four sends as one block up front.
	if s := lim.Stats(numberA); s.Prefetches-before.Prefetches != 1 || s.Slots-before.Slots < 4 {
		t.Errorf("limiter %+v after %+v: want one prefetch of the batch's 4 sends", s, before)
	}
	got := counter.take()
	// Both recipients' identities and windows in one read ahead.
	want := map[string]int{"TransactWriteItems": 8, "BatchGetItem": 1, "GetItem": 0, "SendMessageBatch": 0}
	for op, n := range want {
		if got[op] != n {
			t.Errorf("%s calls = %d, want %d (all: %v)", op, got[op], n, got)
		}
	}
	if n := got["UpdateItem"]; n < 1 || n > 4 {
		t.Errorf("UpdateItem calls (schedule leases) = %d, want 1 to 4: the prefetched block, and a lease for a send that came after its slot had passed (all: %v)", n, got)
	}
	for _, op := range []string{"PutItem", "DeleteItem", "GetSecretValue", "Query"} {
		if got[op] != 0 {
			t.Errorf("%s calls = %d, want none (all: %v)", op, got[op], got)
		}
	}
	if evs := e.coreEvents(t, "calls-warm-"+run, "calls-a1-"+run, "calls-b1-"+run, "calls-a2-"+run, "calls-b2-"+run); len(evs) != 5 {
		t.Errorf("%d results at the core, want 5: %+v", len(evs), evs)
	}
}

// stepClock is a clock that advances only by what its Sleep is asked to
// wait. It is safe for concurrent use.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return nil
}

// TestRejectedJobKeepsContactOrder: a job rejected in the middle of a
// contact's jobs is reported at once (it is dead-lettered, with no record
// to report it from later), but not before the results of that contact's
// earlier jobs of the batch: the core sees them in the order they ran.
func TestRejectedJobKeepsContactOrder(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	to, other := rcpt(t, "+5511977770040"), rcpt(t, "+5511977770041")
	e.openWindow(t, to)
	e.openWindow(t, other)
	first, bad, last, unrelated := jid(t, "order-1"), jid(t, "order-2-invalid"), jid(t, "order-3"), jid(t, "order-other")
	invalid := textJob(bad, to, "")
	recs := []events.SQSMessage{
		record(t, textJob(first, to, "first"), 1),
		record(t, textJob(unrelated, other, "another contact"), 1),
		record(t, invalid, 1),
		record(t, textJob(last, to, "third"), 1),
	}
	if failed := handle(t, h, recs...); len(failed) != 0 {
		t.Fatal(failed)
	}
	if got := e.dlq(t, bad); len(got) != 1 {
		t.Errorf("dead-lettered %d copies of the invalid job, want 1", len(got))
	}
	var got []string
	for _, ev := range e.coreEvents(t, first, bad, last, unrelated) {
		if ev.Contact != nil && ev.Contact.WaID == to[1:] {
			got = append(got, ev.Type+" "+ev.Outbound.JobID)
		}
	}
	want := []string{event.TypeOutboundAccepted + " " + first, event.TypeOutboundFailed + " " + bad, event.TypeOutboundAccepted + " " + last}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the contact's events reached the core as\n%v\nwant\n%v", got, want)
	}
}

// TestRejectedJobReportFailing: when the rejected job's immediate report
// cannot be published, the contact's earlier results wait for the batch's
// end again, the rejected job and the contact's later ones are retried,
// and the core still sees the contact's results in order.
func TestRejectedJobReportFailing(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	h.Core = nil // the queue is the only way to the core
	pub := &countingPublisher{Publisher: h.Events}
	pub.refuse.Store(1)
	h.Events = pub
	to := rcpt(t, "+5511977770042")
	e.openWindow(t, to)
	first, bad, last := jid(t, "order-fail-1"), jid(t, "order-fail-2-invalid"), jid(t, "order-fail-3")
	recBad, recLast := record(t, textJob(bad, to, ""), 1), record(t, textJob(last, to, "third"), 1)
	failed := handle(t, h, record(t, textJob(first, to, "first"), 1), recBad, recLast)
	if want := []string{recBad.MessageId, recLast.MessageId}; fmt.Sprint(failed) != fmt.Sprint(want) {
		t.Fatalf("failed records %v, want %v (the rejected job and the one behind it)", failed, want)
	}
	if got := e.dlq(t, bad); len(got) != 0 {
		t.Errorf("the unreported rejected job was dead-lettered: %v", got)
	}
	recBad.Attributes["ApproximateReceiveCount"], recLast.Attributes["ApproximateReceiveCount"] = "2", "2"
	if failed := handle(t, h, recBad, recLast); len(failed) != 0 {
		t.Fatal(failed)
	}
	if got := e.dlq(t, bad); len(got) != 1 {
		t.Errorf("dead-lettered %d copies of the invalid job, want 1", len(got))
	}
	var got []string
	for _, ev := range e.coreEvents(t, first, bad, last) {
		got = append(got, ev.Type+" "+ev.Outbound.JobID)
	}
	want := []string{event.TypeOutboundAccepted + " " + first, event.TypeOutboundFailed + " " + bad, event.TypeOutboundAccepted + " " + last}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the contact's events reached the core as\n%v\nwant\n%v", got, want)
	}
}
