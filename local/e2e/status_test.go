package e2e

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/window"
)

// statusRank is the order states advance in (shared/delivery's ranks).
var statusRank = map[string]int{"accepted": 0, "sent": 10, "delivered": 20, "failed": 30, "read": 40, "played": 50, "deleted": 60}

// setStatuses switches the simulator's status webhooks through its HTTP
// endpoint (as a user of make local would) and restores the default when
// the test ends.
func setStatuses(t *testing.T, h *connector.Handle, cfg string) {
	t.Helper()
	postJSON(t, h.GraphURL+"/_sim/statuses/config", cfg)
	t.Cleanup(func() {
		if err := h.Sim.SetStatusConfig(graphsim.StatusConfig{}); err != nil {
			t.Error(err)
		}
	})
}

// messageStatuses returns the message.status events of wamid, in arrival order.
func messageStatuses(evs []event.Event, wamid string) []event.Event {
	var out []event.Event
	for _, e := range evs {
		if e.Type == event.TypeStatusUpdated && e.Status != nil && e.Status.MessageID == wamid {
			out = append(out, e)
		}
	}
	return out
}

// awaitStatus waits until wamid's status events include current and
// returns the contact's events (results and statuses) in arrival order.
func awaitStatus(t *testing.T, h *connector.Handle, contact, wamid, current string) []event.Event {
	t.Helper()
	var evs []event.Event
	eventually(t, "the "+current+" status of "+wamid+" at the core sink", time.Minute, func() bool {
		evs = ofContact(coreEvents(t, h, ""), contact)
		return slices.ContainsFunc(messageStatuses(evs, wamid), func(e event.Event) bool { return e.Status.Current == current })
	})
	return evs
}

// checkStatusChain checks what the core saw of one sent job: its
// outbound.accepted first, then status events that only advance (each
// previous is the state before, first previous accepted), ending in last,
// and late events for states Meta reported after a higher one (current
// unchanged, the reported state below it, with its time); every one naming
// the job, none external, no event twice, no state reported twice. It
// returns the states that became current, in order, and every state
// reported (advanced or late), in arrival order.
func checkStatusChain(t *testing.T, evs []event.Event, j jobRef, last string) (states, reported []string) {
	t.Helper()
	seen := map[string]bool{}
	prev := ""
	for _, e := range evs {
		if seen[e.EventID] {
			t.Errorf("event %s (%s) reached the core twice", e.EventID, e.Type)
		}
		seen[e.EventID] = true
		switch {
		case e.Outbound != nil && e.Outbound.JobID == j.jobID:
			if prev != "" {
				t.Errorf("outbound.accepted arrived after the %s status", prev)
			}
			if e.Type != event.TypeOutboundAccepted {
				t.Errorf("job result %s, want %s", e.Type, event.TypeOutboundAccepted)
			}
			prev = "accepted"
		case e.Status != nil && e.Status.MessageID == j.wamid:
			s := e.Status
			if prev == "" {
				t.Errorf("the %s status arrived before outbound.accepted", s.Current)
				prev = "accepted"
			}
			if slices.Contains(reported, s.Reported) {
				t.Errorf("state %s reported twice", s.Reported)
			}
			reported = append(reported, s.Reported)
			if s.Late {
				if s.Current != prev || s.Previous != "" || statusRank[s.Reported] >= statusRank[s.Current] ||
					s.At == "" || s.At != s.Timestamps[s.Reported] || s.JobID != j.jobID {
					t.Errorf("late %s: current %s (was %s), previous %q, at %q, timestamps %v, job %q", s.Reported, s.Current, prev, s.Previous, s.At, s.Timestamps, s.JobID)
				}
				continue
			}
			if s.Reported != s.Current {
				t.Errorf("advance to %s reports %s", s.Current, s.Reported)
			}
			if s.Previous != prev || statusRank[s.Current] <= statusRank[prev] {
				t.Errorf("status %s → %s after %s: states must only advance, each from the one before", s.Previous, s.Current, prev)
			}
			if s.JobID != j.jobID || s.ClientRef != j.clientRef || s.External {
				t.Errorf("status %s names job %q ref %q external %v, want %s %s", s.Current, s.JobID, s.ClientRef, s.External, j.jobID, j.clientRef)
			}
			if e.OccurredAt == "" || s.At == "" || s.Timestamps[s.Current] == "" {
				t.Errorf("status %s without its time: %+v", s.Current, s)
			}
			prev = s.Current
			states = append(states, s.Current)
		}
	}
	if prev != last {
		t.Errorf("states %v end in %q, want %q", states, prev, last)
	}
	return states, reported
}

type jobRef struct{ jobID, clientRef, wamid string }

