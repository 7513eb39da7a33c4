package manage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/strictjson"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// Campaigns is the campaigns table (campaign.Store): every read and
// change is by tenant and id, so a tenant reaches its own campaigns only.
// Errors wrap campaign.ErrNotFound, ErrExists (with the stored campaign)
// and ErrState (with the campaign as it is); others are retryable.
type Campaigns interface {
	Create(ctx context.Context, c campaign.Campaign) (campaign.Campaign, error)
	Get(ctx context.Context, tenantID, id string) (campaign.Campaign, error)
	List(ctx context.Context, tenantID string) ([]campaign.Campaign, error)
	Transition(ctx context.Context, tenantID, id, to, reason string, from ...string) (campaign.Campaign, error)
}

// CampaignControl asks the campaign runner to start a campaign at a time
// (now, or its start_at) and forgets a cancelled one's start
// (campaign.Control). Errors are retryable; a command sent twice is
// harmless.
type CampaignControl interface {
	Start(ctx context.Context, tenantID, id string, at time.Time) error
	Unschedule(ctx context.Context, tenantID, id string, at time.Time) error
}

// Codes of the campaign routes.
const (
	CodeInvalidCampaign  = "invalid_campaign"   // the create request is not a campaign the API can run
	CodeCampaignNotFound = "campaign_not_found" // the tenant has no campaign with that id
	CodeCampaignState    = "campaign_state"     // pause, resume or cancel from a state that does not allow it
)

// campaignList is the answer of GET …/campaigns.
type campaignList struct {
	Data []campaign.Campaign `json:"data"`
}

func (h *Handler) campaignRoutes() []Route {
	const base = "/v1/tenants/{tenant_id}/campaigns"
	return []Route{
		{Method: http.MethodPost, Path: base, Serve: h.createCampaign},
		{Method: http.MethodGet, Path: base, Serve: h.listCampaigns},
		{Method: http.MethodGet, Path: base + "/{campaign_id}", Serve: h.getCampaign},
		{Method: http.MethodPost, Path: base + "/{campaign_id}/pause", Serve: h.changeCampaign(campaign.StatePaused,
			campaign.StateScheduled, campaign.StateRunning, campaign.StateWaitingForCapacity)},
		{Method: http.MethodPost, Path: base + "/{campaign_id}/resume", Serve: h.changeCampaign(campaign.StateRunning, campaign.StatePaused)},
		{Method: http.MethodPost, Path: base + "/{campaign_id}/cancel", Serve: h.changeCampaign(campaign.StateCancelled,
			campaign.StateScheduled, campaign.StateRunning, campaign.StateWaitingForCapacity, campaign.StatePaused)},
	}
}

