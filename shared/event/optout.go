package event

// TypeContactOptedOut: a contact wrote one of the tenant's stop keywords
// and is now on its suppression list (contact.opted_out).
const TypeContactOptedOut = "contact.opted_out"

// OptOut is how a contact came onto the tenant's suppression list
// (contact.opted_out). The event's contact is who; the inbound message
// itself reaches the core as message.received as usual.
type OptOut struct {
	// Reason is "keyword": the contact wrote a stop keyword.
	Reason string `json:"reason"`
	// Keyword is the tenant's keyword the message matched, as configured.
	Keyword string `json:"keyword"`
	// MessageID is the wamid of the contact's message.
	MessageID string `json:"message_id"`
	At        string `json:"at"` // when the contact wrote (RFC 3339)
	// ReplyJobID is the outbound job of the confirmation reply (its
	// outbound.accepted / outbound.failed carry this job id); empty when
	// no reply was sent.
	ReplyJobID string `json:"reply_job_id,omitempty"`
	// AlreadySuppressed is true when the contact was on the list already
	// (its earlier entry is kept).
	AlreadySuppressed bool `json:"already_suppressed,omitempty"`
}
