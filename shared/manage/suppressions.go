package manage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/strictjson"
	"github.com/tucanlink/wacloud/shared/suppression"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// Suppressions is the tenants' suppression lists (suppression.Store).
// Every call names the tenant, so a tenant reaches its own list only.
// Errors are fault-classified: Invalid for a contact Key refuses or a
// cursor List did not make, Retry for the rest.
type Suppressions interface {
	Add(ctx context.Context, e suppression.Entry) (stored suppression.Entry, added bool, err error)
	Remove(ctx context.Context, tenantID, contact string) (removed bool, err error)
	Get(ctx context.Context, tenantID, contact string) (suppression.Entry, bool, error)
	List(ctx context.Context, tenantID string, limit int, cursor string) (suppression.Page, error)
}

// OptOutSettings reads and replaces a tenant's opt-out settings
// (tenant.Registry). OptOutSettings reads the table, not a cache. Errors
// wrap tenant.ErrNotFound for a tenant not registered; others are
// retryable.
type OptOutSettings interface {
	OptOutSettings(ctx context.Context, tenantID string) (*tenant.OptOut, error)
	SetOptOut(ctx context.Context, tenantID string, o *tenant.OptOut) error
}

// Codes of the suppression and opt-out routes.
const (
	CodeInvalidContact      = "invalid_contact"       // the path's contact is not a phone number or business-scoped user id
	CodeInvalidSuppression  = "invalid_suppression"   // a POST body that breaks a rule
	CodeSuppressionNotFound = "suppression_not_found" // the contact is not on the tenant's list
	CodeInvalidOptOut       = "invalid_opt_out"       // opt-out settings that break a rule
)

// SuppressionRequest is the body of POST …/suppressions.
type SuppressionRequest struct {
	// Contact is a phone number (E.164, with or without +) or a
	// business-scoped user id.
	Contact string `json:"contact"`
	// Note says why, for people (at most suppression.MaxNoteChars).
	Note string `json:"note"`
}

// suppressionPage answers GET …/suppressions, paged as the blocked users
// are: after is the next page's cursor, null on the last.
type suppressionPage struct {
	Data   []suppression.Entry `json:"data"`
	Paging struct {
		After *string `json:"after"`
	} `json:"paging"`
}

// suppressionRemoved answers DELETE …/suppressions/{contact}.
type suppressionRemoved struct {
	Contact string `json:"contact"`
	Removed bool   `json:"removed"`
}

// OptOutView is a tenant's opt-out settings as GET and PUT …/opt-out
// answer them: the settings PUT takes, and the defaults a null stands for.
type OptOutView struct {
	Enabled bool `json:"enabled"`
	// Keywords are the configured stop keywords; nil (null): the
	// defaults, DefaultKeywords.
	Keywords []string `json:"keywords"`
	// Reply is the configured confirmation; nil (null): the default, in
	// the language of the keyword the contact wrote.
	Reply           *string  `json:"reply"`
	DefaultKeywords []string `json:"default_keywords"`
}

// OptOutRequest is the body of PUT …/opt-out: every setting, replacing
// the stored ones.
type OptOutRequest struct {
	Enabled  *bool              `json:"enabled"`
	Keywords nullable[[]string] `json:"keywords"`
	Reply    nullable[string]   `json:"reply"`
}

// nullable is a request value that may be null or left out (both: Value
// nil).
type nullable[T any] struct{ Value *T }

func (n *nullable[T]) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		n.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	n.Value = &v
	return nil
}

func (h *Handler) suppressionRoutes() []Route {
	const base = "/v1/tenants/{tenant_id}/suppressions"
	return []Route{
		{Method: http.MethodGet, Path: base, Serve: h.listSuppressions},
		{Method: http.MethodPost, Path: base, Serve: h.addSuppression},
		{Method: http.MethodGet, Path: base + "/{contact}", Serve: h.getSuppression},
		{Method: http.MethodDelete, Path: base + "/{contact}", Serve: h.removeSuppression},
		{Method: http.MethodGet, Path: "/v1/tenants/{tenant_id}/opt-out", Serve: h.getOptOut},
		{Method: http.MethodPut, Path: "/v1/tenants/{tenant_id}/opt-out", Serve: h.putOptOut},
	}
}

