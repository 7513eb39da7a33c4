package manage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/manage"
	"github.com/tucanlink/wacloud/shared/suppression"
	"github.com/tucanlink/wacloud/shared/tenant"
)

const (
	listSuppressionsRoute  = "GET /v1/tenants/{tenant_id}/suppressions"
	addSuppressionRoute    = "POST /v1/tenants/{tenant_id}/suppressions"
	getSuppressionRoute    = "GET /v1/tenants/{tenant_id}/suppressions/{contact}"
	removeSuppressionRoute = "DELETE /v1/tenants/{tenant_id}/suppressions/{contact}"
	getOptOutRoute         = "GET /v1/tenants/{tenant_id}/opt-out"
	putOptOutRoute         = "PUT /v1/tenants/{tenant_id}/opt-out"
)

// suppressionEnv is the API function as its main builds it, over the
// template's suppressions and tenants tables in the emulator, with demo
// and acme registered.
type suppressionEnv struct {
	h        *manage.Handler
	registry *tenant.Registry // a reader of its own, caching nothing
}

func newSuppressionEnv(t *testing.T) *suppressionEnv {
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
	h.Now = func() time.Time { return time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC) }
	reg := &tenant.Registry{API: dynamodb.NewFromConfig(emu.Config()), Table: fn.Env["TENANTS_TABLE"], TTL: time.Nanosecond}
	for i, id := range []string{"demo", "acme"} {
		n := tenant.Number{PhoneNumberID: fmt.Sprintf("10000000000000%d", i+1), WABAID: fmt.Sprintf("20000000000000%d", i+1)}
		if err := reg.Put(context.Background(), tenant.Tenant{ID: id, SecretID: "wacloud/tenants/" + id}, []tenant.Number{n}); err != nil {
			t.Fatal(err)
		}
	}
	return &suppressionEnv{h: h, registry: reg}
}

// do serves one request for tenantID with a token naming only it.
func (e *suppressionEnv) do(t *testing.T, route, tenantID string, path, query map[string]string, body string) apiAnswer {
	t.Helper()
	scope := "tenant:" + tenantID
	req := request(route, tenantID, &scope, body)
	for k, v := range path {
		req.PathParameters[k] = v
	}
	req.QueryStringParameters = query
	resp := serve(t, e.h, req, false)
	return apiAnswer{Status: resp.StatusCode, Body: resp.Body}
}

func contactPath(c string) map[string]string { return map[string]string{"contact": c} }

