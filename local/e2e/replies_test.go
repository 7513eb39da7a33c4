package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/local/connector"
)

// TestRepliesReachCoreNormalized: every reply a user can give to the forms
// the sender sends (a completed flow with its response_json, an address
// form, an order from a catalog, a question about a product, a location
// shared from a location request, a carousel card's quick reply) is sent
// by a simulated user through /_sim/inbound exactly as Meta's payload
// (testdata/replies) carries it, and reaches the core normalized, in the
// event contract; a payment status of an order_details message reaches it
// as payment.status.
func TestRepliesReachCoreNormalized(t *testing.T) {
	h := start(t)
	tests := []struct {
		file string
		want map[string]any // paths in message.received's message → value
	}{
		{"interactive_nfm_reply_flow", map[string]any{"kind": "interactive", "interactive.type": "nfm_reply", "interactive.flow.name": "flow",
			"interactive.flow.flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.", "interactive.flow.response.delivery_rating": "4"}},
		{"interactive_nfm_reply_address", map[string]any{"interactive.type": "nfm_reply", "interactive.flow.name": "address_message",
			"interactive.flow.response.saved_address_id": "address1", "interactive.flow.response.values.in_pin_code": "400063"}},
		{"order_multi_items", map[string]any{"kind": "order", "order.catalog_id": "354160437058781", "order.items.#": 3.0,
			"order.items.1.product_retailer_id": "FRENCH_FRIES", "order.items.1.quantity": 2.0}},
		{"text_context_referred_product", map[string]any{"kind": "text", "context.referred_product.catalog_id": "194836987003835",
			"context.referred_product.product_retailer_id": "di9ozbzfi4"}},
		{"location_reply_to_request", map[string]any{"kind": "location", "location.latitude": 37.44221496582,
			"context.id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJMT0NBVElPTl9SRVFVRVNUAA=="}},
		{"button_carousel_quick_reply", map[string]any{"kind": "button", "button.payload": "more-cafe-500g", "button.text": "Quero saber mais"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m := replyMessage(t, tt.file)
			typ, _ := m["type"].(string)
			req := map[string]any{"phone_number_id": connector.DemoPhoneNumberID, "from": newContact(), "name": "Ana",
				"type": typ, "content": m[typ]}
			if c, ok := m["context"]; ok {
				req["context"] = c
			}
			wamid := simInboundRaw(t, h, req)
			var msg map[string]any
			eventually(t, "the reply at the core sink", time.Minute, func() bool {
				msg = receivedMessage(t, h, wamid)
				return msg != nil
			})
			for path, want := range tt.want {
				if got := at(msg, path); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("message.%s = %v, want %v", path, got, want)
				}
			}
		})
	}
	t.Run("status_payment_captured", func(t *testing.T) {
		raw, err := os.ReadFile("testdata/replies/status_payment_captured.json")
		if err != nil {
			t.Fatal(err)
		}
		ref := "crm-" + strings.TrimPrefix(newWAMID(), "wamid.")[:20]
		for old, new := range map[string]string{"106540352242922": connector.DemoPhoneNumberID, "102290129340398": connector.DemoWABAID,
			"SampleMSIL1102": ref, "wamid.HBgMOTXXXXXXXXXXE5NDA3IAEhgKMzExMjYzOTAyMgA=": newWAMID()} {
			if !bytes.Contains(raw, []byte(old)) {
				t.Fatalf("the payment payload no longer contains %s", old)
			}
			raw = bytes.ReplaceAll(raw, []byte(old), []byte(new))
		}
		resp, err := http.Post(h.GraphURL+"/_sim/webhook?phone_number_id="+connector.DemoPhoneNumberID, "application/json", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST /_sim/webhook: %d", resp.StatusCode)
		}
		var pay map[string]any
		eventually(t, "the payment status at the core sink", time.Minute, func() bool {
			for _, ev := range rawEvents(t, h, "?type=payment.status") {
				if p, _ := ev["payment"].(map[string]any); p != nil && p["reference_id"] == ref {
					pay = p
					return true
				}
			}
			return false
		})
		for path, want := range map[string]any{"status": "captured", "amount.value": 450.0, "currency": "INR", "transaction.type": "razorpay"} {
			if got := at(pay, path); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("payment.%s = %v, want %v", path, got, want)
			}
		}
	})
	checkContract(t, h)
}

// replyMessage is the (first) message of testdata/replies/<file>.json.
func replyMessage(t *testing.T, file string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("testdata/replies/" + file + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Entry []struct {
			Changes []struct {
				Value struct {
					Messages []map[string]any `json:"messages"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &p); err != nil || len(p.Entry) == 0 || len(p.Entry[0].Changes) == 0 || len(p.Entry[0].Changes[0].Value.Messages) == 0 {
		t.Fatalf("%s: no message (%v)", file, err)
	}
	return p.Entry[0].Changes[0].Value.Messages[0]
}

// simInboundRaw posts req to /_sim/inbound and returns the wamid.
func simInboundRaw(t *testing.T, h *connector.Handle, req map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(req)
	resp, err := http.Post(h.GraphURL+"/_sim/inbound", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res struct {
		WAMID string `json:"wamid"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /_sim/inbound: %d %v %s", resp.StatusCode, err, res.Error)
	}
	return res.WAMID
}

func rawEvents(t *testing.T, h *connector.Handle, query string) []map[string]any {
	t.Helper()
	resp, err := http.Get(h.SinkURL + "/events" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var evs []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&evs); err != nil {
		t.Fatalf("GET /events: %v", err)
	}
	return evs
}

// receivedMessage is the message of the message.received event of wamid.
func receivedMessage(t *testing.T, h *connector.Handle, wamid string) map[string]any {
	for _, ev := range rawEvents(t, h, "?type=message.received") {
		if m, _ := ev["message"].(map[string]any); m != nil && m["id"] == wamid {
			return m
		}
	}
	return nil
}

// at walks a dotted path through objects and arrays ("items.1.quantity";
// "items.#" is an array's length).
func at(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			if k == "#" {
				return float64(len(x))
			}
			var i int
			if _, err := fmt.Sscan(k, &i); err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}
