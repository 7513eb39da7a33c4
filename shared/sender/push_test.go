package sender

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/local/coresink"
	"github.com/tucanlink/wacloud/shared/bridge"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/fault"
)

// failingPush fails the nth push (counting from 1) as a core answering
// 503 would, and hands every other to the core.
type failingPush struct {
	CorePusher
	n     int64
	calls atomic.Int64
}

func (f *failingPush) Push(ctx context.Context, eventID, eventType string, body []byte) error {
	if f.calls.Add(1) == f.n {
		return fault.Retryable(errors.New("core answered 503"))
	}
	return f.CorePusher.Push(ctx, eventID, eventType, body)
}

// privateCore is a core stand-in of the test's own, and a client of it
// with the stack's core credentials.
func (e *env) privateCore(t *testing.T) (*coresink.Sink, CorePusher) {
	t.Helper()
	sink := newCoreSink()
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	client := bridge.CoreClient(func(k string) string {
		if k == "CORE_URL" {
			return srv.URL
		}
		return e.getenv(k)
	}, e.cfg)
	return sink, client
}

// TestResultsPushedToCore: a batch's results go straight to the core, a
// contact's in the order its jobs ran; what the core does not take (it
// fails, it is down, it is slower than PushWithin, it drops the
// connection after taking a result) goes on the core events queue in the
// same order, behind what was pushed. Every result reaches the core by
// one way or the other; none is lost.
func TestResultsPushedToCore(t *testing.T) {
	e := testEnv(t)
	type job struct {
		contact int
		invalid bool // rejected before Meta: reported at once
	}
	twoByTwo := []job{{0, false}, {1, false}, {0, false}, {1, false}}
	tests := []struct {
		name   string
		jobs   []job
		setup  func(sink *coresink.Sink, h *Handler)
		pushed int // results the core took directly; -1: any
		queued int // results on the core events queue; -1: any
	}{
		{"the core takes every result", twoByTwo, nil, 4, 0},
		{"the core fails the second push", []job{{0, false}, {0, false}, {0, false}},
			func(_ *coresink.Sink, h *Handler) { h.Core = &failingPush{CorePusher: h.Core, n: 2} }, 1, 2},
		{"the core is down", twoByTwo, func(s *coresink.Sink, _ *Handler) { s.Fail(503, 1000) }, 0, 4},
		{"the core is slower than PushWithin", twoByTwo,
			func(s *coresink.Sink, h *Handler) { s.SetLatency(time.Second); h.PushWithin = 50 * time.Millisecond }, 0, 4},
		{"the core takes a result and drops the connection", []job{{0, false}, {0, false}},
			func(s *coresink.Sink, _ *Handler) {
				if err := s.SetFault(coresink.Fault{Mode: coresink.FaultDrop, Count: 1}); err != nil {
					t.Fatal(err)
				}
			}, -1, -1},
		// The breaker: the contact's first two pushes are taken late, and
		// the batch leaves the third to the queue rather than wait.
		{"the core slower than the breaker's Slow", []job{{0, false}, {0, false}, {0, false}},
			func(s *coresink.Sink, h *Handler) {
				s.SetLatency(200 * time.Millisecond)
				h.Core = &CoreBreaker{Core: h.Core, Slow: 100 * time.Millisecond}
			}, 2, 1},
		{"a job rejected in the middle, the core taking every result", []job{{0, false}, {0, true}, {0, false}, {1, false}}, nil, 4, 0},
		{"a job rejected in the middle, the core down", []job{{0, false}, {0, true}, {0, false}, {1, false}},
			func(s *coresink.Sink, _ *Handler) { s.Fail(503, 1000) }, 0, 4},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink, client := e.privateCore(t)
			h := e.handler(t)
			h.Core = client
			pub := &countingPublisher{Publisher: h.Events}
			h.Events = pub
			if tt.setup != nil {
				tt.setup(sink, h)
			}
			contacts := []string{rcpt(t, fmt.Sprintf("+55119777701%d0", i)), rcpt(t, fmt.Sprintf("+55119777701%d1", i))}
			for _, to := range contacts {
				e.openWindow(t, to)
			}
			var recs []events.SQSMessage
			var ids []string
			order := map[string][]string{} // contact → job ids in the order they ran
			for n, j := range tt.jobs {
				id := jid(t, fmt.Sprintf("push-%d-%d", i, n))
				body := fmt.Sprintf("job %d", n)
				if j.invalid {
					body = "" // a text job without a body
				}
				recs = append(recs, record(t, textJob(id, contacts[j.contact], body), 1))
				ids = append(ids, id)
				order[contacts[j.contact][1:]] = append(order[contacts[j.contact][1:]], id)
			}
			if failed := handle(t, h, recs...); len(failed) != 0 {
				t.Fatalf("batch item failures %v", failed)
			}

			var pushed []event.Event
			for _, raw := range sink.Events() {
				var ev event.Event
				if err := json.Unmarshal(raw, &ev); err != nil {
					t.Fatal(err)
				}
				if ev.Outbound != nil && slices.Contains(ids, ev.Outbound.JobID) {
					pushed = append(pushed, ev)
				}
			}
			queued := e.coreEvents(t, ids...)
			if tt.pushed >= 0 && len(pushed) != tt.pushed {
				t.Errorf("%d results pushed to the core, want %d", len(pushed), tt.pushed)
			}
			if tt.queued >= 0 && len(queued) != tt.queued {
				t.Errorf("%d results on the core events queue, want %d", len(queued), tt.queued)
			}
			if tt.queued == 0 && pub.calls.Load() != 0 {
				t.Errorf("%d publishes, want none: the core took every result", pub.calls.Load())
			}
			// What the core ends up with: the pushed results, then the
			// bridge's (a repeat of a pushed one is dropped by its key).
			got := map[string][]string{}
			seen := map[string]bool{}
			for _, ev := range append(pushed, queued...) {
				if seen[ev.EventID] {
					continue
				}
				seen[ev.EventID] = true
				got[ev.Contact.WaID] = append(got[ev.Contact.WaID], ev.Outbound.JobID)
				wantType := event.TypeOutboundAccepted
				if tt.jobs[slices.Index(ids, ev.Outbound.JobID)].invalid {
					wantType = event.TypeOutboundFailed
				}
				if ev.Type != wantType {
					t.Errorf("job %s: %s, want %s", ev.Outbound.JobID, ev.Type, wantType)
				}
			}
			for to, want := range order {
				if fmt.Sprint(got[to]) != fmt.Sprint(want) {
					t.Errorf("contact %s's results reach the core as %v, want %v", to, got[to], want)
				}
			}
		})
	}
}

