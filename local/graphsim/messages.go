package graphsim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Meta's limits as the simulator enforces them.
const (
	// ThroughputWindow: at most Number.Throughput messages (read receipts
	// and typing indicators included) accepted from a number in any
	// sliding window this long, else 130429.
	ThroughputWindow = time.Second
	// PairPeriod and PairBurst: messages to one recipient from one number
	// follow a GCRA of one per PairPeriod with bursts of PairBurst that
	// borrow from later quota, else 131056 (META_RULES.md: about 1 per 6 s,
	// bursts of up to 45).
	PairPeriod = 6 * time.Second
	PairBurst  = 45
)

// Fault makes the messages endpoint answer the next Count matching sends
// with Meta's error Code instead of accepting them. Empty To or
// PhoneNumberID match any.
type Fault struct {
	Code          int    `json:"code"`
	To            string `json:"to,omitempty"`
	PhoneNumberID string `json:"phone_number_id,omitempty"`
	Count         int    `json:"count"`
	// Status is the HTTP status (default 400; 401 for 190, 500 for 2,
	// 131000 and 131016).
	Status int `json:"status,omitempty"`
	// Transport, when true, accepts the message (it is recorded) and then
	// drops the connection without answering: Meta acted, the client saw a
	// transport error.
	Transport bool `json:"transport,omitempty"`
}

// MessageStats counts what the messages endpoint answered.
type MessageStats struct {
	Accepted   int `json:"accepted"`
	Throughput int `json:"e130429"` // refused over the number's rate
	Pair       int `json:"e131056"` // refused over the pair rate
	Invalid    int `json:"invalid"` // refused by request validation
	Faults     int `json:"faults"`  // answered from the fault switch
	// Limited counts business-initiated messages accepted over the
	// portfolio's messaging limit (failed later with 131048).
	Limited int `json:"limited"`
	// LinksFetched counts media links fetched for accepted messages,
	// LinksFailed those that failed the message (131053).
	LinksFetched int `json:"links_fetched"`
	LinksFailed  int `json:"links_failed"`
}

// messageState is what the simulator remembers of sends. Guarded by Sim.mu.
type messageState struct {
	accepted []Accepted
	recent   map[string][]time.Time // phone number id → acceptance times within the window
	pairs    map[string]time.Time   // phone number id + "#" + wa id → GCRA tat
	faults   []*Fault
	stats    MessageStats
}

func (m *messageState) reset() {
	*m = messageState{recent: map[string][]time.Time{}, pairs: map[string]time.Time{}}
}

// routeMessages registers POST /{version}/{phone-number-id}/messages and
// the /_sim/messages, /_sim/faults and /_sim/messages/stats switches.
func (s *Sim) routeMessages(mux *http.ServeMux) {
	s.mu.Lock()
	s.messages.reset()
	s.mu.Unlock()
	mux.HandleFunc("POST /{version}/{id}/messages", s.handleSend)
	mux.HandleFunc("GET /_sim/messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.messageViews(r.URL.Query().Get("to")))
	})
	mux.HandleFunc("DELETE /_sim/messages", func(w http.ResponseWriter, r *http.Request) {
		s.ResetMessages()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sim/messages/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.MessageStats())
	})
	mux.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&f); err != nil || f.Code == 0 {
			http.Error(w, `want {"code":131026,"to":"...","phone_number_id":"...","count":1}`, http.StatusBadRequest)
			return
		}
		s.AddFault(f)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.messages.faults = nil
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
}

// Messages returns every message accepted so far, in acceptance order
// (read receipts and typing indicators included, with type "read" or
// "typing" and no wamid).
func (s *Sim) Messages() []Accepted {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Accepted(nil), s.messages.accepted...)
}

// MessagesFrom returns the messages accepted after the first i, in
// acceptance order: a watcher that keeps its own count reads only what is
// new, where Messages copies everything under the lock sends take. After
// ResetMessages, i past the end returns none.
func (s *Sim) MessagesFrom(i int) []Accepted {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < 0 {
		i = 0
	}
	if i >= len(s.messages.accepted) {
		return nil
	}
	return append([]Accepted(nil), s.messages.accepted[i:]...)
}

// MessageStats returns the counters of the messages endpoint.
func (s *Sim) MessageStats() MessageStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messages.stats
}

