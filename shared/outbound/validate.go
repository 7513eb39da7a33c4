package outbound

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tucanlink/wacloud/shared/fault"
)

// Limits Meta enforces on message content (see META_RULES.md).
const (
	MaxTextBody          = 4096
	MaxCaption           = 1024
	MaxReplyButtons      = 3
	MaxButtonTitle       = 20
	MaxButtonID          = 256
	MaxListButton        = 20
	MaxListSections      = 10
	MaxListRows          = 10 // in total, across sections
	MaxSectionTitle      = 24
	MaxRowTitle          = 24
	MaxRowDescription    = 72
	MaxRowID             = 200
	MaxInteractiveBody   = 1024
	MaxHeaderText        = 60
	MaxFooterText        = 60
	MaxCTADisplayText    = 20
	MaxContacts          = 5 // per the spec's ContactsMessage
	MaxJobID             = 128
	MaxClientRef         = 256
	MaxTemplateName      = 512
	MaxTemplateButtonIdx = 9
	MaxReactionEmoji     = 10 // code points: an emoji with skin tones and joiners
	MaxFlowCTA           = 30 // flow_cta, the flow's button
	MaxProducts          = 30 // product_list: products across all sections
	MaxReferenceID       = 35 // order_details reference_id
	MaxOrderStatusNote   = 120
	MaxCarouselCards     = 10
	MaxCouponCode        = 15 // copy code button
)

// ValidationError lists every problem found in a job.
type ValidationError struct {
	Problems []string
	rules    []int
}

func (e *ValidationError) Error() string {
	return "invalid outbound job: " + strings.Join(e.Problems, "; ")
}

type checker struct {
	problems []string
	rules    []int // the line of the rule behind each problem, for tests
}

func (c *checker) addf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
	c.rules = append(c.rules, ruleLine())
}

// ruleLine is the line of validate.go that states the rule being reported:
// the first caller outside the reporting helpers. Only invalid jobs pay
// for it.
func ruleLine() int {
	pcs := make([]uintptr, 8)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	for {
		f, more := frames.Next()
		switch {
		case strings.HasSuffix(f.Function, ".(*checker).required"), strings.HasSuffix(f.Function, ".(*checker).maxChars"),
			strings.HasSuffix(f.Function, ".(*checker).wamid"):
		case strings.HasSuffix(f.File, "/validate.go"):
			return f.Line
		}
		if !more {
			return 0
		}
	}
}

func (c *checker) required(field, v string) bool {
	if strings.TrimSpace(v) == "" {
		c.addf("%s is required", field)
		return false
	}
	return true
}

func (c *checker) maxChars(field, v string, limit int) {
	if n := utf8.RuneCountInString(v); n > limit {
		c.addf("%s has %d characters, limit %d", field, n, limit)
	}
}

// tenantIDPattern is the tenant id rule, tenant.IDPattern (this package
// imports no adapter; a test in shared/tenant holds the two, and the
// schema's tenant_id pattern, to one expression). validTenantID checks it
// as tenantIDRE and a length, which compile to far less than its {0,63}
// (TestValidTenantIDFollowsThePattern).
const tenantIDPattern = `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`

var tenantIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func validTenantID(s string) bool { return len(s) <= 64 && tenantIDRE.MatchString(s) }

// campaignIDRE is shared/campaign's id form.
var campaignIDRE = regexp.MustCompile(`^cmp_[0-9a-f]{20}$`)

// TenantIDPattern is the expression Validate checks tenant_id against.
func TenantIDPattern() string { return tenantIDPattern }

