package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/strictjson"
)

// Credentials are the sending secret of a tenant (or of the platform app):
// what calls the Graph API. Only the functions that call Meta can read it;
// the internet-facing webhook cannot. String, LogValue and friends redact
// them.
type Credentials struct {
	AccessToken string `json:"access_token"`
}

// AppCredentials are the webhook-side secret of a Meta app (the platform's,
// or a tenant's own): what checks Meta's webhook signature and its
// subscription handshake. They carry no access token. String, LogValue and
// friends redact them.
type AppCredentials struct {
	AppSecret   string `json:"app_secret"`
	VerifyToken string `json:"verify_token"`
}

// Keys of the secrets' JSON objects.
const (
	KeyAccessToken = "access_token"
	KeyAppSecret   = "app_secret"
	KeyVerifyToken = "verify_token"
)

// ErrMalformed is wrapped by errors about a secret value that is not the
// expected JSON object. Such errors never quote the value.
var ErrMalformed = errors.New("malformed secret value")

// ParseCredentials decodes a sending secret. A sending secret written
// before the split may still carry app_secret and verify_token: they are
// accepted and dropped ('wacloudctl secrets migrate' removes them). Any
// other key is refused.
func ParseCredentials(value string) (Credentials, error) {
	c, _, _, err := SplitCombined(value)
	return c, err
}

// ParseAppCredentials decodes a webhook-side secret. Keys other than
// app_secret and verify_token are refused: an access token stored there
// would be readable by the webhook.
func ParseAppCredentials(value string) (AppCredentials, error) {
	m, err := decodeKeys(value, KeyAppSecret, KeyVerifyToken)
	if err != nil {
		return AppCredentials{}, err
	}
	return AppCredentials{AppSecret: m[KeyAppSecret], VerifyToken: m[KeyVerifyToken]}, nil
}

// SplitCombined decodes a sending secret that may still be in the combined
// form of releases before the split: its access token, the webhook-side
// fields it carries, and whether it carries any (a present key counts even
// when empty). Keys other than the three are refused.
func SplitCombined(value string) (Credentials, AppCredentials, bool, error) {
	m, err := decodeKeys(value, KeyAccessToken, KeyAppSecret, KeyVerifyToken)
	if err != nil {
		return Credentials{}, AppCredentials{}, false, err
	}
	_, hasSecret := m[KeyAppSecret]
	_, hasVerify := m[KeyVerifyToken]
	return Credentials{AccessToken: m[KeyAccessToken]},
		AppCredentials{AppSecret: m[KeyAppSecret], VerifyToken: m[KeyVerifyToken]},
		hasSecret || hasVerify, nil
}

// keyName is what an unknown key must look like to be named in an error;
// anything else might be a value pasted in the wrong place.
func keyName(k string) bool { return len(k) <= 40 && keyNameRE.MatchString(k) }

// keyNameRE is keyName without the length (a bounded repetition compiles
// to a copy per count, at every cold start).
var keyNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// decodeKeys reads a JSON object of strings whose keys are all in allowed.
func decodeKeys(value string, allowed ...string) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(value), &raw); err != nil || raw == nil {
		// The JSON error could quote the value: leave it out.
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	// A key given twice would let the later copy win unseen. The error
	// names only keys, never values.
	if err := strictjson.UniqueKeys([]byte(value)); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, dupProblem(err))
	}
	out := make(map[string]string, len(raw))
	var unknown []string
	for k, v := range raw {
		known := false
		for _, a := range allowed {
			known = known || k == a
		}
		if !known {
			if keyName(k) {
				unknown = append(unknown, k)
			} else {
				unknown = append(unknown, "(a key that is not a name)")
			}
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("%w: %s is not a string", ErrMalformed, k)
		}
		out[k] = s
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("%w: unknown key(s) %s (allowed: %s)", ErrMalformed, strings.Join(unknown, ", "), strings.Join(allowed, ", "))
	}
	return out, nil
}

var quotedKey = regexp.MustCompile(`"([^"]*)"`)

// dupProblem is strictjson's problem, with a key that is not a name
// (possibly a value pasted in the wrong place) left out.
func dupProblem(err error) string {
	var se *strictjson.Error
	if errors.As(err, &se) {
		for _, q := range quotedKey.FindAllStringSubmatch(se.Problem, -1) {
			if !keyName(q[1]) {
				return "a key appears twice or in two cases"
			}
		}
		return se.Problem
	}
	return "a key appears twice or in two cases"
}

const (
	redactedCredentials    = "tenant.Credentials{redacted}"
	redactedAppCredentials = "tenant.AppCredentials{redacted}"
)

func (Credentials) String() string { return redactedCredentials }

