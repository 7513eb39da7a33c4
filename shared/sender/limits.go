package sender

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/msglimit"
)

// MessagingLimits counts the unique recipients of business-initiated
// messages per business portfolio (Meta's messaging limit);
// *msglimit.Store satisfies it. Errors are fault-classified (Retry for
// storage failures).
type MessagingLimits interface {
	// Reserve counts recipient for portfolio at now, or says it would
	// exceed the tier.
	Reserve(ctx context.Context, portfolio, recipient string, now time.Time) (msglimit.Decision, error)
	// State is the portfolio's tier as last reported (cached briefly).
	State(ctx context.Context, portfolio string, now time.Time) (msglimit.State, error)
	// Apply records the tier Meta reports for the number.
	Apply(ctx context.Context, r msglimit.Report) (bool, error)
}

// PhoneNumbers reads a number's status at Meta (messaging_limit_tier,
// quality_rating); *graph.Client satisfies it. Errors are *graph.Error.
type PhoneNumbers interface {
	PhoneNumber(ctx context.Context, token, phoneNumberID string) (graph.PhoneNumber, error)
}

// MetricLimited counts sends refused or failed for a messaging limit:
// Code "tier" (refused here, before Meta), 131049 (Meta's per-user
// marketing limit) or 131048 (spam rate limit).
const MetricLimited = "OutboundMessagingLimited"

// tierRefreshEvery is how often an instance asks Meta for a portfolio's
// tier while none is recorded (a number onboarded before the tier was
// kept, or Meta never sent a quality update).
const tierRefreshEvery = 10 * time.Minute

// tierReads remembers when this instance last asked Meta for a number's
// tier.
type tierReads struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (r *tierReads) due(phoneNumberID string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.at[phoneNumberID]; ok && now.Sub(last) < tierRefreshEvery && !now.Before(last) {
		return false
	}
	if r.at == nil {
		r.at = map[string]time.Time{}
	}
	r.at[phoneNumberID] = now
	return true
}

// messagingLimit counts a business-initiated message (a template outside
// the recipient's customer service window) against its portfolio's
// messaging limit, before the number's pacing. Over the tier the job fails
// as messaging_limit, permanent for this job (it never reaches Meta, which
// would fail it), retryable for the core once capacity frees. Templates
// inside the window, other messages, and unlimited portfolios cost no
// call beyond the portfolio's cached tier.
func (h *Handler) messagingLimit(ctx context.Context, a *attempt) (*Failure, error) {
	job := a.job
	if h.Limits == nil || job.Type != "template" || a.waba == "" {
		return nil, nil
	}
	now := h.now()
	st, err := h.Limits.State(ctx, a.waba, now)
	if err != nil {
		return nil, err
	}
	if !st.Known() && h.PhoneNumbers != nil && h.tierReads.due(job.PhoneNumberID, now) {
		st = h.readTier(ctx, a, st, now)
	}
	if st.Unlimited {
		return nil, nil
	}
	open, err := h.windowOpen(ctx, a)
	if err != nil || open {
		return nil, err // inside the window: a service message, not counted
	}
	d, err := h.Limits.Reserve(ctx, a.waba, a.to, now)
	if err != nil {
		return nil, err
	}
	if d.OK() {
		return nil, nil
	}
	h.count(MetricLimited, "Code", "tier")
	a.log.WarnContext(ctx, "messaging limit reached: business-initiated send refused", "waba_id", a.waba,
		"tier", d.Tier, "limit", d.Limit, "free_at", d.FreeAt.UTC().Format(time.RFC3339))
	return &Failure{Reason: event.ReasonMessagingLimit, Retryable: true,
		Details: fmt.Sprintf("the business portfolio (WABA %s) reached its messaging limit %s: %d unique recipients of business-initiated messages in a rolling 24 hours; capacity frees from %s",
			a.waba, d.Tier, d.Limit, d.FreeAt.UTC().Format(time.RFC3339))}, nil
}

// readTier asks Meta for the number's tier and records it; a failure is
// logged and the send goes on counted (the tier stays unknown).
func (h *Handler) readTier(ctx context.Context, a *attempt, st msglimit.State, now time.Time) msglimit.State {
	p, err := h.PhoneNumbers.PhoneNumber(ctx, a.creds.AccessToken, a.job.PhoneNumberID)
	if err != nil {
		a.log.WarnContext(ctx, "could not read the number's messaging limit tier from Meta", "error", err.Error())
		return st
	}
	if _, _, ok := msglimit.TierLimit(p.MessagingLimitTier); !ok {
		a.log.WarnContext(ctx, "Meta gave no known messaging limit tier", "tier", p.MessagingLimitTier)
		return st
	}
	r := msglimit.Report{Portfolio: a.waba, PhoneNumberID: a.job.PhoneNumberID, Tier: p.MessagingLimitTier,
		Quality: p.QualityRating, Status: p.Status, At: now}
	if _, err := h.Limits.Apply(ctx, r); err != nil {
		a.log.WarnContext(ctx, "could not record the messaging limit tier", "error", err.Error())
		return st
	}
	a.log.InfoContext(ctx, "messaging limit tier read from Meta", "waba_id", a.waba, "tier", p.MessagingLimitTier)
	limit, unlimited, _ := msglimit.TierLimit(p.MessagingLimitTier)
	st.Tier, st.Limit, st.Unlimited, st.At = p.MessagingLimitTier, limit, unlimited, now
	return st
}

// limitedByMeta handles Meta's own limits on a failed send: 131049 (the
// recipient's per-user marketing limit: Meta asks not to retry for 24
// hours) and 131048 (spam rate limit on the number: back off). Both are
// permanent for the job and counted.
func (h *Handler) limitedByMeta(ctx context.Context, a *attempt, ge *graph.Error, f *Failure) {
	switch ge.Code {
	case graph.CodeMarketingLimit:
		h.count(MetricLimited, "Code", "131049")
		f.Retryable = true
		f.Details = joinDetails(f.Details, "Meta's per-user marketing limit: do not send this recipient marketing templates again for at least 24 hours")
	case graph.CodeSpamRateLimit:
		h.count(MetricLimited, "Code", "131048")
		a.log.ErrorContext(ctx, "Meta's spam rate limit hit on the number: back off its business-initiated sends", "code", ge.Code)
		f.Details = joinDetails(f.Details, "Meta's spam rate limit on this number: slow down and review the number's quality before sending more")
	}
}

func joinDetails(meta, ours string) string {
	if meta == "" {
		return ours
	}
	return meta + " (" + ours + ")"
}

var _ MessagingLimits = (*msglimit.Store)(nil)
var _ PhoneNumbers = (*graph.Client)(nil)
