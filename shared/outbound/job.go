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
// It imports only the standard library, fault and strictjson.
package outbound

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/strictjson"
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

// Lanes: a number's interactive jobs go ahead of its bulk backlog
// (docs/sender.md, Lanes).
const (
	LaneInteractive = "interactive"
	LaneBulk        = "bulk"
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
	// To is the recipient's phone number in E.164 (with or without the
	// leading +). Exactly one of To and Recipient is set.
	To string `json:"to,omitempty"`
	// Recipient is a contact known by its business-scoped user id (BSUID,
	// "US.13491208655302741918", or a parent BSUID "US.ENT.…"), as Meta's
	// webhooks name users who hide their phone number. Sent to Meta in its
	// recipient field.
	Recipient string `json:"recipient,omitempty"`
	Type      string `json:"type"`
	ReplyTo   string `json:"reply_to,omitempty"` // wamid of the message this one answers
	ClientRef string `json:"client_ref,omitempty"`
	// CampaignID is the campaign whose row the job is (the campaign
	// runner sets it; shared/campaign's id form).
	CampaignID string `json:"campaign_id,omitempty"`
	// Lane is the job's class of traffic on its number: LaneInteractive
	// (a live conversation) or LaneBulk (a campaign, a notification run).
	// Empty picks the default (TrafficLane).
	Lane string `json:"lane,omitempty"`

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
func (m *Media) IsS3() bool { return m != nil && IsS3Link(m.Link) }

// IsS3Link reports whether link is an s3:// reference. The scheme is
// matched case-insensitively (RFC 3986: "S3://" is the same scheme), so
// validation, resolution and the final check before sending all agree on
// what an s3 link is; this is the one place that decides it.
func IsS3Link(link string) bool {
	const scheme = "s3://"
	return len(link) >= len(scheme) && strings.EqualFold(link[:len(scheme)], scheme)
}

// SplitS3Link returns the bucket and key of an s3://bucket/key link (any
// case of the scheme); ok is false for anything else. It checks nothing
// about the key: see CheckLink.
func SplitS3Link(link string) (bucket, key string, ok bool) {
	if !IsS3Link(link) {
		return "", "", false
	}
	bucket, key, _ = strings.Cut(link[len("s3://"):], "/")
	return bucket, key, true
}

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
	InteractiveButton          = "button"                   // up to 3 reply buttons
	InteractiveList            = "list"                     // a menu of rows in sections
	InteractiveCTAURL          = "cta_url"                  // a call-to-action button opening a URL
	InteractiveFlow            = "flow"                     // a WhatsApp Flow, by flow_id or flow_name
	InteractiveCatalog         = "catalog_message"          // the business's catalog
	InteractiveProduct         = "product"                  // one catalog product
	InteractiveProductList     = "product_list"             // up to 30 catalog products in sections
	InteractiveOrderDetails    = "order_details"            // an order to review and pay (payments)
	InteractiveOrderStatus     = "order_status"             // a status update of that order
	InteractiveLocationRequest = "location_request_message" // a "send location" button
	InteractiveAddress         = "address_message"          // a shipping address form (India)
)

// InteractiveTypes lists every interactive type.
var InteractiveTypes = []string{InteractiveButton, InteractiveList, InteractiveCTAURL, InteractiveFlow,
	InteractiveCatalog, InteractiveProduct, InteractiveProductList, InteractiveOrderDetails, InteractiveOrderStatus,
	InteractiveLocationRequest, InteractiveAddress}

// Interactive is an interactive message: reply buttons, list, CTA URL,
// flow, catalog, single or multi product, order details or status,
// location request or address request.
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

