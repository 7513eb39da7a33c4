package graphsim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
)

// Block users: POST and DELETE /{phone-number-id}/block_users block and
// unblock WhatsApp users, GET lists the blocked ones with cursor paging.
// Meta only blocks a user who wrote to the business number in the last
// 24 hours; the others fail one by one with 139100, and a request where
// any failed answers HTTP 400 with the error and the per-user results
// side by side.

// CodeBlockFailed is Meta's error code of a failed block or unblock.
const CodeBlockFailed = 139100

// MaxBlockList is how many users a number may block.
const MaxBlockList = 64000

type blockRequest struct {
	MessagingProduct string `json:"messaging_product"`
	BlockUsers       []struct {
		User string `json:"user"`
	} `json:"block_users"`
}

func (s *Sim) routeBlocks(mux *http.ServeMux) {
	mux.HandleFunc("POST /{version}/{id}/block_users", func(w http.ResponseWriter, r *http.Request) { s.handleBlock(w, r, true) })
	mux.HandleFunc("DELETE /{version}/{id}/block_users", func(w http.ResponseWriter, r *http.Request) { s.handleBlock(w, r, false) })
}

// Blocked lists the wa_ids the number blocked (tests).
func (s *Sim) Blocked(phoneNumberID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.blocked[phoneNumberID])
}

func (s *Sim) handleBlock(w http.ResponseWriter, r *http.Request, block bool) {
	id := r.PathValue("id")
	if _, ok := s.authorize(w, r, id); !ok {
		return
	}
	var req blockRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) Invalid parameter", err.Error())
		return
	}
	if req.MessagingProduct != "whatsapp" {
		writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) The parameter messaging_product is required.", "")
		return
	}
	if len(req.BlockUsers) == 0 {
		writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) The parameter block_users is required.", "")
		return
	}
	type result struct {
		Input  string           `json:"input"`
		WaID   string           `json:"wa_id,omitempty"`
		Errors []map[string]any `json:"errors,omitempty"`
	}
	var done, failed []result
	s.mu.Lock()
	if s.blocked == nil {
		s.blocked = map[string][]string{}
	}
	now := s.cfg.Now()
	for _, u := range req.BlockUsers {
		waID := s.recipients.resolve(u.User)
		fail := func(details string) {
			failed = append(failed, result{Input: u.User, Errors: []map[string]any{{
				"message": "Failed to block/unblock this user", "code": CodeBlockFailed,
				"error_data": map[string]string{"details": details}}}})
		}
		list := s.blocked[id]
		switch {
		case waID == "":
			fail("The user is not a valid WhatsApp user")
		case !block:
			s.blocked[id] = slices.DeleteFunc(list, func(b string) bool { return b == waID })
			done = append(done, result{Input: u.User, WaID: waID})
		case slices.Contains(list, waID):
			done = append(done, result{Input: u.User, WaID: waID})
		case !s.recipients.open(id, waID, now):
			fail("Blocking is only allowed for users who have messaged the business in the last 24 hours")
		case len(list) >= MaxBlockList:
			fail("The block list is full")
		default:
			s.blocked[id] = append(list, waID)
			done = append(done, result{Input: u.User, WaID: waID})
		}
	}
	s.mu.Unlock()
	key := "added_users"
	if !block {
		key = "removed_users"
	}
	lists := map[string]any{key: nonNil(done)}
	body := map[string]any{"messaging_product": "whatsapp", "block_users": lists}
	if len(failed) == 0 {
		writeJSON(w, http.StatusOK, body)
		return
	}
	lists["failed_users"] = failed
	body["error"] = map[string]any{"message": "(#139100) Failed to block/unblock users", "type": "OAuthException", "code": CodeBlockFailed,
		"error_data": map[string]string{"details": "Failed to block/unblock some users, see the block_users response list for details"},
		"fbtrace_id": "AsimTrace139100"}
	writeJSON(w, http.StatusBadRequest, body)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// handleBlockList answers GET /{phone-number-id}/block_users: the
// blocked users oldest first, limit (default and at most 100) per page,
// the page after the cursor after.
func (s *Sim) handleBlockList(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.authorize(w, r, id); !ok {
		return
	}
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) Param limit must be a positive integer", "")
			return
		}
		limit = min(n, 100)
	}
	start := 0
	if a := q.Get("after"); a != "" {
		b, err := base64.RawURLEncoding.DecodeString(a)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 {
			writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) Invalid parameter", "after is not a cursor of this list")
			return
		}
		start = n
	}
	s.mu.Lock()
	list := slices.Clone(s.blocked[id])
	s.mu.Unlock()
	start = min(start, len(list))
	end := min(start+limit, len(list))
	data := []map[string]string{}
	for _, waID := range list[start:end] {
		data = append(data, map[string]string{"messaging_product": "whatsapp", "wa_id": waID})
	}
	cursor := func(i int) string { return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(i))) }
	paging := map[string]any{"cursors": map[string]string{"before": cursor(start), "after": cursor(end)}}
	if end < len(list) {
		next := *r.URL
		nq := next.Query()
		nq.Set("after", cursor(end))
		next.RawQuery = nq.Encode()
		paging["next"] = s.cfg.BaseURL + next.String()
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "paging": paging})
}
