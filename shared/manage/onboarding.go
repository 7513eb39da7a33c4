package manage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/onboard"
	"github.com/tucanlink/wacloud/shared/strictjson"
)

// Error codes of the onboarding routes.
const (
	CodeInvalidOnboarding = "invalid_onboarding"
	CodeOnboardingFailed  = "onboarding_failed"
)

// Onboarding runs and reads Embedded Signup onboardings
// (onboard.Onboarder). Run's errors are *onboard.StepError (classified
// Invalid when the business or the caller must act, Retry otherwise) once
// a step ran, fault Invalid for a request it refuses before any step,
// others for a state it could not read. State's found is false for an
// unknown id.
type Onboarding interface {
	Run(ctx context.Context, req onboard.Request) (onboard.State, error)
	State(ctx context.Context, id string) (onboard.State, bool, error)
}

var onboardingID = regexp.MustCompile(`^onb_[0-9a-f]{20}$`)

func (h *Handler) onboardingRoutes() []Route {
	return []Route{
		{Method: http.MethodPost, Path: "/v1/onboarding", Serve: h.onboard},
		{Method: http.MethodGet, Path: "/v1/onboarding/{onboarding_id}", Serve: h.getOnboarding},
	}
}

// onboardingFailure answers a failed step: the error (Meta's code,
// subcode and message in details) and the state with the failed step.
type onboardingFailure struct {
	Error      *Error        `json:"error"`
	Onboarding onboard.State `json:"onboarding"`
}

// onboard starts or resumes an onboarding and runs its steps within the
// request: 201 when this request completed it, 200 when it was complete
// already, 422 when a step failed for a reason the business or the caller
// must fix (a spent code, a missing permission, Meta refusing the
// registration), 502 when Meta failed and 503 when AWS did (retry both:
// the same request continues from the failed step).
func (h *Handler) onboard(ctx context.Context, r *Request) (Response, *Error) {
	var in onboard.Request
	if err := strictjson.Unmarshal(r.Body, &in); err != nil {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidJSON,
			`the body must be {"code","waba_id","phone_number_id","tenant_id","tenant_name"}`, problem(err))
	}
	if err := onboard.Check(in); err != nil {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidOnboarding, "the onboarding request is not valid", publicProblem(err))
	}
	log := r.Log.With("tenant_id", in.TenantID, "phone_number_id", in.PhoneNumberID)
	if !mayActFor(r.Claims, in.TenantID) {
		log.WarnContext(ctx, "token does not grant the tenant to onboard", "client_id", r.Claims["client_id"], "sub", r.Claims["sub"])
		return Response{}, errorf(http.StatusForbidden, CodeForbiddenTenant, fmt.Sprintf("the token may not act for tenant %s", in.TenantID))
	}
	before, _, err := h.Onboarding.State(ctx, onboard.ID(in.TenantID, in.WABAID, in.PhoneNumberID))
	if err != nil {
		log.ErrorContext(ctx, "read onboarding", "error", err.Error())
		return Response{}, unavailable()
	}
	st, err := h.Onboarding.Run(ctx, in)
	var se *onboard.StepError
	switch {
	case err == nil && before.Status == onboard.StatusCompleted:
		return Response{Status: http.StatusOK, Body: st}, nil
	case err == nil:
		log.InfoContext(ctx, "tenant onboarded", "onboarding_id", st.ID)
		return Response{Status: http.StatusCreated, Body: st}, nil
	case errors.As(err, &se):
		status := http.StatusBadGateway
		switch {
		case fault.ClassOf(err) == fault.Invalid:
			status = http.StatusUnprocessableEntity
		case se.Failure.Reason == onboard.ReasonInternal:
			status = http.StatusServiceUnavailable
		}
		f := se.Failure
		detail := fmt.Sprintf("%s: %s", f.Step, f.Message)
		if f.Reason == onboard.ReasonMeta && f.Code != 0 {
			detail = fmt.Sprintf("%s: Meta error %d (subcode %d): %s", f.Step, f.Code, f.Subcode, f.Message)
		}
		e := errorf(status, CodeOnboardingFailed, fmt.Sprintf("onboarding stopped at step %s (%s); send the same request again to continue from there", f.Step, f.Reason), detail)
		return Response{Status: status, Body: onboardingFailure{Error: e, Onboarding: st}}, nil
	case fault.ClassOf(err) == fault.Invalid:
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidOnboarding, "the onboarding request is not valid", publicProblem(err))
	default:
		log.ErrorContext(ctx, "onboarding", "error", err.Error())
		return Response{}, unavailable()
	}
}

// getOnboarding answers an onboarding's state. One of a tenant the token
// does not grant is answered 404, as an unknown one: ids are derived from
// tenant, WABA and number, and their existence is not another tenant's to
// learn.
func (h *Handler) getOnboarding(ctx context.Context, r *Request) (Response, *Error) {
	id := r.Path["onboarding_id"]
	notFound := errorf(http.StatusNotFound, CodeNotFound, "no such onboarding")
	if !onboardingID.MatchString(id) {
		return Response{}, notFound
	}
	st, found, err := h.Onboarding.State(ctx, id)
	if err != nil {
		r.Log.ErrorContext(ctx, "read onboarding", "onboarding_id", id, "error", err.Error())
		return Response{}, unavailable()
	}
	if !found || !mayActFor(r.Claims, st.TenantID) {
		return Response{}, notFound
	}
	return Response{Status: http.StatusOK, Body: st}, nil
}

// publicProblem is a refused request's reason: onboard.Check's messages
// name fields, never values.
func publicProblem(err error) string {
	msg := err.Error()
	var fe *fault.Error
	if errors.As(err, &fe) && fe.Err != nil {
		msg = fe.Err.Error()
	}
	return msg
}
