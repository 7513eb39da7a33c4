package sender

import (
	"context"
	"sync"
	"time"

	"github.com/tucanlink/wacloud/shared/identity"
)

// DefaultIdentityCacheTTL bounds how long an instance trusts a recipient's
// identity (or its absence) it read.
const DefaultIdentityCacheTTL = 10 * time.Minute

// maxIdentityCache bounds the cache; past it, expired entries are dropped.
const maxIdentityCache = 50_000

// IdentityStore reads and writes recipient mappings; *identity.Store
// satisfies it. Errors are classified Retry.
type IdentityStore interface {
	Get(ctx context.Context, tenantID, phoneNumberID, input string) (identity.Mapping, bool, error)
	Put(ctx context.Context, tenantID, phoneNumberID, input, id string) error
}

// identityCache resolves recipients through the instance's memory first.
// Mappings change only when Meta answers a send with another wa_id (this
// instance then updates its entry itself) or a user changes number, so an
// entry is trusted for TTL: another instance's new mapping stays unseen
// here that long, during which this instance paces the recipient under
// the job's own form and checks the window under it and its variants. It
// is safe for concurrent use.
type identityCache struct {
	Store IdentityStore
	TTL   time.Duration
	Now   func() time.Time

	mu sync.Mutex
	m  map[string]identityEntry // tenant#number#input
}

type identityEntry struct {
	identity.Mapping
	known bool
	until time.Time
}

// Resolve returns the identity of input on a tenant's number: its mapping
// when there is one (known), else input itself.
func (c *identityCache) Resolve(ctx context.Context, tenantID, phoneNumberID, input string) (string, bool, error) {
	k := tenantID + "#" + phoneNumberID + "#" + input
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if !ok || !now.Before(e.until) {
		m, known, err := c.Store.Get(ctx, tenantID, phoneNumberID, input)
		if err != nil {
			return "", false, err
		}
		e = identityEntry{Mapping: m, known: known, until: now.Add(c.ttl())}
		c.put(k, e, now)
	}
	if !e.known {
		return input, false, nil
	}
	return e.Identity, true, nil
}

// lookup returns the cached entry of input on a tenant's number, if it
// is still trusted.
func (c *identityCache) lookup(tenantID, phoneNumberID, input string) (identityEntry, bool) {
	c.mu.Lock()
	e, ok := c.m[tenantID+"#"+phoneNumberID+"#"+input]
	c.mu.Unlock()
	return e, ok && c.now().Before(e.until)
}

// remember caches what a read ahead found for input (Lookahead), as
// Resolve caches its own read.
func (c *identityCache) remember(tenantID, phoneNumberID, input string, m identity.Mapping, known bool) {
	now := c.now()
	c.put(tenantID+"#"+phoneNumberID+"#"+input, identityEntry{Mapping: m, known: known, until: now.Add(c.ttl())}, now)
}

// Learn records what Meta resolved input to, when that is news: another
// identity than the one known, a first mapping that differs from input,
// or a mapping old enough to need its retention restarted.
func (c *identityCache) Learn(ctx context.Context, tenantID, phoneNumberID, input, id string) error {
	k := tenantID + "#" + phoneNumberID + "#" + input
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	switch {
	case ok && e.known && e.Identity == id && now.Sub(e.UpdatedAt) < identity.RefreshAfter:
		return nil
	case ok && !e.known && id == input:
		return nil
	}
	if err := c.Store.Put(ctx, tenantID, phoneNumberID, input, id); err != nil {
		return err
	}
	c.put(k, identityEntry{Mapping: identity.Mapping{Identity: id, UpdatedAt: now}, known: true, until: now.Add(c.ttl())}, now)
	return nil
}

func (c *identityCache) put(k string, e identityEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]identityEntry{}
	}
	if len(c.m) >= maxIdentityCache {
		for k, old := range c.m {
			if !now.Before(old.until) {
				delete(c.m, k)
			}
		}
	}
	if len(c.m) < maxIdentityCache {
		c.m[k] = e
	}
}

func (c *identityCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *identityCache) ttl() time.Duration {
	if c.TTL > 0 {
		return c.TTL
	}
	return DefaultIdentityCacheTTL
}
