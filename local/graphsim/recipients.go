package graphsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WindowLength is Meta's customer service window: free-form (non-template)
// messages reach a user only within this time after the user last wrote
// to the business number; later, Meta accepts the send and then reports
// it failed with 131047.
const WindowLength = 24 * time.Hour

// recipientState is what the simulator knows of WhatsApp users: the
// accounts it has heard of (by wa_id) and when each last wrote to each
// business number. Guarded by Sim.mu.
type recipientState struct {
	accounts    map[string]bool
	lastInbound map[string]time.Time // phone number id + "#" + wa_id
}

func (r *recipientState) reset() {
	*r = recipientState{accounts: map[string]bool{}, lastInbound: map[string]time.Time{}}
}

// heard records that the user waID wrote to the number at `at`: the
// account exists and its window with the number runs from then (an older
// message never shortens it).
func (r *recipientState) heard(phoneNumberID, waID string, at time.Time) {
	r.accounts[waID] = true
	k := phoneNumberID + "#" + waID
	if at.After(r.lastInbound[k]) {
		r.lastInbound[k] = at
	}
}

// open reports whether a free-form message from the number reaches waID
// at now.
func (r *recipientState) open(phoneNumberID, waID string, now time.Time) bool {
	last, ok := r.lastInbound[phoneNumberID+"#"+waID]
	return ok && now.Sub(last) < WindowLength
}

// resolve is the wa_id Meta answers for a send's `to`: the digits of the
// number, except for a Brazilian mobile number whose account the
// simulator knows under the number's other form. Brazil added a ninth
// digit to mobile numbers (55 + area code + 9 + 8 digits); accounts
// registered before keep a wa_id without it, and Meta resolves a send to
// either form to the account's wa_id. A number the simulator never heard
// of keeps its digits.
func (r *recipientState) resolve(to string) string {
	d := digits(to)
	if d == "" || r.accounts[d] {
		return d
	}
	if alt, ok := brazilAlternate(d); ok && r.accounts[alt] {
		return alt
	}
	return d
}

// digits is the wa_id of a phone number as a send writes it ("+", spaces,
// dashes and parentheses dropped), or "" when to is not a phone number.
func digits(to string) string {
	var b strings.Builder
	for _, c := range to {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == '+' || c == ' ' || c == '-' || c == '(' || c == ')':
		default:
			return ""
		}
	}
	return b.String()
}

// brazilAlternate is the other form of a Brazilian mobile number: without
// the ninth digit (55 AA 9XXXXXXXX → 55 AA XXXXXXXX) or with it (an 8-digit
// mobile number, which starts with 6 to 9, gains the 9).
func brazilAlternate(d string) (string, bool) {
	if !strings.HasPrefix(d, "55") || d[2] == '0' || d[3] == '0' {
		return "", false
	}
	switch {
	case len(d) == 13 && d[4] == '9':
		return d[:4] + d[5:], true
	case len(d) == 12 && d[4] >= '6':
		return d[:4] + "9" + d[4:], true
	}
	return "", false
}

// OpenWindow records that the user waID wrote to the business number at
// lastInbound, as a simulated inbound message does: the account exists and
// free-form messages reach it until lastInbound + WindowLength.
func (s *Sim) OpenWindow(phoneNumberID, waID string, lastInbound time.Time) {
	s.mu.Lock()
	s.recipients.heard(phoneNumberID, waID, lastInbound)
	s.mu.Unlock()
}

// CloseWindow forgets when waID last wrote to the number: free-form
// messages to it fail (131047) until it writes again.
func (s *Sim) CloseWindow(phoneNumberID, waID string) {
	s.mu.Lock()
	delete(s.recipients.lastInbound, phoneNumberID+"#"+waID)
	s.mu.Unlock()
}

// Window is the customer service window of a user and a number, as
// GET /_sim/window shows it.
type Window struct {
	PhoneNumberID string     `json:"phone_number_id"`
	WaID          string     `json:"wa_id"`
	Open          bool       `json:"open"`
	LastInbound   *time.Time `json:"last_inbound,omitempty"`
	ExpiresAt     *time.Time `json:"expires_at,omitempty"`
}

