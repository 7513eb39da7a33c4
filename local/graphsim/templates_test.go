package graphsim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/shared/whatsapp"
)

const (
	tplWABA  = "200000000000001"
	tplToken = "tok"
)

// templateHook keeps the signed template webhooks the simulator posts.
type templateHook struct {
	mu       sync.Mutex
	payloads [][]byte
	bad      int
}

func (h *templateHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !whatsapp.VerifySignature("app-secret", b, r.Header.Get(whatsapp.SignatureHeader)) {
		h.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	h.payloads = append(h.payloads, b)
}

func newTemplateSim(t *testing.T) (*Sim, *httptest.Server, *templateHook) {
	t.Helper()
	hook := &templateHook{}
	hs := httptest.NewServer(hook)
	t.Cleanup(hs.Close)
	sim := New(Config{WebhookURL: hs.URL, AppSecret: "app-secret", Now: func() time.Time { return simNow },
		Numbers: []Number{
			{PhoneNumberID: "100000000000001", WABAID: tplWABA, AccessToken: tplToken},
			{PhoneNumberID: "100000000000009", WABAID: "200000000000009", AccessToken: "other"},
		},
		Templates: append(SampleTemplates(tplWABA), SampleTemplates("200000000000009")[:1]...)})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv, hook
}

func graphCall(t *testing.T, method, rawURL, token, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, rawURL, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: decode: %v", method, rawURL, err)
	}
	return resp.StatusCode, out
}

func errorOf(out map[string]any) (code, subcode float64, title string) {
	e, _ := out["error"].(map[string]any)
	code, _ = e["code"].(float64)
	subcode, _ = e["error_subcode"].(float64)
	title, _ = e["error_user_title"].(string)
	if title == "" {
		title, _ = e["message"].(string)
	}
	return code, subcode, title
}

func names(out map[string]any) []string {
	var ns []string
	for _, d := range out["data"].([]any) {
		m := d.(map[string]any)
		ns = append(ns, m["name"].(string)+"/"+m["language"].(string))
	}
	return ns
}

func TestTemplateListPagesThroughEveryTemplate(t *testing.T) {
	sim, srv, _ := newTemplateSim(t)
	var want []string
	for _, tp := range sim.Templates(tplWABA) {
		want = append(want, tp.Name+"/"+tp.Language)
	}
	if len(want) != len(SampleTemplates("x")) {
		t.Fatalf("sim holds %d templates for the WABA, want %d", len(want), len(SampleTemplates("x")))
	}
	var got []string
	next := srv.URL + "/v23.0/" + tplWABA + "/message_templates?limit=3"
	var last map[string]any
	for pages := 0; next != ""; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		status, out := graphCall(t, "GET", next, tplToken, "")
		if status != 200 {
			t.Fatalf("GET %s: %d %v", next, status, out)
		}
		if n := len(out["data"].([]any)); n > 3 {
			t.Fatalf("page of %d, limit 3", n)
		}
		got = append(got, names(out)...)
		paging := out["paging"].(map[string]any)
		next, _ = paging["next"].(string)
		last = out
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged through %v, want %v", got, want)
	}
	// Back from the last page with its before cursor.
	before := last["paging"].(map[string]any)["cursors"].(map[string]any)["before"].(string)
	status, out := graphCall(t, "GET", srv.URL+"/v23.0/"+tplWABA+"/message_templates?limit=3&before="+before, tplToken, "")
	if status != 200 || !slices.Equal(names(out), want[len(want)-len(names(last))-3:len(want)-len(names(last))]) {
		t.Errorf("page before the last: %d %v, want %v", status, names(out), want[len(want)-len(names(last))-3:len(want)-len(names(last))])
	}
	if _, ok := out["paging"].(map[string]any)["next"]; !ok {
		t.Errorf("page before the last has no next")
	}
}

