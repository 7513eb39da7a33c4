// Package core is the connector's client for the TucanLink core's HTTP API.
// It pushes one event per call:
//
//	POST {CORE_URL}{CORE_EVENTS_PATH}
//	Content-Type: application/json
//	Authorization: Bearer <token>
//	Idempotency-Key: <event_id>
//	X-Wacloud-Event-Type: <type>
//	X-Wacloud-Signature: sha256=<hex HMAC-SHA256(signing_secret, body)>
//
// The token is a static bearer token or an OAuth2 client-credentials token,
// read with the signing secret from one Secrets Manager secret. The core
// verifies the signature with VerifySignature over the exact body bytes.
//
// Every failure is classified once (see Client.Push); secrets never appear
// in errors or logs.
package core

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/strictjson"
	"github.com/tucanlink/wacloud/shared/tracing"
)

// Headers of a push.
const (
	SignatureHeader   = "X-Wacloud-Signature"
	EventTypeHeader   = "X-Wacloud-Event-Type"
	IdempotencyHeader = "Idempotency-Key"
	// TraceHeader carries the X-Ray trace header of the work that produced
	// the event (package tracing), when there is one.
	TraceHeader = "X-Amzn-Trace-Id"
)

// Sign returns the X-Wacloud-Signature value for body.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether header is Sign(secret, body), comparing in
// constant time. An empty secret never verifies.
func VerifySignature(secret string, body []byte, header string) bool {
	if secret == "" {
		return false
	}
	h, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(h)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// Credentials is the core secret's JSON. Either BearerToken or the three
// OAuth2 client fields are set. They never print: String, GoString, Format
// and LogValue redact them.
type Credentials struct {
	BearerToken   string `json:"bearer_token"`
	ClientID      string `json:"client_id"`
	ClientSecret  string `json:"client_secret"`
	TokenURL      string `json:"token_url"`
	SigningSecret string `json:"signing_secret"`
}

const redacted = "core.Credentials{redacted}"

func (Credentials) String() string             { return redacted }
func (Credentials) GoString() string           { return redacted }
func (Credentials) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }
func (Credentials) LogValue() slog.Value       { return slog.StringValue("redacted") }
func (c Credentials) oauth() bool {
	return c.ClientID != "" && c.ClientSecret != "" && c.TokenURL != ""
}
func (c Credentials) secrets() []string {
	return []string{c.BearerToken, c.ClientSecret, c.SigningSecret}
}
func (c Credentials) valid() bool { return c.SigningSecret != "" && (c.BearerToken != "" || c.oauth()) }

// SecretsAPI is the part of the Secrets Manager client Client uses.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Client pushes events to the core. It is safe for concurrent use; it reads
// the core secret once per TTL (and again after the core rejects it).
type Client struct {
	HTTP     *http.Client // default: 10 s timeout
	URL      string       // CORE_URL + CORE_EVENTS_PATH
	Secrets  SecretsAPI
	SecretID string
	TTL      time.Duration // default 5 minutes
	Now      func() time.Time

	mu   sync.Mutex
	sess *session
}

type session struct {
	creds   Credentials
	tokens  oauth2.TokenSource // nil for a static bearer token
	expires time.Time
}

// StatusError is the core's refusal of a push.
type StatusError struct {
	Status  int
	Excerpt string        // start of the response body, secrets removed
	After   time.Duration // the core's Retry-After, if any
}

func (e *StatusError) Error() string {
	if e.Excerpt == "" {
		return fmt.Sprintf("core answered %d", e.Status)
	}
	return fmt.Sprintf("core answered %d: %s", e.Status, e.Excerpt)
}

// RetryAfter is how long the core asked to wait (0 when it did not say);
// queue.Consumer delays the retry by at least this much.
func (e *StatusError) RetryAfter() time.Duration { return e.After }

