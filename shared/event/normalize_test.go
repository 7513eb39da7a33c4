package event_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/event/eventtest"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

const (
	testTenant = "tenant-a"
	receivedAt = "2026-01-02T03:04:05.123456789Z"
)

// The reference payloads live with the parser that reads them first.
var webhookDir = filepath.Join("..", "whatsapp", "testdata", "webhooks")

func units(tb testing.TB, file string) []whatsapp.Unit {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(webhookDir, file+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	us, err := whatsapp.Split(b)
	if err != nil {
		tb.Fatalf("Split(%s): %v", file, err)
	}
	for i := range us {
		us[i].ReceivedAt = receivedAt
		us[i].Route = whatsapp.RoutePlatform
	}
	return us
}

func normalizable(kind string) bool {
	return kind == whatsapp.KindMessage || kind == whatsapp.KindEcho || kind == whatsapp.KindError
}

// normalizeFile normalizes every message, echo and error unit of a file,
// checks the envelope every event must have and validates it against the
// published schema.
func normalizeFile(t *testing.T, file string) []event.Event {
	t.Helper()
	var evs []event.Event
	for _, u := range units(t, file) {
		if !normalizable(u.Kind) {
			continue
		}
		got, err := event.Normalize(u, testTenant)
		if err != nil {
			t.Fatalf("Normalize(%s unit %d): %v", file, u.Seq, err)
		}
		if len(got) != 1 {
			t.Fatalf("Normalize(%s unit %d) = %d events, want 1", file, u.Seq, len(got))
		}
		ev := got[0]
		if ev.SchemaVersion != event.SchemaVersion || ev.TenantID != testTenant ||
			ev.PhoneNumberID != u.Metadata.PhoneNumberID || ev.WABAID != u.WABAID || ev.EventID == "" || ev.OccurredAt == "" {
			t.Errorf("%s unit %d: envelope %+v", file, u.Seq, ev)
		}
		switch u.Kind {
		case whatsapp.KindMessage, whatsapp.KindEcho:
			var m struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(u.Item, &m)
			if ev.Message == nil || ev.Message.ID != m.ID {
				t.Errorf("%s unit %d: message.id is not the wamid %q", file, u.Seq, m.ID)
			}
			if ev.Message != nil && !jsonEqual(t, ev.Message.Raw, u.Item) {
				t.Errorf("%s unit %d: raw %s differs from the item %s", file, u.Seq, ev.Message.Raw, u.Item)
			}
		}
		eventtest.Validate(t, ev)
		evs = append(evs, ev)
	}
	return evs
}

func jsonEqual(tb testing.TB, a, b []byte) bool {
	tb.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		tb.Fatalf("unmarshal %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		tb.Fatalf("unmarshal %s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

func check(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// contentChecks holds, for every reference payload that yields message,
// echo or error units, what its events must say.
var contentChecks = map[string]func(t *testing.T, evs []event.Event){
	"audio": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "media", *m.Media, event.MediaRef{Kind: "audio", ID: "1234567890987654321", MimeType: "audio/ogg; codecs=opus",
			SHA256: "E3dxS/PdYZE7ppA3pQ4mpCFaXBJ8pX4SRN/dsfvds/iPGA=", Status: "pending"})
		check(t, "forwarded", m.Context.Forwarded, true)
	},
	"audio_voice": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "voice", m.Media.Voice, true)
		check(t, "kind", m.Media.Kind, "audio")
		check(t, "context", m.Context, (*event.Context)(nil))
	},
	"batch_one_entry_two_changes": func(t *testing.T, evs []event.Event) {
		if len(evs) != 2 {
			t.Fatalf("%d events, want 2", len(evs))
		}
		check(t, "bodies", []string{evs[0].Message.Text.Body, evs[1].Message.Text.Body}, []string{"MESSAGE_BODY", "MESSAGE_BODY2"})
		check(t, "same wamid", evs[0].Message.ID == evs[1].Message.ID, true)
		if evs[0].EventID == evs[1].EventID {
			t.Errorf("two messages with different timestamps share event id %s", evs[0].EventID)
		}
		check(t, "occurred_at", []string{evs[0].OccurredAt, evs[1].OccurredAt}, []string{"2022-11-23T20:02:58Z", "2022-11-23T20:02:59Z"})
	},
	"button_quick_reply_no_context": func(t *testing.T, evs []event.Event) {
		ev := one(t, evs, event.TypeMessageReceived)
		check(t, "button", *ev.Message.Button, event.Button{Payload: "callback_data", Text: "title"})
		check(t, "from_user_id", ev.Message.FromUserID, "US.13491208655302741918")
		check(t, "contact", *ev.Contact, event.Contact{WaID: "972987654321", UserID: "US.13491208655302741918",
			ParentUserID: "US.ENT.11815799212886844830", Name: "Test Name"})
	},
	"button_template_quick_reply": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "button", *m.Button, event.Button{Payload: "Unsubscribe", Text: "Unsubscribe"})
		check(t, "context", *m.Context, event.Context{From: "15550783881", ID: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJFNjk2OTMwNEZCQjhGMzUyQUYA"})
	},
	"button_with_context_and_referral": func(t *testing.T, evs []event.Event) {
		ev := one(t, evs, event.TypeMessageReceived)
		m := ev.Message
		check(t, "button", *m.Button, event.Button{Payload: "No-Button-Payload", Text: "No"})
		check(t, "context", *m.Context, event.Context{From: "PHONE_NUMBER", ID: "wamid.ID", Forwarded: true, FrequentlyForwarded: true,
			ReferredProduct: &event.ReferredProduct{CatalogID: "CATALOG_ID", ProductRetailerID: "PRODUCT_ID"}})
		check(t, "referral source", [3]string{m.Referral.SourceURL, m.Referral.SourceID, m.Referral.SourceType}, [3]string{"AD_OR_POST_FB_URL", "ADID", "ad or post"})
		check(t, "referral media", [3]string{m.Referral.ImageURL, m.Referral.VideoURL, m.Referral.ThumbnailURL}, [3]string{"RAW_IMAGE_URL", "RAW_VIDEO_URL", "RAW_THUMBNAIL_URL"})
		// Meta sent this timestamp as a JSON number.
		check(t, "occurred_at", ev.OccurredAt, "2022-11-23T20:02:58Z")
	},
	"contacts": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		if len(m.Contacts) != 1 {
			t.Fatalf("%d contact cards, want 1", len(m.Contacts))
		}
		c := m.Contacts[0]
		check(t, "name", c.Name, event.ContactName{FormattedName: "Lucía Gómez", FirstName: "Lucía", LastName: "Gómez"})
		check(t, "phones", c.Phones, []event.ContactPhone{{Phone: "+1 (983) 555-2319", WaID: "19835552319", Type: "MOBILE"}})
		check(t, "org", *c.Org, event.ContactOrg{Company: "Google"})
	},
	"contacts_multiple": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		var names []string
		for _, c := range m.Contacts {
			names = append(names, c.Name.FormattedName+"/"+c.Phones[0].Type)
		}
		check(t, "cards", names, []string{"Chandler Bing/CELL", "Monica/HOME", "Rachel Green/WORK"})
	},
	"document": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "media", *m.Media, event.MediaRef{Kind: "document", ID: "1234567890987654321", MimeType: "application/pdf",
			SHA256: "grwfwe/ZPx0wAbdfbdeFUNItPZ0RylL8gGUvdt3YFqc18SY=", Filename: "filename.pdf", Caption: "caption", Status: "pending"})
	},
	"edit_message": func(t *testing.T, evs []event.Event) {
		ev := one(t, evs, event.TypeMessageReceived)
		m := ev.Message
		check(t, "kind", m.Kind, "edit")
		check(t, "edit", *m.Edit, event.Edit{OriginalID: "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=", Kind: "image"})
		check(t, "new media", *m.Media, event.MediaRef{Kind: "image", ID: "1234567890", MimeType: "image/jpeg", SHA256: "a1b2c3d4e5f6...",
			Caption: "Updated image caption", URL: "https://media.example.com/updated-image.jpg", Status: "pending"})
		check(t, "context", *m.Context, event.Context{ID: "M0"})
		// The only listed contact is someone else: the sender is named by
		// the message alone.
		check(t, "contact", *ev.Contact, event.Contact{WaID: "16505551234"})
	},
	"errors_value_level_130429": func(t *testing.T, evs []event.Event) {
		ev := one(t, evs, event.TypeWebhookError)
		check(t, "errors", ev.Errors, []event.Error{{Code: 130429, Title: "Rate limit hit", Message: "Rate limit hit",
			Details: "Message failed to send because there were too many messages sent from this phone number in a short period of time",
			Href:    "/documentation/business-messaging/whatsapp/support/error-codes"}})
		check(t, "occurred_at falls back to received_at", ev.OccurredAt, receivedAt)
		check(t, "contact", ev.Contact, (*event.Contact)(nil))
		check(t, "message", ev.Message, (*event.Message)(nil))
	},
	"image": func(t *testing.T, evs []event.Event) {
		ev := one(t, evs, event.TypeMessageReceived)
		check(t, "media", *ev.Message.Media, event.MediaRef{Kind: "image", ID: "1003383421387256", MimeType: "image/jpeg",
			SHA256: "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=", SHA256Hex: "49f227634806293b0995459bc310b593e1400f41591efcf07e9bced335f41942",
			Caption: "Taj Mahal", Status: "pending"})
		check(t, "contact", *ev.Contact, event.Contact{WaID: "16505551234", Name: "Sheena Nelson"})
		check(t, "occurred_at", ev.OccurredAt, "2025-04-11T04:08:16Z")
	},
	"image_with_url": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "url", m.Media.URL, "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=65463453&source=webhook&ext=487r9re&hash=heiwchueowbcew-dnedcw")
		check(t, "id", m.Media.ID, "65463453")
	},
	"interactive_button_reply": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "interactive", *m.Interactive, event.Interactive{Type: "button_reply", ID: "cancel-button", Title: "Cancel"})
		check(t, "context id", m.Context.ID, "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA")
	},
	"interactive_list_reply": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "interactive", *m.Interactive, event.Interactive{Type: "list_reply", ID: "priority_express", Title: "Priority Mail Express", Description: "Next Day to 2 Days"})
	},
	"interactive_list_reply_with_description": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "interactive", *m.Interactive, event.Interactive{Type: "list_reply", ID: "callback_data", Title: "title", Description: "description"})
		check(t, "context", *m.Context, event.Context{From: "1122334455667", ID: "wamid.xyzxyz"})
	},
	"interactive_nfm_reply_flow": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		f := m.Interactive.Flow
		check(t, "type", m.Interactive.Type, "nfm_reply")
		check(t, "flow", [3]string{f.Name, f.Body, f.FlowToken}, [3]string{"flow", "Sent", "AQAAAAACS5FpgQ_cAAAAAD0QI3s."})
		var resp map[string]string
		if err := json.Unmarshal(f.Response, &resp); err != nil {
			t.Fatalf("flow response %s is not a JSON object: %v", f.Response, err)
		}
		check(t, "delivery_rating", resp["delivery_rating"], "4")
		check(t, "comment_text", resp["comment_text"], "Comment Text")
		check(t, "response_text", f.ResponseText, "")
	},
	"interactive_nfm_reply_address": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		f := m.Interactive.Flow
		check(t, "flow", [2]string{f.Name, f.Body}, [2]string{"address_message", "CONFIRMATION_MSG"})
		var resp struct {
			SavedAddressID string            `json:"saved_address_id"`
			Values         map[string]string `json:"values"`
		}
		if err := json.Unmarshal(f.Response, &resp); err != nil {
			t.Fatalf("address response %s is not a JSON object: %v", f.Response, err)
		}
		check(t, "saved_address_id", resp.SavedAddressID, "address1")
		check(t, "pin code and city", [2]string{resp.Values["in_pin_code"], resp.Values["city"]}, [2]string{"400063", "Mumbai"})
	},
	"button_carousel_quick_reply": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "button", *m.Button, event.Button{Payload: "more-cafe-500g", Text: "Quero saber mais"})
		check(t, "context id", m.Context.ID, "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJFNjk2OTMwNEZCQjhGMzUyQUYA")
	},
	"location_reply_to_request": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "location", *m.Location, event.Location{Latitude: 37.44221496582, Longitude: -122.16165924072})
		check(t, "context id", m.Context.ID, "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJMT0NBVElPTl9SRVFVRVNUAA==")
	},
	"interactive_nfm_reply_flow_netflie": func(t *testing.T, evs []event.Event) {
		ev := one(t, evs, event.TypeMessageReceived)
		var resp map[string]string
		if err := json.Unmarshal(ev.Message.Interactive.Flow.Response, &resp); err != nil {
			t.Fatal(err)
		}
		check(t, "response", resp, map[string]string{"screen_0_name_0": "Email", "screen_0_orderNumber_1": "ID", "flow_token": "unused"})
		check(t, "occurred_at", ev.OccurredAt, "2022-11-23T20:02:58Z")
	},
	"interactive_with_value_errors_131000": func(t *testing.T, evs []event.Event) {
		if len(evs) != 2 {
			t.Fatalf("%d events, want 2", len(evs))
		}
		m := evs[0].Message
		check(t, "type", evs[0].Type, event.TypeMessageReceived)
		check(t, "kind", m.Kind, "interactive")
		check(t, "interactive", m.Interactive, (*event.Interactive)(nil))
		check(t, "error event", evs[1].Type, event.TypeWebhookError)
		check(t, "errors", evs[1].Errors, []event.Error{{Code: 131000, Title: "Something went wrong", Message: "Something went wrong", Details: "Unsupported webhook payload"}})
	},
	"location": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "location", *m.Location, event.Location{Latitude: 37.44221496582, Longitude: -122.16165924072, Name: "Philz Coffee",
			Address: "101 Forest Ave, Palo Alto, CA 94301", URL: "https://philzcoffee.com/"})
	},
	"location_current": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "location", *m.Location, event.Location{Latitude: 12.25089, Longitude: 43.90539})
		check(t, "forwarded", m.Context.Forwarded, true)
	},
	"order": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "catalog", m.Order.CatalogID, "194836987003835")
		check(t, "items", m.Order.Items, []event.OrderItem{
			{ProductRetailerID: "di9ozbzfi4", Quantity: 2, ItemPrice: 30, Currency: "USD"},
			{ProductRetailerID: "nqryix03ez", Quantity: 1, ItemPrice: 25, Currency: "USD"}})
	},
	"order_multi_items": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "item count", len(m.Order.Items), 3)
		check(t, "first item", m.Order.Items[0], event.OrderItem{ProductRetailerID: "HAMBURGER", Quantity: 3, ItemPrice: 30, Currency: "ILS"})
	},
	"reaction": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "reaction", *m.Reaction, event.Reaction{MessageID: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0RTJEOTc2ODVERUY5RDlGNkYA", Emoji: "👍"})
	},
	"reaction_removed": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "reaction", *m.Reaction, event.Reaction{MessageID: "wamid.yzxyzx=", Removed: true})
	},
	"referral_ad_placeholders": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "referral", *m.Referral, event.Referral{SourceURL: "AD_OR_POST_FB_URL", SourceType: "ad or post", SourceID: "ADID",
			Headline: "AD_TITLE", Body: "AD_DESCRIPTION", MediaType: "image or video", ImageURL: "RAW_IMAGE_URL",
			VideoURL: "RAW_VIDEO_URL", ThumbnailURL: "RAW_THUMBNAIL_URL", CtwaClid: "CTWA_CLID"})
		check(t, "text", m.Text.Body, "BODY")
	},
	"referral_click_to_whatsapp_ad": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "source", [3]string{m.Referral.SourceType, m.Referral.SourceID, m.Referral.SourceURL}, [3]string{"ad", "120226305854810726", "https://fb.me/3cr4Wqqkv"})
		check(t, "headline", m.Referral.Headline, "Chat with us")
		check(t, "welcome", m.Referral.WelcomeMessage, "Hi there! Let us know how we can help!")
		if !strings.HasPrefix(m.Referral.CtwaClid, "Aff-n8ZTODiE79d22KtAwQKj9e_mIEOOj27") {
			t.Errorf("ctwa_clid = %q", m.Referral.CtwaClid)
		}
	},
	"revoke_deleted_message": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "kind", m.Kind, "revoke")
		check(t, "revoke", *m.Revoke, event.Revoke{OriginalID: "<ORIGINAL_WHATSAPP_MESSAGE_ID>"})
	},
	"smb_message_echoes_text": func(t *testing.T, evs []event.Event) {
		ev := one(t, evs, event.TypeMessageEcho)
		check(t, "text", ev.Message.Text.Body, "Test message")
		check(t, "to", [2]string{ev.Message.To, ev.Message.ToUserID}, [2]string{"<WHATSAPP_USER_PHONE_NUMBER>", "<BSUID>"})
		check(t, "contact is the recipient", *ev.Contact, event.Contact{WaID: "<WHATSAPP_USER_PHONE_NUMBER>", UserID: "<BSUID>"})
	},
	"sticker": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "media", *m.Media, event.MediaRef{Kind: "sticker", ID: "1234567890987654321", MimeType: "image/webp",
			SHA256: "OmT4nhjUhCMIPNmj7eeOZeCYjTXkLxoOv85OMCFwSuc=", SHA256Hex: "3a64f89e18d48423083cd9a3ede78e65e0988d35e42f1a0ebfce4e3021704ae7", Status: "pending"})
	},
	"sticker_animated": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "animated", m.Media.Animated, true)
	},
	"system_identity_changed": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "system", *m.System, event.System{Type: "customer_identity_changed", Body: "User identity changed",
			Identity: &event.Identity{Acknowledged: true, CreatedTimestamp: "1697044706", Hash: "xyzxyz"}})
	},
	"system_user_changed_number": func(t *testing.T, evs []event.Event) {
		ev := one(t, evs, event.TypeMessageReceived)
		check(t, "system", *ev.Message.System, event.System{Type: "user_changed_number",
			Body: "User Sheena Nelson changed from 16505551234 to 12195555358", WaID: "12195555358"})
		check(t, "contact", *ev.Contact, event.Contact{WaID: "16505551234"})
	},
	"text": func(t *testing.T, evs []event.Event) {
		ev := one(t, evs, event.TypeMessageReceived)
		check(t, "text", *ev.Message.Text, event.Text{Body: "Does it come in another color?"})
		check(t, "from", ev.Message.From, "16505551234")
		check(t, "occurred_at", ev.OccurredAt, "2025-06-08T20:59:43Z")
	},
	"text_context_referred_product": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "referred product", *m.Context.ReferredProduct, event.ReferredProduct{CatalogID: "194836987003835", ProductRetailerID: "di9ozbzfi4"})
		check(t, "text", m.Text.Body, "Is this still available?")
	},
	"text_frequently_forwarded": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "context", *m.Context, event.Context{FrequentlyForwarded: true})
	},
	"text_meta_dashboard_test_sample": func(t *testing.T, evs []event.Event) {
		ev := one(t, evs, event.TypeMessageReceived)
		check(t, "text", ev.Message.Text.Body, "this is a text message")
		check(t, "id", ev.Message.ID, "ABGGFlA5Fpa")
	},
	"text_reply_context": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "context", *m.Context, event.Context{From: "972123456789", ID: "wamid.xyzxyz=="})
	},
	"text_v25_username_bsuid": func(t *testing.T, evs []event.Event) {
		ev := one(t, evs, event.TypeMessageReceived)
		check(t, "contact", *ev.Contact, event.Contact{WaID: "16315551181", UserID: "US.13491208655302741918",
			ParentUserID: "US.11815799212886844830", Name: "test user name", Username: "@testusername"})
		check(t, "from_user_id", ev.Message.FromUserID, "US.13491208655302741918")
	},
	"text_with_bsuid": func(t *testing.T, evs []event.Event) {
		ev := one(t, evs, event.TypeMessageReceived)
		check(t, "contact user id", ev.Contact.UserID, "US.13491208655302741918")
		check(t, "text", ev.Message.Text.Body, "Body Text")
	},
	"unknown_with_errors": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "kind", m.Kind, "unknown")
		check(t, "errors", m.Errors, []event.Error{{Code: 131051, Title: "Unsupported message type", Details: "Message type is not currently supported"}})
	},
	"unsupported": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "kind", m.Kind, "unsupported")
		check(t, "errors", m.Errors, []event.Error{{Code: 131051, Title: "Message type unknown", Message: "Message type unknown", Details: "Message type is currently not supported."}})
		check(t, "unsupported", m.Unsupported, (*event.Unsupported)(nil))
	},
	"unsupported_with_type": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "unsupported", *m.Unsupported, event.Unsupported{Type: "pool"})
		check(t, "error code", m.Errors[0].Code, 131051)
	},
	"video": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "media", *m.Media, event.MediaRef{Kind: "video", ID: "765756756", MimeType: "video/mp4",
			SHA256: "Jh+2ij6PzUv/J2y+grrtegr/ZMzRxkEPwc24Oyib4s03w9Jc=", Caption: "caption", Status: "pending"})
	},
	"video_bindambc": func(t *testing.T, evs []event.Event) {
		m := one(t, evs, event.TypeMessageReceived).Message
		check(t, "media", [3]string{m.Media.Kind, m.Media.ID, m.Media.Caption}, [3]string{"video", "661828760183585", "hello world"})
	},
}

