package graphsim

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultMediaURLTTL is how long Meta's media download URLs work.
const DefaultMediaURLTTL = 5 * time.Minute

// maxMediaSize is the largest media the simulator holds or generates
// (Meta's document limit).
const maxMediaSize = 100 << 20

// MediaSpec describes a media object to create. Give Content (or
// ContentBase64), or a Size for deterministic generated content: a seeded
// pseudo-random stream that is never held in memory.
type MediaSpec struct {
	// PhoneNumberID is the business number that owns the media (its token
	// is needed to read it); default the only configured number.
	PhoneNumberID string `json:"phone_number_id,omitempty"`
	MimeType      string `json:"mime_type"`
	Filename      string `json:"filename,omitempty"`
	Content       []byte `json:"-"`
	ContentBase64 string `json:"content_base64,omitempty"`
	Size          int64  `json:"size,omitempty"`
	Seed          uint64 `json:"seed,omitempty"` // generated content; default derived from the id
}

// MediaObject is a media object the simulator serves.
type MediaObject struct {
	ID            string `json:"id"`
	PhoneNumberID string `json:"phone_number_id"`
	MimeType      string `json:"mime_type"`
	Filename      string `json:"filename,omitempty"`
	Size          int64  `json:"file_size"`
	SHA256        string `json:"sha256"`        // hex, as GET /{media-id} gives it
	SHA256Base64  string `json:"sha256_base64"` // base64, as webhooks give it

	content []byte // nil when generated
	seed    uint64
}

// MediaFault makes the simulator misbehave for one media id.
type MediaFault struct {
	// Target is "info" (GET /{media-id}) or "download" (the URL; default).
	Target string `json:"target,omitempty"`
	// Kind: "status" (answer Status, with Graph error Code on info),
	// "slow" (pause DelayMS before each 64 KiB), "truncate" (announce the
	// full length, send half, cut the connection), "corrupt" (flip a byte),
	// "expire" (answer as if the URL had expired).
	Kind    string `json:"kind"`
	Status  int    `json:"status,omitempty"`
	Code    int    `json:"code,omitempty"`
	DelayMS int    `json:"delay_ms,omitempty"`
	// Times is how many requests the fault applies to; 0 means all.
	Times int `json:"times,omitempty"`
}

// mediaState is what the simulator remembers of media. Guarded by Sim.mu.
type mediaState struct {
	objects   map[string]*MediaObject
	seq       int
	urlTTL    time.Duration
	key       []byte // signs download URLs
	faults    map[string][]*MediaFault
	downloads map[string]int // download answers with a body
	refused   map[string]int // download URLs refused (expired, bad signature, token)
	uploads   map[string]int // uploads per phone number id
}

func (m *mediaState) init() {
	if m.objects != nil {
		return
	}
	m.objects = map[string]*MediaObject{}
	m.faults = map[string][]*MediaFault{}
	m.downloads = map[string]int{}
	m.refused = map[string]int{}
	m.uploads = map[string]int{}
	m.key = make([]byte, 32)
	_, _ = rand.Read(m.key)
}

// routeMedia registers GET /{version}/{media-id}, the download URLs and POST /{version}/{phone-number-id}/media.
func (s *Sim) routeMedia(mux *http.ServeMux) {
	mux.HandleFunc("GET /{version}/{mediaID}", s.handleMediaInfo)
	mux.HandleFunc("DELETE /{version}/{mediaID}", s.handleMediaDelete)
	mux.HandleFunc("GET /_media/download/{mediaID}", s.handleMediaDownload)
	mux.HandleFunc("POST /{version}/{phoneNumberID}/media", s.handleMediaUpload)
	mux.HandleFunc("POST /_sim/media", s.handleSimMediaCreate)
	mux.HandleFunc("POST /_sim/media/config", s.handleSimMediaConfig)
	mux.HandleFunc("POST /_sim/media/faults", s.handleSimMediaFaults)
	mux.HandleFunc("GET /_sim/media/stats", s.handleSimMediaStats)
}

