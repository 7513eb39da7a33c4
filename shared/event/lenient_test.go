package event_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/event/eventtest"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// setPath returns item with the value at a dot path (array indexes as
// numbers) replaced by raw JSON.
func setPath(t *testing.T, item []byte, path, raw string) []byte {
	t.Helper()
	var doc any
	if err := json.Unmarshal(item, &doc); err != nil {
		t.Fatal(err)
	}
	segs := strings.Split(path, ".")
	cur := doc
	for i, seg := range segs {
		last := i == len(segs)-1
		switch x := cur.(type) {
		case map[string]any:
			if last {
				x[seg] = json.RawMessage(raw)
			} else {
				cur = x[seg]
			}
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n >= len(x) {
				t.Fatalf("path %s: no index %s", path, seg)
			}
			if last {
				x[n] = json.RawMessage(raw)
			} else {
				cur = x[n]
			}
		default:
			t.Fatalf("path %s: %s is not in the payload", path, seg)
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A field Meta (or a partner's sample) types loosely — a quantity "2", a
// price "30.50", a flag "true", an id as a number — is read for what it
// unambiguously means; the rest of the message is not lost, and raw keeps
// what was sent. Each case edits one field of a reference payload.
func TestNormalizeLenientScalars(t *testing.T) {
	tests := []struct {
		file, path, value string
		got               func(m *event.Message) any
		want              any
	}{
		{"order", "order.product_items.0.quantity", `"2"`, func(m *event.Message) any { return m.Order.Items[0].Quantity }, 2},
		{"order", "order.product_items.1.quantity", `" 1 "`, func(m *event.Message) any { return m.Order.Items[1].Quantity }, 1},
		{"order", "order.product_items.0.quantity", `2.0`, func(m *event.Message) any { return m.Order.Items[0].Quantity }, 2},
		{"order", "order.product_items.0.item_price", `"30"`, func(m *event.Message) any { return m.Order.Items[0].ItemPrice }, 30.0},
		{"order", "order.product_items.0.item_price", `"30.50"`, func(m *event.Message) any { return m.Order.Items[0].ItemPrice }, 30.5},
		{"order", "order.product_items.0.product_retailer_id", `12345`, func(m *event.Message) any { return m.Order.Items[0].ProductRetailerID }, "12345"},
		{"order", "order.catalog_id", `194836987003835`, func(m *event.Message) any { return m.Order.CatalogID }, "194836987003835"},
		{"location", "location.latitude", `"37.44221496582"`, func(m *event.Message) any { return m.Location.Latitude }, 37.44221496582},
		{"location", "location.longitude", `"-122.16165924072"`, func(m *event.Message) any { return m.Location.Longitude }, -122.16165924072},
		{"audio_voice", "audio.voice", `"true"`, func(m *event.Message) any { return m.Media.Voice }, true},
		{"sticker_animated", "sticker.animated", `"TRUE"`, func(m *event.Message) any { return m.Media.Animated }, true},
		{"document", "context.forwarded", `"true"`, func(m *event.Message) any { return m.Context.Forwarded }, true},
		{"document", "document.filename", `2024`, func(m *event.Message) any { return m.Media.Filename }, "2024"},
		{"text", "text.body", `42`, func(m *event.Message) any { return m.Text.Body }, "42"},
		{"text", "text.preview_url", `"1"`, func(m *event.Message) any { return m.Text.PreviewURL }, true},
		{"unknown_with_errors", "errors.0.code", `"131051"`, func(m *event.Message) any { return m.Errors[0].Code }, 131051},
		{"contacts", "contacts.0.phones.0.phone", `19835552319`, func(m *event.Message) any { return m.Contacts[0].Phones[0].Phone }, "19835552319"},
		{"interactive_button_reply", "interactive.button_reply.id", `7`, func(m *event.Message) any { return m.Interactive.ID }, "7"},
		{"referral_click_to_whatsapp_ad", "referral.source_id", `120226305854810726`, func(m *event.Message) any { return m.Referral.SourceID }, "120226305854810726"},
		{"system_identity_changed", "identity.acknowledged", `"false"`, func(m *event.Message) any { return m.System.Identity.Acknowledged }, false},
		{"text_context_referred_product", "context.referred_product.catalog_id", `123`, func(m *event.Message) any { return m.Context.ReferredProduct.CatalogID }, "123"},
	}
	for _, tt := range tests {
		t.Run(tt.file+" "+tt.path+"="+tt.value, func(t *testing.T) {
			u := units(t, tt.file)[0]
			u.Item = setPath(t, u.Item, tt.path, tt.value)
			evs, err := event.Normalize(u, testTenant)
			if err != nil {
				t.Fatalf("Normalize with %s = %s: %v", tt.path, tt.value, err)
			}
			m := evs[0].Message
			if got := tt.got(m); got != tt.want {
				t.Errorf("%s = %s read as %#v, want %#v", tt.path, tt.value, got, tt.want)
			}
			seg := tt.path[strings.LastIndex(tt.path, ".")+1:]
			if !bytes.Contains(m.Raw, []byte(`"`+seg+`":`+tt.value)) {
				t.Errorf("raw does not keep %s as sent (%s): %s", seg, tt.value, m.Raw)
			}
			b, err := json.Marshal(evs[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := eventtest.Check(b); err != nil {
				t.Error(err)
			}
		})
	}
}

// What cannot be understood is still refused (Invalid, dead-lettered with
// the reason), rather than guessed: the core never gets a wrong quantity.
func TestNormalizeRejectsMeaninglessScalars(t *testing.T) {
	tests := []struct{ file, path, value string }{
		{"order", "order.product_items.0.quantity", `"two"`},
		{"order", "order.product_items.0.quantity", `"1.5"`},
		{"order", "order.product_items.0.quantity", `1.5`},
		{"order", "order.product_items.0.quantity", `"2.0"`},
		{"order", "order.product_items.0.quantity", `{}`},
		{"order", "order.product_items.0.item_price", `"30,50"`},
		{"order", "order.product_items.0.item_price", `[30]`},
		{"location", "location.latitude", `"north"`},
		{"audio_voice", "audio.voice", `"maybe"`},
		{"unknown_with_errors", "errors.0.code", `"E131051"`},
		{"text", "text.body", `{"x":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.file+" "+tt.path+"="+tt.value, func(t *testing.T) {
			u := units(t, tt.file)[0]
			u.Item = setPath(t, u.Item, tt.path, tt.value)
			evs, err := event.Normalize(u, testTenant)
			if err == nil {
				t.Fatalf("Normalize = %+v, want an error", evs[0].Message)
			}
			if got := fault.ClassOf(err); got != fault.Invalid {
				t.Errorf("class %v, want Invalid: %v", got, err)
			}
		})
	}
}

// Statuses read loosely typed pricing flags the same way.
func TestParseStatusLenient(t *testing.T) {
	u := units(t, "status_delivered")[0]
	if u.Kind != whatsapp.KindStatus {
		t.Fatalf("kind %s", u.Kind)
	}
	it, err := event.ParseStatus(setPath(t, u.Item, "pricing.billable", `"true"`))
	if err != nil {
		t.Fatal(err)
	}
	if it.Pricing == nil || it.Pricing.Billable == nil || !*it.Pricing.Billable {
		t.Errorf("pricing %+v, want billable true", it.Pricing)
	}
	if _, err := event.ParseStatus(setPath(t, u.Item, "pricing.billable", `"perhaps"`)); err == nil {
		t.Error("billable \"perhaps\" accepted")
	}
}

// Meta's timestamps arrive as strings or numbers; padded strings and JSON
// floats are read too. What is not a time falls back to the receipt time.
func TestNormalizeLenientTimestamps(t *testing.T) {
	const meta = "2025-06-08T20:59:43Z" // text.json's 1749416383
	for _, tt := range []struct{ value, want string }{
		{`"1749416383"`, meta},
		{`1749416383`, meta},
		{`" 1749416383 "`, meta},
		{`1749416383.0`, meta},
		{`"1749416383.250"`, meta},
		{`"yesterday"`, receivedAt},
		{`"1749416383.x"`, receivedAt},
	} {
		t.Run(tt.value, func(t *testing.T) {
			u := units(t, "text")[0]
			u.Item = setPath(t, u.Item, "timestamp", tt.value)
			evs, err := event.Normalize(u, testTenant)
			if err != nil {
				t.Fatal(err)
			}
			if got := evs[0].OccurredAt; got != tt.want {
				t.Errorf("timestamp %s: occurred_at %s, want %s", tt.value, got, tt.want)
			}
		})
	}
}

// Payment amounts and transaction times are read leniently too.
func TestParsePaymentStatusLenient(t *testing.T) {
	item := []byte(`{"id":"wamid.P","type":"payment","status":"Captured","timestamp":1746500005,"recipient_id":919999999999,
		"payment":{"reference_id":1102,"amount":{"value":"21000","offset":"100"},"currency":"INR",
		"transaction":{"id":"tx","type":"razorpay","status":"success","created_timestamp":"1746500000","updated_timestamp":1746500005.0,
		"amount":{"value":21000.0,"offset":100},"currency":"INR","error":{"code":400,"reason":"r"}}}}`)
	p, err := event.ParsePaymentStatus(item)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{p.Status, p.At, p.Recipient, p.ReferenceID, *p.Amount, p.Transaction.CreatedAt, p.Transaction.UpdatedAt, *p.Transaction.Amount, p.Transaction.Error.Code}
	want := []any{"captured", "2025-05-06T02:53:25Z", "919999999999", "1102", event.PaymentAmount{Value: 21000, Offset: 100},
		"2025-05-06T02:53:20Z", "2025-05-06T02:53:25Z", event.PaymentAmount{Value: 21000, Offset: 100}, "400"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d = %#v, want %#v", i, got[i], want[i])
		}
	}
	if _, err := event.ParsePaymentStatus(setPath(t, item, "payment.amount.value", `"210.00"`)); err == nil {
		t.Error("amount value 210.00 (not minor units) accepted")
	}
}
