package graphsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// apiError is a refusal in Meta's shape: HTTP 400, {"error":{"message",
// "type":"OAuthException","code",["error_data":{"messaging_product",
// "details"}],"fbtrace_id"}}. Graph's parameter checks answer code 100
// with the problem in the message and no error_data; WhatsApp's own checks
// answer 131008 (a required parameter is missing) or 131009 (a value is
// not valid) with the problem in error_data.details. Texts marked
// "Meta's words" in this file are copied from Meta's answers; the others
// follow their pattern.
type apiError struct {
	code    int
	message string
	details string
}

func paramError(format string, args ...any) *apiError {
	return &apiError{code: 100, message: "(#100) " + fmt.Sprintf(format, args...)}
}

func missingError(format string, args ...any) *apiError {
	return &apiError{code: 131008, message: "(#131008) Required parameter is missing", details: fmt.Sprintf(format, args...)}
}

func invalidError(format string, args ...any) *apiError {
	return &apiError{code: 131009, message: "(#131009) Parameter value is not valid", details: fmt.Sprintf(format, args...)}
}

func (e *apiError) write(w http.ResponseWriter) {
	body := map[string]any{"message": e.message, "type": "OAuthException", "code": e.code, "fbtrace_id": "AsimTrace" + strconv.Itoa(e.code)}
	if e.details != "" {
		body["error_data"] = map[string]any{"messaging_product": "whatsapp", "details": e.details}
	}
	b, _ := json.Marshal(map[string]any{"error": body})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(b)
}

// checkMessage validates a send request like Meta and returns it with its
// kind: the message type, or "read" / "typing" for receipts.
func checkMessage(body []byte) (req map[string]any, kind string, refusal *apiError) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil || dec.More() {
		return nil, "", paramError("Invalid parameter")
	}
	if _, ok := req["messaging_product"]; !ok {
		return nil, "", paramError("The parameter messaging_product is required.")
	}
	if req["messaging_product"] != "whatsapp" {
		return nil, "", paramError("Param messaging_product must be one of {WHATSAPP} - got %s.", quoteJSON(req["messaging_product"]))
	}
	if st, ok := req["status"]; ok {
		return checkReceipt(req, st)
	}
	to, _ := req["to"].(string)
	if recipient, _ := req["recipient"].(string); to == "" && recipient == "" {
		return nil, "", paramError("The parameter to is required.")
	}
	kind, _ = req["type"].(string)
	if _, ok := req["type"]; !ok {
		// Meta takes the type from the content object when it is left out
		// (Send Reply to List Message), text by default.
		kind = "text"
		for _, k := range contentKeys {
			if _, ok := req[k]; ok {
				kind = k
				break
			}
		}
	}
	sp, err := loadSpec()
	if err != nil {
		return nil, "", invalidError("simulator spec: %v", err)
	}
	sch, ok := sp.byType[kind]
	if !ok {
		return nil, "", paramError("Param type must be one of {%s} - got %s.", strings.ToUpper(strings.Join(contentKeys, ", ")), quoteJSON(req["type"]))
	}
	if _, ok := req[kind]; !ok {
		return nil, "", paramError("The parameter %s is required.", kind)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return nil, "", paramError("Invalid parameter")
	}
	if err := sch.Validate(doc); err != nil {
		return nil, "", schemaRefusal(err)
	}
	for _, rule := range messageRules {
		if e := rule(req); e != nil {
			return nil, "", e
		}
	}
	return req, kind, nil
}

var contentKeys = []string{"text", "template", "image", "video", "audio", "document", "sticker", "location", "contacts", "interactive", "reaction"}

// checkReceipt validates a read receipt (with an optional typing indicator).
func checkReceipt(req map[string]any, st any) (map[string]any, string, *apiError) {
	if st != "read" {
		return nil, "", paramError("Param status must be one of {READ} - got %s.", quoteJSON(st))
	}
	if id, _ := req["message_id"].(string); id == "" {
		return nil, "", paramError("The parameter message_id is required.")
	}
	kind := "read"
	if ti, ok := req["typing_indicator"]; ok {
		if m, _ := ti.(map[string]any); m == nil || m["type"] != "text" {
			return nil, "", paramError("Param typing_indicator['type'] must be one of {TEXT}.")
		}
		kind = "typing"
	}
	for k := range req {
		switch k {
		case "messaging_product", "status", "message_id", "typing_indicator":
		default:
			return nil, "", paramError("Unexpected key %q on param \"message\".", k)
		}
	}
	return req, kind, nil
}

func quoteJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// param names an instance location the way Meta's messages do:
// text['body'], interactive['action']['buttons'][3].
func param(loc []string) string {
	if len(loc) == 0 {
		return "message"
	}
	var b strings.Builder
	b.WriteString(loc[0])
	for _, s := range loc[1:] {
		if _, err := strconv.Atoi(s); err == nil {
			b.WriteString("[" + s + "]")
		} else {
			b.WriteString("['" + s + "']")
		}
	}
	return b.String()
}