// Validate checks a job against the contract and Meta's limits before any
// Graph call. The error is classified Invalid and, as a *ValidationError,
// lists every problem.
func Validate(j Job) error {
	c := &checker{}
	if c.required("job_id", j.JobID) {
		c.maxChars("job_id", j.JobID, MaxJobID)
	}
	if c.required("tenant_id", j.TenantID) && !validTenantID(j.TenantID) {
		c.addf("tenant_id must be 1 to 64 ASCII letters, digits, '-', '_' or '.', starting with a letter or digit")
	}
	if j.PhoneNumberID != "" && !digits(j.PhoneNumberID) {
		c.addf("phone_number_id must be Meta's numeric id")
	}
	switch {
	case j.To != "" && j.Recipient != "":
		c.addf("give the recipient once: to (a phone number) or recipient (a business-scoped user id), not both")
	case j.Recipient != "":
		if !IsBSUID(j.Recipient) {
			c.addf("recipient %q is not a business-scoped user id (e.g. US.13491208655302741918)", j.Recipient)
		}
	case j.To == "":
		c.addf("to (a phone number) or recipient (a business-scoped user id) is required")
	case !IsE164(j.To):
		c.addf("to %q is not an E.164 number (8 to 15 digits, optional leading +, e.g. +5511999990001)", j.To)
	}
	c.maxChars("client_ref", j.ClientRef, MaxClientRef)
	if j.CampaignID != "" && !campaignIDRE.MatchString(j.CampaignID) {
		c.addf("campaign_id must be a campaign id (cmp_ and 20 hex digits)")
	}
	if j.Lane != "" && j.Lane != LaneInteractive && j.Lane != LaneBulk {
		c.addf("lane must be %q or %q", LaneInteractive, LaneBulk)
	}
	if j.ReplyTo != "" {
		if !j.IsMessage() || j.Type == TypeReaction {
			c.addf("reply_to is not allowed on a %s job", j.Type)
		}
		c.wamid("reply_to", j.ReplyTo)
	}
	c.oneContent(j)
	switch j.Type {
	case TypeText:
		if j.Text != nil && c.required("text.body", j.Text.Body) {
			c.maxChars("text.body", j.Text.Body, MaxTextBody)
		}
	case TypeImage, TypeVideo, TypeAudio, TypeDocument, TypeSticker:
		c.media(j.Type, j.Type, j.mediaOf(j.Type))
	case TypeLocation:
		c.location("location", j.Location)
	case TypeContacts:
		c.contacts(j.Contacts)
	case TypeInteractive:
		c.interactive(j.Interactive)
	case TypeTemplate:
		c.template(j.Template)
	case TypeReaction:
		if j.Reaction != nil {
			c.wamid("reaction.message_id", j.Reaction.MessageID)
			if utf8.RuneCountInString(j.Reaction.Emoji) > MaxReactionEmoji {
				c.addf("reaction.emoji must be a single emoji, at most %d code points (or empty to remove the reaction)", MaxReactionEmoji)
			}
		}
	case TypeRead:
		if j.Read != nil {
			c.wamid("read.message_id", j.Read.MessageID)
		}
	case TypeTyping:
		if j.Typing != nil {
			c.wamid("typing.message_id", j.Typing.MessageID)
		}
	case "":
		c.addf("type is required (one of %s)", strings.Join(Types, ", "))
	default:
		c.addf("type %q is not supported (one of %s)", j.Type, strings.Join(Types, ", "))
	}
	// Every media object, wherever it sits and whatever the type says,
	// since the sender resolves the s3:// links of all of them.
	for _, ref := range j.MediaRefs() {
		if ref.Media.Link != "" {
			if err := CheckLink(ref.Media.Link, j.TenantID); err != nil {
				c.addf("%s.link: %v", ref.Path, err)
			}
		}
	}
	if len(c.problems) == 0 {
		return nil
	}
	return fault.InvalidErr(&ValidationError{Problems: c.problems, rules: c.rules})
}

// oneContent checks that the content field named by Type, and only it, is set.
func (c *checker) oneContent(j Job) {
	set := map[string]bool{
		TypeText: j.Text != nil, TypeTemplate: j.Template != nil, TypeImage: j.Image != nil,
		TypeVideo: j.Video != nil, TypeAudio: j.Audio != nil, TypeDocument: j.Document != nil,
		TypeSticker: j.Sticker != nil, TypeLocation: j.Location != nil, TypeContacts: j.Contacts != nil,
		TypeInteractive: j.Interactive != nil, TypeReaction: j.Reaction != nil, TypeRead: j.Read != nil,
		TypeTyping: j.Typing != nil,
	}
	if _, known := set[j.Type]; known && !set[j.Type] {
		c.addf("type is %q but the %q object is missing", j.Type, j.Type)
	}
	for _, t := range Types {
		if set[t] && t != j.Type {
			c.addf("%q object is set but type is %q", t, j.Type)
		}
	}
}

func (j Job) mediaOf(kind string) *Media {
	switch kind {
	case TypeImage:
		return j.Image
	case TypeVideo:
		return j.Video
	case TypeAudio:
		return j.Audio
	case TypeDocument:
		return j.Document
	case TypeSticker:
		return j.Sticker
	}
	return nil
}

func (c *checker) media(field, kind string, m *Media) {
	if m == nil {
		return
	}
	switch {
	case m.ID != "" && m.Link != "":
		c.addf("%s: set id or link, not both", field)
	case m.ID == "" && m.Link == "":
		c.addf("%s: id or link is required", field)
	case m.ID != "" && !digits(m.ID):
		c.addf("%s.id must be a Meta media id (digits)", field)
	}
	if m.Caption != "" {
		switch kind {
		case TypeImage, TypeVideo, TypeDocument:
			c.maxChars(field+".caption", m.Caption, MaxCaption)
		default:
			c.addf("%s: a %s cannot have a caption", field, kind)
		}
	}
	if m.Filename != "" && kind != TypeDocument {
		c.addf("%s: only a document has a filename", field)
	}
}

