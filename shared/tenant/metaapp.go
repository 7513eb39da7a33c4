package tenant

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// MetaApp is the platform's Meta app as Embedded Signup and token checks
// need it: its id (the OAuth client id) and its app secret (the client
// secret). It lives in the platform secret named by META_APP_SECRET
// ({SecretPrefix}/platform/meta-app) as {"app_id":"…","app_secret":"…"}.
// String, LogValue and friends redact it.
type MetaApp struct {
	AppID     string `json:"app_id"`
	AppSecret string `json:"app_secret"`
}

// KeyAppID is the Meta app secret's id key.
const KeyAppID = "app_id"

// Configured reports whether the app id and secret are set.
func (a MetaApp) Configured() bool { return a.AppID != "" && a.AppSecret != "" }

const redactedMetaApp = "tenant.MetaApp{redacted}"

func (MetaApp) String() string             { return redactedMetaApp }
func (MetaApp) LogValue() slog.Value       { return slog.StringValue("redacted") }
func (MetaApp) GoString() string           { return redactedMetaApp }
func (MetaApp) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redactedMetaApp) }

// ParseMetaApp reads the Meta app secret's JSON: both keys set, or both
// empty (not configured yet: Configured reports false).
// Errors wrap ErrMalformed and never quote the value.
func ParseMetaApp(value string) (MetaApp, error) {
	m, err := decodeKeys(value, KeyAppID, KeyAppSecret)
	if err != nil {
		return MetaApp{}, err
	}
	if (m[KeyAppID] == "") != (m[KeyAppSecret] == "") {
		return MetaApp{}, fmt.Errorf("%w: app_id and app_secret must both be set", ErrMalformed)
	}
	return MetaApp{AppID: m[KeyAppID], AppSecret: m[KeyAppSecret]}, nil
}

// MetaApp returns the platform's Meta app from secretID. Errors never
// contain the secret's value.
func (v *Vault) MetaApp(ctx context.Context, secretID string) (MetaApp, error) {
	val, err := v.load(ctx, vaultKey{secretID: secretID, metaApp: true}, func(s string) (any, error) { return ParseMetaApp(s) })
	if err != nil {
		return MetaApp{}, err
	}
	return val.(MetaApp), nil
}
