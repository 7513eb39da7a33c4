package catalog

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tucanlink/wacloud/shared/outbound"
)

// Check compares a template job with the template as the catalog holds it
// and returns what is wrong, one sentence per problem (nil when the job
// fits): the template must be APPROVED, and the job must give exactly the
// parameters its components take, in the right formats, as Meta requires
// (otherwise Meta answers 132000/132001/132012 and friends): header,
// body and buttons; a carousel's cards (as many as the template has, each
// checked like a template); a limited-time offer's expiry when the offer
// has one; an authentication code (the same in body and button, at most
// 15 characters). A template with components this check does not model
// is left to Meta: only the status is checked.
func Check(t Template, job *outbound.Template) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if t.Status != StatusApproved {
		add("template %s (%s) is %s at Meta: only APPROVED templates can be sent", t.Name, t.Language, t.Status)
		return problems
	}
	comps, err := t.Parse()
	if err != nil {
		return nil // unreadable here: Meta decides
	}
	for _, c := range comps {
		switch c.Type {
		case "HEADER", "BODY", "BUTTONS", "FOOTER", "CAROUSEL", "LIMITED_TIME_OFFER":
		default:
			return nil
		}
	}
	named := t.ParameterFormat == FormatNamed
	checkComponents("", comps, job.Components, named, add)
	if t.Category == "AUTHENTICATION" {
		checkCode(job.Components, add)
	}
	return problems
}

// checkComponents checks a job's components against a template's (or a
// carousel card's: where names the card).
func checkComponents(where string, comps []Component, jobComps []outbound.TemplateComponent, named bool, add func(string, ...any)) {
	var header, body, carousel, offer *Component
	var buttons []Button
	for i := range comps {
		switch comps[i].Type {
		case "HEADER":
			header = &comps[i]
		case "BODY":
			body = &comps[i]
		case "BUTTONS":
			buttons = comps[i].Buttons
		case "CAROUSEL":
			carousel = &comps[i]
		case "LIMITED_TIME_OFFER":
			offer = &comps[i]
		}
	}
	addIn := add
	if where != "" {
		addIn = func(format string, args ...any) { add(where+": "+format, args...) }
	}

	var jobHeader, jobBody, jobCarousel, jobOffer *outbound.TemplateComponent
	jobButtons := map[int]outbound.TemplateComponent{}
	for i := range jobComps {
		c := &jobComps[i]
		switch c.Type {
		case "header", "body", "carousel", "limited_time_offer":
			slot := map[string]**outbound.TemplateComponent{"header": &jobHeader, "body": &jobBody, "carousel": &jobCarousel, "limited_time_offer": &jobOffer}[c.Type]
			if *slot != nil {
				addIn("the job gives the %s component twice", c.Type)
				continue
			}
			*slot = c
		case "button":
			idx, ok := buttonIndex(c.Index)
			if !ok {
				continue // outbound.Validate refuses it
			}
			if _, dup := jobButtons[idx]; dup {
				addIn("the job gives button index %d twice", idx)
				continue
			}
			jobButtons[idx] = *c
		}
	}

	checkHeader(header, jobHeader, named, addIn)
	checkBody(body, jobBody, named, addIn)
	checkButtons(buttons, jobButtons, addIn)
	checkCarousel(carousel, jobCarousel, named, addIn)
	checkOffer(offer, jobOffer, addIn)
}

// checkCarousel: a carousel template takes a carousel component with one
// card per template card (Meta answers 132012 otherwise), card_index 0
// to n-1, each card's components checked against the template card's.
func checkCarousel(c *Component, job *outbound.TemplateComponent, named bool, add func(string, ...any)) {
	switch {
	case c == nil && job == nil:
		return
	case c == nil:
		add("the template has no carousel, but the job gives a carousel component")
		return
	case job == nil:
		add("the template is a carousel of %d cards: give a carousel component with %d cards", len(c.Cards), len(c.Cards))
		return
	}
	if len(job.Cards) != len(c.Cards) {
		add("the template's carousel has %d cards, the job gives %d (Meta sends exactly the approved cards)", len(c.Cards), len(job.Cards))
	}
	for _, card := range job.Cards {
		if card.CardIndex == nil {
			continue // outbound.Validate refuses it
		}
		i := *card.CardIndex
		if i >= len(c.Cards) {
			add("card_index %d: the template has %d cards", i, len(c.Cards))
			continue
		}
		checkComponents(fmt.Sprintf("card %d", i), c.Cards[i].Components, card.Components, named, add)
	}
}

