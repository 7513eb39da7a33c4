// Package outbound is the contract between the TucanLink core and the
// sender function: the outbound job (one message to send, or a read
// receipt / typing indicator), its validation, and the Graph API request
// body built from it.
//
// Content objects use the shapes of Meta's Cloud API (text, template,
// image, interactive, ...) so the core can follow Meta's documentation;
// the job adds routing (tenant, sending number, recipient), the core's
// idempotency key (job_id), a reply_to wamid and a client_ref echoed in
// results. schema/outbound-job.schema.json publishes the same contract.
//
// It imports only the standard library and fault.
package outbound

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tucanlink/wacloud/shared/fault"
)

// Job types.
const (
	TypeText        = "text"
	TypeTemplate    = "template"
	TypeImage       = "image"
	TypeVideo       = "video"
	TypeAudio       = "audio"
	TypeDocument    = "document"
	TypeSticker     = "sticker"
	TypeLocation    = "location"
	TypeContacts    = "contacts"
	TypeInteractive = "interactive"
	TypeReaction    = "reaction"
	TypeRead        = "read"   // mark an inbound message as read
	TypeTyping      = "typing" // mark read and show the typing indicator
)

// Types lists every job type.
var Types = []string{TypeText, TypeTemplate, TypeImage, TypeVideo, TypeAudio, TypeDocument, TypeSticker,
	TypeLocation, TypeContacts, TypeInteractive, TypeReaction, TypeRead, TypeTyping}

// Job is one outbound job. Exactly one content field is set, the one named
// by Type.
type Job struct {
	JobID    string `json:"job_id"`
	TenantID string `json:"tenant_id"`
	// PhoneNumberID is the sending business number; it may be omitted when
	// the tenant has exactly one.
	PhoneNumberID string `json:"phone_number_id,omitempty"`
	// To is the recipient in E.164 (with or without the leading +).
	To        string `json:"to"`
	Type      string `json:"type"`
	ReplyTo   string `json:"reply_to,omitempty"` // wamid of the message this one answers
	ClientRef string `json:"client_ref,omitempty"`

	Text        *Text        `json:"text,omitempty"`
	Template    *Template    `json:"template,omitempty"`
	Image       *Media       `json:"image,omitempty"`
	Video       *Media       `json:"video,omitempty"`
	Audio       *Media       `json:"audio,omitempty"`
	Document    *Media       `json:"document,omitempty"`
	Sticker     *Media       `json:"sticker,omitempty"`
	Location    *Location    `json:"location,omitempty"`
	Contacts    []Contact    `json:"contacts,omitempty"`
	Interactive *Interactive `json:"interactive,omitempty"`
	Reaction    *Reaction    `json:"reaction,omitempty"`
	Read        *Receipt     `json:"read,omitempty"`
	Typing      *Receipt     `json:"typing,omitempty"`
}

// Text is a text message.
type Text struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url,omitempty"`
}

// Media is an image, video, audio, document or sticker: by Meta media id,
// by public link, or by an s3://bucket/tenants/{tenant_id}/... reference
// (in Link) that the sender uploads to Meta first.
type Media struct {
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Caption  string `json:"caption,omitempty"`  // image, video, document
	Filename string `json:"filename,omitempty"` // document
}

// IsS3 reports whether the media is an S3 reference still to be resolved.
func (m *Media) IsS3() bool { return m != nil && strings.HasPrefix(m.Link, "s3://") }

// Location is a location pin.
type Location struct {
	Latitude  *float64 `json:"latitude"`
	Longitude *float64 `json:"longitude"`
	Name      string   `json:"name,omitempty"`
	Address   string   `json:"address,omitempty"`
}

// Contact is a contact card (Meta's contact object).
type Contact struct {
	Addresses []Address    `json:"addresses,omitempty"`
	Birthday  string       `json:"birthday,omitempty"`
	Emails    []Email      `json:"emails,omitempty"`
	Name      ContactName  `json:"name"`
	Org       *ContactOrg  `json:"org,omitempty"`
	Phones    []Phone      `json:"phones,omitempty"`
	URLs      []ContactURL `json:"urls,omitempty"`
}

// Address is a contact's postal address.
type Address struct {
	City        string `json:"city,omitempty"`
	Country     string `json:"country,omitempty"`
	CountryCode string `json:"country_code,omitempty"`
	State       string `json:"state,omitempty"`
	Street      string `json:"street,omitempty"`
	Type        string `json:"type,omitempty"`
	Zip         string `json:"zip,omitempty"`
}

