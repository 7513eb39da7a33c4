package graphsim

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Meta's Resumable Upload API: POST /{app-id}/uploads opens a session
// ("upload:…"), POST /upload:{id} with the file's bytes (header
// file_offset) answers the handle ("h") that a profile update takes as
// profile_picture_handle. The calls carry the token as "Authorization:
// OAuth {token}" (Bearer is taken too).

// uploadSession is an open resumable upload; guarded by Sim.mu.
type uploadSession struct {
	length   int
	fileType string
	data     []byte
	handle   string
}

// profilePictureTypes are the file types a profile picture may have.
var profilePictureTypes = []string{"image/jpeg", "image/jpg", "image/png"}

func (s *Sim) routeResumable(mux *http.ServeMux) {
	// GET /app is the app of the token: the simulated app for every token
	// the simulator knows.
	mux.HandleFunc("GET /{version}/app", func(w http.ResponseWriter, r *http.Request) {
		if !s.tokenKnown(uploadToken(r)) {
			writeError(w, http.StatusUnauthorized, 190, "OAuthException", "Invalid OAuth access token - Cannot parse access token", "")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"id": s.cfg.AppID})
	})
	mux.HandleFunc("POST /{version}/{id}/uploads", s.handleUploadOpen)
	mux.HandleFunc("POST /{version}/{session}", s.handleUploadWrite)
}

// uploadToken is the token of a resumable upload call.
func uploadToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if t, ok := strings.CutPrefix(h, "OAuth "); ok {
		return t
	}
	if t := bearer(r); t != "" {
		return t
	}
	return r.URL.Query().Get("access_token")
}

func (s *Sim) tokenKnown(token string) bool {
	for _, n := range s.numbers() {
		if token != "" && n.AccessToken == token {
			return true
		}
	}
	return false
}

func (s *Sim) handleUploadOpen(w http.ResponseWriter, r *http.Request) {
	if !s.tokenKnown(uploadToken(r)) {
		writeError(w, http.StatusUnauthorized, 190, "OAuthException", "Invalid OAuth access token - Cannot parse access token", "")
		return
	}
	if id := r.PathValue("id"); id != s.cfg.AppID {
		writeError(w, http.StatusBadRequest, 100, "GraphMethodException", fmt.Sprintf("Unsupported post request. Object with ID '%s' does not exist", id), "")
		return
	}
	q := r.URL.Query()
	length, err := strconv.Atoi(q.Get("file_length"))
	if err != nil || length <= 0 || length > 5<<20 {
		writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) Invalid parameter", "file_length must be a number of bytes from 1 to 5242880")
		return
	}
	if !slices.Contains(profilePictureTypes, q.Get("file_type")) {
		writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) Invalid parameter", "file_type must be one of image/jpeg, image/jpg, image/png")
		return
	}
	id := "upload:" + randomID()
	s.mu.Lock()
	if s.uploads == nil {
		s.uploads = map[string]*uploadSession{}
	}
	s.uploads[id] = &uploadSession{length: length, fileType: q.Get("file_type")}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"id": id})
}

func (s *Sim) handleUploadWrite(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("session")
	if !strings.HasPrefix(id, "upload:") {
		writeError(w, http.StatusBadRequest, 100, "GraphMethodException", fmt.Sprintf("Unsupported post request. Object with ID '%s' does not exist", id), "")
		return
	}
	if !s.tokenKnown(uploadToken(r)) {
		writeError(w, http.StatusUnauthorized, 190, "OAuthException", "Invalid OAuth access token - Cannot parse access token", "")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 6<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) Invalid parameter", "the body could not be read")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.uploads[id]
	if !ok {
		writeError(w, http.StatusBadRequest, 100, "GraphMethodException", fmt.Sprintf("Unsupported post request. Object with ID '%s' does not exist", id), "")
		return
	}
	if off, err := strconv.Atoi(r.Header.Get("file_offset")); err != nil || off != len(u.data) {
		writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) Invalid parameter", fmt.Sprintf("file_offset must be %d", len(u.data)))
		return
	}
	if len(u.data)+len(body) > u.length {
		writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) Invalid parameter", "the data is longer than file_length")
		return
	}
	u.data = append(u.data, body...)
	if len(u.data) < u.length {
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "file_offset": len(u.data)})
		return
	}
	if u.handle == "" {
		u.handle = "4::" + base64.StdEncoding.EncodeToString([]byte(u.fileType)) + ":" + randomID()
	}
	writeJSON(w, http.StatusOK, map[string]string{"h": u.handle})
}

// uploadedHandle returns the picture URL of a complete upload's handle;
// s.mu must be held.
func (s *Sim) uploadedHandle(handle string) (string, bool) {
	for id, u := range s.uploads {
		if u.handle != "" && u.handle == handle {
			return s.cfg.BaseURL + "/_sim/profile_pictures/" + strings.TrimPrefix(id, "upload:"), true
		}
	}
	return "", false
}

// UploadedFile returns the bytes of a complete resumable upload by its
// handle (tests).
func (s *Sim) UploadedFile(handle string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.uploads {
		if u.handle != "" && u.handle == handle {
			return slices.Clone(u.data), true
		}
	}
	return nil, false
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// UploadHandles lists the handles of complete resumable uploads (tests).
func (s *Sim) UploadHandles() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, u := range s.uploads {
		if u.handle != "" {
			out = append(out, u.handle)
		}
	}
	return out
}