// schemaRefusal turns a schema violation into Meta's answer: the most
// specific problem, named by its parameter, never the schema's own paths.
func schemaRefusal(err error) *apiError {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return paramError("Invalid parameter")
	}
	var leaves []*jsonschema.ValidationError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			leaves = append(leaves, e)
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	// Unknown keys are also what unevaluatedProperties reports for a key
	// whose value failed: a real problem, deepest first, wins over them.
	unexpected := func(e *jsonschema.ValidationError) bool {
		switch e.ErrorKind.(type) {
		case *kind.AdditionalProperties, *kind.FalseSchema:
			return true
		}
		return false
	}
	best := leaves[0]
	for _, l := range leaves[1:] {
		switch {
		case unexpected(best) && !unexpected(l):
			best = l
		case unexpected(best) == unexpected(l) && len(l.InstanceLocation) > len(best.InstanceLocation):
			best = l
		}
	}
	return leafRefusal(best)
}

func leafRefusal(e *jsonschema.ValidationError) *apiError {
	loc := e.InstanceLocation
	p := param(loc)
	last := ""
	if len(loc) > 0 {
		last = loc[len(loc)-1]
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		return paramError("The parameter %s is required.", param(append(slices.Clone(loc), k.Missing[0])))
	case *kind.MaxLength:
		// Meta's words: "(#100) Param text['body'] must be at most 4096 characters long."
		return paramError("Param %s must be at most %d characters long.", p, k.Want)
	case *kind.MinLength:
		return paramError("Param %s must be at least %d characters long.", p, k.Want)
	case *kind.Type:
		want := k.Want[0]
		if want == "object" {
			want = "JSON object"
		}
		// Meta's words: "(#100) Param text['body'] must be a string."
		return paramError("Param %s must be a %s.", p, want)
	case *kind.Enum:
		var want []string
		for _, w := range k.Want {
			want = append(want, strings.ToUpper(fmt.Sprint(w)))
		}
		return paramError("Param %s must be one of {%s} - got %s.", p, strings.Join(want, ", "), quoteJSON(k.Got))
	case *kind.Const:
		return paramError("Param %s must be %s.", p, quoteJSON(k.Want))
	case *kind.Pattern:
		return paramError("Param %s is not valid (%s).", p, quoteJSON(k.Got))
	case *kind.MaxItems:
		return countRefusal(last, 0, k.Want)
	case *kind.MinItems:
		return countRefusal(last, k.Want, 0)
	case *kind.AdditionalProperties:
		return paramError("Unexpected key %q on param %q.", k.Properties[0], p)
	case *kind.FalseSchema:
		return paramError("Unexpected key %q on param %q.", last, param(loc[:max(len(loc)-1, 0)]))
	case *kind.OneOf:
		if slices.Contains(mediaKinds, last) || (len(loc) > 1 && slices.Contains(mediaKinds, loc[len(loc)-2])) {
			return paramError("Param %s must have either id or link, not both.", p)
		}
		return paramError("Param %s is not valid.", p)
	}
	return paramError("Param %s is not valid.", p)
}

// countRefusal is WhatsApp's answer to an array of the wrong length.
func countRefusal(what string, min, max int) *apiError {
	switch what {
	case "buttons":
		// Meta's words.
		return invalidError("Invalid buttons count. Min allowed buttons: 1, Max allowed buttons: 3")
	case "rows":
		// Meta's words.
		return invalidError("Total row count exceed max allowed count: 10")
	}
	if max > 0 {
		return invalidError("Invalid %s count. Max allowed %s: %d", what, what, max)
	}
	return invalidError("Invalid %s count. Min allowed %s: %d", what, what, min)
}