// sendAndAccept opens contact's window, sends a text job through the
// connector and returns it once Meta accepted it.
func sendAndAccept(t *testing.T, h *connector.Handle, contact string) jobRef {
	t.Helper()
	openWindow(t, h, contact)
	j := textJob(newJobID("status"), contact, "how are things?")
	enqueue(t, h, j, "")
	wamid := checkAccepted(t, h, j, "how are things?")
	return jobRef{jobID: j.JobID, clientRef: j.ClientRef, wamid: wamid}
}

// A sent job's delivery reaches the core as accepted, then statuses that
// never go backwards, whatever order and however often Meta reports them.
// (delay_ms only makes the run faster: the simulator schedules statuses
// before it answers the send, and a status that overtakes the sender's
// record waits out the status function's 5 s retry; the result is the same.)
// Which intermediate states the core sees depends on the arrival order (a
// read that overtakes delivered hides it, by design), so only the chain
// rules and the final state are fixed here; TestDeliveredThenRead pins the
// full sequence.
func TestStatusesReachCoreInOrder(t *testing.T) {
	h := startOutbound(t)
	tests := []struct {
		name string
		cfg  string // POST /_sim/statuses/config
		// reported is every state Meta reported: the core hears of each,
		// as an advance or late.
		reported []string
	}{
		{"in order, each three times", `{"duplicates":3,"delay_ms":20}`, []string{"sent", "delivered", "read"}},
		{"shuffled and duplicated", `{"shuffle":true,"duplicates":3,"seed":7,"delay_ms":20}`, []string{"sent", "delivered", "read"}},
		{"shuffled, duplicated, read without delivered", `{"shuffle":true,"duplicates":2,"seed":11,"read_without_delivered":true,"delay_ms":20}`, []string{"sent", "read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.Sim.StatusStats()
			setStatuses(t, h, tt.cfg)
			contact := newContact()
			j := sendAndAccept(t, h, contact)
			awaitStatus(t, h, contact, j.wamid, "read")
			// Everything the simulator scheduled for the message is posted
			// and has gone through every queue: nothing else will arrive.
			waitSimStatuses(t, h)
			awaitQuiet(t, h)
			states, reported := checkStatusChain(t, ofContact(coreEvents(t, h, ""), contact), j, "read")
			t.Logf("states the core saw after accepted: %v; reported: %v", states, reported)
			got := slices.Clone(reported)
			slices.SortFunc(got, func(a, b string) int { return statusRank[a] - statusRank[b] })
			if !slices.Equal(got, tt.reported) {
				t.Errorf("states reported to the core %v, want each of %v once", reported, tt.reported)
			}
			after := h.Sim.StatusStats()
			if after.Failed != before.Failed || after.Pending != 0 || after.Posted <= before.Posted {
				t.Errorf("simulator status stats %+v (before %+v): a webhook was refused, is pending or was never posted", after, before)
			}
		})
	}
	checkContract(t, h)
}

// The core sees accepted, sent, delivered and read, in that order, each
// once: delivered (reported shuffled and three times) is applied before Meta
// reports read (three times).
func TestDeliveredThenRead(t *testing.T) {
	h := startOutbound(t)
	setStatuses(t, h, `{"shuffle":true,"duplicates":3,"seed":3,"until":"delivered","delay_ms":20}`)
	contact := newContact()
	j := sendAndAccept(t, h, contact)
	awaitStatus(t, h, contact, j.wamid, "delivered")
	waitSimStatuses(t, h)
	awaitQuiet(t, h)
	read := statusWebhook(t, contact, j.wamid, "read")
	for range 3 {
		postJSON(t, h.GraphURL+"/_sim/webhook?phone_number_id="+connector.DemoPhoneNumberID, string(read))
	}
	awaitStatus(t, h, contact, j.wamid, "read")
	awaitQuiet(t, h)
	states, reported := checkStatusChain(t, ofContact(coreEvents(t, h, ""), contact), j, "read")
	// sent may be overtaken by delivered (then it arrives late, never
	// lost); delivered and read become current in that order.
	if n := len(states); n < 2 || states[n-2] != "delivered" {
		t.Errorf("states %v, want ... delivered, read", states)
	}
	if !slices.Contains(reported, "sent") {
		t.Errorf("reported %v: sent was lost", reported)
	}
	checkContract(t, h)
}