// TestResultsNotReportedAreRedelivered: when the core is down and the
// core events queue refuses the batch's results too, the jobs are batch
// item failures; their redelivery sends nothing again and pushes the
// results from the job records once the core is back.
func TestResultsNotReportedAreRedelivered(t *testing.T) {
	e := testEnv(t)
	sink, client := e.privateCore(t)
	h := e.handler(t)
	h.Core = client
	pub := &countingPublisher{Publisher: h.Events}
	pub.refuse.Store(1)
	h.Events = pub
	sink.Fail(503, 1000)
	to := rcpt(t, "+5511977770190")
	e.openWindow(t, to)
	ids := []string{jid(t, "unreported-1"), jid(t, "unreported-2")}
	recs := []events.SQSMessage{record(t, textJob(ids[0], to, "one"), 1), record(t, textJob(ids[1], to, "two"), 1)}
	if failed := handle(t, h, recs...); len(failed) != len(recs) {
		t.Fatalf("failures %v, want all %d records: their results reached neither the core nor the queue", failed, len(recs))
	}
	if len(sink.Events()) != 0 {
		t.Fatalf("the core took %d results while down", len(sink.Events()))
	}
	sent := len(e.simFor(to))
	if sent != 2 {
		t.Fatalf("Meta has %d messages, want 2", sent)
	}

	sink.Fail(0, 0)
	for i := range recs {
		recs[i].Attributes["ApproximateReceiveCount"] = "2"
	}
	if failed := handle(t, h, recs...); len(failed) != 0 {
		t.Fatal(failed)
	}
	if n := len(e.simFor(to)); n != sent {
		t.Errorf("the redelivery sent %d messages again", n-sent)
	}
	var got []string
	for _, raw := range sink.Events() {
		var ev event.Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Type+" "+ev.Outbound.JobID)
	}
	want := []string{event.TypeOutboundAccepted + " " + ids[0], event.TypeOutboundAccepted + " " + ids[1]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the core has %v, want %v", got, want)
	}
	if evs := e.coreEvents(t, ids...); len(evs) != 0 {
		t.Errorf("%d results on the core events queue, want none", len(evs))
	}
}