func TestTemplateListFilters(t *testing.T) {
	_, srv, _ := newTemplateSim(t)
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"by name", "name=order_confirmation", []string{"order_confirmation/en_US"}},
		{"by language", "language=en", []string{"seasonal_promotion_text_only/en"}},
		{"by category", "category=AUTHENTICATION", []string{"authentication_code_copy_code_button/en_US"}},
		{"paused only", "status=PAUSED", []string{"2023_april_promo/en_US"}},
		{"name and status that do not meet", "name=2023_april_promo&status=APPROVED", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := graphCall(t, "GET", srv.URL+"/v23.0/"+tplWABA+"/message_templates?"+tt.query, tplToken, "")
			if status != 200 || !slices.Equal(names(out), tt.want) {
				t.Errorf("?%s: %d %v, want %v", tt.query, status, names(out), tt.want)
			}
		})
	}
	t.Run("fields", func(t *testing.T) {
		_, out := graphCall(t, "GET", srv.URL+"/v23.0/"+tplWABA+"/message_templates?fields=name,status,quality_score&name=hello_world", tplToken, "")
		d := out["data"].([]any)[0].(map[string]any)
		var keys []string
		for k := range d {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if want := []string{"id", "name", "quality_score", "status"}; !slices.Equal(keys, want) {
			t.Errorf("fields=name,status,quality_score gave %v, want %v", keys, want)
		}
	})
}

func TestTemplateEndpointsRefuseLikeMeta(t *testing.T) {
	_, srv, _ := newTemplateSim(t)
	list := srv.URL + "/v23.0/" + tplWABA + "/message_templates"
	tests := []struct {
		name, method, url, token, body string
		status                         int
		code, subcode                  float64
	}{
		{"no token", "GET", list, "", "", 401, 190, 0},
		{"unknown token", "GET", list, "nope", "", 401, 190, 0},
		{"another WABA's token", "GET", list, "other", "", 400, 100, 33},
		{"another WABA's token deletes", "DELETE", list + "?name=hello_world", "other", "", 400, 100, 33},
		{"unknown status", "GET", list + "?status=LIVE", tplToken, "", 400, 100, 0},
		{"unknown field", "GET", list + "?fields=name,secret", tplToken, "", 400, 100, 0},
		{"bad limit", "GET", list + "?limit=0", tplToken, "", 400, 100, 0},
		{"bad cursor", "GET", list + "?after=bm90LWFuLWlk", tplToken, "", 400, 100, 0},
		{"delete without name", "DELETE", list + "?hsm_id=1", tplToken, "", 400, 100, 0},
		{"delete unknown", "DELETE", list + "?name=never_created", tplToken, "", 400, 100, 2593002},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := graphCall(t, tt.method, tt.url, tt.token, tt.body)
			code, sub, _ := errorOf(out)
			if status != tt.status || code != tt.code || sub != tt.subcode {
				t.Errorf("%s %s: %d code %v/%v, want %d code %v/%v (%v)", tt.method, tt.url, status, code, sub, tt.status, tt.code, tt.subcode, out)
			}
		})
	}
}

