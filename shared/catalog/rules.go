package catalog

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// NewTemplate is a template to create, in Meta's create shape (POST
// /{waba-id}/message_templates). Components stay raw so they reach Meta
// exactly as given; Problems reads what Meta's rules constrain.
type NewTemplate struct {
	Name            string          `json:"name"`
	Language        string          `json:"language"`
	Category        string          `json:"category"`
	ParameterFormat string          `json:"parameter_format,omitempty"`
	Components      json.RawMessage `json:"components"`
}

// Categories are the template categories Meta takes.
var Categories = []string{"MARKETING", "UTILITY", "AUTHENTICATION"}

type newComponent struct {
	Type                      string      `json:"type"`
	Format                    string      `json:"format"`
	Text                      string      `json:"text"`
	Example                   *newExample `json:"example"`
	Buttons                   []newButton `json:"buttons"`
	AddSecurityRecommendation *bool       `json:"add_security_recommendation"`
	CodeExpirationMinutes     *int        `json:"code_expiration_minutes"`
	Cards                     []newCard   `json:"cards"`
	LimitedTimeOffer          *newOffer   `json:"limited_time_offer"`
}

type newCard struct {
	Components []newComponent `json:"components"`
}

type newOffer struct {
	Text          string `json:"text"`
	HasExpiration bool   `json:"has_expiration"`
}

type newExample struct {
	HeaderText          []string       `json:"header_text"`
	HeaderTextNamed     []namedExample `json:"header_text_named_params"`
	HeaderHandle        []string       `json:"header_handle"`
	BodyText            [][]string     `json:"body_text"`
	BodyTextNamedParams []namedExample `json:"body_text_named_params"`
}

type namedExample struct {
	ParamName string `json:"param_name"`
	Example   string `json:"example"`
}

type newButton struct {
	Type        string   `json:"type"`
	Text        string   `json:"text"`
	URL         string   `json:"url"`
	PhoneNumber string   `json:"phone_number"`
	Example     []string `json:"example"`
	OTPType     string   `json:"otp_type"`
	FlowID      string   `json:"flow_id"`
	FlowName    string   `json:"flow_name"`
	FlowJSON    string   `json:"flow_json"`
}

// MaxTemplateName is the longest template name Meta accepts.
const MaxTemplateName = 512