// checkOffer: a limited-time offer with an expiry takes a
// limited_time_offer component (expiration_time_ms); one without takes
// none, and a template without an offer takes none.
func checkOffer(o *Component, job *outbound.TemplateComponent, add func(string, ...any)) {
	switch {
	case o == nil && job != nil:
		add("the template has no limited-time offer, but the job gives a limited_time_offer component")
	case o != nil && o.LimitedTimeOffer != nil && o.LimitedTimeOffer.HasExpiration && job == nil:
		add("the template's limited-time offer shows an expiry: give a limited_time_offer component with expiration_time_ms")
	case o != nil && (o.LimitedTimeOffer == nil || !o.LimitedTimeOffer.HasExpiration) && job != nil:
		add("the template's limited-time offer has no expiry: leave the limited_time_offer component out")
	}
}

// MaxCodeLength is the longest one-time code an authentication template
// sends (Meta: up to 15 characters).
const MaxCodeLength = 15

// checkCode: an authentication template sends the code twice, as the body
// parameter and as the copy-code / one-tap button's url parameter; both
// are the same code of at most 15 characters.
func checkCode(jobComps []outbound.TemplateComponent, add func(string, ...any)) {
	var body, button string
	for _, c := range jobComps {
		if len(c.Parameters) == 0 {
			continue
		}
		switch {
		case c.Type == "body":
			body = c.Parameters[0].Text
		case c.Type == "button" && c.SubType == "url":
			button = c.Parameters[0].Text
		}
	}
	for _, code := range []struct{ where, v string }{{"body", body}, {"button", button}} {
		if n := len([]rune(code.v)); n > MaxCodeLength {
			add("the authentication code in the %s has %d characters, Meta's limit is %d", code.where, n, MaxCodeLength)
		}
	}
	if body != "" && button != "" && body != button {
		add("an authentication template sends the same code in the body and the button (%d and %d characters differ)", len([]rune(body)), len([]rune(button)))
	}
}

// checkHeader: a media or location header takes one parameter of its
// kind; a text header one text parameter per variable (at most one).
func checkHeader(h *Component, job *outbound.TemplateComponent, named bool, add func(string, ...any)) {
	var params []outbound.TemplateParameter
	if job != nil {
		params = job.Parameters
	}
	if h == nil {
		if len(params) > 0 {
			add("the template has no header, but the job gives %d header parameter(s)", len(params))
		}
		return
	}
	switch h.Format {
	case "IMAGE", "VIDEO", "DOCUMENT", "LOCATION", "PRODUCT":
		want := strings.ToLower(h.Format)
		if len(params) != 1 {
			add("the template's header is %s: give a header component with one %s parameter (got %d)", h.Format, want, len(params))
			return
		}
		if params[0].Type != want {
			add("the template's header is %s, but the job's header parameter is %s", h.Format, params[0].Type)
		}
	default: // TEXT
		vars := Variables(h.Text)
		textParams("header", vars, params, named, add)
	}
}

// checkBody: one parameter per variable of the body text.
func checkBody(b *Component, job *outbound.TemplateComponent, named bool, add func(string, ...any)) {
	var params []outbound.TemplateParameter
	if job != nil {
		params = job.Parameters
	}
	var vars []string
	if b != nil {
		vars = Variables(b.Text)
	}
	textParams("body", vars, params, named, add)
}

