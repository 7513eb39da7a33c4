// Package graphsim simulates Meta's side of the WhatsApp Cloud API for the
// local connector and the tests: it sends signed webhooks the way Meta does
// (inbound messages, statuses), and serves the Graph API endpoints the
// connector calls (sending messages under Meta's throughput and pair limits,
// media lookups with expiring URLs, uploads), checking bearer tokens per
// business number. It exists only to run and test locally; no function
// imports it.
//
// It is as strict as Meta, since a stand-in more lenient than the real
// service lets tests pass where production fails: sends are validated
// against Meta's own OpenAPI file with named corrections, refused in
// Meta's error shapes and codes, and what Meta only reports later (the
// 24-hour window, media links it cannot fetch) fails in a status webhook.
//
// Features live in their own files: inbound.go (simulated users sending
// messages), messages.go (POST /{phone-number-id}/messages and the record of
// accepted messages), validate.go, spec.go and patches.go (what Meta
// accepts), recipients.go (wa_ids and 24-hour windows), links.go (media
// links fetched after a send), media.go (media ids, download URLs,
// uploads), statuses.go (status webhooks for accepted messages) and
// templates.go (a WABA's message templates: list with paging, create with
// Meta's checks, delete, and status, quality and category changes that
// post Meta's template webhooks), signup.go (Embedded Signup: code
// exchange, debug_token, a WABA's numbers, app subscription, number
// registration) and limits.go (the portfolio's messaging-limit tier,
// enforced on business-initiated sends, and a number's quality rating and
// status, changed through a switch that posts Meta's
// phone_number_quality_update webhooks).
package graphsim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// Number is a business phone number the simulator serves.
type Number struct {
	PhoneNumberID      string
	WABAID             string
	DisplayPhoneNumber string
	AccessToken        string // the bearer token Graph calls for this number must carry
	// Throughput is the messages-per-second limit enforced on sends
	// (default 80).
	Throughput int
	// WebhookURL and AppSecret say where and how webhooks for this number are
	// posted; empty means Config's.
	WebhookURL string
	AppSecret  string
}

// Config configures a Sim.
type Config struct {
	// WebhookURL is where webhooks are posted (the connector's /webhook).
	WebhookURL string
	// AppSecret signs webhooks (X-Hub-Signature-256); it is also the
	// app's client secret for GET /oauth/access_token (signup.go).
	AppSecret string
	// AppID is the Meta app's id, the client_id of the code exchange and
	// the app_id debug_token reports (default DefaultAppID).
	AppID   string
	Numbers []Number
	// BaseURL is the simulator's own address, used in media download URLs.
	BaseURL string
	// Now overrides the clock (tests).
	Now func() time.Time
	// HTTPClient posts webhooks (default: 10-second timeout).
	HTTPClient *http.Client
	// Templates are the message templates the WABAs start with (see
	// SampleTemplates); each names its WABAID.
	Templates []Template
}

// Accepted is a message the simulator accepted from the connector.
type Accepted struct {
	WAMID         string    `json:"wamid"`
	PhoneNumberID string    `json:"phone_number_id"`
	To            string    `json:"to"`    // as the send wrote it
	WaID          string    `json:"wa_id"` // the recipient as Meta resolved it (see recipients.go)
	Type          string    `json:"type"`
	Body          []byte    `json:"body"` // the request body exactly as received
	At            time.Time `json:"accepted_at"`

	fail        int         // Meta error code the message fails with later (131047, 131053)
	failDetails string      // its error_data.details, when not the code's usual text
	links       []mediaLink // media links Meta fetches before it sends
}

// Sim is the simulator. Create it with New; it is an http.Handler and safe
// for concurrent use.
type Sim struct {
	cfg Config
	mux *http.ServeMux
	// numbersP holds the numbers by id, copied on write: Embedded Signup
	// (signup.go) adds numbers while requests read them.
	numbersP atomic.Pointer[map[string]*Number]

	mu         sync.Mutex
	messages   messageState
	recipients recipientState
	media      mediaState
	statuses   statusState
	templates  templateState
	signups    signupState
	// numberStatus, profiles, blocked and uploads: phonenumber.go,
	// profile.go, blocks.go, resumable.go.
	numberStatus map[string]NumberStatus
	limits       limitState // limits.go
	profiles     map[string]*Profile
	blocked      map[string][]string // phone number id → wa_ids, in blocking order
	uploads      map[string]*uploadSession
}