// CheckLink accepts an http(s) URL, or an s3://bucket/key reference (the
// scheme in any case, see IsS3Link) whose key lies under
// tenants/{tenantID}/ (a tenant may only send its own media) and is a
// plain key: no empty, "." or ".." segment, no backslash, percent sign,
// "?", "#" or control character.
func CheckLink(link, tenantID string) error {
	if bucket, key, isS3 := SplitS3Link(link); isS3 {
		if bucket == "" || key == "" {
			return fmt.Errorf("s3 reference must be s3://bucket/key")
		}
		for _, r := range key {
			if r < 0x20 || r == 0x7f || r == '\\' || r == '%' || r == '?' || r == '#' {
				return fmt.Errorf("s3 key must not contain a backslash, %%, ?, # or control character")
			}
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == "" || seg == ".." || seg == "." {
				return fmt.Errorf("s3 key must not contain empty, . or .. segments")
			}
		}
		if tenantID == "" || !strings.HasPrefix(key, "tenants/"+tenantID+"/") {
			return fmt.Errorf("s3 key must be under tenants/%s/", tenantID)
		}
		return nil
	}
	u, err := url.Parse(link)
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return fmt.Errorf("URL has no host")
		}
		return nil
	}
	return fmt.Errorf("scheme must be https, http or s3")
}

func (c *checker) location(f string, l *Location) {
	if l == nil {
		return
	}
	if l.Latitude == nil || math.IsNaN(*l.Latitude) || *l.Latitude < -90 || *l.Latitude > 90 {
		c.addf("%s.latitude is required, between -90 and 90", f)
	}
	if l.Longitude == nil || math.IsNaN(*l.Longitude) || *l.Longitude < -180 || *l.Longitude > 180 {
		c.addf("%s.longitude is required, between -180 and 180", f)
	}
}

func (c *checker) contacts(cs []Contact) {
	if cs == nil {
		return
	}
	if len(cs) == 0 || len(cs) > MaxContacts {
		c.addf("contacts must hold 1 to %d contacts, got %d", MaxContacts, len(cs))
	}
	for i, ct := range cs {
		c.required(fmt.Sprintf("contacts[%d].name.formatted_name", i), ct.Name.FormattedName)
		if ct.Birthday != "" && !isDate(ct.Birthday) {
			c.addf("contacts[%d].birthday must be a date, YYYY-MM-DD", i)
		}
		for k, p := range ct.Phones {
			c.required(fmt.Sprintf("contacts[%d].phones[%d].phone", i, k), p.Phone)
			if p.WaID != "" && !digits(p.WaID) {
				c.addf("contacts[%d].phones[%d].wa_id must be digits", i, k)
			}
		}
		for k, u := range ct.URLs {
			if IsS3Link(u.URL) {
				c.addf("contacts[%d].urls[%d].url: s3:// references are only allowed as media links", i, k)
			}
		}
	}
}

// interactiveForm is what each interactive type takes: whether it may or
// must have a header (and of which types), a body and a footer, and which
// action fields and named action it uses.
type interactiveForm struct {
	header      string // "", "optional", "text" (optional, text only), "required text"
	body        bool   // required
	footer      bool   // allowed
	fields      []string
	action      string // the action's name, for named actions
	parameters  []string
	paramsEmpty bool // the named action takes no parameters
}

var interactiveForms = map[string]interactiveForm{
	InteractiveButton:          {header: "optional", body: true, footer: true, fields: []string{"buttons"}},
	InteractiveList:            {header: "text", body: true, footer: true, fields: []string{"button", "sections"}},
	InteractiveCTAURL:          {header: "optional", body: true, footer: true, fields: []string{"name", "parameters"}, action: "cta_url", parameters: []string{"display_text", "url"}},
	InteractiveFlow:            {header: "optional", body: true, footer: true, fields: []string{"name", "parameters"}, action: "flow", parameters: []string{"flow_message_version", "flow_id", "flow_name", "flow_cta", "flow_token", "flow_action", "flow_action_payload", "mode"}},
	InteractiveCatalog:         {body: true, footer: true, fields: []string{"name", "parameters"}, action: "catalog_message", parameters: []string{"thumbnail_product_retailer_id"}},
	InteractiveProduct:         {footer: true, fields: []string{"catalog_id", "product_retailer_id"}},
	InteractiveProductList:     {header: "required text", body: true, footer: true, fields: []string{"catalog_id", "sections"}},
	InteractiveOrderDetails:    {header: "optional", body: true, footer: true, fields: []string{"name", "parameters"}, action: "review_and_pay", parameters: []string{"reference_id", "type", "payment_type", "payment_configuration", "currency", "total_amount", "order"}},
	InteractiveOrderStatus:     {body: true, footer: true, fields: []string{"name", "parameters"}, action: "review_order", parameters: []string{"reference_id", "order"}},
	InteractiveLocationRequest: {body: true, fields: []string{"name"}, action: "send_location", paramsEmpty: true},
	InteractiveAddress:         {header: "optional", body: true, footer: true, fields: []string{"name", "parameters"}, action: "address_message", parameters: []string{"country", "values", "saved_addresses", "validation_errors"}},
}

// setFields names the action fields that are set.
func (a InteractiveAction) setFields() map[string]bool {
	return map[string]bool{"buttons": a.Buttons != nil, "button": a.Button != "", "sections": a.Sections != nil,
		"catalog_id": a.CatalogID != "", "product_retailer_id": a.ProductRetailerID != "", "name": a.Name != "",
		"parameters": a.Parameters != nil}
}