// textParams checks the parameters given for a text with these
// variables: positional templates take them in order ({{1}}…{{n}}, no
// names), named ones by parameter_name, each exactly once.
func textParams(where string, vars []string, params []outbound.TemplateParameter, named bool, add func(string, ...any)) {
	for i, p := range params {
		switch p.Type {
		case "text", "currency", "date_time":
		default:
			add("%s parameter %d is %s; text parameters are text, currency or date_time", where, i, p.Type)
		}
	}
	if !named {
		if len(params) != len(vars) {
			add("the template's %s takes %d parameter(s) ({{1}}…), the job gives %d", where, len(vars), len(params))
		}
		for i, p := range params {
			if p.ParameterName != "" {
				add("%s parameter %d is named %q, but the template's parameters are positional", where, i, p.ParameterName)
			}
		}
		return
	}
	given := map[string]int{}
	for i, p := range params {
		if p.ParameterName == "" {
			add("%s parameter %d has no parameter_name, but the template's parameters are named (%s)", where, i, braces(vars))
			continue
		}
		given[p.ParameterName]++
		if given[p.ParameterName] == 2 {
			add("%s parameter %q is given twice", where, p.ParameterName)
		}
		if !slices.Contains(vars, p.ParameterName) {
			add("the template's %s has no parameter %q (it takes %s)", where, p.ParameterName, braces(vars))
		}
	}
	var missing []string
	for _, v := range vars {
		if given[v] == 0 {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		add("the job's %s lacks parameter(s) %s", where, braces(missing))
	}
}

func braces(vars []string) string {
	if len(vars) == 0 {
		return "none"
	}
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = "{{" + v + "}}"
	}
	return strings.Join(out, ", ")
}

// buttonParam is what a template button takes in a send: its sub_type
// and parameter type, and whether the job must give it.
func buttonParam(b Button) (subType, paramType string, required, takes bool) {
	switch b.Type {
	case "URL":
		if len(Variables(b.URL)) > 0 {
			return "url", "text", true, true
		}
		return "", "", false, false
	case "QUICK_REPLY":
		return "quick_reply", "payload", false, true
	case "COPY_CODE":
		return "copy_code", "coupon_code", true, true
	case "FLOW":
		return "flow", "action", false, true
	case "CATALOG":
		return "catalog", "action", false, true
	case "MPM":
		// Its product sections are beyond the job contract: optional here,
		// Meta judges them.
		return "mpm", "action", false, true
	case "OTP":
		return "url", "text", true, true
	}
	return "", "", false, false // PHONE_NUMBER, VOICE_CALL, ...: nothing to give
}

// checkButtons: every button component names a template button by index,
// with that button's sub_type and parameter; buttons with a variable
// (a dynamic URL, a copy code) must be given.
func checkButtons(buttons []Button, job map[int]outbound.TemplateComponent, add func(string, ...any)) {
	idxs := make([]int, 0, len(job))
	for i := range job {
		idxs = append(idxs, i)
	}
	slices.Sort(idxs)
	for _, i := range idxs {
		c := job[i]
		if i >= len(buttons) {
			add("button index %d: the template has %d button(s)", i, len(buttons))
			continue
		}
		b := buttons[i]
		sub, ptype, _, takes := buttonParam(b)
		if !takes {
			add("button index %d is a %s button, which takes no parameter", i, b.Type)
			continue
		}
		if c.SubType != sub {
			add("button index %d is a %s button: its sub_type is %q, not %q", i, b.Type, sub, c.SubType)
			continue
		}
		if len(c.Parameters) != 1 || c.Parameters[0].Type != ptype {
			add("button index %d (%s) takes one %s parameter", i, b.Type, ptype)
		}
	}
	for i, b := range buttons {
		if sub, ptype, required, _ := buttonParam(b); required {
			if _, ok := job[i]; !ok {
				add("button index %d (%s %q) needs a button component with sub_type %q and one %s parameter", i, b.Type, b.Text, sub, ptype)
			}
		}
	}
}

// buttonIndex reads a job's button index (a number or a numeric string).
func buttonIndex(v any) (int, bool) {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && x >= 0 {
			return int(x), true
		}
	case int:
		return x, x >= 0
	case string:
		n, err := strconv.Atoi(x)
		return n, err == nil && n >= 0
	}
	return 0, false
}