// New builds a simulator.
func New(cfg Config) *Sim {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AppID == "" {
		cfg.AppID = DefaultAppID
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	s := &Sim{cfg: cfg, mux: http.NewServeMux()}
	numbers := map[string]*Number{}
	for i := range cfg.Numbers {
		n := cfg.Numbers[i]
		if n.Throughput <= 0 {
			n.Throughput = 80
		}
		numbers[n.PhoneNumberID] = &n
	}
	s.numbersP.Store(&numbers)
	s.routeInbound(s.mux)
	s.routeRecipients(s.mux)
	s.routeMessages(s.mux)
	s.routeMedia(s.mux)
	s.routeStatuses(s.mux)
	s.routeTemplates(s.mux, cfg.Templates)
	s.routeSignup(s.mux)
	s.routeProfiles(s.mux)
	s.routeBlocks(s.mux)
	s.routeResumable(s.mux)
	s.routeNumbers(s.mux)
	s.routeLimits(s.mux)
	return s
}

func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// numbers returns the numbers by id; the map is never modified (see
// addNumber).
func (s *Sim) numbers() map[string]*Number { return *s.numbersP.Load() }

// addNumber serves n from now on (replacing a number with its id).
// Callers hold s.mu, which serializes writers.
func (s *Sim) addNumberLocked(n Number) {
	if n.Throughput <= 0 {
		n.Throughput = 80
	}
	old := s.numbers()
	next := make(map[string]*Number, len(old)+1)
	for id, v := range old {
		next[id] = v
	}
	next[n.PhoneNumberID] = &n
	s.numbersP.Store(&next)
}

// number returns the number and whether the request's bearer token is its
// token. It writes Meta's error answer when not.
func (s *Sim) authorize(w http.ResponseWriter, r *http.Request, phoneNumberID string) (*Number, bool) {
	n, ok := s.numbers()[phoneNumberID]
	if !ok {
		writeError(w, http.StatusBadRequest, 100, "GraphMethodException",
			fmt.Sprintf("Unsupported post request. Object with ID '%s' does not exist", phoneNumberID), "")
		return nil, false
	}
	if token := bearer(r); token == "" || token != n.AccessToken {
		writeError(w, http.StatusUnauthorized, 190, "OAuthException", "Invalid OAuth access token - Cannot parse access token", "")
		return nil, false
	}
	return n, true
}

// bearer returns the request's bearer token ("" when none).
func bearer(r *http.Request) string {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return token
}

// knownToken reports whether the request carries the token of some
// number: an unknown token is Meta's 190, a known one that does not reach
// an object is "object not found".
func (s *Sim) knownToken(r *http.Request) bool {
	token := bearer(r)
	if token == "" {
		return false
	}
	for _, n := range s.numbers() {
		if n.AccessToken == token {
			return true
		}
	}
	return false
}

// tokenAllows reports whether the request's token may act for the number
// phoneNumberID. Several numbers may share a token (one system user for a
// business's numbers), so the number is the object's, never one picked
// by token.
func (s *Sim) tokenAllows(r *http.Request, phoneNumberID string) bool {
	n, ok := s.numbers()[phoneNumberID]
	token := bearer(r)
	return ok && token != "" && token == n.AccessToken
}

// PostWebhook signs payload like Meta and posts it to the number's webhook.
func (s *Sim) PostWebhook(ctx context.Context, n *Number, payload []byte) error {
	url, secret := s.cfg.WebhookURL, s.cfg.AppSecret
	if n != nil && n.WebhookURL != "" {
		url, secret = n.WebhookURL, n.AppSecret
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign(secret, payload))
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("post webhook: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("post webhook: HTTP %d: %s", resp.StatusCode, b)
	}
	return nil
}

// writeError answers like the Graph API does.
func writeError(w http.ResponseWriter, status, code int, typ, message, details string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := fmt.Sprintf(`{"error":{"message":%q,"type":%q,"code":%d`, message, typ, code)
	if details != "" {
		body += fmt.Sprintf(`,"error_data":{"messaging_product":"whatsapp","details":%q}`, details)
	}
	body += `,"fbtrace_id":"AsimTrace` + fmt.Sprint(code) + `"}}`
	_, _ = io.WriteString(w, body)
}