func one(t *testing.T, evs []event.Event, typ string) event.Event {
	t.Helper()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	if evs[0].Type != typ {
		t.Fatalf("type = %s, want %s", evs[0].Type, typ)
	}
	return evs[0]
}

func TestNormalizeReferencePayloads(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(webhookDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no reference payloads in %s: %v", webhookDir, err)
	}
	covered := 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		has := false
		for _, u := range units(t, name) {
			has = has || normalizable(u.Kind)
		}
		checkFn, listed := contentChecks[name]
		if !has {
			if listed {
				t.Errorf("%s yields no message, echo or error unit but has content checks", name)
			}
			continue
		}
		covered++
		t.Run(name, func(t *testing.T) {
			if !listed {
				t.Fatalf("no content checks for %s", name)
			}
			checkFn(t, normalizeFile(t, name))
		})
	}
	if covered != len(contentChecks) {
		t.Errorf("%d payloads normalized, %d have content checks", covered, len(contentChecks))
	}
}

func TestNormalizeEveryMediaMessageHasAJob(t *testing.T) {
	// The inbound function creates a media download job for every message
	// whose Media is set: each of these must have one.
	for _, file := range []string{"audio", "audio_voice", "document", "image", "image_with_url", "sticker", "sticker_animated", "video", "video_bindambc", "edit_message"} {
		t.Run(file, func(t *testing.T) {
			ev := normalizeFile(t, file)[0]
			if ev.Message.Media == nil || ev.Message.Media.ID == "" || ev.Message.Media.Status != event.MediaStatusPending {
				t.Errorf("media = %+v, want a pending reference with an id", ev.Message.Media)
			}
		})
	}
}