// TestPushedResultsKeepTheirJobsTrace: each result pushed at the batch's
// end carries the trace of its own job's record (X-Amzn-Trace-Id), as the
// bridge's push of a queued result does, not the batch's.
func TestPushedResultsKeepTheirJobsTrace(t *testing.T) {
	e := testEnv(t)
	sink, client := e.privateCore(t)
	h := e.handler(t)
	h.Core = client
	traces := []string{
		"Root=1-6751c0de-0000000000000000000000a1;Parent=00000000000000a1;Sampled=1",
		"Root=1-6751c0de-0000000000000000000000b2;Parent=00000000000000b2;Sampled=1",
	}
	var recs []events.SQSMessage
	var ids []string
	for i, tr := range traces {
		to := rcpt(t, fmt.Sprintf("+551197777020%d", i))
		e.openWindow(t, to)
		id := jid(t, fmt.Sprintf("trace-%d", i))
		rec := record(t, textJob(id, to, "traced"), 1)
		rec.Attributes["AWSTraceHeader"] = tr
		recs, ids = append(recs, rec), append(ids, id)
	}
	if failed := handle(t, h, recs...); len(failed) != 0 {
		t.Fatal(failed)
	}
	for i, id := range ids {
		evID := event.OutboundEventID(event.TypeOutboundAccepted, "demo", id)
		if got := sink.TraceOf(evID); got != traces[i] {
			t.Errorf("job %s's result reached the core with trace %q, want its job's %q", id, got, traces[i])
		}
	}
}

// TestBreakerLeavesResultsToTheQueue: once a push failed, the next
// batches of the instance do not try the core at all for the breaker's
// pause: their results go on the core events queue.
func TestBreakerLeavesResultsToTheQueue(t *testing.T) {
	e := testEnv(t)
	sink, client := e.privateCore(t)
	h := e.handler(t)
	h.Core = &CoreBreaker{Core: client, Pause: time.Hour}
	to := rcpt(t, "+5511977770210")
	e.openWindow(t, to)
	sink.Fail(503, 1)
	first, second := jid(t, "breaker-1"), jid(t, "breaker-2")
	if failed := handle(t, h, record(t, textJob(first, to, "one"), 1)); len(failed) != 0 {
		t.Fatal(failed)
	}
	if failed := handle(t, h, record(t, textJob(second, to, "two"), 1)); len(failed) != 0 {
		t.Fatal(failed)
	}
	if st := sink.Stats(); st.Requests != 1 || st.Accepted != 0 {
		t.Errorf("the core saw %d pushes (%d taken), want the one it failed", st.Requests, st.Accepted)
	}
	var got []string
	for _, ev := range e.coreEvents(t, first, second) {
		got = append(got, ev.Outbound.JobID)
	}
	if fmt.Sprint(got) != fmt.Sprint([]string{first, second}) {
		t.Errorf("results on the core events queue %v, want both jobs' in order", got)
	}
}

// TestResultsQueuedWhenTheDeadlineIsNear: a batch that ends with less
// than pushReserve left before its invocation's deadline does not wait
// for the core: its results go on the core events queue at once.
func TestResultsQueuedWhenTheDeadlineIsNear(t *testing.T) {
	e := testEnv(t)
	sink, client := e.privateCore(t)
	h := e.handler(t)
	h.Core = client
	// Let the jobs themselves run this close to the deadline.
	h.Consumer.Margin, h.SendBudget = time.Millisecond, time.Millisecond
	to := rcpt(t, "+5511977770220")
	e.openWindow(t, to)
	id := jid(t, "deadline-near")
	ctx, cancel := context.WithTimeout(context.Background(), pushReserve-time.Second)
	defer cancel()
	resp, err := h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{record(t, textJob(id, to, "late in the invocation"), 1)}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle: %v, failures %v", err, resp.BatchItemFailures)
	}
	if n := sink.Stats().Requests; n != 0 {
		t.Errorf("the core got %d pushes with %s left, want none", n, pushReserve-time.Second)
	}
	if evs := e.coreEvents(t, id); len(evs) != 1 || evs[0].Type != event.TypeOutboundAccepted {
		t.Errorf("results on the core events queue %+v, want the job's outbound.accepted", evs)
	}
}