// TestSuppressionRoutes walks one contact through the list: added (one
// entry for every form of the number, the first kept), read, unseen and
// untouchable by another tenant, removed, and the removal repeated.
func TestSuppressionRoutes(t *testing.T) {
	e := newSuppressionEnv(t)
	steps := []struct {
		name, route, tenant string
		path                map[string]string
		body                string
		wantStatus          int
		want                string // substrings of the answer
	}{
		{"add, written as people write it", addSuppressionRoute, "demo", nil, `{"contact":"+55 11 99999-8888","note":"asked by phone"}`,
			http.StatusCreated, `"contact":"551199998888","reason":"api","at":"2026-12-05T14:00:00Z","note":"asked by phone"`},
		{"add again as Meta's wa_id: the first entry stays", addSuppressionRoute, "demo", nil, `{"contact":"551199998888","note":"again"}`,
			http.StatusOK, `"note":"asked by phone"`},
		{"read with the ninth digit", getSuppressionRoute, "demo", contactPath("5511999998888"), "", http.StatusOK, `"contact":"551199998888"`},
		{"read with + escaped", getSuppressionRoute, "demo", contactPath("%2B5511999998888"), "", http.StatusOK, `"contact":"551199998888"`},
		{"another tenant does not see it", getSuppressionRoute, "acme", contactPath("551199998888"), "", http.StatusNotFound, manage.CodeSuppressionNotFound},
		{"another tenant's list is empty", listSuppressionsRoute, "acme", nil, "", http.StatusOK, `{"data":[],"paging":{"after":null}}`},
		{"another tenant cannot remove it", removeSuppressionRoute, "acme", contactPath("551199998888"), "", http.StatusOK, `"removed":false`},
		{"still listed for its tenant", listSuppressionsRoute, "demo", nil, "", http.StatusOK, `"contact":"551199998888"`},
		{"remove", removeSuppressionRoute, "demo", contactPath("+55 11 99999-8888"), "", http.StatusOK, `{"contact":"551199998888","removed":true}`},
		{"gone", getSuppressionRoute, "demo", contactPath("551199998888"), "", http.StatusNotFound, manage.CodeSuppressionNotFound},
		{"remove again", removeSuppressionRoute, "demo", contactPath("551199998888"), "", http.StatusOK, `{"contact":"551199998888","removed":false}`},
		{"a business-scoped user id", addSuppressionRoute, "demo", nil, `{"contact":"US.13491208655302741918"}`, http.StatusCreated, `"contact":"US.13491208655302741918","reason":"api"`},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := e.do(t, s.route, s.tenant, s.path, nil, s.body)
			if r.Status != s.wantStatus || !strings.Contains(r.Body, s.want) {
				t.Errorf("%s for %s: %d %s, want %d with %s", s.route, s.tenant, r.Status, r.Body, s.wantStatus, s.want)
			}
		})
	}
	// What the sender and the campaign runner ask.
	store := e.h.Suppressions.(*suppression.Store)
	for _, c := range []struct {
		tenant, contact string
		want            bool
	}{{"demo", "551199998888", false}, {"demo", "US.13491208655302741918", true}, {"acme", "US.13491208655302741918", false}} {
		if got, err := store.Suppressed(context.Background(), c.tenant, c.contact); err != nil || got != c.want {
			t.Errorf("Suppressed(%s, %s) = %v, %v; want %v", c.tenant, c.contact, got, err, c.want)
		}
	}
}

// TestSuppressionRoutesRefuseBadRequests: each bad request is a 400 with a
// code and one detail per broken rule, and changes nothing.
func TestSuppressionRoutesRefuseBadRequests(t *testing.T) {
	e := newSuppressionEnv(t)
	tests := []struct {
		name, route string
		path, query map[string]string
		body        string
		wantCode    string
		wantDetails []string
	}{
		{"contact not a number", addSuppressionRoute, nil, nil, `{"contact":"call me"}`, manage.CodeInvalidSuppression, []string{"contact must be a phone number"}},
		{"contact too short", addSuppressionRoute, nil, nil, `{"contact":"+12345"}`, manage.CodeInvalidSuppression, []string{"contact must be a phone number"}},
		{"no contact", addSuppressionRoute, nil, nil, `{"note":"x"}`, manage.CodeInvalidSuppression, []string{"contact must be a phone number"}},
		{"note too long, contact bad too", addSuppressionRoute, nil, nil, `{"contact":"x","note":"` + strings.Repeat("n", 257) + `"}`,
			manage.CodeInvalidSuppression, []string{"contact must", "note is 257 characters, over 256"}},
		{"unknown key", addSuppressionRoute, nil, nil, `{"contact":"16315551181","reason":"keyword"}`, manage.CodeInvalidJSON, []string{"reason"}},
		{"not JSON", addSuppressionRoute, nil, nil, `{"contact":`, manage.CodeInvalidJSON, nil},
		{"path contact not a number", getSuppressionRoute, contactPath("nobody"), nil, "", manage.CodeInvalidContact, []string{"the path's contact must be"}},
		{"path contact not a number, remove", removeSuppressionRoute, contactPath("12"), nil, "", manage.CodeInvalidContact, []string{"the path's contact must be"}},
		{"limit 0", listSuppressionsRoute, nil, map[string]string{"limit": "0"}, "", manage.CodeInvalidFilter, []string{"limit must be a number from 1 to 1000"}},
		{"limit over the most", listSuppressionsRoute, nil, map[string]string{"limit": "1001"}, "", manage.CodeInvalidFilter, []string{"limit must be"}},
		{"limit not a number", listSuppressionsRoute, nil, map[string]string{"limit": "ten"}, "", manage.CodeInvalidFilter, []string{"limit must be"}},
		{"unknown parameter", listSuppressionsRoute, nil, map[string]string{"page": "2"}, "", manage.CodeInvalidFilter, []string{`unknown query parameter "page"`}},
		{"made-up cursor", listSuppressionsRoute, nil, map[string]string{"after": "%%%"}, "", manage.CodeInvalidFilter, []string{"paging.after"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scope := "tenant:demo"
			req := request(tt.route, "demo", &scope, tt.body)
			for k, v := range tt.path {
				req.PathParameters[k] = v
			}
			req.QueryStringParameters = tt.query
			resp := serve(t, e.h, req, false)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d %s, want 400", resp.StatusCode, resp.Body)
			}
			got := apiError(t, resp)
			if got.Code != tt.wantCode {
				t.Errorf("code %q, want %q (%s)", got.Code, tt.wantCode, resp.Body)
			}
			if tt.wantDetails != nil && len(got.Details) != len(tt.wantDetails) {
				t.Fatalf("details %q, want %d", got.Details, len(tt.wantDetails))
			}
			for i, w := range tt.wantDetails {
				if !strings.Contains(got.Details[i], w) {
					t.Errorf("detail %d %q, want it to say %q", i, got.Details[i], w)
				}
			}
		})
	}
	if r := e.do(t, listSuppressionsRoute, "demo", nil, nil, ""); r.Body != `{"data":[],"paging":{"after":null}}` {
		t.Errorf("demo's list after refused requests: %s, want empty", r.Body)
	}
}

