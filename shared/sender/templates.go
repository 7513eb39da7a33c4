package sender

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/outbound"
)

// TemplateCatalog reads a tenant's template from the template catalog
// (catalog.Store). Get's error wraps catalog.ErrNotFound for a template
// the catalog does not hold; other errors are retryable.
type TemplateCatalog interface {
	Get(ctx context.Context, tenantID string, k catalog.Key) (catalog.Template, error)
}

// checkTemplate holds a template job against the catalog before anything
// reaches Meta (no media upload, no send): a template that is not
// APPROVED, or parameters that do not fit its components, fail the job
// as template_invalid with every problem in details. A template the
// catalog does not know (a sync has not seen it yet) goes to Meta, which
// decides; so does every job when the catalog cannot be read, since the
// check only saves Meta a refusal. It returns the failure, or nil.
func (h *Handler) checkTemplate(ctx context.Context, a *attempt) *Failure {
	job := a.job
	if h.Templates == nil || job.Type != outbound.TypeTemplate || job.Template == nil || a.waba == "" {
		return nil
	}
	k := catalog.Key{WABAID: a.waba, Name: job.Template.Name, Language: job.Template.Language.Code}
	t, err := h.Templates.Get(ctx, job.TenantID, k)
	if errors.Is(err, catalog.ErrNotFound) {
		h.count("TemplateNotInCatalog")
		a.log.InfoContext(ctx, "template not in the catalog; Meta decides", "template", k.Name, "language", k.Language)
		return nil
	}
	if err != nil {
		a.log.WarnContext(ctx, "template catalog unreadable; Meta decides", "template", k.Name, "error", err.Error())
		return nil
	}
	problems := catalog.Check(t, job.Template)
	if len(problems) == 0 {
		return nil
	}
	return &Failure{Reason: event.ReasonTemplateInvalid,
		Details: fmt.Sprintf("template %s (%s), as synced %s: %s", k.Name, k.Language, t.SyncedAt, strings.Join(problems, "; "))}
}

// DefaultTemplateTTL is how long an instance trusts a template it read
// from the catalog: a status change (a pause) reaches its jobs within it.
const DefaultTemplateTTL = 30 * time.Second

// templateCache remembers the templates (and the absences) this instance
// read for TTL, so a campaign of one template reads the catalog once per
// instance and TTL instead of once per job. It is safe for concurrent
// use.
type templateCache struct {
	Store TemplateCatalog
	TTL   time.Duration
	Now   func() time.Time

	mu      sync.Mutex
	entries map[string]templateEntry
}

type templateEntry struct {
	t     catalog.Template
	err   error // nil or catalog.ErrNotFound
	until time.Time
}

// Get returns the template, from the cache when fresh.
func (c *templateCache) Get(ctx context.Context, tenantID string, k catalog.Key) (catalog.Template, error) {
	key := tenantID + "#" + k.String()
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.t, e.err
	}
	t, err := c.Store.Get(ctx, tenantID, k)
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return t, err
	}
	ttl := c.TTL
	if ttl <= 0 {
		ttl = DefaultTemplateTTL
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) > 10000 {
		c.entries = map[string]templateEntry{}
	}
	c.entries[key] = templateEntry{t: t, err: err, until: now.Add(ttl)}
	c.mu.Unlock()
	return t, err
}

func (c *templateCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