// setKeys names the action parameters that are set.
func (p *ActionParameters) setKeys() map[string]bool {
	return map[string]bool{"display_text": p.DisplayText != "", "url": p.URL != "",
		"thumbnail_product_retailer_id": p.ThumbnailProductRetailerID != "",
		"flow_message_version":          p.FlowMessageVersion != "", "flow_id": p.FlowID != "", "flow_name": p.FlowName != "",
		"flow_cta": p.FlowCTA != "", "flow_token": p.FlowToken != "", "flow_action": p.FlowAction != "",
		"flow_action_payload": p.FlowActionPayload != nil, "mode": p.Mode != "",
		"reference_id": p.ReferenceID != "", "type": p.Type != "", "payment_type": p.PaymentType != "",
		"payment_configuration": p.PaymentConfiguration != "", "currency": p.Currency != "",
		"total_amount": p.TotalAmount != nil, "order": p.Order != nil,
		"country": p.Country != "", "values": p.Values != nil, "saved_addresses": p.SavedAddresses != nil,
		"validation_errors": p.ValidationErrors != nil}
}

func (c *checker) interactive(in *Interactive) {
	if in == nil {
		return
	}
	form, known := interactiveForms[in.Type]
	if !known {
		c.addf("interactive.type must be one of %s", strings.Join(InteractiveTypes, ", "))
		return
	}
	switch {
	case in.Body != nil:
		if c.required("interactive.body.text", in.Body.Text) {
			c.maxChars("interactive.body.text", in.Body.Text, MaxInteractiveBody)
		}
	case form.body:
		c.addf("interactive.body is required")
	}
	if in.Footer != nil {
		if !form.footer {
			c.addf("a %s message has no footer", in.Type)
		} else if c.required("interactive.footer.text", in.Footer.Text) {
			c.maxChars("interactive.footer.text", in.Footer.Text, MaxFooterText)
		}
	}
	if h := in.Header; h != nil {
		c.header(h)
		switch form.header {
		case "":
			c.addf("a %s message has no header", in.Type)
		case "text", "required text":
			if h.Type != "text" {
				c.addf("a %s message header must be text", in.Type)
			}
		}
	} else if form.header == "required text" {
		c.addf("a %s message needs a text header", in.Type)
	}
	a := in.Action
	for name, set := range a.setFields() {
		if set && !slices.Contains(form.fields, name) {
			c.addf("interactive.action.%s does not belong to a %s message", name, in.Type)
		}
	}
	if form.action != "" && a.Name != form.action {
		c.addf("interactive.action.name must be %q for a %s message", form.action, in.Type)
	}
	if p := a.Parameters; p != nil {
		for k, set := range p.setKeys() {
			if set && !slices.Contains(form.parameters, k) {
				c.addf("interactive.action.parameters.%s does not belong to a %s message", k, in.Type)
			}
		}
	} else if form.action != "" && !form.paramsEmpty {
		c.addf("interactive.action.parameters is required")
	}
	switch in.Type {
	case InteractiveButton:
		c.replyButtons(a.Buttons)
	case InteractiveList:
		c.listSections(a)
	case InteractiveCTAURL:
		if p := a.Parameters; p != nil {
			if c.required("interactive.action.parameters.display_text", p.DisplayText) {
				c.maxChars("interactive.action.parameters.display_text", p.DisplayText, MaxCTADisplayText)
			}
			if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				c.addf("interactive.action.parameters.url must be an http(s) URL")
			}
		}
	case InteractiveFlow:
		c.flow(a.Parameters)
	case InteractiveCatalog:
		if p := a.Parameters; p != nil {
			c.required("interactive.action.parameters.thumbnail_product_retailer_id", p.ThumbnailProductRetailerID)
		}
	case InteractiveProduct:
		c.required("interactive.action.catalog_id", a.CatalogID)
		c.required("interactive.action.product_retailer_id", a.ProductRetailerID)
	case InteractiveProductList:
		c.required("interactive.action.catalog_id", a.CatalogID)
		c.productSections("interactive.action.sections", a.Sections)
	case InteractiveOrderDetails:
		c.orderDetails(a.Parameters)
	case InteractiveOrderStatus:
		c.orderStatus(a.Parameters)
	case InteractiveAddress:
		if p := a.Parameters; p != nil {
			if !countryRE.MatchString(p.Country) {
				c.addf("interactive.action.parameters.country must be an ISO 3166 country code (IN)")
			}
			for i, sa := range p.SavedAddresses {
				c.required(fmt.Sprintf("interactive.action.parameters.saved_addresses[%d].id", i), sa.ID)
				if sa.Value == nil {
					c.addf("interactive.action.parameters.saved_addresses[%d].value is required", i)
				}
			}
		}
	}
}

var countryRE = regexp.MustCompile(`^[A-Z]{2}$`)

