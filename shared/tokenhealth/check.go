// Package tokenhealth checks each tenant's Meta access token ahead of
// failures: the scheduled templates function runs it after the catalog
// sync. For every active tenant it asks Meta's GET /debug_token, with the
// platform app's credentials, about the token in the tenant's sending
// secret:
//
//   - a token that expires within the warning window gets an
//     account.token_expiring event for the core and the metric
//     TenantTokenExpiring, at most once per tenant and UTC day
//     (tokenwarn#{tenant_id}#{day} in the state table);
//   - an invalid token (expired, revoked) gets account.token_invalid and
//     TenantTokenInvalid once per outage: it records the outage in the
//     sender's token#{tenant_id} item (sender.OutageStore), so whichever of
//     the sender and this check sees the token first tells the core, and
//     the other does not again.
//
// Tokens that never expire (expires_at 0, Meta's system-user tokens) only
// get the validity check.
package tokenhealth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/sender"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// Event types and metric names.
const (
	TypeTokenExpiring   = event.TypeAccountPrefix + "token_expiring"
	MetricTokenExpiring = "TenantTokenExpiring"
	MetricCheckFailed   = "TokenCheckFailed"
	// DefaultWarnBefore is how long before expiry the warnings start.
	DefaultWarnBefore = 7 * 24 * time.Hour
)

// Tenants lists the registry's tenants (tenant.Registry).
type Tenants interface {
	List(ctx context.Context) ([]tenant.Tenant, error)
}

// Secrets reads the tenants' sending secrets and the platform's Meta app
// (tenant.Vault).
type Secrets interface {
	Credentials(ctx context.Context, secretID string) (tenant.Credentials, error)
	MetaApp(ctx context.Context, secretID string) (tenant.MetaApp, error)
}

// Meta inspects tokens (graph.Client).
type Meta interface {
	DebugToken(ctx context.Context, app graph.App, token string) (graph.TokenDebug, error)
}

// Warnings remembers which tenants were warned on which day (*WarnStore).
type Warnings interface {
	Warned(ctx context.Context, tenantID, day string) (bool, error)
	MarkWarned(ctx context.Context, tenantID, day string, at time.Time) error
}

// Publisher queues events for the core (queue.Publisher).
type Publisher interface {
	Publish(ctx context.Context, queueURL string, msgs ...queue.Message) error
}

// Checker runs the token check.
type Checker struct {
	Tenants     Tenants
	Secrets     Secrets
	AppSecretID string // the Meta app secret (META_APP_SECRET)
	Meta        Meta
	Warnings    Warnings
	Outages     sender.Outages
	Events      Publisher
	EventsQueue string // CORE_EVENTS_QUEUE_URL
	WarnBefore  time.Duration
	// Concurrency is how many tenants are checked at once (default
	// catalog.DefaultConcurrency).
	Concurrency int
	Metrics     *metrics.Recorder
	Log         *slog.Logger
	Now         func() time.Time
}

// Result counts one run.
type Result struct {
	Checked, Expiring, Invalid, Failed int
}

// Check inspects every active tenant's token. A tenant that cannot be
// checked does not stop the others; the run then returns an error.
func (c *Checker) Check(ctx context.Context) (Result, error) {
	var res Result
	app, err := c.Secrets.MetaApp(ctx, c.AppSecretID)
	if err != nil {
		return res, fmt.Errorf("token check: read the Meta app secret: %w", err)
	}
	if !app.Configured() {
		c.log().WarnContext(ctx, "token check skipped: the Meta app secret has no app_id and app_secret yet")
		return res, nil
	}
	ts, err := c.Tenants.List(ctx)
	if err != nil {
		return res, fmt.Errorf("token check: %w", err)
	}
	var active []tenant.Tenant
	for _, t := range ts {
		if t.Status == tenant.StatusActive && t.SecretID != "" {
			active = append(active, t)
		}
	}
	// Tenants are checked Concurrency at a time, none started within
	// the deadline margin (as the catalog sync).
	n := c.Concurrency
	if n <= 0 {
		n = catalog.DefaultConcurrency
	}
	var mu sync.Mutex
	var failed []error
	tenant.Each(ctx, active, n, catalog.DefaultDeadlineMargin, func(ctx context.Context, t tenant.Tenant) error {
		state, err := c.checkTenant(ctx, graph.App{ID: app.AppID, Secret: app.AppSecret}, t)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			c.log().ErrorContext(ctx, "token check failed", "tenant_id", t.ID, "error", err.Error())
			c.count(MetricCheckFailed)
			res.Failed++
			failed = append(failed, err)
			return err
		}
		res.Checked++
		switch state {
		case stateExpiring:
			res.Expiring++
		case stateInvalid:
			res.Invalid++
		}
		return nil
	})
	if left := len(active) - res.Checked - res.Failed; left > 0 {
		failed = append(failed, fmt.Errorf("%d tenant(s) %w", left, tenant.ErrDeadline))
	}
	c.log().InfoContext(ctx, "token check done", "checked", res.Checked, "expiring", res.Expiring, "invalid", res.Invalid, "failed", res.Failed)
	if len(failed) > 0 {
		return res, fmt.Errorf("token check: %d tenant(s) failed: %w", len(failed), errors.Join(failed...))
	}
	return res, nil
}

