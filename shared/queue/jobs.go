package queue

import (
	"encoding/json"
	"fmt"

	"github.com/tucanlink/wacloud/shared/event"
)

// MediaJob asks the media function to fetch one inbound media file and store
// it in S3. The inbound function writes it once the message event is on its
// way to the core.
type MediaJob struct {
	TenantID      string `json:"tenant_id"`
	PhoneNumberID string `json:"phone_number_id"`
	WABAID        string `json:"waba_id,omitempty"`
	MessageID     string `json:"message_id"` // wamid of the message carrying the media
	MediaID       string `json:"media_id"`
	Kind          string `json:"kind"` // image, video, audio, document, sticker
	MimeType      string `json:"mime_type,omitempty"`
	SHA256        string `json:"sha256,omitempty"`
	Filename      string `json:"filename,omitempty"`
	ContactWaID   string `json:"contact_wa_id,omitempty"`
	OccurredAt    string `json:"occurred_at,omitempty"`
}

// EventMessage wraps a core event for the core events queue: grouped by the
// event's order key and deduplicated by its id.
func EventMessage(ev event.Event) (Message, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return Message{}, fmt.Errorf("encode event %s: %w", ev.EventID, err)
	}
	return Message{Body: string(b), GroupID: ev.OrderKey(), DedupID: ev.EventID,
		Attributes: map[string]string{"event-type": ev.Type, "tenant-id": ev.TenantID}}, nil
}
