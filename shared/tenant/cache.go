package tenant

import (
	"container/list"
	"sync"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Cache bounds of a Registry, when its fields are zero.
const (
	// DefaultCacheSize is how many registry items (tenants, numbers,
	// WABAs) a Registry keeps: every tenant of a large deployment and its
	// numbers, a few MB at most.
	DefaultCacheSize = 10000
	// DefaultMissCacheSize is how many keys a Registry remembers as not
	// registered. Kept apart from found items, so that lookups of made-up
	// keys never push a real tenant out.
	DefaultMissCacheSize = 1000
)

// lru is a map bounded to size entries that drops the least recently used
// one when full. An entry past its expiry is still held (a stale entry
// tells the Registry the key existed) until it is replaced or dropped.
type lru struct {
	size  int
	order *list.List // front: most recently used
	items map[string]*list.Element
}

type lruEntry struct {
	key     string
	item    map[string]ddbtypes.AttributeValue
	expires time.Time
}

func newLRU(size int) *lru {
	return &lru{size: size, order: list.New(), items: map[string]*list.Element{}}
}

// get returns key's entry, fresh or not, and marks it used.
func (c *lru) get(key string) (lruEntry, bool) {
	el, ok := c.items[key]
	if !ok {
		return lruEntry{}, false
	}
	c.order.MoveToFront(el)
	return *el.Value.(*lruEntry), true
}

func (c *lru) put(key string, item map[string]ddbtypes.AttributeValue, expires time.Time) {
	if el, ok := c.items[key]; ok {
		e := el.Value.(*lruEntry)
		e.item, e.expires = item, expires
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry{key: key, item: item, expires: expires})
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*lruEntry).key)
	}
}

func (c *lru) remove(key string) {
	if el, ok := c.items[key]; ok {
		c.order.Remove(el)
		delete(c.items, key)
	}
}

func (c *lru) len() int { return c.order.Len() }

// LookupBudget is a token bucket bounding how often a Registry reads
// DynamoDB for keys it does not know to exist (see Registry.Unknown). It
// is safe for concurrent use.
type LookupBudget struct {
	// PerSecond is the sustained rate of lookups; Burst how many may
	// follow each other after a quiet period (at least 1).
	PerSecond float64
	Burst     int

	mu     sync.Mutex
	tokens float64
	last   time.Time
	primed bool
}

// take spends one lookup at now, or reports there is none left.
func (b *LookupBudget) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	burst := float64(max(b.Burst, 1))
	if !b.primed {
		b.tokens, b.last, b.primed = burst, now, true
	}
	if now.After(b.last) {
		b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*b.PerSecond)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
