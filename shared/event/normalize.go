package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// ErrNotNormalized is returned by Normalize for units it does not turn into
// events: statuses and account changes belong to the status function.
var ErrNotNormalized = errors.New("unit kind is normalized by the status function")

// Normalize turns an inbound unit of kind message, echo or error into the
// events the core receives: message.received, message.echo or
// webhook.error. A unit of another kind gives an error wrapping
// ErrNotNormalized; a malformed unit gives an error classified as
// fault.Invalid, so it is dead-lettered with its reason and never dropped.
func Normalize(u whatsapp.Unit, tenantID string) ([]Event, error) {
	switch u.Kind {
	case whatsapp.KindMessage, whatsapp.KindEcho:
		ev, err := normalizeMessage(u, tenantID)
		if err != nil {
			return nil, fault.InvalidErr(fmt.Errorf("normalize %s unit %d of waba %s: %w", u.Kind, u.Seq, u.WABAID, err))
		}
		return []Event{ev}, nil
	case whatsapp.KindError:
		ev, err := normalizeError(u, tenantID)
		if err != nil {
			return nil, fault.InvalidErr(fmt.Errorf("normalize error unit %d of waba %s: %w", u.Seq, u.WABAID, err))
		}
		return []Event{ev}, nil
	}
	return nil, fault.InvalidErr(fmt.Errorf("normalize unit kind %q: %w", u.Kind, ErrNotNormalized))
}

func envelope(u whatsapp.Unit, tenantID, typ, metaTimestamp string) (Event, error) {
	if tenantID == "" {
		return Event{}, errors.New("no tenant id")
	}
	if u.Metadata.PhoneNumberID == "" {
		return Event{}, errors.New("no metadata.phone_number_id")
	}
	at := UnixTime(metaTimestamp)
	if at == "" {
		// Meta gave no usable time: the webhook's receipt time is the
		// closest fact we have.
		t, err := time.Parse(time.RFC3339Nano, u.ReceivedAt)
		if err != nil {
			return Event{}, fmt.Errorf("no usable timestamp (meta %q, received_at %q)", metaTimestamp, u.ReceivedAt)
		}
		at = t.UTC().Format(time.RFC3339Nano)
	}
	return Event{
		SchemaVersion: SchemaVersion,
		Type:          typ,
		TenantID:      tenantID,
		PhoneNumberID: u.Metadata.PhoneNumberID,
		WABAID:        u.WABAID,
		OccurredAt:    at,
	}, nil
}

func normalizeMessage(u whatsapp.Unit, tenantID string) (Event, error) {
	var m metaMessage
	if err := json.Unmarshal(u.Item, &m); err != nil {
		return Event{}, fmt.Errorf("parse message: %w", err)
	}
	if m.ID == "" {
		return Event{}, errors.New("message has no id")
	}
	typ := TypeMessageReceived
	if u.Kind == whatsapp.KindEcho {
		typ = TypeMessageEcho
	}
	ev, err := envelope(u, tenantID, typ, string(m.Timestamp))
	if err != nil {
		return Event{}, err
	}
	ev.EventID = MessageEventID(typ, tenantID, u.Metadata.PhoneNumberID, string(m.ID), string(m.Timestamp))

	msg := &Message{
		ID:         string(m.ID),
		Kind:       m.Type,
		From:       string(m.From),
		FromUserID: m.FromUserID,
		To:         string(m.To),
		ToUserID:   m.ToUserID,
		GroupID:    m.GroupID,
		Context:    replyContext(m.Context),
		Referral:   referral(m.Referral),
		Raw:        compact(u.Item),
	}
	if msg.Kind == "" {
		msg.Kind = "unknown"
	}
	setContent(msg, m.Type, m.metaContent)
	if m.Edit != nil {
		msg.Edit = &Edit{OriginalID: m.Edit.OriginalMessageID}
		if nm := m.Edit.Message; nm != nil {
			msg.Edit.Kind = nm.Type
			setContent(msg, nm.Type, nm.metaContent)
			if msg.Context == nil {
				msg.Context = replyContext(nm.Context)
			}
		}
	}
	if m.Revoke != nil {
		msg.Revoke = &Revoke{OriginalID: m.Revoke.OriginalMessageID}
	}
	if m.System != nil || m.Identity != nil {
		msg.System = system(m.System, m.Identity)
	}
	if m.Unsupported != nil && *m.Unsupported != (Unsupported{}) {
		msg.Unsupported = m.Unsupported
	}
	for _, e := range m.Errors {
		msg.Errors = append(msg.Errors, e.event())
	}
	ev.Message = msg

	if u.Kind == whatsapp.KindEcho {
		ev.Contact = contact(u.Contacts, string(m.To), m.ToUserID)
	} else {
		ev.Contact = contact(u.Contacts, string(m.From), m.FromUserID)
	}
	return ev, nil
}

