package whatsapp

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tucanlink/wacloud/shared/strictjson"
)

// Kinds of Unit.
const (
	KindMessage = "message" // one element of value.messages[]
	KindStatus  = "status"  // one element of value.statuses[]
	KindError   = "error"   // one element of value.errors[] (value-level errors)
	KindEcho    = "echo"    // one element of value.message_echoes[] (sent from the WhatsApp Business app)
	KindChange  = "change"  // a change with no messages, statuses or errors (account, template, quality... events)
)

// ObjectWABA is the only object the connector accepts.
const ObjectWABA = "whatsapp_business_account"

// Payload is the top level of a webhook POST body.
type Payload struct {
	Object string  `json:"object"`
	Entry  []Entry `json:"entry"`
}

// Entry is one element of payload.entry[]; ID is the WABA id.
type Entry struct {
	ID      string   `json:"id"`
	Time    int64    `json:"time,omitempty"`
	Changes []Change `json:"changes"`
}

// Change is one element of entry.changes[].
type Change struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

// Metadata identifies the business number a messages change is about.
type Metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

// messagesValue is the part of a messages change Split needs to read.
type messagesValue struct {
	MessagingProduct string            `json:"messaging_product,omitempty"`
	Metadata         Metadata          `json:"metadata"`
	Contacts         []json.RawMessage `json:"contacts,omitempty"`
	Messages         []json.RawMessage `json:"messages,omitempty"`
	Statuses         []json.RawMessage `json:"statuses,omitempty"`
	Errors           []json.RawMessage `json:"errors,omitempty"`
	MessageEchoes    []json.RawMessage `json:"message_echoes,omitempty"`
}

// Unit is one independently processable piece of a webhook payload, as it
// travels on the inbound queue. Item holds the raw JSON of the one message,
// status or error; Value holds the raw JSON of the whole change value for
// KindChange. Contacts are the change's contacts (they name the sender of
// messages and the recipient of echoes and statuses). Route and RouteTenant say which webhook route received it.
type Unit struct {
	Version     int    `json:"v"`
	Route       string `json:"route"`                  // RoutePlatform or RouteTenant
	RouteTenant string `json:"route_tenant,omitempty"` // tenant id of the /webhook/{tenant_id} route
	ReceivedAt  string `json:"received_at"`            // RFC 3339 with nanoseconds, when the webhook accepted it
	Seq         int    `json:"seq"`                    // position of this unit in its payload
	WABAID      string `json:"waba_id"`                // entry.id
	// EntryTime is entry.time (Unix seconds) when Meta sends it. Account
	// changes carry no id of their own; the time tells two identical changes
	// apart (a template approved, paused, then approved again).
	EntryTime int64             `json:"entry_time,omitempty"`
	Field     string            `json:"field"` // change.field
	Kind      string            `json:"kind"`
	Metadata  Metadata          `json:"metadata"`
	Contacts  []json.RawMessage `json:"contacts,omitempty"`
	Item      json.RawMessage   `json:"item,omitempty"`
	Value     json.RawMessage   `json:"value,omitempty"`
	// TenantID is empty when the webhook writes the unit; the inbound
	// function fills it once the tenant is resolved, before routing the
	// unit on to another queue.
	TenantID string `json:"tenant_id,omitempty"`
	// Replay names the operator's replay that put a parked unit back on
	// the inbound queue (wacloudctl parked replay), empty for what the
	// webhook wrote. Each replay is a delivery of its own for the inbound
	// function's dedup claim, which is owned by one delivery: without it
	// a second replay of the same parked unit would be its first replay's
	// delivery again and reach the core twice.
	Replay string `json:"replay,omitempty"`
}

// Webhook routes.
const (
	RoutePlatform = "platform" // /webhook: the platform's Meta app
	RouteTenant   = "tenant"   // /webhook/{tenant_id}: a tenant's own Meta app
)

// UnitVersion is the version of the Unit format written by Split.
const UnitVersion = 1

// ErrNotWhatsApp is returned by Split for valid JSON that is not a WhatsApp
// Business Account payload.
var ErrNotWhatsApp = errors.New("not a whatsapp_business_account payload")