// listSuppressions answers one page of the tenant's list, in contact
// order. The cursor names a contact only: it reads on in the caller's own
// list whatever it holds.
func (h *Handler) listSuppressions(ctx context.Context, r *Request) (Response, *Error) {
	limit := suppression.DefaultPageSize
	var problems []string
	for k, v := range r.Query {
		switch k {
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > suppression.MaxPageSize {
				problems = append(problems, fmt.Sprintf("limit must be a number from 1 to %d", suppression.MaxPageSize))
			}
			limit = n
		case "after":
			if v == "" {
				problems = append(problems, "after must be the paging.after of the previous page")
			}
		default:
			problems = append(problems, fmt.Sprintf("unknown query parameter %q (limit, after)", k))
		}
	}
	if len(problems) > 0 {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidFilter, "the query has parameters the API does not take", problems...)
	}
	if h.Suppressions == nil {
		return Response{}, unavailable()
	}
	page, err := h.Suppressions.List(ctx, r.Tenant, limit, r.Query["after"])
	if fault.ClassOf(err) == fault.Invalid {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidFilter, "after is not a cursor this list gave", "after must be the paging.after of the previous page")
	}
	if err != nil {
		r.Log.ErrorContext(ctx, "list suppressions", "error", err.Error())
		return Response{}, unavailable()
	}
	out := suppressionPage{Data: page.Entries}
	if page.Next != "" {
		out.Paging.After = &page.Next
	}
	return Response{Status: http.StatusOK, Body: out}, nil
}

// addSuppression puts a contact on the tenant's list (reason api): 201
// with the entry, or 200 with the entry already there (its first reason
// and time are kept), so a repeated request is harmless.
func (h *Handler) addSuppression(ctx context.Context, r *Request) (Response, *Error) {
	var in SuppressionRequest
	if err := strictjson.Unmarshal(r.Body, &in); err != nil {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidJSON, `the body must be {"contact":"+5511999990001","note":"…"}`, problem(err))
	}
	var problems []string
	if _, err := suppression.Key(in.Contact); err != nil {
		problems = append(problems, "contact "+contactRule)
	}
	if n := len([]rune(in.Note)); n > suppression.MaxNoteChars {
		problems = append(problems, fmt.Sprintf("note is %d characters, over %d", n, suppression.MaxNoteChars))
	}
	if len(problems) > 0 {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidSuppression, "the contact cannot be added", problems...)
	}
	if h.Suppressions == nil {
		return Response{}, unavailable()
	}
	stored, added, err := h.Suppressions.Add(ctx, suppression.Entry{TenantID: r.Tenant, Contact: in.Contact, Reason: suppression.ReasonAPI,
		At: h.now(), Note: in.Note})
	if err != nil {
		r.Log.ErrorContext(ctx, "add suppression", "error", err.Error())
		return Response{}, unavailable()
	}
	r.Log.InfoContext(ctx, "suppression added", "added", added, "reason", stored.Reason)
	if !added {
		return Response{Status: http.StatusOK, Body: stored}, nil
	}
	return Response{Status: http.StatusCreated, Body: stored}, nil
}

func (h *Handler) getSuppression(ctx context.Context, r *Request) (Response, *Error) {
	contact, e := pathContact(r)
	if e != nil {
		return Response{}, e
	}
	if h.Suppressions == nil {
		return Response{}, unavailable()
	}
	entry, found, err := h.Suppressions.Get(ctx, r.Tenant, contact)
	if err != nil {
		r.Log.ErrorContext(ctx, "read suppression", "error", err.Error())
		return Response{}, unavailable()
	}
	if !found {
		return Response{}, errorf(http.StatusNotFound, CodeSuppressionNotFound, fmt.Sprintf("the contact is not on tenant %s's suppression list", r.Tenant))
	}
	return Response{Status: http.StatusOK, Body: entry}, nil
}

// removeSuppression takes a contact off the list: template jobs and
// campaigns reach it again. Removing a contact that is not listed
// answers removed false, so a repeated request is harmless.
func (h *Handler) removeSuppression(ctx context.Context, r *Request) (Response, *Error) {
	contact, e := pathContact(r)
	if e != nil {
		return Response{}, e
	}
	if h.Suppressions == nil {
		return Response{}, unavailable()
	}
	removed, err := h.Suppressions.Remove(ctx, r.Tenant, contact)
	if err != nil {
		r.Log.ErrorContext(ctx, "remove suppression", "error", err.Error())
		return Response{}, unavailable()
	}
	r.Log.InfoContext(ctx, "suppression removed", "removed", removed)
	key, _ := suppression.Key(contact)
	return Response{Status: http.StatusOK, Body: suppressionRemoved{Contact: key, Removed: removed}}, nil
}

