package graphsim

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Template is a message template of a WhatsApp Business Account, as the
// simulator holds it: Components are kept in the shape Meta lists them.
type Template struct {
	ID              string           `json:"id,omitempty"`
	WABAID          string           `json:"waba_id,omitempty"`
	Name            string           `json:"name"`
	Language        string           `json:"language"`
	Category        string           `json:"category"`
	Status          string           `json:"status"`
	Quality         string           `json:"quality,omitempty"` // GREEN, YELLOW, RED; "" is UNKNOWN
	ParameterFormat string           `json:"parameter_format,omitempty"`
	Components      []map[string]any `json:"components"`
	RejectedReason  string           `json:"rejected_reason,omitempty"`
}

// Template statuses, categories and qualities Meta uses.
var (
	templateStatuses   = []string{"APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED", "IN_APPEAL", "PENDING_DELETION", "DELETED", "LIMIT_EXCEEDED", "ARCHIVED", "FLAGGED"}
	templateCategories = []string{"MARKETING", "UTILITY", "AUTHENTICATION"}
	templateQualities  = []string{"GREEN", "YELLOW", "RED", "UNKNOWN"}
	// templateFields are the fields GET …/message_templates may return;
	// defaultTemplateFields those it returns without `fields`.
	templateFields        = []string{"id", "name", "language", "status", "category", "components", "parameter_format", "quality_score", "rejected_reason", "previous_category"}
	defaultTemplateFields = []string{"name", "parameter_format", "components", "language", "status", "category", "id"}
)

// templatesJSON are real template definitions (from Meta's OpenAPI
// examples and template documentation) the local connector seeds each
// WABA with.
//
//go:embed templates/samples.json
var templatesJSON []byte

// SampleTemplates returns the sample templates for a WABA (IDs are given
// when they are added to a Sim).
func SampleTemplates(wabaID string) []Template {
	var ts []Template
	if err := json.Unmarshal(templatesJSON, &ts); err != nil {
		panic("graphsim: templates/samples.json: " + err.Error()) // embedded, checked by tests
	}
	for i := range ts {
		ts[i].WABAID = wabaID
	}
	return ts
}

// TemplateStats counts what the template endpoints answered.
type TemplateStats struct {
	Listed   int `json:"listed"` // pages served
	Created  int `json:"created"`
	Deleted  int `json:"deleted"`
	Refused  int `json:"refused"`  // create or delete refused
	Webhooks int `json:"webhooks"` // template webhooks posted
}

// templateState holds every WABA's templates. Guarded by Sim.mu.
type templateState struct {
	byID   map[string]*Template
	nextID int64
	stats  TemplateStats
}

// routeTemplates registers GET, POST and DELETE
// /{version}/{waba-id}/message_templates and the simulator's controls:
// GET /_sim/templates?waba_id=…, POST /_sim/templates (add one as is),
// POST /_sim/templates/{id}/status (change status, quality or category,
// posting Meta's webhooks) and GET /_sim/templates/stats.
func (s *Sim) routeTemplates(mux *http.ServeMux, seed []Template) {
	s.templates = templateState{byID: map[string]*Template{}, nextID: 1689556908129832}
	for _, t := range seed {
		s.AddTemplate(t)
	}
	// GET /{version}/{id}/{edge}, not …/message_templates: the literal
	// would be as specific as GET /_media/download/{mediaID}, which the
	// mux refuses.
	mux.HandleFunc("GET /{version}/{id}/{edge}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("edge") {
		case "message_templates":
			s.handleTemplateList(w, r)
		case "phone_numbers":
			s.handlePhoneNumbers(w, r) // signup.go
		case "whatsapp_business_profile":
			s.handleProfileGet(w, r)
		case "block_users":
			s.handleBlockList(w, r)
		default:
			writeError(w, http.StatusBadRequest, 2500, "OAuthException", "Unknown path components: /"+r.PathValue("edge"), "")
		}
	})
	mux.HandleFunc("POST /{version}/{id}/message_templates", s.handleTemplateCreate)
	mux.HandleFunc("DELETE /{version}/{id}/message_templates", s.handleTemplateDelete)
	mux.HandleFunc("GET /_sim/templates", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Templates(r.URL.Query().Get("waba_id")))
	})
	mux.HandleFunc("POST /_sim/templates", func(w http.ResponseWriter, r *http.Request) {
		var t Template
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&t); err != nil || t.WABAID == "" || t.Name == "" || t.Language == "" {
			http.Error(w, `want {"waba_id":"…","name":"…","language":"…","status":"APPROVED","category":"…","components":[…]}`, http.StatusBadRequest)
			return
		}
		writeJSON(w, http.StatusOK, s.AddTemplate(t))
	})
	mux.HandleFunc("POST /_sim/templates/{id}/status", func(w http.ResponseWriter, r *http.Request) {
		var c TemplateChange
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			http.Error(w, `want {"status":"PAUSED","reason":"…","quality":"YELLOW","category":"MARKETING"}`, http.StatusBadRequest)
			return
		}
		t, err := s.ChangeTemplate(r.Context(), r.PathValue("id"), c)
		if err != nil {
			replyJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, t)
	})
	mux.HandleFunc("GET /_sim/templates/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.TemplateStats())
	})
}

// AddTemplate adds t as is (status APPROVED when empty) and returns it
// with its id.
func (s *Sim) AddTemplate(t Template) Template {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.addTemplateLocked(t)
}

