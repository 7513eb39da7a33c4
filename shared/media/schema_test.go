package media

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/event/eventtest"
)

// The published schema describes what the media function writes and
// rejects results that would mislead the core.
func TestMediaResultSchema(t *testing.T) {
	ready := event.MediaResult{
		MessageID: "wamid.A", MediaID: "1", Kind: KindImage, Bucket: "b", Key: "tenants/acme/media/2025/06/08/wamid.A.jpg",
		Size: 3, SHA256: strings.Repeat("ab", 32), MimeType: "image/jpeg", URL: "https://b.s3.amazonaws.com/x?X-Amz-Signature=1",
		URLExpiresAt: "2025-06-15T12:00:00Z",
	}
	tests := []struct {
		name  string
		typ   string
		edit  func(*event.MediaResult)
		valid bool
	}{
		{"ready", event.TypeMediaReady, func(*event.MediaResult) {}, true},
		{"failed", event.TypeMediaFailed, func(m *event.MediaResult) {
			*m = event.MediaResult{MessageID: "wamid.A", MediaID: "1", Kind: KindImage, Reason: event.FailureTooLarge, Code: "size_limit", Detail: "x"}
		}, true},
		{"sha256 in base64", event.TypeMediaReady, func(m *event.MediaResult) { m.SHA256 = "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=" }, false},
		{"stored without a url", event.TypeMediaReady, func(m *event.MediaResult) { m.URL, m.URLExpiresAt = "", "" }, false},
		{"key outside the media layout", event.TypeMediaReady, func(m *event.MediaResult) { m.Key = "parked/x.jpg" }, false},
		{"unknown reason", event.TypeMediaFailed, func(m *event.MediaResult) { *m = event.MediaResult{MessageID: "w", MediaID: "1", Reason: "oops"} }, false},
		{"retryable without reason", event.TypeMediaFailed, func(m *event.MediaResult) { *m = event.MediaResult{MessageID: "w", MediaID: "1", Retryable: true} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ready
			tt.edit(&m)
			ev := event.Event{SchemaVersion: event.SchemaVersion, EventID: event.ID(tt.typ, "wamid.A", "1"), Type: tt.typ,
				TenantID: "acme", PhoneNumberID: "1", OccurredAt: "2025-06-08T12:00:00Z", Contact: &event.Contact{WaID: "55"}, Media: &m}
			b, _ := json.Marshal(ev)
			err := eventtest.Check(b)
			if got := err == nil; got != tt.valid {
				t.Errorf("Check(%s) = %v, want valid=%v", b, err, tt.valid)
			}
		})
	}
}
