package main

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/shared/inbound"
	"github.com/tucanlink/wacloud/shared/parking"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// Every replay of a parked payload is a delivery of its own for the inbound
// dedup claim: its units carry the replay's mark, so two replays of the
// same payload never share a claim owner, while what Meta said is kept.
func TestReplaysAreDeliveriesOfTheirOwn(t *testing.T) {
	payload, err := os.ReadFile("testdata/webhook_text.json")
	if err != nil {
		t.Fatal(err)
	}
	units, err := whatsapp.Split(payload)
	if err != nil || len(units) != 1 {
		t.Fatalf("split: %d units, %v", len(units), err)
	}
	u := units[0]
	u.Route, u.ReceivedAt = whatsapp.RoutePlatform, "2026-12-05T10:00:00.000000001Z"
	unitBody, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	first := time.Date(2026, 12, 5, 11, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		item parking.Item
		body []byte
	}{
		{"a parked unit", parking.Item{Key: "parked/unknown_phone_number/x.json", Reason: parking.ReasonUnknownPhoneNumber}, unitBody},
		{"a parked webhook body", parking.Item{Key: "parked/body_too_large/x.json", Reason: parking.ReasonBodyTooLarge,
			Metadata: map[string]string{"route": whatsapp.RoutePlatform, "received-at": u.ReceivedAt}}, payload},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			owners := map[string]bool{}
			for i, at := range []time.Time{first, first.Add(time.Minute)} {
				msgs, _, err := replayMessages(tc.item, tc.body, at)
				if err != nil || len(msgs) != 1 {
					t.Fatalf("replay %d: %d messages, %v", i+1, len(msgs), err)
				}
				var got whatsapp.Unit
				if err := json.Unmarshal([]byte(msgs[0].Body), &got); err != nil {
					t.Fatal(err)
				}
				if want := at.Format(time.RFC3339Nano); got.Replay != want {
					t.Errorf("replay %d: mark %q, want %q", i+1, got.Replay, want)
				}
				if compact(t, got.Item) != compact(t, u.Item) || got.ReceivedAt != u.ReceivedAt || got.Metadata != u.Metadata {
					t.Errorf("replay %d changed the unit: %s", i+1, msgs[0].Body)
				}
				owners[inbound.Delivery(msgs[0].Body)] = true
			}
			if len(owners) != 2 {
				t.Errorf("two replays share a claim owner: %v", owners)
			}
		})
	}
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}