func (s *Sim) addTemplateLocked(t Template) *Template {
	ts := &s.templates
	if t.ID == "" {
		ts.nextID++
		t.ID = strconv.FormatInt(ts.nextID, 10)
	}
	if t.Status == "" {
		t.Status = "APPROVED"
	}
	if t.ParameterFormat == "" {
		t.ParameterFormat = "POSITIONAL"
	}
	ts.byID[t.ID] = &t
	return &t
}

// Templates returns a WABA's templates (every WABA's for ""), by id.
func (s *Sim) Templates(wabaID string) []Template {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Template{}
	for _, t := range s.sortedTemplatesLocked(wabaID) {
		out = append(out, *t)
	}
	return out
}

// TemplateStats returns the template endpoints' counters.
func (s *Sim) TemplateStats() TemplateStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.templates.stats
}

// sortedTemplatesLocked lists a WABA's templates by id, which grows with
// creation, so cursors (ids) stay valid across deletions.
func (s *Sim) sortedTemplatesLocked(wabaID string) []*Template {
	var out []*Template
	for _, t := range s.templates.byID {
		if wabaID == "" || t.WABAID == wabaID {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return idLess(out[i].ID, out[j].ID) })
	return out
}

func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// authorizeWABA checks that the request's token belongs to a number of
// the WABA: Meta answers an unknown token with 190, and a WABA the token
// cannot reach (or that does not exist) with 100 subcode 33.
func (s *Sim) authorizeWABA(w http.ResponseWriter, r *http.Request, wabaID string) bool {
	if !s.knownToken(r) {
		writeError(w, http.StatusUnauthorized, 190, "OAuthException", "Invalid OAuth access token - Cannot parse access token", "")
		return false
	}
	token := bearer(r)
	for _, n := range s.numbers() {
		if n.WABAID == wabaID && n.AccessToken == token {
			return true
		}
	}
	writeGraphError(w, http.StatusBadRequest, graphError{Code: 100, Subcode: 33, Type: "GraphMethodException",
		Message: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api", strings.ToLower(r.Method), wabaID)})
	return false
}

// graphError is a Graph error with the user-facing fields template
// endpoints add (error_subcode, error_user_title, error_user_msg).
type graphError struct {
	Code      int    `json:"code"`
	Subcode   int    `json:"error_subcode,omitempty"`
	Type      string `json:"type"`
	Message   string `json:"message"`
	UserTitle string `json:"error_user_title,omitempty"`
	UserMsg   string `json:"error_user_msg,omitempty"`
	Trace     string `json:"fbtrace_id"`
}

func writeGraphError(w http.ResponseWriter, status int, e graphError) {
	if e.Type == "" {
		e.Type = "OAuthException"
	}
	e.Trace = "AsimTrace" + strconv.Itoa(e.Code)
	writeJSON(w, status, map[string]any{"error": e})
}

// templateInvalid is Meta's answer to a template it will not create:
// code 100 "Invalid parameter" with the problem for the user.
func templateInvalid(title, format string, args ...any) *graphError {
	return &graphError{Code: 100, Message: "Invalid parameter", UserTitle: title, UserMsg: fmt.Sprintf(format, args...)}
}

// handleTemplateList serves GET /{version}/{waba-id}/message_templates
// with Meta's filters (status, category, language, name), field selection
// (fields) and cursor paging (limit, after, before).
func (s *Sim) handleTemplateList(w http.ResponseWriter, r *http.Request) {
	wabaID := r.PathValue("id")
	if !s.authorizeWABA(w, r, wabaID) {
		return
	}
	q := r.URL.Query()
	limit := 25
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			paramError("Param limit must be a positive integer").write(w)
			return
		}
		limit = min(n, 1000)
	}
	filters := map[string][]string{}
	for param, allowed := range map[string][]string{"status": templateStatuses, "category": templateCategories, "quality_score": templateQualities} {
		if v := q.Get(param); v != "" {
			for _, x := range strings.Split(v, ",") {
				if !slices.Contains(allowed, x) {
					paramError("Param %s must be one of {%s} - got %q.", param, strings.Join(allowed, ", "), x).write(w)
					return
				}
				filters[param] = append(filters[param], x)
			}
		}
	}
	fields := defaultTemplateFields
	if v := q.Get("fields"); v != "" {
		fields = []string{"id"}
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			if !slices.Contains(templateFields, f) {
				paramError("Tried accessing nonexisting field (%s) on node type (WhatsAppBusinessHSM)", f).write(w)
				return
			}
			if !slices.Contains(fields, f) {
				fields = append(fields, f)
			}
		}
	}
	after, okA := decodeCursor(q.Get("after"))
	before, okB := decodeCursor(q.Get("before"))
	if !okA || !okB {
		paramError("Invalid cursor").write(w)
		return
	}

	s.mu.Lock()
	s.templates.stats.Listed++
	var match []*Template
	for _, t := range s.sortedTemplatesLocked(wabaID) {
		if (filters["status"] != nil && !slices.Contains(filters["status"], t.Status)) ||
			(filters["category"] != nil && !slices.Contains(filters["category"], t.Category)) ||
			(filters["quality_score"] != nil && !slices.Contains(filters["quality_score"], cmp(t.Quality, "UNKNOWN"))) ||
			(q.Get("language") != "" && t.Language != q.Get("language")) ||
			(q.Get("name") != "" && t.Name != q.Get("name")) {
			continue
		}
		match = append(match, t)
	}
	// The page: after a cursor, or the last `limit` before one.
	var start, end int
	switch {
	case after != "":
		start = sort.Search(len(match), func(i int) bool { return idLess(after, match[i].ID) })
		end = min(start+limit, len(match))
	case before != "":
		end = sort.Search(len(match), func(i int) bool { return !idLess(match[i].ID, before) })
		start = max(end-limit, 0)
	default:
		end = min(limit, len(match))
	}
	data := []map[string]any{}
	for _, t := range match[start:end] {
		data = append(data, t.view(fields))
	}
	s.mu.Unlock()

	out := map[string]any{"data": data}
	if len(data) > 0 {
		paging := map[string]any{"cursors": map[string]string{
			"before": encodeCursor(match[start].ID), "after": encodeCursor(match[end-1].ID),
		}}
		if end < len(match) {
			paging["next"] = s.pageURL(r, "after", encodeCursor(match[end-1].ID))
		}
		if start > 0 {
			paging["previous"] = s.pageURL(r, "before", encodeCursor(match[start].ID))
		}
		out["paging"] = paging
	}
	writeJSON(w, http.StatusOK, out)
}