// CreateMedia stores a media object owned by spec.PhoneNumberID and returns
// it; its ID can be referenced by simulated inbound messages.
func (s *Sim) CreateMedia(spec MediaSpec) (MediaObject, error) {
	if spec.PhoneNumberID == "" {
		if len(s.numbers()) != 1 {
			return MediaObject{}, errors.New("create media: phone_number_id is required when several numbers are configured")
		}
		for id := range s.numbers() {
			spec.PhoneNumberID = id
		}
	}
	if _, ok := s.numbers()[spec.PhoneNumberID]; !ok {
		return MediaObject{}, fmt.Errorf("create media: unknown phone number %s", spec.PhoneNumberID)
	}
	if spec.MimeType == "" {
		return MediaObject{}, errors.New("create media: mime_type is required")
	}
	if spec.Content == nil && spec.ContentBase64 != "" {
		b, err := base64.StdEncoding.DecodeString(spec.ContentBase64)
		if err != nil {
			return MediaObject{}, fmt.Errorf("create media: content_base64: %w", err)
		}
		spec.Content = b
	}
	if spec.Content == nil && (spec.Size <= 0 || spec.Size > maxMediaSize) {
		return MediaObject{}, fmt.Errorf("create media: give content or a size of 1..%d bytes", maxMediaSize)
	}

	s.mu.Lock()
	s.media.init()
	s.media.seq++
	seq := s.media.seq
	s.mu.Unlock()
	id := fmt.Sprintf("88%013d", seq)

	o := &MediaObject{ID: id, PhoneNumberID: spec.PhoneNumberID, MimeType: spec.MimeType, Filename: spec.Filename,
		content: spec.Content, seed: spec.Seed}
	if o.content == nil && o.seed == 0 {
		o.seed = uint64(seq)
	}
	if o.content != nil {
		o.Size = int64(len(o.content))
	} else {
		o.Size = spec.Size
	}
	// Hash by streaming once, so generated media never sits in memory.
	h := sha256.New()
	if _, err := io.Copy(h, o.reader()); err != nil {
		return MediaObject{}, fmt.Errorf("create media: %w", err)
	}
	sum := h.Sum(nil)
	o.SHA256, o.SHA256Base64 = hex.EncodeToString(sum), base64.StdEncoding.EncodeToString(sum)

	s.mu.Lock()
	s.media.objects[id] = o
	s.mu.Unlock()
	return *o, nil
}

// MediaContent returns a reader of a media object's bytes.
func (s *Sim) MediaContent(id string) (io.Reader, MediaObject, bool) {
	o, ok := s.mediaObject(id)
	if !ok {
		return nil, MediaObject{}, false
	}
	return o.reader(), *o, true
}

// SetMediaURLTTL changes how long new download URLs work (Meta: 5 minutes).
func (s *Sim) SetMediaURLTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.media.init()
	s.media.urlTTL = d
}

// SetMediaFaults replaces the faults of a media id (none clears them).
func (s *Sim) SetMediaFaults(mediaID string, faults ...MediaFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.media.init()
	var fs []*MediaFault
	for i := range faults {
		f := faults[i]
		if f.Target == "" {
			f.Target = "download"
		}
		fs = append(fs, &f)
	}
	s.media.faults[mediaID] = fs
}

// MediaDownloads is how many times the media's bytes were served.
func (s *Sim) MediaDownloads(mediaID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.media.downloads[mediaID]
}

// MediaRefused is how many download requests for the media were refused
// (expired URL, bad signature, wrong token).
func (s *Sim) MediaRefused(mediaID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.media.refused[mediaID]
}

// MediaUploads is how many media uploads a number made.
func (s *Sim) MediaUploads(phoneNumberID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.media.uploads[phoneNumberID]
}

func (s *Sim) mediaObject(id string) (*MediaObject, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.media.init()
	o, ok := s.media.objects[id]
	return o, ok
}

// takeFault returns the next active fault for id and target, using one of
// its Times.
func (s *Sim) takeFault(id, target string) *MediaFault {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.media.init()
	for _, f := range s.media.faults[id] {
		if f.Target != target || f.Times < 0 {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				f.Times = -1 // used up
			}
		}
		c := *f
		return &c
	}
	return nil
}

// reader streams the object's bytes.
func (o *MediaObject) reader() io.Reader {
	if o.content != nil {
		return bytes.NewReader(o.content)
	}
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], o.seed)
	return io.LimitReader(mrand.NewChaCha8(seed), o.Size)
}