// header checks an interactive header on its own: its type and the one
// value that type names.
func (c *checker) header(h *InteractiveHeader) {
	switch h.Type {
	case "text":
		if c.required("interactive.header.text", h.Text) {
			c.maxChars("interactive.header.text", h.Text, MaxHeaderText)
		}
	case "image", "video", "document":
		m := map[string]*Media{"image": h.Image, "video": h.Video, "document": h.Document}[h.Type]
		if m == nil {
			c.addf("interactive.header.%s is required for a %s header", h.Type, h.Type)
		}
		c.media("interactive.header."+h.Type, h.Type, m)
	default:
		c.addf("interactive.header.type must be text, image, video or document")
	}
	for _, v := range []struct {
		kind string
		set  bool
	}{{"text", h.Text != ""}, {"image", h.Image != nil}, {"video", h.Video != nil}, {"document", h.Document != nil}} {
		if v.set && v.kind != h.Type {
			c.addf("interactive.header.%s is set but the header type is %q", v.kind, h.Type)
		}
	}
}

func (c *checker) replyButtons(buttons []ReplyButton) {
	if len(buttons) == 0 || len(buttons) > MaxReplyButtons {
		c.addf("interactive.action.buttons must hold 1 to %d buttons, got %d", MaxReplyButtons, len(buttons))
	}
	ids, titles := map[string]bool{}, map[string]bool{}
	for i, b := range buttons {
		f := fmt.Sprintf("interactive.action.buttons[%d]", i)
		if b.Type != "reply" {
			c.addf("%s.type must be \"reply\"", f)
		}
		if c.required(f+".reply.id", b.Reply.ID) {
			c.maxChars(f+".reply.id", b.Reply.ID, MaxButtonID)
		}
		if c.required(f+".reply.title", b.Reply.Title) {
			c.maxChars(f+".reply.title", b.Reply.Title, MaxButtonTitle)
		}
		if ids[b.Reply.ID] || titles[b.Reply.Title] {
			c.addf("%s: button ids and titles must be unique", f)
		}
		ids[b.Reply.ID], titles[b.Reply.Title] = true, true
	}
}

func (c *checker) listSections(a InteractiveAction) {
	if c.required("interactive.action.button", a.Button) {
		c.maxChars("interactive.action.button", a.Button, MaxListButton)
	}
	if len(a.Sections) == 0 || len(a.Sections) > MaxListSections {
		c.addf("interactive.action.sections must hold 1 to %d sections, got %d", MaxListSections, len(a.Sections))
	}
	rows, ids := 0, map[string]bool{}
	for i, s := range a.Sections {
		f := fmt.Sprintf("interactive.action.sections[%d]", i)
		if len(a.Sections) > 1 {
			c.required(f+".title", s.Title)
		}
		c.maxChars(f+".title", s.Title, MaxSectionTitle)
		if len(s.Rows) == 0 {
			c.addf("%s.rows must not be empty", f)
		}
		if s.ProductItems != nil {
			c.addf("%s.product_items belong to a product_list message", f)
		}
		for k, r := range s.Rows {
			rf := fmt.Sprintf("%s.rows[%d]", f, k)
			if c.required(rf+".id", r.ID) {
				c.maxChars(rf+".id", r.ID, MaxRowID)
			}
			if c.required(rf+".title", r.Title) {
				c.maxChars(rf+".title", r.Title, MaxRowTitle)
			}
			c.maxChars(rf+".description", r.Description, MaxRowDescription)
			if ids[r.ID] {
				c.addf("%s.id %q is not unique", rf, r.ID)
			}
			ids[r.ID] = true
		}
		rows += len(s.Rows)
	}
	if rows > MaxListRows {
		c.addf("a list message holds at most %d rows in total, got %d", MaxListRows, rows)
	}
}

// productSections checks the sections of a multi-product message (or of
// a multi-product template button): 1 to 10 sections, titled when there
// are several, 1 to 30 products in all.
func (c *checker) productSections(f string, sections []ListSection) {
	if len(sections) == 0 || len(sections) > MaxListSections {
		c.addf("%s must hold 1 to %d sections, got %d", f, MaxListSections, len(sections))
	}
	items := 0
	for i, s := range sections {
		sf := fmt.Sprintf("%s[%d]", f, i)
		if len(sections) > 1 {
			c.required(sf+".title", s.Title)
		}
		c.maxChars(sf+".title", s.Title, MaxSectionTitle)
		if s.Rows != nil {
			c.addf("%s.rows belong to a list message", sf)
		}
		if len(s.ProductItems) == 0 || len(s.ProductItems) > MaxProducts {
			c.addf("%s.product_items must hold 1 to %d products, got %d", sf, MaxProducts, len(s.ProductItems))
		}
		for k, p := range s.ProductItems {
			c.required(fmt.Sprintf("%s.product_items[%d].product_retailer_id", sf, k), p.ProductRetailerID)
		}
		items += len(s.ProductItems)
	}
	if items > MaxProducts {
		c.addf("%s: a multi-product message holds at most %d products in total, got %d", f, MaxProducts, items)
	}
}

