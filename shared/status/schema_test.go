package status_test

import (
	"testing"

	"github.com/tucanlink/wacloud/shared/event/eventtest"
)

// The published sub-schemas reject what the contract rules out.
func TestSchemaRules(t *testing.T) {
	const base = `{"schema_version":"1.0","event_id":"evt_00000000000000000000000000000000","tenant_id":"acme","occurred_at":"2026-03-01T12:00:00Z",`
	tests := []struct {
		name  string
		rest  string
		valid bool
	}{
		{"advance", `"phone_number_id":"100","type":"message.status","status":{"message_id":"w","previous":"sent","current":"read","at":"2026-03-01T12:00:00Z"}}`, true},
		{"accepted is not a status", `"phone_number_id":"100","type":"message.status","status":{"message_id":"w","current":"accepted"}}`, false},
		{"unknown state", `"phone_number_id":"100","type":"message.status","status":{"message_id":"w","current":"pending"}}`, false},
		{"failed without failure", `"phone_number_id":"100","type":"message.status","status":{"message_id":"w","current":"failed"}}`, false},
		{"failed", `"phone_number_id":"100","type":"message.status","status":{"message_id":"w","current":"failed","errors":[{"code":131047}],"failure":{"reason":"window_closed","retryable":false}}}`, true},
		{"errors on a non-failure", `"phone_number_id":"100","type":"message.status","status":{"message_id":"w","current":"read","errors":[{"code":1}]}}`, false},
		{"late", `"phone_number_id":"100","type":"message.status","status":{"message_id":"w","current":"delivered","reported":"sent","late":true,"at":"2026-03-01T12:00:00Z"}}`, true},
		{"late without reported", `"phone_number_id":"100","type":"message.status","status":{"message_id":"w","current":"delivered","late":true}}`, false},
		{"late with a previous", `"phone_number_id":"100","type":"message.status","status":{"message_id":"w","previous":"sent","current":"delivered","reported":"sent","late":true}}`, false},
		{"late failed after read", `"phone_number_id":"100","type":"message.status","status":{"message_id":"w","current":"read","reported":"failed","late":true,"errors":[{"code":131026}],"failure":{"reason":"undeliverable","retryable":false}}}`, true},
		{"late failed without failure", `"phone_number_id":"100","type":"message.status","status":{"message_id":"w","current":"read","reported":"failed","late":true}}`, false},
		{"late sent with errors of a failed current", `"phone_number_id":"100","type":"message.status","status":{"message_id":"w","current":"failed","reported":"sent","late":true,"errors":[{"code":1}],"failure":{"reason":"other","retryable":false}}}`, false},
		{"late false", `"phone_number_id":"100","type":"message.status","status":{"message_id":"w","current":"read","reported":"read","late":false}}`, false},
		{"status without number", `"phone_number_id":"","type":"message.status","status":{"message_id":"w","current":"read"}}`, false},
		{"WABA-level account event", `"phone_number_id":"","type":"account.account_review_update","account":{"field":"account_review_update","event":"APPROVED","value":{"decision":"APPROVED"}}}`, true},
		{"account without value", `"phone_number_id":"","type":"account.account_update","account":{"field":"account_update"}}`, false},
		{"unknown account detail", `"phone_number_id":"","type":"account.account_update","account":{"field":"account_update","value":{},"surprise":1}}`, false},
		{"payment", `"phone_number_id":"1","type":"payment.status","payment":{"message_id":"w","status":"captured","at":"2026-03-01T12:00:00Z","amount":{"value":450,"offset":100},"raw":{}}}`, true},
		{"payment.status without payment", `"phone_number_id":"1","type":"payment.status","status":{"message_id":"w","current":"read"}}`, false},
		{"payment without raw", `"phone_number_id":"1","type":"payment.status","payment":{"message_id":"w","status":"captured","at":"2026-03-01T12:00:00Z"}}`, false},
		{"payment amount as text", `"phone_number_id":"1","type":"payment.status","payment":{"message_id":"w","status":"captured","at":"2026-03-01T12:00:00Z","amount":{"value":"4.50","offset":100},"raw":{}}}`, false},
		{"preference without wa_id", `"phone_number_id":"1","type":"account.user_preferences","account":{"field":"user_preferences","value":{},"user_preference":{"value":"stop"}}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := eventtest.Check([]byte(base + tt.rest))
			if got := err == nil; got != tt.valid {
				t.Errorf("Check(%s) = %v, want valid=%v", tt.rest, err, tt.valid)
			}
		})
	}
}