// messageRules are Meta's rules JSON Schema cannot state; each returns
// Meta's refusal or nil. They run after the schema, on a valid shape.
var messageRules = []func(req map[string]any) *apiError{
	replyButtonsRule,
	listRule,
	templateButtonIndexRule,
	carouselRule,
	namedActionRule,
	birthdayRule,
	mediaLinkRule,
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func arr(v any) []any          { a, _ := v.([]any); return a }
func str(v any) string         { s, _ := v.(string); return s }

// replyButtonsRule: reply buttons have distinct ids and distinct titles.
func replyButtonsRule(req map[string]any) *apiError {
	action := obj(obj(req["interactive"])["action"])
	ids, titles := map[string]bool{}, map[string]bool{}
	for _, b := range arr(action["buttons"]) {
		r := obj(obj(b)["reply"])
		id, title := str(r["id"]), str(r["title"])
		if ids[id] {
			return invalidError("Duplicate button id %q. Button ids must be unique.", id)
		}
		if titles[title] {
			return invalidError("Duplicate button title %q. Button titles must be unique.", title)
		}
		ids[id], titles[title] = true, true
	}
	return nil
}

// listRule: a list message has at most 10 rows in all its sections, with
// distinct ids; every section has a title when there are several (also
// for a multi-product message's sections).
func listRule(req map[string]any) *apiError {
	sections := arr(obj(obj(req["interactive"])["action"])["sections"])
	rows, ids := 0, map[string]bool{}
	for i, s := range sections {
		if len(sections) > 1 && str(obj(s)["title"]) == "" {
			return missingError("sections: Section at index %d requires a title when a message has more than one section", i)
		}
		for _, r := range arr(obj(s)["rows"]) {
			rows++
			id := str(obj(r)["id"])
			if ids[id] {
				return invalidError("Duplicate row id %q. Row ids must be unique across all sections.", id)
			}
			ids[id] = true
		}
	}
	if rows > 10 {
		// Meta's words.
		return invalidError("Total row count exceed max allowed count: 10")
	}
	return nil
}

// templateButtonIndexRule: a template button's index is its position, 0
// to 9, written as a number or a string.
func templateButtonIndexRule(req map[string]any) *apiError {
	for i, c := range arr(obj(req["template"])["components"]) {
		v, ok := obj(c)["index"]
		if !ok {
			continue
		}
		var s string
		switch v := v.(type) {
		case json.Number:
			s = v.String()
		case string:
			s = v
		default:
			s = "?"
		}
		if n, err := strconv.Atoi(s); err != nil || n < 0 || n > 9 || strconv.Itoa(n) != s {
			return paramError("Param template['components'][%d]['index'] must be an integer from 0 to 9 - got %s.", i, quoteJSON(v))
		}
	}
	return nil
}

// carouselRule: a carousel's cards have distinct card_index values, and a
// limited_time_offer component carries one limited_time_offer parameter
// with its expiration_time_ms.
func carouselRule(req map[string]any) *apiError {
	for i, c := range arr(obj(req["template"])["components"]) {
		switch str(obj(c)["type"]) {
		case "carousel":
			seen := map[string]bool{}
			for k, card := range arr(obj(c)["cards"]) {
				idx := fmt.Sprint(obj(card)["card_index"])
				if seen[idx] {
					return invalidError("template['components'][%d]['cards'][%d]: card_index %s is not unique", i, k, idx)
				}
				seen[idx] = true
			}
		case "limited_time_offer":
			ps := arr(obj(c)["parameters"])
			if len(ps) != 1 || str(obj(ps[0])["type"]) != "limited_time_offer" {
				return invalidError("template['components'][%d]: a limited_time_offer component takes one limited_time_offer parameter", i)
			}
			if _, ok := obj(obj(ps[0])["limited_time_offer"])["expiration_time_ms"].(json.Number); !ok {
				return missingError("template['components'][%d]['parameters'][0]['limited_time_offer']['expiration_time_ms'] is required", i)
			}
		}
	}
	return nil
}

// namedActionRule: a location request's send_location action takes no
// parameters, and an address message's parameters name the country (two
// capital letters, IN). Checked here rather than in the ActionObject
// patch, where oneOf would report another branch's problem.
func namedActionRule(req map[string]any) *apiError {
	action := obj(obj(req["interactive"])["action"])
	_, hasParams := action["parameters"]
	switch str(action["name"]) {
	case "send_location":
		if hasParams {
			return paramError("Unexpected key \"parameters\" on param \"interactive['action']\".")
		}
	case "address_message":
		country, ok := obj(action["parameters"])["country"]
		if !ok {
			return paramError("The parameter interactive['action']['parameters']['country'] is required.")
		}
		if s, _ := country.(string); len(s) != 2 || strings.ToUpper(s) != s {
			return paramError("Param interactive['action']['parameters']['country'] is not valid (%s).", quoteJSON(country))
		}
	}
	return nil
}

// birthdayRule: a contact's birthday is a date written YYYY-MM-DD.
func birthdayRule(req map[string]any) *apiError {
	for i, c := range arr(req["contacts"]) {
		b, ok := obj(c)["birthday"]
		if !ok {
			continue
		}
		s, _ := b.(string)
		if _, err := time.Parse(time.DateOnly, s); err != nil || len(s) != 10 {
			return paramError("Param contacts[%d]['birthday'] must be a date in the format YYYY-MM-DD - got %s.", i, quoteJSON(b))
		}
	}
	return nil
}

// mediaLinkRule: every media link (the message's media, an interactive
// header, template header parameters) is an http or https URL; Meta
// fetches it from the internet.
func mediaLinkRule(req map[string]any) *apiError {
	var bad []string
	var walk func(loc []string, v any)
	walk = func(loc []string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if link, ok := v["link"]; ok && len(loc) > 0 && slices.Contains(mediaKinds, loc[len(loc)-1]) {
				s, _ := link.(string)
				u, err := url.Parse(s)
				scheme := ""
				if err == nil {
					scheme = strings.ToLower(u.Scheme)
				}
				if (scheme != "http" && scheme != "https") || err != nil || u.Host == "" {
					bad = append(bad, param(append(slices.Clone(loc), "link")))
				}
			}
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				walk(append(slices.Clone(loc), k), v[k])
			}
		case []any:
			for i, c := range v {
				walk(append(slices.Clone(loc), strconv.Itoa(i)), c)
			}
		}
	}
	walk(nil, req)
	if len(bad) > 0 {
		return paramError("Param %s must be a valid http or https URL.", bad[0])
	}
	return nil
}