func TestTemplateCreateChecksComponents(t *testing.T) {
	body := func(category, format string, comps string) string {
		return `{"name":"new_template","language":"en_US","category":"` + category + `"` + format + `,"components":` + comps + `}`
	}
	const okBody = `{"type":"BODY","text":"Hi {{1}}, your code is {{2}}.","example":{"body_text":[["Ana","X1"]]}}`
	tests := []struct {
		name    string
		body    string
		title   string // error_user_title (or message); "" means accepted
		subcode float64
	}{
		{"positional body", body("UTILITY", "", `[`+okBody+`]`), "", 0},
		{"named body", body("UTILITY", `,"parameter_format":"NAMED"`, `[{"type":"BODY","text":"Hi {{first_name}}","example":{"body_text_named_params":[{"param_name":"first_name","example":"Ana"}]}}]`), "", 0},
		{"lowercase types, as Meta's own example", body("MARKETING", "", `[{"type":"body","text":"Check out this new offer"},{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Stop"}]}]`), "", 0},
		{"authentication", body("AUTHENTICATION", "", `[{"type":"BODY","add_security_recommendation":true},{"type":"FOOTER","code_expiration_minutes":10},{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"COPY_CODE","text":"Copy Code"}]}]`), "", 0},
		{"no body", body("UTILITY", "", `[{"type":"FOOTER","text":"bye"}]`), "Message template body is missing", 0},
		{"two bodies", body("UTILITY", "", `[`+okBody+`,`+okBody+`]`), "Invalid component", 0},
		{"variables without samples", body("UTILITY", "", `[{"type":"BODY","text":"Hi {{1}}"}]`), "Missing variable samples", 0},
		{"too few samples", body("UTILITY", "", `[{"type":"BODY","text":"Hi {{1}} {{2}}","example":{"body_text":[["Ana"]]}}]`), "Missing variable samples", 0},
		{"gap in variables", body("UTILITY", "", `[{"type":"BODY","text":"Hi {{1}} {{3}}","example":{"body_text":[["a","b"]]}}]`), "Variables are not sequential", 0},
		{"named variable in a positional template", body("UTILITY", "", `[{"type":"BODY","text":"Hi {{name}}"}]`), "Invalid variable", 0},
		{"header with two variables", body("MARKETING", "", `[{"type":"HEADER","format":"TEXT","text":"{{1}} {{2}}","example":{"header_text":["a","b"]}},`+okBody+`]`), "Too many variables", 0},
		{"image header without a sample", body("MARKETING", "", `[{"type":"HEADER","format":"IMAGE"},`+okBody+`]`), "Missing sample media", 0},
		{"unknown header format", body("MARKETING", "", `[{"type":"HEADER","format":"GIF"},`+okBody+`]`), "Invalid header", 0},
		{"footer with a variable", body("MARKETING", "", `[`+okBody+`,{"type":"FOOTER","text":"bye {{1}}"}]`), "Invalid footer", 0},
		{"three URL buttons", body("MARKETING", "", `[`+okBody+`,{"type":"BUTTONS","buttons":[{"type":"URL","text":"a","url":"https://a.example"},{"type":"URL","text":"b","url":"https://b.example"},{"type":"URL","text":"c","url":"https://c.example"}]}]`), "Too many URL buttons", 0},
		{"URL variable not at the end", body("MARKETING", "", `[`+okBody+`,{"type":"BUTTONS","buttons":[{"type":"URL","text":"a","url":"https://a.example/{{1}}/x","example":["https://a.example/1/x"]}]}]`), "Invalid URL", 0},
		{"button text too long", body("MARKETING", "", `[`+okBody+`,{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"this text is longer than 25"}]}]`), "Invalid button", 0},
		{"OTP button outside authentication", body("MARKETING", "", `[`+okBody+`,{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"COPY_CODE"}]}]`), "Invalid button", 0},
		{"authentication without button", body("AUTHENTICATION", "", `[{"type":"BODY","add_security_recommendation":true}]`), "Authentication template needs an OTP button", 0},
		{"bad name", `{"name":"New Template","language":"en_US","category":"UTILITY","components":[` + okBody + `]}`, "Invalid template name", 0},
		{"bad category", body("PROMO", "", `[`+okBody+`]`), `(#100) Param category must be one of {MARKETING, UTILITY, AUTHENTICATION} - got "PROMO".`, 0},
		{"no language", `{"name":"x","category":"UTILITY","components":[` + okBody + `]}`, "(#100) The parameter language is required", 0},
		{"already exists", `{"name":"hello_world","language":"en_US","category":"UTILITY","components":[` + okBody + `]}`, "Message template already exists", 2388024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, srv, _ := newTemplateSim(t)
			status, out := graphCall(t, "POST", srv.URL+"/v23.0/"+tplWABA+"/message_templates", tplToken, tt.body)
			if tt.title == "" {
				if status != 200 || out["status"] != "PENDING" || out["id"] == "" {
					t.Fatalf("create: %d %v, want 200 PENDING", status, out)
				}
				_, listed := graphCall(t, "GET", srv.URL+"/v23.0/"+tplWABA+"/message_templates?name=new_template", tplToken, "")
				if got := names(listed); !slices.Equal(got, []string{"new_template/en_US"}) {
					t.Errorf("listed %v after create", got)
				}
				if st := sim.TemplateStats(); st.Created != 1 {
					t.Errorf("stats %+v, want 1 created", st)
				}
				return
			}
			code, sub, title := errorOf(out)
			if status != 400 || code != 100 || title != tt.title || sub != tt.subcode {
				t.Errorf("create: %d %v/%v %q, want 400 100/%v %q (%v)", status, code, sub, title, tt.subcode, tt.title, out)
			}
		})
	}
}

