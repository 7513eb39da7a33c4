package manage

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"time"

	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/strictjson"
)

// Error codes of the template create and delete routes.
const (
	CodeInvalidTemplate = "invalid_template"
	CodeWABARequired    = "waba_required"
)

// TemplateMeta is the part of the Graph API the template create and
// delete routes call with the tenant's token (graph.Client).
type TemplateMeta interface {
	CreateTemplate(ctx context.Context, token, wabaID string, body any) (graph.CreatedTemplate, error)
	DeleteTemplate(ctx context.Context, token, wabaID, name, hsmID string) error
}

// TemplateRequest is the body of POST …/templates: Meta's create shape
// plus the WABA to create it in (optional when the tenant has one WABA).
type TemplateRequest struct {
	WABAID string `json:"waba_id,omitempty"`
	catalog.NewTemplate
}

// deletedTemplate is one template DELETE …/templates/{name} removed.
type deletedTemplate struct {
	Name     string `json:"name"`
	Language string `json:"language"`
	ID       string `json:"id"`
	WABAID   string `json:"waba_id"`
}

func (h *Handler) templateWriteRoutes() []Route {
	return []Route{
		{Method: http.MethodPost, Path: "/v1/tenants/{tenant_id}/templates", Serve: h.createTemplate},
		{Method: http.MethodDelete, Path: "/v1/tenants/{tenant_id}/templates/{name}", Serve: h.deleteTemplate},
	}
}

func (h *Handler) createTemplate(ctx context.Context, r *Request) (Response, *Error) {
	v, created, e := h.CreateTemplate(ctx, r.Tenant, r.Body, r.Log)
	if e != nil {
		return Response{}, e
	}
	if !created {
		return Response{Status: http.StatusOK, Body: v}, nil
	}
	return Response{Status: http.StatusCreated, Body: v}, nil
}

// CreateTemplate checks the template (body: a TemplateRequest) against
// Meta's rules, submits it to Meta in the tenant's WABA and records
// Meta's answer (PENDING, usually) in the catalog at once. The error is
// the API's answer; created is false for a repeated creation: Meta
// already has the template (100/2388024) and the catalog holds it with
// the same category, parameter format and components, which is answered
// as it stands instead of Meta's refusal. wacloudctl templates create
// calls it too.
func (h *Handler) CreateTemplate(ctx context.Context, tenantID string, body []byte, log *slog.Logger) (templateView, bool, *Error) {
	if log == nil {
		log = h.log().With("tenant_id", tenantID)
	}
	var in TemplateRequest
	if err := strictjson.Unmarshal(body, &in); err != nil {
		return templateView{}, false, errorf(http.StatusBadRequest, CodeInvalidJSON,
			`the body must be {"waba_id"?,"name","language","category","parameter_format"?,"components":[…]}`, problem(err))
	}
	if problems := in.Problems(); len(problems) > 0 {
		return templateView{}, false, errorf(http.StatusBadRequest, CodeInvalidTemplate, "the template breaks Meta's template rules", problems...)
	}
	tm, ok := h.Meta.(TemplateMeta)
	if h.Templates == nil || !ok {
		return templateView{}, false, unavailable()
	}
	t, token, e := h.tenantToken(ctx, tenantID, log)
	if e != nil {
		return templateView{}, false, e
	}
	switch {
	case in.WABAID == "" && len(t.WABAIDs) == 1:
		in.WABAID = t.WABAIDs[0]
	case in.WABAID == "":
		return templateView{}, false, errorf(http.StatusBadRequest, CodeWABARequired,
			fmt.Sprintf("tenant %s has %d WhatsApp Business Accounts: name the one to create the template in with waba_id", tenantID, len(t.WABAIDs)))
	case !slices.Contains(t.WABAIDs, in.WABAID):
		return templateView{}, false, errorf(http.StatusBadRequest, CodeWABARequired,
			fmt.Sprintf("waba_id %s is not a WhatsApp Business Account of tenant %s", in.WABAID, tenantID))
	}
	created, err := tm.CreateTemplate(ctx, token, in.WABAID, in.NewTemplate)
	if ge, ok := graph.AsError(err); ok && ge.Subcode == graph.SubcodeTemplateExists {
		if same, found := h.sameTemplate(ctx, tenantID, in); found {
			log.InfoContext(ctx, "template creation repeated", "waba_id", in.WABAID, "template", in.Name, "language", in.Language)
			return same, false, nil
		}
	}
	if err != nil {
		return templateView{}, false, metaError(ctx, log, fmt.Sprintf("Meta refused template %s (%s)", in.Name, in.Language), err)
	}
	now := h.now().UTC().Format(time.RFC3339)
	format := in.ParameterFormat
	if format == "" {
		format = catalog.FormatPositional
	}
	ct := catalog.Template{TenantID: tenantID, WABAID: in.WABAID, ID: created.ID, Name: in.Name, Language: in.Language,
		Status: cmpOr(created.Status, catalog.StatusPending), Category: cmpOr(created.Category, in.Category), ParameterFormat: format,
		Components: in.Components, SyncedAt: now, ChangedAt: now}
	if err := h.Templates.Put(ctx, ct); err != nil {
		// Meta has the template; the next sync records it.
		log.ErrorContext(ctx, "created template not recorded in the catalog", "template", in.Name, "error", err.Error())
	}
	log.InfoContext(ctx, "template created", "waba_id", in.WABAID, "template", in.Name, "language", in.Language, "id", created.ID)
	return list([]catalog.Template{ct}, func(catalog.Template) bool { return true }).Data[0], true, nil
}

