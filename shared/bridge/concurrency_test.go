package bridge_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tucanlink/wacloud/shared/bridge"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/queue"
)

// contactEvents builds, for each group spec "A:3" (contact A, three
// statuses of one outbound message), that contact's events, interleaved
// across contacts in the order the status function produces them. names
// maps each event id to "A1", "A2", ...
func contactEvents(specs ...string) (evs []event.Event, names map[string]string) {
	names = map[string]string{}
	type spec struct {
		group string
		n     int
	}
	var ss []spec
	longest := 0
	for _, s := range specs {
		g, n, _ := strings.Cut(s, ":")
		sp := spec{group: g}
		fmt.Sscan(n, &sp.n)
		ss = append(ss, sp)
		longest = max(longest, sp.n)
	}
	statuses := []string{event.TypeOutboundAccepted, event.TypeStatusUpdated, event.TypeStatusUpdated, event.TypeStatusUpdated}
	for i := 1; i <= longest; i++ {
		for k, sp := range ss {
			if i > sp.n {
				continue
			}
			name := fmt.Sprintf("%s%d", sp.group, i)
			ev := event.Event{SchemaVersion: event.SchemaVersion, EventID: event.ID("concurrency", name),
				Type: statuses[(i-1)%len(statuses)], TenantID: "acme", PhoneNumberID: "111",
				OccurredAt: "2026-01-02T03:04:05Z", Contact: &event.Contact{WaID: fmt.Sprintf("55119990000%02d", k)}}
			names[ev.EventID] = name
			evs = append(evs, ev)
		}
	}
	return evs, names
}

// drain runs the bridge over the core events queue like the event source
// mapping, with retries made visible at once, until the queue is empty.
func (e *env) drain(h *bridge.Handler, rounds int) {
	e.t.Helper()
	// No clock: a zero visibility timeout makes a retried record visible
	// again at once.
	h.Consumer.Backoff = func(int) time.Duration { return time.Nanosecond }
	for range rounds {
		// pump stops at a batch with failures; without any, the queue
		// is empty.
		if e.pump(e.url("CORE_EVENTS_QUEUE_URL"), h.Handle) == 0 {
			return
		}
	}
	e.t.Fatalf("core events queue not empty after %d rounds", rounds)
}

// pushLog is, per contact, what the core was sent in order ("!" failed).
func (c *coreSink) pushLog() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]string{}
	for g, names := range c.log {
		out[g[strings.LastIndexByte(g, ':')+1:]] = strings.Join(names, ",")
	}
	return out
}

// The FIFO groups of a batch are pushed at once, each in order; a group
// that fails stops there while the others go on, and when it is retried
// only what failed is pushed again.
func TestBridgeGroupsConcurrently(t *testing.T) {
	tests := []struct {
		name     string
		groups   []string
		fail     map[string]int // event name → pushes answered 500
		together int            // pushes that must be in flight at once
		// want: per contact (by index), the pushes the core saw in order.
		want map[string]string
		// wantPushes: pushes per event, when not 1.
		wantPushes map[string]int
	}{
		{
			name: "groups at once, each in order", groups: []string{"A:3", "B:3", "C:2", "D:2"}, together: 4,
			want: map[string]string{"5511999000000": "A1,A2,A3", "5511999000001": "B1,B2,B3", "5511999000002": "C1,C2", "5511999000003": "D1,D2"},
		},
		{
			name: "a failing group stops, the others go on", groups: []string{"A:4", "B:3", "C:3"}, together: 3,
			fail:       map[string]int{"A2": 1},
			want:       map[string]string{"5511999000000": "A1,A2!,A2,A3,A4", "5511999000001": "B1,B2,B3", "5511999000002": "C1,C2,C3"},
			wantPushes: map[string]int{"A2": 2},
		},
		{
			name: "two groups fail, each resumes from its own failure", groups: []string{"A:3", "B:3", "C:2"}, together: 3,
			fail:       map[string]int{"A1": 2, "C2": 1},
			want:       map[string]string{"5511999000000": "A1!,A1!,A1,A2,A3", "5511999000001": "B1,B2,B3", "5511999000002": "C1,C2!,C2"},
			wantPushes: map[string]int{"A1": 3, "C2": 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			evs, names := contactEvents(tt.groups...)
			e.sink.name = func(id string) string { return names[id] }
			e.sink.fail = map[string]int{}
			for id, n := range names {
				if f := tt.fail[n]; f > 0 {
					e.sink.fail[id] = f
				}
			}
			e.sink.together = newBarrier(tt.together)
			e.publishEvents(evs...)
			h, _ := e.bridge()
			e.drain(h, 10)

			if got, want := e.sink.pushLog(), tt.want; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("pushes per contact:\n got %v\nwant %v", got, want)
			}
			if len(e.sink.overlap) > 0 {
				t.Errorf("two pushes of one contact were in flight at once: %v", e.sink.overlap)
			}
			if e.sink.maxInFlight < tt.together {
				t.Errorf("most pushes in flight at once = %d, want ≥ %d", e.sink.maxInFlight, tt.together)
			}
			for id, n := range names {
				want := 1
				if w, ok := tt.wantPushes[n]; ok {
					want = w
				}
				if got := e.sink.pushes[id]; got != want {
					t.Errorf("%s pushed %d times, want %d", n, got, want)
				}
			}
			if got, want := len(e.sink.events), len(evs); got != want {
				t.Errorf("core accepted %d events, want %d", got, want)
			}
			if dl := e.receive(e.url("CORE_EVENTS_DLQ_URL")); len(dl) != 0 {
				t.Errorf("dead-lettered %d events, want none", len(dl))
			}
		})
	}
}