// TestSuppressionListPages: a tenant's list comes in pages of limit, in
// contact order, every entry once, none of another tenant's; a cursor
// handed to another tenant reads on in that tenant's own list.
func TestSuppressionListPages(t *testing.T) {
	e := newSuppressionEnv(t)
	var demo, acme []string
	for i := range 7 {
		c := fmt.Sprintf("1631555%04d", i)
		demo = append(demo, c)
		if r := e.do(t, addSuppressionRoute, "demo", nil, nil, `{"contact":"+`+c+`"}`); r.Status != http.StatusCreated {
			t.Fatalf("add: %d %s", r.Status, r.Body)
		}
	}
	for _, c := range []string{"16315550001", "16315550005"} {
		acme = append(acme, c)
		e.do(t, addSuppressionRoute, "acme", nil, nil, `{"contact":"`+c+`"}`)
	}
	type page struct {
		Data   []suppression.Entry
		Paging struct{ After *string }
	}
	read := func(t *testing.T, tenantID string, query map[string]string) page {
		t.Helper()
		r := e.do(t, listSuppressionsRoute, tenantID, nil, query, "")
		var p page
		if err := json.Unmarshal([]byte(r.Body), &p); r.Status != http.StatusOK || err != nil {
			t.Fatalf("list %s %v: %d %s", tenantID, query, r.Status, r.Body)
		}
		return p
	}
	tests := []struct {
		name, tenant string
		limit        string
		want         []string
		wantPages    int
	}{
		{"pages of 3", "demo", "3", demo, 3},
		{"one page of the default size", "demo", "", demo, 1},
		{"pages of 1, the other tenant", "acme", "1", acme, 2},
		{"pages of the most", "acme", "1000", acme, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			q, pages := map[string]string{}, 0
			if tt.limit != "" {
				q["limit"] = tt.limit
			}
			for pages < 20 {
				p := read(t, tt.tenant, q)
				pages++
				for _, en := range p.Data {
					got = append(got, en.Contact)
				}
				if p.Paging.After == nil {
					break
				}
				q["after"] = *p.Paging.After
			}
			if !slices.Equal(got, tt.want) || pages != tt.wantPages {
				t.Errorf("listed %v in %d pages, want %v in %d", got, pages, tt.want, tt.wantPages)
			}
		})
	}
	t.Run("demo's cursor given to acme", func(t *testing.T) {
		first := read(t, "demo", map[string]string{"limit": "1"})
		p := read(t, "acme", map[string]string{"after": *first.Paging.After})
		var got []string
		for _, en := range p.Data {
			got = append(got, en.Contact)
		}
		// demo's first contact is 16315550000: acme's list after it.
		if !slices.Equal(got, acme) {
			t.Errorf("acme with demo's cursor listed %v, want acme's own %v", got, acme)
		}
	})
}