func (c *checker) flow(p *ActionParameters) {
	if p == nil {
		return
	}
	const f = "interactive.action.parameters"
	if p.FlowMessageVersion != "3" {
		c.addf("%s.flow_message_version must be \"3\"", f)
	}
	if (p.FlowID == "") == (p.FlowName == "") {
		c.addf("%s: give the flow by flow_id or by flow_name, one of the two", f)
	}
	if c.required(f+".flow_cta", p.FlowCTA) {
		c.maxChars(f+".flow_cta", p.FlowCTA, MaxFlowCTA)
	}
	if p.FlowAction != "" && p.FlowAction != "navigate" && p.FlowAction != "data_exchange" {
		c.addf("%s.flow_action must be navigate or data_exchange", f)
	}
	if p.Mode != "" && p.Mode != "draft" && p.Mode != "published" {
		c.addf("%s.mode must be draft or published", f)
	}
	if fp := p.FlowActionPayload; fp != nil {
		if p.FlowAction == "data_exchange" {
			c.addf("%s.flow_action_payload is only for flow_action navigate", f)
		}
		c.required(f+".flow_action_payload.screen", fp.Screen)
		if fp.Data != nil && len(fp.Data) == 0 {
			c.addf("%s.flow_action_payload.data must not be empty when given", f)
		}
	}
}

// amount checks a value/offset pair and returns it as a fraction.
func (c *checker) amount(f string, value, offset *int64) (num, den int64, ok bool) {
	if value == nil || *value < 0 {
		c.addf("%s.value is required, a whole number of at least 0", f)
		return 0, 0, false
	}
	if offset == nil || *offset < 1 {
		c.addf("%s.offset is required, a whole number of at least 1 (100: value in cents)", f)
		return 0, 0, false
	}
	return *value, *offset, true
}

// money sums fractions exactly; ok is false once any part is missing.
type money struct {
	num, den int64
	ok       bool
}

func (m money) plus(sign, num, den int64, ok bool) money {
	if !m.ok || !ok {
		return money{ok: false}
	}
	return money{num: m.num*den + sign*num*m.den, den: m.den * den, ok: true}
}

func (m money) equals(num, den int64, ok bool) bool { return !m.ok || !ok || m.num*den == num*m.den }

func (c *checker) orderDetails(p *ActionParameters) {
	if p == nil {
		return
	}
	const f = "interactive.action.parameters"
	if c.required(f+".reference_id", p.ReferenceID) {
		c.maxChars(f+".reference_id", p.ReferenceID, MaxReferenceID)
		if !referenceRE.MatchString(p.ReferenceID) {
			c.addf("%s.reference_id may hold only letters, digits, _, - and .", f)
		}
	}
	if p.Type != "digital-goods" && p.Type != "physical-goods" {
		c.addf("%s.type must be digital-goods or physical-goods", f)
	}
	if !currencyRE.MatchString(p.Currency) {
		c.addf("%s.currency must be an ISO 4217 code (INR)", f)
	}
	var tn, td int64
	tok := false
	if p.TotalAmount == nil {
		c.addf("%s.total_amount is required", f)
	} else {
		tn, td, tok = c.amount(f+".total_amount", p.TotalAmount.Value, p.TotalAmount.Offset)
	}
	o := p.Order
	if o == nil {
		c.addf("%s.order is required", f)
		return
	}
	if o.Status != "pending" {
		c.addf("%s.order.status must be \"pending\" in an order_details message", f)
	}
	if o.Description != "" {
		c.addf("%s.order.description belongs to an order_status message", f)
	}
	if len(o.Items) == 0 {
		c.addf("%s.order.items must hold at least one item", f)
	}
	items := money{den: 1, ok: true}
	for i, it := range o.Items {
		itf := fmt.Sprintf("%s.order.items[%d]", f, i)
		c.required(itf+".retailer_id", it.RetailerID)
		c.required(itf+".name", it.Name)
		if it.Quantity == nil || *it.Quantity < 1 {
			c.addf("%s.quantity is required, at least 1", itf)
		}
		var n, d int64
		ok := false
		if it.Amount == nil {
			c.addf("%s.amount is required", itf)
		} else {
			n, d, ok = c.amount(itf+".amount", it.Amount.Value, it.Amount.Offset)
		}
		if it.SaleAmount != nil {
			n, d, ok = c.amount(itf+".sale_amount", it.SaleAmount.Value, it.SaleAmount.Offset)
		}
		if ok && it.Quantity != nil {
			items = items.plus(1, n**it.Quantity, d, true)
		} else {
			items = items.plus(1, 0, 1, false)
		}
	}
	var sub money
	if o.Subtotal == nil {
		c.addf("%s.order.subtotal is required", f)
	} else {
		n, d, ok := c.amount(f+".order.subtotal", o.Subtotal.Value, o.Subtotal.Offset)
		sub = money{den: 1, ok: true}.plus(1, n, d, ok)
		if !items.equals(n, d, ok) {
			c.addf("%s.order.subtotal must be the sum of the items' (sale) amount times quantity", f)
		}
	}
	total := sub
	if o.Tax == nil {
		c.addf("%s.order.tax is required", f)
	} else {
		n, d, ok := c.amount(f+".order.tax", o.Tax.Value, o.Tax.Offset)
		total = total.plus(1, n, d, ok)
	}
	if o.Shipping != nil {
		n, d, ok := c.amount(f+".order.shipping", o.Shipping.Value, o.Shipping.Offset)
		total = total.plus(1, n, d, ok)
	}
	if o.Discount != nil {
		n, d, ok := c.amount(f+".order.discount", o.Discount.Value, o.Discount.Offset)
		total = total.plus(-1, n, d, ok)
	}
	if o.Subtotal != nil && o.Tax != nil && !total.equals(tn, td, tok) {
		c.addf("%s.total_amount must be subtotal + tax + shipping - discount", f)
	}
	if o.Expiration != nil {
		if !digits(o.Expiration.Timestamp) {
			c.addf("%s.order.expiration.timestamp must be Unix seconds", f)
		}
		c.required(f+".order.expiration.description", o.Expiration.Description)
	}
}

