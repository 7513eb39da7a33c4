package tenant

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrDeadline is wrapped by the error of a tenant Each did not start, the
// invocation's deadline being too near: it is left for the next run.
var ErrDeadline = errors.New("left for the next run: the invocation's deadline is near")

// Each runs fn for every tenant of ts, n at a time, and returns
// each one's error, in ts's order. A tenant not started when the
// deadline of ctx is margin away or nearer is not started at all: its
// error wraps ErrDeadline.
func Each(ctx context.Context, ts []Tenant, n int, margin time.Duration, fn func(context.Context, Tenant) error) []error {
	errs := make([]error, len(ts))
	sem := make(chan struct{}, max(n, 1))
	var wg sync.WaitGroup
	for i, t := range ts {
		sem <- struct{}{}
		if d, ok := ctx.Deadline(); ok && time.Until(d) <= margin {
			<-sem
			errs[i] = fmt.Errorf("tenant %s: %w", t.ID, ErrDeadline)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = fn(ctx, t)
		}()
	}
	wg.Wait()
	return errs
}