var (
	// The name's length is checked apart: `{1,512}` would compile to a
	// program of a thousand instructions, most of a millisecond of every
	// cold start of the functions that link this package.
	templateNameRE = regexp.MustCompile(`^[a-z0-9_]+$`)
	languageRE     = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2}|_[A-Z][a-z]{3})?$`)
	rawVariableRE  = regexp.MustCompile(`\{\{([^{}]*)\}\}`)
	namedParamRE   = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
)

// Problems lists every rule of Meta's template review the template
// breaks (empty when Meta's checks would pass): the name, language,
// category and parameter format; at most one HEADER, BODY, FOOTER and
// BUTTONS and a BODY always; text lengths (header 60, body 1024, footer
// 60, button 25); variables {{1}}…{{n}} without gaps (POSITIONAL) or
// lowercase names (NAMED), with an example for each; buttons (1 to 10,
// at most 2 URL and 1 PHONE_NUMBER, a URL variable only as a trailing
// {{1}} with an example URL); authentication templates with a fixed
// body, an expiry footer of 1 to 90 minutes and one OTP button. The
// Graph simulator enforces the same rules (TestCreateRulesMatchTheSimulator).
func (t NewTemplate) Problems() []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if len(t.Name) > MaxTemplateName || !templateNameRE.MatchString(t.Name) {
		add("name %q must be 1 to 512 lowercase letters, digits and underscores", t.Name)
	}
	if !languageRE.MatchString(t.Language) {
		add("language %q must be a language code such as en_US or pt_BR", t.Language)
	}
	if !slices.Contains(Categories, t.Category) {
		add("category %q must be one of %s", t.Category, strings.Join(Categories, ", "))
	}
	format := t.ParameterFormat
	if format == "" {
		format = FormatPositional
	}
	if format != FormatPositional && format != FormatNamed {
		add("parameter_format %q must be POSITIONAL or NAMED", t.ParameterFormat)
	}
	var comps []newComponent
	if err := json.Unmarshal(t.Components, &comps); err != nil || len(comps) == 0 {
		add("components must be a non-empty list of components")
		return out
	}
	seen := map[string]bool{}
	for i, c := range comps {
		c.Type = strings.ToUpper(c.Type)
		where := fmt.Sprintf("components[%d]", i)
		if !slices.Contains([]string{"HEADER", "BODY", "FOOTER", "BUTTONS", "CAROUSEL", "LIMITED_TIME_OFFER"}, c.Type) {
			add("%s: type %q must be HEADER, BODY, FOOTER, BUTTONS, CAROUSEL or LIMITED_TIME_OFFER", where, c.Type)
			continue
		}
		if seen[c.Type] {
			add("%s: a template may have only one %s component", where, c.Type)
		}
		seen[c.Type] = true
		switch c.Type {
		case "CAROUSEL":
			out = append(out, carouselProblems(where, t.Category, format, c)...)
		case "LIMITED_TIME_OFFER":
			if t.Category != "MARKETING" {
				add("%s: limited-time offer templates are MARKETING templates", where)
			}
			if o := c.LimitedTimeOffer; o == nil || o.Text == "" || len([]rune(o.Text)) > 16 {
				add("%s: limited_time_offer.text needs 1 to 16 characters", where)
			}
		default:
			out = append(out, componentProblems(where, t.Category, format, c)...)
		}
	}
	if !seen["BODY"] {
		add("components: every template needs a BODY component")
	}
	if seen["CAROUSEL"] && (seen["HEADER"] || seen["FOOTER"] || seen["BUTTONS"]) {
		add("components: a carousel template has a BODY and a CAROUSEL only; headers and buttons belong to its cards")
	}
	if seen["LIMITED_TIME_OFFER"] && seen["FOOTER"] {
		add("components: limited-time offer templates cannot have a footer")
	}
	if t.Category == "AUTHENTICATION" && !seen["BUTTONS"] {
		add("components: an AUTHENTICATION template needs a BUTTONS component with one OTP button")
	}
	return out
}

// Carousel templates (Meta: media and product card carousels) have 2 to
// 10 cards.
const (
	MinCarouselCards = 2
	MaxCarouselCards = 10
)

// carouselProblems: a MARKETING template's carousel has 2 to 10 cards,
// each with an IMAGE, VIDEO or PRODUCT header, an optional body of up to
// 160 characters and 1 or 2 buttons (QUICK_REPLY, URL, PHONE_NUMBER, SPM),
// every card with the components and buttons of the first.
func carouselProblems(where, category, format string, c newComponent) []string {
	var out []string
	add := func(f string, args ...any) { out = append(out, where+": "+fmt.Sprintf(f, args...)) }
	if category != "MARKETING" {
		add("carousel templates are MARKETING templates")
	}
	if len(c.Cards) < MinCarouselCards || len(c.Cards) > MaxCarouselCards {
		add("a carousel has %d to %d cards (has %d)", MinCarouselCards, MaxCarouselCards, len(c.Cards))
	}
	var shape string
	for i, card := range c.Cards {
		cw := fmt.Sprintf("%s.cards[%d]", where, i)
		var kinds []string
		seen := map[string]bool{}
		for _, cc := range card.Components {
			typ, f := strings.ToUpper(cc.Type), strings.ToUpper(cc.Format)
			if seen[typ] {
				out = append(out, fmt.Sprintf("%s: a card may have only one %s component", cw, typ))
			}
			seen[typ] = true
			kinds = append(kinds, typ+"/"+f)
			switch typ {
			case "HEADER":
				if !slices.Contains([]string{"IMAGE", "VIDEO", "PRODUCT"}, f) {
					out = append(out, fmt.Sprintf("%s: a card header is IMAGE, VIDEO or PRODUCT (got %q)", cw, cc.Format))
				} else if f != "PRODUCT" && (cc.Example == nil || len(cc.Example.HeaderHandle) == 0) {
					out = append(out, fmt.Sprintf("%s: a %s header needs a sample in example.header_handle", cw, f))
				}
			case "BODY":
				if len([]rune(cc.Text)) > 160 {
					out = append(out, fmt.Sprintf("%s: a card body has at most 160 characters", cw))
				}
				cc.Type = typ
				out = append(out, componentProblems(cw, category, format, cc)...)
			case "BUTTONS":
				if len(cc.Buttons) < 1 || len(cc.Buttons) > 2 {
					out = append(out, fmt.Sprintf("%s: a card has 1 or 2 buttons (has %d)", cw, len(cc.Buttons)))
				}
				var rest []newButton
				for _, b := range cc.Buttons {
					bt := strings.ToUpper(b.Type)
					kinds = append(kinds, bt)
					switch bt {
					case "SPM":
					case "QUICK_REPLY", "URL", "PHONE_NUMBER":
						rest = append(rest, b)
					default:
						out = append(out, fmt.Sprintf("%s: button type %q is not QUICK_REPLY, URL, PHONE_NUMBER or SPM", cw, b.Type))
					}
				}
				if len(rest) > 0 {
					out = append(out, buttonProblems(cw, rest)...)
				}
			default:
				out = append(out, fmt.Sprintf("%s: a card has HEADER, BODY and BUTTONS components (got %q)", cw, cc.Type))
			}
		}
		if !seen["HEADER"] {
			out = append(out, fmt.Sprintf("%s: every card needs a HEADER", cw))
		}
		if k := strings.Join(kinds, ","); i == 0 {
			shape = k
		} else if k != shape {
			out = append(out, fmt.Sprintf("%s: every card has the same components and buttons as the first", cw))
		}
	}
	return out
}

func componentProblems(where, category, format string, c newComponent) []string {
	var out []string
	add := func(f string, args ...any) { out = append(out, where+": "+fmt.Sprintf(f, args...)) }
	length := func(what, text string, most int) {
		if n := len([]rune(text)); n == 0 || n > most {
			add("%s text must have 1 to %d characters (has %d)", what, most, n)
		}
	}
	if category == "AUTHENTICATION" {
		switch c.Type {
		case "HEADER":
			add("AUTHENTICATION templates cannot have a header")
		case "BODY":
			if c.Text != "" {
				add("an AUTHENTICATION body is fixed by WhatsApp: give add_security_recommendation, not text")
			}
		case "FOOTER":
			if c.CodeExpirationMinutes == nil || *c.CodeExpirationMinutes < 1 || *c.CodeExpirationMinutes > 90 {
				add("an AUTHENTICATION footer needs code_expiration_minutes from 1 to 90")
			}
		case "BUTTONS":
			if len(c.Buttons) != 1 || strings.ToUpper(c.Buttons[0].Type) != "OTP" {
				add("an AUTHENTICATION template has exactly one button, of type OTP")
			} else if !slices.Contains([]string{"COPY_CODE", "ONE_TAP", "ZERO_TAP"}, c.Buttons[0].OTPType) {
				add("buttons[0]: otp_type %q must be COPY_CODE, ONE_TAP or ZERO_TAP", c.Buttons[0].OTPType)
			}
		}
		return out
	}
	switch c.Type {
	case "HEADER":
		f := strings.ToUpper(c.Format)
		switch {
		case !slices.Contains([]string{"TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"}, f):
			add("header format %q must be TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION", c.Format)
		case f != "TEXT":
			if c.Text != "" {
				add("a %s header has no text", f)
			}
			if f != "LOCATION" && (c.Example == nil || len(c.Example.HeaderHandle) == 0) {
				add("a %s header needs a sample in example.header_handle (an upload handle)", f)
			}
		default:
			length("header", c.Text, 60)
			vars, problems := variables(format, c.Text)
			for _, p := range problems {
				add("header: %s", p)
			}
			if len(vars) > 1 {
				add("a header may have at most one variable (has %d)", len(vars))
			}
			if len(problems) == 0 && len(vars) > 0 && !hasExamples(format, vars, c.Example, true) {
				add("the header has %d variable(s) and needs a sample for each in example.%s", len(vars), exampleKey(format, true))
			}
		}
	case "BODY":
		length("body", c.Text, 1024)
		vars, problems := variables(format, c.Text)
		for _, p := range problems {
			add("body: %s", p)
		}
		if len(problems) == 0 && len(vars) > 0 && !hasExamples(format, vars, c.Example, false) {
			add("the body has %d variable(s) and needs a sample for each in example.%s", len(vars), exampleKey(format, false))
		}
	case "FOOTER":
		length("footer", c.Text, 60)
		if rawVariableRE.MatchString(c.Text) {
			add("a footer cannot have variables")
		}
	case "BUTTONS":
		out = append(out, buttonProblems(where, c.Buttons)...)
	}
	return out
}

func buttonProblems(where string, buttons []newButton) []string {
	var out []string
	if len(buttons) == 0 || len(buttons) > 10 {
		out = append(out, fmt.Sprintf("%s: a BUTTONS component has 1 to 10 buttons (has %d)", where, len(buttons)))
	}
	count := map[string]int{}
	for i, b := range buttons {
		add := func(f string, args ...any) {
			out = append(out, fmt.Sprintf("%s.buttons[%d]: ", where, i)+fmt.Sprintf(f, args...))
		}
		typ := strings.ToUpper(b.Type)
		count[typ]++
		switch typ {
		case "QUICK_REPLY", "MPM", "CATALOG":
		case "URL":
			if count["URL"] == 3 {
				add("a template may have at most 2 URL buttons")
			}
			u, err := url.Parse(strings.Replace(b.URL, "{{1}}", "x", 1))
			if b.URL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				add("url %q is not an http(s) URL", b.URL)
			}
			vars := rawVariableRE.FindAllString(b.URL, -1)
			if len(vars) > 1 || (len(vars) == 1 && (vars[0] != "{{1}}" || !strings.HasSuffix(b.URL, "{{1}}"))) {
				add("a URL button may have one variable, {{1}}, at the end of the URL")
			} else if len(vars) == 1 && len(b.Example) != 1 {
				add("a URL with a variable needs one example URL in example")
			}
		case "PHONE_NUMBER":
			if count["PHONE_NUMBER"] == 2 {
				add("a template may have at most 1 PHONE_NUMBER button")
			}
			digits := strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return r
				}
				return -1
			}, b.PhoneNumber)
			if len(digits) < 8 {
				add("phone_number %q is not a phone number", b.PhoneNumber)
			}
		case "COPY_CODE":
			if len(b.Example) != 1 {
				add("a COPY_CODE button needs one example code in example")
			}
		case "FLOW":
			if b.FlowID == "" && b.FlowName == "" && b.FlowJSON == "" {
				add("a FLOW button needs flow_id, flow_name or flow_json")
			}
		case "OTP":
			add("OTP buttons are only for AUTHENTICATION templates")
		default:
			add("type %q is not a button type (QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, FLOW, MPM, CATALOG)", b.Type)
			continue
		}
		if typ != "COPY_CODE" {
			if n := len([]rune(b.Text)); n == 0 || n > 25 {
				add("text must have 1 to 25 characters (has %d)", n)
			}
		}
	}
	return out
}

// variables lists a text's distinct variables and what is wrong with
// them for the parameter format.
func variables(format, text string) ([]string, []string) {
	var vars, problems []string
	for _, m := range rawVariableRE.FindAllStringSubmatch(text, -1) {
		if v := strings.TrimSpace(m[1]); !slices.Contains(vars, v) {
			vars = append(vars, v)
		}
	}
	if format == FormatNamed {
		for _, v := range vars {
			if !namedParamRE.MatchString(v) {
				problems = append(problems, fmt.Sprintf("variable {{%s}} is not a lowercase name (letters, digits, underscores) as a NAMED template needs", v))
			}
		}
		return vars, problems
	}
	seen := map[int]bool{}
	for _, v := range vars {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			problems = append(problems, fmt.Sprintf("variable {{%s}} must be a number ({{1}}, {{2}}, …) in a POSITIONAL template", v))
			continue
		}
		seen[n] = true
	}
	if len(problems) == 0 {
		for i := 1; i <= len(seen); i++ {
			if !seen[i] {
				problems = append(problems, fmt.Sprintf("variables must be numbered {{1}} to {{%d}} without gaps", len(seen)))
				break
			}
		}
	}
	return vars, problems
}

func exampleKey(format string, header bool) string {
	switch {
	case format == FormatNamed && header:
		return "header_text_named_params"
	case format == FormatNamed:
		return "body_text_named_params"
	case header:
		return "header_text"
	}
	return "body_text"
}

func hasExamples(format string, vars []string, ex *newExample, header bool) bool {
	if ex == nil {
		return false
	}
	if format == FormatNamed {
		named := ex.BodyTextNamedParams
		if header {
			named = ex.HeaderTextNamed
		}
		for _, v := range vars {
			if !slices.ContainsFunc(named, func(p namedExample) bool { return p.ParamName == v && p.Example != "" }) {
				return false
			}
		}
		return true
	}
	if header {
		return len(ex.HeaderText) == len(vars)
	}
	return len(ex.BodyText) == 1 && len(ex.BodyText[0]) == len(vars)
}