// ResetMessages forgets accepted messages, rate state (the users each
// portfolio reached included; tiers stay), faults and counters.
func (s *Sim) ResetMessages() {
	s.mu.Lock()
	s.messages.reset()
	s.limits.reached, s.limits.refused = nil, nil
	s.mu.Unlock()
}

// AddFault queues a fault (Count defaults to 1).
func (s *Sim) AddFault(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	s.messages.faults = append(s.messages.faults, &f)
	s.mu.Unlock()
}

// messageView is an accepted message as GET /_sim/messages shows it.
type messageView struct {
	WAMID         string          `json:"wamid"`
	PhoneNumberID string          `json:"phone_number_id"`
	To            string          `json:"to"`
	WaID          string          `json:"wa_id,omitempty"`
	Type          string          `json:"type"`
	Body          json.RawMessage `json:"body"`
	At            time.Time       `json:"accepted_at"`
}

func (s *Sim) messageViews(to string) []messageView {
	out := []messageView{}
	for _, a := range s.Messages() {
		if d := digits(to); to != "" && digits(a.To) != d && a.WaID != d {
			continue
		}
		out = append(out, messageView{WAMID: a.WAMID, PhoneNumberID: a.PhoneNumberID, To: a.To, WaID: a.WaID, Type: a.Type, Body: a.Body, At: a.At})
	}
	return out
}

// overThroughput reports whether one more request arriving at now would
// put more than limit of a number's requests into some window of
// ThroughputWindow. times are the arrivals already accepted within the
// window of now; requests are stamped on arrival and handled in lock
// order, so a few may have arrived after now: every window that would hold
// the new request counts, the one ending at now and those ending at each
// later arrival.
func overThroughput(times []time.Time, now time.Time, limit int) bool {
	inWindow := func(end time.Time) int {
		n := 0
		for _, t := range times {
			if !t.After(end) && end.Sub(t) < ThroughputWindow {
				n++
			}
		}
		return n
	}
	if inWindow(now) >= limit {
		return true
	}
	for _, e := range times {
		if e.After(now) && e.Sub(now) < ThroughputWindow && inWindow(e)+1 > limit {
			return true
		}
	}
	return false
}

func (s *Sim) handleSend(w http.ResponseWriter, r *http.Request) {
	// Meta's limits count a request when it arrives, not when this
	// simulator gets round to it: the time is taken before the body is
	// read and checked and before the lock, so that the simulator's own
	// stalls (a garbage collection, requests queued on the lock) do not
	// bunch requests that arrived on their slots and refuse them.
	arrived := s.cfg.Now()
	id := r.PathValue("id")
	n, ok := s.authorize(w, r, id)
	if !ok || s.unregisteredAnswer(w, id) {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		paramError("Invalid parameter").write(w)
		return
	}
	req, kind, refusal := checkMessage(body)
	if refusal != nil {
		s.mu.Lock()
		s.messages.stats.Invalid++
		s.mu.Unlock()
		refusal.write(w)
		return
	}
	to, _ := req["to"].(string)
	// A business-scoped user id is its own key: the simulator knows the
	// user by it (OpenWindow) and answers it as user_id.
	bsuid, _ := req["recipient"].(string)
	if to != "" {
		bsuid = ""
	}
	receipt := kind == "read" || kind == "typing"

	s.mu.Lock()
	m := &s.messages
	now := arrived
	waID := s.recipients.resolve(to)
	if bsuid != "" {
		to, waID = bsuid, bsuid
	}
	// Meta answers a free-form message outside the customer service window
	// with success and reports 131047 later in a failed status.
	fail := 0
	if !receipt && kind != "template" && !s.recipients.open(id, waID, now) {
		fail = CodeWindowClosed
	}
	if f := m.takeFault(id, digits(to), waID); f != nil {
		m.stats.Faults++
		switch {
		case f.Transport:
			if fail == 0 && s.overLimitLocked(n, kind, waID, now) {
				fail = CodeSpamRateLimit
			}
			a := m.accept(id, to, waID, kind, body, now, receipt, fail)
			s.mu.Unlock()
			if !receipt {
				s.onAccepted(a)
			}
			dropConnection(w)
			return
		case f.Code == CodeWindowClosed:
			// Never synchronous, as with Meta: accepted, failed later.
			fail = CodeWindowClosed
		default:
			s.mu.Unlock()
			writeError(w, faultStatus(f), f.Code, "OAuthException", fmt.Sprintf("(#%d) simulated error", f.Code), "forced by /_sim/faults")
			return
		}
	}
	recent := m.recent[id][:0:0]
	for _, t := range m.recent[id] {
		if now.Sub(t) < ThroughputWindow {
			recent = append(recent, t)
		}
	}
	m.recent[id] = recent
	if overThroughput(recent, now, n.Throughput) {
		m.stats.Throughput++
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, 130429, "OAuthException", "(#130429) Rate limit hit",
			"Cloud API message throughput has been reached.")
		return
	}
	if !receipt {
		pk := id + "#" + waID
		tat := m.pairs[pk]
		if tat.Before(now) {
			tat = now
		}
		if tat.After(now.Add((PairBurst - 1) * PairPeriod)) {
			m.stats.Pair++
			s.mu.Unlock()
			writeError(w, http.StatusBadRequest, 131056, "OAuthException", "(#131056) (Business Account, Consumer Account) pair rate limit hit",
				"Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.")
			return
		}
		m.pairs[pk] = tat.Add(PairPeriod)
	}
	// A template outside the window is business-initiated: it counts
	// against the portfolio's messaging limit, and past it Meta accepts
	// it and fails it later (limits.go).
	if fail == 0 && s.overLimitLocked(n, kind, waID, now) {
		fail = CodeSpamRateLimit
	}
	m.recent[id] = append(m.recent[id], now)
	a := m.accept(id, to, waID, kind, body, now, receipt, fail)
	if !receipt && fail == 0 {
		a.links = mediaLinks(req)
	}
	s.mu.Unlock()

	if receipt {
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
		return
	}
	s.onAccepted(a)
	writeJSON(w, http.StatusOK, map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []map[string]string{contactAnswer(to, waID, bsuid != "")},
		"messages":          []map[string]string{{"id": a.WAMID}},
	})
}

