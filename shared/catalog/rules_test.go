package catalog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/graph"
)

// createCases are template creations in Meta's shape with how many of
// Meta's rules each breaks. Bodies and buttons follow Meta's template
// documentation examples.
var createCases = []struct {
	name     string
	template string
	problems int
}{
	{"utility with header, footer and every button kind", `{"name":"order_shipped","language":"en_US","category":"UTILITY","components":[
		{"type":"HEADER","format":"TEXT","text":"Order {{1}}","example":{"header_text":["#1042"]}},
		{"type":"BODY","text":"Hi {{1}}, your order {{2}} is on its way.","example":{"body_text":[["Maria","#1042"]]}},
		{"type":"FOOTER","text":"Reply STOP to opt out"},
		{"type":"BUTTONS","buttons":[{"type":"URL","text":"Track it","url":"https://shop.example.com/track/{{1}}","example":["https://shop.example.com/track/1042"]},
			{"type":"PHONE_NUMBER","text":"Call us","phone_number":"+15550001234"},{"type":"QUICK_REPLY","text":"Stop promotions"}]}]}`, 0},
	{"named parameters", `{"name":"named_greeting","language":"pt_BR","category":"MARKETING","parameter_format":"NAMED","components":[
		{"type":"BODY","text":"Olá {{first_name}}, seu cupom é {{code}}.","example":{"body_text_named_params":[{"param_name":"first_name","example":"Ana"},{"param_name":"code","example":"X1"}]}}]}`, 0},
	{"image header with a sample handle", `{"name":"image_promo","language":"en_US","category":"MARKETING","components":[
		{"type":"HEADER","format":"IMAGE","example":{"header_handle":["4::aW1hZ2UvanBlZw==:ARb"]}},{"type":"BODY","text":"New arrivals are in."}]}`, 0},
	{"authentication with a copy-code OTP", `{"name":"login_code","language":"en_US","category":"AUTHENTICATION","components":[
		{"type":"BODY","add_security_recommendation":true},{"type":"FOOTER","code_expiration_minutes":10},
		{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"COPY_CODE","text":"Copy code"}]}]}`, 0},
	{"coupon code button", `{"name":"coupon_offer","language":"en_US","category":"MARKETING","components":[
		{"type":"BODY","text":"Take 15% off."},{"type":"BUTTONS","buttons":[{"type":"COPY_CODE","example":["SAVE15"]}]}]}`, 0},

	{"media card carousel", `{"name":"media_carousel","language":"en_US","category":"MARKETING","components":[
		{"type":"BODY","text":"Picked for you, {{1}}.","example":{"body_text":[["Maria"]]}},{"type":"CAROUSEL","cards":[{"components":[{"type":"HEADER","format":"IMAGE","example":{"header_handle":["4::aW1hZ2UvanBlZw==:ARb"]}},{"type":"BODY","text":"Only {{1}}.","example":{"body_text":[["$9"]]}},{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"More"},{"type":"URL","text":"Buy","url":"https://shop.example.com/p/{{1}}","example":["https://shop.example.com/p/1"]}]}]},{"components":[{"type":"HEADER","format":"IMAGE","example":{"header_handle":["4::aW1hZ2UvanBlZw==:ARb"]}},{"type":"BODY","text":"Only {{1}}.","example":{"body_text":[["$9"]]}},{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"More"},{"type":"URL","text":"Buy","url":"https://shop.example.com/p/{{1}}","example":["https://shop.example.com/p/1"]}]}]}]}]}`, 0},
	{"product card carousel", `{"name":"product_carousel","language":"en_US","category":"MARKETING","components":[
		{"type":"BODY","text":"Back in stock."},{"type":"CAROUSEL","cards":[{"components":[{"type":"HEADER","format":"PRODUCT"},{"type":"BUTTONS","buttons":[{"type":"SPM","text":"View"}]}]},{"components":[{"type":"HEADER","format":"PRODUCT"},{"type":"BUTTONS","buttons":[{"type":"SPM","text":"View"}]}]},{"components":[{"type":"HEADER","format":"PRODUCT"},{"type":"BUTTONS","buttons":[{"type":"SPM","text":"View"}]}]}]}]}`, 0},
	{"limited-time offer", `{"name":"flash_offer","language":"en_US","category":"MARKETING","components":[
		{"type":"HEADER","format":"IMAGE","example":{"header_handle":["4::aW1hZ2UvanBlZw==:ARb"]}},
		{"type":"LIMITED_TIME_OFFER","limited_time_offer":{"text":"Expiring offer!","has_expiration":true}},
		{"type":"BODY","text":"Use code {{1}} today.","example":{"body_text":[["SAVE15"]]}},
		{"type":"BUTTONS","buttons":[{"type":"COPY_CODE","example":["SAVE15"]},{"type":"URL","text":"Book","url":"https://shop.example.com/o/{{1}}","example":["https://shop.example.com/o/1"]}]}]}`, 0},
	{"carousel of one card", `{"name":"one_card","language":"en_US","category":"MARKETING","components":[{"type":"BODY","text":"a"},{"type":"CAROUSEL","cards":[{"components":[{"type":"HEADER","format":"PRODUCT"},{"type":"BUTTONS","buttons":[{"type":"SPM","text":"View"}]}]}]}]}`, 1},
	{"carousel of eleven cards", `{"name":"eleven_cards","language":"en_US","category":"MARKETING","components":[{"type":"BODY","text":"a"},{"type":"CAROUSEL","cards":[` +
		strings.TrimSuffix(strings.Repeat(`{"components":[{"type":"HEADER","format":"PRODUCT"},{"type":"BUTTONS","buttons":[{"type":"SPM","text":"View"}]}]},`, 11), ",") + `]}]}`, 1},
	{"utility carousel", `{"name":"utility_carousel","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"a"},{"type":"CAROUSEL","cards":[{"components":[{"type":"HEADER","format":"PRODUCT"},{"type":"BUTTONS","buttons":[{"type":"SPM","text":"View"}]}]},{"components":[{"type":"HEADER","format":"PRODUCT"},{"type":"BUTTONS","buttons":[{"type":"SPM","text":"View"}]}]}]}]}`, 1},
	{"cards that differ", `{"name":"mixed_cards","language":"en_US","category":"MARKETING","components":[{"type":"BODY","text":"a"},{"type":"CAROUSEL","cards":[{"components":[{"type":"HEADER","format":"PRODUCT"},{"type":"BUTTONS","buttons":[{"type":"SPM","text":"View"}]}]},{"components":[{"type":"HEADER","format":"IMAGE","example":{"header_handle":["4::aW1hZ2UvanBlZw==:ARb"]}},{"type":"BODY","text":"Only {{1}}.","example":{"body_text":[["$9"]]}},{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"More"},{"type":"URL","text":"Buy","url":"https://shop.example.com/p/{{1}}","example":["https://shop.example.com/p/1"]}]}]}]}]}`, 1},
	{"card with a text header", `{"name":"text_card","language":"en_US","category":"MARKETING","components":[{"type":"BODY","text":"a"},{"type":"CAROUSEL","cards":[
		{"components":[{"type":"HEADER","format":"TEXT","text":"x"},{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"ok"}]}]},
		{"components":[{"type":"HEADER","format":"TEXT","text":"x"},{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"ok"}]}]}]}]}`, 2},
	{"carousel with template buttons", `{"name":"carousel_buttons","language":"en_US","category":"MARKETING","components":[{"type":"BODY","text":"a"},{"type":"CAROUSEL","cards":[{"components":[{"type":"HEADER","format":"PRODUCT"},{"type":"BUTTONS","buttons":[{"type":"SPM","text":"View"}]}]},{"components":[{"type":"HEADER","format":"PRODUCT"},{"type":"BUTTONS","buttons":[{"type":"SPM","text":"View"}]}]}]},
		{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"ok"}]}]}`, 1},
	{"offer text over 16", `{"name":"long_offer","language":"en_US","category":"MARKETING","components":[{"type":"LIMITED_TIME_OFFER","limited_time_offer":{"text":"` + strings.Repeat("o", 17) + `","has_expiration":true}},{"type":"BODY","text":"a"}]}`, 1},
	{"offer with a footer", `{"name":"offer_footer","language":"en_US","category":"MARKETING","components":[{"type":"LIMITED_TIME_OFFER","limited_time_offer":{"text":"Offer","has_expiration":false}},{"type":"BODY","text":"a"},{"type":"FOOTER","text":"f"}]}`, 1},
	{"utility offer", `{"name":"utility_offer","language":"en_US","category":"UTILITY","components":[{"type":"LIMITED_TIME_OFFER","limited_time_offer":{"text":"Offer"}},{"type":"BODY","text":"a"}]}`, 1},
	{"name with capitals and dash", `{"name":"Order-Shipped","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"Shipped."}]}`, 1},
	{"language not a code", `{"name":"bad_language","language":"english","category":"UTILITY","components":[{"type":"BODY","text":"Shipped."}]}`, 1},
	{"unknown category", `{"name":"bad_category","language":"en_US","category":"PROMO","components":[{"type":"BODY","text":"Shipped."}]}`, 1},
	{"unknown parameter format", `{"name":"bad_format","language":"en_US","category":"UTILITY","parameter_format":"MIXED","components":[{"type":"BODY","text":"Shipped."}]}`, 1},
	{"no components", `{"name":"no_components","language":"en_US","category":"UTILITY","components":[]}`, 1},
	{"two bodies", `{"name":"two_bodies","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"a"},{"type":"BODY","text":"b"}]}`, 1},
	{"no body", `{"name":"no_body","language":"en_US","category":"UTILITY","components":[{"type":"FOOTER","text":"a"}]}`, 1},
	{"body over 1024", `{"name":"long_body","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"` + strings.Repeat("á", 1025) + `"}]}`, 1},
	{"header text over 60", `{"name":"long_header","language":"en_US","category":"UTILITY","components":[{"type":"HEADER","format":"TEXT","text":"` + strings.Repeat("h", 61) + `"},{"type":"BODY","text":"a"}]}`, 1},
	{"footer with a variable", `{"name":"footer_variable","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"a"},{"type":"FOOTER","text":"Bye {{1}}"}]}`, 1},
	{"variables with a gap", `{"name":"gap_variables","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"{{1}} and {{3}}","example":{"body_text":[["a","b"]]}}]}`, 1},
	{"variables without samples", `{"name":"no_samples","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"Hi {{1}}, order {{2}}."}]}`, 1},
	{"too few samples", `{"name":"few_samples","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"Hi {{1}}, order {{2}}.","example":{"body_text":[["Maria"]]}}]}`, 1},
	{"named variable in a positional template", `{"name":"named_in_positional","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"Hi {{name}}","example":{"body_text":[["a"]]}}]}`, 1},
	{"named sample missing", `{"name":"named_missing","language":"en_US","category":"UTILITY","parameter_format":"NAMED","components":[{"type":"BODY","text":"Hi {{first_name}}","example":{"body_text_named_params":[{"param_name":"name","example":"a"}]}}]}`, 1},
	{"two header variables", `{"name":"header_two_vars","language":"en_US","category":"UTILITY","components":[{"type":"HEADER","format":"TEXT","text":"{{1}} {{2}}","example":{"header_text":["a","b"]}},{"type":"BODY","text":"a"}]}`, 1},
	{"image header without a sample", `{"name":"image_no_handle","language":"en_US","category":"MARKETING","components":[{"type":"HEADER","format":"IMAGE"},{"type":"BODY","text":"a"}]}`, 1},
	{"eleven buttons", `{"name":"eleven_buttons","language":"en_US","category":"MARKETING","components":[{"type":"BODY","text":"a"},{"type":"BUTTONS","buttons":[` +
		strings.TrimSuffix(strings.Repeat(`{"type":"QUICK_REPLY","text":"ok"},`, 11), ",") + `]}]}`, 1},
	{"three URL buttons", `{"name":"three_urls","language":"en_US","category":"MARKETING","components":[{"type":"BODY","text":"a"},{"type":"BUTTONS","buttons":[` +
		strings.TrimSuffix(strings.Repeat(`{"type":"URL","text":"go","url":"https://example.com"},`, 3), ",") + `]}]}`, 1},
	{"URL variable not at the end", `{"name":"url_middle","language":"en_US","category":"MARKETING","components":[{"type":"BODY","text":"a"},{"type":"BUTTONS","buttons":[{"type":"URL","text":"go","url":"https://example.com/{{1}}/x","example":["https://example.com/1/x"]}]}]}`, 1},
	{"button text over 25", `{"name":"long_button","language":"en_US","category":"MARKETING","components":[{"type":"BODY","text":"a"},{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"` + strings.Repeat("b", 26) + `"}]}]}`, 1},
	{"OTP button in a marketing template", `{"name":"otp_marketing","language":"en_US","category":"MARKETING","components":[{"type":"BODY","text":"a"},{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"COPY_CODE","text":"Copy"}]}]}`, 1},
	{"authentication with a header", `{"name":"auth_header","language":"en_US","category":"AUTHENTICATION","components":[{"type":"HEADER","format":"TEXT","text":"Code"},{"type":"BODY"},{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"COPY_CODE"}]}]}`, 1},
	{"authentication expiry over 90", `{"name":"auth_expiry","language":"en_US","category":"AUTHENTICATION","components":[{"type":"BODY"},{"type":"FOOTER","code_expiration_minutes":91},{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"COPY_CODE"}]}]}`, 1},
	{"every problem listed", `{"name":"Bad Name","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"{{1}} and {{3}}"},{"type":"FOOTER","text":"` + strings.Repeat("f", 61) + `"},{"type":"BUTTONS","buttons":[{"type":"FAX","text":"x"}]}]}`, 4},
}