// TestOptOutRoutes: the settings read as the defaults, change, read back
// (strongly consistent, whichever instance wrote them), stay the
// tenant's own, and go back to the defaults; a tenant not registered is
// 404.
func TestOptOutRoutes(t *testing.T) {
	e := newSuppressionEnv(t)
	defaults := `"default_keywords":["STOP","STOP ALL","STOPALL","UNSUBSCRIBE","OPT OUT","OPTOUT","BAJA","DAR DE BAJA","DARME DE BAJA","SAIR","PARAR","DESCADASTRAR"]`
	steps := []struct {
		name, route, tenant, body string
		wantStatus                int
		want                      string
		wantStored                *tenant.OptOut
	}{
		{"the defaults", getOptOutRoute, "demo", "", http.StatusOK, `{"enabled":true,"keywords":null,"reply":null,` + defaults + `}`, nil},
		{"set keywords and reply", putOptOutRoute, "demo", `{"enabled":true,"keywords":["PARE","Não quero mais"],"reply":"Pronto, você saiu da lista."}`,
			http.StatusOK, `{"enabled":true,"keywords":["PARE","Não quero mais"],"reply":"Pronto, você saiu da lista.",` + defaults + `}`,
			&tenant.OptOut{Keywords: []string{"PARE", "Não quero mais"}, Reply: "Pronto, você saiu da lista."}},
		{"read back", getOptOutRoute, "demo", "", http.StatusOK, `{"enabled":true,"keywords":["PARE","Não quero mais"],"reply":"Pronto, você saiu da lista."`,
			&tenant.OptOut{Keywords: []string{"PARE", "Não quero mais"}, Reply: "Pronto, você saiu da lista."}},
		{"the other tenant keeps the defaults", getOptOutRoute, "acme", "", http.StatusOK, `{"enabled":true,"keywords":null,"reply":null,`,
			&tenant.OptOut{Keywords: []string{"PARE", "Não quero mais"}, Reply: "Pronto, você saiu da lista."}},
		{"disable, keeping the keywords", putOptOutRoute, "demo", `{"enabled":false,"keywords":["PARE"]}`, http.StatusOK, `{"enabled":false,"keywords":["PARE"],"reply":null,`,
			&tenant.OptOut{Disabled: true, Keywords: []string{"PARE"}}},
		{"the defaults again", putOptOutRoute, "demo", `{"enabled":true,"keywords":null,"reply":null}`, http.StatusOK, `{"enabled":true,"keywords":null,"reply":null,`, nil},
		{"a tenant not registered", getOptOutRoute, "newco", "", http.StatusNotFound, manage.CodeTenantNotFound, nil},
		{"a tenant not registered cannot be given settings", putOptOutRoute, "newco", `{"enabled":false}`, http.StatusNotFound, manage.CodeTenantNotFound, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := e.do(t, s.route, s.tenant, nil, nil, s.body)
			if r.Status != s.wantStatus || !strings.Contains(r.Body, s.want) {
				t.Fatalf("%s for %s: %d %s, want %d with %s", s.route, s.tenant, r.Status, r.Body, s.wantStatus, s.want)
			}
			// What the inbound function reads with the tenant.
			got, err := e.registry.Tenant(context.Background(), "demo")
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%+v", got.OptOut) != fmt.Sprintf("%+v", s.wantStored) {
				t.Errorf("demo's stored settings %+v, want %+v", got.OptOut, s.wantStored)
			}
		})
	}
	if _, err := e.registry.Tenant(context.Background(), "newco"); err == nil {
		t.Error("PUT …/opt-out registered a tenant")
	}
}

