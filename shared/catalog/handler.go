package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
type Handler struct {
	Tenants Tenants
	Secrets Secrets
	Syncer  *Syncer
	Metrics *metrics.Recorder
	Log     *slog.Logger
}

// Handle runs one scheduled sync.
func (h *Handler) Handle(ctx context.Context, _ events.EventBridgeEvent) error {
	ts, err := h.Tenants.List(ctx)
	if err != nil {
		return fmt.Errorf("scheduled template sync: %w", err)
	}
	var failed []error
	synced := 0
	for _, t := range ts {
		if t.Status != tenant.StatusActive || len(t.WABAIDs) == 0 {
			continue
		}
		start := time.Now()
		res, err := h.SyncTenant(ctx, t)
		log := h.log().With("tenant_id", t.ID, "templates", res.Listed, "removed", res.Removed, "duration_ms", time.Since(start).Milliseconds())
		if err != nil {
			log.ErrorContext(ctx, "template sync failed", "error", err.Error())
			h.count("TemplateSyncFailed")
			failed = append(failed, err)
			continue
		}
		log.InfoContext(ctx, "templates synced")
		h.count("TemplateSyncs")
		synced++
	}
	h.log().InfoContext(ctx, "scheduled template sync done", "tenants", synced, "failed", len(failed))
	if len(failed) > 0 {
		return fmt.Errorf("scheduled template sync: %d tenant(s) failed: %w", len(failed), errors.Join(failed...))
	}
	return nil
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
