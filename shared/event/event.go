// Package event is the versioned contract between the connector and the
// TucanLink core: every fact the connector reports (a message received, a
// send accepted or failed, a status that advanced, media that is ready, an
// account change) is one Event. The top-level fields are fixed because the
// core keys on them; schema/event.schema.json publishes the whole contract.
//
// It imports only the standard library and the domain packages whatsapp (the
// units it normalizes) and fault (to classify bad input).
package event

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// SchemaVersion is the version of the event contract this code writes.
// A change that removes or renames a field bumps the major number.
const SchemaVersion = "1.3"

// Event types.
const (
	TypeMessageReceived  = "message.received"    // inbound message from a contact
	TypeMessageEcho      = "message.echo"        // message the business sent from another tool (WhatsApp Business app)
	TypeMediaReady       = "message.media_ready" // inbound media stored in S3
	TypeMediaFailed      = "message.media_failed"
	TypeStatusUpdated    = "message.status"    // delivery state of a sent message advanced
	TypeOutboundAccepted = "outbound.accepted" // Meta accepted an outbound job
	TypeOutboundFailed   = "outbound.failed"   // an outbound job failed
	TypeWebhookError     = "webhook.error"     // value-level errors[] Meta reported
	TypePaymentStatus    = "payment.status"    // payment status of an order-details message (Payments API)
	TypeAccountPrefix    = "account."          // account.<field>: template, quality, account changes
)

// Event is one fact for the core. Exactly one of the detail fields is set,
// according to Type.
type Event struct {
	SchemaVersion string `json:"schema_version"`
	EventID       string `json:"event_id"`
	Type          string `json:"type"`
	TenantID      string `json:"tenant_id"`
	PhoneNumberID string `json:"phone_number_id"`
	WABAID        string `json:"waba_id,omitempty"`
	OccurredAt    string `json:"occurred_at"`
	// Contact is the WhatsApp user the event is about, when there is one.
	Contact *Contact `json:"contact,omitempty"`

	Message  *Message        `json:"message,omitempty"`
	Media    *MediaResult    `json:"media,omitempty"`
	Status   *StatusChange   `json:"status,omitempty"`
	Outbound *OutboundResult `json:"outbound,omitempty"`
	Account  *AccountChange  `json:"account,omitempty"`
	Payment  *PaymentStatus  `json:"payment,omitempty"`
	OptOut   *OptOut         `json:"opt_out,omitempty"`
	Campaign *CampaignStatus `json:"campaign,omitempty"`
	Errors   []Error         `json:"errors,omitempty"`
}

// Contact is a WhatsApp user.
type Contact struct {
	WaID   string `json:"wa_id,omitempty"`
	UserID string `json:"user_id,omitempty"` // business-scoped user id (BSUID), when Meta sends one
	// ParentUserID is the BSUID shared by a business portfolio's apps.
	ParentUserID string `json:"parent_user_id,omitempty"`
	Name         string `json:"name,omitempty"`
	Username     string `json:"username,omitempty"`
}

// Error is an error Meta reported, kept with its code.
type Error struct {
	Code    int    `json:"code"`
	Title   string `json:"title,omitempty"`
	Message string `json:"message,omitempty"`
	Details string `json:"details,omitempty"`
	Href    string `json:"href,omitempty"`
}

// OrderKey groups events whose relative order the core must see preserved:
// events about the same tenant, business number and contact.
func (e Event) OrderKey() string {
	if e.Contact != nil {
		if id := e.Contact.WaID; id != "" {
			return e.TenantID + ":" + e.PhoneNumberID + ":" + id
		}
		if id := e.Contact.UserID; id != "" {
			return e.TenantID + ":" + e.PhoneNumberID + ":" + id
		}
	}
	return e.TenantID + ":" + e.PhoneNumberID
}

// ID derives a stable event id from the fields that identify a fact, so the
// same Meta event always yields the same id however often it is delivered.
func ID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x1f")))
	return "evt_" + hex.EncodeToString(sum[:16])
}

// maxUnix is 9999-12-31T23:59:59Z, the last instant RFC 3339 can write.
const maxUnix = 253402300799

// UnixTime converts one of Meta's decimal Unix-second timestamps to RFC 3339
// in UTC. Surrounding spaces and a fractional part ("1749416383.0", as a
// JSON float gives it) are tolerated; the fraction is dropped. It returns ""
// when ts is not a number or lies beyond year 9999.
func UnixTime(ts string) string {
	ts = strings.TrimSpace(ts)
	if whole, frac, ok := strings.Cut(ts, "."); ok && frac != "" && strings.Trim(frac, "0123456789") == "" {
		ts = whole
	}
	if ts == "" || len(ts) > 12 {
		return ""
	}
	var sec int64
	for _, r := range ts {
		if r < '0' || r > '9' {
			return ""
		}
		sec = sec*10 + int64(r-'0')
	}
	if sec > maxUnix {
		return ""
	}
	return time.Unix(sec, 0).UTC().Format(time.RFC3339)
}
