package event

import "encoding/json"

// Message is an inbound (or echoed) WhatsApp message, normalized. ID is the
// wamid and Kind is Meta's message type (text, image, audio, video,
// document, sticker, location, contacts, interactive, button, reaction,
// order, system, edit, revoke, unsupported, unknown...). Exactly the content
// field that matches Kind is set, except for edits, whose new content is
// set in the field of its own kind (Edit.Kind), and for messages Meta could
// not describe, which carry only Errors.
type Message struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	From       string `json:"from,omitempty"`         // sender's phone number (wa_id), when Meta gives it
	FromUserID string `json:"from_user_id,omitempty"` // sender's business-scoped user id (BSUID)
	To         string `json:"to,omitempty"`           // echoes: the user the business wrote to
	ToUserID   string `json:"to_user_id,omitempty"`
	GroupID    string `json:"group_id,omitempty"` // messages in a group chat

	Context  *Context  `json:"context,omitempty"`
	Referral *Referral `json:"referral,omitempty"`

	Text        *Text         `json:"text,omitempty"`
	Media       *MediaRef     `json:"media,omitempty"`
	Location    *Location     `json:"location,omitempty"`
	Contacts    []ContactCard `json:"contacts,omitempty"`
	Interactive *Interactive  `json:"interactive,omitempty"`
	Button      *Button       `json:"button,omitempty"`
	Reaction    *Reaction     `json:"reaction,omitempty"`
	Order       *Order        `json:"order,omitempty"`
	Edit        *Edit         `json:"edit,omitempty"`
	Revoke      *Revoke       `json:"revoke,omitempty"`
	System      *System       `json:"system,omitempty"`
	Unsupported *Unsupported  `json:"unsupported,omitempty"`

	// Errors are the errors Meta attached to the message, for example
	// 131051 for a message type it does not support.
	Errors []Error `json:"errors,omitempty"`

	// Raw keeps the message object exactly as Meta sent it, so the core never
	// loses a field this contract does not model yet.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// Text is the content of a text message.
type Text struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url,omitempty"`
}

// MediaStatusPending is MediaRef.Status in message events: the file is
// still on Meta's side and a message.media_ready (or media_failed) event
// follows once the connector has fetched it.
const MediaStatusPending = "pending"

// MediaRef points at a media file of an image, video, audio, document or
// sticker message. ID is Meta's media id, which the connector downloads.
type MediaRef struct {
	Kind     string `json:"kind"` // image, video, audio, document, sticker
	ID       string `json:"id"`
	MimeType string `json:"mime_type,omitempty"`
	// SHA256 is Meta's value as sent (base64). Deprecated: read SHA256Hex,
	// which has one encoding in every event; sha256 stays in 1.x.
	SHA256 string `json:"sha256,omitempty"`
	// SHA256Hex is the file's SHA-256 in lowercase hex, decoded from
	// Meta's base64; empty when Meta's value is not a SHA-256 digest.
	// message.media_ready carries the same field, with the same value for
	// the same file.
	SHA256Hex string `json:"sha256_hex,omitempty"`
	Filename  string `json:"filename,omitempty"`
	Caption   string `json:"caption,omitempty"`
	Voice     bool   `json:"voice,omitempty"`    // audio recorded as a voice note
	Animated  bool   `json:"animated,omitempty"` // animated sticker
	URL       string `json:"url,omitempty"`      // download URL, when Meta sent one (it needs the access token)
	Status    string `json:"status"`
}

// Location is a shared location.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
	URL       string  `json:"url,omitempty"`
}

// ContactCard is one shared contact card.
type ContactCard struct {
	Name      ContactName      `json:"name"`
	Phones    []ContactPhone   `json:"phones,omitempty"`
	Emails    []ContactEmail   `json:"emails,omitempty"`
	Addresses []ContactAddress `json:"addresses,omitempty"`
	URLs      []ContactURL     `json:"urls,omitempty"`
	Org       *ContactOrg      `json:"org,omitempty"`
	Birthday  string           `json:"birthday,omitempty"`
}

// ContactName is the name on a contact card.
type ContactName struct {
	FormattedName string `json:"formatted_name,omitempty"`
	FirstName     string `json:"first_name,omitempty"`
	LastName      string `json:"last_name,omitempty"`
	MiddleName    string `json:"middle_name,omitempty"`
	Prefix        string `json:"prefix,omitempty"`
	Suffix        string `json:"suffix,omitempty"`
}

// ContactPhone is a phone number on a contact card; WaID is set when the
// number is on WhatsApp.
type ContactPhone struct {
	Phone string `json:"phone,omitempty"`
	WaID  string `json:"wa_id,omitempty"`
	Type  string `json:"type,omitempty"`
}

// ContactEmail is an email address on a contact card.
type ContactEmail struct {
	Email string `json:"email,omitempty"`
	Type  string `json:"type,omitempty"`
}

