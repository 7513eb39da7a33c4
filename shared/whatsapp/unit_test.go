package whatsapp

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readPayload(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "webhooks", name+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func splitFile(tb testing.TB, name string) []Unit {
	tb.Helper()
	units, err := Split(readPayload(tb, name))
	if err != nil {
		tb.Fatalf("Split(%s): %v", name, err)
	}
	return units
}

// splitCounts lists every reference payload with the number of units of each
// kind it holds, counted by reading the files: messages[], message_echoes[],
// statuses[] and errors[] items, and one change for a change that has none.
var splitCounts = []struct {
	file                                string
	message, echo, status, errs, change int
}{
	{"account_review_update", 0, 0, 0, 0, 1},
	{"account_update_account_restriction", 0, 0, 0, 0, 1},
	{"account_update_account_violation", 0, 0, 0, 0, 1},
	{"account_update_disabled_update", 0, 0, 0, 0, 1},
	{"account_update_partner_added", 0, 0, 0, 0, 1},
	{"account_update_restriction_placeholders", 0, 0, 0, 0, 1},
	{"account_update_verified_account", 0, 0, 0, 0, 1},
	{"account_update_volume_tier_update", 0, 0, 0, 0, 1},
	{"audio", 1, 0, 0, 0, 0},
	{"audio_voice", 1, 0, 0, 0, 0},
	{"batch_one_entry_two_changes", 2, 0, 0, 0, 0},
	{"button_quick_reply_no_context", 1, 0, 0, 0, 0},
	{"button_template_quick_reply", 1, 0, 0, 0, 0},
	{"button_carousel_quick_reply", 1, 0, 0, 0, 0},
	{"interactive_nfm_reply_address", 1, 0, 0, 0, 0},
	{"location_reply_to_request", 1, 0, 0, 0, 0},
	{"button_with_context_and_referral", 1, 0, 0, 0, 0},
	{"contacts", 1, 0, 0, 0, 0},
	{"contacts_multiple", 1, 0, 0, 0, 0},
	{"document", 1, 0, 0, 0, 0},
	{"edit_message", 1, 0, 0, 0, 0},
	{"errors_value_level_130429", 0, 0, 0, 1, 0},
	{"group_lifecycle_update_group_create", 0, 0, 0, 0, 1},
	{"group_participants_update_removed", 0, 0, 0, 0, 1},
	{"group_settings_update", 0, 0, 0, 0, 1},
	{"image", 1, 0, 0, 0, 0},
	{"image_with_url", 1, 0, 0, 0, 0},
	{"interactive_button_reply", 1, 0, 0, 0, 0},
	{"interactive_list_reply", 1, 0, 0, 0, 0},
	{"interactive_list_reply_with_description", 1, 0, 0, 0, 0},
	{"interactive_nfm_reply_flow", 1, 0, 0, 0, 0},
	{"interactive_nfm_reply_flow_netflie", 1, 0, 0, 0, 0},
	{"interactive_with_value_errors_131000", 1, 0, 0, 1, 0},
	{"location", 1, 0, 0, 0, 0},
	{"location_current", 1, 0, 0, 0, 0},
	{"message_template_quality_update", 0, 0, 0, 0, 1},
	{"message_template_status_update_approved", 0, 0, 0, 0, 1},
	{"message_template_status_update_flagged_disable_info", 0, 0, 0, 0, 1},
	{"message_template_status_update_rejected_invalid_format", 0, 0, 0, 0, 1},
	{"message_template_status_update_rejected_scam", 0, 0, 0, 0, 1},
	{"no_messages_contacts_only", 0, 0, 0, 0, 1},
	{"order", 1, 0, 0, 0, 0},
	{"order_multi_items", 1, 0, 0, 0, 0},
	{"phone_number_name_update", 0, 0, 0, 0, 1},
	{"phone_number_quality_update", 0, 0, 0, 0, 1},
	{"phone_number_quality_update_throughput_upgrade", 0, 0, 0, 0, 1},
	{"reaction", 1, 0, 0, 0, 0},
	{"reaction_removed", 1, 0, 0, 0, 0},
	{"referral_ad_placeholders", 1, 0, 0, 0, 0},
	{"referral_click_to_whatsapp_ad", 1, 0, 0, 0, 0},
	{"revoke_deleted_message", 1, 0, 0, 0, 0},
	{"smb_message_echoes_text", 0, 1, 0, 0, 0},
	{"status_delivered", 0, 0, 1, 0, 0},
	{"status_delivered_pricing_marketing", 0, 0, 1, 0, 0},
	{"status_delivered_v25", 0, 0, 1, 0, 0},
	{"status_failed_130472", 0, 0, 1, 0, 0},
	{"status_failed_131047_reengagement", 0, 0, 1, 0, 0},
	{"status_failed_131053_media_upload", 0, 0, 1, 0, 0},
	{"status_failed_131053_minimal", 0, 0, 1, 0, 0},
	{"status_played", 0, 0, 1, 0, 0},
	{"status_read", 0, 0, 1, 0, 0},
	{"status_read_bindambc", 0, 0, 1, 0, 0},
	{"status_read_group", 0, 0, 1, 0, 0},
	{"status_sent", 0, 0, 1, 0, 0},
	{"status_sent_biz_opaque_callback_data", 0, 0, 1, 0, 0},
	{"status_sent_cbp_business_initiated", 0, 0, 1, 0, 0},
	{"status_sent_pmp_v25", 0, 0, 1, 0, 0},
	{"sticker", 1, 0, 0, 0, 0},
	{"sticker_animated", 1, 0, 0, 0, 0},
	{"system_identity_changed", 1, 0, 0, 0, 0},
	{"system_user_changed_number", 1, 0, 0, 0, 0},
	{"template_category_update", 0, 0, 0, 0, 1},
	{"text", 1, 0, 0, 0, 0},
	{"text_context_referred_product", 1, 0, 0, 0, 0},
	{"text_frequently_forwarded", 1, 0, 0, 0, 0},
	{"text_meta_dashboard_test_sample", 1, 0, 0, 0, 0},
	{"text_reply_context", 1, 0, 0, 0, 0},
	{"text_v25_username_bsuid", 1, 0, 0, 0, 0},
	{"text_with_bsuid", 1, 0, 0, 0, 0},
	{"unknown_with_errors", 1, 0, 0, 0, 0},
	{"unsupported", 1, 0, 0, 0, 0},
	{"unsupported_with_type", 1, 0, 0, 0, 0},
	{"user_preferences_marketing_resume", 0, 0, 0, 0, 1},
	{"video", 1, 0, 0, 0, 0},
	{"video_bindambc", 1, 0, 0, 0, 0},
}

func TestSplitCountsEveryReferencePayload(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "webhooks", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, c := range splitCounts {
		listed[c.file] = true
	}
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".json"); !listed[name] {
			t.Errorf("testdata/webhooks/%s.json has no row in splitCounts", name)
		}
	}
	if len(files) != len(splitCounts) {
		t.Errorf("%d payload files, %d rows in splitCounts", len(files), len(splitCounts))
	}

	for _, tt := range splitCounts {
		t.Run(tt.file, func(t *testing.T) {
			units := splitFile(t, tt.file)
			got := map[string]int{}
			for i, u := range units {
				got[u.Kind]++
				if u.Seq != i {
					t.Errorf("unit %d has Seq %d", i, u.Seq)
				}
				if u.Version != UnitVersion {
					t.Errorf("unit %d has Version %d, want %d", i, u.Version, UnitVersion)
				}
				if u.WABAID == "" || u.Field == "" {
					t.Errorf("unit %d lacks waba_id or field: %+v", i, u)
				}
				switch u.Kind {
				case KindChange:
					if len(u.Value) == 0 || len(u.Item) != 0 {
						t.Errorf("change unit %d: value %d bytes, item %d bytes", i, len(u.Value), len(u.Item))
					}
				default:
					if !json.Valid(u.Item) || len(u.Value) != 0 {
						t.Errorf("%s unit %d: item %q, value %d bytes", u.Kind, i, u.Item, len(u.Value))
					}
				}
			}
			want := map[string]int{KindMessage: tt.message, KindEcho: tt.echo, KindStatus: tt.status, KindError: tt.errs, KindChange: tt.change}
			for k, n := range want {
				if got[k] != n {
					t.Errorf("%s units = %d, want %d", k, got[k], n)
				}
			}
			if len(units) != tt.message+tt.echo+tt.status+tt.errs+tt.change {
				t.Errorf("%d units in all, want %d", len(units), tt.message+tt.echo+tt.status+tt.errs+tt.change)
			}
		})
	}
}

