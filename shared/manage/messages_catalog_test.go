package manage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"testing"

	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/manage"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// memCatalog holds catalog templates in memory by tenant and key.
type memCatalog map[string]catalog.Template

func (c memCatalog) Get(_ context.Context, tenantID string, k catalog.Key) (catalog.Template, error) {
	if t, ok := c[tenantID+"#"+k.String()]; ok {
		return t, nil
	}
	return catalog.Template{}, fmt.Errorf("get template %s: %w", k, catalog.ErrNotFound)
}

// memRegistry knows numbers only.
type memRegistry map[string]tenant.Number

func (r memRegistry) Tenant(context.Context, string) (tenant.Tenant, error) {
	return tenant.Tenant{}, tenant.ErrNotFound
}

func (r memRegistry) Number(_ context.Context, id string) (tenant.Number, error) {
	if n, ok := r[id]; ok {
		return n, nil
	}
	return tenant.Number{}, tenant.ErrNotFound
}

// TestSendMessageChecksTheCatalog: a template job that the sender would
// fail as template_invalid (the template paused at Meta, parameters that
// do not fit its components) is refused with 400 and the catalog's
// reasons, nothing queued; what the sender leaves to Meta is queued.
func TestSendMessageChecksTheCatalog(t *testing.T) {
	const waba, numberDemo, numberAcme = "200000000000001", "100000000000001", "100000000000009"
	cat := memCatalog{}
	templates := map[string]catalog.Template{}
	for _, s := range graphsim.SampleTemplates(waba) {
		comps, err := json.Marshal(s.Components)
		if err != nil {
			t.Fatal(err)
		}
		tpl := catalog.Template{TenantID: "demo", WABAID: waba, Name: s.Name, Language: s.Language, Status: s.Status,
			Category: s.Category, ParameterFormat: s.ParameterFormat, Components: comps, SyncedAt: "2026-12-05T07:00:00Z"}
		cat["demo#"+catalog.Key{WABAID: waba, Name: s.Name, Language: s.Language}.String()] = tpl
		templates[s.Name] = tpl
	}
	reg := memRegistry{
		numberDemo: {PhoneNumberID: numberDemo, TenantID: "demo", WABAID: waba},
		numberAcme: {PhoneNumberID: numberAcme, TenantID: "acme", WABAID: waba},
	}
	job := func(number, name, lang, components string) string {
		return `{"job_id":"tpl-1","tenant_id":"demo","phone_number_id":"` + number + `","to":"+5511999990001","type":"template",` +
			`"template":{"name":"` + name + `","language":{"code":"` + lang + `"}` + components + `}}`
	}
	order := `,"components":[{"type":"header","parameters":[{"type":"document","document":{"link":"https://example.com/o.pdf"}}]},` +
		`{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"1234"}]}]`
	orderOneParam := `,"components":[{"type":"header","parameters":[{"type":"document","document":{"link":"https://example.com/o.pdf"}}]},` +
		`{"type":"body","parameters":[{"type":"text","text":"Ana"}]}]`
	promo := `,"components":[{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"FALL"}]}]`
	tests := []struct {
		name, body string
		wantStatus int
		// wantProblems: the job's problems as catalog.Check gives them
		// for the template (the sender's template_invalid details).
		wantProblems string
	}{
		{"template paused at Meta", job(numberDemo, "2023_april_promo", "en_US", promo), http.StatusBadRequest, "2023_april_promo"},
		{"body parameters short of the template's", job(numberDemo, "order_confirmation", "en_US", orderOneParam), http.StatusBadRequest, "order_confirmation"},
		{"a job that fits", job(numberDemo, "order_confirmation", "en_US", order), http.StatusAccepted, ""},
		{"template the catalog does not hold yet", job(numberDemo, "new_template", "pt_BR", ""), http.StatusAccepted, ""},
		{"number of another tenant (the sender refuses it)", job(numberAcme, "2023_april_promo", "en_US", promo), http.StatusAccepted, ""},
	}
	scope := "tenant:demo"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &memQueue{}
			h := &manage.Handler{Queue: q, OutboundQueueURL: "https://sqs.example/q.fifo", Log: slog.New(slog.DiscardHandler),
				Tenants: reg, TemplateLookup: cat}
			resp := serve(t, h, request(messagesRoute, "demo", &scope, tt.body), false)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, resp.Body, tt.wantStatus)
			}
			if tt.wantStatus != http.StatusBadRequest {
				if len(q.msgs) != 1 {
					t.Errorf("%d jobs queued, want 1", len(q.msgs))
				}
				return
			}
			if len(q.msgs) != 0 {
				t.Errorf("%d jobs queued, want none", len(q.msgs))
			}
			e := apiError(t, resp)
			j, err := outbound.Decode([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			want := catalog.Check(templates[tt.wantProblems], j.Template)
			if e.Code != manage.CodeTemplateInvalid || len(want) == 0 || !reflect.DeepEqual(e.Details, want) {
				t.Errorf("error %+v, want template_invalid with %q", e, want)
			}
		})
	}
}
