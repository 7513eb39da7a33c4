package event

// Reasons an outbound job failed (OutboundResult.Reason).
const (
	// ReasonGraphError: Meta refused the message; Code, Title and Details are Meta's.
	ReasonGraphError = "graph_error"
	// ReasonInvalidJob: the job broke the contract or Meta's limits; it never reached Meta.
	ReasonInvalidJob = "invalid_job"
	// ReasonTenantMismatch: the job named a number, or reused a job id, of another tenant.
	ReasonTenantMismatch = "tenant_mismatch"
	// ReasonTenantUnavailable: the tenant is disabled or its credentials cannot be read.
	ReasonTenantUnavailable = "tenant_unavailable"
	// ReasonWindowClosed: a free-form message outside the 24-hour customer service window.
	ReasonWindowClosed = "window_closed"
	// ReasonMediaUnavailable: an s3:// media reference could not be resolved.
	ReasonMediaUnavailable = "media_unavailable"
	// ReasonTemplateInvalid: the template job does not fit the template as
	// the catalog holds it (not APPROVED, or parameters its components do
	// not take); it never reached Meta. Details says what is wrong.
	ReasonTemplateInvalid = "template_invalid"
	// ReasonOutcomeUnknown: the request may have reached Meta but no answer was
	// recorded; it is not sent again under this job id.
	ReasonOutcomeUnknown = "outcome_unknown"
	// ReasonSuppressed: a template job to a contact on the tenant's
	// suppression list (opted out); it never reached Meta.
	ReasonSuppressed = "suppressed"
	// ReasonRetriesExhausted: transient failures (or throttling) lasted until
	// the job's receive budget ran out.
	ReasonRetriesExhausted = "retries_exhausted"
	// ReasonMessagingLimit: a business-initiated message (a template outside
	// the 24-hour window) to a new recipient would exceed the portfolio's
	// messaging-limit tier in the rolling 24 hours; it never reached Meta.
	// Retryable: capacity frees later (details says when).
	ReasonMessagingLimit = "messaging_limit"
)

// OutboundResult is what happened to an outbound job: accepted by Meta
// (MessageID set) or failed (Reason set, with Meta's Code, Title and
// Details when Meta refused it, and whether retrying could help).
type OutboundResult struct {
	JobID       string `json:"job_id"`
	ClientRef   string `json:"client_ref,omitempty"`
	MessageType string `json:"message_type,omitempty"` // the job's type
	MessageID   string `json:"message_id,omitempty"`   // wamid, when Meta accepted the job
	// CampaignID is the campaign whose row the job is.
	CampaignID string `json:"campaign_id,omitempty"`

	Reason    string `json:"reason,omitempty"`
	Code      int    `json:"code,omitempty"` // Meta's error code
	Title     string `json:"title,omitempty"`
	Details   string `json:"details,omitempty"`
	Retryable *bool  `json:"retryable,omitempty"` // set on failures
	// Attempts is how many times the job was received from the queue.
	Attempts int `json:"attempts,omitempty"`
}
