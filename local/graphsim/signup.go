package graphsim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// DefaultAppID is the simulated Meta app's id when Config.AppID is empty.
const DefaultAppID = "1234567890123456"

// The permissions Embedded Signup grants a business token for WhatsApp.
const (
	ScopeManagement = "whatsapp_business_management"
	ScopeMessaging  = "whatsapp_business_messaging"
)

// Signup is a pending Embedded Signup: what Meta created when a business
// finished the flow in its browser (a WABA and a number) and the code the
// browser got, which the app exchanges for the business's token
// (GET /oauth/access_token). POST /_sim/signup creates one.
type Signup struct {
	Code               string `json:"code,omitempty"` // generated when empty
	WABAID             string `json:"waba_id"`
	PhoneNumberID      string `json:"phone_number_id"`
	DisplayPhoneNumber string `json:"display_phone_number,omitempty"`
	VerifiedName       string `json:"verified_name,omitempty"`
	// Scopes the business granted (default both WhatsApp scopes); the
	// token's granular scopes name the WABA for each.
	Scopes []string `json:"scopes,omitempty"`
	// Registered is true for a number already registered for the Cloud
	// API with PIN (a number the business used before).
	Registered bool   `json:"registered,omitempty"`
	PIN        string `json:"pin,omitempty"`
	// TokenTTL makes the business token expire that long after the
	// exchange (a Go duration; "" never, like Meta's system-user tokens).
	TokenTTL string `json:"token_ttl,omitempty"`
}

// TokenInfo is what GET /debug_token reports about a token.
type TokenInfo struct {
	Token     string    `json:"token"`
	WABAIDs   []string  `json:"waba_ids"`
	Scopes    []string  `json:"scopes"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"` // zero: never
	Revoked   bool      `json:"revoked,omitempty"`
}

// signupState holds Embedded Signups, the tokens they issued, app
// subscriptions and registrations. Guarded by Sim.mu.
type signupState struct {
	pending    map[string]*Signup    // by code
	used       map[string]bool       // codes already exchanged
	tokens     map[string]*TokenInfo // business tokens issued by exchanges
	subscribed map[string]bool       // WABAs the app is subscribed to
	// unregistered are numbers that exist but are not registered for the
	// Cloud API; pins are the two-step verification PINs of numbers.
	unregistered map[string]bool
	pins         map[string]string
	wabaOf       map[string]string // signup numbers' WABA
}

