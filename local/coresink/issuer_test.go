package coresink

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func TestTokenEndpoint(t *testing.T) {
	is, err := NewIssuer("http://127.0.0.1:3002", "wacloud", func() []string { return []string{"demo", "acme"} })
	if err != nil {
		t.Fatal(err)
	}
	sink := New(Config{Issuer: is})
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name      string
		form      url.Values
		basic     []string // id, secret
		want      int
		wantErr   string
		wantScope string
	}{
		{"secret in the form", form("grant_type", "client_credentials", "client_id", ClientID, "client_secret", ClientSecret), nil, 200, "", "tenant:demo tenant:acme"},
		{"HTTP Basic", form("grant_type", "client_credentials"), []string{ClientID, ClientSecret}, 200, "", "tenant:demo tenant:acme"},
		{"a narrower scope", form("grant_type", "client_credentials", "scope", "tenant:acme"), []string{ClientID, ClientSecret}, 200, "", "tenant:acme"},
		{"a scope not granted", form("grant_type", "client_credentials", "scope", "tenant:other"), []string{ClientID, ClientSecret}, 400, "invalid_scope", ""},
		{"wrong secret", form("grant_type", "client_credentials"), []string{ClientID, "nope"}, 401, "invalid_client", ""},
		{"no client", form("grant_type", "client_credentials"), nil, 401, "invalid_client", ""},
		{"another grant", form("grant_type", "password"), []string{ClientID, ClientSecret}, 400, "unsupported_grant_type", ""},
		{"two client authentications", form("grant_type", "client_credentials", "client_secret", ClientSecret), []string{ClientID, ClientSecret}, 400, "invalid_request", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(tt.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.basic != nil {
				req.SetBasicAuth(tt.basic[0], tt.basic[1])
			}
			w := httptest.NewRecorder()
			sink.ServeHTTP(w, req)
			if w.Code != tt.want {
				t.Fatalf("status %d %s, want %d", w.Code, w.Body, tt.want)
			}
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" {
				if body["error"] != tt.wantErr {
					t.Errorf("error %v, want %s", body["error"], tt.wantErr)
				}
				return
			}
			if body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) || body["scope"] != tt.wantScope {
				t.Errorf("answer %v: want token_type Bearer, expires_in 3600, scope %q", body, tt.wantScope)
			}
			tok, err := jwt.ParseSigned(body["access_token"].(string), []jose.SignatureAlgorithm{jose.RS256})
			if err != nil {
				t.Fatal(err)
			}
			var c TokenClaims
			if err := tok.Claims(is.JWKS().Keys[0].Key, &c); err != nil {
				t.Fatalf("the token does not verify with the JWKS key: %v", err)
			}
			if err := c.Validate(jwt.Expected{Issuer: is.URL(), AnyAudience: jwt.Audience{"wacloud"}, Time: time.Now()}); err != nil {
				t.Error(err)
			}
			if c.Scope != tt.wantScope || c.ClientID != ClientID {
				t.Errorf("claims scope %q client_id %q", c.Scope, c.ClientID)
			}
			if tok.Headers[0].KeyID != is.JWKS().Keys[0].KeyID {
				t.Errorf("kid %q is not the JWKS key's", tok.Headers[0].KeyID)
			}
		})
	}
	w := httptest.NewRecorder()
	sink.ServeHTTP(w, httptest.NewRequest("GET", "/.well-known/jwks.json", nil))
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil || len(set.Keys) != 1 || !set.Keys[0].IsPublic() || set.Keys[0].Algorithm != "RS256" {
		t.Errorf("JWKS %s: want one public RS256 key (%v)", w.Body, err)
	}
	if w.Code != http.StatusOK {
		t.Errorf("JWKS status %d", w.Code)
	}
}

// TestGrantTenant: a tenant the core created (POST /_core/tenants) may be
// named in a token's scope from then on; before, it may not.
func TestGrantTenant(t *testing.T) {
	is, err := NewIssuer("http://127.0.0.1:3002", "wacloud", func() []string { return []string{"demo"} })
	if err != nil {
		t.Fatal(err)
	}
	sink := New(Config{Issuer: is})
	token := func(scope string) int {
		req := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(ClientID, ClientSecret)
		w := httptest.NewRecorder()
		sink.ServeHTTP(w, req)
		return w.Code
	}
	grant := func(body string) int {
		w := httptest.NewRecorder()
		sink.ServeHTTP(w, httptest.NewRequest("POST", "/_core/tenants", strings.NewReader(body)))
		return w.Code
	}
	steps := []struct {
		name string
		do   func() int
		want int
	}{
		{"new tenant before", func() int { return token("tenant:newco") }, http.StatusBadRequest},
		{"grant it", func() int { return grant(`{"tenant_id":"newco"}`) }, http.StatusOK},
		{"new tenant after", func() int { return token("tenant:demo tenant:newco") }, http.StatusOK},
		{"grant a non-id", func() int { return grant(`{"tenant_id":"no/slash"}`) }, http.StatusBadRequest},
		{"still not another", func() int { return token("tenant:other") }, http.StatusBadRequest},
	}
	for _, s := range steps {
		if got := s.do(); got != s.want {
			t.Errorf("%s: status %d, want %d", s.name, got, s.want)
		}
	}
}
