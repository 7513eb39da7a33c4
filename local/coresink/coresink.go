// Package coresink is a local stand-in for the TucanLink core's event API:
// it accepts what the bridge pushes, checks the bearer token and the
// X-Wacloud-Signature HMAC like the core does, keeps every event exactly as
// posted, and lets people and tests read them back. A switch makes it fail
// requests so that a core outage can be simulated. It exists only to run
// and test locally.
//
// Endpoints:
//
//	POST {Path}           an event (Authorization: Bearer, X-Wacloud-Signature, Idempotency-Key)
//	GET  /events          every event received, in arrival order, exactly as posted (JSON array);
//	                      ?type=, ?tenant_id=, ?event_id= filter
//	DELETE /events        forget every event and idempotency key
//	GET  /stats           counters
//	POST /_sink/fail      {"status":503,"count":N}: answer the next N pushes with status
//	POST /_sink/fault     {"mode":"drop|slow|status|off","count":N,...}: the faults a real core has (see Fault)
//	POST /_sink/latency   {"ms":100}: take that long over every push (a slow core); 0 ends it
//	GET  /_sink/latency   the latency now: {"ms":100}
//
// With Config.Issuer set it is also the core's identity provider for the
// management API (see Issuer):
//
//	POST /oauth/token                       client credentials grant → RS256 JWT access token
//	GET  /.well-known/jwks.json             the signing key
//	GET  /.well-known/openid-configuration  issuer metadata (jwks_uri), as API Gateway reads it
//	POST /_core/tenants                     {"tenant_id":"newco"}: the core created a tenant; tokens may name it (Issuer.Grant)
package coresink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tucanlink/wacloud/shared/core"
)

// Config configures a Sink.
type Config struct {
	Path          string // where events are posted (the template's CoreEventsPath)
	BearerToken   string
	SigningSecret string
	Log           *slog.Logger
	// Issuer, when set (NewIssuer), issues the management API's access
	// tokens.
	Issuer *Issuer
}

// MaxBody bounds one pushed event.
const MaxBody = 4 << 20

// Stats are the sink's counters.
type Stats struct {
	Requests          int `json:"requests"`            // pushes received, whatever their outcome
	Accepted          int `json:"accepted"`            // events appended
	Duplicates        int `json:"duplicates"`          // pushes whose Idempotency-Key was already received
	Unauthorized      int `json:"unauthorized"`        // bad or missing bearer token
	BadSignature      int `json:"bad_signature"`       // bad or missing X-Wacloud-Signature
	BadRequest        int `json:"bad_request"`         // not a JSON object, no Idempotency-Key
	InjectedFailures  int `json:"injected_failures"`   // answered with the fail switch's status
	PendingFailures   int `json:"pending_failures"`    // still to be failed
	PendingFailStatus int `json:"pending_fail_status"` // the status they get
	InjectedDrops     int `json:"injected_drops"`      // pushes accepted, then the connection closed unanswered (FaultDrop)
	InjectedSlow      int `json:"injected_slow"`       // pushes accepted and answered late (FaultSlow)
	// PendingFault is the fault switch's state (nil: none).
	PendingFault *Fault `json:"pending_fault,omitempty"`
}

// Sink is the core stand-in. It is an http.Handler, safe for concurrent use.
type Sink struct {
	cfg Config

	mu       sync.Mutex
	events   []record
	keys     map[string]bool
	repeats  map[string]int // idempotency key → pushes after the first
	stats    Stats
	failLeft int
	failCode int
	fault    Fault
	latency  time.Duration
}

// MaxLatency bounds the latency switch: a push slower than the bridge's
// 10 s timeout is a fault to simulate on purpose, not by a typo.
const MaxLatency = time.Minute

type record struct {
	raw      json.RawMessage
	typ      string
	tenantID string
	eventID  string
	trace    string // the push's X-Amzn-Trace-Id
}

// New builds a sink.
func New(cfg Config) *Sink {
	if cfg.Path == "" {
		cfg.Path = "/wacloud/v1/events"
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Sink{cfg: cfg, keys: map[string]bool{}, repeats: map[string]int{}}
}

func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	is := s.cfg.Issuer
	switch {
	case r.URL.Path == s.cfg.Path && r.Method == http.MethodPost:
		s.push(w, r)
	case is != nil && r.URL.Path == "/oauth/token" && r.Method == http.MethodPost:
		is.serveToken(w, r)
	case is != nil && r.URL.Path == "/.well-known/jwks.json" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, is.JWKS())
	case is != nil && r.URL.Path == "/.well-known/openid-configuration" && r.Method == http.MethodGet:
		is.serveDiscovery(w)
	case is != nil && r.URL.Path == "/_core/tenants" && r.Method == http.MethodPost:
		var in struct {
			TenantID string `json:"tenant_id"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&in); err != nil || is.Grant(in.TenantID) != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"tenant_id":"a tenant id"}`})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"scopes_supported": is.scopes()})
	case r.URL.Path == "/events" && r.Method == http.MethodGet:
		s.list(w, r)
	case r.URL.Path == "/events" && r.Method == http.MethodDelete:
		s.Reset()
		writeJSON(w, http.StatusOK, map[string]string{"status": "reset"})
	case r.URL.Path == "/stats" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Stats())
	case r.URL.Path == "/_sink/latency" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]int64{"ms": s.Latency().Milliseconds()})
	case r.URL.Path == "/_sink/latency" && r.Method == http.MethodPost:
		var in struct {
			MS *int64 `json:"ms"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&in); err != nil || in.MS == nil || *in.MS < 0 || *in.MS > MaxLatency.Milliseconds() {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf(`want {"ms": 0 to %d}`, MaxLatency.Milliseconds())})
			return
		}
		s.SetLatency(time.Duration(*in.MS) * time.Millisecond)
		writeJSON(w, http.StatusOK, map[string]int64{"ms": s.Latency().Milliseconds()})
	case r.URL.Path == "/_sink/fail" && r.Method == http.MethodPost:
		var in struct{ Status, Count int }
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&in); err != nil || in.Count < 0 || (in.Count > 0 && (in.Status < 400 || in.Status > 599)) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"status": 4xx or 5xx, "count": N >= 0}`})
			return
		}
		s.Fail(in.Status, in.Count)
		writeJSON(w, http.StatusOK, s.Stats())
	case r.URL.Path == "/_sink/fault" && r.Method == http.MethodPost:
		s.serveFault(w, r)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such endpoint"})
	}
}

