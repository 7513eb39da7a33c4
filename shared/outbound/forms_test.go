package outbound

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// sample is the job of events/sender/<name>.json, decoded afresh, so a
// case can change it.
func sample(name string) Job {
	raw, err := os.ReadFile("../../events/sender/" + name + ".json")
	if err != nil {
		panic(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		panic(err)
	}
	j, err := Decode([]byte(ev.Records[0].Body))
	if err != nil {
		panic(name + ": " + err.Error())
	}
	return j
}

func i64(v int64) *int64 { return &v }
func intp(v int) *int    { return &v }

// with returns a case's job: the sample changed by f.
func with(name string, f func(j *Job)) func() Job {
	return func() Job { j := sample(name); f(&j); return j }
}

// formCases are Validate's rules for the interactive and template forms
// beyond buttons, lists and CTA URLs (issue 15), each at its edge; they
// join validateCases.
var formCases = []validateCase{
	// Every form's sample, valid.
	{"flow by id", with("interactive_flow", func(*Job) {}), ""},
	{"draft flow by name", with("interactive_flow_draft_by_name", func(*Job) {}), ""},
	{"catalog", with("interactive_catalog", func(*Job) {}), ""},
	{"single product without body", with("interactive_product", func(*Job) {}), ""},
	{"multi product", with("interactive_product_list", func(*Job) {}), ""},
	{"order details", with("interactive_order_details", func(*Job) {}), ""},
	{"order status", with("interactive_order_status", func(*Job) {}), ""},
	{"location request", with("interactive_location_request", func(*Job) {}), ""},
	{"address request", with("interactive_address", func(*Job) {}), ""},
	{"media card carousel", with("template_carousel_media", func(*Job) {}), ""},
	{"product card carousel", with("template_carousel_product", func(*Job) {}), ""},
	{"limited-time offer", with("template_limited_time_offer", func(*Job) {}), ""},
	{"coupon code", with("template_coupon_code", func(*Job) {}), ""},
	{"authentication code", with("template_authentication", func(*Job) {}), ""},
	{"flow template", with("template_flow", func(*Job) {}), ""},
	{"multi-product template", with("template_multi_product", func(*Job) {}), ""},
	{"coupon code of 15", with("template_coupon_code", func(j *Job) {
		j.Template.Components[1].Parameters[0].CouponCode = strings.Repeat("C", 15)
	}), ""},
	{"ten cards", with("template_carousel_product", func(j *Job) {
		c := &j.Template.Components[1]
		for i := 2; i < 10; i++ {
			card := c.Cards[0]
			card.CardIndex = intp(i)
			c.Cards = append(c.Cards, card)
		}
	}), ""},
	{"thirty products", with("interactive_product_list", func(j *Job) {
		s := j.Interactive.Action.Sections
		for len(s[0].ProductItems)+len(s[1].ProductItems) < 30 {
			s[1].ProductItems = append(s[1].ProductItems, ProductItem{ProductRetailerID: "x"})
		}
	}), ""},

	// Shape of each interactive form.
	{"footer on a location request", with("interactive_location_request", func(j *Job) { j.Interactive.Footer = &InteractiveText{Text: "x"} }), "a location_request_message message has no footer"},
	{"header on a catalog message", with("interactive_catalog", func(j *Job) {
		j.Interactive.Header = &InteractiveHeader{Type: "text", Text: "x"}
	}), "a catalog_message message has no header"},
	{"multi product without header", with("interactive_product_list", func(j *Job) { j.Interactive.Header = nil }), "a product_list message needs a text header"},
	{"multi product with an image header", with("interactive_product_list", func(j *Job) {
		j.Interactive.Header = &InteractiveHeader{Type: "image", Image: &Media{ID: "1227829768162607"}}
	}), "a product_list message header must be text"},
	{"flow without body", with("interactive_flow", func(j *Job) { j.Interactive.Body = nil }), "interactive.body is required"},
	{"cta parameters on a flow", with("interactive_flow", func(j *Job) { j.Interactive.Action.Parameters.URL = "https://example.com" }), "interactive.action.parameters.url does not belong to a flow message"},
	{"catalog_id on a flow", with("interactive_flow", func(j *Job) { j.Interactive.Action.CatalogID = "1" }), "interactive.action.catalog_id does not belong to a flow message"},
	{"wrong action name", with("interactive_catalog", func(j *Job) { j.Interactive.Action.Name = "flow" }), `interactive.action.name must be "catalog_message"`},
	{"parameters on a location request", with("interactive_location_request", func(j *Job) {
		j.Interactive.Action.Parameters = &ActionParameters{}
	}), "interactive.action.parameters does not belong to a location_request_message message"},
	{"catalog without thumbnail", with("interactive_catalog", func(j *Job) { j.Interactive.Action.Parameters.ThumbnailProductRetailerID = " " }), "thumbnail_product_retailer_id is required"},
	{"product without catalog", with("interactive_product", func(j *Job) { j.Interactive.Action.CatalogID = "" }), "interactive.action.catalog_id is required"},
	{"product without product", with("interactive_product", func(j *Job) { j.Interactive.Action.ProductRetailerID = "" }), "interactive.action.product_retailer_id is required"},
	{"multi product without catalog", with("interactive_product_list", func(j *Job) { j.Interactive.Action.CatalogID = "" }), "interactive.action.catalog_id is required"},
	{"address country", with("interactive_address", func(j *Job) { j.Interactive.Action.Parameters.Country = "India" }), "country must be an ISO 3166"},
	{"saved address without id", with("interactive_address", func(j *Job) { j.Interactive.Action.Parameters.SavedAddresses[0].ID = "" }), "saved_addresses[0].id is required"},
	{"saved address without value", with("interactive_address", func(j *Job) { j.Interactive.Action.Parameters.SavedAddresses[0].Value = nil }), "saved_addresses[0].value is required"},

	// Lists and multi-product sections.
	{"product items in a list", func() Job {
		j := base(TypeInteractive)
		j.Interactive = list(1, 2)
		j.Interactive.Action.Sections[0].ProductItems = []ProductItem{{ProductRetailerID: "x"}}
		return j
	}, "product_items belong to a product_list message"},
	{"rows in a multi product", with("interactive_product_list", func(j *Job) {
		j.Interactive.Action.Sections[0].Rows = []ListRow{{ID: "a", Title: "A"}}
	}), "rows belong to a list message"},
	{"multi product without sections", with("interactive_product_list", func(j *Job) { j.Interactive.Action.Sections = []ListSection{} }), "interactive.action.sections must hold 1 to 10 sections, got 0"},
	{"multi product untitled section", with("interactive_product_list", func(j *Job) { j.Interactive.Action.Sections[1].Title = "" }), "sections[1].title is required"},
	{"multi product section title 25", with("interactive_product_list", func(j *Job) { j.Interactive.Action.Sections[0].Title = strings.Repeat("t", 25) }), "sections[0].title has 25 characters"},
	{"multi product empty section", with("interactive_product_list", func(j *Job) { j.Interactive.Action.Sections[1].ProductItems = []ProductItem{} }), "product_items must hold 1 to 30 products, got 0"},
	{"multi product blank product", with("interactive_product_list", func(j *Job) { j.Interactive.Action.Sections[0].ProductItems[0].ProductRetailerID = "" }), "product_items[0].product_retailer_id is required"},
	{"thirty-one products", with("interactive_product_list", func(j *Job) {
		s := j.Interactive.Action.Sections
		for len(s[0].ProductItems)+len(s[1].ProductItems) < 31 {
			s[1].ProductItems = append(s[1].ProductItems, ProductItem{ProductRetailerID: "x"})
		}
	}), "at most 30 products in total, got 31"},

	// Flows.
	{"flow version", with("interactive_flow", func(j *Job) { j.Interactive.Action.Parameters.FlowMessageVersion = "2" }), `flow_message_version must be "3"`},
	{"flow by id and name", with("interactive_flow", func(j *Job) { j.Interactive.Action.Parameters.FlowName = "x" }), "give the flow by flow_id or by flow_name"},
	{"flow without cta", with("interactive_flow", func(j *Job) { j.Interactive.Action.Parameters.FlowCTA = "" }), "flow_cta is required"},
	{"flow cta 31", with("interactive_flow", func(j *Job) { j.Interactive.Action.Parameters.FlowCTA = strings.Repeat("c", 31) }), "flow_cta has 31 characters, limit 30"},
	{"flow action", with("interactive_flow", func(j *Job) { j.Interactive.Action.Parameters.FlowAction = "open" }), "flow_action must be navigate or data_exchange"},
	{"flow mode", with("interactive_flow", func(j *Job) { j.Interactive.Action.Parameters.Mode = "live" }), "mode must be draft or published"},
	{"flow payload with data exchange", with("interactive_flow", func(j *Job) { j.Interactive.Action.Parameters.FlowAction = "data_exchange" }), "flow_action_payload is only for flow_action navigate"},
	{"flow payload without screen", with("interactive_flow", func(j *Job) { j.Interactive.Action.Parameters.FlowActionPayload.Screen = "" }), "flow_action_payload.screen is required"},
	{"flow payload with empty data", with("interactive_flow", func(j *Job) { j.Interactive.Action.Parameters.FlowActionPayload.Data = map[string]any{} }), "flow_action_payload.data must not be empty"},

	// Order details.
	{"order without reference", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.ReferenceID = "" }), "parameters.reference_id is required"},
	{"order reference 36", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.ReferenceID = strings.Repeat("r", 36) }), "reference_id has 36 characters, limit 35"},
	{"order reference with a space", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.ReferenceID = "pedido 42" }), "reference_id may hold only"},
	{"order goods type", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.Type = "services" }), "type must be digital-goods or physical-goods"},
	{"order currency", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.Currency = "inr" }), "currency must be an ISO 4217 code"},
	{"order without total", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.TotalAmount = nil }), "total_amount is required"},
	{"order without order", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.Order = nil }), "parameters.order is required"},
	{"order status in details", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.Order.Status = "shipped" }), `order.status must be "pending"`},
	{"order description in details", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.Order.Description = "x" }), "order.description belongs to an order_status message"},
	{"order without items", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.Order.Items = []OrderItem{} }), "order.items must hold at least one item"},
	{"item without retailer id", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.Order.Items[0].RetailerID = "" }), "items[0].retailer_id is required"},
	{"item without name", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.Order.Items[1].Name = " " }), "items[1].name is required"},
	{"item quantity 0", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.Order.Items[0].Quantity = i64(0) }), "items[0].quantity is required, at least 1"},
	{"item without amount", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.Order.Items[1].Amount = nil }), "items[1].amount is required"},
	{"amount below 0", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.TotalAmount.Value = i64(-1) }), "total_amount.value is required, a whole number of at least 0"},
	{"amount offset 0", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.Order.Tax.Offset = i64(0) }), "order.tax.offset is required"},
	{"order without subtotal", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.Order.Subtotal = nil }), "order.subtotal is required"},
	{"order subtotal off", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.Order.Subtotal.Value = i64(41001) }), "subtotal must be the sum"},
	{"order without tax", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.Order.Tax = nil }), "order.tax is required"},
	{"order total off", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.TotalAmount.Value = i64(47400) }), "total_amount must be subtotal + tax + shipping - discount"},
	{"order total in another offset", with("interactive_order_details", func(j *Job) {
		j.Interactive.Action.Parameters.TotalAmount = &Amount{Value: i64(475000), Offset: i64(1000)}
	}), ""},
	{"order expiry timestamp", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.Order.Expiration.Timestamp = "tomorrow" }), "expiration.timestamp must be Unix seconds"},
	{"order expiry without description", with("interactive_order_details", func(j *Job) { j.Interactive.Action.Parameters.Order.Expiration.Description = "" }), "expiration.description is required"},

	// Order status.
	{"status without reference", with("interactive_order_status", func(j *Job) { j.Interactive.Action.Parameters.ReferenceID = "" }), "parameters.reference_id is required"},
	{"status without order", with("interactive_order_status", func(j *Job) { j.Interactive.Action.Parameters.Order = nil }), "parameters.order is required"},
	{"status value", with("interactive_order_status", func(j *Job) { j.Interactive.Action.Parameters.Order.Status = "lost" }), "order.status must be one of"},
	{"status note 121", with("interactive_order_status", func(j *Job) { j.Interactive.Action.Parameters.Order.Description = strings.Repeat("n", 121) }), "order.description has 121 characters, limit 120"},
	{"status with items", with("interactive_order_status", func(j *Job) {
		j.Interactive.Action.Parameters.Order.Items = []OrderItem{{RetailerID: "a"}}
	}), "holds only status and description"},

	// Template forms.
	{"limited-time offer in a card", with("template_carousel_media", func(j *Job) {
		j.Template.Components[1].Cards[0].Components[1].Type = "limited_time_offer"
	}), "must be header, body or button in a carousel card"},
	{"index on a carousel", with("template_carousel_media", func(j *Job) { j.Template.Components[1].Index = 0.0 }), "sub_type and index belong to button components only"},
	{"cards on a body", with("template_carousel_media", func(j *Job) { j.Template.Components[0].Cards = j.Template.Components[1].Cards }), "cards belong to a carousel component"},
	{"limited-time offer with two parameters", with("template_limited_time_offer", func(j *Job) {
		c := &j.Template.Components[2]
		c.Parameters = append(c.Parameters, c.Parameters[0])
	}), "has exactly one limited_time_offer parameter"},
	{"parameters on a carousel", with("template_carousel_media", func(j *Job) {
		j.Template.Components[1].Parameters = []TemplateParameter{{Type: "text", Text: "x"}}
	}), "a carousel has no parameters of its own"},
	{"carousel without cards", with("template_carousel_media", func(j *Job) { j.Template.Components[1].Cards = []CarouselCard{} }), "cards must hold 1 to 10 cards, got 0"},
	{"eleven cards", with("template_carousel_product", func(j *Job) {
		c := &j.Template.Components[1]
		for i := 2; i < 11; i++ {
			card := c.Cards[0]
			card.CardIndex = intp(i % 10)
			c.Cards = append(c.Cards, card)
		}
	}), "cards must hold 1 to 10 cards, got 11"},
	{"card index 10", with("template_carousel_media", func(j *Job) { j.Template.Components[1].Cards[1].CardIndex = intp(10) }), "card_index is required, 0 to 9"},
	{"card index twice", with("template_carousel_media", func(j *Job) { j.Template.Components[1].Cards[1].CardIndex = intp(0) }), "card_index 0 is not unique"},
	{"card without components", with("template_carousel_media", func(j *Job) { j.Template.Components[1].Cards[1].Components = []TemplateComponent{} }), "components must not be empty"},
	{"product header outside a card", with("template_carousel_product", func(j *Job) {
		j.Template.Components = append(j.Template.Components, TemplateComponent{Type: "header", Parameters: j.Template.Components[1].Cards[0].Components[0].Parameters})
	}), "product parameters belong in the header of a carousel card"},
	{"offer expiry in the body", with("template_limited_time_offer", func(j *Job) {
		j.Template.Components[1].Parameters = append(j.Template.Components[1].Parameters, j.Template.Components[2].Parameters[0])
	}), "limited_time_offer parameters belong in the limited_time_offer component"},
	{"text in the offer", with("template_limited_time_offer", func(j *Job) {
		j.Template.Components[2].Parameters[0] = TemplateParameter{Type: "text", Text: "x"}
	}), "limited_time_offer parameters belong in the limited_time_offer component"},
	{"coupon code of 16", with("template_coupon_code", func(j *Job) {
		j.Template.Components[1].Parameters[0].CouponCode = strings.Repeat("C", 16)
	}), "coupon_code has 16 characters, limit 15"},
	{"flow action data empty", with("template_flow", func(j *Job) {
		j.Template.Components[1].Parameters[0].Action.FlowActionData = map[string]any{}
	}), "flow_action_data must not be empty"},
	{"offer without expiry", with("template_limited_time_offer", func(j *Job) {
		j.Template.Components[2].Parameters[0].LimitedTimeOffer.ExpirationTimeMS = nil
	}), "expiration_time_ms is required"},
	{"product card without product", with("template_carousel_product", func(j *Job) {
		j.Template.Components[1].Cards[0].Components[0].Parameters[0].Product.ProductRetailerID = ""
	}), "product.product_retailer_id is required"},
	{"product card without catalog", with("template_carousel_product", func(j *Job) {
		j.Template.Components[1].Cards[1].Components[0].Parameters[0].Product.CatalogID = ""
	}), "product.catalog_id is required"},
	{"multi-product template without sections", with("template_multi_product", func(j *Job) {
		j.Template.Components[2].Parameters[0].Action.Sections = []ListSection{}
	}), "action.sections must hold 1 to 10 sections"},
}

