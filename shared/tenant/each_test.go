package tenant_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/shared/tenant"
)

// TestEach: every tenant runs, at most n at a time and n at once when
// there are enough, each error lands at its tenant's place, and with the
// deadline within the margin no tenant starts (each is left for the next
// run with ErrDeadline).
func TestEach(t *testing.T) {
	ts := make([]tenant.Tenant, 20)
	for i := range ts {
		ts[i] = tenant.Tenant{ID: fmt.Sprintf("t%02d", i)}
	}
	t.Run("n at a time", func(t *testing.T) {
		const n = 4
		var mu sync.Mutex
		inFlight, most := 0, 0
		full := make(chan struct{})
		var once sync.Once
		errs := tenant.Each(context.Background(), ts, n, time.Second, func(_ context.Context, tn tenant.Tenant) error {
			mu.Lock()
			inFlight++
			most = max(most, inFlight)
			if inFlight == n {
				once.Do(func() { close(full) })
			}
			mu.Unlock()
			select {
			case <-full: // the first n wait until all n run
			case <-time.After(10 * time.Second):
			}
			mu.Lock()
			inFlight--
			mu.Unlock()
			if tn.ID == "t07" {
				return errors.New("t07 failed")
			}
			return nil
		})
		if most != n {
			t.Errorf("at most %d tenants at once, want %d", most, n)
		}
		for i, err := range errs {
			if (err != nil) != (i == 7) {
				t.Errorf("tenant %d: %v", i, err)
			}
		}
	})
	t.Run("deadline within the margin", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ran := 0
		errs := tenant.Each(ctx, ts, 4, time.Minute, func(context.Context, tenant.Tenant) error { ran++; return nil })
		if ran != 0 {
			t.Errorf("%d tenants started with the deadline within the margin", ran)
		}
		for i, err := range errs {
			if !errors.Is(err, tenant.ErrDeadline) {
				t.Errorf("tenant %d: %v, want ErrDeadline", i, err)
			}
		}
	})
}