// setContent fills the content field of msg that matches kind. Fields of
// other kinds are ignored: Meta names the content by the type.
func setContent(msg *Message, kind string, c metaContent) {
	media := func(m *metaMedia) {
		if m == nil {
			return
		}
		msg.Media = &MediaRef{
			Kind: kind, ID: string(m.ID), MimeType: m.MimeType, SHA256: m.SHA256, SHA256Hex: DigestHex(m.SHA256),
			Filename: string(m.Filename), Caption: string(m.Caption), Voice: bool(m.Voice), Animated: bool(m.Animated),
			URL: m.URL, Status: MediaStatusPending,
		}
	}
	switch kind {
	case "text":
		if t := c.Text; t != nil {
			msg.Text = &Text{Body: string(t.Body), PreviewURL: bool(t.PreviewURL)}
		}
	case "image":
		media(c.Image)
	case "video":
		media(c.Video)
	case "audio":
		media(c.Audio)
	case "document":
		media(c.Document)
	case "sticker":
		media(c.Sticker)
	case "location":
		if l := c.Location; l != nil {
			msg.Location = &Location{Latitude: float64(l.Latitude), Longitude: float64(l.Longitude),
				Name: string(l.Name), Address: string(l.Address), URL: l.URL}
		}
	case "contacts":
		for _, card := range c.Contacts {
			out := ContactCard{Name: card.Name, Emails: card.Emails,
				URLs: card.URLs, Org: card.Org, Birthday: string(card.Birthday)}
			for _, p := range card.Phones {
				out.Phones = append(out.Phones, ContactPhone{Phone: string(p.Phone), WaID: string(p.WaID), Type: p.Type})
			}
			for _, a := range card.Addresses {
				out.Addresses = append(out.Addresses, ContactAddress{Street: string(a.Street), City: a.City, State: a.State,
					Zip: string(a.Zip), Country: a.Country, CountryCode: a.CountryCode, Type: a.Type})
			}
			msg.Contacts = append(msg.Contacts, out)
		}
	case "interactive":
		msg.Interactive = interactive(c.Interactive)
	case "button":
		if b := c.Button; b != nil {
			msg.Button = &Button{Payload: string(b.Payload), Text: string(b.Text)}
		}
	case "reaction":
		if r := c.Reaction; r != nil {
			msg.Reaction = &Reaction{MessageID: r.MessageID}
			if r.Emoji == nil || *r.Emoji == "" {
				msg.Reaction.Removed = true
			} else {
				msg.Reaction.Emoji = *r.Emoji
			}
		}
	case "order":
		if o := c.Order; o != nil {
			msg.Order = &Order{CatalogID: string(o.CatalogID), Text: string(o.Text), Items: []OrderItem{}}
			for _, it := range o.ProductItems {
				msg.Order.Items = append(msg.Order.Items, OrderItem{ProductRetailerID: string(it.ProductRetailerID),
					Quantity: int(it.Quantity), ItemPrice: float64(it.ItemPrice), Currency: it.Currency})
			}
		}
	}
}

func interactive(in *metaInteractive) *Interactive {
	if in == nil {
		return nil
	}
	out := &Interactive{Type: in.Type}
	switch {
	case in.ButtonReply != nil:
		out.ID, out.Title = string(in.ButtonReply.ID), string(in.ButtonReply.Title)
	case in.ListReply != nil:
		out.ID, out.Title, out.Description = string(in.ListReply.ID), string(in.ListReply.Title), string(in.ListReply.Description)
	case in.NFMReply != nil:
		f := &Flow{Name: in.NFMReply.Name, Body: in.NFMReply.Body}
		raw := []byte(in.NFMReply.ResponseJSON)
		if json.Valid(raw) {
			f.Response = compact(raw)
			var tok struct {
				FlowToken string `json:"flow_token"`
			}
			if json.Unmarshal(raw, &tok) == nil {
				f.FlowToken = tok.FlowToken
			}
		} else {
			f.ResponseText = in.NFMReply.ResponseJSON
		}
		out.Flow = f
	}
	return out
}