// Split parses a webhook body and returns one Unit per message, echo, status
// and value-level error of every change of every entry, and one KindChange unit
// for every change that carries none of those (account and template events,
// a contacts-only messages change). Nothing in a valid payload is dropped.
// Route fields and ReceivedAt are left for the caller to fill.
//
// Keys are read leniently, since Meta adds fields over time, except that a
// key given twice in one object, or in two cases (which encoding/json would
// read as one field, the later copy winning), makes the payload
// unparseable rather than ambiguous.
func Split(body []byte) ([]Unit, error) {
	if err := strictjson.UniqueKeys(body); err != nil {
		return nil, fmt.Errorf("parse webhook payload: %w", err)
	}
	var p Payload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("parse webhook payload: %w", err)
	}
	if p.Object != ObjectWABA {
		return nil, fmt.Errorf("parse webhook payload: object %q: %w", p.Object, ErrNotWhatsApp)
	}
	var units []Unit
	add := func(u Unit) {
		u.Version = UnitVersion
		u.Seq = len(units)
		units = append(units, u)
	}
	for _, e := range p.Entry {
		for _, c := range e.Changes {
			base := Unit{WABAID: e.ID, EntryTime: e.Time, Field: c.Field}
			var v messagesValue
			if len(c.Value) > 0 && c.Value[0] == '{' {
				if err := json.Unmarshal(c.Value, &v); err != nil {
					return nil, fmt.Errorf("parse change %q of entry %s: %w", c.Field, e.ID, err)
				}
			}
			base.Metadata = v.Metadata
			n := len(v.Messages) + len(v.Statuses) + len(v.Errors) + len(v.MessageEchoes)
			if n == 0 {
				u := base
				u.Kind = KindChange
				u.Contacts = v.Contacts
				u.Value = c.Value
				add(u)
				continue
			}
			for _, m := range v.Messages {
				u := base
				u.Kind = KindMessage
				u.Contacts = v.Contacts
				u.Item = m
				add(u)
			}
			for _, m := range v.MessageEchoes {
				u := base
				u.Kind = KindEcho
				u.Contacts = v.Contacts
				u.Item = m
				add(u)
			}
			for _, s := range v.Statuses {
				u := base
				u.Kind = KindStatus
				u.Contacts = v.Contacts
				u.Item = s
				add(u)
			}
			for _, er := range v.Errors {
				u := base
				u.Kind = KindError
				u.Item = er
				add(u)
			}
		}
	}
	if len(units) == 0 {
		return nil, fmt.Errorf("parse webhook payload: no entries or changes: %w", ErrNotWhatsApp)
	}
	return units, nil
}

// Contact returns the WhatsApp id of the user the unit is about: the sender
// of a message, the recipient of an echo or a status, or else the first
// contact listed. Users who hide their phone number are known only by their
// business-scoped user id (BSUID: from_user_id, to_user_id,
// recipient_user_id, contacts[].user_id), which is returned when no phone
// number is given. It is empty for account-level changes.
func (u Unit) Contact() string {
	var p struct {
		From            string `json:"from"`
		FromUserID      string `json:"from_user_id"`
		To              string `json:"to"`
		ToUserID        string `json:"to_user_id"`
		RecipientID     string `json:"recipient_id"`
		RecipientUserID string `json:"recipient_user_id"`
		UserID          string `json:"user_id"`
	}
	if len(u.Item) > 0 {
		// A field of an unexpected type fails only that field; the rest is
		// still worth reading.
		_ = json.Unmarshal(u.Item, &p)
		var order []string
		switch u.Kind {
		case KindEcho:
			order = []string{p.To, p.ToUserID, p.From, p.FromUserID}
		case KindStatus:
			order = []string{p.RecipientID, p.RecipientUserID}
		default:
			order = []string{p.From, p.FromUserID, p.To, p.ToUserID, p.RecipientID, p.RecipientUserID}
		}
		order = append(order, p.UserID)
		for _, id := range order {
			if id != "" {
				return id
			}
		}
	}
	for _, c := range u.Contacts {
		var ct struct {
			WaID   string `json:"wa_id"`
			UserID string `json:"user_id"`
		}
		_ = json.Unmarshal(c, &ct)
		if ct.WaID != "" {
			return ct.WaID
		}
		if ct.UserID != "" {
			return ct.UserID
		}
	}
	return ""
}

// OrderKey groups units whose relative order matters: units about the same
// business number and contact. Account-level changes are grouped per WABA.
func (u Unit) OrderKey() string {
	if c := u.Contact(); c != "" {
		return u.Metadata.PhoneNumberID + ":" + c
	}
	if u.Metadata.PhoneNumberID != "" {
		return u.Metadata.PhoneNumberID
	}
	return "waba:" + u.WABAID
}
