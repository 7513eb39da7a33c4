package manage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/manage"
)

const (
	listTemplatesRoute = "GET /v1/tenants/{tenant_id}/templates"
	getTemplateRoute   = "GET /v1/tenants/{tenant_id}/templates/{name}"
)

// templatesAPI is the API function over a catalog holding the simulator's
// sample templates for tenant demo (synced at two times: hello_world in
// pt_BR later) and one template of tenant acme.
func templatesAPI(t *testing.T) *manage.Handler {
	t.Helper()
	emu := awsemu.StartTest(t)
	st := stack.Fresh(t, emu.Config(), stack.Options{StackName: fmt.Sprintf("t-%s-r%d", stack.TestName(t), envRuns.Add(1))})
	fn := st.Functions["ApiFunction"]
	h, err := manage.Setup(context.Background(), fn.Getenv, emu.Config())
	if err != nil {
		t.Fatal(err)
	}
	h.Log = slog.New(slog.DiscardHandler)
	h.Metrics.Out = io.Discard
	store := &catalog.Store{API: dynamodb.NewFromConfig(emu.Config()), Table: fn.Env["TEMPLATES_TABLE"]}
	put := func(tenantID string, s graphsim.Template, syncedAt string) {
		comps, _ := json.Marshal(s.Components)
		if err := store.Put(context.Background(), catalog.Template{TenantID: tenantID, WABAID: "200000000000001", ID: "1", Name: s.Name,
			Language: s.Language, Status: s.Status, Category: s.Category, ParameterFormat: s.ParameterFormat,
			Components: comps, SyncedAt: syncedAt}); err != nil {
			t.Fatal(err)
		}
	}
	samples := graphsim.SampleTemplates("200000000000001")
	for _, s := range samples {
		put("demo", s, "2026-03-01T12:00:00Z")
	}
	pt := samples[0]
	pt.Language = "pt_BR"
	put("demo", pt, "2026-03-01T13:00:00Z")
	put("acme", samples[1], "2026-03-01T12:00:00Z")
	return h
}

type listed struct {
	Data []struct {
		Name       string          `json:"name"`
		Language   string          `json:"language"`
		Status     string          `json:"status"`
		Category   string          `json:"category"`
		Components json.RawMessage `json:"components"`
		SyncedAt   string          `json:"synced_at"`
	} `json:"data"`
	SyncedAt *string `json:"synced_at"`
}

func (l listed) names() []string {
	var out []string
	for _, d := range l.Data {
		out = append(out, d.Name+"/"+d.Language)
	}
	sort.Strings(out)
	return out
}