// InteractiveAction is what the user can do: Buttons (button); Button and
// Sections (list); CatalogID with ProductRetailerID (product) or Sections
// of product items (product_list); or Name and Parameters (cta_url,
// flow, catalog_message, review_and_pay, review_order, send_location,
// address_message).
type InteractiveAction struct {
	Buttons           []ReplyButton     `json:"buttons,omitempty"`
	Button            string            `json:"button,omitempty"`
	Sections          []ListSection     `json:"sections,omitempty"`
	CatalogID         string            `json:"catalog_id,omitempty"`
	ProductRetailerID string            `json:"product_retailer_id,omitempty"`
	Name              string            `json:"name,omitempty"`
	Parameters        *ActionParameters `json:"parameters,omitempty"`
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

// ListSection is a section of a list message (Rows) or of a multi-product
// message (ProductItems).
type ListSection struct {
	Title        string        `json:"title,omitempty"`
	Rows         []ListRow     `json:"rows,omitempty"`
	ProductItems []ProductItem `json:"product_items,omitempty"`
}

// ListRow is a row of a list message.
type ListRow struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// ProductItem is a catalog product of a multi-product message.
type ProductItem struct {
	ProductRetailerID string `json:"product_retailer_id"`
}

// ActionParameters are the parameters of a named action; each action name
// takes its own keys (Validate refuses the others):
//   - cta_url: DisplayText, URL;
//   - catalog_message: ThumbnailProductRetailerID;
//   - flow: FlowMessageVersion, FlowID or FlowName, FlowCTA, FlowToken,
//     FlowAction, FlowActionPayload, Mode;
//   - review_and_pay (order_details): ReferenceID, Type, PaymentType,
//     PaymentConfiguration, Currency, TotalAmount, Order;
//   - review_order (order_status): ReferenceID, Order;
//   - address_message: Country, Values, SavedAddresses, ValidationErrors.
type ActionParameters struct {
	DisplayText string `json:"display_text,omitempty"`
	URL         string `json:"url,omitempty"`

	ThumbnailProductRetailerID string `json:"thumbnail_product_retailer_id,omitempty"`

	FlowMessageVersion string             `json:"flow_message_version,omitempty"`
	FlowID             string             `json:"flow_id,omitempty"`
	FlowName           string             `json:"flow_name,omitempty"`
	FlowCTA            string             `json:"flow_cta,omitempty"`
	FlowToken          string             `json:"flow_token,omitempty"`
	FlowAction         string             `json:"flow_action,omitempty"`
	FlowActionPayload  *FlowActionPayload `json:"flow_action_payload,omitempty"`
	Mode               string             `json:"mode,omitempty"`

	ReferenceID          string        `json:"reference_id,omitempty"`
	Type                 string        `json:"type,omitempty"`
	PaymentType          string        `json:"payment_type,omitempty"`
	PaymentConfiguration string        `json:"payment_configuration,omitempty"`
	Currency             string        `json:"currency,omitempty"`
	TotalAmount          *Amount       `json:"total_amount,omitempty"`
	Order                *OrderDetails `json:"order,omitempty"`

	Country          string            `json:"country,omitempty"`
	Values           map[string]string `json:"values,omitempty"`
	SavedAddresses   []SavedAddress    `json:"saved_addresses,omitempty"`
	ValidationErrors map[string]string `json:"validation_errors,omitempty"`
}

// CTAParameters are a call-to-action URL button's text and URL.
//
// Deprecated: use ActionParameters, which carries every action's keys.
type CTAParameters = ActionParameters

// FlowActionPayload opens a flow on Screen with Data (flow_action navigate).
type FlowActionPayload struct {
	Screen string         `json:"screen,omitempty"`
	Data   map[string]any `json:"data,omitempty"`
}

// Amount is a money amount as Meta's payments write it: Value / Offset
// (value 21000, offset 100 = 210.00).
type Amount struct {
	Value  *int64 `json:"value"`
	Offset *int64 `json:"offset"`
}

// OrderDetails is the order of an order_details (Status "pending", Items,
// Subtotal, Tax, optional Shipping and Discount) or order_status (Status,
// Description) message.
type OrderDetails struct {
	Status      string        `json:"status"`
	Description string        `json:"description,omitempty"`
	CatalogID   string        `json:"catalog_id,omitempty"`
	Expiration  *OrderExpiry  `json:"expiration,omitempty"`
	Items       []OrderItem   `json:"items,omitempty"`
	Subtotal    *Amount       `json:"subtotal,omitempty"`
	Tax         *AmountNote   `json:"tax,omitempty"`
	Shipping    *AmountNote   `json:"shipping,omitempty"`
	Discount    *DiscountNote `json:"discount,omitempty"`
}

// OrderExpiry is when an order can no longer be paid: Timestamp (Unix
// seconds, as a string) and the Description shown after.
type OrderExpiry struct {
	Timestamp   string `json:"timestamp"`
	Description string `json:"description"`
}

// OrderItem is one line of an order_details message.
type OrderItem struct {
	RetailerID      string  `json:"retailer_id"`
	Name            string  `json:"name"`
	Amount          *Amount `json:"amount"`
	Quantity        *int64  `json:"quantity"`
	SaleAmount      *Amount `json:"sale_amount,omitempty"`
	CountryOfOrigin string  `json:"country_of_origin,omitempty"`
	ImporterName    string  `json:"importer_name,omitempty"`
}

// AmountNote is an amount with an optional description (tax, shipping).
type AmountNote struct {
	Value       *int64 `json:"value"`
	Offset      *int64 `json:"offset"`
	Description string `json:"description,omitempty"`
}

// DiscountNote is an order's discount.
type DiscountNote struct {
	Value               *int64 `json:"value"`
	Offset              *int64 `json:"offset"`
	Description         string `json:"description,omitempty"`
	DiscountProgramName string `json:"discount_program_name,omitempty"`
}

// SavedAddress is an address the user may pick in an address message.
type SavedAddress struct {
	ID    string            `json:"id"`
	Value map[string]string `json:"value"`
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

// TemplateComponent fills a template's header, body, button,
// limited-time offer or carousel (Cards, each with its own components).
type TemplateComponent struct {
	Type    string `json:"type"`
	SubType string `json:"sub_type,omitempty"`
	// Index is the button position; Meta accepts a number or a numeric
	// string, and it is passed through as given.
	Index      any                 `json:"index,omitempty"`
	Parameters []TemplateParameter `json:"parameters,omitempty"`
	Cards      []CarouselCard      `json:"cards,omitempty"`
}

// CarouselCard is one card of a carousel template: its position
// (CardIndex, 0 to 9) and its header, body and button components.
type CarouselCard struct {
	CardIndex  *int                `json:"card_index"`
	Components []TemplateComponent `json:"components"`
}

// TemplateParameter is one parameter of a template component: Type and
// the value under the key Type names, as in Meta's parameter objects.
// Exactly that one value is set.
type TemplateParameter struct {
	Type string `json:"type"`
	// ParameterName names the placeholder in a template with named
	// parameters ({{customer_name}}); positional templates leave it out.
	ParameterName string                `json:"parameter_name,omitempty"`
	Text          string                `json:"text,omitempty"`
	Currency      *TemplateCurrency     `json:"currency,omitempty"`
	DateTime      *TemplateDateTime     `json:"date_time,omitempty"`
	Image         *Media                `json:"image,omitempty"`
	Video         *Media                `json:"video,omitempty"`
	Document      *Media                `json:"document,omitempty"`
	Location      *Location             `json:"location,omitempty"`
	Payload       string                `json:"payload,omitempty"`     // quick reply button
	CouponCode    string                `json:"coupon_code,omitempty"` // copy code button
	Action        *TemplateButtonAction `json:"action,omitempty"`      // catalog, multi-product or flow button
	// LimitedTimeOffer is the offer's expiry (limited_time_offer component).
	LimitedTimeOffer *LimitedTimeOffer `json:"limited_time_offer,omitempty"`
	// Product is a product card's product (header of a carousel card).
	Product *TemplateProduct `json:"product,omitempty"`
}

// Template parameter types.
var TemplateParameterTypes = []string{"text", "currency", "date_time", TypeImage, TypeVideo, TypeDocument,
	TypeLocation, "payload", "coupon_code", "action", "limited_time_offer", "product"}

// LimitedTimeOffer is when a limited-time offer ends, in Unix milliseconds.
type LimitedTimeOffer struct {
	ExpirationTimeMS *int64 `json:"expiration_time_ms"`
}

// TemplateProduct is the catalog product of a product card.
type TemplateProduct struct {
	ProductRetailerID string `json:"product_retailer_id"`
	CatalogID         string `json:"catalog_id"`
}

// TemplateCurrency is a currency parameter; Amount1000 is the amount
// times 1000.
type TemplateCurrency struct {
	FallbackValue string `json:"fallback_value"`
	Code          string `json:"code"`
	Amount1000    *int64 `json:"amount_1000"`
}

// TemplateDateTime is a date_time parameter. Cloud API always shows
// FallbackValue; the other fields are accepted for compatibility with
// Meta's examples and passed through.
type TemplateDateTime struct {
	FallbackValue string `json:"fallback_value"`
	Calendar      string `json:"calendar,omitempty"`
	DayOfWeek     *int   `json:"day_of_week,omitempty"`
	DayOfMonth    *int   `json:"day_of_month,omitempty"`
	Month         *int   `json:"month,omitempty"`
	Year          *int   `json:"year,omitempty"`
	Hour          *int   `json:"hour,omitempty"`
	Minute        *int   `json:"minute,omitempty"`
}

// TemplateButtonAction is the action parameter of a catalog button
// (ThumbnailProductRetailerID), a multi-product button
// (ThumbnailProductRetailerID and Sections) or a flow button (FlowToken,
// FlowActionData: the first screen's data).
type TemplateButtonAction struct {
	ThumbnailProductRetailerID string         `json:"thumbnail_product_retailer_id,omitempty"`
	Sections                   []ListSection  `json:"sections,omitempty"`
	FlowToken                  string         `json:"flow_token,omitempty"`
	FlowActionData             map[string]any `json:"flow_action_data,omitempty"`
}

// values lists the parameter's set value keys.
func (p TemplateParameter) values() []string {
	var set []string
	for k, v := range map[string]bool{
		"text": p.Text != "", "currency": p.Currency != nil, "date_time": p.DateTime != nil,
		TypeImage: p.Image != nil, TypeVideo: p.Video != nil, TypeDocument: p.Document != nil,
		TypeLocation: p.Location != nil, "payload": p.Payload != "", "coupon_code": p.CouponCode != "",
		"action": p.Action != nil, "limited_time_offer": p.LimitedTimeOffer != nil, "product": p.Product != nil,
	} {
		if v {
			set = append(set, k)
		}
	}
	sort.Strings(set)
	return set
}

// Reaction reacts to a message; an empty Emoji removes the reaction.
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// Receipt names the inbound message a read receipt or typing indicator is about.
type Receipt struct {
	MessageID string `json:"message_id"`
}

// Decode parses a job strictly (see strictjson): a key must be spelled
// exactly as in the contract, appear once, and be known, at every depth;
// so a typo is reported rather than ignored, and "To" cannot override
// "to" after the job was queued in "to"'s message group. Errors are
// classified Invalid and name keys, never values.
func Decode(b []byte) (Job, error) {
	var j Job
	if err := strictjson.Unmarshal(b, &j); err != nil {
		return Job{}, fault.InvalidErr(fmt.Errorf("decode outbound job: %w", err))
	}
	return j, nil
}

// Peek extracts what identifies a job from a body that may not decode as a
// Job, so a malformed job can still be reported to its tenant; to is the
// recipient: to, or else recipient. Keys are
// matched exactly, as Decode does, and a key given twice (or also in
// another case) yields nothing: a body cannot name one tenant or
// recipient to the queue and another to the report.
func Peek(b []byte) (jobID, tenantID, phoneNumberID, to, clientRef string) {
	values := map[string]string{}
	count := map[string]int{}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			break
		}
		k, _ := t.(string)
		var v any
		if dec.Decode(&v) != nil {
			break
		}
		count[strings.ToLower(k)]++
		if s, ok := v.(string); ok {
			values[k] = s
		}
	}
	get := func(k string) string {
		if count[k] != 1 {
			return ""
		}
		return values[k]
	}
	to = get("to")
	if to == "" {
		to = get("recipient")
	}
	return get("job_id"), get("tenant_id"), get("phone_number_id"), to, get("client_ref")
}