func TestNormalizeEventIDs(t *testing.T) {
	// Ids derive from what identifies a Meta event: type, business number,
	// wamid and Meta's timestamp (for value-level errors, the error item).
	// Sample files from different sources reuse placeholder wamids and
	// timestamps, so distinctness is checked on those identifying fields.
	ids := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(webhookDir, "*.json"))
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		for _, u := range units(t, name) {
			if !normalizable(u.Kind) {
				continue
			}
			first, err := event.Normalize(u, testTenant)
			if err != nil {
				t.Fatal(err)
			}
			// A redelivery arrives later, maybe through the other route.
			u.ReceivedAt = "2026-02-03T00:00:00Z"
			u.Route = whatsapp.RouteTenant
			u.Seq += 7
			again, err := event.Normalize(u, testTenant)
			if err != nil {
				t.Fatal(err)
			}
			if first[0].EventID != again[0].EventID {
				t.Errorf("%s unit %d: event id changed on redelivery: %s, %s", name, u.Seq, first[0].EventID, again[0].EventID)
			}
			// The same Meta ids under another tenant (placeholder ids of
			// Meta's test payloads) are another fact for the core.
			other, err := event.Normalize(u, "globex")
			if err != nil {
				t.Fatal(err)
			}
			if other[0].EventID == first[0].EventID {
				t.Errorf("%s unit %d: tenants %s and globex share event id %s", name, u.Seq, testTenant, first[0].EventID)
			}
			var m struct {
				ID        json.RawMessage `json:"id"`
				Timestamp json.RawMessage `json:"timestamp"`
			}
			_ = json.Unmarshal(u.Item, &m)
			key := first[0].Type + " " + u.Metadata.PhoneNumberID + " " + strings.Trim(string(m.ID), `"`) + " " + strings.Trim(string(m.Timestamp), `"`)
			if u.Kind == whatsapp.KindError {
				key += " " + string(u.Item)
			}
			if prev, ok := ids[first[0].EventID]; ok && prev != key {
				t.Errorf("%s unit %d: event id %s of %q already used by %q", name, u.Seq, first[0].EventID, key, prev)
			}
			ids[first[0].EventID] = key
		}
	}
	if len(ids) < 40 {
		t.Errorf("only %d distinct event ids over the reference payloads", len(ids))
	}
}