// overLimitLocked counts a business-initiated message (a template while
// the user's window with the number is closed) against the portfolio's
// messaging limit and reports whether it is over it.
func (s *Sim) overLimitLocked(n *Number, kind, waID string, now time.Time) bool {
	if kind != "template" || s.recipients.open(n.PhoneNumberID, waID, now) || s.limits.reach(portfolio(n), waID, now) {
		return false
	}
	s.messages.stats.Limited++
	return true
}

func (m *messageState) accept(id, to, waID, kind string, body []byte, now time.Time, receipt bool, fail int) Accepted {
	a := Accepted{PhoneNumberID: id, To: to, WaID: waID, Type: kind, Body: body, At: now, fail: fail}
	if !receipt {
		a.WAMID = newWAMID()
	}
	m.accepted = append(m.accepted, a)
	m.stats.Accepted++
	return a
}

// takeFault returns the next fault matching the number and the recipient,
// named by the digits the send used or the wa_id Meta resolved them to.
func (m *messageState) takeFault(phoneNumberID, toDigits, waID string) *Fault {
	for i, f := range m.faults {
		ft := digits(f.To)
		if (f.PhoneNumberID == "" || f.PhoneNumberID == phoneNumberID) && (f.To == "" || ft == toDigits || ft == waID) {
			f.Count--
			if f.Count <= 0 {
				m.faults = append(m.faults[:i], m.faults[i+1:]...)
			}
			return f
		}
	}
	return nil
}

func faultStatus(f *Fault) int {
	switch {
	case f.Status != 0:
		return f.Status
	case f.Code == 190:
		return http.StatusUnauthorized
	case f.Code == 2 || f.Code == 131000 || f.Code == 131016:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// dropConnection closes the connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			_ = c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// newWAMID makes an id shaped like Meta's: "wamid." and base64.
func newWAMID() string {
	b := make([]byte, 30)
	_, _ = rand.Read(b)
	return "wamid." + base64.StdEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// contactAnswer is the answer's contacts[] entry: the input and Meta's
// wa_id, or, for a send to a business-scoped user id, its user_id.
func contactAnswer(input, waID string, bsuid bool) map[string]string {
	if bsuid {
		return map[string]string{"input": input, "user_id": input}
	}
	return map[string]string{"input": input, "wa_id": waID}
}
