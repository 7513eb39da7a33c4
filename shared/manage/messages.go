package manage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/queue"
)

// Codes of the messages route.
const (
	CodeInvalidJob     = "invalid_job"     // the job breaks the contract (the sender's invalid_job)
	CodeTenantMismatch = "tenant_mismatch" // the body names a tenant other than the path's
	CodeIdempotencyKey = "idempotency_key_mismatch"
	// CodeTemplateInvalid: a template job that does not fit the template
	// as the tenant's catalog holds it (the sender's template_invalid).
	CodeTemplateInvalid = "template_invalid"
)

// TemplateLookup reads one template of a tenant's catalog
// (catalog.Store). Get's error wraps catalog.ErrNotFound for a template
// the catalog does not hold.
type TemplateLookup interface {
	Get(ctx context.Context, tenantID string, k catalog.Key) (catalog.Template, error)
}

// Accepted is the answer to a queued job.
type Accepted struct {
	JobID string `json:"job_id"`
}

func (h *Handler) messageRoutes() []Route {
	return []Route{
		{Method: http.MethodPost, Path: "/v1/tenants/{tenant_id}/messages", Serve: h.sendMessage},
	}
}

// sendMessage validates a job as the sender does and stores it on the
// outbound FIFO queue as the core would: group outbound.Job.GroupID,
// deduplication id job_id. The tenant comes from the path (a body may
// repeat it, not name another); job_id from the body, or from the
// Idempotency-Key header when the body has none. The same job sent again
// within SQS's 5-minute deduplication window is stored once, and the
// sender's job record makes it send once after that.
func (h *Handler) sendMessage(ctx context.Context, r *Request) (Response, *Error) {
	if len(r.Body) == 0 {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidJSON, "the body must be an outbound job (JSON)")
	}
	job, err := outbound.Decode(r.Body)
	if err != nil {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidJob, "the job could not be read", problem(err))
	}
	switch {
	case job.TenantID == "":
		job.TenantID = r.Tenant
	case job.TenantID != r.Tenant:
		return Response{}, errorf(http.StatusBadRequest, CodeTenantMismatch,
			fmt.Sprintf("the job's tenant_id is not the path's tenant %s", r.Tenant), "tenant_id must be omitted or equal the path's tenant")
	}
	if key := r.Header("Idempotency-Key"); key != "" {
		switch {
		case job.JobID == "":
			job.JobID = key
		case job.JobID != key:
			return Response{}, errorf(http.StatusBadRequest, CodeIdempotencyKey,
				"the Idempotency-Key header and the job's job_id differ", "send one of them, or the same value in both")
		}
	}
	if err := outbound.Validate(job); err != nil {
		var ve *outbound.ValidationError
		if errors.As(err, &ve) {
			return Response{}, errorf(http.StatusBadRequest, CodeInvalidJob, "the job is invalid", ve.Problems...)
		}
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidJob, "the job is invalid", problem(err))
	}
	if problems := h.checkTemplate(ctx, r, job); len(problems) > 0 {
		return Response{}, errorf(http.StatusBadRequest, CodeTemplateInvalid, "the job does not fit the template as the catalog holds it", problems...)
	}
	body, err := json.Marshal(job)
	if err != nil {
		r.Log.ErrorContext(ctx, "encode job", "job_id", job.JobID, "error", err.Error())
		return Response{}, errorf(http.StatusInternalServerError, CodeInternal, "the job could not be encoded")
	}
	if len(body) > MaxBodyBytes {
		return Response{}, errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("the job is over %d bytes", MaxBodyBytes))
	}
	msg := queue.Message{Body: string(body), GroupID: job.GroupID(), DedupID: job.JobID}
	if err := h.Queue.Publish(ctx, h.OutboundQueueURL, msg); err != nil {
		r.Log.ErrorContext(ctx, "enqueue job", "job_id", job.JobID, "error", err.Error())
		return Response{}, unavailable()
	}
	r.Log.InfoContext(ctx, "job queued", "job_id", job.JobID, "type", job.Type)
	return Response{Status: http.StatusAccepted, Body: Accepted{JobID: job.JobID}}, nil
}

// checkTemplate holds a template job against the tenant's catalog, as
// the sender does before it calls Meta (catalog.Check), so a job the
// sender would fail as template_invalid is refused here at once. What
// the sender would leave to Meta is queued: a number the registry does
// not give to this tenant (the sender reports tenant_mismatch), a
// template the catalog does not hold yet, or a catalog or registry that
// cannot be read (the check only saves a refusal later).
func (h *Handler) checkTemplate(ctx context.Context, r *Request, job outbound.Job) []string {
	if h.TemplateLookup == nil || h.Tenants == nil || job.Type != outbound.TypeTemplate || job.Template == nil {
		return nil
	}
	n, err := h.Tenants.Number(ctx, job.PhoneNumberID)
	if err != nil || n.TenantID != r.Tenant || n.WABAID == "" {
		return nil
	}
	k := catalog.Key{WABAID: n.WABAID, Name: job.Template.Name, Language: job.Template.Language.Code}
	t, err := h.TemplateLookup.Get(ctx, r.Tenant, k)
	if err != nil {
		if !errors.Is(err, catalog.ErrNotFound) {
			r.Log.WarnContext(ctx, "template catalog unreadable; the sender checks the job", "job_id", job.JobID, "error", err.Error())
		}
		return nil
	}
	return catalog.Check(t, job.Template)
}

// problem is the part of a decoding error its sender can act on: the path
// and key strictjson names (never a value).
func problem(err error) string {
	var se interface{ Unwrap() error }
	for errors.As(err, &se) {
		inner := se.Unwrap()
		if inner == nil {
			break
		}
		err = inner
	}
	return err.Error()
}
