package event

// OutboundResult is what happened to an outbound job.
type OutboundResult struct {
	JobID     string `json:"job_id"`
	ClientRef string `json:"client_ref,omitempty"`
	MessageID string `json:"message_id,omitempty"` // wamid, when Meta accepted the job
}
