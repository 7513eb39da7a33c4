package coresink

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault modes: what the next pushes suffer, as a real core (or the network
// in front of it) can make them.
const (
	// FaultDrop accepts the event (it is recorded, its idempotency key
	// taken) and then closes the connection without an answer: the push
	// succeeded but the bridge never hears it, retries, and the retry is
	// answered as a duplicate.
	FaultDrop = "drop"
	// FaultSlow accepts the event and answers after DelayMS: longer than
	// the bridge's HTTP timeout (10 s), the bridge gives up, retries, and
	// the retry is a duplicate.
	FaultSlow = "slow"
	// FaultStatus answers Status (429, 503, …) with Retry-After when
	// RetryAfterS is set, without accepting the event.
	FaultStatus = "status"
	// FaultOff clears any fault.
	FaultOff = "off"
)

// Fault is the switch of POST /_sink/fault: Mode for the next Count pushes
// (Count -1: until switched off).
type Fault struct {
	Mode        string `json:"mode"`
	Count       int    `json:"count"`
	Status      int    `json:"status,omitempty"`        // FaultStatus
	RetryAfterS int    `json:"retry_after_s,omitempty"` // FaultStatus: Retry-After in seconds (0: none)
	DelayMS     int    `json:"delay_ms,omitempty"`      // FaultSlow
	// EventType, when set, limits the fault to pushes of events whose
	// type starts with it ("outbound.", "message.status"): the pushes of
	// one function, when several push at once.
	EventType string `json:"event_type,omitempty"`
}

// check reports what is wrong with f, or nil.
func (f Fault) check() error {
	switch f.Mode {
	case FaultOff:
		return nil
	case FaultDrop:
	case FaultSlow:
		if f.DelayMS <= 0 {
			return fmt.Errorf("slow wants delay_ms > 0")
		}
	case FaultStatus:
		if f.Status < 400 || f.Status > 599 {
			return fmt.Errorf("status wants a 4xx or 5xx status")
		}
		if f.RetryAfterS < 0 {
			return fmt.Errorf("retry_after_s must be >= 0")
		}
	default:
		return fmt.Errorf("mode must be drop, slow, status or off")
	}
	if f.Count == 0 || f.Count < -1 {
		return fmt.Errorf("count must be > 0, or -1 for until switched off")
	}
	return nil
}

// SetFault makes the next f.Count pushes suffer f (FaultOff clears it).
func (s *Sink) SetFault(f Fault) error {
	if err := f.check(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Mode == FaultOff {
		s.fault = Fault{}
		return nil
	}
	s.fault = f
	return nil
}

// takeFault returns the fault the current push, of an event of type
// eventType, suffers, counting it down. Callers hold s.mu.
func (s *Sink) takeFault(eventType string) (Fault, bool) {
	f := s.fault
	if f.Mode == "" || f.Count == 0 || !strings.HasPrefix(eventType, f.EventType) {
		return Fault{}, false
	}
	if f.Count > 0 {
		s.fault.Count--
		if s.fault.Count == 0 {
			s.fault = Fault{}
		}
	}
	switch f.Mode {
	case FaultDrop:
		s.stats.InjectedDrops++
	case FaultSlow:
		s.stats.InjectedSlow++
	case FaultStatus:
		s.stats.InjectedFailures++
	}
	return f, true
}

func (s *Sink) serveFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&f); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"mode":"drop|slow|status|off","count":N,...}`})
		return
	}
	if err := s.SetFault(f); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, s.Stats())
}

// answerStatus answers a FaultStatus push.
func answerStatus(w http.ResponseWriter, f Fault) {
	if f.RetryAfterS > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfterS))
	}
	writeJSON(w, f.Status, map[string]string{"error": "simulated core failure"})
}

// heldAnswer buffers the answer of an accepted push, so that a fault can
// withhold it (drop) or delay it (slow).
type heldAnswer struct {
	header http.Header
	status int
	body   []byte
}

func (a *heldAnswer) Header() http.Header { return a.header }
func (a *heldAnswer) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
}
func (a *heldAnswer) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	a.body = append(a.body, b...)
	return len(b), nil
}

// deliver sends the held answer after f: never (drop: the connection is
// closed unanswered) or after f.DelayMS (slow; given up if the client
// went away meanwhile).
func (a *heldAnswer) deliver(w http.ResponseWriter, r *http.Request, f Fault) {
	switch f.Mode {
	case FaultDrop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		// No hijacking (HTTP/2): abort the response instead.
		panic(http.ErrAbortHandler)
	case FaultSlow:
		t := time.NewTimer(time.Duration(f.DelayMS) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}