// TestOptOutRoutesRefuseBadSettings: every broken rule is listed, and
// nothing is stored.
func TestOptOutRoutesRefuseBadSettings(t *testing.T) {
	e := newSuppressionEnv(t)
	many := make([]string, 51)
	for i := range many {
		many[i] = fmt.Sprintf("%q", fmt.Sprintf("w%d", i))
	}
	tests := []struct {
		name, body  string
		wantCode    string
		wantDetails []string
	}{
		{"no enabled", `{"keywords":["PARE"]}`, manage.CodeInvalidOptOut, []string{"enabled is required"}},
		{"enabled null", `{"enabled":null}`, manage.CodeInvalidJSON, nil},
		{"enabled not a boolean", `{"enabled":"yes"}`, manage.CodeInvalidJSON, nil},
		{"empty keyword list", `{"enabled":true,"keywords":[]}`, manage.CodeInvalidOptOut, []string{"1 to 50 keywords, or be null"}},
		{"51 keywords", `{"enabled":true,"keywords":[` + strings.Join(many, ",") + `]}`, manage.CodeInvalidOptOut, []string{"1 to 50"}},
		{"a keyword of punctuation, one too long, a repeat", `{"enabled":true,"keywords":["STOP","!!!","` + strings.Repeat("x", 65) + `","stop."]}`,
			manage.CodeInvalidOptOut, []string{`keywords[1] "!!!" has no letter or digit`, "keywords[2] is 65 characters, over 64", `keywords[3] "stop." is keywords[0] again`}},
		{"empty reply", `{"enabled":true,"reply":""}`, manage.CodeInvalidOptOut, []string{"reply is empty"}},
		{"blank reply", `{"enabled":true,"reply":"   "}`, manage.CodeInvalidOptOut, []string{"reply is only spaces"}},
		{"reply too long", `{"enabled":true,"reply":"` + strings.Repeat("é", 1025) + `"}`, manage.CodeInvalidOptOut, []string{"reply is 1025 characters, over 1024"}},
		{"everything wrong", `{"keywords":["?"],"reply":" "}`, manage.CodeInvalidOptOut, []string{"enabled is required", "keywords[0]", "reply is only spaces"}},
		{"unknown key", `{"enabled":true,"language":"pt"}`, manage.CodeInvalidJSON, []string{"language"}},
		{"keywords not strings", `{"enabled":true,"keywords":[1]}`, manage.CodeInvalidJSON, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scope := "tenant:demo"
			resp := serve(t, e.h, request(putOptOutRoute, "demo", &scope, tt.body), false)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d %s, want 400", resp.StatusCode, resp.Body)
			}
			got := apiError(t, resp)
			if got.Code != tt.wantCode {
				t.Errorf("code %q, want %q (%s)", got.Code, tt.wantCode, resp.Body)
			}
			if tt.wantDetails != nil && len(got.Details) != len(tt.wantDetails) {
				t.Fatalf("details %q, want %d", got.Details, len(tt.wantDetails))
			}
			for i, w := range tt.wantDetails {
				if !strings.Contains(got.Details[i], w) {
					t.Errorf("detail %d %q, want it to say %q", i, got.Details[i], w)
				}
			}
		})
	}
	if got, err := e.registry.Tenant(context.Background(), "demo"); err != nil || got.OptOut != nil {
		t.Errorf("demo's settings after refused requests: %+v, %v; want none stored", got.OptOut, err)
	}
}