func TestNormalizeRejects(t *testing.T) {
	good := units(t, "text")[0]
	tests := []struct {
		name       string
		edit       func(u *whatsapp.Unit)
		tenant     string
		notHandled bool
	}{
		{"status unit", func(u *whatsapp.Unit) { *u = units(t, "status_read")[0] }, testTenant, true},
		{"change unit", func(u *whatsapp.Unit) { *u = units(t, "account_update_verified_account")[0] }, testTenant, true},
		{"item not an object", func(u *whatsapp.Unit) { u.Item = json.RawMessage(`"text"`) }, testTenant, false},
		{"message without id", func(u *whatsapp.Unit) { u.Item = json.RawMessage(`{"from":"1","timestamp":"1","type":"text"}`) }, testTenant, false},
		{"no phone_number_id", func(u *whatsapp.Unit) { u.Metadata.PhoneNumberID = "" }, testTenant, false},
		{"no tenant", func(u *whatsapp.Unit) {}, "", false},
		{"no timestamp at all", func(u *whatsapp.Unit) {
			u.Item = json.RawMessage(`{"from":"1","id":"wamid.X","type":"text","text":{"body":"x"}}`)
			u.ReceivedAt = ""
		}, testTenant, false},
		{"text of the wrong type", func(u *whatsapp.Unit) {
			u.Item = json.RawMessage(`{"from":"1","id":"wamid.X","timestamp":"1","type":"text","text":"x"}`)
		}, testTenant, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := good
			tt.edit(&u)
			evs, err := event.Normalize(u, tt.tenant)
			if err == nil {
				t.Fatalf("Normalize = %+v, want an error", evs)
			}
			if got := errors.Is(err, event.ErrNotNormalized); got != tt.notHandled {
				t.Errorf("errors.Is(%v, ErrNotNormalized) = %v, want %v", err, got, tt.notHandled)
			}
			if got := fault.ClassOf(err); got != fault.Invalid {
				t.Errorf("class of %v = %v, want Invalid", err, got)
			}
		})
	}
}