// WaID is the recipient's phone number as WhatsApp ids are written:
// digits only ("" for a job addressed by Recipient).
func (j Job) WaID() string { return strings.TrimPrefix(j.To, "+") }

// RecipientID is the recipient as the job names it: the digits of To, or
// the business-scoped user id in Recipient.
func (j Job) RecipientID() string {
	if j.To != "" {
		return j.WaID()
	}
	return j.Recipient
}

// GroupID is the FIFO message group the core must use when enqueueing the
// job: per tenant, sending number and recipient, so a recipient's messages
// keep their order while other recipients proceed in parallel. An id over
// SQS's 128 characters (a long business-scoped user id) keeps its first
// 64 characters and a hash of the whole, as queue.GroupID does.
func (j Job) GroupID() string {
	id := j.TenantID + ":" + j.PhoneNumberID + ":" + j.RecipientID()
	if len(id) <= 128 {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return id[:64] + hex.EncodeToString(sum[:16])
}

// IsBSUID reports whether s is a business-scoped user id as Meta writes
// them: a two-letter country code, a period, optionally "ENT." (a parent
// BSUID), and up to 128 letters and digits.
func IsBSUID(s string) bool {
	return bsuidRE.MatchString(s) && len(strings.TrimPrefix(s[3:], "ENT.")) <= maxBSUIDID
}

// maxBSUIDID bounds the letters and digits of a BSUID, checked apart from
// bsuidRE: a bounded repetition compiles to a copy of its operand per
// count, work every cold start would pay.
const maxBSUIDID = 128

var bsuidRE = regexp.MustCompile(`^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]+$`)

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

// TrafficLane is the job's lane: the one it names, else bulk for a
// template (what campaigns and notification runs send) and interactive for
// everything else (replies inside a conversation, read receipts, typing).
func (j Job) TrafficLane() string {
	switch {
	case j.Lane != "":
		return j.Lane
	case j.Type == TypeTemplate:
		return LaneBulk
	}
	return LaneInteractive
}

// IsMessage reports whether the job sends a message to the user (and so
// counts against the pair rate limit); read receipts and typing indicators
// do not.
func (j Job) IsMessage() bool { return j.Type != TypeRead && j.Type != TypeTyping }

// MediaRefs returns every media object of the job, wherever it is (the
// message's own, an interactive header's, a template parameter's), for
// validating links and resolving s3:// references in place. Kind is the
// media kind Meta expects (image, video, audio, document, sticker).
func (j *Job) MediaRefs() []MediaRef {
	var refs []MediaRef
	add := func(path, kind string, m *Media) {
		if m != nil {
			refs = append(refs, MediaRef{Path: path, Kind: kind, Media: m})
		}
	}
	add(TypeImage, TypeImage, j.Image)
	add(TypeVideo, TypeVideo, j.Video)
	add(TypeAudio, TypeAudio, j.Audio)
	add(TypeDocument, TypeDocument, j.Document)
	add(TypeSticker, TypeSticker, j.Sticker)
	if j.Interactive != nil && j.Interactive.Header != nil {
		h := j.Interactive.Header
		add("interactive.header.image", TypeImage, h.Image)
		add("interactive.header.video", TypeVideo, h.Video)
		add("interactive.header.document", TypeDocument, h.Document)
	}
	var components func(prefix string, cs []TemplateComponent)
	components = func(prefix string, cs []TemplateComponent) {
		for i := range cs {
			for k := range cs[i].Parameters {
				p := &cs[i].Parameters[k]
				f := fmt.Sprintf("%s[%d].parameters[%d].", prefix, i, k)
				add(f+TypeImage, TypeImage, p.Image)
				add(f+TypeVideo, TypeVideo, p.Video)
				add(f+TypeDocument, TypeDocument, p.Document)
			}
			// A carousel card's header media, card by card.
			for c := range cs[i].Cards {
				components(fmt.Sprintf("%s[%d].cards[%d].components", prefix, i, c), cs[i].Cards[c].Components)
			}
		}
	}
	if j.Template != nil {
		components("template.components", j.Template.Components)
	}
	return refs
}

// MediaRef is a media object of a job, where it is and its kind.
type MediaRef struct {
	Path  string // JSON path in the job, for problems
	Kind  string
	Media *Media
}

// Resolved replaces the media's s3:// link with what it resolved to: a
// media id (the link is dropped) or a link Meta can fetch.
func (r MediaRef) Resolved(id, link string) {
	r.Media.ID, r.Media.Link = id, link
	if id != "" {
		r.Media.Link = ""
	}
}