// createCampaign answers POST …/campaigns: the request is checked (the
// audience in the tenant's own prefix of the data bucket, the number the
// tenant's, the template in its catalog and approved), stored as
// scheduled or running, and the runner is told. An Idempotency-Key makes
// the request repeatable: the same key answers the campaign it created.
func (h *Handler) createCampaign(ctx context.Context, r *Request) (Response, *Error) {
	if h.Campaigns == nil || h.CampaignControl == nil {
		return Response{}, unavailable()
	}
	var req campaign.Request
	if err := strictjson.Unmarshal(r.Body, &req); err != nil {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidJSON, "the body must be a campaign (JSON)", problem(err))
	}
	now := h.now().UTC()
	if problems := req.Check(r.Tenant, h.Bucket, now); len(problems) > 0 {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidCampaign, "the campaign is invalid", problems...)
	}
	if problems, e := h.checkCampaignTemplate(ctx, r, req); e != nil {
		return Response{}, e
	} else if len(problems) > 0 {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidCampaign, "the campaign is invalid", problems...)
	}
	id := campaign.NewID(r.Tenant, r.Header("Idempotency-Key"))
	state, start := campaign.StateRunning, now
	var startAt *string
	if req.StartAt.Value != nil {
		at, _ := time.Parse(time.RFC3339, *req.StartAt.Value)
		at = at.UTC()
		s := at.Format(time.RFC3339)
		startAt = &s
		if at.After(now) {
			state, start = campaign.StateScheduled, at
		}
	}
	stamp := now.Format(time.RFC3339Nano)
	c := campaign.Campaign{
		ID: id, TenantID: r.Tenant, Name: req.Name, PhoneNumberID: req.PhoneNumberID, Template: req.Template,
		Audience: req.Audience, StartAt: startAt, RateLimit: req.RateLimit.Value, ClientRef: req.ClientRef,
		State: state, FailedByReason: map[string]int64{}, Pricing: map[string]int64{},
		Report:    "s3://" + h.Bucket + "/" + campaign.ReportPrefix(r.Tenant, id),
		CreatedAt: stamp, UpdatedAt: stamp,
	}
	stored, err := h.Campaigns.Create(ctx, c)
	switch {
	case errors.Is(err, campaign.ErrExists):
		// The same Idempotency-Key again: the campaign it created (its
		// run command was sent then; sending it again is harmless).
		c = stored
	case err != nil:
		r.Log.ErrorContext(ctx, "store campaign", "campaign_id", id, "error", err.Error())
		return Response{}, unavailable()
	}
	if err := h.CampaignControl.Start(ctx, r.Tenant, id, start); err != nil {
		// The campaign is stored; the same request with its
		// Idempotency-Key sends the command again.
		r.Log.ErrorContext(ctx, "start campaign", "campaign_id", id, "error", err.Error())
		return Response{}, unavailable()
	}
	r.Log.InfoContext(ctx, "campaign created", "campaign_id", id, "state", c.State, "phone_number_id", c.PhoneNumberID)
	return Response{Status: http.StatusCreated, Body: c}, nil
}

// checkCampaignTemplate checks the number is the tenant's and the
// template is in the tenant's catalog for the number's WABA and
// approved. A registry or catalog that cannot be read is a 503: a
// campaign is not started blind.
func (h *Handler) checkCampaignTemplate(ctx context.Context, r *Request, req campaign.Request) ([]string, *Error) {
	if h.Tenants == nil || h.TemplateLookup == nil {
		return nil, unavailable()
	}
	n, err := h.Tenants.Number(ctx, req.PhoneNumberID)
	switch {
	case errors.Is(err, tenant.ErrNotFound), err == nil && n.TenantID != r.Tenant:
		return []string{fmt.Sprintf("phone_number_id %s is not a number of tenant %s", req.PhoneNumberID, r.Tenant)}, nil
	case err != nil:
		r.Log.ErrorContext(ctx, "read number", "phone_number_id", req.PhoneNumberID, "error", err.Error())
		return nil, unavailable()
	}
	k := catalog.Key{WABAID: n.WABAID, Name: req.Template.Name, Language: req.Template.Language}
	t, err := h.TemplateLookup.Get(ctx, r.Tenant, k)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return []string{fmt.Sprintf("template %s (%s) is not in the tenant's catalog for the number's WABA (a template created at Meta appears after the next sync)",
			req.Template.Name, req.Template.Language)}, nil
	case err != nil:
		r.Log.ErrorContext(ctx, "read template", "template", req.Template.Name, "error", err.Error())
		return nil, unavailable()
	case t.Status != catalog.StatusApproved:
		return []string{fmt.Sprintf("template %s (%s) is %s at Meta: only APPROVED templates can be sent", t.Name, t.Language, t.Status)}, nil
	}
	return nil, nil
}

func (h *Handler) listCampaigns(ctx context.Context, r *Request) (Response, *Error) {
	if h.Campaigns == nil {
		return Response{}, unavailable()
	}
	all, err := h.Campaigns.List(ctx, r.Tenant)
	if err != nil {
		r.Log.ErrorContext(ctx, "list campaigns", "error", err.Error())
		return Response{}, unavailable()
	}
	return Response{Status: http.StatusOK, Body: campaignList{Data: all}}, nil
}