func (s *Sim) handleMediaInfo(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("mediaID")
	if !strings.HasPrefix(r.PathValue("version"), "v") {
		http.NotFound(w, r)
		return
	}
	if _, isNumber := s.numbers()[id]; isNumber {
		s.handlePhoneNumber(w, r, id)
		return
	}
	if !s.knownToken(r) {
		writeError(w, http.StatusUnauthorized, 190, "OAuthException", "Invalid OAuth access token - Cannot parse access token", "")
		return
	}
	o, ok := s.mediaObject(id)
	if !ok || !s.tokenAllows(r, o.PhoneNumberID) {
		writeObjectNotFound(w, id)
		return
	}
	if f := s.takeFault(id, "info"); f != nil && f.Kind == "status" {
		s.writeFaultStatus(w, f, id)
		return
	}
	s.mu.Lock()
	ttl := s.media.urlTTL
	key := s.media.key
	s.mu.Unlock()
	if ttl <= 0 {
		ttl = DefaultMediaURLTTL
	}
	expires := s.cfg.Now().Add(ttl).Unix()
	base := strings.TrimRight(s.cfg.BaseURL, "/")
	if base == "" {
		base = "http://" + r.Host
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"url":               fmt.Sprintf("%s/_media/download/%s?expires=%d&sig=%s", base, id, expires, urlSig(key, id, expires)),
		"mime_type":         o.MimeType,
		"sha256":            o.SHA256,
		"file_size":         o.Size, // a number, as Meta answers today (the spec shows a string)
		"id":                id,
		"messaging_product": "whatsapp",
	})
}

