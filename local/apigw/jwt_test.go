package apigw_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/tucanlink/wacloud/local/apigw"
	"github.com/tucanlink/wacloud/local/coresink"
)

// issuerServer runs the core sink's issuer on a local port; its URL is
// the issuer.
func issuerServer(t *testing.T) (*coresink.Issuer, string) {
	t.Helper()
	var is *coresink.Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		coresink.New(coresink.Config{Issuer: is}).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	var err error
	if is, err = coresink.NewIssuer(srv.URL, "wacloud", func() []string { return []string{"demo", "acme"} }); err != nil {
		t.Fatal(err)
	}
	return is, srv.URL
}

func TestJWTAuthorizer(t *testing.T) {
	is, url := issuerServer(t)
	now := time.Now()
	claims := func(mod func(*jwt.Claims)) jwt.Claims {
		c := jwt.Claims{Issuer: url, Subject: "local-core-client", Audience: jwt.Audience{"wacloud"},
			IssuedAt: jwt.NewNumericDate(now.Add(-time.Minute)), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)), Expiry: jwt.NewNumericDate(now.Add(time.Hour))}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	token := func(mod func(*jwt.Claims)) string {
		tok, err := is.Token("tenant:demo", claims(mod))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// A token signed by a key the issuer's JWKS does not hold, under
	// the issuer's own kid.
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	kid := is.JWKS().Keys[0].KeyID
	forged := sign(t, jose.RS256, jose.JSONWebKey{Key: otherKey, KeyID: kid}, claims(nil))
	hs := sign(t, jose.HS256, jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: kid}, claims(nil))
	unknownKid := sign(t, jose.RS256, jose.JSONWebKey{Key: otherKey, KeyID: "other"}, claims(nil))
	good := token(nil)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "=") + "x." + parts[2]

	tests := []struct {
		name, header string
		wantErr      string
	}{
		{"valid, with Bearer", "Bearer " + good, ""},
		{"valid, bare token", good, ""},
		{"no token", "", "no token"},
		{"not a JWT", "Bearer abc", "not a signed JWT"},
		{"expired", "Bearer " + token(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(-time.Second)) }), "expired"},
		{"no expiry", "Bearer " + token(func(c *jwt.Claims) { c.Expiry = nil }), "expired"},
		{"not valid yet", "Bearer " + token(func(c *jwt.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour)) }), "not valid yet"},
		{"issued in the future", "Bearer " + token(func(c *jwt.Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour)) }), "issued in the future"},
		{"another issuer", "Bearer " + token(func(c *jwt.Claims) { c.Issuer = "https://evil.example" }), "issuer"},
		{"another audience", "Bearer " + token(func(c *jwt.Claims) { c.Audience = jwt.Audience{"other"} }), "audience"},
		{"no aud: client_id is not the audience", "Bearer " + token(func(c *jwt.Claims) { c.Audience = nil }), "audience"},
		{"signed by another key", "Bearer " + forged, "signature"},
		{"HMAC", "Bearer " + hs, "RSA"},
		{"unknown kid", "Bearer " + unknownKid, "kid"},
		{"payload changed", "Bearer " + tampered, ""},
	}
	a := &apigw.JWTAuthorizer{Issuer: url, Audience: []string{"wacloud"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.Authorize(context.Background(), tt.header)
			if tt.name == "payload changed" {
				if err == nil {
					t.Fatalf("a token whose payload changed was accepted: %v", got)
				}
				return
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got["scope"] != "tenant:demo" || got["iss"] != url || got["aud"] != "wacloud" || got["client_id"] != coresink.ClientID {
					t.Errorf("claims %v: want the token's scope, iss, aud and client_id as strings", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one saying %q", err, tt.wantErr)
			}
		})
	}

	// Without aud, client_id is compared with the audience (Cognito
	// access tokens).
	b := &apigw.JWTAuthorizer{Issuer: url, Audience: []string{coresink.ClientID}}
	if _, err := b.Authorize(context.Background(), token(func(c *jwt.Claims) { c.Audience = nil })); err != nil {
		t.Errorf("client_id as audience: %v", err)
	}
}