func TestSplitKeepsItemsAndOrder(t *testing.T) {
	units := splitFile(t, "batch_one_entry_two_changes")
	var bodies []string
	for _, u := range units {
		var m struct {
			Timestamp string `json:"timestamp"`
			Text      struct {
				Body string `json:"body"`
			} `json:"text"`
		}
		if err := json.Unmarshal(u.Item, &m); err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, m.Text.Body+"@"+m.Timestamp)
		if got, want := u.Metadata.PhoneNumberID, "PHONE_NUMBER_ID"; got != want {
			t.Errorf("phone_number_id = %q, want %q", got, want)
		}
		if got, want := u.WABAID, "WHATSAPP_BUSINESS_ACCOUNT_ID"; got != want {
			t.Errorf("waba_id = %q, want %q", got, want)
		}
	}
	if got, want := strings.Join(bodies, ","), "MESSAGE_BODY@1669233778,MESSAGE_BODY2@1669233779"; got != want {
		t.Errorf("items = %s, want %s", got, want)
	}

	// A message and a value-level error in the same change: both kept, the
	// message first.
	units = splitFile(t, "interactive_with_value_errors_131000")
	if got, want := units[0].Kind+","+units[1].Kind, KindMessage+","+KindError; got != want {
		t.Errorf("kinds = %s, want %s", got, want)
	}
	var e struct {
		Code int `json:"code"`
	}
	if err := json.Unmarshal(units[1].Item, &e); err != nil || e.Code != 131000 {
		t.Errorf("error item = %s (%v), want code 131000", units[1].Item, err)
	}

	// Statuses carry the change's contacts, which name BSUID-only users.
	units = splitFile(t, "status_delivered_v25")
	if got := len(units[0].Contacts); got != 1 {
		t.Errorf("status unit has %d contacts, want 1", got)
	}
}