func TestTemplateRoutesAnswerFromTheCatalog(t *testing.T) {
	h := templatesAPI(t)
	scope := "tenant:demo"
	tests := []struct {
		name       string
		route      string
		tenant     string
		path, q    map[string]string
		want       []string
		wantSynced string
	}{
		{"every template, oldest sync", listTemplatesRoute, "demo", nil, nil,
			[]string{"2023_april_promo/en_US", "authentication_code_copy_code_button/en_US", "book_visit/pt_BR", "coffee_catalog/pt_BR",
				"coffee_product_cards/pt_BR", "coffee_selection/pt_BR", "coupon_welcome/pt_BR", "flash_sale_lto/pt_BR", "hello_world/en_US", "hello_world/pt_BR",
				"limited_time_offer_tuscan_getaway_2023/en_US", "order_confirmation/en_US", "order_delivery_update/en_US",
				"reservation_confirmation/en_US", "seasonal_promotion_text_only/en", "summer_carousel/pt_BR"}, "2026-03-01T12:00:00Z"},
		{"paused", listTemplatesRoute, "demo", nil, map[string]string{"status": "PAUSED"}, []string{"2023_april_promo/en_US"}, "2026-03-01T12:00:00Z"},
		{"language", listTemplatesRoute, "demo", nil, map[string]string{"language": "pt_BR", "name": "hello_world"}, []string{"hello_world/pt_BR"}, "2026-03-01T13:00:00Z"},
		{"language, several", listTemplatesRoute, "demo", nil, map[string]string{"language": "pt_BR", "category": "UTILITY"}, []string{"book_visit/pt_BR", "hello_world/pt_BR"}, "2026-03-01T12:00:00Z"},
		{"category and status", listTemplatesRoute, "demo", nil, map[string]string{"category": "AUTHENTICATION", "status": "APPROVED"},
			[]string{"authentication_code_copy_code_button/en_US"}, "2026-03-01T12:00:00Z"},
		{"name", listTemplatesRoute, "demo", nil, map[string]string{"name": "order_confirmation"}, []string{"order_confirmation/en_US"}, "2026-03-01T12:00:00Z"},
		{"nothing matches", listTemplatesRoute, "demo", nil, map[string]string{"name": "nope"}, nil, ""},
		{"every language of a name", getTemplateRoute, "demo", map[string]string{"name": "hello_world"}, nil,
			[]string{"hello_world/en_US", "hello_world/pt_BR"}, "2026-03-01T12:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request(tt.route, tt.tenant, &scope, "")
			for k, v := range tt.path {
				req.PathParameters[k] = v
			}
			req.QueryStringParameters = tt.q
			resp := serve(t, h, req, false)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %s", resp.StatusCode, resp.Body)
			}
			var got listed
			if err := json.Unmarshal([]byte(resp.Body), &got); err != nil || got.Data == nil {
				t.Fatalf("body %s: %v (data must be a list)", resp.Body, err)
			}
			if !slices.Equal(got.names(), tt.want) {
				t.Errorf("templates %v, want %v", got.names(), tt.want)
			}
			if synced := ""; got.SyncedAt != nil {
				synced = *got.SyncedAt
				if synced != tt.wantSynced {
					t.Errorf("synced_at %s, want %s", synced, tt.wantSynced)
				}
			} else if tt.wantSynced != "" {
				t.Errorf("synced_at null, want %s", tt.wantSynced)
			}
			for _, d := range got.Data {
				var comps []map[string]any
				if json.Unmarshal(d.Components, &comps) != nil || len(comps) == 0 || d.SyncedAt == "" || d.Status == "" || d.Category == "" {
					t.Errorf("%s/%s lacks components, status, category or synced_at: %+v", d.Name, d.Language, d)
				}
			}
		})
	}
}

func TestTemplateRoutesRefuseBadRequests(t *testing.T) {
	h := templatesAPI(t)
	demo, acme := "tenant:demo", "tenant:acme"
	tests := []struct {
		name     string
		route    string
		scope    string
		path, q  map[string]string
		want     int
		wantCode string
		details  int
	}{
		{"unknown status", listTemplatesRoute, demo, nil, map[string]string{"status": "LIVE"}, 400, manage.CodeInvalidFilter, 1},
		{"unknown category and parameter", listTemplatesRoute, demo, nil, map[string]string{"category": "PROMO", "limit": "5"}, 400, manage.CodeInvalidFilter, 2},
		{"unknown template", getTemplateRoute, demo, map[string]string{"name": "never_synced"}, nil, 404, manage.CodeTemplateNotFound, 0},
		{"another tenant's template", getTemplateRoute, acme, map[string]string{"name": "hello_world"}, nil, 404, manage.CodeTemplateNotFound, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenantID := "demo"
			if tt.scope == acme {
				tenantID = "acme"
			}
			req := request(tt.route, tenantID, &tt.scope, "")
			for k, v := range tt.path {
				req.PathParameters[k] = v
			}
			req.QueryStringParameters = tt.q
			resp := serve(t, h, req, false)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.want, resp.Body)
			}
			if e := apiError(t, resp); e.Code != tt.wantCode || len(e.Details) != tt.details {
				t.Errorf("error %+v, want code %s with %d details", e, tt.wantCode, tt.details)
			}
		})
	}
}

type downCatalog struct{}

func (downCatalog) List(context.Context, string) ([]catalog.Template, error) {
	return nil, errors.New("ProvisionedThroughputExceededException")
}
func (downCatalog) Put(context.Context, catalog.Template) error { return errors.New("down") }
func (downCatalog) Delete(context.Context, string, catalog.Key) error {
	return errors.New("down")
}

func TestTemplateRoutesCatalogDown(t *testing.T) {
	h := &manage.Handler{Templates: downCatalog{}, Log: slog.New(slog.DiscardHandler)}
	scope := "tenant:demo"
	resp := serve(t, h, request(listTemplatesRoute, "demo", &scope, ""), false)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	if e := apiError(t, resp); e.Code != manage.CodeUnavailable {
		t.Errorf("code %s", e.Code)
	}
	if resp.Body == "" || json.Valid([]byte(resp.Body)) == false {
		t.Errorf("body %q", resp.Body)
	}
}
