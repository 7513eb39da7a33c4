package manage_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/shared/manage"
)

const (
	createTemplateRoute = "POST /v1/tenants/{tenant_id}/templates"
	deleteTemplateRoute = "DELETE /v1/tenants/{tenant_id}/templates/{name}"
)

// orderShipped is a utility template in Meta's create shape (from Meta's
// template documentation), in language lang.
func orderShipped(lang string) string {
	return `{"name":"order_shipped","language":"` + lang + `","category":"UTILITY","components":[
		{"type":"BODY","text":"Hi {{1}}, your order {{2}} is on its way.","example":{"body_text":[["Maria","#1042"]]}},
		{"type":"BUTTONS","buttons":[{"type":"URL","text":"Track it","url":"https://shop.example.com/track/{{1}}","example":["https://shop.example.com/track/1042"]}]}]}`
}

func templateName(name string) map[string]string { return map[string]string{"name": name} }

// TestCreateTemplateReachesMetaAndTheCatalog: the template is created at
// Meta in the tenant's only WABA and listed by GET at once as PENDING.
func TestCreateTemplateReachesMetaAndTheCatalog(t *testing.T) {
	m := newMetaAPI(t)
	status, body := m.call(t, createTemplateRoute, "demo", "tenant:demo", nil, nil, orderShipped("en_US"))
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	var got struct {
		Name, Language, Status, Category, ID string
		WABAID                               string `json:"waba_id"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	atMeta := m.sim.Templates("200000000000011")
	if len(atMeta) != 1 || atMeta[0].ID != got.ID || atMeta[0].Name != "order_shipped" {
		t.Fatalf("Meta holds %+v; the API answered %s", atMeta, body)
	}
	if got.Status != "PENDING" || got.WABAID != "200000000000011" || got.Category != "UTILITY" || got.Language != "en_US" {
		t.Errorf("answered %s", body)
	}
	// The same creation again (a retry): Meta has it, the catalog holds
	// it as requested, so it is answered as it stands.
	status, again := m.call(t, createTemplateRoute, "demo", "tenant:demo", nil, nil, orderShipped("en_US"))
	if status != http.StatusOK || string(again) != string(body) || m.sim.TemplateStats().Created != 1 {
		t.Errorf("repeat: %d %s (Meta created %d), want 200 %s", status, again, m.sim.TemplateStats().Created, body)
	}
	status, body = m.call(t, getTemplateRoute, "demo", "tenant:demo", templateName("order_shipped"), nil, "")
	if status != http.StatusOK || !strings.Contains(string(body), `"status":"PENDING"`) || !strings.Contains(string(body), got.ID) {
		t.Errorf("get after create: %d %s", status, body)
	}
}

func TestCreateTemplateRefusals(t *testing.T) {
	m := newMetaAPI(t)
	if status, body := m.call(t, createTemplateRoute, "demo", "tenant:demo", nil, nil, orderShipped("pt_BR")); status != http.StatusCreated {
		t.Fatalf("setup: %d %s", status, body)
	}
	tests := []struct {
		name     string
		tenant   string
		body     string
		want     int
		wantCode string
		details  int
	}{
		{"every broken rule listed", "demo", `{"name":"Bad Name","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"{{1}} and {{3}}"},{"type":"FOOTER","text":"` +
			strings.Repeat("f", 61) + `"}]}`, 400, manage.CodeInvalidTemplate, 3},
		{"no components", "demo", `{"name":"empty","language":"en_US","category":"UTILITY","components":[]}`, 400, manage.CodeInvalidTemplate, 1},
		{"unknown key", "demo", `{"name":"x","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"a"}],"status":"APPROVED"}`, 400, manage.CodeInvalidJSON, 1},
		{"another tenant's WABA", "demo", `{"waba_id":"200000000000021",` + orderShipped("en_US")[1:], 400, manage.CodeWABARequired, 0},
		{"Meta refuses another template of the same name and language", "demo",
			strings.Replace(orderShipped("pt_BR"), "is on its way", "has shipped", 1), 422, manage.CodeMetaRefused, 2},
		{"Meta refuses the token", "broken", orderShipped("en_US"), 502, manage.CodeMetaRefused, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := m.sim.TemplateStats()
			req := request(createTemplateRoute, tc.tenant, ptr("tenant:"+tc.tenant), tc.body)
			resp := serve(t, m.h, req, false)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, resp.Body)
			}
			e := apiError(t, resp)
			if e.Code != tc.wantCode || len(e.Details) != tc.details {
				t.Errorf("error %s, want %s with %d details", resp.Body, tc.wantCode, tc.details)
			}
			after := m.sim.TemplateStats()
			if calledMeta := after.Refused > before.Refused; tc.want == 400 && calledMeta {
				t.Errorf("a template the API refuses reached Meta")
			}
		})
	}
}

// TestDeleteTemplate: one language by language, then the rest by name;
// Meta and the catalog lose them; a repeat is 404.
func TestDeleteTemplate(t *testing.T) {
	m := newMetaAPI(t)
	for _, lang := range []string{"en_US", "pt_BR", "es_ES"} {
		if status, body := m.call(t, createTemplateRoute, "demo", "tenant:demo", nil, nil, orderShipped(lang)); status != http.StatusCreated {
			t.Fatalf("setup %s: %d %s", lang, status, body)
		}
	}
	languagesAtMeta := func() []string {
		var out []string
		for _, tp := range m.sim.Templates("200000000000011") {
			out = append(out, tp.Language)
		}
		slices.Sort(out)
		return out
	}
	steps := []struct {
		name      string
		tenant    string
		query     map[string]string
		want      int
		deleted   int
		leftAtMet []string
	}{
		{"another tenant's template", "acme", nil, 404, 0, []string{"en_US", "es_ES", "pt_BR"}},
		{"one language", "demo", map[string]string{"language": "pt_BR"}, 200, 1, []string{"en_US", "es_ES"}},
		{"unknown language", "demo", map[string]string{"language": "de_DE"}, 404, 0, []string{"en_US", "es_ES"}},
		{"every language", "demo", nil, 200, 2, nil},
		{"repeated", "demo", nil, 404, 0, nil},
	}
	for _, s := range steps {
		status, body := m.call(t, deleteTemplateRoute, s.tenant, "tenant:"+s.tenant, templateName("order_shipped"), s.query, "")
		if status != s.want {
			t.Fatalf("%s: %d %s", s.name, status, body)
		}
		if s.want == 200 {
			var got struct {
				Deleted []struct{ Language string } `json:"deleted"`
			}
			if err := json.Unmarshal(body, &got); err != nil || len(got.Deleted) != s.deleted {
				t.Errorf("%s: answered %s, want %d deleted", s.name, body, s.deleted)
			}
		}
		if left := languagesAtMeta(); !slices.Equal(left, s.leftAtMet) {
			t.Errorf("%s: Meta holds %v, want %v", s.name, left, s.leftAtMet)
		}
	}
	status, body := m.call(t, listTemplatesRoute, "demo", "tenant:demo", nil, nil, "")
	if status != 200 || strings.Contains(string(body), "order_shipped") {
		t.Errorf("the catalog still lists the deleted template: %d %s", status, body)
	}
}