func TestSplitRejects(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		notWhatsApp bool
	}{
		{"not json", `{"object":`, false},
		{"array", `[]`, false},
		{"other object", `{"object":"page","entry":[{"id":"1","changes":[{"field":"feed","value":{}}]}]}`, true},
		{"no entries", `{"object":"whatsapp_business_account","entry":[]}`, true},
		{"entry without changes", `{"object":"whatsapp_business_account","entry":[{"id":"1"}]}`, true},
		{"messages not an array", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":{}}}]}]}`, false},
		// encoding/json would read both copies into one field, the later
		// winning: which sender or number is meant is ambiguous.
		{"keys differing only in case", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",
			"metadata":{"display_phone_number":"15550000001","phone_number_id":"100000000000001"},
			"messages":[{"from":"5511999990001","From":"5511999990002","id":"wamid.A","timestamp":"1700000000","type":"text","text":{"body":"hi"}}]}}]}]}`, false},
		{"key given twice", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",
			"metadata":{"display_phone_number":"15550000001","phone_number_id":"100000000000001","phone_number_id":"100000000000002"},
			"messages":[{"from":"5511999990001","id":"wamid.A","timestamp":"1700000000","type":"text","text":{"body":"hi"}}]}}]}]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			units, err := Split([]byte(tt.body))
			if err == nil {
				t.Fatalf("Split(%s) = %d units, want an error", tt.body, len(units))
			}
			if got := errors.Is(err, ErrNotWhatsApp); got != tt.notWhatsApp {
				t.Errorf("Split(%s) error %v: errors.Is(ErrNotWhatsApp) = %v, want %v", tt.body, err, got, tt.notWhatsApp)
			}
		})
	}
}

// TestSplitAcceptsUnknownKeys: Meta adds fields to its payloads over
// time; a key Split does not know is kept (in Item), not refused.
func TestSplitAcceptsUnknownKeys(t *testing.T) {
	body := `{"object":"whatsapp_business_account","new_top":1,"entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",
		"metadata":{"display_phone_number":"15550000001","phone_number_id":"100000000000001","new_meta":true},
		"messages":[{"from":"5511999990001","id":"wamid.A","timestamp":"1700000000","type":"text","text":{"body":"hi"},"new_field":{"x":1}}]}}]}]}`
	units, err := Split([]byte(body))
	if err != nil || len(units) != 1 {
		t.Fatalf("Split = %d units, %v; want 1", len(units), err)
	}
	if !strings.Contains(string(units[0].Item), "new_field") {
		t.Errorf("unit item %s lost the unknown key", units[0].Item)
	}
}

func TestContactAndOrderKey(t *testing.T) {
	tests := []struct {
		file         string
		seq          int
		wantContact  string
		wantOrderKey string
	}{
		{"text", 0, "16505551234", "106540352242922:16505551234"},
		{"text_with_bsuid", 0, "972987654321", "1122334455667:972987654321"},
		{"text_v25_username_bsuid", 0, "16315551181", "123456123:16315551181"},
		{"status_sent", 0, "972987654321", "1122334455667:972987654321"},
		{"status_failed_131047_reengagement", 0, "15555558888", "15555559999:15555558888"},
		{"status_read_group", 0, "fowefinoewcnw", "<BUSINESS_PHONE_NUMBER_ID>:fowefinoewcnw"},
		{"smb_message_echoes_text", 0, "<WHATSAPP_USER_PHONE_NUMBER>", "1122334455667:<WHATSAPP_USER_PHONE_NUMBER>"},
		{"errors_value_level_130429", 0, "", "106540352242922"},
		{"no_messages_contacts_only", 0, "16315551181", "123456123:16315551181"},
		{"account_update_verified_account", 0, "", "waba:whatsapp-business-account-id"},
		{"message_template_status_update_approved", 0, "", "waba:102290129340398"},
		{"group_settings_update", 0, "", "106540352242922"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			u := splitFile(t, tt.file)[tt.seq]
			if got := u.Contact(); got != tt.wantContact {
				t.Errorf("Contact() = %q, want %q", got, tt.wantContact)
			}
			if got := u.OrderKey(); got != tt.wantOrderKey {
				t.Errorf("OrderKey() = %q, want %q", got, tt.wantOrderKey)
			}
		})
	}
}

func TestContactBSUIDOnly(t *testing.T) {
	// Users who hide their number appear only by user id.
	tests := []struct {
		name string
		u    Unit
		want string
	}{
		{"message from_user_id", Unit{Kind: KindMessage, Item: json.RawMessage(`{"from_user_id":"US.1","id":"w"}`)}, "US.1"},
		{"echo to_user_id", Unit{Kind: KindEcho, Item: json.RawMessage(`{"from":"15550001","to_user_id":"US.2"}`)}, "US.2"},
		{"echo prefers to over from", Unit{Kind: KindEcho, Item: json.RawMessage(`{"from":"15550001","to":"15550002"}`)}, "15550002"},
		{"status recipient_user_id", Unit{Kind: KindStatus, Item: json.RawMessage(`{"id":"w","recipient_user_id":"US.3"}`)}, "US.3"},
		{"contacts user_id", Unit{Kind: KindChange, Contacts: []json.RawMessage{json.RawMessage(`{"user_id":"US.4"}`)}}, "US.4"},
		{"from of the wrong type", Unit{Kind: KindMessage, Item: json.RawMessage(`{"from":1,"from_user_id":"US.5"}`)}, "US.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.u.Contact(); got != tt.want {
				t.Errorf("Contact() of %s = %q, want %q", tt.u.Item, got, tt.want)
			}
		})
	}
}

func FuzzSplit(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "webhooks", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":null}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		units, err := Split(body)
		if err != nil {
			if units != nil {
				t.Fatalf("Split returned %d units with error %v", len(units), err)
			}
			return
		}
		if len(units) == 0 {
			t.Fatal("Split returned no units and no error")
		}
		again, err := Split(body)
		if err != nil || !reflect.DeepEqual(units, again) {
			t.Fatalf("Split is not deterministic: %v", err)
		}
		for _, u := range units {
			_ = u.OrderKey()
			b, err := json.Marshal(u)
			if err != nil {
				t.Fatalf("marshal unit: %v", err)
			}
			var back Unit
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("unit does not round-trip: %v", err)
			}
			if back.Contact() != u.Contact() {
				t.Fatalf("contact changed over a round trip: %q vs %q", back.Contact(), u.Contact())
			}
		}
	})
}
