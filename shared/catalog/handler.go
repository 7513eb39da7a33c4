package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// Tenants lists the registry's tenants (tenant.Registry).
type Tenants interface {
	List(ctx context.Context) ([]tenant.Tenant, error)
}

// Secrets reads a tenant's sending credentials (tenant.Vault). Errors
// are retryable unless the secret is missing or malformed.
type Secrets interface {
	Credentials(ctx context.Context, secretID string) (tenant.Credentials, error)
}

// Handler is the scheduled templates function: on every EventBridge
// schedule event it syncs the catalog of every active tenant from Meta,
// repairing what webhooks missed. A tenant that fails (an expired token,
// Meta unavailable) does not stop the others; the invocation then fails,
// so the failure shows in the function's errors, and the next run tries
// again.
//
// Tenants are synced Concurrency at a time, in an order that changes
// every run, and no tenant is started within DeadlineMargin of the
// invocation's deadline: one after the other, a few hundred tenants
// (a Graph listing and a write per template each) outran the function's
// timeout, and the same tenants at the end of the list were never
// synced. A tenant left for the next run fails the invocation too.
type Handler struct {
	Tenants Tenants
	Secrets Secrets
	Syncer  *Syncer
	Metrics *metrics.Recorder
	Log     *slog.Logger
	// Concurrency is how many tenants sync at once (default
	// DefaultConcurrency).
	Concurrency int
	// DeadlineMargin is how long before the deadline no tenant starts
	// (default DefaultDeadlineMargin).
	DeadlineMargin time.Duration
}

// Defaults of Handler.
const (
	DefaultConcurrency    = 8
	DefaultDeadlineMargin = 20 * time.Second
)

// Handle runs one scheduled sync.
func (h *Handler) Handle(ctx context.Context, _ events.EventBridgeEvent) error {
	ts, err := h.Tenants.List(ctx)
	if err != nil {
		return fmt.Errorf("scheduled template sync: %w", err)
	}
	var active []tenant.Tenant
	for _, t := range ts {
		if t.Status == tenant.StatusActive && len(t.WABAIDs) > 0 {
			active = append(active, t)
		}
	}
	rand.Shuffle(len(active), func(i, j int) { active[i], active[j] = active[j], active[i] })
	errs := tenant.Each(ctx, active, h.concurrency(), h.margin(), func(ctx context.Context, t tenant.Tenant) error {
		start := time.Now()
		res, err := h.SyncTenant(ctx, t)
		log := h.log().With("tenant_id", t.ID, "templates", res.Listed, "removed", res.Removed, "duration_ms", time.Since(start).Milliseconds())
		if err != nil {
			log.ErrorContext(ctx, "template sync failed", "error", err.Error())
			h.count("TemplateSyncFailed")
			return err
		}
		log.InfoContext(ctx, "templates synced")
		h.count("TemplateSyncs")
		return nil
	})
	var failed []error
	left := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, tenant.ErrDeadline):
			left++
		case err != nil:
			failed = append(failed, err)
		}
	}
	h.log().InfoContext(ctx, "scheduled template sync done", "tenants", len(active)-len(failed)-left, "failed", len(failed), "left_for_next_run", left)
	if left > 0 {
		failed = append(failed, fmt.Errorf("%d tenant(s) %w", left, tenant.ErrDeadline))
	}
	if len(failed) > 0 {
		return fmt.Errorf("scheduled template sync: %d tenant(s) failed: %w", len(failed), errors.Join(failed...))
	}
	return nil
}

func (h *Handler) concurrency() int {
	if h.Concurrency > 0 {
		return h.Concurrency
	}
	return DefaultConcurrency
}

func (h *Handler) margin() time.Duration {
	if h.DeadlineMargin > 0 {
		return h.DeadlineMargin
	}
	return DefaultDeadlineMargin
}

// SyncTenant syncs every WABA of the tenant with its own token.
func (h *Handler) SyncTenant(ctx context.Context, t tenant.Tenant) (Result, error) {
	c, err := h.Secrets.Credentials(ctx, t.SecretID)
	if err != nil {
		return Result{}, fmt.Errorf("sync templates of tenant %s: read credentials: %w", t.ID, err)
	}
	return h.Syncer.SyncTenant(ctx, t.ID, t.WABAIDs, c.AccessToken)
}

func (h *Handler) count(name string) {
	if h.Metrics != nil {
		h.Metrics.Count(name, 1)
	}
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}