// Push posts one event body. The outcome is classified:
//   - 2xx, and 409 (the core already has this event): nil.
//   - 5xx, 429, timeouts and transport errors: Retry, with the core's
//     Retry-After carried by the *StatusError.
//   - 401 and 403: Retry, after dropping the cached credentials and token.
//     A rejected credential is almost always a rotated secret or an expired
//     token; the next attempt re-reads the secret. If it stays wrong, the
//     queue's redrive (maxReceiveCount) still moves the event to the DLQ
//     after hours of retries, so nothing is lost while an operator fixes it.
//   - 3xx: Retry; redirects are not followed (CORE_URL is wrong).
//   - other 4xx: Permanent, with the status and a body excerpt.
//
// A missing or malformed core secret is Retry as well: it is a deployment
// fault an operator fixes, not a fault of the event.
func (c *Client) Push(ctx context.Context, eventID, eventType string, body []byte) error {
	s, err := c.session(ctx)
	if err != nil {
		return err
	}
	token := s.creds.BearerToken
	if s.tokens != nil {
		t, err := s.tokens.Token()
		if err != nil {
			c.forget(s)
			return fault.Retryable(fmt.Errorf("push event %s: obtain core access token: %s", eventID, tokenErr(err)))
		}
		token = t.AccessToken
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return fault.PermanentErr(fmt.Errorf("push event %s: build request: %w", eventID, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(IdempotencyHeader, eventID)
	req.Header.Set(EventTypeHeader, eventType)
	req.Header.Set(SignatureHeader, Sign(s.creds.SigningSecret, body))
	if h := tracing.FromContext(ctx); h != "" {
		// The core can log and continue the trace the event belongs to.
		req.Header.Set(TraceHeader, h)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return fault.Retryable(fmt.Errorf("push event %s: %w", eventID, err))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // reuse the connection
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusConflict {
		return nil
	}
	// The OAuth2 access token is a credential too.
	se := &StatusError{Status: resp.StatusCode, Excerpt: excerpt(raw, append(s.creds.secrets(), token)), After: retryAfter(resp.Header.Get("Retry-After"), c.now())}
	code := "http_" + strconv.Itoa(resp.StatusCode)
	err = fmt.Errorf("push event %s: %w", eventID, se)
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		c.forget(s)
		return fault.WithCode(fault.Retry, code, err)
	case resp.StatusCode/100 == 3:
		// Not followed (see defaultHTTP): CORE_URL needs fixing, as with
		// a rejected credential.
		return fault.WithCode(fault.Retry, code, err)
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout:
		return fault.WithCode(fault.Retry, code, err)
	default:
		return fault.WithCode(fault.Permanent, code, err)
	}
}

// Warm reads the credentials if none are cached, so that a cold instance's
// first push does not wait for Secrets Manager after the rest of its work:
// call it in the background at the start of a batch. An error is left for
// the push, which reads again.
func (c *Client) Warm(ctx context.Context) { _, _ = c.session(ctx) }

// Warm has p read the core's credentials ahead of its first push when p
// can (a *Client, or a wrapper passing Warm on); anything else, nil
// included, it leaves alone. The functions' handlers, which hold the
// core as an interface of their own, call it in the background at the
// start of a batch.
func Warm(ctx context.Context, p any) {
	if w, ok := p.(interface{ Warm(context.Context) }); ok {
		w.Warm(ctx)
	}
}

func (c *Client) session(ctx context.Context) (*session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != nil && c.now().Before(c.sess.expires) {
		return c.sess, nil
	}
	out, err := c.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(c.SecretID)})
	if err != nil {
		return nil, fault.Retryable(fmt.Errorf("read core secret %s: %w", c.SecretID, err))
	}
	var creds Credentials
	// Strict, as an operator writes it: a misspelt or repeated key is an
	// error, not a credential silently left empty or overridden.
	if err := strictjson.Unmarshal([]byte(aws.ToString(out.SecretString)), &creds); err != nil || !creds.valid() {
		// The JSON error could quote the secret: leave it out.
		return nil, fault.Retryable(fmt.Errorf("read core secret %s: want a JSON object with exactly signing_secret and bearer_token or client_id, client_secret and token_url, each once", c.SecretID))
	}
	s := &session{creds: creds, expires: c.now().Add(c.ttl())}
	if creds.oauth() && creds.BearerToken == "" {
		cc := clientcredentials.Config{ClientID: creds.ClientID, ClientSecret: creds.ClientSecret, TokenURL: creds.TokenURL}
		// The token source outlives this call: give it its own context
		// carrying our HTTP client, not the caller's (cancelled) one.
		tctx := context.WithValue(context.Background(), oauth2.HTTPClient, c.http())
		s.tokens = cc.TokenSource(tctx)
	}
	c.sess = s
	return s, nil
}

// forget drops s if it is still the cached session.
func (c *Client) forget(s *session) {
	c.mu.Lock()
	if c.sess == s {
		c.sess = nil
	}
	c.mu.Unlock()
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// defaultHTTP does not follow redirects: a 301/302 would turn the POST
// into a GET without the event, and a 2xx to that GET would count as the
// core having it. It keeps enough idle connections for the bridge's
// concurrent pushes (the default transport keeps two per host, and would
// open and close a connection for every other push).
var defaultHTTP = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     idleTransport(),
}

func idleTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 256
	return t
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) ttl() time.Duration {
	if c.TTL > 0 {
		return c.TTL
	}
	return 5 * time.Minute
}

// tokenErr describes a token failure without the token endpoint's body,
// which may echo credentials.
func tokenErr(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return fmt.Sprintf("token endpoint answered %d", re.Response.StatusCode)
	}
	var ue interface{ Timeout() bool }
	if errors.As(err, &ue) && ue.Timeout() {
		return "token endpoint timed out"
	}
	return "token endpoint unreachable"
}

// excerpt keeps the first 200 bytes of a response body on one line, with
// any of secrets the core might echo removed.
func excerpt(b []byte, secrets []string) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