// TestCreateRulesMatchTheSimulator: the API's rules (NewTemplate.Problems)
// accept exactly what the Graph simulator's template review accepts, and
// list every problem where the simulator, like Meta, names the first.
func TestCreateRulesMatchTheSimulator(t *testing.T) {
	const waba, token = "200000000000091", "tok-rules"
	sim := graphsim.New(graphsim.Config{WebhookURL: "http://127.0.0.1:1/unused", AppSecret: "s", Numbers: []graphsim.Number{
		{PhoneNumberID: "100000000000091", WABAID: waba, AccessToken: token}}})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	client := &graph.Client{BaseURL: srv.URL}
	for _, tc := range createCases {
		t.Run(tc.name, func(t *testing.T) {
			var nt catalog.NewTemplate
			if err := json.Unmarshal([]byte(tc.template), &nt); err != nil {
				t.Fatal(err)
			}
			problems := nt.Problems()
			if len(problems) != tc.problems {
				t.Errorf("%d problems, want %d: %q", len(problems), tc.problems, problems)
			}
			_, err := client.CreateTemplate(context.Background(), token, waba, json.RawMessage(tc.template))
			ge, refused := graph.AsError(err)
			if err != nil && !refused {
				t.Fatal(err)
			}
			if refused != (len(problems) > 0) {
				t.Errorf("the simulator refused: %v (%v); the API's problems: %q", refused, err, problems)
			}
			if refused && (ge.Code != 100 || ge.HTTPStatus != http.StatusBadRequest) {
				t.Errorf("simulator refusal %s, want Meta's 100 Invalid parameter", fmt.Sprint(ge))
			}
		})
	}
}