// TestSampleTemplatesPassTheCreateCheck: the sample definitions are
// templates Meta would accept (authentication ones are listed expanded,
// so they are created from their creation form above instead).
func TestSampleTemplatesPassTheCreateCheck(t *testing.T) {
	for _, tp := range SampleTemplates(tplWABA) {
		if tp.Category == "AUTHENTICATION" {
			continue
		}
		t.Run(tp.Name, func(t *testing.T) {
			b, _ := json.Marshal(map[string]any{"name": tp.Name, "language": tp.Language, "category": tp.Category,
				"parameter_format": tp.ParameterFormat, "components": tp.Components})
			var req templateRequest
			if err := json.Unmarshal(b, &req); err != nil {
				t.Fatal(err)
			}
			if _, refusal := req.check(); refusal != nil {
				t.Errorf("refused: %+v", refusal)
			}
		})
	}
}

func TestTemplateDelete(t *testing.T) {
	tests := []struct {
		name  string
		query func(sim *Sim) string
		gone  []string
	}{
		{"by name, every language", func(*Sim) string { return "name=hello_world" }, []string{"hello_world/en_US", "hello_world/pt_BR"}},
		{"by name and hsm_id, that one", func(sim *Sim) string {
			for _, tp := range sim.Templates(tplWABA) {
				if tp.Name == "hello_world" && tp.Language == "pt_BR" {
					return "name=hello_world&hsm_id=" + tp.ID
				}
			}
			return ""
		}, []string{"hello_world/pt_BR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, srv, _ := newTemplateSim(t)
			pt := SampleTemplates(tplWABA)[0]
			pt.Language = "pt_BR"
			sim.AddTemplate(pt)
			before := len(sim.Templates(tplWABA))
			status, out := graphCall(t, "DELETE", srv.URL+"/v23.0/"+tplWABA+"/message_templates?"+tt.query(sim), tplToken, "")
			if status != 200 || out["success"] != true {
				t.Fatalf("delete: %d %v", status, out)
			}
			var left []string
			for _, tp := range sim.Templates(tplWABA) {
				left = append(left, tp.Name+"/"+tp.Language)
			}
			for _, g := range tt.gone {
				if slices.Contains(left, g) {
					t.Errorf("%s still listed", g)
				}
			}
			if len(left) != before-len(tt.gone) {
				t.Errorf("%d templates left, want %d", len(left), before-len(tt.gone))
			}
			if other := sim.Templates("200000000000009"); len(other) != 1 {
				t.Errorf("another WABA's hello_world went too: %v", other)
			}
		})
	}
}