// sameTemplate finds the catalog's template of the request's WABA, name
// and language when it is the one requested (same category, parameter
// format and components, compared as JSON values).
func (h *Handler) sameTemplate(ctx context.Context, tenantID string, in TemplateRequest) (templateView, bool) {
	all, err := h.Templates.List(ctx, tenantID)
	if err != nil {
		return templateView{}, false
	}
	format := cmpOr(in.ParameterFormat, catalog.FormatPositional)
	for _, t := range all {
		if t.WABAID == in.WABAID && t.Name == in.Name && t.Language == in.Language && t.Category == in.Category &&
			cmpOr(t.ParameterFormat, catalog.FormatPositional) == format && sameJSON(t.Components, in.Components) {
			return list([]catalog.Template{t}, func(catalog.Template) bool { return true }).Data[0], true
		}
	}
	return templateView{}, false
}

func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (h *Handler) deleteTemplate(ctx context.Context, r *Request) (Response, *Error) {
	for k := range r.Query {
		if k != "language" && k != "hsm_id" {
			return Response{}, errorf(http.StatusBadRequest, CodeInvalidFilter, "the query has parameters the API does not take",
				fmt.Sprintf("unknown query parameter %q (language, hsm_id)", k))
		}
	}
	gone, e := h.DeleteTemplate(ctx, r.Tenant, r.Path["name"], r.Query["language"], r.Query["hsm_id"], r.Log)
	if e != nil {
		return Response{}, e
	}
	return Response{Status: http.StatusOK, Body: struct {
		Deleted []deletedTemplate `json:"deleted"`
	}{gone}}, nil
}

// DeleteTemplate deletes the tenant's template name at Meta and then from
// the catalog: every language (Meta deletes by name), or only one when
// language or Meta's template id hsmID is given (Meta deletes by hsm_id).
// The catalog says which WABA holds the template. It answers what was
// deleted; the error is the API's answer. wacloudctl templates delete
// calls it too.
func (h *Handler) DeleteTemplate(ctx context.Context, tenantID, name, language, hsmID string, log *slog.Logger) ([]deletedTemplate, *Error) {
	if log == nil {
		log = h.log().With("tenant_id", tenantID)
	}
	tm, ok := h.Meta.(TemplateMeta)
	if h.Templates == nil || !ok {
		return nil, unavailable()
	}
	all, err := h.Templates.List(ctx, tenantID)
	if err != nil {
		log.ErrorContext(ctx, "template catalog unreadable", "error", err.Error())
		return nil, unavailable()
	}
	var match []catalog.Template
	for _, t := range all {
		if t.Name == name && (language == "" || t.Language == language) && (hsmID == "" || t.ID == hsmID) {
			match = append(match, t)
		}
	}
	if len(match) == 0 {
		return nil, errorf(http.StatusNotFound, CodeTemplateNotFound,
			fmt.Sprintf("the tenant's template catalog has no template %q%s (a template created at Meta appears after the next sync)", name, which(language, hsmID)))
	}
	_, token, e := h.tenantToken(ctx, tenantID, log)
	if e != nil {
		return nil, e
	}
	// One Meta call per WABA by name, or per template by hsm_id when only
	// some languages go.
	byName := language == "" && hsmID == ""
	done := map[string]bool{}
	gone := []deletedTemplate{}
	for _, t := range match {
		call := t.WABAID
		id := ""
		if !byName {
			call, id = t.WABAID+"#"+t.ID, t.ID
		}
		if !done[call] {
			done[call] = true
			err := tm.DeleteTemplate(ctx, token, t.WABAID, name, id)
			if ge, ok := graph.AsError(err); ok && ge.Subcode == graph.SubcodeTemplateNotFound {
				err = nil // gone at Meta already: the catalog follows
			}
			if err != nil {
				return nil, metaError(ctx, log, fmt.Sprintf("Meta refused to delete template %s", name), err)
			}
		}
		if err := h.Templates.Delete(ctx, tenantID, catalog.Key{WABAID: t.WABAID, Name: t.Name, Language: t.Language}); err != nil {
			log.ErrorContext(ctx, "deleted template still in the catalog", "template", name, "error", err.Error())
			return nil, unavailable()
		}
		gone = append(gone, deletedTemplate{Name: t.Name, Language: t.Language, ID: t.ID, WABAID: t.WABAID})
	}
	log.InfoContext(ctx, "template deleted", "template", name, "deleted", len(gone))
	return gone, nil
}

func which(language, hsmID string) string {
	switch {
	case language != "" && hsmID != "":
		return fmt.Sprintf(" in %s with id %s", language, hsmID)
	case language != "":
		return " in " + language
	case hsmID != "":
		return " with id " + hsmID
	}
	return ""
}