// Email is a contact's e-mail address.
type Email struct {
	Email string `json:"email,omitempty"`
	Type  string `json:"type,omitempty"`
}

// ContactName is a contact's name; FormattedName is required by Meta.
type ContactName struct {
	FormattedName string `json:"formatted_name"`
	FirstName     string `json:"first_name,omitempty"`
	LastName      string `json:"last_name,omitempty"`
	MiddleName    string `json:"middle_name,omitempty"`
	Suffix        string `json:"suffix,omitempty"`
	Prefix        string `json:"prefix,omitempty"`
}

// ContactOrg is a contact's organisation.
type ContactOrg struct {
	Company    string `json:"company,omitempty"`
	Department string `json:"department,omitempty"`
	Title      string `json:"title,omitempty"`
}

// Phone is a contact's phone number.
type Phone struct {
	Phone string `json:"phone,omitempty"`
	Type  string `json:"type,omitempty"`
	WaID  string `json:"wa_id,omitempty"`
}

// ContactURL is a contact's web address.
type ContactURL struct {
	URL  string `json:"url,omitempty"`
	Type string `json:"type,omitempty"`
}

// Interactive types.
const (
	InteractiveButton = "button"  // up to 3 reply buttons
	InteractiveList   = "list"    // a menu of rows in sections
	InteractiveCTAURL = "cta_url" // a call-to-action button opening a URL
)

// Interactive is an interactive message (reply buttons, list, CTA URL).
type Interactive struct {
	Type   string             `json:"type"`
	Header *InteractiveHeader `json:"header,omitempty"`
	Body   *InteractiveText   `json:"body,omitempty"`
	Footer *InteractiveText   `json:"footer,omitempty"`
	Action InteractiveAction  `json:"action"`
}

// InteractiveHeader is the header of an interactive message.
type InteractiveHeader struct {
	Type     string `json:"type"` // text, image, video, document
	Text     string `json:"text,omitempty"`
	Image    *Media `json:"image,omitempty"`
	Video    *Media `json:"video,omitempty"`
	Document *Media `json:"document,omitempty"`
}

// InteractiveText is a body or footer.
type InteractiveText struct {
	Text string `json:"text"`
}

// InteractiveAction is what the user can do: Buttons (button), Button and
// Sections (list), or Name "cta_url" with Parameters (cta_url).
type InteractiveAction struct {
	Buttons    []ReplyButton  `json:"buttons,omitempty"`
	Button     string         `json:"button,omitempty"`
	Sections   []ListSection  `json:"sections,omitempty"`
	Name       string         `json:"name,omitempty"`
	Parameters *CTAParameters `json:"parameters,omitempty"`
}

// ReplyButton is one reply button; Type is "reply".
type ReplyButton struct {
	Type  string     `json:"type"`
	Reply ReplyTitle `json:"reply"`
}

// ReplyTitle is a reply button's id and title.
type ReplyTitle struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// ListSection is a section of a list message.
type ListSection struct {
	Title string    `json:"title,omitempty"`
	Rows  []ListRow `json:"rows"`
}

// ListRow is a row of a list message.
type ListRow struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// CTAParameters are a call-to-action URL button's text and URL.
type CTAParameters struct {
	DisplayText string `json:"display_text"`
	URL         string `json:"url"`
}

// Template is a message template with its parameters.
type Template struct {
	Name       string              `json:"name"`
	Language   TemplateLanguage    `json:"language"`
	Components []TemplateComponent `json:"components,omitempty"`
}

// TemplateLanguage selects the template's translation.
type TemplateLanguage struct {
	Code   string `json:"code"`
	Policy string `json:"policy,omitempty"`
}

// TemplateComponent fills a template's header, body or button.
type TemplateComponent struct {
	Type    string `json:"type"`
	SubType string `json:"sub_type,omitempty"`
	// Index is the button position; Meta accepts a number or a numeric
	// string, and it is passed through as given.
	Index      any                 `json:"index,omitempty"`
	Parameters []TemplateParameter `json:"parameters,omitempty"`
}

// TemplateParameter is one parameter: "type" plus the value under the key
// the type names (text, currency, date_time, image, payload, ...), passed
// through to Meta unchanged.
type TemplateParameter map[string]any

// Reaction reacts to a message; an empty Emoji removes the reaction.
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// Receipt names the inbound message a read receipt or typing indicator is about.
type Receipt struct {
	MessageID string `json:"message_id"`
}

