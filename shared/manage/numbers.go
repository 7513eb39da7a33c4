package manage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// Registry reads the tenant registry (tenant.Registry). Errors wrap
// tenant.ErrNotFound for what is not registered; others are retryable.
type Registry interface {
	Tenant(ctx context.Context, id string) (tenant.Tenant, error)
	Number(ctx context.Context, phoneNumberID string) (tenant.Number, error)
}

// Secrets reads a tenant's sending secret (tenant.Vault); the function
// may read the tenants' sending secrets only. Errors are retryable, or
// permanent for a malformed secret.
type Secrets interface {
	Credentials(ctx context.Context, secretID string) (tenant.Credentials, error)
}

// Meta is the part of the Graph API the number routes call, with the
// tenant's own token (graph.Client). Errors are *graph.Error.
type Meta interface {
	PhoneNumber(ctx context.Context, token, phoneNumberID string) (graph.PhoneNumber, error)
	BusinessProfile(ctx context.Context, token, phoneNumberID string) (graph.BusinessProfile, error)
	UpdateBusinessProfile(ctx context.Context, token, phoneNumberID string, u graph.ProfileUpdate) error
	BlockUsers(ctx context.Context, token, phoneNumberID string, block bool, users []string) (graph.BlockResult, error)
	BlockedUsers(ctx context.Context, token, phoneNumberID string, limit int, after string) (graph.BlockedPage, error)
}

// Error codes of the number routes.
const (
	CodeTenantNotFound      = "tenant_not_found"
	CodePhoneNumberNotFound = "phone_number_not_found"
	CodeMetaRefused         = "meta_refused"
)

// NumberView is a business number as GET …/phone-numbers (and wacloudctl
// numbers list) shows it: the registry's entry joined with Meta's status
// of the number.
type NumberView struct {
	PhoneNumberID          string `json:"phone_number_id"`
	WABAID                 string `json:"waba_id"`
	DisplayPhoneNumber     string `json:"display_phone_number"`
	VerifiedName           string `json:"verified_name"`
	NameStatus             string `json:"name_status"`
	CodeVerificationStatus string `json:"code_verification_status"`
	QualityRating          string `json:"quality_rating"`
	MessagingLimitTier     string `json:"messaging_limit_tier"`
	Throughput             struct {
		Level     string `json:"level"`
		PerSecond int    `json:"messages_per_second"`
	} `json:"throughput"`
	LastOnboardedTime string `json:"last_onboarded_time,omitempty"`
	Status            string `json:"status,omitempty"`
	OnBizApp          bool   `json:"on_biz_app"`
}

func (h *Handler) numberRoutes() []Route {
	return []Route{
		{Method: http.MethodGet, Path: "/v1/tenants/{tenant_id}/phone-numbers", Serve: h.listNumbers},
	}
}

// listNumbers answers GET /v1/tenants/{tenant_id}/phone-numbers.
func (h *Handler) listNumbers(ctx context.Context, r *Request) (Response, *Error) {
	data, e := h.Numbers(ctx, r.Tenant, r.Log)
	if e != nil {
		return Response{}, e
	}
	return Response{Status: http.StatusOK, Body: struct {
		Data []NumberView `json:"data"`
	}{data}}, nil
}

// Numbers lists every number the registry gives the tenant, with what
// Meta says of it now (read with the tenant's own token), in the
// registry's order. The error is the API's answer.
func (h *Handler) Numbers(ctx context.Context, tenantID string, log *slog.Logger) ([]NumberView, *Error) {
	if log == nil {
		log = h.log().With("tenant_id", tenantID)
	}
	t, token, e := h.tenantToken(ctx, tenantID, log)
	if e != nil {
		return nil, e
	}
	out := []NumberView{}
	for _, id := range t.PhoneNumbers {
		n, err := h.Tenants.Number(ctx, id)
		if errors.Is(err, tenant.ErrNotFound) {
			continue // listed by the tenant, removed meanwhile
		}
		if err != nil {
			log.ErrorContext(ctx, "registry unreadable", "phone_number_id", id, "error", err.Error())
			return nil, unavailable()
		}
		if n.TenantID != tenantID {
			continue
		}
		p, err := h.Meta.PhoneNumber(ctx, token, id)
		if err != nil {
			return nil, metaError(ctx, log, fmt.Sprintf("Meta could not describe number %s", id), err)
		}
		v := NumberView{PhoneNumberID: id, WABAID: n.WABAID, DisplayPhoneNumber: p.DisplayPhoneNumber, VerifiedName: p.VerifiedName,
			NameStatus: p.NameStatus, CodeVerificationStatus: p.CodeVerificationStatus, QualityRating: p.QualityRating,
			MessagingLimitTier: p.MessagingLimitTier, LastOnboardedTime: p.LastOnboardedTime, Status: p.Status,
			OnBizApp: n.OnBizApp || p.IsOnBizApp}
		if v.DisplayPhoneNumber == "" {
			v.DisplayPhoneNumber = n.DisplayPhoneNumber
		}
		v.Throughput.Level = p.Throughput.Level
		v.Throughput.PerSecond = n.Limit()
		out = append(out, v)
	}
	return out, nil
}

