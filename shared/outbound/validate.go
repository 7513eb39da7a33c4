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

// tenantIDRE is the tenant id rule, tenant.IDPattern (this package imports
// no adapter; a test in shared/tenant holds the two, and the schema's
// tenant_id pattern, to one expression).
var tenantIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// TenantIDPattern is the expression Validate checks tenant_id against.
func TenantIDPattern() string { return tenantIDRE.String() }

// Validate checks a job against the contract and Meta's limits before any
// Graph call. The error is classified Invalid and, as a *ValidationError,
// lists every problem.
func Validate(j Job) error {
	c := &checker{}
	if c.required("job_id", j.JobID) {
		c.maxChars("job_id", j.JobID, MaxJobID)
	}
	if c.required("tenant_id", j.TenantID) && !tenantIDRE.MatchString(j.TenantID) {
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

func (c *checker) interactive(in *Interactive) {
	if in == nil {
		return
	}
	if in.Body == nil || !c.required("interactive.body.text", in.Body.Text) {
		if in.Body == nil {
			c.addf("interactive.body is required")
		}
	} else {
		c.maxChars("interactive.body.text", in.Body.Text, MaxInteractiveBody)
	}
	if in.Footer != nil && c.required("interactive.footer.text", in.Footer.Text) {
		c.maxChars("interactive.footer.text", in.Footer.Text, MaxFooterText)
	}
	if h := in.Header; h != nil {
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
		if in.Type == InteractiveList && h.Type != "text" {
			c.addf("a list message header must be text")
		}
	}
	a := in.Action
	for _, f := range []struct {
		name string
		set  bool
		for_ string
	}{
		{"buttons", a.Buttons != nil, InteractiveButton},
		{"button", a.Button != "", InteractiveList},
		{"sections", a.Sections != nil, InteractiveList},
		{"name", a.Name != "", InteractiveCTAURL},
		{"parameters", a.Parameters != nil, InteractiveCTAURL},
	} {
		if f.set && f.for_ != in.Type && (in.Type == InteractiveButton || in.Type == InteractiveList || in.Type == InteractiveCTAURL) {
			c.addf("interactive.action.%s belongs to a %s message, not %s", f.name, f.for_, in.Type)
		}
	}
	switch in.Type {
	case InteractiveButton:
		if len(a.Buttons) == 0 || len(a.Buttons) > MaxReplyButtons {
			c.addf("interactive.action.buttons must hold 1 to %d buttons, got %d", MaxReplyButtons, len(a.Buttons))
		}
		ids, titles := map[string]bool{}, map[string]bool{}
		for i, b := range a.Buttons {
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
	case InteractiveList:
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
	case InteractiveCTAURL:
		if a.Name != "cta_url" {
			c.addf("interactive.action.name must be \"cta_url\"")
		}
		if p := a.Parameters; p == nil {
			c.addf("interactive.action.parameters is required")
		} else {
			if c.required("interactive.action.parameters.display_text", p.DisplayText) {
				c.maxChars("interactive.action.parameters.display_text", p.DisplayText, MaxCTADisplayText)
			}
			if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				c.addf("interactive.action.parameters.url must be an http(s) URL")
			}
		}
	default:
		c.addf("interactive.type must be button, list or cta_url")
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
	for i, comp := range t.Components {
		f := fmt.Sprintf("template.components[%d]", i)
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
		default:
			c.addf("%s.type must be header, body or button", f)
		}
		for k, p := range comp.Parameters {
			c.templateParameter(fmt.Sprintf("%s.parameters[%d]", f, k), comp.Type, p)
		}
	}
}

// templateParameter checks that a parameter has a known type and exactly
// the value that type names.
func (c *checker) templateParameter(f, component string, p TemplateParameter) {
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
	}
	switch p.Type {
	case "text":
		if strings.TrimSpace(p.Text) == "" {
			c.addf("%s.text must not be empty", f)
		}
	case "payload":
		c.required(f+".payload", p.Payload)
	case "coupon_code":
		c.required(f+".coupon_code", p.CouponCode)
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
		if p.Action.ThumbnailProductRetailerID == "" && p.Action.FlowToken == "" {
			c.addf("%s.action needs thumbnail_product_retailer_id or flow_token", f)
		}
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
