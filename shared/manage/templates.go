package manage

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/tucanlink/wacloud/shared/catalog"
)

// Catalog lists a tenant's message templates from the template catalog
// (catalog.Store) and records what the API creates or deletes. Errors are
// retryable.
type Catalog interface {
	List(ctx context.Context, tenantID string) ([]catalog.Template, error)
	Put(ctx context.Context, t catalog.Template) error
	Delete(ctx context.Context, tenantID string, k catalog.Key) error
}

// Template filters take Meta's values.
var (
	templateStatuses   = []string{"APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED", "IN_APPEAL", "PENDING_DELETION", "DELETED", "LIMIT_EXCEEDED", "ARCHIVED"}
	templateCategories = []string{"MARKETING", "UTILITY", "AUTHENTICATION"}
)

// Error codes of the template routes.
const (
	CodeInvalidFilter    = "invalid_filter"
	CodeTemplateNotFound = "template_not_found"
)

// templateView is a template as the API shows it.
type templateView struct {
	Name            string          `json:"name"`
	Language        string          `json:"language"`
	Status          string          `json:"status"`
	Category        string          `json:"category"`
	Quality         string          `json:"quality,omitempty"`
	ParameterFormat string          `json:"parameter_format,omitempty"`
	Components      json.RawMessage `json:"components"`
	ID              string          `json:"id"`
	WABAID          string          `json:"waba_id"`
	SyncedAt        string          `json:"synced_at"`
}

// templateList is the answer of both template routes: the templates and
// when the oldest of them was last read from Meta (null before any sync).
type templateList struct {
	Data     []templateView `json:"data"`
	SyncedAt *string        `json:"synced_at"`
}

func (h *Handler) templateRoutes() []Route {
	routes := []Route{
		{Method: http.MethodGet, Path: "/v1/tenants/{tenant_id}/templates", Serve: h.listTemplates},
		{Method: http.MethodGet, Path: "/v1/tenants/{tenant_id}/templates/{name}", Serve: h.getTemplate},
	}
	return append(routes, h.templateWriteRoutes()...)
}

// listTemplates answers GET /v1/tenants/{tenant_id}/templates from the
// synced catalog, filtered by status, name, language and category.
func (h *Handler) listTemplates(ctx context.Context, r *Request) (Response, *Error) {
	var problems []string
	for k := range r.Query {
		if !slices.Contains([]string{"status", "name", "language", "category"}, k) {
			problems = append(problems, fmt.Sprintf("unknown query parameter %q (filters: status, name, language, category)", k))
		}
	}
	status, category := r.Query["status"], r.Query["category"]
	if status != "" && !slices.Contains(templateStatuses, status) {
		problems = append(problems, fmt.Sprintf("status %q must be one of %s", status, strings.Join(templateStatuses, ", ")))
	}
	if category != "" && !slices.Contains(templateCategories, category) {
		problems = append(problems, fmt.Sprintf("category %q must be one of %s", category, strings.Join(templateCategories, ", ")))
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidFilter, "the query has filters the API does not take", problems...)
	}
	all, e := h.catalogOf(ctx, r)
	if e != nil {
		return Response{}, e
	}
	out := list(all, func(t catalog.Template) bool {
		return (status == "" || t.Status == status) && (category == "" || t.Category == category) &&
			(r.Query["name"] == "" || t.Name == r.Query["name"]) && (r.Query["language"] == "" || t.Language == r.Query["language"])
	})
	return Response{Status: http.StatusOK, Body: out}, nil
}

// getTemplate answers GET /v1/tenants/{tenant_id}/templates/{name}: the
// template in every language the catalog holds.
func (h *Handler) getTemplate(ctx context.Context, r *Request) (Response, *Error) {
	name := r.Path["name"]
	all, e := h.catalogOf(ctx, r)
	if e != nil {
		return Response{}, e
	}
	out := list(all, func(t catalog.Template) bool { return t.Name == name })
	if len(out.Data) == 0 {
		return Response{}, errorf(http.StatusNotFound, CodeTemplateNotFound,
			fmt.Sprintf("the tenant's template catalog has no template %q (a template created at Meta appears after the next sync)", name))
	}
	return Response{Status: http.StatusOK, Body: out}, nil
}

func (h *Handler) catalogOf(ctx context.Context, r *Request) ([]catalog.Template, *Error) {
	if h.Templates == nil {
		return nil, unavailable()
	}
	all, err := h.Templates.List(ctx, r.Tenant)
	if err != nil {
		r.Log.ErrorContext(ctx, "template catalog unreadable", "error", err.Error())
		return nil, unavailable()
	}
	return all, nil
}

// list keeps the templates keep accepts; synced_at is the oldest sync
// among them.
func list(all []catalog.Template, keep func(catalog.Template) bool) templateList {
	out := templateList{Data: []templateView{}}
	for _, t := range all {
		if !keep(t) {
			continue
		}
		comps := t.Components
		if len(comps) == 0 {
			comps = json.RawMessage(`[]`)
		}
		out.Data = append(out.Data, templateView{Name: t.Name, Language: t.Language, Status: t.Status, Category: t.Category,
			Quality: t.Quality, ParameterFormat: t.ParameterFormat, Components: comps, ID: t.ID, WABAID: t.WABAID, SyncedAt: t.SyncedAt})
		if out.SyncedAt == nil || t.SyncedAt < *out.SyncedAt {
			s := t.SyncedAt
			out.SyncedAt = &s
		}
	}
	return out
}