func (s *Sink) push(w http.ResponseWriter, r *http.Request) {
	if d := s.Latency(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			// The caller gave up: the core never saw the event.
			t.Stop()
			return
		}
	}
	s.mu.Lock()
	s.stats.Requests++
	if s.failLeft > 0 {
		s.failLeft--
		s.stats.InjectedFailures++
		code := s.failCode
		s.mu.Unlock()
		writeJSON(w, code, map[string]string{"error": "simulated core failure"})
		return
	}
	f, faulty := s.takeFault(r.Header.Get(core.EventTypeHeader))
	s.mu.Unlock()
	if !faulty {
		s.accept(w, r)
		return
	}
	if f.Mode == FaultStatus {
		answerStatus(w, f)
		return
	}
	held := &heldAnswer{header: http.Header{}}
	s.accept(held, r)
	held.deliver(w, r, f)
}

// accept checks and records one push.
func (s *Sink) accept(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token != s.cfg.BearerToken {
		s.count(func(st *Stats) { st.Unauthorized++ })
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "bad or missing bearer token"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil || len(body) > MaxBody {
		s.count(func(st *Stats) { st.BadRequest++ })
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body unreadable or too large"})
		return
	}
	if !core.VerifySignature(s.cfg.SigningSecret, body, r.Header.Get(core.SignatureHeader)) {
		s.count(func(st *Stats) { st.BadSignature++ })
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "bad or missing " + core.SignatureHeader})
		return
	}
	key := r.Header.Get(core.IdempotencyHeader)
	var head struct {
		EventID  string `json:"event_id"`
		Type     string `json:"type"`
		TenantID string `json:"tenant_id"`
	}
	if err := json.Unmarshal(body, &head); err != nil || key == "" {
		s.count(func(st *Stats) { st.BadRequest++ })
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want a JSON object event and an Idempotency-Key header"})
		return
	}
	s.mu.Lock()
	if s.keys[key] {
		s.stats.Duplicates++
		s.repeats[key]++
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]string{"status": "duplicate", "idempotency_key": key})
		return
	}
	s.keys[key] = true
	s.events = append(s.events, record{raw: body, typ: head.Type, tenantID: head.TenantID, eventID: head.EventID,
		trace: r.Header.Get(core.TraceHeader)})
	s.stats.Accepted++
	s.mu.Unlock()
	s.cfg.Log.Info("core sink received event", "event_id", head.EventID, "type", head.Type, "tenant_id", head.TenantID)
	writeJSON(w, http.StatusOK, map[string]string{"status": "received", "idempotency_key": key})
}

func (s *Sink) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	typ, tenantID, eventID := q.Get("type"), q.Get("tenant_id"), q.Get("event_id")
	s.mu.Lock()
	var buf bytes.Buffer
	buf.WriteByte('[')
	n := 0
	for _, e := range s.events {
		if (typ != "" && e.typ != typ) || (tenantID != "" && e.tenantID != tenantID) || (eventID != "" && e.eventID != eventID) {
			continue
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		buf.Write(e.raw)
		n++
	}
	s.mu.Unlock()
	buf.WriteByte(']')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Event-Count", fmt.Sprint(n))
	_, _ = w.Write(buf.Bytes())
}

// Events returns every event received so far, in arrival order, as posted.
func (s *Sink) Events() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]json.RawMessage, len(s.events))
	for i, e := range s.events {
		out[i] = e.raw
	}
	return out
}

// Repeats returns how many pushes of the idempotency key key came after
// the one that was taken (the duplicates among Stats.Duplicates that are
// this event's).
func (s *Sink) Repeats(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repeats[key]
}

// TraceOf returns the X-Amzn-Trace-Id header of the push that brought
// the event eventID ("" if none, or no such event).
func (s *Sink) TraceOf(eventID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.events {
		if e.eventID == eventID {
			return e.trace
		}
	}
	return ""
}

// Reset forgets every event, idempotency key and counter (not the fail switch).
func (s *Sink) Reset() {
	s.mu.Lock()
	s.events, s.keys, s.repeats = nil, map[string]bool{}, map[string]int{}
	s.stats = Stats{}
	s.mu.Unlock()
}

// Fail makes the next count pushes answer status.
func (s *Sink) Fail(status, count int) {
	s.mu.Lock()
	s.failCode, s.failLeft = status, count
	s.mu.Unlock()
}

// SetLatency makes every push take d (0: answer at once). Pushes already
// waiting keep the latency they started with.
func (s *Sink) SetLatency(d time.Duration) {
	s.mu.Lock()
	s.latency = min(max(d, 0), MaxLatency)
	s.mu.Unlock()
}

// Latency is what SetLatency set.
func (s *Sink) Latency() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latency
}

// Stats returns the counters.
func (s *Sink) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.PendingFailures, st.PendingFailStatus = s.failLeft, s.failCode
	if s.fault.Mode != "" {
		f := s.fault
		st.PendingFault = &f
	}
	return st
}

func (s *Sink) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