// WindowOf returns the window of waID (resolved like a send's `to`) with
// the number now.
func (s *Sim) WindowOf(phoneNumberID, to string) Window {
	s.mu.Lock()
	defer s.mu.Unlock()
	waID := s.recipients.resolve(to)
	w := Window{PhoneNumberID: phoneNumberID, WaID: waID, Open: s.recipients.open(phoneNumberID, waID, s.cfg.Now())}
	if last, ok := s.recipients.lastInbound[phoneNumberID+"#"+waID]; ok {
		exp := last.Add(WindowLength)
		w.LastInbound, w.ExpiresAt = &last, &exp
	}
	return w
}

// windowRequest is the body of POST /_sim/window.
type windowRequest struct {
	PhoneNumberID string `json:"phone_number_id"` // default: the first configured number
	WaID          string `json:"wa_id"`
	// LastInbound is when the user last wrote (RFC 3339; default now).
	LastInbound *time.Time `json:"last_inbound,omitempty"`
	// Close forgets the user's last message instead.
	Close bool `json:"close,omitempty"`
}

// routeRecipients registers POST /_sim/window (open or close a user's
// window without a webhook) and GET /_sim/window?phone_number_id=&wa_id=.
func (s *Sim) routeRecipients(mux *http.ServeMux) {
	s.mu.Lock()
	s.recipients.reset()
	s.mu.Unlock()
	mux.HandleFunc("POST /_sim/window", func(w http.ResponseWriter, r *http.Request) {
		var req windowRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || digits(req.WaID) == "" {
			replyJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"phone_number_id":"...","wa_id":"5511...","last_inbound":"2026-01-01T12:00:00Z"} or {"wa_id":"...","close":true}`})
			return
		}
		n, ok := s.inboundNumber(req.PhoneNumberID)
		if !ok {
			replyJSON(w, http.StatusNotFound, map[string]string{"error": "phone_number_id " + strconv.Quote(req.PhoneNumberID) + " is not a simulated number"})
			return
		}
		waID := digits(req.WaID)
		switch {
		case req.Close:
			s.CloseWindow(n.PhoneNumberID, waID)
		case req.LastInbound != nil:
			s.OpenWindow(n.PhoneNumberID, waID, *req.LastInbound)
		default:
			s.OpenWindow(n.PhoneNumberID, waID, s.cfg.Now())
		}
		replyJSON(w, http.StatusOK, s.WindowOf(n.PhoneNumberID, waID))
	})
	mux.HandleFunc("GET /_sim/window", func(w http.ResponseWriter, r *http.Request) {
		n, ok := s.inboundNumber(r.URL.Query().Get("phone_number_id"))
		if !ok {
			replyJSON(w, http.StatusNotFound, map[string]string{"error": "unknown phone_number_id"})
			return
		}
		replyJSON(w, http.StatusOK, s.WindowOf(n.PhoneNumberID, r.URL.Query().Get("wa_id")))
	})
}

// heardFrom records the users who wrote in a webhook payload the simulator
// posts (messages[].from at their timestamp, to the payload's number).
// Payloads it cannot read record nothing.
func (s *Sim) heardFrom(payload []byte) {
	var p struct {
		Entry []struct {
			Changes []struct {
				Field string `json:"field"`
				Value struct {
					Metadata struct {
						PhoneNumberID string `json:"phone_number_id"`
					} `json:"metadata"`
					Messages []struct {
						From      string `json:"from"`
						Timestamp string `json:"timestamp"`
					} `json:"messages"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if json.NewDecoder(bytes.NewReader(payload)).Decode(&p) != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range p.Entry {
		for _, c := range e.Changes {
			if c.Field != "messages" {
				continue
			}
			for _, m := range c.Value.Messages {
				ts, err := strconv.ParseInt(m.Timestamp, 10, 64)
				if err != nil || digits(m.From) == "" {
					continue
				}
				s.recipients.heard(c.Value.Metadata.PhoneNumberID, digits(m.From), time.Unix(ts, 0))
			}
		}
	}
}