func replyContext(c *metaContext) *Context {
	if c == nil {
		return nil
	}
	out := &Context{ID: c.ID, From: string(c.From), Forwarded: bool(c.Forwarded),
		FrequentlyForwarded: bool(c.FrequentlyForwarded)}
	if p := c.ReferredProduct; p != nil {
		out.ReferredProduct = &ReferredProduct{CatalogID: string(p.CatalogID), ProductRetailerID: string(p.ProductRetailerID)}
	}
	if *out == (Context{}) {
		return nil
	}
	return out
}

func referral(r *metaReferral) *Referral {
	if r == nil {
		return nil
	}
	out := Referral{SourceURL: r.SourceURL, SourceType: r.SourceType, SourceID: string(r.SourceID),
		Headline: string(r.Headline), Body: string(r.Body), MediaType: r.MediaType, ImageURL: r.ImageURL,
		VideoURL: r.VideoURL, ThumbnailURL: r.ThumbnailURL, CtwaClid: string(r.CtwaClid)}
	if r.WelcomeMessage != nil {
		out.WelcomeMessage = r.WelcomeMessage.Text
	}
	return &out
}

func system(s *metaSystem, id *metaIdentity) *System {
	out := &System{}
	if s != nil {
		out.Type, out.Body, out.Customer = s.Type, s.Body, s.Customer
		out.WaID = string(s.WaID)
		if out.WaID == "" {
			out.WaID = string(s.NewWaID)
		}
		var hash string
		if json.Unmarshal(s.Identity, &hash) == nil && hash != "" {
			out.Identity = &Identity{Hash: hash}
		}
	}
	if id != nil {
		out.Identity = &Identity{Acknowledged: bool(id.Acknowledged), CreatedTimestamp: string(id.CreatedTimestamp), Hash: id.Hash}
	}
	return out
}

// contact finds the user among the change's contacts by phone number or
// user id. Without a match it still names the user by the ids the message
// gave; a lone contact is used only when the message names nobody.
func contact(raw []json.RawMessage, waID, userID string) *Contact {
	var cs []metaContact
	for _, r := range raw {
		var c metaContact
		if json.Unmarshal(r, &c) == nil {
			cs = append(cs, c)
		}
	}
	pick := func(c metaContact) *Contact {
		return &Contact{WaID: string(c.WaID), UserID: c.UserID, ParentUserID: c.ParentUserID,
			Name: c.Profile.Name, Username: c.Profile.Username}
	}
	for _, c := range cs {
		if (waID != "" && string(c.WaID) == waID) || (userID != "" && c.UserID == userID) {
			return pick(c)
		}
	}
	if waID != "" || userID != "" {
		return &Contact{WaID: waID, UserID: userID}
	}
	if len(cs) == 1 && (cs[0].WaID != "" || cs[0].UserID != "") {
		return pick(cs[0])
	}
	return nil
}

func normalizeError(u whatsapp.Unit, tenantID string) (Event, error) {
	var e metaError
	if err := json.Unmarshal(u.Item, &e); err != nil {
		return Event{}, fmt.Errorf("parse error item: %w", err)
	}
	ev, err := envelope(u, tenantID, TypeWebhookError, "")
	if err != nil {
		return Event{}, err
	}
	// Value-level errors carry no id or timestamp of their own; the item
	// itself is what identifies them.
	sum := sha256.Sum256(compact(u.Item))
	ev.EventID = WebhookErrorEventID(tenantID, u.Metadata.PhoneNumberID, u.WABAID, hex.EncodeToString(sum[:]))
	ev.Errors = []Error{e.event()}
	return ev, nil
}

// compact returns b without insignificant whitespace, so that the same JSON
// hashes and compares the same however it was indented.
func compact(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return append(json.RawMessage(nil), b...)
	}
	return buf.Bytes()
}
