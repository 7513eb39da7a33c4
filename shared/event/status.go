package event

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Delivery states of an outbound message, as Meta names them, plus
// "accepted" (Meta answered the send request, no webhook yet).
const (
	StatusAccepted  = "accepted"
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusFailed    = "failed"
	StatusRead      = "read"
	StatusPlayed    = "played"
	StatusDeleted   = "deleted"
)

// StatusChange is a delivery state Meta reported for a sent message
// (message.status). Reported is that state. Usually it advanced: Current
// is Reported and ranks above Previous, in the total order documented in
// docs/status.md. When Meta's report of a state arrives after a higher one
// became current (a retried sent overtaken by delivered), the event says
// Late: Current stays the higher state (a status never goes backwards) and
// Reported, At and Timestamps carry the late state, so the core learns
// every state Meta reported.
type StatusChange struct {
	MessageID string `json:"message_id"` // wamid
	// Previous is the state Current replaced; absent when the status created
	// the record, and on late events (nothing was replaced).
	Previous string `json:"previous,omitempty"`
	Current  string `json:"current"`
	// Reported is the state this event reports: Current when it advanced,
	// a lower state when Late.
	Reported string `json:"reported,omitempty"`
	// Late is true when Reported arrived after Current had been reached:
	// the message's state did not change.
	Late bool `json:"late,omitempty"`
	// At is when Meta says the message reached Reported (RFC 3339).
	At string `json:"at,omitempty"`
	// JobID and ClientRef identify the outbound job, when this system sent
	// the message.
	JobID     string `json:"job_id,omitempty"`
	ClientRef string `json:"client_ref,omitempty"`
	// CampaignID is the campaign the message was sent for.
	CampaignID string `json:"campaign_id,omitempty"`
	// External is true for a message this system has no record of sending
	// (for example sent from another tool on the same number).
	External bool `json:"external,omitempty"`
	// Recipient is Meta's recipient_id: the contact's wa_id, or a group id
	// when RecipientType is "group".
	Recipient       string `json:"recipient,omitempty"`
	RecipientUserID string `json:"recipient_user_id,omitempty"` // business-scoped user id
	RecipientType   string `json:"recipient_type,omitempty"`    // "group" for group messages
	// Participant is the group member a group status is about.
	Participant string `json:"participant,omitempty"`
	// Timestamps holds when each state was reached, as far as known (RFC 3339).
	Timestamps   map[string]string `json:"timestamps,omitempty"`
	Conversation *Conversation     `json:"conversation,omitempty"`
	Pricing      *Pricing          `json:"pricing,omitempty"`
	// BizOpaqueCallbackData is the tracking string the sender attached.
	BizOpaqueCallbackData string `json:"biz_opaque_callback_data,omitempty"`
	// Errors are Meta's errors, when Reported is "failed".
	Errors []Error `json:"errors,omitempty"`
	// Failure classifies Errors, when Reported is "failed".
	Failure *Failure `json:"failure,omitempty"`
}

// Conversation is the conversation Meta billed the message in.
type Conversation struct {
	ID         string `json:"id,omitempty"`
	OriginType string `json:"origin_type,omitempty"`
	ExpiresAt  string `json:"expires_at,omitempty"` // RFC 3339
}

// Pricing is how Meta prices the message.
type Pricing struct {
	Billable *bool  `json:"billable,omitempty"`
	Model    string `json:"pricing_model,omitempty"` // CBP, PMP
	Category string `json:"category,omitempty"`      // marketing, utility, authentication, service, ...
	Type     string `json:"type,omitempty"`          // regular, free_customer_service, free_entry_point
}

// Failure says what a failed status means for the sender and the core.
type Failure struct {
	// Reason is a stable name for Meta's error code (see FailureReasons);
	// "other" for codes without one.
	Reason string `json:"reason"`
	// Retryable is true when sending the same message again later can work.
	Retryable bool `json:"retryable"`
}