func cmp(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// view is the template as Meta lists it with the given fields.
func (t *Template) view(fields []string) map[string]any {
	v := map[string]any{}
	for _, f := range fields {
		switch f {
		case "id":
			v["id"] = t.ID
		case "name":
			v["name"] = t.Name
		case "language":
			v["language"] = t.Language
		case "status":
			v["status"] = t.Status
		case "category":
			v["category"] = t.Category
		case "parameter_format":
			v["parameter_format"] = t.ParameterFormat
		case "components":
			v["components"] = t.Components
		case "quality_score":
			v["quality_score"] = map[string]any{"score": cmp(t.Quality, "UNKNOWN"), "date": 1700000000}
		case "rejected_reason":
			v["rejected_reason"] = cmp(t.RejectedReason, "NONE")
		}
	}
	return v
}

// Cursors are opaque base64 like Meta's; here they carry a template id.
func encodeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeCursor(c string) (string, bool) {
	if c == "" {
		return "", true
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 {
		return "", false
	}
	for _, r := range string(b) {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return string(b), true
}

// pageURL is the request's URL with the cursor replaced, as Meta's
// paging.next and paging.previous (the token stays in the header).
func (s *Sim) pageURL(r *http.Request, key, cursor string) string {
	q := r.URL.Query()
	q.Del("after")
	q.Del("before")
	q.Set(key, cursor)
	base := strings.TrimRight(s.cfg.BaseURL, "/")
	if base == "" {
		base = "http://" + r.Host
	}
	return base + r.URL.Path + "?" + q.Encode()
}

// handleTemplateCreate serves POST /{version}/{waba-id}/message_templates:
// it checks the template like Meta and stores it PENDING (review is the
// simulator's control, POST /_sim/templates/{id}/status).
func (s *Sim) handleTemplateCreate(w http.ResponseWriter, r *http.Request) {
	wabaID := r.PathValue("id")
	if !s.authorizeWABA(w, r, wabaID) {
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var req templateRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		s.refuseTemplate(w, &graphError{Code: 100, Message: "(#100) Invalid parameter"})
		return
	}
	t, refusal := req.check()
	if refusal != nil {
		s.refuseTemplate(w, refusal)
		return
	}
	t.WABAID, t.Status = wabaID, "PENDING"
	s.mu.Lock()
	for _, o := range s.sortedTemplatesLocked(wabaID) {
		if o.Name == t.Name && o.Language == t.Language {
			s.templates.stats.Refused++
			s.mu.Unlock()
			writeGraphError(w, http.StatusBadRequest, graphError{Code: 100, Subcode: 2388024, Message: "Invalid parameter",
				UserTitle: "Message template already exists",
				UserMsg:   fmt.Sprintf("There is already %s content for this template. You can create a new template and try again.", t.Language)})
			return
		}
	}
	stored := s.addTemplateLocked(t)
	s.templates.stats.Created++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"id": stored.ID, "status": stored.Status, "category": stored.Category})
}

func (s *Sim) refuseTemplate(w http.ResponseWriter, e *graphError) {
	s.mu.Lock()
	s.templates.stats.Refused++
	s.mu.Unlock()
	writeGraphError(w, http.StatusBadRequest, *e)
}

// handleTemplateDelete serves DELETE
// /{version}/{waba-id}/message_templates?name=…[&hsm_id=…]: by name, every
// language of the template goes; with hsm_id, only that one.
func (s *Sim) handleTemplateDelete(w http.ResponseWriter, r *http.Request) {
	wabaID := r.PathValue("id")
	if !s.authorizeWABA(w, r, wabaID) {
		return
	}
	name, hsmID := r.URL.Query().Get("name"), r.URL.Query().Get("hsm_id")
	if name == "" {
		s.refuseTemplate(w, &graphError{Code: 100, Message: "(#100) The parameter name is required"})
		return
	}
	s.mu.Lock()
	var gone []string
	for _, t := range s.sortedTemplatesLocked(wabaID) {
		if t.Name == name && (hsmID == "" || t.ID == hsmID) {
			gone = append(gone, t.ID)
		}
	}
	if len(gone) == 0 {
		s.templates.stats.Refused++
		s.mu.Unlock()
		writeGraphError(w, http.StatusBadRequest, graphError{Code: 100, Subcode: 2593002, Message: "Invalid parameter",
			UserTitle: "Message template not found", UserMsg: fmt.Sprintf("Message template %q could not be found.", name)})
		return
	}
	for _, id := range gone {
		delete(s.templates.byID, id)
	}
	s.templates.stats.Deleted += len(gone)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

// TemplateChange is what POST /_sim/templates/{id}/status changes; empty
// fields stay. Reason is the status webhook's reason (default NONE).
type TemplateChange struct {
	Status   string `json:"status,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Quality  string `json:"quality,omitempty"`
	Category string `json:"category,omitempty"`
}

// ChangeTemplate applies c to the template with this id and posts the
// webhooks Meta sends for it, signed, to the WABA's webhook: a
// message_template_status_update for a status, a
// message_template_quality_update for a quality (with the previous one),
// a template_category_update for a category. It returns the template
// after the change; a webhook that cannot be posted is an error (the
// change stays).
func (s *Sim) ChangeTemplate(ctx context.Context, id string, c TemplateChange) (Template, error) {
	if c.Status != "" && !slices.Contains(templateStatuses, c.Status) {
		return Template{}, fmt.Errorf("template change: status %q must be one of %v", c.Status, templateStatuses)
	}
	if c.Quality != "" && !slices.Contains(templateQualities, c.Quality) {
		return Template{}, fmt.Errorf("template change: quality %q must be one of %v", c.Quality, templateQualities)
	}
	if c.Category != "" && !slices.Contains(templateCategories, c.Category) {
		return Template{}, fmt.Errorf("template change: category %q must be one of %v", c.Category, templateCategories)
	}
	if c.Status == "" && c.Quality == "" && c.Category == "" {
		return Template{}, fmt.Errorf("template change: give a status, a quality or a category")
	}
	s.mu.Lock()
	t, ok := s.templates.byID[id]
	if !ok {
		s.mu.Unlock()
		return Template{}, fmt.Errorf("template change: no template %s", id)
	}
	var changes []map[string]any
	tid, _ := strconv.ParseInt(t.ID, 10, 64)
	base := func() map[string]any {
		return map[string]any{"message_template_id": tid, "message_template_name": t.Name, "message_template_language": t.Language}
	}
	if c.Category != "" {
		v := base()
		v["new_category"] = c.Category
		t.Category = c.Category
		changes = append(changes, map[string]any{"field": "template_category_update", "value": v})
	}
	if c.Status != "" {
		v := base()
		v["event"] = c.Status
		v["reason"] = cmp(c.Reason, "NONE")
		v["message_template_category"] = t.Category
		t.Status = c.Status
		if c.Status == "REJECTED" {
			t.RejectedReason = cmp(c.Reason, "NONE")
		}
		changes = append(changes, map[string]any{"field": "message_template_status_update", "value": v})
	}
	if c.Quality != "" {
		v := base()
		v["previous_quality_score"] = cmp(t.Quality, "UNKNOWN")
		v["new_quality_score"] = c.Quality
		t.Quality = c.Quality
		changes = append(changes, map[string]any{"field": "message_template_quality_update", "value": v})
	}
	out := *t
	n := s.wabaNumberLocked(t.WABAID)
	now := s.cfg.Now()
	s.mu.Unlock()

	for _, ch := range changes {
		payload, err := json.Marshal(map[string]any{
			"object": "whatsapp_business_account",
			"entry":  []any{map[string]any{"id": out.WABAID, "time": now.Unix(), "changes": []any{ch}}},
		})
		if err != nil {
			return out, fmt.Errorf("template change: %w", err)
		}
		if err := s.postWithRetry(ctx, scheduledStatus{number: n, payload: payload, status: ch["field"].(string), wamid: out.ID}); err != nil {
			return out, fmt.Errorf("template change: %s webhook: %w", ch["field"], err)
		}
		s.mu.Lock()
		s.templates.stats.Webhooks++
		s.mu.Unlock()
	}
	return out, nil
}

// wabaNumberLocked is the number whose webhook settings a WABA's account
// webhooks use: the lowest phone number id of the WABA (nil: Config's).
func (s *Sim) wabaNumberLocked(wabaID string) *Number {
	var best *Number
	for _, n := range s.numbers() {
		if n.WABAID == wabaID && (best == nil || idLess(n.PhoneNumberID, best.PhoneNumberID)) {
			best = n
		}
	}
	return best
}

// templateRequest is the body of a template creation.
type templateRequest struct {
	Name            string              `json:"name"`
	Language        string              `json:"language"`
	Category        string              `json:"category"`
	ParameterFormat string              `json:"parameter_format"`
	Components      []templateComponent `json:"components"`
}

type templateComponent struct {
	Type                      string           `json:"type"`
	Format                    string           `json:"format,omitempty"`
	Text                      string           `json:"text,omitempty"`
	Example                   *templateExample `json:"example,omitempty"`
	Buttons                   []templateButton `json:"buttons,omitempty"`
	AddSecurityRecommendation *bool            `json:"add_security_recommendation,omitempty"`
	CodeExpirationMinutes     *int             `json:"code_expiration_minutes,omitempty"`
	Cards                     []templateCard   `json:"cards,omitempty"`
	LimitedTimeOffer          *templateOffer   `json:"limited_time_offer,omitempty"`
}

// templateCard is one card of a CAROUSEL component.
type templateCard struct {
	Components []templateComponent `json:"components"`
}

// templateOffer is a LIMITED_TIME_OFFER component's offer.
type templateOffer struct {
	Text          string `json:"text"`
	HasExpiration bool   `json:"has_expiration"`
}

type templateExample struct {
	HeaderText          []string       `json:"header_text,omitempty"`
	HeaderTextNamed     []namedExample `json:"header_text_named_params,omitempty"`
	HeaderHandle        []string       `json:"header_handle,omitempty"`
	BodyText            [][]string     `json:"body_text,omitempty"`
	BodyTextNamedParams []namedExample `json:"body_text_named_params,omitempty"`
}

type namedExample struct {
	ParamName string `json:"param_name"`
	Example   string `json:"example"`
}

type templateButton struct {
	Type           string   `json:"type"`
	Text           string   `json:"text,omitempty"`
	URL            string   `json:"url,omitempty"`
	PhoneNumber    string   `json:"phone_number,omitempty"`
	Example        []string `json:"example,omitempty"`
	OTPType        string   `json:"otp_type,omitempty"`
	AutofillText   string   `json:"autofill_text,omitempty"`
	PackageName    string   `json:"package_name,omitempty"`
	SignatureHash  string   `json:"signature_hash,omitempty"`
	FlowID         string   `json:"flow_id,omitempty"`
	FlowName       string   `json:"flow_name,omitempty"`
	FlowJSON       string   `json:"flow_json,omitempty"`
	FlowAction     string   `json:"flow_action,omitempty"`
	NavigateScreen string   `json:"navigate_screen,omitempty"`
}

var (
	templateNameRE = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	languageRE     = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2}|_[A-Z][a-z]{3})?$`)
	variableRE     = regexp.MustCompile(`\{\{([^{}]*)\}\}`)
	namedParamRE   = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
)

// check validates a creation like Meta's template review does before it
// accepts one (Meta's rules on components, variables and buttons) and
// returns the template as Meta will list it.
func (req templateRequest) check() (Template, *graphError) {
	if req.Name == "" {
		return Template{}, &graphError{Code: 100, Message: "(#100) The parameter name is required"}
	}
	if !templateNameRE.MatchString(req.Name) {
		return Template{}, templateInvalid("Invalid template name", "Template names may only contain lowercase letters, numbers and underscores, up to 512 characters; got %q.", req.Name)
	}
	if req.Language == "" {
		return Template{}, &graphError{Code: 100, Message: "(#100) The parameter language is required"}
	}
	if !languageRE.MatchString(req.Language) {
		return Template{}, &graphError{Code: 100, Message: fmt.Sprintf("(#100) Param language must be a valid language code - got %q.", req.Language)}
	}
	if !slices.Contains(templateCategories, req.Category) {
		return Template{}, &graphError{Code: 100, Message: fmt.Sprintf("(#100) Param category must be one of {%s} - got %q.", strings.Join(templateCategories, ", "), req.Category)}
	}
	format := cmp(req.ParameterFormat, "POSITIONAL")
	if format != "POSITIONAL" && format != "NAMED" {
		return Template{}, &graphError{Code: 100, Message: fmt.Sprintf("(#100) Param parameter_format must be one of {POSITIONAL, NAMED} - got %q.", req.ParameterFormat)}
	}
	if len(req.Components) == 0 {
		return Template{}, &graphError{Code: 100, Message: "(#100) The parameter components is required"}
	}
	seen := map[string]bool{}
	var comps []map[string]any
	for i, c := range req.Components {
		c.Type = strings.ToUpper(c.Type)
		if !slices.Contains([]string{"HEADER", "BODY", "FOOTER", "BUTTONS", "CAROUSEL", "LIMITED_TIME_OFFER"}, c.Type) {
			return Template{}, templateInvalid("Invalid component", "components[%d]: type %q must be HEADER, BODY, FOOTER, BUTTONS, CAROUSEL or LIMITED_TIME_OFFER.", i, c.Type)
		}
		if seen[c.Type] {
			return Template{}, templateInvalid("Invalid component", "A template may have only one %s component.", c.Type)
		}
		seen[c.Type] = true
		var m map[string]any
		var refusal *graphError
		switch c.Type {
		case "CAROUSEL":
			m, refusal = checkCarousel(req.Category, format, c)
		case "LIMITED_TIME_OFFER":
			m, refusal = checkOffer(req.Category, c)
		default:
			m, refusal = checkComponent(req.Category, format, c)
		}
		if refusal != nil {
			return Template{}, refusal
		}
		comps = append(comps, m)
	}
	if !seen["BODY"] {
		return Template{}, templateInvalid("Message template body is missing", "Every template needs a BODY component.")
	}
	if seen["CAROUSEL"] && (seen["HEADER"] || seen["FOOTER"] || seen["BUTTONS"]) {
		return Template{}, templateInvalid("Invalid carousel template", "A carousel template has a BODY and a CAROUSEL component only; headers and buttons belong to its cards.")
	}
	if seen["LIMITED_TIME_OFFER"] && seen["FOOTER"] {
		return Template{}, templateInvalid("Invalid limited-time offer template", "Limited-time offer templates cannot have a footer.")
	}
	if req.Category == "AUTHENTICATION" && !seen["BUTTONS"] {
		return Template{}, templateInvalid("Authentication template needs an OTP button", "Authentication templates need a BUTTONS component with one OTP button.")
	}
	return Template{Name: req.Name, Language: req.Language, Category: req.Category, ParameterFormat: format, Components: comps}, nil
}

// MaxCarouselCards is how many cards a carousel template has at most;
// MinCarouselCards at least.
const (
	MinCarouselCards = 2
	MaxCarouselCards = 10
)

// checkCarousel checks a CAROUSEL component (marketing templates only):
// 2 to 10 cards, each with an IMAGE, VIDEO or PRODUCT header, an optional
// body of up to 160 characters and 1 or 2 buttons (QUICK_REPLY, URL,
// PHONE_NUMBER, SPM), every card with the same components and buttons.
func checkCarousel(category, format string, c templateComponent) (map[string]any, *graphError) {
	if category != "MARKETING" {
		return nil, templateInvalid("Invalid carousel template", "Carousel templates are MARKETING templates.")
	}
	if len(c.Cards) < MinCarouselCards || len(c.Cards) > MaxCarouselCards {
		return nil, templateInvalid("Invalid carousel template", "A carousel has %d to %d cards; got %d.", MinCarouselCards, MaxCarouselCards, len(c.Cards))
	}
	var cards []any
	var shape string
	for i, card := range c.Cards {
		var comps []any
		var kinds []string
		seen := map[string]bool{}
		for _, cc := range card.Components {
			cc.Type = strings.ToUpper(cc.Type)
			cc.Format = strings.ToUpper(cc.Format)
			if seen[cc.Type] {
				return nil, templateInvalid("Invalid carousel card", "cards[%d]: a card may have only one %s component.", i, cc.Type)
			}
			seen[cc.Type] = true
			kinds = append(kinds, cc.Type+"/"+cc.Format)
			switch cc.Type {
			case "HEADER":
				if !slices.Contains([]string{"IMAGE", "VIDEO", "PRODUCT"}, cc.Format) {
					return nil, templateInvalid("Invalid carousel card", "cards[%d]: a card header is IMAGE, VIDEO or PRODUCT; got %q.", i, cc.Format)
				}
				m := map[string]any{"type": "HEADER", "format": cc.Format}
				if cc.Format != "PRODUCT" {
					if cc.Example == nil || len(cc.Example.HeaderHandle) == 0 {
						return nil, templateInvalid("Missing sample media", "cards[%d]: a %s header needs a sample in example.header_handle.", i, cc.Format)
					}
					m["example"] = map[string]any{"header_handle": cc.Example.HeaderHandle}
				}
				comps = append(comps, m)
			case "BODY":
				if len([]rune(cc.Text)) > 160 {
					return nil, templateInvalid("Invalid carousel card", "cards[%d]: a card body has at most 160 characters.", i)
				}
				m, refusal := checkComponent(category, format, cc)
				if refusal != nil {
					return nil, refusal
				}
				comps = append(comps, m)
			case "BUTTONS":
				if len(cc.Buttons) < 1 || len(cc.Buttons) > 2 {
					return nil, templateInvalid("Invalid carousel card", "cards[%d]: a card has 1 or 2 buttons; got %d.", i, len(cc.Buttons))
				}
				var spm []templateButton
				var rest []templateButton
				for _, b := range cc.Buttons {
					kinds = append(kinds, b.Type)
					switch b.Type {
					case "SPM":
						spm = append(spm, b)
					case "QUICK_REPLY", "URL", "PHONE_NUMBER":
						rest = append(rest, b)
					default:
						return nil, templateInvalid("Invalid carousel card", "cards[%d]: button type %q is not QUICK_REPLY, URL, PHONE_NUMBER or SPM.", i, b.Type)
					}
				}
				m := map[string]any{"type": "BUTTONS"}
				var buttons []any
				if len(rest) > 0 {
					bm, refusal := checkComponent(category, format, templateComponent{Type: "BUTTONS", Buttons: rest})
					if refusal != nil {
						return nil, refusal
					}
					buttons = bm["buttons"].([]any)
				}
				for _, b := range spm {
					buttons = append(buttons, map[string]any{"type": "SPM", "text": cmp(b.Text, "View")})
				}
				m["buttons"] = buttons
				comps = append(comps, m)
			default:
				return nil, templateInvalid("Invalid carousel card", "cards[%d]: a card has HEADER, BODY and BUTTONS components; got %q.", i, cc.Type)
			}
		}
		if !seen["HEADER"] {
			return nil, templateInvalid("Invalid carousel card", "cards[%d]: every card needs a HEADER.", i)
		}
		if k := strings.Join(kinds, ","); i == 0 {
			shape = k
		} else if k != shape {
			return nil, templateInvalid("Invalid carousel card", "cards[%d]: every card has the same components and buttons as the first.", i)
		}
		cards = append(cards, map[string]any{"components": comps})
	}
	return map[string]any{"type": "CAROUSEL", "cards": cards}, nil
}

// checkOffer checks a LIMITED_TIME_OFFER component (marketing only): the
// offer's text, 1 to 16 characters, and whether it shows an expiry.
func checkOffer(category string, c templateComponent) (map[string]any, *graphError) {
	if category != "MARKETING" {
		return nil, templateInvalid("Invalid limited-time offer template", "Limited-time offer templates are MARKETING templates.")
	}
	if c.LimitedTimeOffer == nil || c.LimitedTimeOffer.Text == "" || len([]rune(c.LimitedTimeOffer.Text)) > 16 {
		return nil, templateInvalid("Invalid limited-time offer template", "limited_time_offer.text needs 1 to 16 characters.")
	}
	return map[string]any{"type": "LIMITED_TIME_OFFER", "limited_time_offer": map[string]any{
		"text": c.LimitedTimeOffer.Text, "has_expiration": c.LimitedTimeOffer.HasExpiration}}, nil
}

// checkComponent checks one component and returns it in Meta's listed
// shape (authentication bodies and OTP buttons expanded as Meta does).
func checkComponent(category, format string, c templateComponent) (map[string]any, *graphError) {
	m := map[string]any{"type": c.Type}
	if category == "AUTHENTICATION" {
		switch c.Type {
		case "HEADER":
			return nil, templateInvalid("Invalid component", "Authentication templates cannot have a header.")
		case "BODY":
			if c.Text != "" {
				return nil, templateInvalid("Invalid component", "Authentication template bodies are fixed by WhatsApp; give add_security_recommendation only.")
			}
			m["text"] = "*{{1}}* is your verification code."
			if c.AddSecurityRecommendation != nil && *c.AddSecurityRecommendation {
				m["text"] = "*{{1}}* is your verification code. For your security, do not share this code."
				m["add_security_recommendation"] = true
			}
			return m, nil
		case "FOOTER":
			if c.CodeExpirationMinutes == nil || *c.CodeExpirationMinutes < 1 || *c.CodeExpirationMinutes > 90 {
				return nil, templateInvalid("Invalid component", "code_expiration_minutes must be between 1 and 90.")
			}
			m["text"] = fmt.Sprintf("This code expires in %d minutes.", *c.CodeExpirationMinutes)
			m["code_expiration_minutes"] = *c.CodeExpirationMinutes
			return m, nil
		}
		if len(c.Buttons) != 1 || c.Buttons[0].Type != "OTP" {
			return nil, templateInvalid("Authentication template needs an OTP button", "Authentication templates have exactly one button, of type OTP.")
		}
		b := c.Buttons[0]
		if !slices.Contains([]string{"COPY_CODE", "ONE_TAP", "ZERO_TAP"}, b.OTPType) {
			return nil, templateInvalid("Invalid button", "otp_type must be COPY_CODE, ONE_TAP or ZERO_TAP; got %q.", b.OTPType)
		}
		m["buttons"] = []any{map[string]any{"type": "URL", "text": cmp(b.Text, "Copy code"),
			"url":     "https://www.whatsapp.com/otp/code/?otp_type=" + b.OTPType + "&code=otp{{1}}",
			"example": []string{"https://www.whatsapp.com/otp/code/?otp_type=" + b.OTPType + "&code=otp123456"}}}
		return m, nil
	}
	switch c.Type {
	case "HEADER":
		if !slices.Contains([]string{"TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"}, c.Format) {
			return nil, templateInvalid("Invalid header", "Header format %q must be TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION.", c.Format)
		}
		m["format"] = c.Format
		if c.Format != "TEXT" {
			if c.Text != "" {
				return nil, templateInvalid("Invalid header", "A %s header has no text.", c.Format)
			}
			if c.Format != "LOCATION" {
				if c.Example == nil || len(c.Example.HeaderHandle) == 0 {
					return nil, templateInvalid("Missing sample media", "A %s header needs a sample in example.header_handle (an upload handle).", c.Format)
				}
				m["example"] = map[string]any{"header_handle": c.Example.HeaderHandle}
			}
			return m, nil
		}
		if c.Text == "" || len([]rune(c.Text)) > 60 {
			return nil, templateInvalid("Invalid header", "A TEXT header needs text of 1 to 60 characters.")
		}
		vars, refusal := templateVariables(format, c.Text, "header")
		if refusal != nil {
			return nil, refusal
		}
		if len(vars) > 1 {
			return nil, templateInvalid("Too many variables", "A header may have at most one variable.")
		}
		m["text"] = c.Text
		if len(vars) == 1 {
			ex, refusal := exampleFor(format, vars, c.Example, "header")
			if refusal != nil {
				return nil, refusal
			}
			m["example"] = ex
		}
		return m, nil
	case "BODY":
		if c.Text == "" || len([]rune(c.Text)) > 1024 {
			return nil, templateInvalid("Invalid body", "The body needs text of 1 to 1024 characters.")
		}
		vars, refusal := templateVariables(format, c.Text, "body")
		if refusal != nil {
			return nil, refusal
		}
		m["text"] = c.Text
		if len(vars) > 0 {
			ex, refusal := exampleFor(format, vars, c.Example, "body")
			if refusal != nil {
				return nil, refusal
			}
			m["example"] = ex
		}
		return m, nil
	case "FOOTER":
		if c.Text == "" || len([]rune(c.Text)) > 60 {
			return nil, templateInvalid("Invalid footer", "The footer needs text of 1 to 60 characters.")
		}
		if variableRE.MatchString(c.Text) {
			return nil, templateInvalid("Invalid footer", "A footer cannot have variables.")
		}
		m["text"] = c.Text
		return m, nil
	}
	// BUTTONS
	if len(c.Buttons) == 0 || len(c.Buttons) > 10 {
		return nil, templateInvalid("Invalid buttons", "A BUTTONS component has 1 to 10 buttons; got %d.", len(c.Buttons))
	}
	count := map[string]int{}
	var buttons []any
	for i, b := range c.Buttons {
		count[b.Type]++
		bm := map[string]any{"type": b.Type, "text": b.Text}
		switch b.Type {
		case "QUICK_REPLY", "MPM", "CATALOG":
		case "URL":
			if count["URL"] > 2 {
				return nil, templateInvalid("Too many URL buttons", "A template may have at most 2 URL buttons.")
			}
			u, err := url.Parse(strings.Replace(b.URL, "{{1}}", "x", 1))
			if b.URL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return nil, templateInvalid("Invalid URL", "buttons[%d]: url %q is not a valid URL.", i, b.URL)
			}
			vars := variableRE.FindAllString(b.URL, -1)
			if len(vars) > 1 || (len(vars) == 1 && (vars[0] != "{{1}}" || !strings.HasSuffix(b.URL, "{{1}}"))) {
				return nil, templateInvalid("Invalid URL", "buttons[%d]: a URL button may have one variable, {{1}}, at the end of the URL.", i)
			}
			if len(vars) == 1 && len(b.Example) != 1 {
				return nil, templateInvalid("Missing sample URL", "buttons[%d]: a URL with a variable needs one example URL.", i)
			}
			bm["url"] = b.URL
			if len(vars) == 1 {
				bm["example"] = b.Example
			}
		case "PHONE_NUMBER":
			if count["PHONE_NUMBER"] > 1 {
				return nil, templateInvalid("Too many phone number buttons", "A template may have at most 1 phone number button.")
			}
			if len(digits(b.PhoneNumber)) < 8 {
				return nil, templateInvalid("Invalid phone number", "buttons[%d]: phone_number %q is not a phone number.", i, b.PhoneNumber)
			}
			bm["phone_number"] = b.PhoneNumber
		case "COPY_CODE":
			if len(b.Example) != 1 {
				return nil, templateInvalid("Missing sample code", "buttons[%d]: a COPY_CODE button needs one example code.", i)
			}
			bm["example"] = b.Example
			delete(bm, "text")
		case "FLOW":
			if b.FlowID == "" && b.FlowName == "" && b.FlowJSON == "" {
				return nil, templateInvalid("Invalid flow button", "buttons[%d]: a FLOW button needs flow_id, flow_name or flow_json.", i)
			}
			for k, v := range map[string]string{"flow_id": b.FlowID, "flow_action": b.FlowAction, "navigate_screen": b.NavigateScreen} {
				if v != "" {
					bm[k] = v
				}
			}
		case "OTP":
			return nil, templateInvalid("Invalid button", "OTP buttons are only for AUTHENTICATION templates.")
		default:
			return nil, templateInvalid("Invalid button", "buttons[%d]: type %q is not a button type.", i, b.Type)
		}
		if b.Type != "COPY_CODE" && (b.Text == "" || len([]rune(b.Text)) > 25) {
			return nil, templateInvalid("Invalid button", "buttons[%d]: text needs 1 to 25 characters.", i)
		}
		buttons = append(buttons, bm)
	}
	m["buttons"] = buttons
	return m, nil
}

