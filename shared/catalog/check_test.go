package catalog_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/outbound"
)

// samples are the simulator's real template definitions (Meta's own
// examples), as the catalog holds them after a sync.
func samples(t *testing.T) map[string]catalog.Template {
	t.Helper()
	out := map[string]catalog.Template{}
	for _, s := range graphsim.SampleTemplates("200000000000001") {
		comps, err := json.Marshal(s.Components)
		if err != nil {
			t.Fatal(err)
		}
		out[s.Name] = catalog.Template{WABAID: s.WABAID, Name: s.Name, Language: s.Language, Status: s.Status,
			Category: s.Category, ParameterFormat: s.ParameterFormat, Components: comps}
	}
	return out
}

// mcard is a media card of summer_carousel; pcard a product card.
func mcard(i int, kind string) string {
	return fmt.Sprintf(`{"card_index":%d,"components":[{"type":"header","parameters":[{"type":%q,%q:{"id":"1227829768162607"}}]},`+
		`{"type":"body","parameters":[{"type":"text","text":"R$ 34,90"}]},{"type":"button","sub_type":"quick_reply","index":0,"parameters":[{"type":"payload","payload":"more"}]},`+
		`{"type":"button","sub_type":"url","index":1,"parameters":[{"type":"text","text":"cafe"}]}]}`, i, kind, kind)
}

func pcard(i int) string {
	return fmt.Sprintf(`{"card_index":%d,"components":[{"type":"header","parameters":[{"type":"product","product":{"product_retailer_id":"cafe-500g","catalog_id":"194836987003835"}}]}]}`, i)
}

