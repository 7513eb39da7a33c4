package event

import (
	"encoding/json"
	"fmt"

	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// Normalize turns an inbound unit of kind message, echo or error into the
// events the core receives. Statuses and account changes are normalized by
// the status function.
func Normalize(u whatsapp.Unit, tenantID string) ([]Event, error) {
	switch u.Kind {
	case whatsapp.KindMessage, whatsapp.KindEcho:
		var m struct {
			ID        string `json:"id"`
			Type      string `json:"type"`
			Timestamp string `json:"timestamp"`
		}
		if err := json.Unmarshal(u.Item, &m); err != nil {
			return nil, fmt.Errorf("normalize message: %w", err)
		}
		typ := TypeMessageReceived
		if u.Kind == whatsapp.KindEcho {
			typ = TypeMessageEcho
		}
		return []Event{{
			SchemaVersion: SchemaVersion,
			EventID:       ID(typ, u.Metadata.PhoneNumberID, m.ID, m.Timestamp),
			Type:          typ,
			TenantID:      tenantID,
			PhoneNumberID: u.Metadata.PhoneNumberID,
			WABAID:        u.WABAID,
			OccurredAt:    UnixTime(m.Timestamp),
			Contact:       &Contact{WaID: u.Contact()},
			Message:       &Message{ID: m.ID, Kind: m.Type, Raw: u.Item},
		}}, nil
	}
	return nil, fmt.Errorf("normalize: unit kind %q is not handled here", u.Kind)
}