// ContactAddress is a postal address on a contact card.
type ContactAddress struct {
	Street      string `json:"street,omitempty"`
	City        string `json:"city,omitempty"`
	State       string `json:"state,omitempty"`
	Zip         string `json:"zip,omitempty"`
	Country     string `json:"country,omitempty"`
	CountryCode string `json:"country_code,omitempty"`
	Type        string `json:"type,omitempty"`
}

// ContactURL is a web address on a contact card.
type ContactURL struct {
	URL  string `json:"url,omitempty"`
	Type string `json:"type,omitempty"`
}

// ContactOrg is the organization on a contact card.
type ContactOrg struct {
	Company    string `json:"company,omitempty"`
	Department string `json:"department,omitempty"`
	Title      string `json:"title,omitempty"`
}

// Interactive is the user's answer to an interactive message: a reply
// button (Type button_reply), a list row (list_reply) or a completed flow
// (nfm_reply, with Flow set).
type Interactive struct {
	Type        string `json:"type"`
	ID          string `json:"id,omitempty"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Flow        *Flow  `json:"flow,omitempty"`
}

// Flow is a completed WhatsApp Flow. Response is Meta's response_json
// parsed as JSON; when Meta sent text that is not valid JSON it is kept in
// ResponseText instead, so nothing is lost.
type Flow struct {
	Name         string          `json:"name,omitempty"`
	Body         string          `json:"body,omitempty"`
	FlowToken    string          `json:"flow_token,omitempty"`
	Response     json.RawMessage `json:"response,omitempty"`
	ResponseText string          `json:"response_text,omitempty"`
}

// Button is a tap on a template's quick-reply button.
type Button struct {
	Payload string `json:"payload,omitempty"`
	Text    string `json:"text,omitempty"`
}

// Reaction is an emoji reaction to MessageID. Meta reports the removal of
// a reaction as an empty emoji; Removed says so explicitly.
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji,omitempty"`
	Removed   bool   `json:"removed,omitempty"`
}

// Order is a cart sent from a catalog.
type Order struct {
	CatalogID string      `json:"catalog_id,omitempty"`
	Text      string      `json:"text,omitempty"`
	Items     []OrderItem `json:"items"`
}

// OrderItem is one product line of an order.
type OrderItem struct {
	ProductRetailerID string  `json:"product_retailer_id"`
	Quantity          int     `json:"quantity"`
	ItemPrice         float64 `json:"item_price"`
	Currency          string  `json:"currency,omitempty"`
}

// Referral says which ad or post brought the user to the chat
// (click-to-WhatsApp). CtwaClid is the click id for conversion reporting.
type Referral struct {
	SourceURL      string `json:"source_url,omitempty"`
	SourceType     string `json:"source_type,omitempty"`
	SourceID       string `json:"source_id,omitempty"`
	Headline       string `json:"headline,omitempty"`
	Body           string `json:"body,omitempty"`
	MediaType      string `json:"media_type,omitempty"`
	ImageURL       string `json:"image_url,omitempty"`
	VideoURL       string `json:"video_url,omitempty"`
	ThumbnailURL   string `json:"thumbnail_url,omitempty"`
	CtwaClid       string `json:"ctwa_clid,omitempty"`
	WelcomeMessage string `json:"welcome_message,omitempty"`
}

// Context is what a message refers to: the message it replies to (ID,
// From), whether it was forwarded, and the catalog product it asks about.
type Context struct {
	ID                  string           `json:"id,omitempty"`
	From                string           `json:"from,omitempty"`
	Forwarded           bool             `json:"forwarded,omitempty"`
	FrequentlyForwarded bool             `json:"frequently_forwarded,omitempty"`
	ReferredProduct     *ReferredProduct `json:"referred_product,omitempty"`
}

// ReferredProduct is the catalog product a message was sent about.
type ReferredProduct struct {
	CatalogID         string `json:"catalog_id,omitempty"`
	ProductRetailerID string `json:"product_retailer_id,omitempty"`
}

// Edit says the message replaces the content of OriginalID. The new
// content is in the Message field of its kind (Kind: text, image...).
type Edit struct {
	OriginalID string `json:"original_id"`
	Kind       string `json:"kind,omitempty"`
}

// Revoke says the user deleted OriginalID for everyone.
type Revoke struct {
	OriginalID string `json:"original_id"`
}

// System is a notice about the user rather than from them: a changed
// number (Type user_changed_number, WaID the new number) or a changed
// security identity (customer_identity_changed, with Identity).
type System struct {
	Type     string    `json:"type,omitempty"`
	Body     string    `json:"body,omitempty"`
	WaID     string    `json:"wa_id,omitempty"`
	Customer string    `json:"customer,omitempty"`
	Identity *Identity `json:"identity,omitempty"`
}

// Identity is the user's security identity after a change.
type Identity struct {
	Acknowledged     bool   `json:"acknowledged"`
	CreatedTimestamp string `json:"created_timestamp,omitempty"`
	Hash             string `json:"hash,omitempty"`
}

// Unsupported names the type of a message Meta could not deliver through
// the Cloud API (for example a poll), when Meta said which.
type Unsupported struct {
	Type string `json:"type,omitempty"`
}
