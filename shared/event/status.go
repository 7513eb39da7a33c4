package event

// StatusChange is a delivery state of a sent message that really advanced.
type StatusChange struct {
	MessageID string `json:"message_id"` // wamid
	Previous  string `json:"previous,omitempty"`
	Current   string `json:"current"`
}