// LogValue keeps credentials out of structured logs.
func (Credentials) LogValue() slog.Value { return slog.StringValue("redacted") }

// GoString keeps credentials out of %#v.
func (Credentials) GoString() string { return redactedCredentials }

// Format keeps credentials out of every other verb too (%d, %x and friends
// would otherwise print the fields).
func (Credentials) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redactedCredentials) }

func (AppCredentials) String() string { return redactedAppCredentials }

// LogValue keeps credentials out of structured logs.
func (AppCredentials) LogValue() slog.Value { return slog.StringValue("redacted") }

// GoString keeps credentials out of %#v.
func (AppCredentials) GoString() string { return redactedAppCredentials }

// Format keeps credentials out of every other verb too.
func (AppCredentials) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redactedAppCredentials) }

// SecretsAPI is the part of the Secrets Manager client Vault uses.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Vault reads credentials from Secrets Manager and keeps them in memory for
// TTL, so a warm instance fetches each secret once. It is safe for
// concurrent use; concurrent misses for the same secret make one call.
type Vault struct {
	API SecretsAPI
	TTL time.Duration
	Now func() time.Time

	mu      sync.Mutex
	entries map[vaultKey]*vaultEntry
}

// vaultKey caches a secret per reading, so a sending secret is never
// served as a webhook-side one or the other way round.
type vaultKey struct {
	secretID string
	app      bool
	metaApp  bool // the platform's Meta app (metaapp.go)
}

type vaultEntry struct {
	once    sync.Once
	value   any
	err     error
	expires time.Time
}

// Credentials returns the sending secret secretID. Errors never contain
// the secret's value; a value that is not a sending secret's JSON is a
// permanent error wrapping ErrMalformed.
func (v *Vault) Credentials(ctx context.Context, secretID string) (Credentials, error) {
	val, err := v.load(ctx, vaultKey{secretID: secretID}, func(s string) (any, error) { return ParseCredentials(s) })
	if err != nil {
		return Credentials{}, err
	}
	return val.(Credentials), nil
}

// AppCredentials returns the webhook-side secret secretID. Errors never
// contain the secret's value; a value that is not a webhook-side secret's
// JSON (an access token in it included) is a permanent error wrapping
// ErrMalformed.
func (v *Vault) AppCredentials(ctx context.Context, secretID string) (AppCredentials, error) {
	val, err := v.load(ctx, vaultKey{secretID: secretID, app: true}, func(s string) (any, error) { return ParseAppCredentials(s) })
	if err != nil {
		return AppCredentials{}, err
	}
	return val.(AppCredentials), nil
}

func (v *Vault) load(ctx context.Context, key vaultKey, parse func(string) (any, error)) (any, error) {
	now := v.now()
	v.mu.Lock()
	if v.entries == nil {
		v.entries = map[vaultKey]*vaultEntry{}
	}
	e, ok := v.entries[key]
	if !ok || (!e.expires.IsZero() && !now.Before(e.expires)) {
		e = &vaultEntry{}
		v.entries[key] = e
	}
	v.mu.Unlock()

	e.once.Do(func() {
		e.value, e.err = v.fetch(ctx, key.secretID, parse)
		// Read under v.mu by other callers of this entry.
		v.mu.Lock()
		e.expires = v.now().Add(v.ttl())
		v.mu.Unlock()
		if e.err != nil {
			// Do not cache failures: the next call tries again.
			v.Invalidate(key.secretID)
		}
	})
	return e.value, e.err
}

// Invalidate drops the cached copy of secretID, for example after Meta
// rejected its access token (error 190).
func (v *Vault) Invalidate(secretID string) {
	v.mu.Lock()
	delete(v.entries, vaultKey{secretID: secretID})
	delete(v.entries, vaultKey{secretID: secretID, app: true})
	delete(v.entries, vaultKey{secretID: secretID, metaApp: true})
	v.mu.Unlock()
}

func (v *Vault) fetch(ctx context.Context, secretID string, parse func(string) (any, error)) (any, error) {
	out, err := v.API.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)})
	if err != nil {
		var nf *smtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil, fault.PermanentErr(fmt.Errorf("read secret %s: %w", secretID, ErrNotFound))
		}
		return nil, fault.Retryable(fmt.Errorf("read secret %s: %w", secretID, err))
	}
	val, err := parse(aws.ToString(out.SecretString))
	if err != nil {
		return nil, fault.PermanentErr(fmt.Errorf("read secret %s: %w", secretID, err))
	}
	return val, nil
}

func (v *Vault) ttl() time.Duration {
	if v.TTL > 0 {
		return v.TTL
	}
	return 5 * time.Minute
}

func (v *Vault) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}
