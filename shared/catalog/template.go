package catalog

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Template statuses the sender acts on (Meta has more: IN_APPEAL,
// PENDING_DELETION, LIMIT_EXCEEDED, ARCHIVED, ...).
const (
	StatusApproved = "APPROVED"
	StatusPending  = "PENDING"
	StatusRejected = "REJECTED"
	StatusPaused   = "PAUSED"
	StatusDisabled = "DISABLED"
)

// Parameter formats of a template's variables.
const (
	FormatPositional = "POSITIONAL" // {{1}}, {{2}}, …
	FormatNamed      = "NAMED"      // {{first_name}}, …
)

// Template is a message template of a tenant's WABA.
type Template struct {
	TenantID        string `json:"tenant_id"`
	WABAID          string `json:"waba_id"`
	ID              string `json:"id"` // Meta's template id
	Name            string `json:"name"`
	Language        string `json:"language"`
	Status          string `json:"status"`
	Category        string `json:"category"`
	Quality         string `json:"quality,omitempty"` // GREEN, YELLOW, RED, UNKNOWN
	ParameterFormat string `json:"parameter_format,omitempty"`
	// Components are the template's components exactly as Meta listed
	// them; Parse reads what the sender checks.
	Components json.RawMessage `json:"components"`
	// SyncedAt is when a sync last read the template from Meta (RFC 3339).
	SyncedAt string `json:"synced_at"`
	// ChangedAt is the time of the newest state applied (a sync's time or
	// a webhook's), so an older webhook never undoes a newer state.
	ChangedAt string `json:"changed_at,omitempty"`
}

// Component is the part of a template component the sender checks.
type Component struct {
	Type    string   `json:"type"`   // HEADER, BODY, FOOTER, BUTTONS, CAROUSEL, LIMITED_TIME_OFFER
	Format  string   `json:"format"` // header: TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION (PRODUCT in carousel cards)
	Text    string   `json:"text"`
	Buttons []Button `json:"buttons"`
	// Cards are a CAROUSEL's cards, each with its own components.
	Cards []Card `json:"cards"`
	// LimitedTimeOffer is a LIMITED_TIME_OFFER component's offer.
	LimitedTimeOffer *Offer `json:"limited_time_offer"`
}

// Card is one card of a carousel template.
type Card struct {
	Components []Component `json:"components"`
}

// Offer is a limited-time offer: its text and whether the message shows
// an expiry (then each send gives expiration_time_ms).
type Offer struct {
	Text          string `json:"text"`
	HasExpiration bool   `json:"has_expiration"`
}

// Button is a template button.
type Button struct {
	Type string `json:"type"` // QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, FLOW, OTP, MPM, CATALOG, ...
	Text string `json:"text"`
	URL  string `json:"url"`
}

// Parse reads the template's components.
func (t Template) Parse() ([]Component, error) {
	var cs []Component
	if len(t.Components) == 0 {
		return nil, nil
	}
	if err := json.Unmarshal(t.Components, &cs); err != nil {
		return nil, fmt.Errorf("template %s/%s: components: %w", t.Name, t.Language, err)
	}
	normalize(cs)
	return cs, nil
}

// normalize writes types and formats in capitals, in cards too.
func normalize(cs []Component) {
	for i := range cs {
		cs[i].Type = strings.ToUpper(cs[i].Type)
		cs[i].Format = strings.ToUpper(cs[i].Format)
		for k := range cs[i].Buttons {
			cs[i].Buttons[k].Type = strings.ToUpper(cs[i].Buttons[k].Type)
		}
		for k := range cs[i].Cards {
			normalize(cs[i].Cards[k].Components)
		}
	}
}

var variableRE = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// Variables lists the distinct variables of a text in order of first use:
// "1", "2" in positional templates, names in named ones.
func Variables(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range variableRE.FindAllStringSubmatch(text, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	return out
}

// Key names a template within a tenant.
type Key struct {
	WABAID, Name, Language string
}

func (k Key) String() string { return k.WABAID + "#" + k.Name + "#" + k.Language }
