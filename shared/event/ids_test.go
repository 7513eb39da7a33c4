package event_test

import (
	"testing"

	"github.com/tucanlink/wacloud/shared/event"
)

// Every event id derivation is scoped by tenant, and by business number
// where the fact belongs to one: the same Meta ids (Meta's placeholder test
// ids "wamid.ID", media id "1") under two tenants or numbers are two facts.
func TestEventIDsScopedByTenantAndNumber(t *testing.T) {
	derivations := []struct {
		name      string
		id        func(tenant, number string) string
		perNumber bool
	}{
		{"message.received", func(tn, n string) string {
			return event.MessageEventID(event.TypeMessageReceived, tn, n, "wamid.ID", "1749416383")
		}, true},
		{"message.echo", func(tn, n string) string {
			return event.MessageEventID(event.TypeMessageEcho, tn, n, "wamid.ID", "1749416383")
		}, true},
		{"webhook.error", func(tn, n string) string { return event.WebhookErrorEventID(tn, n, "WABA_ID", "ab12") }, true},
		{"message.media_ready", func(tn, n string) string { return event.MediaEventID(event.TypeMediaReady, tn, n, "wamid.ID", "1") }, true},
		{"message.media_failed", func(tn, n string) string { return event.MediaEventID(event.TypeMediaFailed, tn, n, "wamid.ID", "1") }, true},
		{"message.status", func(tn, n string) string { return event.StatusEventID(tn, n, "wamid.ID", event.StatusSent) }, true},
		{"message.status late", func(tn, n string) string { return event.LateStatusEventID(tn, n, "wamid.ID", event.StatusSent) }, true},
		{"payment.status", func(tn, n string) string {
			return event.PaymentEventID(tn, n, "wamid.ID", "captured", "1669279624", "tx-1", "success")
		}, true},
		{"account", func(tn, n string) string {
			return event.AccountEventID("account.account_update", tn, "WABA_ID", n, "digest")
		}, true},
		{"outbound.accepted", func(tn, _ string) string { return event.OutboundEventID(event.TypeOutboundAccepted, tn, "job-1") }, false},
	}
	seen := map[string]string{}
	for _, d := range derivations {
		t.Run(d.name, func(t *testing.T) {
			base := d.id("acme", "100")
			if again := d.id("acme", "100"); again != base {
				t.Errorf("id not stable: %s, then %s", base, again)
			}
			if other := d.id("globex", "100"); other == base {
				t.Errorf("tenants acme and globex share id %s", base)
			}
			if d.perNumber {
				if other := d.id("acme", "200"); other == base {
					t.Errorf("numbers 100 and 200 share id %s", base)
				}
			}
			if prev, ok := seen[base]; ok {
				t.Errorf("id %s also derived by %s", base, prev)
			}
			seen[base] = d.name
		})
	}
}

// sha256_hex has one encoding wherever it appears: Meta's base64 (any
// alphabet, padded or not) and Meta's hex give the same lowercase hex; what
// is not a SHA-256 digest gives nothing.
func TestDigestHex(t *testing.T) {
	const want = "49f227634806293b0995459bc310b593e1400f41591efcf07e9bced335f41942"
	for _, tt := range []struct{ name, in, want string }{
		{"meta base64", "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=", want},
		{"unpadded base64", "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI", want},
		{"url base64", "SfInY0gGKTsJlUWbwxC1k-FAD0FZHvzwfpvO0zX0GUI=", want},
		{"lowercase hex", want, want},
		{"uppercase hex", "49F227634806293B0995459BC310B593E1400F41591EFCF07E9BCED335F41942", want},
		{"truncated base64 (reference sample)", "SfInY0gGKTsJlUWbwxC1k+FAD0FZHv", ""},
		{"placeholder", "a1b2c3d4e5f6...", ""},
		{"empty", "", ""},
	} {
		if got := event.DigestHex(tt.in); got != tt.want {
			t.Errorf("%s: DigestHex(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}