// templateVariables lists a text's variables in order, checked against
// the template's parameter format: positional ones are {{1}}…{{n}} with
// every number used, named ones lowercase names; never both.
func templateVariables(format, text, where string) ([]string, *graphError) {
	var vars []string
	for _, m := range variableRE.FindAllStringSubmatch(text, -1) {
		vars = append(vars, strings.TrimSpace(m[1]))
	}
	if len(vars) == 0 {
		return nil, nil
	}
	if format == "NAMED" {
		for _, v := range vars {
			if !namedParamRE.MatchString(v) {
				return nil, templateInvalid("Invalid parameter name", "The %s variable {{%s}} is not a valid name (lowercase letters, numbers and underscores) for a NAMED template.", where, v)
			}
		}
		return vars, nil
	}
	seen := map[int]bool{}
	for _, v := range vars {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, templateInvalid("Invalid variable", "The %s variable {{%s}} must be a number ({{1}}, {{2}}, …) in a POSITIONAL template.", where, v)
		}
		seen[n] = true
	}
	for i := 1; i <= len(seen); i++ {
		if !seen[i] {
			return nil, templateInvalid("Variables are not sequential", "The %s variables must be numbered {{1}} to {{%d}} without gaps.", where, len(seen))
		}
	}
	var out []string
	for i := 1; i <= len(seen); i++ {
		out = append(out, strconv.Itoa(i))
	}
	return out, nil
}

// exampleFor checks that the component's example gives a sample for
// every variable, as Meta requires, and returns it.
func exampleFor(format string, vars []string, ex *templateExample, where string) (map[string]any, *graphError) {
	missing := templateInvalid("Missing variable samples", "The %s has %d variable(s) and needs a sample for each in its example.", where, len(vars))
	if ex == nil {
		return nil, missing
	}
	if format == "NAMED" {
		named := ex.BodyTextNamedParams
		key := "body_text_named_params"
		if where == "header" {
			named, key = ex.HeaderTextNamed, "header_text_named_params"
		}
		got := map[string]bool{}
		for _, p := range named {
			got[p.ParamName] = p.Example != ""
		}
		for _, v := range vars {
			if !got[v] {
				return nil, missing
			}
		}
		return map[string]any{key: named}, nil
	}
	if where == "header" {
		if len(ex.HeaderText) != len(vars) {
			return nil, missing
		}
		return map[string]any{"header_text": ex.HeaderText}, nil
	}
	if len(ex.BodyText) != 1 || len(ex.BodyText[0]) != len(vars) {
		return nil, missing
	}
	return map[string]any{"body_text": ex.BodyText}, nil
}
