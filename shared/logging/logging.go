// Package logging sets up the functions' structured logs: slog JSON on
// stdout in the shape Lambda's JSON log format expects ("timestamp",
// "level", "message"), with the function name, the invocation's request
// id, the trace id (the SQS record's being handled, else the
// invocation's), cold_start on a process's first invocation, and the
// tenant / phone number / wamid / job attributes a handler put in its
// context on every line logged with a context (InfoContext, ...).
//
// Redact wraps any slog.Handler and masks the values of attributes whose key
// names a credential (token, secret, authorization, password, ...) and any
// string carrying a bearer token; and personal data (see pii.go): a
// contact's number under keys like to, from or wa_id, message text under
// keys like body or text, and +E.164 numbers anywhere. It is a safety net:
// code must still never log credentials, phone numbers or message bodies.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/tucanlink/wacloud/shared/tracing"
)

// Attribute keys used across the functions.
const (
	KeyFunction      = "function"
	KeyRequestID     = "request_id"
	KeyTenantID      = "tenant_id"
	KeyPhoneNumberID = "phone_number_id"
	KeyWAMID         = "wamid"
	KeyJobID         = "job_id"
	// KeyTraceID is the X-Ray trace id (the Root of the trace header, see
	// package tracing) of the work a line belongs to: the invocation's, or
	// the SQS record's being handled.
	KeyTraceID = "trace_id"
	// KeyColdStart is true on the lines of a process's first invocation.
	KeyColdStart = "cold_start"
)

// New returns the logger of a function: JSON on stdout, at the level Lambda
// passes in AWS_LAMBDA_LOG_LEVEL (INFO when unset), redacted, with a
// "function" attribute.
func New(function string) *slog.Logger {
	return NewWriter(os.Stdout, function, LevelFromEnv(os.Getenv))
}

// NewWriter is New writing to w at level; tests capture logs with it.
func NewWriter(w io.Writer, function string, level slog.Leveler) *slog.Logger {
	l := slog.New(NewHandler(w, level))
	if function != "" {
		l = l.With(KeyFunction, function)
	}
	return l
}

// NewHandler returns the handler New uses: JSON with Lambda's key names,
// context attributes (request id, With) added, values redacted.
func NewHandler(w io.Writer, level slog.Leveler) slog.Handler {
	j := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: lambdacontext.ReplaceAttr})
	return Redact(contextHandler{j})
}

// LevelFromEnv reads AWS_LAMBDA_LOG_LEVEL (set by Lambda from the
// template's ApplicationLogLevel) through getenv.
func LevelFromEnv(getenv func(string) string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(getenv("AWS_LAMBDA_LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

// Tenant, PhoneNumber, WAMID, Job and Request build the common attributes.
func Tenant(id string) slog.Attr      { return slog.String(KeyTenantID, id) }
func PhoneNumber(id string) slog.Attr { return slog.String(KeyPhoneNumberID, id) }
func WAMID(id string) slog.Attr       { return slog.String(KeyWAMID, id) }
func Job(id string) slog.Attr         { return slog.String(KeyJobID, id) }
func Request(id string) slog.Attr     { return slog.String(KeyRequestID, id) }

type ctxKey struct{}

func attrsOf(ctx context.Context) []any {
	v, _ := ctx.Value(ctxKey{}).([]any)
	return v
}

// With returns ctx carrying attrs; every record logged with that context
// (InfoContext, ...) through a handler of this package gets them. Later
// values for the same key are added after earlier ones.
func With(ctx context.Context, attrs ...slog.Attr) context.Context {
	prev := attrsOf(ctx)
	next := make([]any, 0, len(prev)+len(attrs))
	next = append(next, prev...)
	for _, a := range attrs {
		next = append(next, a)
	}
	return context.WithValue(ctx, ctxKey{}, next)
}

// contextHandler adds the Lambda request id and the attributes of With.
type contextHandler struct{ next slog.Handler }

func (h contextHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
			r.AddAttrs(Request(lc.AwsRequestID))
		}
		if id := tracing.TraceID(ctx); id != "" {
			r.AddAttrs(slog.String(KeyTraceID, id))
		}
		if cold, _ := ctx.Value(coldKey{}).(bool); cold {
			r.AddAttrs(slog.Bool(KeyColdStart, true))
		}
		r.Add(attrsOf(ctx)...)
	}
	return h.next.Handle(ctx, r)
}

type coldKey struct{}

// WithColdStart returns ctx marking an invocation as its process's first:
// its lines carry cold_start=true.
func WithColdStart(ctx context.Context) context.Context {
	return context.WithValue(ctx, coldKey{}, true)
}

func (h contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{h.next.WithAttrs(as)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.next.WithGroup(name)}
}

// Masked replaces a redacted value.
const Masked = "[redacted]"

// sensitive are substrings of attribute keys whose values are never logged.
var sensitive = []string{"token", "secret", "authorization", "password", "passwd", "api_key", "apikey", "credential", "cookie", "signature", "private_key"}

// Sensitive reports whether an attribute key names a credential.
func Sensitive(key string) bool {
	k := strings.ToLower(key)
	for _, s := range sensitive {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// Redact wraps next so that values of sensitive keys, and strings that carry
// a bearer token, are masked, in groups too.
func Redact(next slog.Handler) slog.Handler { return redactor{next} }

type redactor struct{ next slog.Handler }

func (h redactor) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h redactor) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, maskString(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redact(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h redactor) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redact(a)
	}
	return redactor{h.next.WithAttrs(red)}
}

func (h redactor) WithGroup(name string) slog.Handler { return redactor{h.next.WithGroup(name)} }

func redact(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if Sensitive(a.Key) && carriesValue(v) {
		return slog.String(a.Key, Masked)
	}
	if v.Kind() == slog.KindString && v.String() != "" {
		switch {
		case PhoneKey(a.Key):
			return slog.String(a.Key, MaskPhone(v.String()))
		case TextKey(a.Key):
			return slog.String(a.Key, Masked)
		}
	}
	switch v.Kind() {
	case slog.KindGroup:
		g := v.Group()
		red := make([]slog.Attr, len(g))
		for i, ga := range g {
			red[i] = redact(ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(red...)}
	case slog.KindString:
		return slog.String(a.Key, maskString(v.String()))
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, maskString(err.Error()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// carriesValue reports whether v could hold a credential: a non-empty
// string, or anything that is not a plain fact (a bool, a number, a
// duration, a time). Facts about a credential stay readable
// ("signature_present":false), its values never.
func carriesValue(v slog.Value) bool {
	switch v.Kind() {
	case slog.KindBool, slog.KindInt64, slog.KindUint64, slog.KindFloat64, slog.KindDuration, slog.KindTime:
		return false
	case slog.KindString:
		return v.String() != ""
	}
	return true
}

// maskString masks what follows "Bearer " up to the next space or quote,
// and +E.164 numbers.
func maskString(s string) string { return MaskNumbers(maskBearer(s)) }

// maskBearer masks what follows "Bearer " up to the next space or quote.
func maskBearer(s string) string {
	const bearer = "bearer "
	lower := strings.ToLower(s)
	i := strings.Index(lower, bearer)
	if i < 0 {
		return s
	}
	var b strings.Builder
	for i >= 0 {
		start := i + len(bearer)
		b.WriteString(s[:start])
		end := start
		for end < len(s) && !strings.ContainsRune(" \t\n\"',;", rune(s[end])) {
			end++
		}
		if end > start {
			b.WriteString(Masked)
		}
		s, lower = s[end:], lower[end:]
		i = strings.Index(lower, bearer)
	}
	b.WriteString(s)
	return b.String()
}