// statusWebhook is Meta's status webhook (testdata/status_read.json, from
// shared/reference/webhooks) for wamid to contact on the demo number, with
// the given status, timestamped now.
func statusWebhook(t *testing.T, contact, wamid, status string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/status_read.json")
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer(
		`"5467539754836534"`, `"`+connector.DemoWABAID+`"`,
		`"1122334455667"`, `"`+connector.DemoPhoneNumberID+`"`,
		`"972123456789"`, `"`+connector.DemoDisplayNumber+`"`,
		`"972987654321"`, `"`+contact+`"`,
		`"wamid.xyzxyz"`, `"`+wamid+`"`,
		`"status": "read"`, `"status": "`+status+`"`,
		`"1689380458"`, `"`+strconv.FormatInt(time.Now().Unix(), 10)+`"`,
	)
	out := r.Replace(string(b))
	for _, must := range []string{connector.DemoWABAID, connector.DemoPhoneNumberID, contact, wamid, `"status": "` + status + `"`} {
		if !strings.Contains(out, must) {
			t.Fatalf("testdata/status_read.json no longer has the field that becomes %s", must)
		}
	}
	return []byte(out)
}

// A message Meta fails ends as a failed status carrying Meta's code, and a
// window-closed failure stops the sender's free-form messages to the
// contact.
func TestFailedStatusReachesCore(t *testing.T) {
	h := startOutbound(t)
	contact := newContact()
	setStatuses(t, h, `{"fail_to":{"`+contact+`":131047},"fail_after_sent":true,"duplicates":2,"delay_ms":20}`)
	j := sendAndAccept(t, h, contact)
	awaitStatus(t, h, contact, j.wamid, "failed")
	waitSimStatuses(t, h)
	awaitQuiet(t, h)
	evs := ofContact(coreEvents(t, h, ""), contact)
	checkStatusChain(t, evs, j, "failed")
	st := messageStatuses(evs, j.wamid)
	f := st[len(st)-1].Status
	if len(f.Errors) != 1 || f.Errors[0].Code != 131047 || f.Errors[0].Title == "" {
		t.Errorf("failed status errors = %+v, want Meta's 131047 with its title", f.Errors)
	}
	if f.Failure == nil || f.Failure.Reason != "window_closed" || f.Failure.Retryable {
		t.Errorf("failure = %+v, want window_closed, not retryable", f.Failure)
	}

	// The status function closed the contact's window for the sender.
	win, err := window.Store{API: dynamodb.NewFromConfig(h.Emulator.Config()), Table: h.Stack.Names.Ref["StateTable"]}.
		Get(context.Background(), connector.DemoPhoneNumberID, contact)
	if err != nil {
		t.Fatal(err)
	}
	if win.Open(time.Now()) || win.ClosedAt.IsZero() {
		t.Errorf("window after 131047 = %+v, want closed", win)
	}
	// The next free-form job does not succeed: the sender refuses it
	// (window_closed), or, while an instance still trusts the open window
	// it read before (shared/sender's window cache), Meta fails it again.
	next := textJob(newJobID("closed"), contact, "are you there?")
	enqueue(t, h, next, "")
	res := awaitResult(t, h, next.JobID)
	switch {
	case res.Type == event.TypeOutboundFailed && res.Outbound.Reason == event.ReasonWindowClosed:
		if got := simMessages(t, h, contact); len(got) != 1 {
			t.Errorf("the simulator accepted %d messages for the contact, want only the first", len(got))
		}
	case res.Type == event.TypeOutboundAccepted:
		t.Logf("the sender still trusted the window it had read; Meta fails the message")
		awaitStatus(t, h, contact, res.Outbound.MessageID, "failed")
	default:
		t.Errorf("next job: %s %+v, want outbound.failed window_closed", res.Type, res.Outbound)
	}
	checkContract(t, h)
}

// awaitQuiet waits until no message is left in (or in flight on, or
// delayed on) any queue between the webhook and the core: everything
// posted so far has reached the core or a dead-letter queue. Tests run one
// at a time, so nothing else is being added meanwhile.
func awaitQuiet(t *testing.T, h *connector.Handle) {
	t.Helper()
	api := sqs.NewFromConfig(h.Emulator.Config())
	names := []string{"InboundQueue", "StatusQueue", "MediaQueue", "OutboundQueue", "CoreEventsQueue"}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		busy := ""
		for _, q := range names {
			out, err := api.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
				QueueUrl: aws.String(h.Stack.Names.Ref[q]), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range []string{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"} {
				if v := out.Attributes[a]; v != "0" && busy == "" {
					busy = q + " " + a + "=" + v
				}
			}
		}
		if busy == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queues still busy after 2m: %s", busy)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitSimStatuses waits until the simulator has posted every status
// webhook it scheduled.
func waitSimStatuses(t *testing.T, h *connector.Handle) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.Sim.WaitStatuses(ctx); err != nil {
		t.Fatalf("the simulator still has status webhooks to post: %v (%+v)", err, h.Sim.StatusStats())
	}
}
