package metrics

import "sync"

// Other is the value a Bounded dimension takes once its limit is reached.
const Other = "other"

// Bounded caps the distinct values one dimension takes in this process:
// the first Limit values seen keep their own, every later one is Other.
// CloudWatch bills each distinct dimension combination as a metric, so a
// dimension fed from data (a tenant id) must not grow with the data. The
// cap is per process (per Lambda instance): with more values than Limit,
// instances may disagree on which ones are Other. The zero value has no
// limit set and uses DefaultLimit. It is safe for concurrent use.
type Bounded struct {
	Limit int

	mu   sync.Mutex
	seen map[string]bool
}

// DefaultLimit is Bounded's limit when none is set.
const DefaultLimit = 50

// Value returns v, or Other when v is new and the limit is reached. An
// empty v is Other too (a dimension value cannot be empty).
func (b *Bounded) Value(v string) string {
	if v == "" || v == Other {
		return Other
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen[v] {
		return v
	}
	limit := b.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	if len(b.seen) >= limit {
		return Other
	}
	if b.seen == nil {
		b.seen = map[string]bool{}
	}
	b.seen[v] = true
	return v
}
