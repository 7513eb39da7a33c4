package graphsim

import (
	"fmt"
	"strconv"
	"strings"
)

// specPatch is one correction of Meta's spec, applied in memory to
// components.schemas before the Message schemas are compiled. The file
// itself stays Meta's, byte for byte.
type specPatch struct {
	name string
	// why: what the spec says, and what Meta does instead (its own examples,
	// its documentation, its answers).
	why   string
	apply func(schemas map[string]any) error
}

// specPatches are every correction, in order. A patch whose target is
// missing fails loading, so a new spec version cannot drop one silently.
// What JSON Schema cannot say (counts across sections, unique ids,
// conditions between fields) is in rules.go.
var specPatches = []specPatch{
	{
		name: "messages compose with unevaluatedProperties",
		why: "Each XMessage is allOf[BaseMessageProperties, {additionalProperties:false, properties:{type, x}}]: " +
			"the second part alone refuses messaging_product, to, recipient_type and context, so, read literally, " +
			"every message of the spec fails, its own examples included. The intent (no keys besides the base's " +
			"and the type's) is unevaluatedProperties:false on the composition.",
		apply: func(s map[string]any) error {
			n := 0
			for name, v := range s {
				m, _ := v.(map[string]any)
				all, ok := m["allOf"].([]any)
				if !ok || !strings.HasSuffix(name, "Message") {
					continue
				}
				for _, part := range all {
					if p, ok := part.(map[string]any); ok {
						delete(p, "additionalProperties")
					}
				}
				m["unevaluatedProperties"] = false
				n++
			}
			if n < 11 {
				return fmt.Errorf("found %d allOf messages, want the 11 message types", n)
			}
			return nil
		},
	},
	{
		name: "recipient_type and type are optional",
		why: "BaseMessageProperties requires them, but Meta defaults recipient_type to individual and type to " +
			"text, and several of the spec's examples leave them out (Send Contact Message, Send Test Message, " +
			"Send Reply to List Message...). The type is then the message's content key (checkMessage).",
		apply: set([]any{"messaging_product", "to"}, "BaseMessageProperties", "required"),
	},
	{
		name: "recipient: a business-scoped user id instead of to",
		why: "Meta added business-scoped user ids (BSUIDs) after this spec: a user who hides the phone number " +
			"is messaged with recipient (a BSUID or parent BSUID) in place of to; one of the two is required, " +
			"and to wins when both are given. The answer's contacts[] then carries user_id instead of wa_id.",
		apply: func(s map[string]any) error {
			base, err := node(s, "BaseMessageProperties")
			if err != nil {
				return err
			}
			props, err := node(base, "properties")
			if err != nil {
				return err
			}
			props["recipient"] = map[string]any{"type": "string", "pattern": `^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$`}
			base["required"] = []any{"messaging_product"}
			base["anyOf"] = []any{map[string]any{"required": []any{"to"}}, map[string]any{"required": []any{"recipient"}}}
			return nil
		},
	},
	{
		name: "text needs a body of at most 4,096 characters",
		why:  "The spec's text object requires nothing and sets no length; Meta refuses a text without body and a body over 4,096 characters ((#100) Param text['body'] must be at most 4096 characters long.).",
		apply: func(s map[string]any) error {
			text, err := node(s, "TextMessage", "allOf", "1", "properties", "text")
			if err != nil {
				return err
			}
			text["required"] = []any{"body"}
			body, err := node(text, "properties", "body")
			if err == nil {
				body["maxLength"] = 4096
			}
			return err
		},
	},
	{
		name: "media captions of at most 1,024 characters, and filename",
		why: "MediaObject declares only id and link; Meta's media messages take a caption (image, video, " +
			"document) of at most 1,024 characters and a document filename.",
		apply: func(s map[string]any) error {
			m, err := node(s, "MediaObject")
			if err != nil {
				return err
			}
			m["properties"] = map[string]any{
				"caption":  map[string]any{"type": "string", "maxLength": 1024},
				"filename": map[string]any{"type": "string"},
			}
			return nil
		},
	},
	{
		name: "location coordinates are numbers, and required",
		why:  "The spec types latitude and longitude as strings while its examples (and Meta's docs) send numbers; a pin without them is refused.",
		apply: func(s map[string]any) error {
			loc, err := node(s, "LocationMessage", "allOf", "1", "properties", "location")
			if err != nil {
				return err
			}
			p, err := node(loc, "properties")
			if err != nil {
				return err
			}
			p["latitude"] = map[string]any{"type": []any{"number", "string"}}
			p["longitude"] = map[string]any{"type": []any{"number", "string"}}
			loc["required"] = []any{"latitude", "longitude"}
			return nil
		},
	},
	{
		name:  "a reaction names its message and emoji",
		why:   "The spec requires neither; Meta needs message_id, and emoji (\"\" removes a reaction).",
		apply: set([]any{"message_id", "emoji"}, "ReactionMessage", "allOf", "1", "properties", "reaction", "required"),
	},
	{
		name:  "language.policy is optional",
		why:   "LanguageObject requires policy; none of the spec's template examples sends it (Meta defaults it to deterministic).",
		apply: set([]any{"code"}, "LanguageObject", "required"),
	},
	{
		name: "template button index is checked by rules.go",
		why: "The spec's index is a string with pattern \"^[2-6, 11-14]$\", a character class that refuses \"0\" " +
			"(its own example value) and every two-digit index, while its examples send 0, 1 and \"0\". Meta " +
			"takes the button's position 0 to 9, as a number or a string of it; rules.go checks that.",
		apply: func(s map[string]any) error {
			p, err := node(s, "TemplateComponent", "properties")
			if err == nil {
				p["index"] = map[string]any{"description": "0 to 9, number or string: rules.go"}
			}
			return err
		},
	},
	{
		name: "template button sub_type values",
		why: "The spec's enum (quick_reply, url, catalog) lacks flow and the other button types of Meta's " +
			"template docs, and its own examples write CATALOG and flow: any case of Meta's documented types.",
		apply: func(s map[string]any) error {
			st, err := node(s, "TemplateComponent", "properties", "sub_type")
			if err == nil {
				delete(st, "enum")
				st["pattern"] = "^(?i:quick_reply|url|catalog|flow|copy_code|mpm|voice_call|order_details|phone_number)$"
			}
			return err
		},
	},
	{
		name: "interactive cta_url, order_details and order_status",
		why: "InteractiveObject.type and ActionObject miss three documented kinds: call-to-action URL buttons, " +
			"and the spec's own Send Order Details Message (action review_and_pay) and Send Order Status " +
			"Message (action review_order) examples.",
		apply: func(s map[string]any) error {
			it, err := node(s, "InteractiveObject", "properties", "type")
			if err != nil {
				return err
			}
			enum, _ := it["enum"].([]any)
			it["enum"] = append(enum, "cta_url", "order_details", "order_status")
			act, err := node(s, "ActionObject")
			if err != nil {
				return err
			}
			oneOf, _ := act["oneOf"].([]any)
			named := func(name string, params map[string]any) map[string]any {
				return map[string]any{
					"required":   []any{"name", "parameters"},
					"properties": map[string]any{"name": map[string]any{"enum": []any{name}}, "parameters": params},
				}
			}
			act["oneOf"] = append(oneOf,
				named("cta_url", map[string]any{"type": "object", "required": []any{"display_text", "url"},
					"properties": map[string]any{
						"display_text": map[string]any{"type": "string", "maxLength": 20},
						"url":          map[string]any{"type": "string"},
					}}),
				named("review_and_pay", map[string]any{"type": "object",
					"required": []any{"reference_id", "type", "currency", "total_amount", "order"},
					"properties": map[string]any{
						"reference_id": map[string]any{"type": "string"},
						"currency":     map[string]any{"type": "string"},
						"order":        map[string]any{"type": "object", "required": []any{"status", "items"}},
					}}),
				named("review_order", map[string]any{"type": "object",
					"required": []any{"reference_id", "order"},
					"properties": map[string]any{
						"reference_id": map[string]any{"type": "string"},
						"order":        map[string]any{"type": "object", "required": []any{"status"}},
					}}),
			)
			return nil
		},
	},
	{
		name: "interactive location_request_message and address_message",
		why: "InteractiveObject.type and ActionObject miss two kinds Meta documents: location request messages " +
			"(action name send_location, no parameters; the user answers with a location message) and address " +
			"messages (action name address_message, parameters with a mandatory ISO country: \"If the country " +
			"attribute is not included, there will be a validation error\"). Both checked further by rules.go.",
		apply: func(s map[string]any) error {
			it, err := node(s, "InteractiveObject", "properties", "type")
			if err != nil {
				return err
			}
			enum, _ := it["enum"].([]any)
			it["enum"] = append(enum, "location_request_message", "address_message")
			act, err := node(s, "ActionObject")
			if err != nil {
				return err
			}
			oneOf, _ := act["oneOf"].([]any)
			act["oneOf"] = append(oneOf,
				map[string]any{
					"required":   []any{"name"},
					"properties": map[string]any{"name": map[string]any{"enum": []any{"send_location"}}},
				},
				map[string]any{
					"required": []any{"name", "parameters"},
					"properties": map[string]any{
						"name":       map[string]any{"enum": []any{"address_message"}},
						"parameters": map[string]any{"type": "object"},
					},
				},
			)
			return nil
		},
	},
	{
		name: "template carousel and limited_time_offer components",
		why: "TemplateComponent.type knows header, body and button only; Meta's carousel templates send a " +
			"carousel component whose cards (1 to 10, card_index 0 to 9) carry their own header, body and button " +
			"components, and limited-time offer templates a limited_time_offer component with the offer's " +
			"expiration_time_ms. Distinct card indexes are checked by rules.go.",
		apply: func(s map[string]any) error {
			tc, err := node(s, "TemplateComponent", "properties")
			if err != nil {
				return err
			}
			typ, err := node(tc, "type")
			if err != nil {
				return err
			}
			enum, _ := typ["enum"].([]any)
			typ["enum"] = append(enum, "carousel", "limited_time_offer")
			tc["cards"] = map[string]any{"type": "array", "minItems": 1, "maxItems": 10, "items": map[string]any{
				"type": "object", "required": []any{"card_index", "components"},
				"properties": map[string]any{
					"card_index": map[string]any{"type": "integer", "minimum": 0, "maximum": 9},
					"components": map[string]any{"type": "array", "minItems": 1,
						"items": map[string]any{"$ref": "#/components/schemas/TemplateComponent"}},
				},
			}}
			return nil
		},
	},
	{
		name: "a contact card needs a formatted name",
		why:  "The spec requires nothing of a contact; Meta refuses a card without name.formatted_name. The birthday (YYYY-MM-DD, a real date) is checked by rules.go: the spec's format \"date\" is not asserted by JSON Schema.",
		apply: func(s map[string]any) error {
			if err := set([]any{"name"}, "ContactObject", "required")(s); err != nil {
				return err
			}
			return set([]any{"formatted_name"}, "NameObject", "required")(s)
		},
	},
}

// node returns the object at path (array elements by index).
func node(v any, path ...string) (map[string]any, error) {
	for i, k := range path {
		switch c := v.(type) {
		case map[string]any:
			v = c[k]
		case []any:
			n, err := strconv.Atoi(k)
			if err != nil || n < 0 || n >= len(c) {
				return nil, fmt.Errorf("%v: no element %s", path[:i], k)
			}
			v = c[n]
		default:
			return nil, fmt.Errorf("%v is not an object or array", path[:i])
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%v is not an object", path)
	}
	return m, nil
}

// set is a patch that sets the last key of path to value.
func set(value any, path ...string) func(map[string]any) error {
	return func(s map[string]any) error {
		m, err := node(s, path[:len(path)-1]...)
		if err != nil {
			return err
		}
		m[path[len(path)-1]] = value
		return nil
	}
}