func sign(t *testing.T, alg jose.SignatureAlgorithm, key jose.JSONWebKey, c jwt.Claims) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestServerEnforcesTheAuthorizer: a route with an authorizer answers
// 401 as API Gateway does and never invokes the function without a valid
// token; with one, the function gets the claims in
// requestContext.authorizer.jwt.claims. A route without one stays open.
func TestServerEnforcesTheAuthorizer(t *testing.T) {
	is, url := issuerServer(t)
	var got *events.APIGatewayV2HTTPRequest
	fn := func(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		got = &req
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	}
	auth := &apigw.JWTAuthorizer{Issuer: url, Audience: []string{"wacloud"}}
	srv := httptest.NewServer(apigw.New([]apigw.Route{
		{Method: "POST", Path: "/v1/tenants/{tenant_id}/messages", Function: "ApiFunction", Handler: fn, Auth: auth},
		{Method: "POST", Path: "/webhook", Function: "WebhookFunction", Handler: fn},
	}, nil))
	defer srv.Close()
	tok, err := is.Token("tenant:demo", jwt.Claims{Issuer: url, Audience: jwt.Audience{"wacloud"}, Expiry: jwt.NewNumericDate(time.Now().Add(time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	post := func(path, authz string) (int, http.Header, string) {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader("{}"))
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}

	for _, authz := range []string{"", "Bearer nope"} {
		got = nil
		status, hdr, body := post("/v1/tenants/demo/messages", authz)
		if status != 401 || body != `{"message":"Unauthorized"}` || !strings.Contains(hdr.Get("www-authenticate"), `error="invalid_token"`) {
			t.Errorf("Authorization %q: %d %s %v, want API Gateway's 401", authz, status, body, hdr)
		}
		if got != nil {
			t.Errorf("Authorization %q: the function was invoked", authz)
		}
	}
	got = nil
	if status, _, body := post("/v1/tenants/demo/messages", "Bearer "+tok); status != 200 || got == nil {
		t.Fatalf("valid token: %d %s", status, body)
	}
	if c := got.RequestContext.Authorizer.JWT.Claims; c["scope"] != "tenant:demo" {
		t.Errorf("claims %v, want the token's scope", c)
	}
	got = nil
	if status, _, _ := post("/webhook", ""); status != 200 || got == nil || got.RequestContext.Authorizer != nil {
		t.Errorf("the webhook route: %d, want it open and without authorizer claims", status)
	}
}

// TestIssuerDiscovery: the issuer serves what API Gateway reads.
func TestIssuerDiscovery(t *testing.T) {
	_, url := issuerServer(t)
	resp, err := http.Get(url + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var meta map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil {
		t.Fatal(err)
	}
	if meta["issuer"] != url || meta["jwks_uri"] != url+"/.well-known/jwks.json" || meta["token_endpoint"] != url+"/oauth/token" {
		t.Errorf("openid-configuration %v", meta)
	}
}

func TestFlattenedClaims(t *testing.T) {
	is, url := issuerServer(t)
	tok, err := is.Token("tenant:demo", jwt.Claims{Issuer: url, Audience: jwt.Audience{"wacloud", "other"},
		Expiry: jwt.NewNumericDate(time.Unix(4102444800, 0))})
	if err != nil {
		t.Fatal(err)
	}
	a := &apigw.JWTAuthorizer{Issuer: url, Audience: []string{"other"}}
	got, err := a.Authorize(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	// API Gateway passes every claim as a string: arrays in brackets,
	// numbers printed in full.
	if got["aud"] != "[wacloud other]" || got["exp"] != "4102444800" {
		t.Errorf("aud %q, exp %q; want \"[wacloud other]\", \"4102444800\"", got["aud"], got["exp"])
	}
}
