package graphsim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"
)

// StatusConfig switches how the simulator reports the delivery of accepted
// messages. The zero value sends sent, delivered and read once each, in
// order, as soon as possible.
type StatusConfig struct {
	// Disabled stops status webhooks for messages accepted from now on.
	Disabled bool `json:"disabled"`
	// Duplicates posts every status this many times (Meta delivers at least
	// once); 0 and 1 mean once.
	Duplicates int `json:"duplicates"`
	// Shuffle posts a message's statuses (and their duplicates) in random order.
	Shuffle bool `json:"shuffle"`
	// Seed makes Shuffle reproducible; 0 picks a random seed.
	Seed uint64 `json:"seed"`
	// DelayMS is the wait before each status webhook of a message (after
	// acceptance, then after the previous one).
	DelayMS int `json:"delay_ms"`
	// ReadWithoutDelivered sends sent then read only, read carrying the time
	// delivered would have had: Meta's behaviour when a message is delivered
	// and read at the same moment.
	ReadWithoutDelivered bool `json:"read_without_delivered"`
	// Until is the last state reported: "sent", "delivered" or "read"
	// (default).
	Until string `json:"until,omitempty"`
	// FailTo fails every message to these recipients (wa_id) with the given
	// Meta error code (131026 undeliverable, 131047 window closed, ...).
	FailTo map[string]int `json:"fail_to,omitempty"`
	// FailAfterSent sends sent before failed for failing recipients (Meta
	// does so for some codes); by default only failed is sent.
	FailAfterSent bool `json:"fail_after_sent"`
}

// StatusStats counts status webhooks.
type StatusStats struct {
	Scheduled int    `json:"scheduled"`
	Posted    int    `json:"posted"`
	Failed    int    `json:"failed"` // given up after retries
	Pending   int    `json:"pending"`
	LastError string `json:"last_error,omitempty"`
}

// statusState holds the status-webhook switches and queue. It has its own
// lock, so onAccepted can be called with or without Sim.mu held.
type statusState struct {
	mu      sync.Mutex
	cfg     StatusConfig
	rng     *rand.Rand
	queue   []scheduledStatus // by due time, then seq
	seq     int
	posting bool
	stats   StatusStats
	// changed is closed and replaced whenever the queue or stats change.
	changed chan struct{}
	wake    chan struct{}
	started bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}
	// fetching counts accepted messages whose media links are being
	// fetched: their statuses are scheduled once the fetch ends.
	fetching    int
	fetchCtx    context.Context
	fetchCancel context.CancelFunc
}

type scheduledStatus struct {
	due     time.Time
	seq     int
	number  *Number
	wamid   string
	status  string
	payload []byte
}

// postAttempts bounds retries of one webhook, as Meta retries a webhook
// that does not answer 200 (much longer, in reality).
const postAttempts = 5

// routeStatuses registers the /_sim/statuses switches:
// GET|POST /_sim/statuses/config (StatusConfig JSON; POST replaces it) and
// GET /_sim/statuses (StatusStats).
func (s *Sim) routeStatuses(mux *http.ServeMux) {
	mux.HandleFunc("GET /_sim/statuses/config", func(w http.ResponseWriter, r *http.Request) {
		replyJSON(w, http.StatusOK, s.StatusConfig())
	})
	mux.HandleFunc("POST /_sim/statuses/config", func(w http.ResponseWriter, r *http.Request) {
		var c StatusConfig
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			replyJSON(w, http.StatusBadRequest, map[string]string{"error": "status config: " + err.Error()})
			return
		}
		if err := s.SetStatusConfig(c); err != nil {
			replyJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		replyJSON(w, http.StatusOK, s.StatusConfig())
	})
	mux.HandleFunc("GET /_sim/statuses", func(w http.ResponseWriter, r *http.Request) {
		replyJSON(w, http.StatusOK, s.StatusStats())
	})
}

// SetStatusConfig replaces the status switches for messages accepted from
// now on.
func (s *Sim) SetStatusConfig(c StatusConfig) error {
	switch c.Until {
	case "", "sent", "delivered", "read":
	default:
		return fmt.Errorf("status config: until %q must be sent, delivered or read", c.Until)
	}
	if c.Duplicates < 0 || c.Duplicates > 100 || c.DelayMS < 0 {
		return fmt.Errorf("status config: duplicates must be 0..100 and delay_ms not negative")
	}
	st := &s.statuses
	st.mu.Lock()
	defer st.mu.Unlock()
	st.cfg = c
	if c.FailTo != nil {
		st.cfg.FailTo = make(map[string]int, len(c.FailTo))
		for k, v := range c.FailTo {
			st.cfg.FailTo[k] = v
		}
	}
	seed := c.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	st.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return nil
}

// StatusConfig returns the current status switches.
func (s *Sim) StatusConfig() StatusConfig {
	st := &s.statuses
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.cfg
}