func TestNormalizeTimestampFallback(t *testing.T) {
	u := units(t, "text")[0]
	u.Item = json.RawMessage(`{"from":"16505551234","id":"wamid.X","type":"text","text":{"body":"x"}}`)
	u.ReceivedAt = "2026-01-02T06:04:05.5+03:00"
	evs, err := event.Normalize(u, testTenant)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "occurred_at", evs[0].OccurredAt, "2026-01-02T03:04:05.5Z")
	eventtest.Validate(t, evs[0])
}

func TestEventRoundTrip(t *testing.T) {
	for name := range contentChecks {
		t.Run(name, func(t *testing.T) {
			for _, ev := range normalizeFile(t, name) {
				b, err := json.Marshal(ev)
				if err != nil {
					t.Fatal(err)
				}
				var back event.Event
				if err := json.Unmarshal(b, &back); err != nil {
					t.Fatal(err)
				}
				b2, err := json.Marshal(back)
				if err != nil {
					t.Fatal(err)
				}
				if !jsonEqual(t, b, b2) {
					t.Errorf("round trip changed the event:\n%s\n%s", b, b2)
				}
			}
		})
	}
}

func FuzzNormalize(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(webhookDir, "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		us, err := whatsapp.Split(body)
		if err != nil {
			return
		}
		for _, u := range us {
			u.ReceivedAt = receivedAt
			evs, err := event.Normalize(u, testTenant)
			if err != nil {
				if evs != nil {
					t.Fatalf("events and error together: %v", err)
				}
				continue
			}
			again, _ := event.Normalize(u, testTenant)
			if !reflect.DeepEqual(evs, again) {
				t.Fatal("Normalize is not deterministic")
			}
			for _, ev := range evs {
				if err := eventtest.Check(mustJSON(t, ev)); err != nil {
					t.Fatalf("event violates the schema: %v\n%s", err, mustJSON(t, ev))
				}
			}
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
