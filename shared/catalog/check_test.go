package catalog_test

import (
	"encoding/json"
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

func TestCheck(t *testing.T) {
	const (
		doc   = `{"type":"header","parameters":[{"type":"document","document":{"link":"s3://b/tenants/acme/outbound/r.pdf","filename":"receipt.pdf"}}]}`
		img   = `{"type":"header","parameters":[{"type":"image","image":{"link":"s3://b/tenants/acme/outbound/x.jpg"}}]}`
		body2 = `{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"860198-230332"}]}`
		body3 = `{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"Tuscan Getaway package"},{"type":"currency","currency":{"fallback_value":"$800","code":"USD","amount_1000":800000}}]}`
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

// TestCheckLeavesUnmodelledTemplatesToMeta: a carousel template's cards
// are not checked here (Meta judges them); its status still is.
func TestCheckLeavesUnmodelledTemplatesToMeta(t *testing.T) {
	tpl := catalog.Template{Name: "summer_carousel", Language: "en_US", Status: catalog.StatusApproved, ParameterFormat: catalog.FormatPositional,
		Components: []byte(`[{"type":"BODY","text":"Rare succulents for sale! {{1}}"},{"type":"CAROUSEL","cards":[]}]`)}
	job := &outbound.Template{Name: tpl.Name, Components: []outbound.TemplateComponent{{Type: "body"}}}
	if got := catalog.Check(tpl, job); got != nil {
		t.Errorf("carousel: %q, want no problem", got)
	}
	tpl.Status = catalog.StatusPaused
	if got := catalog.Check(tpl, job); len(got) != 1 {
		t.Errorf("paused carousel: %q, want the status problem", got)
	}
}
