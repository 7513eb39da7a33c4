package apigw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// JWTAuthorizer checks bearer tokens the way an HTTP API JWT authorizer
// does: the token (with or without "Bearer ") from the Authorization
// header, an RSA signature (RS256/384/512, the only kind API Gateway
// accepts) by a key whose kid is in the issuer's JWKS (found through
// Issuer + "/.well-known/openid-configuration"), iss equal to Issuer, aud
// (or, without aud, client_id) one of Audience, exp after now, nbf and iat
// not after now. It is safe for concurrent use.
type JWTAuthorizer struct {
	Issuer   string
	Audience []string
	Client   *http.Client     // default: 5 s timeout
	Now      func() time.Time // default time.Now

	mu      sync.Mutex
	keys    jose.JSONWebKeySet
	fetched time.Time
}

// rsaAlgorithms are the signature algorithms API Gateway's JWT authorizer
// accepts.
var rsaAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512}

// Authorize checks the Authorization header's token and returns its claims
// as API Gateway passes them to the function (every value a string, see
// flatten). The error says why the token was refused, for the
// www-authenticate header.
func (a *JWTAuthorizer) Authorize(ctx context.Context, authorization string) (map[string]string, error) {
	raw := strings.TrimSpace(authorization)
	if raw == "" {
		return nil, errors.New("no token")
	}
	if p, rest, ok := strings.Cut(raw, " "); ok && strings.EqualFold(p, "Bearer") {
		raw = strings.TrimSpace(rest)
	}
	tok, err := jwt.ParseSigned(raw, rsaAlgorithms)
	if err != nil {
		return nil, errors.New("the token is not a signed JWT with an RSA algorithm")
	}
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID == "" {
		return nil, errors.New("the token has no kid")
	}
	key, err := a.key(ctx, tok.Headers[0].KeyID)
	if err != nil {
		return nil, err
	}
	var std jwt.Claims
	var all map[string]any
	if err := tok.Claims(key.Key, &std, &all); err != nil {
		return nil, errors.New("the token's signature is not valid")
	}
	if std.Issuer != a.Issuer {
		return nil, errors.New("the token does not have a valid issuer")
	}
	aud := []string(std.Audience)
	if len(aud) == 0 {
		if id, ok := all["client_id"].(string); ok {
			aud = []string{id}
		}
	}
	if !slices.ContainsFunc(aud, func(s string) bool { return slices.Contains(a.Audience, s) }) {
		return nil, errors.New("the token does not have a valid audience")
	}
	now := a.now()
	switch {
	case std.Expiry == nil || !now.Before(std.Expiry.Time()):
		return nil, errors.New("the token has expired")
	case std.NotBefore != nil && now.Before(std.NotBefore.Time()):
		return nil, errors.New("the token is not valid yet")
	case std.IssuedAt != nil && now.Before(std.IssuedAt.Time()):
		return nil, errors.New("the token was issued in the future")
	}
	return flatten(all), nil
}

// key finds kid in the issuer's JWKS, fetching it when the kid is unknown
// (at most once every 10 s: a forged kid must not make every request
// fetch).
func (a *JWTAuthorizer) key(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ks := a.keys.Key(kid); len(ks) > 0 {
		return ks[0], nil
	}
	if a.now().Sub(a.fetched) < 10*time.Second && !a.fetched.IsZero() {
		return jose.JSONWebKey{}, errors.New("the token's kid is not in the issuer's JWKS")
	}
	keys, err := a.fetch(ctx)
	if err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("the issuer's JWKS could not be read: %w", err)
	}
	a.keys, a.fetched = keys, a.now()
	if ks := a.keys.Key(kid); len(ks) > 0 {
		return ks[0], nil
	}
	return jose.JSONWebKey{}, errors.New("the token's kid is not in the issuer's JWKS")
}

func (a *JWTAuthorizer) fetch(ctx context.Context) (jose.JSONWebKeySet, error) {
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := a.getJSON(ctx, strings.TrimRight(a.Issuer, "/")+"/.well-known/openid-configuration", &meta); err != nil {
		return jose.JSONWebKeySet{}, err
	}
	if meta.JWKSURI == "" {
		return jose.JSONWebKeySet{}, errors.New("the issuer's openid-configuration has no jwks_uri")
	}
	var keys jose.JSONWebKeySet
	err := a.getJSON(ctx, meta.JWKSURI, &keys)
	return keys, err
}

func (a *JWTAuthorizer) getJSON(ctx context.Context, url string, v any) error {
	c := a.Client
	if c == nil {
		c = &http.Client{Timeout: 5 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

func (a *JWTAuthorizer) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// flatten turns claims into the strings API Gateway passes in
// requestContext.authorizer.jwt.claims: strings as they are, numbers and
// booleans printed, arrays as "[a b]" (elements joined by spaces in
// brackets), objects as JSON.
func flatten(claims map[string]any) map[string]string {
	out := make(map[string]string, len(claims))
	for k, v := range claims {
		out[k] = claimString(v)
	}
	return out
}

func claimString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = claimString(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case nil:
		return ""
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}