// routeSignup registers GET /{version}/oauth/access_token,
// GET /{version}/debug_token, GET /{version}/{waba-id}/phone_numbers (via
// the edge route in templates.go), POST /{version}/{waba-id}/subscribed_apps,
// POST /{version}/{phone-number-id}/register, and the controls
// POST /_sim/signup (create a pending signup) and POST /_sim/tokens (expire or revoke a token).
func (s *Sim) routeSignup(mux *http.ServeMux) {
	s.signups = signupState{pending: map[string]*Signup{}, used: map[string]bool{}, tokens: map[string]*TokenInfo{},
		subscribed: map[string]bool{}, unregistered: map[string]bool{}, pins: map[string]string{}, wabaOf: map[string]string{}}
	mux.HandleFunc("GET /{version}/oauth/access_token", s.handleCodeExchange)
	mux.HandleFunc("GET /{version}/debug_token", s.handleDebugToken)
	mux.HandleFunc("POST /{version}/{id}/subscribed_apps", s.handleSubscribe)
	mux.HandleFunc("POST /{version}/{id}/register", s.handleRegister)
	mux.HandleFunc("POST /_sim/signup", func(w http.ResponseWriter, r *http.Request) {
		var su Signup
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&su); err != nil {
			http.Error(w, `want {"waba_id":"…","phone_number_id":"…","display_phone_number":"…","registered":false,"scopes":[…],"token_ttl":"720h"}`, http.StatusBadRequest)
			return
		}
		out, err := s.AddSignup(su)
		if err != nil {
			replyJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /_sim/tokens", func(w http.ResponseWriter, r *http.Request) {
		var c struct {
			Token     string    `json:"token"`
			ExpiresAt time.Time `json:"expires_at"`
			Revoke    bool      `json:"revoke"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&c); err != nil || c.Token == "" {
			http.Error(w, `want {"token":"…","expires_at":"2026-01-02T15:04:05Z"} or {"token":"…","revoke":true}`, http.StatusBadRequest)
			return
		}
		if err := s.ChangeToken(c.Token, c.ExpiresAt, c.Revoke); err != nil {
			replyJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	})
}

var (
	numericID = regexp.MustCompile(`^[0-9]{1,20}$`)
	pinFormat = regexp.MustCompile(`^[0-9]{6}$`)
)

// AddSignup records a pending Embedded Signup and returns it with its
// code.
func (s *Sim) AddSignup(su Signup) (Signup, error) {
	if !numericID.MatchString(su.WABAID) || !numericID.MatchString(su.PhoneNumberID) {
		return Signup{}, fmt.Errorf("waba_id and phone_number_id must be numeric ids")
	}
	if _, err := su.ttl(); err != nil {
		return Signup{}, err
	}
	if su.Registered && !pinFormat.MatchString(su.PIN) {
		return Signup{}, fmt.Errorf("a registered number needs its 6-digit pin")
	}
	if len(su.Scopes) == 0 {
		su.Scopes = []string{ScopeManagement, ScopeMessaging}
	}
	if su.DisplayPhoneNumber == "" {
		su.DisplayPhoneNumber = "1555" + su.PhoneNumberID[max(0, len(su.PhoneNumberID)-7):]
	}
	if su.VerifiedName == "" {
		su.VerifiedName = "Simulated business " + su.WABAID
	}
	if su.Code == "" {
		su.Code = "AQ" + randomHex(24)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.numbers()[su.PhoneNumberID]; ok {
		return Signup{}, fmt.Errorf("phone number %s already exists", su.PhoneNumberID)
	}
	c := su
	s.signups.pending[su.Code] = &c
	return su, nil
}

func (su *Signup) ttl() (time.Duration, error) {
	if su.TokenTTL == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(su.TokenTTL)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("token_ttl %q is not a positive Go duration", su.TokenTTL)
	}
	return d, nil
}

// ChangeToken sets when a token expires (zero: never) or revokes it (the
// business removed the app, or its admin changed password): Meta then
// refuses it everywhere with 190.
func (s *Sim) ChangeToken(token string, expiresAt time.Time, revoke bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ti, ok := s.signups.tokens[token]
	if !ok {
		return fmt.Errorf("token not issued by an Embedded Signup")
	}
	ti.ExpiresAt = expiresAt
	if revoke && !ti.Revoked {
		ti.Revoked = true
		// The numbers that carried it stop accepting it.
		for _, n := range s.numbers() {
			if n.AccessToken == token {
				c := *n
				c.AccessToken = "revoked:" + randomHex(8)
				s.addNumberLocked(c)
			}
		}
	}
	return nil
}

// Token returns what the simulator knows of a token issued by an
// exchange.
func (s *Sim) Token(token string) (TokenInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ti, ok := s.signups.tokens[token]
	if !ok {
		return TokenInfo{}, false
	}
	return *ti, true
}

// Subscribed reports whether the app is subscribed to a WABA's webhooks.
func (s *Sim) Subscribed(wabaID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wabaSubscribedLocked(wabaID)
}

// wabaSubscribedLocked: WABAs of configured numbers are subscribed from
// the start; those of signups once POST …/subscribed_apps was called.
func (s *Sim) wabaSubscribedLocked(wabaID string) bool {
	if s.signups.subscribed[wabaID] {
		return true
	}
	for _, n := range s.cfg.Numbers {
		if n.WABAID == wabaID {
			return true
		}
	}
	return false
}

// Registered reports whether a number is registered for the Cloud API.
func (s *Sim) Registered(phoneNumberID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.numbers()[phoneNumberID]
	return ok && !s.signups.unregistered[phoneNumberID]
}

// unregisteredAnswer answers Meta's 133010 to a send from a number that
// is not registered; reports whether it did.
func (s *Sim) unregisteredAnswer(w http.ResponseWriter, phoneNumberID string) bool {
	s.mu.Lock()
	off := s.signups.unregistered[phoneNumberID]
	s.mu.Unlock()
	if off {
		writeGraphError(w, http.StatusBadRequest, graphError{Code: 133010, Message: "Account not registered"})
	}
	return off
}

// webhooksOff says why Meta would not post webhooks for number n now: its
// WABA has no subscribed app, or it is not registered ("" when it would).
func (s *Sim) webhooksOff(n *Number) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, signup := s.signups.wabaOf[n.PhoneNumberID]; !signup {
		return ""
	}
	if !s.wabaSubscribedLocked(n.WABAID) {
		return fmt.Sprintf("WABA %s has no subscribed app (POST /%s/subscribed_apps): Meta posts no webhooks for it", n.WABAID, n.WABAID)
	}
	if s.signups.unregistered[n.PhoneNumberID] {
		return fmt.Sprintf("phone number %s is not registered (POST /%s/register): it receives no messages", n.PhoneNumberID, n.PhoneNumberID)
	}
	return ""
}

// handleCodeExchange serves GET /{version}/oauth/access_token: the
// Embedded Signup code, with the app's client id and secret, becomes the
// business's token (once).
func (s *Sim) handleCodeExchange(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("client_id") == "":
		writeGraphError(w, http.StatusBadRequest, graphError{Code: 101, Message: "Missing client_id parameter."})
		return
	case q.Get("client_id") != s.cfg.AppID:
		writeGraphError(w, http.StatusBadRequest, graphError{Code: 101, Message: "Error validating application. Invalid application ID."})
		return
	case q.Get("client_secret") == "" || q.Get("client_secret") != s.cfg.AppSecret:
		writeGraphError(w, http.StatusBadRequest, graphError{Code: 1, Message: "Error validating client secret."})
		return
	case q.Get("code") == "":
		writeGraphError(w, http.StatusBadRequest, graphError{Code: 100, Message: "Missing authorization code"})
		return
	}
	code := q.Get("code")
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.signups
	if st.used[code] {
		writeGraphError(w, http.StatusBadRequest, graphError{Code: 100, Subcode: 36009, Message: "This authorization code has been used."})
		return
	}
	su, ok := st.pending[code]
	if !ok {
		writeGraphError(w, http.StatusBadRequest, graphError{Code: 100, Subcode: 36007, Message: "Invalid verification code format."})
		return
	}
	delete(st.pending, code)
	st.used[code] = true
	now := s.cfg.Now()
	ti := &TokenInfo{Token: "EAAsim" + randomHex(32), WABAIDs: []string{su.WABAID}, Scopes: su.Scopes, IssuedAt: now}
	if d, _ := su.ttl(); d > 0 {
		ti.ExpiresAt = now.Add(d)
	}
	st.tokens[ti.Token] = ti
	st.wabaOf[su.PhoneNumberID] = su.WABAID
	if su.Registered {
		st.pins[su.PhoneNumberID] = su.PIN
	} else {
		st.unregistered[su.PhoneNumberID] = true
	}
	s.addNumberLocked(Number{PhoneNumberID: su.PhoneNumberID, WABAID: su.WABAID, DisplayPhoneNumber: su.DisplayPhoneNumber, AccessToken: ti.Token})
	writeJSON(w, http.StatusOK, map[string]string{"access_token": ti.Token, "token_type": "bearer"})
}

// tokenLocked describes a token: one issued by an exchange, or the token
// of configured numbers (a system user's, never expiring, with both
// scopes on their WABAs).
func (s *Sim) tokenLocked(token string) (*TokenInfo, bool) {
	if ti, ok := s.signups.tokens[token]; ok {
		return ti, true
	}
	var wabas []string
	for _, n := range s.cfg.Numbers {
		if n.AccessToken == token && token != "" && !slices.Contains(wabas, n.WABAID) {
			wabas = append(wabas, n.WABAID)
		}
	}
	if wabas == nil {
		return nil, false
	}
	sort.Strings(wabas)
	return &TokenInfo{Token: token, WABAIDs: wabas, Scopes: []string{ScopeManagement, ScopeMessaging}}, true
}

// handleDebugToken serves GET /{version}/debug_token?input_token=…, called
// with the app's token ("{app-id}|{app-secret}", as access_token or bearer).
func (s *Sim) handleDebugToken(w http.ResponseWriter, r *http.Request) {
	caller := r.URL.Query().Get("access_token")
	if caller == "" {
		caller = bearer(r)
	}
	if caller != s.cfg.AppID+"|"+s.cfg.AppSecret {
		writeGraphError(w, http.StatusBadRequest, graphError{Code: 190, Message: "Invalid OAuth access token signature."})
		return
	}
	input := r.URL.Query().Get("input_token")
	if input == "" {
		writeGraphError(w, http.StatusBadRequest, graphError{Code: 100, Message: "(#100) The parameter input_token is required"})
		return
	}
	s.mu.Lock()
	ti, ok := s.tokenLocked(input)
	var c TokenInfo
	if ok {
		c = *ti
	}
	now := s.cfg.Now()
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
			"error":    map[string]any{"code": 190, "message": "Invalid OAuth access token - Cannot parse access token"},
			"is_valid": false, "scopes": []string{},
		}})
		return
	}
	expires := int64(0)
	if !c.ExpiresAt.IsZero() {
		expires = c.ExpiresAt.Unix()
	}
	granular := []map[string]any{}
	for _, sc := range c.Scopes {
		granular = append(granular, map[string]any{"scope": sc, "target_ids": c.WABAIDs})
	}
	data := map[string]any{
		"app_id": s.cfg.AppID, "type": "SYSTEM_USER", "application": "Simulated WhatsApp app",
		"data_access_expires_at": 0, "expires_at": expires, "is_valid": true,
		"scopes": c.Scopes, "granular_scopes": granular, "user_id": "1000" + c.WABAIDs[0],
	}
	if !c.IssuedAt.IsZero() {
		data["issued_at"] = c.IssuedAt.Unix()
	}
	switch {
	case c.Revoked:
		data["is_valid"] = false
		data["error"] = map[string]any{"code": 190, "subcode": 460,
			"message": "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons."}
	case expires != 0 && !now.Before(c.ExpiresAt):
		data["is_valid"] = false
		data["error"] = map[string]any{"code": 190, "subcode": 463,
			"message": fmt.Sprintf("Error validating access token: Session has expired on %s.", c.ExpiresAt.UTC().Format("Monday, 02-Jan-06 15:04:05 MST"))}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

// tokenUsable answers Meta's 190 for a token that expired; reports
// whether the request may go on.
func (s *Sim) tokenUsable(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	ti, ok := s.signups.tokens[bearer(r)]
	expired := ok && !ti.ExpiresAt.IsZero() && !s.cfg.Now().Before(ti.ExpiresAt)
	s.mu.Unlock()
	if expired {
		writeGraphError(w, http.StatusUnauthorized, graphError{Code: 190, Subcode: 463,
			Message: "Error validating access token: Session has expired."})
		return false
	}
	return true
}

// handleSubscribe serves POST /{version}/{waba-id}/subscribed_apps: the
// app receives the WABA's webhooks from now on.
func (s *Sim) handleSubscribe(w http.ResponseWriter, r *http.Request) {
	waba := r.PathValue("id")
	if !s.tokenUsable(w, r) || !s.authorizeWABA(w, r, waba) {
		return
	}
	if !s.tokenHasScope(bearer(r), ScopeManagement, waba) {
		writeGraphError(w, http.StatusForbidden, graphError{Code: 200, Message: "(#200) Requires whatsapp_business_management permission to manage the object"})
		return
	}
	s.mu.Lock()
	s.signups.subscribed[waba] = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

// tokenHasScope reports whether token grants scope on wabaID (tokens of
// configured numbers grant everything on their WABAs).
func (s *Sim) tokenHasScope(token, scope, wabaID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ti, ok := s.tokenLocked(token)
	return ok && slices.Contains(ti.Scopes, scope) && slices.Contains(ti.WABAIDs, wabaID)
}

// handlePhoneNumbers serves GET /{version}/{waba-id}/phone_numbers (one
// page: a WABA has few numbers).
func (s *Sim) handlePhoneNumbers(w http.ResponseWriter, r *http.Request) {
	waba := r.PathValue("id")
	if !s.tokenUsable(w, r) || !s.authorizeWABA(w, r, waba) {
		return
	}
	s.mu.Lock()
	var ns []*Number
	for _, n := range s.numbers() {
		if n.WABAID == waba {
			ns = append(ns, n)
		}
	}
	sort.Slice(ns, func(i, j int) bool { return idLess(ns[i].PhoneNumberID, ns[j].PhoneNumberID) })
	data := []map[string]any{}
	for _, n := range ns {
		// Quality, status and tier as GET /{phone-number-id} reports them
		// (limits.go); a number not registered yet is PENDING.
		st := s.numberStatusLocked(n.PhoneNumberID)
		status := st.Status
		if s.signups.unregistered[n.PhoneNumberID] {
			status = "PENDING"
		}
		data = append(data, map[string]any{
			"id": n.PhoneNumberID, "display_phone_number": n.DisplayPhoneNumber,
			"verified_name": "Simulated business " + n.WABAID, "status": status,
			"quality_rating": st.QualityRating, "code_verification_status": "VERIFIED",
			"platform_type": "CLOUD_API", "messaging_limit_tier": st.MessagingLimitTier,
		})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

// handleRegister serves POST /{version}/{phone-number-id}/register with
// {"messaging_product":"whatsapp","pin":"123456"}: it sets the number's
// two-step verification PIN, or must repeat it once set.
func (s *Sim) handleRegister(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !s.tokenUsable(w, r) {
		return
	}
	n, ok := s.authorize(w, r, id)
	if !ok {
		return
	}
	var req struct {
		MessagingProduct string `json:"messaging_product"`
		PIN              string `json:"pin"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		writeGraphError(w, http.StatusBadRequest, graphError{Code: 100, Message: "Invalid parameter"})
		return
	}
	switch {
	case req.MessagingProduct != "whatsapp":
		writeGraphError(w, http.StatusBadRequest, graphError{Code: 100, Message: "(#100) The parameter messaging_product is required."})
		return
	case req.PIN == "":
		writeGraphError(w, http.StatusBadRequest, graphError{Code: 100, Message: "(#100) The parameter pin is required."})
		return
	case !pinFormat.MatchString(req.PIN):
		writeGraphError(w, http.StatusBadRequest, graphError{Code: 100, Message: "Invalid PIN format. PIN must be exactly 6 digits"})
		return
	}
	if !s.tokenHasScope(bearer(r), ScopeManagement, n.WABAID) {
		writeGraphError(w, http.StatusForbidden, graphError{Code: 200, Subcode: 1349174, Message: "Your app doesn't have permission to register this phone number"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if pin, set := s.signups.pins[id]; set && pin != req.PIN {
		writeGraphError(w, http.StatusBadRequest, graphError{Code: 133005, Message: "Two step verification PIN Mismatch",
			UserTitle: "PIN mismatch", UserMsg: "The PIN does not match the two-step verification PIN of the phone number."})
		return
	}
	s.signups.pins[id] = req.PIN
	delete(s.signups.unregistered, id)
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

func randomHex(n int) string {
	b := make([]byte, n/2)
	if _, err := rand.Read(b); err != nil {
		panic("graphsim: crypto/rand: " + err.Error())
	}
	return strings.ToUpper(hex.EncodeToString(b))
}