// TestTemplateChangePostsMetasWebhooks: each change posts a signed
// webhook with the keys of Meta's own payload (testdata/webhooks).
func TestTemplateChangePostsMetasWebhooks(t *testing.T) {
	tests := []struct {
		name      string
		change    TemplateChange
		reference []string // testdata/webhooks files, in posting order
		check     func(t *testing.T, tp Template)
	}{
		{"paused", TemplateChange{Status: "PAUSED", Reason: "LOW_QUALITY"}, []string{"message_template_status_update_approved.json"},
			func(t *testing.T, tp Template) {
				if tp.Status != "PAUSED" {
					t.Errorf("status %s", tp.Status)
				}
			}},
		{"quality", TemplateChange{Quality: "YELLOW"}, []string{"message_template_quality_update.json"},
			func(t *testing.T, tp Template) {
				if tp.Quality != "YELLOW" {
					t.Errorf("quality %s", tp.Quality)
				}
			}},
		{"category", TemplateChange{Category: "MARKETING"}, []string{"template_category_update.json"},
			func(t *testing.T, tp Template) {
				if tp.Category != "MARKETING" {
					t.Errorf("category %s", tp.Category)
				}
			}},
		{"category and status", TemplateChange{Category: "MARKETING", Status: "APPROVED"}, []string{"template_category_update.json", "message_template_status_update_approved.json"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, srv, hook := newTemplateSim(t)
			var id string
			for _, tp := range sim.Templates(tplWABA) {
				if tp.Name == "order_confirmation" {
					id = tp.ID
				}
			}
			b, _ := json.Marshal(tt.change)
			status, out := graphCall(t, "POST", srv.URL+"/_sim/templates/"+id+"/status", "", string(b))
			if status != 200 {
				t.Fatalf("change: %d %v", status, out)
			}
			var tp Template
			rb, _ := json.Marshal(out)
			_ = json.Unmarshal(rb, &tp)
			if tt.check != nil {
				tt.check(t, tp)
			}
			hook.mu.Lock()
			defer hook.mu.Unlock()
			if hook.bad != 0 || len(hook.payloads) != len(tt.reference) {
				t.Fatalf("%d webhooks (%d badly signed), want %d", len(hook.payloads), hook.bad, len(tt.reference))
			}
			for i, ref := range tt.reference {
				want := changeKeys(t, mustRead(t, "testdata/webhooks/"+ref))
				got := changeKeys(t, hook.payloads[i])
				if !slices.Equal(got, want) {
					t.Errorf("webhook %d: %s", i, strings.Join(got, " "))
					t.Errorf("Meta's (%s): %s", ref, strings.Join(want, " "))
				}
				units, err := whatsapp.Split(hook.payloads[i])
				if err != nil || len(units) != 1 || units[0].WABAID != tplWABA {
					t.Errorf("webhook %d does not split as the connector reads it: %v %+v", i, err, units)
				}
			}
		})
	}
}

// changeKeys lists the field and value keys (and the value types) of a
// webhook's only change.
func changeKeys(t *testing.T, payload []byte) []string {
	t.Helper()
	var p struct {
		Object string
		Entry  []struct {
			ID      string
			Time    int64
			Changes []struct {
				Field string
				Value map[string]any
			}
		}
	}
	if err := json.Unmarshal(payload, &p); err != nil || len(p.Entry) != 1 || len(p.Entry[0].Changes) != 1 || p.Entry[0].Time == 0 {
		t.Fatalf("not a one-change webhook: %v %s", err, payload)
	}
	c := p.Entry[0].Changes[0]
	keys := []string{p.Object, c.Field}
	for k, v := range c.Value {
		if k == "rejection_info" { // only on rejections
			continue
		}
		keys = append(keys, fmt.Sprintf("%s:%T", k, v))
	}
	sort.Strings(keys[2:])
	return keys
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTemplateChangeRefusesUnknownValues(t *testing.T) {
	sim, _, _ := newTemplateSim(t)
	id := sim.Templates(tplWABA)[0].ID
	for _, c := range []TemplateChange{{}, {Status: "LIVE"}, {Quality: "BLUE"}, {Category: "PROMO"}} {
		if _, err := sim.ChangeTemplate(context.Background(), id, c); err == nil {
			t.Errorf("change %+v accepted", c)
		}
	}
	if _, err := sim.ChangeTemplate(context.Background(), "1", TemplateChange{Status: "PAUSED"}); err == nil {
		t.Errorf("change of an unknown template accepted")
	}
}