// Decode parses a job strictly: unknown fields are rejected, so a typo in
// the core's job is reported rather than silently ignored. Errors are
// classified Invalid.
func Decode(b []byte) (Job, error) {
	var j Job
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return Job{}, fault.InvalidErr(fmt.Errorf("decode outbound job: %w", err))
	}
	if dec.More() {
		return Job{}, fault.Invalidf("decode outbound job: trailing data after the JSON object")
	}
	return j, nil
}

// Peek extracts what identifies a job from a body that may not decode as a
// Job, so a malformed job can still be reported to its tenant.
func Peek(b []byte) (jobID, tenantID, phoneNumberID, to, clientRef string) {
	var p struct {
		JobID         any `json:"job_id"`
		TenantID      any `json:"tenant_id"`
		PhoneNumberID any `json:"phone_number_id"`
		To            any `json:"to"`
		ClientRef     any `json:"client_ref"`
	}
	_ = json.Unmarshal(b, &p)
	s := func(v any) string { x, _ := v.(string); return x }
	return s(p.JobID), s(p.TenantID), s(p.PhoneNumberID), s(p.To), s(p.ClientRef)
}

// WaID is the recipient as WhatsApp ids are written: digits only.
func (j Job) WaID() string { return strings.TrimPrefix(j.To, "+") }

// GroupID is the FIFO message group the core must use when enqueueing the
// job: per tenant, sending number and recipient, so a recipient's messages
// keep their order while other recipients proceed in parallel.
func (j Job) GroupID() string {
	return j.TenantID + ":" + j.PhoneNumberID + ":" + j.WaID()
}

// NeedsWindow reports whether the job is a free-form message that Meta
// accepts only inside the 24-hour customer service window. Templates are
// always allowed; read receipts and typing indicators answer an inbound
// message and are not messages to the user. Reactions are free-form.
func (j Job) NeedsWindow() bool {
	switch j.Type {
	case TypeTemplate, TypeRead, TypeTyping:
		return false
	}
	return true
}

// IsMessage reports whether the job sends a message to the user (and so
// counts against the pair rate limit); read receipts and typing indicators
// do not.
func (j Job) IsMessage() bool { return j.Type != TypeRead && j.Type != TypeTyping }

// MediaRefs returns the job's media objects (the message's own and an
// interactive header's), for resolving s3:// references in place. Kind is
// the media kind Meta expects (image, video, audio, document, sticker).
func (j *Job) MediaRefs() []MediaRef {
	var refs []MediaRef
	add := func(kind string, m *Media) {
		if m != nil {
			refs = append(refs, MediaRef{Kind: kind, Media: m})
		}
	}
	add(TypeImage, j.Image)
	add(TypeVideo, j.Video)
	add(TypeAudio, j.Audio)
	add(TypeDocument, j.Document)
	add(TypeSticker, j.Sticker)
	if j.Interactive != nil && j.Interactive.Header != nil {
		h := j.Interactive.Header
		add(TypeImage, h.Image)
		add(TypeVideo, h.Video)
		add(TypeDocument, h.Document)
	}
	if j.Template != nil {
		for _, c := range j.Template.Components {
			for _, p := range c.Parameters {
				if kind, m, ok := p.media(); ok {
					refs = append(refs, MediaRef{Kind: kind, Media: m, param: p})
				}
			}
		}
	}
	return refs
}

// media reads a template parameter of type image, video or document whose
// value is an object with id or link.
func (p TemplateParameter) media() (kind string, m *Media, ok bool) {
	kind, _ = p["type"].(string)
	switch kind {
	case TypeImage, TypeVideo, TypeDocument:
	default:
		return "", nil, false
	}
	v, isObject := p[kind].(map[string]any)
	if !isObject {
		return "", nil, false
	}
	m = &Media{}
	m.ID, _ = v["id"].(string)
	m.Link, _ = v["link"].(string)
	m.Filename, _ = v["filename"].(string)
	return kind, m, true
}

// MediaRef is a media object of a job and its kind.
type MediaRef struct {
	Kind  string
	Media *Media
	// param is the template parameter the media came from, if any: its
	// value is a copy, written back by Resolved.
	param TemplateParameter
}

// Resolved replaces the media's s3:// link with what it resolved to: a
// media id (the link is dropped) or a link Meta can fetch.
func (r MediaRef) Resolved(id, link string) {
	r.Media.ID, r.Media.Link = id, link
	if id != "" {
		r.Media.Link = ""
	}
	if r.param == nil {
		return
	}
	v, _ := r.param[r.Kind].(map[string]any)
	if v == nil {
		return
	}
	delete(v, "id")
	delete(v, "link")
	if r.Media.ID != "" {
		v["id"] = r.Media.ID
	} else {
		v["link"] = r.Media.Link
	}
}