type tokenState int

const (
	stateOK tokenState = iota
	stateExpiring
	stateInvalid
)

func (c *Checker) checkTenant(ctx context.Context, app graph.App, t tenant.Tenant) (tokenState, error) {
	creds, err := c.Secrets.Credentials(ctx, t.SecretID)
	if err != nil {
		return stateOK, fmt.Errorf("check token of tenant %s: %w", t.ID, err)
	}
	if creds.AccessToken == "" {
		return stateOK, nil
	}
	d, err := c.Meta.DebugToken(ctx, app, creds.AccessToken)
	if err != nil {
		return stateOK, fmt.Errorf("check token of tenant %s: %w", t.ID, err)
	}
	now := c.now().UTC()
	if !d.IsValid {
		return stateInvalid, c.invalid(ctx, t, creds.AccessToken, d, now)
	}
	exp := d.Expires()
	if exp.IsZero() || exp.Sub(now) > c.warnBefore() {
		return stateOK, nil
	}
	return stateExpiring, c.expiring(ctx, t, creds.AccessToken, exp, now)
}

// invalid records the outage and, when it is new, tells the core.
func (c *Checker) invalid(ctx context.Context, t tenant.Tenant, token string, d graph.TokenDebug, now time.Time) error {
	fp := sender.Fingerprint(token)
	first, err := c.Outages.Begin(ctx, t.ID, fp, now)
	if err != nil {
		return fmt.Errorf("check token of tenant %s: %w", t.ID, err)
	}
	if !first {
		return nil
	}
	c.log().WarnContext(ctx, "tenant's access token is invalid", "tenant_id", t.ID)
	c.count(sender.MetricTokenInvalid)
	value := map[string]any{"code": 190, "subcode": 0, "message": "the access token is not valid", "held_for_at_most": sender.DefaultTokenHoldMax.String()}
	if d.Error != nil {
		value["code"], value["subcode"], value["message"] = d.Error.Code, d.Error.Subcode, d.Error.Message
	}
	return c.publish(ctx, t, sender.TypeTokenInvalid, "token_invalid", "TOKEN_INVALID", event.AccountEventID(sender.TypeTokenInvalid, t.ID, fp), value, now)
}

// expiring tells the core once per UTC day.
func (c *Checker) expiring(ctx context.Context, t tenant.Tenant, token string, exp, now time.Time) error {
	day := now.Format(time.DateOnly)
	warned, err := c.Warnings.Warned(ctx, t.ID, day)
	if err != nil {
		return fmt.Errorf("check token of tenant %s: %w", t.ID, err)
	}
	if warned {
		return nil
	}
	c.log().WarnContext(ctx, "tenant's access token expires soon", "tenant_id", t.ID, "expires_at", exp.Format(time.RFC3339))
	c.count(MetricTokenExpiring)
	value := map[string]any{"expires_at": exp.Format(time.RFC3339), "days_left": int(exp.Sub(now).Hours() / 24)}
	id := event.AccountEventID(TypeTokenExpiring, t.ID, sender.Fingerprint(token), day)
	if err := c.publish(ctx, t, TypeTokenExpiring, "token_expiring", "TOKEN_EXPIRING", id, value, now); err != nil {
		return err
	}
	// Marked after the event is queued: a failure here repeats the event
	// on the next run with the same event id, which the core drops.
	if err := c.Warnings.MarkWarned(ctx, t.ID, day, now); err != nil {
		return fmt.Errorf("check token of tenant %s: %w", t.ID, err)
	}
	return nil
}

func (c *Checker) publish(ctx context.Context, t tenant.Tenant, typ, field, name, id string, value map[string]any, now time.Time) error {
	raw, err := json.Marshal(value)
	if err != nil {
		return fault.PermanentErr(fmt.Errorf("encode %s: %w", typ, err))
	}
	msg, err := queue.EventMessage(event.Event{
		SchemaVersion: event.SchemaVersion,
		EventID:       id,
		Type:          typ,
		TenantID:      t.ID,
		OccurredAt:    now.Format(time.RFC3339),
		Account:       &event.AccountChange{Field: field, Event: name, Value: raw},
	})
	if err != nil {
		return fault.PermanentErr(err)
	}
	if err := c.Events.Publish(ctx, c.EventsQueue, msg); err != nil {
		return fault.Retryable(fmt.Errorf("report %s of tenant %s: %w", typ, t.ID, err))
	}
	return nil
}

func (c *Checker) warnBefore() time.Duration {
	if c.WarnBefore > 0 {
		return c.WarnBefore
	}
	return DefaultWarnBefore
}

func (c *Checker) count(name string) {
	if c.Metrics != nil {
		c.Metrics.Count(name, 1)
	}
}

func (c *Checker) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
