package event

import "encoding/json"

// Message is an inbound (or echoed) WhatsApp message, normalized.
// ID is the wamid.
type Message struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Raw keeps the message object exactly as Meta sent it, so the core never
	// loses a field this contract does not model yet.
	Raw json.RawMessage `json:"raw,omitempty"`
}