// pathContact is the path's {contact}, a contact Key accepts.
func pathContact(r *Request) (string, *Error) {
	c := r.Path["contact"]
	if strings.Contains(c, "%") {
		if u, err := url.PathUnescape(c); err == nil {
			c = u
		}
	}
	if _, err := suppression.Key(c); err != nil {
		return "", errorf(http.StatusBadRequest, CodeInvalidContact, "the path's contact is not one a suppression list holds", "the path's contact "+contactRule)
	}
	return c, nil
}

const contactRule = "must be a phone number (8 to 15 digits, optional leading +; spaces, dashes and parentheses are ignored) or a business-scoped user id (CC.digits)"

func (h *Handler) getOptOut(ctx context.Context, r *Request) (Response, *Error) {
	if h.OptOut == nil {
		return Response{}, unavailable()
	}
	o, err := h.OptOut.OptOutSettings(ctx, r.Tenant)
	if e := optOutError(ctx, r, "read opt-out settings", err); e != nil {
		return Response{}, e
	}
	return Response{Status: http.StatusOK, Body: optOutView(o)}, nil
}

// putOptOut replaces the tenant's opt-out settings, every rule checked
// first (all broken ones listed). enabled is required; keywords and reply
// null or left out are the defaults. The inbound function reads the
// settings with the tenant, so a change reaches it within the registry
// cache's minute.
func (h *Handler) putOptOut(ctx context.Context, r *Request) (Response, *Error) {
	var in OptOutRequest
	if err := strictjson.Unmarshal(r.Body, &in); err != nil {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidJSON, `the body must be {"enabled":true,"keywords":["STOP",…] or null,"reply":"…" or null}`, problem(err))
	}
	var problems []string
	if in.Enabled == nil {
		problems = append(problems, "enabled is required: true to act on stop keywords, false to ignore them")
	}
	var keywords []string
	if in.Keywords.Value != nil {
		keywords = *in.Keywords.Value
		if keywords == nil {
			keywords = []string{}
		}
	}
	problems = append(problems, suppression.CheckKeywords(keywords)...)
	reply := ""
	if in.Reply.Value != nil {
		reply = *in.Reply.Value
		if reply == "" {
			problems = append(problems, "reply is empty: give a text, or null for the default reply")
		}
	}
	problems = append(problems, suppression.CheckReply(reply)...)
	if len(problems) > 0 {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidOptOut, "the opt-out settings are invalid", problems...)
	}
	if h.OptOut == nil {
		return Response{}, unavailable()
	}
	var o *tenant.OptOut
	if !*in.Enabled || keywords != nil || reply != "" {
		o = &tenant.OptOut{Disabled: !*in.Enabled, Keywords: keywords, Reply: reply}
	}
	err := h.OptOut.SetOptOut(ctx, r.Tenant, o)
	if e := optOutError(ctx, r, "set opt-out settings", err); e != nil {
		return Response{}, e
	}
	r.Log.InfoContext(ctx, "opt-out settings changed", "enabled", *in.Enabled, "keywords", len(keywords), "custom_reply", reply != "")
	return Response{Status: http.StatusOK, Body: optOutView(o)}, nil
}

func optOutError(ctx context.Context, r *Request, op string, err error) *Error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tenant.ErrNotFound):
		return errorf(http.StatusNotFound, CodeTenantNotFound, fmt.Sprintf("tenant %s is not registered", r.Tenant))
	}
	r.Log.ErrorContext(ctx, op, "error", err.Error())
	return unavailable()
}

func optOutView(o *tenant.OptOut) OptOutView {
	v := OptOutView{Enabled: true, DefaultKeywords: suppression.DefaultKeywords}
	if o == nil {
		return v
	}
	v.Enabled = !o.Disabled
	if len(o.Keywords) > 0 {
		v.Keywords = o.Keywords
	}
	if o.Reply != "" {
		v.Reply = &o.Reply
	}
	return v
}