var (
	referenceRE = regexp.MustCompile(`^[A-Za-z0-9_.-]*$`)
	currencyRE  = regexp.MustCompile(`^[A-Z]{3}$`)
)

// OrderStatuses are the statuses an order_status message can set.
var OrderStatuses = []string{"pending", "processing", "partially_shipped", "shipped", "completed", "canceled"}

func (c *checker) orderStatus(p *ActionParameters) {
	if p == nil {
		return
	}
	const f = "interactive.action.parameters"
	c.required(f+".reference_id", p.ReferenceID)
	o := p.Order
	if o == nil {
		c.addf("%s.order is required", f)
		return
	}
	if !slices.Contains(OrderStatuses, o.Status) {
		c.addf("%s.order.status must be one of %s", f, strings.Join(OrderStatuses, ", "))
	}
	c.maxChars(f+".order.description", o.Description, MaxOrderStatusNote)
	if o.Items != nil || o.Subtotal != nil || o.Tax != nil || o.Shipping != nil || o.Discount != nil || o.CatalogID != "" || o.Expiration != nil {
		c.addf("%s.order of an order_status message holds only status and description", f)
	}
}

func (c *checker) template(t *Template) {
	if t == nil {
		return
	}
	if c.required("template.name", t.Name) {
		c.maxChars("template.name", t.Name, MaxTemplateName)
	}
	c.required("template.language.code", t.Language.Code)
	if t.Language.Policy != "" && t.Language.Policy != "deterministic" {
		c.addf("template.language.policy must be \"deterministic\" when set")
	}
	c.components("template.components", t.Components, false)
}

// components checks a template's components, or a carousel card's (card
// true: header, body and button only, and a product header allowed).
func (c *checker) components(prefix string, cs []TemplateComponent, card bool) {
	for i, comp := range cs {
		f := fmt.Sprintf("%s[%d]", prefix, i)
		switch comp.Type {
		case "header", "body", "button":
			c.componentShape(f, comp)
		case "carousel", "limited_time_offer":
			if card {
				c.addf("%s.type must be header, body or button in a carousel card", f)
			}
			if comp.SubType != "" || comp.Index != nil {
				c.addf("%s: sub_type and index belong to button components only", f)
			}
		default:
			c.addf("%s.type must be header, body, button, carousel or limited_time_offer", f)
		}
		if comp.Cards != nil && comp.Type != "carousel" {
			c.addf("%s.cards belong to a carousel component", f)
		}
		switch comp.Type {
		case "carousel":
			c.carousel(f, comp)
		case "limited_time_offer":
			if len(comp.Parameters) != 1 {
				c.addf("%s: a limited_time_offer component has exactly one limited_time_offer parameter", f)
			}
		}
		for k, p := range comp.Parameters {
			c.templateParameter(fmt.Sprintf("%s.parameters[%d]", f, k), comp.Type, card, p)
		}
	}
}

func (c *checker) componentShape(f string, comp TemplateComponent) {
	switch comp.Type {
	case "header", "body":
		if comp.SubType != "" || comp.Index != nil {
			c.addf("%s: sub_type and index belong to button components only", f)
		}
	case "button":
		c.required(f+".sub_type", comp.SubType)
		if !buttonIndex(comp.Index) {
			c.addf("%s.index must be 0 to %d (a number or a one-digit string)", f, MaxTemplateButtonIdx)
		}
	}
}

// carousel checks a carousel component: 1 to 10 cards with distinct
// card_index 0 to 9, each with its own components.
func (c *checker) carousel(f string, comp TemplateComponent) {
	if comp.Parameters != nil {
		c.addf("%s: a carousel has no parameters of its own, its cards do", f)
	}
	if len(comp.Cards) == 0 || len(comp.Cards) > MaxCarouselCards {
		c.addf("%s.cards must hold 1 to %d cards, got %d", f, MaxCarouselCards, len(comp.Cards))
	}
	seen := map[int]bool{}
	for i, card := range comp.Cards {
		cf := fmt.Sprintf("%s.cards[%d]", f, i)
		switch {
		case card.CardIndex == nil || *card.CardIndex < 0 || *card.CardIndex >= MaxCarouselCards:
			c.addf("%s.card_index is required, 0 to %d", cf, MaxCarouselCards-1)
		case seen[*card.CardIndex]:
			c.addf("%s.card_index %d is not unique", cf, *card.CardIndex)
		default:
			seen[*card.CardIndex] = true
		}
		if len(card.Components) == 0 {
			c.addf("%s.components must not be empty", cf)
		}
		c.components(cf+".components", card.Components, true)
	}
}

