package sender

import (
	"context"
	"sync"
	"time"

	"github.com/tucanlink/wacloud/shared/window"
)

// DefaultWindowCacheTTL bounds how long an instance trusts an open window
// it read, besides the window's own end.
const DefaultWindowCacheTTL = time.Minute

// maxWindowCache bounds the cache; past it, expired entries are dropped.
const maxWindowCache = 50_000

// windowCache remembers open windows this instance read, so a recipient's
// next jobs skip the read. Only "open" is cached, and only until the
// earlier of the window's end (last inbound + 24 h, which an inbound
// message can only push later) and TTL after the read. Within that time
// the window can close early only when Meta answers 131047 for it: this
// instance then drops the entry itself (closeWindow), and another
// instance's 131047 stays unseen here for at most TTL, in which a
// free-form message is refused by Meta with 131047 (reported failed,
// graph_error) instead of window_closed before the call. A closed window
// is never cached: the contact may write any moment. Only a batch's read
// ahead (Lookahead) is kept whatever it found, for Fresh, as if the
// batch's jobs had read it themselves as the batch began. It is safe for
// concurrent use.
type windowCache struct {
	Store WindowStore
	TTL   time.Duration
	Fresh time.Duration // default DefaultLookaheadFresh
	Now   func() time.Time

	mu    sync.Mutex
	open  map[string]time.Time // number#wa_id → trusted open until
	ahead map[string]readAhead // number#wa_id → a closed window read ahead
}

// readAhead is a window a batch's read ahead found closed.
type readAhead struct {
	st window.State
	at time.Time
}

// WindowStore reads and closes windows; window.Store satisfies it.
type WindowStore interface {
	Get(ctx context.Context, phoneNumberID, waID string) (window.State, error)
	Close(ctx context.Context, phoneNumberID, waID string, at time.Time) error
}

// IsOpen reports whether a free-form message to waID may be sent now.
func (c *windowCache) IsOpen(ctx context.Context, phoneNumberID, waID string) (bool, error) {
	key := phoneNumberID + "#" + waID
	now := c.now()
	c.mu.Lock()
	until, ok := c.open[key]
	c.mu.Unlock()
	if ok && now.Before(until) {
		return true, nil
	}
	c.mu.Lock()
	ra, ahead := c.ahead[key]
	c.mu.Unlock()
	if ahead && now.Sub(ra.at) < c.fresh() && !now.Before(ra.at) {
		return ra.st.Open(now), nil
	}
	st, err := c.Store.Get(ctx, phoneNumberID, waID)
	if err != nil {
		return false, err
	}
	return c.keep(key, st, now), nil
}

// cachedOpen reports whether the cache trusts waID's window open now.
func (c *windowCache) cachedOpen(phoneNumberID, waID string) bool {
	c.mu.Lock()
	until, ok := c.open[phoneNumberID+"#"+waID]
	c.mu.Unlock()
	return ok && c.now().Before(until)
}

// remember keeps a window a read ahead found (Lookahead): an open one as
// IsOpen caches its own read, a closed one for Fresh.
func (c *windowCache) remember(phoneNumberID, waID string, st window.State) {
	key, now := phoneNumberID+"#"+waID, c.now()
	if c.keep(key, st, now) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ahead == nil {
		c.ahead = map[string]readAhead{}
	}
	if len(c.ahead) >= maxWindowCache {
		for k, ra := range c.ahead {
			if now.Sub(ra.at) >= c.fresh() {
				delete(c.ahead, k)
			}
		}
	}
	if len(c.ahead) < maxWindowCache {
		c.ahead[key] = readAhead{st: st, at: now}
	}
}

// forgetAhead drops a closed window an earlier read ahead found, so the
// job reads it itself.
func (c *windowCache) forgetAhead(phoneNumberID, waID string) {
	c.mu.Lock()
	delete(c.ahead, phoneNumberID+"#"+waID)
	c.mu.Unlock()
}

func (c *windowCache) fresh() time.Duration {
	if c.Fresh > 0 {
		return c.Fresh
	}
	return DefaultLookaheadFresh
}

// keep caches st, read at now, when it is open, and reports whether it is.
func (c *windowCache) keep(key string, st window.State, now time.Time) bool {
	if !st.Open(now) {
		c.forget(key)
		return false
	}
	until := st.LastInbound.Add(window.Length)
	if ttl := c.ttl(); now.Add(ttl).Before(until) {
		until = now.Add(ttl)
	}
	c.mu.Lock()
	if c.open == nil {
		c.open = map[string]time.Time{}
	}
	if len(c.open) >= maxWindowCache {
		for k, u := range c.open {
			if !now.Before(u) {
				delete(c.open, k)
			}
		}
	}
	if len(c.open) < maxWindowCache {
		c.open[key] = until
	}
	c.mu.Unlock()
	return true
}

// Close records the closed window and stops trusting the cached "open".
func (c *windowCache) Close(ctx context.Context, phoneNumberID, waID string, at time.Time) error {
	c.forget(phoneNumberID + "#" + waID)
	return c.Store.Close(ctx, phoneNumberID, waID, at)
}

func (c *windowCache) forget(key string) {
	c.mu.Lock()
	delete(c.open, key)
	c.mu.Unlock()
}

func (c *windowCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *windowCache) ttl() time.Duration {
	if c.TTL > 0 {
		return c.TTL
	}
	return DefaultWindowCacheTTL
}