func init() { validateCases = append(validateCases, formCases...) }

// TestSamplesBuildAsWritten builds every sample job and compares the
// request's content object with the job's, field for field: the core
// writes Meta's shapes and Build sends them as written.
func TestSamplesBuildAsWritten(t *testing.T) {
	files, _ := filepath.Glob("../../events/sender/*.json")
	interactive, template := map[string]bool{}, map[string]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			j := sample(name)
			if err := Validate(j); err != nil {
				t.Fatal(err)
			}
			if j.Interactive != nil {
				interactive[j.Interactive.Type] = true
			}
			if j.Template != nil {
				for _, c := range j.Template.Components {
					template[c.Type] = true
					if c.Type == "button" {
						template[c.SubType] = true
					}
				}
			}
			// Text always goes out with preview_url (as Meta's examples
			// write it); receipts and s3:// media are built otherwise.
			if j.Type == TypeText || j.Type == TypeRead || j.Type == TypeTyping || j.MediaRefs() != nil && j.MediaRefs()[0].Media.IsS3() {
				return
			}
			req, err := Build(j)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(req)
			var gotM, jobM map[string]any
			_ = json.Unmarshal(got, &gotM)
			raw, _ := json.Marshal(j)
			_ = json.Unmarshal(raw, &jobM)
			if !reflect.DeepEqual(gotM[j.Type], jobM[j.Type]) {
				t.Errorf("request %s\n  = %s\nwant %s", j.Type, mustMarshal(gotM[j.Type]), mustMarshal(jobM[j.Type]))
			}
		})
	}
	for _, typ := range InteractiveTypes {
		if !interactive[typ] {
			t.Errorf("no sample of an interactive %s message in events/sender", typ)
		}
	}
	for _, form := range []string{"header", "body", "carousel", "limited_time_offer", "copy_code", "quick_reply", "url", "flow", "mpm", "catalog"} {
		if !template[form] {
			t.Errorf("no sample of a template with %s in events/sender", form)
		}
	}
}

func mustMarshal(v any) string { b, _ := json.Marshal(v); return string(b) }