// templateParameter checks that a parameter has a known type and exactly
// the value that type names, in a component that takes it.
func (c *checker) templateParameter(f, component string, card bool, p TemplateParameter) {
	known := false
	for _, t := range TemplateParameterTypes {
		known = known || t == p.Type
	}
	if !known {
		c.addf("%s.type must be one of %s", f, strings.Join(TemplateParameterTypes, ", "))
		return
	}
	set := p.values()
	for _, v := range set {
		if v != p.Type {
			c.addf("%s: a %q parameter cannot carry %q", f, p.Type, v)
		}
	}
	if !slices.Contains(set, p.Type) {
		c.addf("%s: a %q parameter needs its value in %q", f, p.Type, p.Type)
		return
	}
	switch p.Type {
	case TypeImage, TypeVideo, TypeDocument, TypeLocation:
		if component != "header" {
			c.addf("%s: %s parameters belong in the header component", f, p.Type)
		}
	case "product":
		if component != "header" || !card {
			c.addf("%s: product parameters belong in the header of a carousel card", f)
		}
	}
	if (p.Type == "limited_time_offer") != (component == "limited_time_offer") {
		c.addf("%s: limited_time_offer parameters belong in the limited_time_offer component, and only they", f)
	}
	switch p.Type {
	case "text":
		if strings.TrimSpace(p.Text) == "" {
			c.addf("%s.text must not be empty", f)
		}
	case "payload":
		c.required(f+".payload", p.Payload)
	case "coupon_code":
		if c.required(f+".coupon_code", p.CouponCode) {
			c.maxChars(f+".coupon_code", p.CouponCode, MaxCouponCode)
		}
	case "currency":
		c.required(f+".currency.fallback_value", p.Currency.FallbackValue)
		c.required(f+".currency.code", p.Currency.Code)
		if p.Currency.Amount1000 == nil {
			c.addf("%s.currency.amount_1000 is required", f)
		}
	case "date_time":
		c.required(f+".date_time.fallback_value", p.DateTime.FallbackValue)
	case TypeImage:
		c.templateMedia(f+".image", TypeImage, p.Image)
	case TypeVideo:
		c.templateMedia(f+".video", TypeVideo, p.Video)
	case TypeDocument:
		c.templateMedia(f+".document", TypeDocument, p.Document)
	case TypeLocation:
		c.location(f+".location", p.Location)
	case "action":
		a := p.Action
		if a.ThumbnailProductRetailerID == "" && a.FlowToken == "" && a.FlowActionData == nil {
			c.addf("%s.action needs thumbnail_product_retailer_id (catalog, multi-product) or flow_token (flow)", f)
		}
		if a.FlowActionData != nil && len(a.FlowActionData) == 0 {
			c.addf("%s.action.flow_action_data must not be empty when given", f)
		}
		if a.Sections != nil {
			c.productSections(f+".action.sections", a.Sections)
		}
	case "limited_time_offer":
		if ms := p.LimitedTimeOffer.ExpirationTimeMS; ms == nil || *ms < 0 {
			c.addf("%s.limited_time_offer.expiration_time_ms is required: when the offer ends, Unix milliseconds", f)
		}
	case "product":
		c.required(f+".product.product_retailer_id", p.Product.ProductRetailerID)
		c.required(f+".product.catalog_id", p.Product.CatalogID)
	}
}

// templateMedia checks a template parameter's media: Meta shows no caption.
func (c *checker) templateMedia(f, kind string, m *Media) {
	c.media(f, kind, m)
	if m.Caption != "" {
		c.addf("%s: a template parameter's media has no caption", f)
	}
}

func buttonIndex(v any) bool {
	switch x := v.(type) {
	case float64:
		return x == math.Trunc(x) && x >= 0 && x <= MaxTemplateButtonIdx
	case string:
		// One digit, as the schema says: not "+1", "01" or " 1".
		return len(x) == 1 && x[0] >= '0' && x[0] <= '0'+MaxTemplateButtonIdx
	}
	return false
}

func (c *checker) wamid(field, v string) {
	if c.required(field, v) && !strings.HasPrefix(v, "wamid.") {
		c.addf("%s must be a WhatsApp message id (wamid....)", field)
	}
}

// IsE164 reports whether s is an E.164 number: an optional +, then 8 to 15
// digits, not starting with 0.
func IsE164(s string) bool {
	d := strings.TrimPrefix(s, "+")
	return len(d) >= 8 && len(d) <= 15 && d[0] != '0' && digits(d)
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// isDate reports whether s is a calendar date written YYYY-MM-DD, the
// form Meta's contact cards take for a birthday.
func isDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil && len(s) == len(time.DateOnly)
}
