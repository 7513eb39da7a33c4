package sender

import (
	"context"
	"fmt"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/suppression"
)

// Suppressions tells whether a tenant's suppression list holds a contact
// (a wa_id, a phone number or a BSUID); *suppression.Store satisfies it.
// Errors are classified Retry.
type Suppressions interface {
	Suppressed(ctx context.Context, tenantID, contact string) (bool, error)
}

// checkSuppressed fails a template job to a contact on the tenant's
// suppression list (reason suppressed, not retryable) before anything
// reaches Meta. Only templates are checked: they are how a business
// starts a conversation (campaigns, notifications), which an opt-out
// refuses; free-form messages answer a contact inside the window the
// contact opened, and cost no read. The recipient is checked as the job
// names it and as WhatsApp knows it (a different wa_id), so an opt-out
// recorded under either holds. A list that cannot be read holds the job
// back (retry): nothing is sent that might be suppressed.
func (h *Handler) checkSuppressed(ctx context.Context, a *attempt) (*Failure, error) {
	job := a.job
	if h.Suppressions == nil || job.Type != outbound.TypeTemplate {
		return nil, nil
	}
	contacts := []string{job.RecipientID()}
	if ka, err := suppression.Key(a.to); err == nil {
		if kj, err := suppression.Key(job.RecipientID()); err != nil || kj != ka {
			contacts = append(contacts, a.to)
		}
	}
	for _, c := range contacts {
		on, err := h.Suppressions.Suppressed(ctx, job.TenantID, c)
		if err != nil {
			return nil, fmt.Errorf("check suppression list for job %s: %w", job.JobID, err)
		}
		if on {
			h.count("OutboundSuppressed")
			return &Failure{Reason: event.ReasonSuppressed,
				Details: "the recipient is on the tenant's suppression list (opted out); templates are not sent to it"}, nil
		}
	}
	return nil, nil
}