func (s *Sim) handleMediaDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("mediaID")
	if !s.knownToken(r) {
		writeError(w, http.StatusUnauthorized, 190, "OAuthException", "Invalid OAuth access token - Cannot parse access token", "")
		return
	}
	s.mu.Lock()
	s.media.init()
	o, ok := s.media.objects[id]
	allowed := ok && s.tokenAllows(r, o.PhoneNumberID)
	if allowed {
		delete(s.media.objects, id)
	}
	s.mu.Unlock()
	if !allowed {
		writeObjectNotFound(w, id)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"success":true}`)
}

func (s *Sim) handleMediaDownload(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("mediaID")
	s.mu.Lock()
	s.media.init()
	key := s.media.key
	s.mu.Unlock()
	refuse := func(status int, msg string) {
		s.mu.Lock()
		s.media.refused[id]++
		s.mu.Unlock()
		http.Error(w, msg, status)
	}
	expires, err := strconv.ParseInt(r.URL.Query().Get("expires"), 10, 64)
	if err != nil || !hmac.Equal([]byte(r.URL.Query().Get("sig")), []byte(urlSig(key, id, expires))) {
		refuse(http.StatusForbidden, "Bad URL hash")
		return
	}
	if !s.cfg.Now().Before(time.Unix(expires, 0)) {
		refuse(http.StatusNotFound, "URL signature expired")
		return
	}
	o, ok := s.mediaObject(id)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if !s.tokenAllows(r, o.PhoneNumberID) {
		refuse(http.StatusUnauthorized, "Unauthorized")
		return
	}
	f := s.takeFault(id, "download")
	if f != nil {
		switch f.Kind {
		case "status":
			s.writeFaultStatus(w, f, id)
			return
		case "expire":
			refuse(http.StatusNotFound, "URL signature expired")
			return
		}
	}
	s.mu.Lock()
	s.media.downloads[id]++
	s.mu.Unlock()

	w.Header().Set("Content-Type", o.MimeType)
	w.Header().Set("Content-Length", strconv.FormatInt(o.Size, 10))
	body := o.reader()
	switch {
	case f == nil:
	case f.Kind == "truncate":
		// Announce the full length, send half: the server then cuts the
		// connection and the client sees an unexpected EOF.
		body = io.LimitReader(body, o.Size/2)
	case f.Kind == "corrupt":
		body = &corruptReader{r: body, at: o.Size / 2}
	case f.Kind == "slow":
		body = &slowReader{r: body, delay: time.Duration(f.DelayMS) * time.Millisecond, ctx: r}
	}
	buf := make([]byte, 64<<10)
	flusher, _ := w.(http.Flusher)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if flusher != nil && f != nil && f.Kind == "slow" {
				flusher.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}

func (s *Sim) writeFaultStatus(w http.ResponseWriter, f *MediaFault, id string) {
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	switch {
	case f.Code == 131052:
		writeError(w, status, 131052, "OAuthException", "Media download error", "Unable to download the media sent by the user.")
	case f.Code != 0:
		writeError(w, status, f.Code, "OAuthException", "Simulated failure", "")
	case status == http.StatusNotFound:
		writeObjectNotFound(w, id)
	default:
		writeError(w, status, 2, "OAuthException", "Service temporarily unavailable", "")
	}
}

// writeObjectNotFound answers like Meta for an unknown or foreign object id
// (code 100, subcode 33).
func writeObjectNotFound(w http.ResponseWriter, id string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	msg := fmt.Sprintf("Unsupported get request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api", id)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"message": msg, "type": "GraphMethodException", "code": 100, "error_subcode": 33, "fbtrace_id": "AsimTrace100",
	}})
}

func (s *Sim) handleMediaUpload(w http.ResponseWriter, r *http.Request) {
	n, ok := s.authorize(w, r, r.PathValue("phoneNumberID"))
	if !ok {
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) The request must be multipart/form-data", "")
		return
	}
	var product, typ, filename string
	var content []byte
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) Malformed multipart body", "")
			return
		}
		switch p.FormName() {
		case "messaging_product":
			b, _ := io.ReadAll(io.LimitReader(p, 64))
			product = string(b)
		case "type":
			b, _ := io.ReadAll(io.LimitReader(p, 256))
			typ = string(b)
		case "file":
			filename = p.FileName()
			content, err = io.ReadAll(io.LimitReader(p, maxMediaSize+1))
			if err != nil {
				writeError(w, http.StatusBadRequest, 131053, "OAuthException", "Media upload error", "Could not read the uploaded file.")
				return
			}
		}
	}
	switch {
	case product != "whatsapp":
		writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) The parameter messaging_product is required.", "")
		return
	case content == nil:
		writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) The parameter file is required.", "")
		return
	case typ == "":
		writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) Param type is required.", "")
		return
	case len(content) > maxMediaSize:
		writeError(w, http.StatusBadRequest, 131053, "OAuthException", "Media upload error", "File is larger than the maximum size.")
		return
	}
	o, err := s.CreateMedia(MediaSpec{PhoneNumberID: n.PhoneNumberID, MimeType: typ, Filename: filename, Content: content})
	if err != nil {
		writeError(w, http.StatusBadRequest, 131053, "OAuthException", "Media upload error", err.Error())
		return
	}
	s.mu.Lock()
	s.media.uploads[n.PhoneNumberID]++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"id": o.ID})
}

func (s *Sim) handleSimMediaCreate(w http.ResponseWriter, r *http.Request) {
	var spec MediaSpec
	if err := json.NewDecoder(io.LimitReader(r.Body, 150<<20)).Decode(&spec); err != nil {
		http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	o, err := s.CreateMedia(spec)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(o)
}

func (s *Sim) handleSimMediaConfig(w http.ResponseWriter, r *http.Request) {
	var in struct {
		URLTTLSeconds float64 `json:"url_ttl_seconds"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&in); err != nil || in.URLTTLSeconds < 0 {
		http.Error(w, `want {"url_ttl_seconds": n}`, http.StatusBadRequest)
		return
	}
	s.SetMediaURLTTL(time.Duration(in.URLTTLSeconds * float64(time.Second)))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) handleSimMediaFaults(w http.ResponseWriter, r *http.Request) {
	var in struct {
		MediaID string       `json:"media_id"`
		Faults  []MediaFault `json:"faults"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil || in.MediaID == "" {
		http.Error(w, `want {"media_id": "...", "faults": [{"target":"download","kind":"truncate","times":1}]}`, http.StatusBadRequest)
		return
	}
	for _, f := range in.Faults {
		switch f.Kind {
		case "status", "slow", "truncate", "corrupt", "expire":
		default:
			http.Error(w, "unknown fault kind "+strconv.Quote(f.Kind), http.StatusBadRequest)
			return
		}
	}
	s.SetMediaFaults(in.MediaID, in.Faults...)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) handleSimMediaStats(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.media.init()
	out := map[string]any{"downloads": s.media.downloads, "refused": s.media.refused, "uploads": s.media.uploads}
	b, err := json.Marshal(out)
	s.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func urlSig(key []byte, id string, expires int64) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s|%d", id, expires)
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// corruptReader flips one byte at offset at.
type corruptReader struct {
	r   io.Reader
	at  int64
	pos int64
}

func (c *corruptReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.at >= c.pos && c.at < c.pos+int64(n) {
		p[c.at-c.pos] ^= 0xff
	}
	c.pos += int64(n)
	return n, err
}

// slowReader pauses before each read, until the request goes away.
type slowReader struct {
	r     io.Reader
	delay time.Duration
	ctx   *http.Request
}

func (s *slowReader) Read(p []byte) (int, error) {
	select {
	case <-time.After(s.delay):
	case <-s.ctx.Context().Done():
		return 0, s.ctx.Context().Err()
	}
	return s.r.Read(p[:min(len(p), 64<<10)])
}