// FailureReasons names the error codes of failed statuses that the core can
// act on. Codes not listed are reported as "other", not retryable.
var FailureReasons = map[int]Failure{
	130429: {"throughput_limited", true},
	130472: {"user_in_experiment", false},
	131000: {"meta_error", true},
	131016: {"service_unavailable", true},
	131026: {"undeliverable", false},
	131031: {"account_locked", false},
	131042: {"payment_issue", false},
	131047: {"window_closed", false},
	131048: {"spam_rate_limited", false},
	131049: {"marketing_limit", true},
	131050: {"marketing_stopped_by_user", false},
	131051: {"unsupported_type", false},
	131052: {"media_download_error", false},
	131053: {"media_upload_error", false},
	131056: {"pair_rate_limited", true},
}

// ClassifyFailure returns the failure of the first error with a known code,
// or "other".
func ClassifyFailure(errs []Error) *Failure {
	for _, e := range errs {
		if f, ok := FailureReasons[e.Code]; ok {
			return &f
		}
	}
	return &Failure{Reason: "other"}
}

// StatusItem is one element of a webhook's statuses[], as Meta sent it.
type StatusItem struct {
	ID                    string
	Status                string
	Timestamp             string // RFC 3339; "" when Meta gave none
	RecipientID           string
	RecipientUserID       string
	RecipientType         string
	Participant           string
	ParticipantUserID     string
	BizOpaqueCallbackData string
	Conversation          *Conversation
	Pricing               *Pricing
	Errors                []Error
}

type metaStatus struct {
	ID                    flexString `json:"id"`
	Status                string     `json:"status"`
	Timestamp             flexString `json:"timestamp"`
	RecipientID           flexString `json:"recipient_id"`
	RecipientUserID       string     `json:"recipient_user_id"`
	RecipientType         string     `json:"recipient_type"`
	Participant           flexString `json:"recipient_participant_id"`
	ParticipantUserID     string     `json:"recipient_participant_user_id"`
	BizOpaqueCallbackData string     `json:"biz_opaque_callback_data"`
	Conversation          *struct {
		ID         string     `json:"id"`
		Expiration flexString `json:"expiration_timestamp"`
		Origin     struct {
			Type string `json:"type"`
		} `json:"origin"`
	} `json:"conversation"`
	Pricing *struct {
		Billable *flexBool `json:"billable"`
		Model    string    `json:"pricing_model"`
		Category string    `json:"category"`
		Type     string    `json:"type"`
	} `json:"pricing"`
	Errors []metaError `json:"errors"`
}

// ParseStatus reads one statuses[] item. It fails when the item is not a
// status object or has no id or status.
func ParseStatus(item []byte) (StatusItem, error) {
	var m metaStatus
	if err := json.Unmarshal(item, &m); err != nil {
		return StatusItem{}, fmt.Errorf("parse status item: %w", err)
	}
	if m.ID == "" || m.Status == "" {
		return StatusItem{}, fmt.Errorf("parse status item: id %q, status %q: both are required", m.ID, m.Status)
	}
	s := StatusItem{
		ID: string(m.ID), Status: strings.ToLower(m.Status), Timestamp: UnixTime(string(m.Timestamp)),
		RecipientID: string(m.RecipientID), RecipientUserID: m.RecipientUserID, RecipientType: m.RecipientType,
		Participant: string(m.Participant), ParticipantUserID: m.ParticipantUserID,
		BizOpaqueCallbackData: m.BizOpaqueCallbackData,
	}
	if c := m.Conversation; c != nil {
		s.Conversation = &Conversation{ID: c.ID, OriginType: c.Origin.Type, ExpiresAt: UnixTime(string(c.Expiration))}
	}
	if p := m.Pricing; p != nil {
		s.Pricing = &Pricing{Model: p.Model, Category: p.Category, Type: p.Type}
		if p.Billable != nil {
			b := bool(*p.Billable)
			s.Pricing.Billable = &b
		}
	}
	for _, e := range m.Errors {
		s.Errors = append(s.Errors, e.event())
	}
	return s, nil
}

// Recipient is the id the status is about: the phone number (or group id),
// else the business-scoped user id.
func (s StatusItem) Recipient() string {
	if s.RecipientID != "" {
		return s.RecipientID
	}
	return s.RecipientUserID
}
