package eventtest

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	const valid = `{"schema_version":"1.0","event_id":"evt_0123456789abcdef0123456789abcdef","type":"message.received",` +
		`"tenant_id":"demo","phone_number_id":"100000000000001","occurred_at":"2025-06-08T20:59:43Z",` +
		`"contact":{"wa_id":"16505551234","name":"Sheena"},"message":{"id":"wamid.A","kind":"text","text":{"body":"hi"}}}`
	if err := Check([]byte(valid)); err != nil {
		t.Fatalf("valid event rejected: %v", err)
	}
	tests := []struct {
		name        string
		old, new    string
		wantInError string
	}{
		{"missing event_id", `"event_id":"evt_0123456789abcdef0123456789abcdef",`, ``, "event_id"},
		{"event_id not derived", `evt_0123456789abcdef0123456789abcdef`, `abc`, "event_id"},
		{"occurred_at not RFC 3339", `2025-06-08T20:59:43Z`, `1749416383`, "occurred_at"},
		{"unknown type", `"message.received"`, `"message.exploded"`, "type"},
		{"message event without message", `,"message":{"id":"wamid.A","kind":"text","text":{"body":"hi"}}`, ``, "message"},
		{"message without id", `"id":"wamid.A",`, ``, "id"},
		{"unknown top-level field", `"tenant_id":"demo"`, `"tenant_id":"demo","extra":1`, "extra"},
		{"unknown message field", `"kind":"text"`, `"kind":"text","colour":"red"`, "colour"},
		{"contact without any id", `"wa_id":"16505551234",`, ``, "contact"},
		{"empty tenant", `"tenant_id":"demo"`, `"tenant_id":""`, "tenant_id"},
		{"major version 2", `"1.0"`, `"2.0"`, "schema_version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(valid, tt.old, tt.new, 1)
			if doc == valid {
				t.Fatalf("replacing %q changed nothing", tt.old)
			}
			err := Check([]byte(doc))
			if err == nil {
				t.Fatalf("Check accepted %s", doc)
			}
			if !strings.Contains(err.Error(), tt.wantInError) {
				t.Errorf("error %q does not mention %q", err, tt.wantInError)
			}
		})
	}
}

func TestCheckOtherAreasEvents(t *testing.T) {
	// The sub-schemas of other areas start loose but still require their key
	// fields.
	base := `{"schema_version":"1.0","event_id":"evt_0123456789abcdef0123456789abcdef","tenant_id":"demo","phone_number_id":"1","occurred_at":"2025-06-08T20:59:43Z",`
	tests := []struct {
		name  string
		rest  string
		valid bool
	}{
		{"status", `"type":"message.status","status":{"message_id":"wamid.A","current":"read"}}`, true},
		{"status without detail", `"type":"message.status"}`, false},
		{"media ready", `"type":"message.media_ready","media":{"message_id":"wamid.A","media_id":"1"}}`, true},
		{"outbound failed", `"type":"outbound.failed","outbound":{"job_id":"j1","reason":"window_closed","retryable":false}}`, true},
		{"account change", `"type":"account.message_template_status_update","account":{"field":"message_template_status_update","value":{}}}`, true},
		{"account type without account", `"type":"account.account_update"}`, false},
		{"webhook error", `"type":"webhook.error","errors":[{"code":130429,"title":"Rate limit hit"}]}`, true},
		{"webhook error without errors", `"type":"webhook.error"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check([]byte(base + tt.rest))
			if got := err == nil; got != tt.valid {
				t.Errorf("Check(%s) = %v, want valid=%v", tt.rest, err, tt.valid)
			}
		})
	}
}
