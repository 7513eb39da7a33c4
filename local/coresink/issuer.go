package coresink

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// The local client of the management API: the core's OAuth2 client
// credentials.
const (
	ClientID     = "local-core-client"
	ClientSecret = "local-core-client-secret"
)

// TokenTTL is how long an access token lives.
const TokenTTL = time.Hour

// Issuer makes the sink the core's identity provider: an OAuth2
// authorization server for the client credentials grant, issuing RS256
// JWT access tokens (API Gateway's JWT authorizers accept RSA signatures
// only) that the management API's authorizer checks.
type Issuer struct {
	url      string
	audience string
	tenants  func() []string
	// granted are tenants the core added since (Grant), as the core's
	// identity provider would grant a tenant the core created.
	mu      sync.Mutex
	granted []string
	// Now is the clock of the tokens it issues (default time.Now).
	Now func() time.Time

	key    *rsa.PrivateKey
	keyID  string
	signer jose.Signer
}

// TenantScope is the prefix of a scope value that grants a tenant
// (manage.TenantScope, which this stand-in must not import).
const TenantScope = "tenant:"

// NewIssuer makes an issuer with a fresh RSA key. url is the iss claim
// (its /.well-known/openid-configuration names the JWKS), audience the
// aud claim, and tenants lists every tenant a token may act for: a token
// grants all of them unless its request names a narrower scope.
func NewIssuer(url, audience string, tenants func() []string) (*Issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate the issuer's key: %w", err)
	}
	kid := make([]byte, 8)
	if _, err := rand.Read(kid); err != nil {
		return nil, fmt.Errorf("generate the issuer's key id: %w", err)
	}
	is := &Issuer{url: url, audience: audience, tenants: tenants, key: key, keyID: hex.EncodeToString(kid)}
	is.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: is.keyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("build the issuer's signer: %w", err)
	}
	return is, nil
}

// URL is the issuer (the iss claim).
func (is *Issuer) URL() string { return is.url }

// Audience is the aud claim of its tokens.
func (is *Issuer) Audience() string { return is.audience }

// JWKS is the issuer's public key set.
func (is *Issuer) JWKS() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &is.key.PublicKey, KeyID: is.keyID, Algorithm: string(jose.RS256), Use: "sig"}}}
}

// TokenClaims are the claims of an access token.
type TokenClaims struct {
	jwt.Claims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
}

// Token issues an access token for scope (space-separated) with the
// given lifetime; a test uses it to make tokens a client cannot ask for
// (expired, for another audience).
func (is *Issuer) Token(scope string, c jwt.Claims) (string, error) {
	return jwt.Signed(is.signer).Claims(TokenClaims{Claims: c, ClientID: ClientID, Scope: scope}).Serialize()
}

func (is *Issuer) now() time.Time {
	if is.Now != nil {
		return is.Now()
	}
	return time.Now()
}

func (is *Issuer) serveDiscovery(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                is.url,
		"jwks_uri":                              is.url + "/.well-known/jwks.json",
		"token_endpoint":                        is.url + "/oauth/token",
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"response_types_supported":              []string{"token"},
		"id_token_signing_alg_values_supported": []string{string(jose.RS256)},
		"scopes_supported":                      is.scopes(),
	})
}

func (is *Issuer) scopes() []string {
	var out []string
	if is.tenants != nil {
		for _, t := range is.tenants() {
			out = append(out, TenantScope+t)
		}
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	for _, t := range is.granted {
		if !slices.Contains(out, TenantScope+t) {
			out = append(out, TenantScope+t)
		}
	}
	return out
}

// tenantID is the tenant id rule (tenant.IDPattern, which this stand-in
// must not import).
var tenantID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Grant lets the client's tokens act for tenant id too, as the core's
// identity provider does once the core created the tenant (before
// onboarding it: POST /v1/onboarding needs the tenant's scope).
func (is *Issuer) Grant(id string) error {
	if !tenantID.MatchString(id) {
		return fmt.Errorf("%q is not a tenant id", id)
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	if !slices.Contains(is.granted, id) {
		is.granted = append(is.granted, id)
	}
	return nil
}

// serveToken is the token endpoint (RFC 6749 §4.4): grant_type
// client_credentials, the client authenticated by HTTP Basic or by
// client_id and client_secret in the form, an optional scope.
func (is *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := r.ParseForm(); err != nil || r.Header.Get("Content-Type") == "" ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		oauthError(w, http.StatusBadRequest, "invalid_request", "send an application/x-www-form-urlencoded body")
		return
	}
	form := r.PostForm
	id, secret, basic := r.BasicAuth()
	if basic && (form.Has("client_id") && form.Get("client_id") != id || form.Has("client_secret")) {
		oauthError(w, http.StatusBadRequest, "invalid_request", "authenticate the client one way only")
		return
	}
	if !basic {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(ClientID)) != 1 || subtle.ConstantTimeCompare([]byte(secret), []byte(ClientSecret)) != 1 {
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="wacloud-local"`)
		}
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	if gt := form.Get("grant_type"); gt != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
		return
	}
	granted := is.scopes()
	scope := strings.Join(granted, " ")
	if form.Has("scope") {
		asked := strings.Fields(form.Get("scope"))
		for _, s := range asked {
			if !slices.Contains(granted, s) {
				oauthError(w, http.StatusBadRequest, "invalid_scope", "scope "+s+" is not granted to this client")
				return
			}
		}
		scope = strings.Join(asked, " ")
	}
	now := is.now()
	tok, err := is.Token(scope, jwt.Claims{
		Issuer: is.url, Subject: ClientID, Audience: jwt.Audience{is.audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(TokenTTL)),
		ID: rand.Text(),
	})
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "the token could not be signed")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(TokenTTL.Seconds()), "scope": scope,
	})
}

func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}