// An event the core keeps failing while it accepts others is parked in the
// dead-letter queue after ParkAfter receives, and its contact's later
// events go on; in an outage (the core accepts nothing) nothing is parked.
func TestBridgeParksPoisonEvent(t *testing.T) {
	const parkAfter = 3
	tests := []struct {
		name   string
		fail   map[string]int // event name → pushes answered 500 (-1: all)
		outage int            // rounds with every push failing, first
		rounds int
		// want: pushes per contact, in order; wantParked: event names in
		// the dead-letter queue.
		want       map[string]string
		wantParked []string
	}{
		{
			name: "poison event parked, its contact goes on",
			fail: map[string]int{"A1": -1},
			// Receives 1 and 2 fail; the third fails, and so does the
			// confirming push: parked.
			want:       map[string]string{"5511999000000": "A1!,A1!,A1!,A1!,A2,A3", "5511999000001": "B1,B2"},
			wantParked: []string{"A1"},
		},
		{
			name: "a failure confirmed as a blip is not parked",
			fail: map[string]int{"A1": parkAfter},
			want: map[string]string{"5511999000000": "A1!,A1!,A1!,A1,A2,A3", "5511999000001": "B1,B2"},
		},
		{
			name:   "nothing parked while the core accepts nothing",
			outage: parkAfter + 3,
			want: map[string]string{
				"5511999000000": strings.Repeat("A1!,", parkAfter+3) + "A1,A2,A3",
				"5511999000001": strings.Repeat("B1!,", parkAfter+3) + "B1,B2",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			evs, names := contactEvents("A:3", "B:2")
			ids := map[string]string{}
			for id, n := range names {
				ids[n] = id
			}
			e.sink.name = func(id string) string { return names[id] }
			e.sink.fail = map[string]int{}
			for n, f := range tt.fail {
				e.sink.fail[ids[n]] = f
			}
			e.publishEvents(evs...)
			h, _ := e.bridge()
			h.ParkAfter = parkAfter
			h.Consumer.Backoff = func(int) time.Duration { return time.Nanosecond }
			// A stopped clock: an event the core accepted counts as accepted
			// during the (nanosecond) retry delay of every later receive.
			stopped := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			h.Now = func() time.Time { return stopped }
			if tt.outage > 0 {
				e.sink.status = 503
				for range tt.outage {
					e.pump(e.url("CORE_EVENTS_QUEUE_URL"), h.Handle)
				}
				if dl := e.receive(e.url("CORE_EVENTS_DLQ_URL")); len(dl) != 0 {
					t.Fatalf("dead-lettered %d events during an outage, want none", len(dl))
				}
				e.sink.status = 200
			}
			e.drain(h, 10)

			if got, want := e.sink.pushLog(), tt.want; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("pushes per contact:\n got %v\nwant %v", got, want)
			}
			dl := e.receive(e.url("CORE_EVENTS_DLQ_URL"))
			var parked []string
			for _, m := range dl {
				id := ""
				for k, n := range names {
					if strings.Contains(aws.ToString(m.Body), k) {
						id = n
					}
				}
				parked = append(parked, id)
				if got := aws.ToString(m.MessageAttributes["wacloud-failure-code"].StringValue); got != bridge.CodeParked {
					t.Errorf("parked %s: failure code %q, want %q", id, got, bridge.CodeParked)
				}
				reason := aws.ToString(m.MessageAttributes[queue.ReasonAttribute].StringValue)
				if !strings.Contains(reason, "core answered 500") || !strings.Contains(reason, "parked after 3 receives") {
					t.Errorf("parked %s: reason %q, want the core's answer and the receive count", id, reason)
				}
			}
			if got, want := strings.Join(parked, ","), strings.Join(tt.wantParked, ","); got != want {
				t.Errorf("parked %q, want %q", got, want)
			}
		})
	}
}