func (h *Handler) getCampaign(ctx context.Context, r *Request) (Response, *Error) {
	id, e := campaignID(r)
	if e != nil {
		return Response{}, e
	}
	if h.Campaigns == nil {
		return Response{}, unavailable()
	}
	c, err := h.Campaigns.Get(ctx, r.Tenant, id)
	if errors.Is(err, campaign.ErrNotFound) {
		return Response{}, errorf(http.StatusNotFound, CodeCampaignNotFound, fmt.Sprintf("tenant %s has no campaign %s", r.Tenant, id))
	}
	if err != nil {
		r.Log.ErrorContext(ctx, "read campaign", "campaign_id", id, "error", err.Error())
		return Response{}, unavailable()
	}
	return Response{Status: http.StatusOK, Body: c}, nil
}

// changeCampaign serves pause, resume and cancel: the campaign moves to
// state to from one of from, or the answer is 409 with its state. The
// runner is told at once: a resumed campaign goes on, a paused or
// cancelled one's event reaches the core, and its run in progress stops
// at its next checkpoint (within seconds). The
// same change repeated answers the campaign as it is (200).
func (h *Handler) changeCampaign(to string, from ...string) func(ctx context.Context, r *Request) (Response, *Error) {
	return func(ctx context.Context, r *Request) (Response, *Error) {
		id, e := campaignID(r)
		if e != nil {
			return Response{}, e
		}
		if h.Campaigns == nil || h.CampaignControl == nil {
			return Response{}, unavailable()
		}
		target, start := to, h.now()
		if to == campaign.StateRunning {
			// A campaign paused before its start_at goes back to
			// waiting for it.
			c, err := h.Campaigns.Get(ctx, r.Tenant, id)
			if err == nil && c.StartAt != nil {
				if at, perr := time.Parse(time.RFC3339, *c.StartAt); perr == nil && at.After(h.now()) {
					target, start = campaign.StateScheduled, at
				}
			}
		}
		c, err := h.Campaigns.Transition(ctx, r.Tenant, id, target, "", from...)
		switch {
		case errors.Is(err, campaign.ErrNotFound):
			return Response{}, errorf(http.StatusNotFound, CodeCampaignNotFound, fmt.Sprintf("tenant %s has no campaign %s", r.Tenant, id))
		case errors.Is(err, campaign.ErrState) && c.State == target:
			// Repeated: answered as it is (a resume wakes the runner
			// again, harmlessly).
		case errors.Is(err, campaign.ErrState):
			return Response{}, errorf(http.StatusConflict, CodeCampaignState,
				fmt.Sprintf("campaign %s is %s: it cannot be moved to %s", id, c.State, target))
		case err != nil:
			r.Log.ErrorContext(ctx, "change campaign", "campaign_id", id, "to", to, "error", err.Error())
			return Response{}, unavailable()
		}
		// A resumed campaign's runner goes on; for a pause or
		// cancel it reports the change to the core (once: the
		// event id is the change's).
		if err := h.CampaignControl.Start(ctx, r.Tenant, id, start); err != nil {
			// Changed but not woken: the same request again
			// answers 200 and sends the command again.
			r.Log.ErrorContext(ctx, "wake campaign", "campaign_id", id, "error", err.Error())
			return Response{}, unavailable()
		}
		// A cancelled campaign's start schedule goes (a paused one's
		// stays: a resume before the start finds it made). If it
		// cannot, it fires once and the runner finds the campaign over.
		if to == campaign.StateCancelled && c.StartAt != nil {
			if at, perr := time.Parse(time.RFC3339, *c.StartAt); perr == nil && at.After(h.now()) {
				if err := h.CampaignControl.Unschedule(ctx, r.Tenant, id, at); err != nil {
					r.Log.WarnContext(ctx, "start schedule of a cancelled campaign left to fire", "campaign_id", id, "error", err.Error())
				}
			}
		}
		r.Log.InfoContext(ctx, "campaign changed", "campaign_id", id, "state", c.State)
		return Response{Status: http.StatusOK, Body: c}, nil
	}
}

func campaignID(r *Request) (string, *Error) {
	id := r.Path["campaign_id"]
	if !campaign.ValidID(id) {
		return "", errorf(http.StatusNotFound, CodeCampaignNotFound, "the path's campaign id is not a campaign id")
	}
	return id, nil
}