// StatusStats returns the status webhook counters.
func (s *Sim) StatusStats() StatusStats {
	st := &s.statuses
	st.mu.Lock()
	defer st.mu.Unlock()
	out := st.stats
	out.Pending = len(st.queue) + st.fetching
	if st.posting {
		out.Pending++
	}
	return out
}

// WaitStatuses blocks until every scheduled status webhook was posted (or
// given up), or ctx ends.
func (s *Sim) WaitStatuses(ctx context.Context) error {
	st := &s.statuses
	for {
		st.mu.Lock()
		if len(st.queue) == 0 && !st.posting && st.fetching == 0 {
			st.mu.Unlock()
			return nil
		}
		ch := st.changedLocked()
		st.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops the status worker; webhooks not yet posted are dropped. It
// is safe to call more than once, and the Sim still serves requests.
func (s *Sim) Close() {
	st := &s.statuses
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return
	}
	st.closed = true
	started, cancel, done := st.started, st.cancel, st.done
	if st.fetchCancel != nil {
		st.fetchCancel()
	}
	st.queue = nil
	st.notifyLocked()
	st.mu.Unlock()
	if started {
		cancel()
		<-done
	}
}

// onAccepted is called by the messages endpoint for every accepted message;
// it schedules the status webhooks Meta would send for it. A message with
// media links is first fetched like Meta does (links.go), in the
// background: its statuses follow the fetch.
func (s *Sim) onAccepted(a Accepted) {
	n, ok := s.numbers()[a.PhoneNumberID]
	if !ok {
		return
	}
	// Meta names the recipient by wa_id (digits only) even when the send
	// wrote "+" before the number; FailTo is keyed the same way.
	if a.WaID == "" {
		a.WaID = digits(a.To)
	}
	st := &s.statuses
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed || st.cfg.Disabled {
		return
	}
	if len(a.links) == 0 || a.fail != 0 {
		s.scheduleLocked(n, a)
		return
	}
	if st.fetchCtx == nil {
		st.fetchCtx, st.fetchCancel = context.WithCancel(context.Background())
	}
	st.fetching++
	st.notifyLocked()
	go func(ctx context.Context) {
		a.fail, a.failDetails = s.fetchLinks(ctx, a.links)
		st.mu.Lock()
		defer st.mu.Unlock()
		st.fetching--
		st.notifyLocked()
		if !st.closed {
			s.scheduleLocked(n, a)
		}
	}(st.fetchCtx)
}

// scheduleLocked queues the status webhooks of an accepted message.
// Called with st.mu held.
func (s *Sim) scheduleLocked(n *Number, a Accepted) {
	st := &s.statuses
	if st.rng == nil {
		st.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	at := a.At
	if at.IsZero() {
		at = s.cfg.Now()
	}
	plan := statusPlan(st.cfg, a.WaID)
	if a.fail != 0 {
		plan = []plannedStatus{{status: "failed", code: a.fail}}
	}
	var items []scheduledStatus
	for _, p := range plan {
		payload, err := statusPayload(n, a, p.status, at.Add(p.after), p.code)
		if err != nil {
			st.stats.LastError = err.Error()
			continue
		}
		for range max(st.cfg.Duplicates, 1) {
			items = append(items, scheduledStatus{number: n, wamid: a.WAMID, status: p.status, payload: payload})
		}
	}
	if st.cfg.Shuffle {
		st.rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	}
	delay := time.Duration(st.cfg.DelayMS) * time.Millisecond
	due := time.Now()
	for i := range items {
		due = due.Add(delay)
		st.seq++
		items[i].due, items[i].seq = due, st.seq
	}
	st.queue = append(st.queue, items...)
	sort.SliceStable(st.queue, func(i, j int) bool {
		if !st.queue[i].due.Equal(st.queue[j].due) {
			return st.queue[i].due.Before(st.queue[j].due)
		}
		return st.queue[i].seq < st.queue[j].seq
	})
	st.stats.Scheduled += len(items)
	st.notifyLocked()
	if !st.started {
		st.started = true
		ctx, cancel := context.WithCancel(context.Background())
		st.cancel, st.done, st.wake = cancel, make(chan struct{}), make(chan struct{}, 1)
		go s.postStatuses(ctx)
	}
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// postStatuses is the worker: it posts due webhooks one at a time, so the
// connector sees exactly the planned order.
func (s *Sim) postStatuses(ctx context.Context) {
	st := &s.statuses
	defer close(st.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		st.mu.Lock()
		if len(st.queue) == 0 {
			st.mu.Unlock()
			select {
			case <-st.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		next := st.queue[0]
		if wait := time.Until(next.due); wait > 0 {
			st.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-st.wake:
			case <-ctx.Done():
				return
			}
			continue
		}
		st.queue = st.queue[1:]
		st.posting = true
		st.mu.Unlock()

		err := s.postWithRetry(ctx, next)

		st.mu.Lock()
		st.posting = false
		if err != nil {
			st.stats.Failed++
			st.stats.LastError = fmt.Sprintf("status %s of %s: %v", next.status, next.wamid, err)
		} else {
			st.stats.Posted++
		}
		st.notifyLocked()
		st.mu.Unlock()
	}
}

func (s *Sim) postWithRetry(ctx context.Context, it scheduledStatus) error {
	var err error
	backoff := 50 * time.Millisecond
	for attempt := 1; attempt <= postAttempts; attempt++ {
		if err = s.PostWebhook(ctx, it.number, it.payload); err == nil {
			return nil
		}
		if attempt == postAttempts {
			break
		}
		select {
		case <-time.After(backoff):
			backoff *= 2
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		}
	}
	return err
}

func (st *statusState) changedLocked() chan struct{} {
	if st.changed == nil {
		st.changed = make(chan struct{})
	}
	return st.changed
}

func (st *statusState) notifyLocked() {
	if st.changed != nil {
		close(st.changed)
		st.changed = nil
	}
}

// plannedStatus is one status of a message's plan.
type plannedStatus struct {
	status string
	after  time.Duration // Meta's timestamp, after acceptance
	code   int           // error code, for failed
}

// statusPlan is what Meta reports for a message to `to` under c, in the
// order it happens.
func statusPlan(c StatusConfig, to string) []plannedStatus {
	if code := c.FailTo[to]; code != 0 {
		if c.FailAfterSent {
			return []plannedStatus{{status: "sent"}, {status: "failed", after: time.Second, code: code}}
		}
		return []plannedStatus{{status: "failed", code: code}}
	}
	plan := []plannedStatus{{status: "sent"}}
	if c.Until == "sent" {
		return plan
	}
	if c.ReadWithoutDelivered && c.Until != "delivered" {
		return append(plan, plannedStatus{status: "read", after: time.Second})
	}
	plan = append(plan, plannedStatus{status: "delivered", after: time.Second})
	if c.Until == "delivered" {
		return plan
	}
	return append(plan, plannedStatus{status: "read", after: 2 * time.Second})
}

// failureTitles are Meta's titles for the codes the simulator fails with.
var failureTitles = map[int][2]string{
	131026: {"Message undeliverable", "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number."},
	131047: {"Re-engagement message", "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
	131048: {"Spam rate limit hit", "Message failed to send because there are restrictions on how many messages can be sent from this phone number."},
	131049: {"Meta chose not to deliver.", "This message was not delivered to maintain healthy ecosystem engagement."},
	131050: {"Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.", "The recipient has stopped marketing messages."},
	131053: {"Media upload error", "Unsupported media type."},
	130472: {"User's number is part of an experiment", "Failed to send message because this user's phone number is part of an experiment"},
}

// statusPayload builds a status webhook shaped like Meta's
// (shared/reference/webhooks/status_*.json): conversation and pricing on
// sent and delivered, errors on failed.
func statusPayload(n *Number, a Accepted, status string, at time.Time, code int) ([]byte, error) {
	item := map[string]any{
		"id":           a.WAMID,
		"status":       status,
		"timestamp":    strconv.FormatInt(at.Unix(), 10),
		"recipient_id": a.WaID,
	}
	if status == "sent" || status == "delivered" {
		category, typ, billable := "service", "free_customer_service", false
		if a.Type == "template" {
			category, typ, billable = "utility", "regular", true
		}
		sum := sha256.Sum256([]byte(n.PhoneNumberID + "/" + a.WaID + "/" + at.UTC().Format("2006-01-02")))
		conv := map[string]any{"id": hex.EncodeToString(sum[:16]), "origin": map[string]any{"type": category}}
		if status == "sent" {
			conv["expiration_timestamp"] = strconv.FormatInt(at.Add(24*time.Hour).Unix(), 10)
		}
		item["conversation"] = conv
		item["pricing"] = map[string]any{"billable": billable, "pricing_model": "PMP", "category": category, "type": typ}
	}
	if status == "failed" {
		t, ok := failureTitles[code]
		if !ok {
			t = [2]string{"Message failed to send", "Simulated failure."}
		}
		if a.failDetails != "" {
			t[1] = a.failDetails
		}
		item["errors"] = []any{map[string]any{
			"code": code, "title": t[0], "message": t[0],
			"error_data": map[string]any{"details": t[1]},
			"href":       "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
		}}
	}
	payload := map[string]any{
		"object": "whatsapp_business_account",
		"entry": []any{map[string]any{
			"id": n.WABAID,
			"changes": []any{map[string]any{
				"field": "messages",
				"value": map[string]any{
					"messaging_product": "whatsapp",
					"metadata":          map[string]any{"display_phone_number": n.DisplayPhoneNumber, "phone_number_id": n.PhoneNumberID},
					"statuses":          []any{item},
				},
			}},
		}},
	}
	return json.Marshal(payload)
}
