package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A core outage long enough for the bridge's records to be retried several
// times (each retry is a visibility timeout running out, so the records
// leave the queue's in-flight set and come back) keeps every contact's
// events in order, loses none and pushes none twice, with many contacts
// sharing the bridge's batches.
func TestContactOrderSurvivesCoreOutage(t *testing.T) {
	for _, tt := range []struct {
		name                 string
		contacts, perContact int
		refused              int
	}{
		{name: "20 contacts, 10 messages each, 60 refused pushes", contacts: 20, perContact: 10, refused: 60},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t)
			before := sinkStats(t, h)
			resp, err := http.Post(h.SinkURL+"/_sink/fail", "application/json", strings.NewReader(fmt.Sprintf(`{"status":503,"count":%d}`, tt.refused)))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			contacts := make([]string, tt.contacts)
			for i := range contacts {
				contacts[i] = newContact()
			}
			sent := map[string][]string{}
			owner := map[string]string{} // wamid -> contact
			for i := range tt.perContact {
				for _, c := range contacts {
					w := simInbound(t, h, c, fmt.Sprintf("message %d", i))
					sent[c] = append(sent[c], w)
					owner[w] = c
				}
			}
			total := tt.contacts * tt.perContact
			var got map[string][]string
			var ids []string // the messages' event ids
			// The bridge backs off 5 s, 10 s, 20 s… per record: the refused
			// pushes take a few rounds of that.
			eventually(t, "every message at the core sink", 3*time.Minute, func() bool {
				got, ids = map[string][]string{}, nil
				n := 0
				for _, e := range sinkEvents(t, h, "?type=message.received") {
					if c, ok := owner[e.Message.ID]; ok {
						got[c] = append(got[c], e.Message.ID)
						ids = append(ids, e.EventID)
						n++
					}
				}
				return n == total
			})
			disordered := 0
			for _, c := range contacts {
				if fmt.Sprint(got[c]) != fmt.Sprint(sent[c]) {
					disordered++
					t.Errorf("contact %s: events arrived in order %v, sent %v", c, got[c], sent[c])
				}
			}
			if disordered > 0 {
				t.Errorf("%d of %d contacts' events arrived out of order", disordered, tt.contacts)
			}
			after := sinkStats(t, h)
			if n := after.InjectedFailures - before.InjectedFailures; n != tt.refused {
				t.Errorf("the sink refused %d pushes, want %d", n, tt.refused)
			}
			if after.PendingFailures != 0 {
				t.Errorf("%d refusals still pending", after.PendingFailures)
			}
			// Pushed once each: counted per event, since the connector's
			// other work (a status function's copy of an earlier test's
			// outbound.accepted, by design) can repeat a push meanwhile.
			twice := 0
			for _, id := range ids {
				if h.Sink.Repeats(id) > 0 {
					twice++
				}
			}
			if twice != 0 {
				t.Errorf("the core received %d of these messages' events more than once", twice)
			}
		})
	}
}