func TestCheck(t *testing.T) {
	const (
		doc   = `{"type":"header","parameters":[{"type":"document","document":{"link":"s3://b/tenants/acme/outbound/r.pdf","filename":"receipt.pdf"}}]}`
		img   = `{"type":"header","parameters":[{"type":"image","image":{"link":"s3://b/tenants/acme/outbound/x.jpg"}}]}`
		body2 = `{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"860198-230332"}]}`
		body3 = `{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"Tuscan Getaway package"},{"type":"currency","currency":{"fallback_value":"$800","code":"USD","amount_1000":800000}}]}`
		cbody = `{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"15%"}]}`
		lbody = `{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"CAFE25"}]}`
		offer = `{"type":"limited_time_offer","parameters":[{"type":"limited_time_offer","limited_time_offer":{"expiration_time_ms":1767312000000}}]}`
		copy  = `{"type":"button","sub_type":"copy_code","index":0,"parameters":[{"type":"coupon_code","coupon_code":"CAFE25"}]}`
		shop  = `{"type":"button","sub_type":"url","index":1,"parameters":[{"type":"text","text":"cafe25"}]}`
		named = `{"type":"body","parameters":[{"type":"text","parameter_name":"number_of_guests","text":"4"},{"type":"text","parameter_name":"day","text":"Saturday"},{"type":"text","parameter_name":"date","text":"August 30th"},{"type":"text","parameter_name":"time","text":"7:30 pm"}]}`
	)
	tests := []struct {
		name     string
		template string
		status   string // overrides the sample's status
		job      string // the job's components
		want     []string
	}{
		{"hello_world as is", "hello_world", "", `[]`, nil},
		{"hello_world with a body parameter", "hello_world", "", `[{"type":"body","parameters":[{"type":"text","text":"x"}]}]`,
			[]string{"body takes 0 parameter(s)"}},
		{"paused", "2023_april_promo", "", `[` + body2 + `]`, []string{"is PAUSED at Meta"}},
		{"pending", "hello_world", "PENDING", `[]`, []string{"is PENDING at Meta"}},
		{"rejected", "hello_world", "REJECTED", `[]`, []string{"is REJECTED at Meta"}},
		{"disabled", "hello_world", "DISABLED", `[]`, []string{"is DISABLED at Meta"}},

		{"document header and positional body", "order_confirmation", "", `[` + doc + `,` + body2 + `]`, nil},
		{"image given for a document header", "order_confirmation", "", `[` + img + `,` + body2 + `]`,
			[]string{"header is DOCUMENT, but the job's header parameter is image"}},
		{"media header missing", "order_confirmation", "", `[` + body2 + `]`,
			[]string{"header is DOCUMENT: give a header component with one document parameter (got 0)"}},
		{"one body parameter too many", "order_confirmation", "", `[` + doc + `,` + body3 + `]`,
			[]string{"body takes 2 parameter(s) ({{1}}…), the job gives 3"}},
		{"parameter for a static URL button", "order_confirmation", "", `[` + doc + `,` + body2 + `,{"type":"button","sub_type":"url","index":1,"parameters":[{"type":"text","text":"x"}]}]`,
			[]string{"button index 1 is a URL button, which takes no parameter"}},

		{"image header, currency, dynamic URL by string index", "limited_time_offer_tuscan_getaway_2023", "",
			`[` + img + `,` + body3 + `,{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"summer2023"}]}]`, nil},
		{"dynamic URL button missing", "limited_time_offer_tuscan_getaway_2023", "", `[` + img + `,` + body3 + `]`,
			[]string{`button index 1 (URL "Shop Now") needs a button component with sub_type "url" and one text parameter`}},
		{"URL parameter on the phone button", "limited_time_offer_tuscan_getaway_2023", "",
			`[` + img + `,` + body3 + `,{"type":"button","sub_type":"url","index":0,"parameters":[{"type":"text","text":"summer2023"}]}]`,
			[]string{"button index 0 is a PHONE_NUMBER button, which takes no parameter", "button index 1 (URL"}},
		{"wrong sub_type", "limited_time_offer_tuscan_getaway_2023", "",
			`[` + img + `,` + body3 + `,{"type":"button","sub_type":"quick_reply","index":1,"parameters":[{"type":"payload","payload":"p"}]}]`,
			[]string{`button index 1 is a URL button: its sub_type is "url", not "quick_reply"`}},
		{"button given twice", "limited_time_offer_tuscan_getaway_2023", "",
			`[` + img + `,` + body3 + `,{"type":"button","sub_type":"url","index":1,"parameters":[{"type":"text","text":"a"}]},{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"b"}]}]`,
			[]string{"button index 1 twice"}},

		{"text header variable and optional quick replies left out", "seasonal_promotion_text_only", "",
			`[{"type":"header","parameters":[{"type":"text","text":"Summer Sale"}]},{"type":"body","parameters":[{"type":"text","text":"August"},{"type":"text","text":"25OFF"},{"type":"text","text":"25%"}]}]`, nil},
		{"quick reply payloads", "seasonal_promotion_text_only", "",
			`[{"type":"header","parameters":[{"type":"text","text":"Summer Sale"}]},{"type":"body","parameters":[{"type":"text","text":"August"},{"type":"text","text":"25OFF"},{"type":"text","text":"25%"}]},{"type":"button","sub_type":"quick_reply","index":0,"parameters":[{"type":"payload","payload":"unsub-promos"}]},{"type":"button","sub_type":"quick_reply","index":1,"parameters":[{"type":"payload","payload":"unsub-all"}]}]`, nil},
		{"text header variable missing, third button", "seasonal_promotion_text_only", "",
			`[{"type":"body","parameters":[{"type":"text","text":"August"},{"type":"text","text":"25OFF"},{"type":"text","text":"25%"}]},{"type":"button","sub_type":"quick_reply","index":2,"parameters":[{"type":"payload","payload":"x"}]}]`,
			[]string{"header takes 1 parameter(s) ({{1}}…), the job gives 0", "button index 2: the template has 2 button(s)"}},
		{"quick reply with a text parameter", "seasonal_promotion_text_only", "",
			`[{"type":"header","parameters":[{"type":"text","text":"Summer Sale"}]},{"type":"body","parameters":[{"type":"text","text":"August"},{"type":"text","text":"25OFF"},{"type":"text","text":"25%"}]},{"type":"button","sub_type":"quick_reply","index":0,"parameters":[{"type":"text","text":"x"}]}]`,
			[]string{"button index 0 (QUICK_REPLY) takes one payload parameter"}},

		{"location header", "order_delivery_update", "", `[{"type":"header","parameters":[{"type":"location","location":{"latitude":37.48,"longitude":-122.14,"name":"Shop","address":"1 Hacker Way"}}]},` + body2 + `]`, nil},
		{"location header left out", "order_delivery_update", "", `[` + body2 + `]`,
			[]string{"header is LOCATION: give a header component with one location parameter (got 0)"}},

		{"named parameters", "reservation_confirmation", "", `[` + img + `,` + named + `]`, nil},
		{"positional parameters for a named template", "reservation_confirmation", "",
			`[` + img + `,{"type":"body","parameters":[{"type":"text","text":"4"},{"type":"text","text":"Saturday"},{"type":"text","text":"Aug 30"},{"type":"text","text":"7:30"}]}]`,
			[]string{"parameter 0 has no parameter_name", "parameter 1 has no parameter_name", "parameter 2 has no parameter_name", "parameter 3 has no parameter_name",
				"lacks parameter(s) {{number_of_guests}}, {{day}}, {{date}}, {{time}}"}},
		{"a name misspelt", "reservation_confirmation", "",
			`[` + img + `,` + strings.Replace(named, `"parameter_name":"day"`, `"parameter_name":"weekday"`, 1) + `]`,
			[]string{`has no parameter "weekday" (it takes {{number_of_guests}}, {{day}}, {{date}}, {{time}})`, "lacks parameter(s) {{day}}"}},
		{"named parameter in a positional template", "order_confirmation", "",
			`[` + doc + `,{"type":"body","parameters":[{"type":"text","parameter_name":"name","text":"Ana"},{"type":"text","text":"1"}]}]`,
			[]string{`body parameter 0 is named "name", but the template's parameters are positional`}},

		{"authentication code", "authentication_code_copy_code_button", "",
			`[{"type":"body","parameters":[{"type":"text","text":"123456"}]},{"type":"button","sub_type":"url","index":0,"parameters":[{"type":"text","text":"123456"}]}]`, nil},
		{"authentication code without its button", "authentication_code_copy_code_button", "",
			`[{"type":"body","parameters":[{"type":"text","text":"123456"}]}]`,
			[]string{`button index 0 (URL "Copy code") needs a button component`}},

		// Issue 15: carousels, limited-time offers, coupon and authentication codes.
		{"media card carousel", "summer_carousel", "", `[` + cbody + `,{"type":"carousel","cards":[` + mcard(0, "image") + `,` + mcard(1, "image") + `]}]`, nil},
		{"carousel with one card of two", "summer_carousel", "", `[` + cbody + `,{"type":"carousel","cards":[` + mcard(0, "image") + `]}]`,
			[]string{"the template's carousel has 2 cards, the job gives 1"}},
		{"carousel card with a video for an image", "summer_carousel", "", `[` + cbody + `,{"type":"carousel","cards":[` + mcard(0, "image") + `,` + mcard(1, "video") + `]}]`,
			[]string{"card 1: the template's header is IMAGE, but the job's header parameter is video"}},
		{"carousel card without its URL button", "summer_carousel", "", `[` + cbody + `,{"type":"carousel","cards":[` + mcard(0, "image") + `,` +
			`{"card_index":1,"components":[{"type":"header","parameters":[{"type":"image","image":{"id":"1"}}]},{"type":"body","parameters":[{"type":"text","text":"R$ 1"}]}]}]}]`,
			[]string{`card 1: button index 1 (URL "Comprar") needs a button component with sub_type "url"`}},
		{"carousel left out", "summer_carousel", "", `[` + cbody + `]`, []string{"the template is a carousel of 2 cards"}},
		{"carousel for a template without one", "hello_world", "", `[{"type":"carousel","cards":[` + mcard(0, "image") + `]}]`,
			[]string{"the template has no carousel"}},
		{"product card carousel", "coffee_product_cards", "", `[{"type":"body","parameters":[{"type":"text","text":"Ana"}]},{"type":"carousel","cards":[` + pcard(0) + `,` + pcard(1) + `]}]`, nil},
		{"product card with an image", "coffee_product_cards", "", `[{"type":"body","parameters":[{"type":"text","text":"Ana"}]},{"type":"carousel","cards":[` + pcard(0) + `,` + mcard(1, "image") + `]}]`,
			[]string{"card 1: the template's header is PRODUCT, but the job's header parameter is image", "card 1: the template's body takes 0 parameter(s)",
				"card 1: button index 0 is a SPM button, which takes no parameter", "card 1: button index 1: the template has 1 button(s)"}},
		{"limited-time offer", "flash_sale_lto", "", `[` + img + `,` + lbody + `,` + offer + `,` + copy + `,` + shop + `]`, nil},
		{"limited-time offer without its expiry", "flash_sale_lto", "", `[` + img + `,` + lbody + `,` + copy + `,` + shop + `]`,
			[]string{"shows an expiry: give a limited_time_offer component with expiration_time_ms"}},
		{"offer code left out", "flash_sale_lto", "", `[` + img + `,` + lbody + `,` + offer + `,` + shop + `]`,
			[]string{`button index 0 (COPY_CODE "") needs a button component with sub_type "copy_code" and one coupon_code parameter`}},
		{"offer for a template without one", "hello_world", "", `[` + offer + `]`, []string{"the template has no limited-time offer"}},
		{"authentication codes that differ", "authentication_code_copy_code_button", "",
			`[{"type":"body","parameters":[{"type":"text","text":"123456"}]},{"type":"button","sub_type":"url","index":0,"parameters":[{"type":"text","text":"654321"}]}]`,
			[]string{"sends the same code in the body and the button"}},
		{"authentication code of 16", "authentication_code_copy_code_button", "",
			`[{"type":"body","parameters":[{"type":"text","text":"1234567890123456"}]},{"type":"button","sub_type":"url","index":0,"parameters":[{"type":"text","text":"1234567890123456"}]}]`,
			[]string{"code in the body has 16 characters, Meta's limit is 15", "code in the button has 16 characters"}},
		{"media in the body", "hello_world", "",
			`[{"type":"body","parameters":[{"type":"image","image":{"link":"s3://b/x.jpg"}}]}]`,
			[]string{"body parameter 0 is image", "body takes 0 parameter(s)"}},
	}
	all := samples(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, ok := all[tt.template]
			if !ok {
				t.Fatalf("no sample %s", tt.template)
			}
			if tt.status != "" {
				tpl.Status = tt.status
			}
			job := &outbound.Template{Name: tpl.Name, Language: outbound.TemplateLanguage{Code: tpl.Language}}
			if err := json.Unmarshal([]byte(tt.job), &job.Components); err != nil {
				t.Fatal(err)
			}
			got := catalog.Check(tpl, job)
			if len(got) != len(tt.want) {
				t.Fatalf("Check(%s, %s) = %q, want %d problem(s) %q", tt.template, tt.job, got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to say %q", i, got[i], w)
				}
			}
		})
	}
}

// TestCheckLeavesUnmodelledTemplatesToMeta: a template with a component
// this check does not model is left to Meta; its status still is checked.
func TestCheckLeavesUnmodelledTemplatesToMeta(t *testing.T) {
	tpl := catalog.Template{Name: "call_me", Language: "en_US", Status: catalog.StatusApproved, ParameterFormat: catalog.FormatPositional,
		Components: []byte(`[{"type":"BODY","text":"May we call you, {{1}}?"},{"type":"CALL_PERMISSION_REQUEST"}]`)}
	job := &outbound.Template{Name: tpl.Name, Components: []outbound.TemplateComponent{{Type: "body"}}}
	if got := catalog.Check(tpl, job); got != nil {
		t.Errorf("unmodelled component: %q, want no problem", got)
	}
	tpl.Status = catalog.StatusPaused
	if got := catalog.Check(tpl, job); len(got) != 1 {
		t.Errorf("paused: %q, want the status problem", got)
	}
}