// tenantToken reads the path tenant's registry entry and access token.
func (h *Handler) tenantToken(ctx context.Context, tenantID string, log *slog.Logger) (tenant.Tenant, string, *Error) {
	if h.Tenants == nil || h.Secrets == nil || h.Meta == nil {
		return tenant.Tenant{}, "", unavailable()
	}
	t, err := h.Tenants.Tenant(ctx, tenantID)
	switch {
	case errors.Is(err, tenant.ErrNotFound):
		return tenant.Tenant{}, "", errorf(http.StatusNotFound, CodeTenantNotFound, fmt.Sprintf("tenant %s is not registered", tenantID))
	case err != nil:
		log.ErrorContext(ctx, "registry unreadable", "error", err.Error())
		return tenant.Tenant{}, "", unavailable()
	}
	c, err := h.Secrets.Credentials(ctx, t.SecretID)
	if err != nil || c.AccessToken == "" {
		if err == nil {
			err = errors.New("empty access token")
		}
		log.ErrorContext(ctx, "tenant credentials unreadable", "class", fault.ClassOf(err).String(), "error", err.Error())
		return tenant.Tenant{}, "", unavailable()
	}
	return t, c.AccessToken, nil
}

// tenantNumber checks that the path's {phone_number_id} is a number of
// the path's tenant and returns the tenant's token. A number of another
// tenant answers 404 like an unknown one: a tenant learns nothing of
// another's numbers.
func (h *Handler) tenantNumber(ctx context.Context, r *Request) (string, string, *Error) {
	id := r.Path["phone_number_id"]
	if _, err := strconv.ParseUint(id, 10, 64); err != nil || len(id) > 20 {
		return "", "", errorf(http.StatusBadRequest, CodeInvalidPhoneNumberID, "the path's phone number id must be Meta's numeric phone number id")
	}
	if h.Tenants == nil {
		return "", "", unavailable()
	}
	n, err := h.Tenants.Number(ctx, id)
	switch {
	case errors.Is(err, tenant.ErrNotFound) || (err == nil && n.TenantID != r.Tenant):
		return "", "", errorf(http.StatusNotFound, CodePhoneNumberNotFound, fmt.Sprintf("tenant %s has no phone number %s", r.Tenant, id))
	case err != nil:
		r.Log.ErrorContext(ctx, "registry unreadable", "phone_number_id", id, "error", err.Error())
		return "", "", unavailable()
	}
	_, token, e := h.tenantToken(ctx, r.Tenant, r.Log)
	return id, token, e
}

// CodeInvalidPhoneNumberID: the path's phone number id is not numeric.
const CodeInvalidPhoneNumberID = "invalid_phone_number_id"

// metaError answers a failed Graph call: Meta's refusal as 422
// meta_refused (502 when Meta refused the tenant's token), a failure
// worth retrying as 503, each with Meta's code and text in details.
func metaError(ctx context.Context, log *slog.Logger, message string, err error) *Error {
	ge, ok := graph.AsError(err)
	if !ok {
		log.ErrorContext(ctx, "graph call failed", "error", err.Error())
		return unavailable()
	}
	details := []string{fmt.Sprintf("meta error %s: %s", ge.CodeString(), ge.Message)}
	if d := ge.Details(); d != ge.Message {
		details = append(details, d)
	}
	if ge.Transport {
		details = []string{"meta could not be reached"}
	}
	if graph.Classify(ge) == fault.Retry {
		log.WarnContext(ctx, "graph call failed; the caller may retry", "code", ge.CodeString())
		e := unavailable()
		e.Details = details
		return e
	}
	log.WarnContext(ctx, "meta refused", "code", ge.CodeString())
	if ge.Code == graph.CodeInvalidToken {
		return errorf(http.StatusBadGateway, CodeMetaRefused, "Meta refused the tenant's access token; rotate it (wacloudctl tenant rotate) and retry", details...)
	}
	return errorf(http.StatusUnprocessableEntity, CodeMetaRefused, message, details...)
}
