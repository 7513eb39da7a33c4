package event

// MediaResult says where an inbound media file was stored, or why it could
// not be (message.media_ready / message.media_failed).
type MediaResult struct {
	MessageID string `json:"message_id"` // wamid of the message that carried the media
	MediaID   string `json:"media_id"`
}
