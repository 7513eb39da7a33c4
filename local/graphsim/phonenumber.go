package graphsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// NumberStatus is what Meta reports about a business number beyond its
// id: the verified name and its review, quality, status, messaging limit
// tier (its portfolio's, see limits.go) and when it was last onboarded.
// New numbers start as DefaultNumberStatus; SetNumberStatus changes them
// (tests, the local stack) and ChangeNumber does it with Meta's webhooks.
type NumberStatus struct {
	VerifiedName           string    `json:"verified_name"`
	NameStatus             string    `json:"name_status"`              // APPROVED, PENDING_REVIEW, DECLINED, EXPIRED, NONE, AVAILABLE_WITHOUT_REVIEW
	CodeVerificationStatus string    `json:"code_verification_status"` // VERIFIED, NOT_VERIFIED, EXPIRED
	QualityRating          string    `json:"quality_rating"`           // GREEN, YELLOW, RED, UNKNOWN
	Status                 string    `json:"status"`                   // CONNECTED, FLAGGED, RESTRICTED, …
	MessagingLimitTier     string    `json:"messaging_limit_tier"`     // the portfolio's: TIER_50 … TIER_UNLIMITED
	LastOnboardedTime      time.Time `json:"last_onboarded_time"`
}

// DefaultNumberStatus is a live number of a verified business.
func DefaultNumberStatus(phoneNumberID string) NumberStatus {
	return NumberStatus{VerifiedName: "Simulated business " + phoneNumberID, NameStatus: "APPROVED",
		CodeVerificationStatus: "VERIFIED", QualityRating: "GREEN", Status: "CONNECTED", MessagingLimitTier: DefaultTier,
		LastOnboardedTime: time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)}
}

// SetNumberStatus changes what GET /{phone-number-id} reports, without
// webhooks; false when the simulator has no such number. A tier set here
// is the portfolio's: every number of the WABA reports and is held to it.
func (s *Sim) SetNumberStatus(phoneNumberID string, change func(*NumberStatus)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.numbers()[phoneNumberID]
	if !ok {
		return false
	}
	st := s.numberStatusLocked(phoneNumberID)
	change(&st)
	s.setNumberStatusLocked(n, st)
	return true
}

func (s *Sim) setNumberStatusLocked(n *Number, st NumberStatus) {
	if s.numberStatus == nil {
		s.numberStatus = map[string]NumberStatus{}
	}
	if s.limits.tiers == nil {
		s.limits.tiers = map[string]string{}
	}
	if st.MessagingLimitTier != "" {
		s.limits.tiers[portfolio(n)] = st.MessagingLimitTier
	}
	st.MessagingLimitTier = ""
	s.numberStatus[n.PhoneNumberID] = st
}

func (s *Sim) numberStatusLocked(id string) NumberStatus {
	st, ok := s.numberStatus[id]
	if !ok {
		st = DefaultNumberStatus(id)
	}
	st.MessagingLimitTier = DefaultTier
	if n, ok := s.numbers()[id]; ok {
		st.MessagingLimitTier = s.limits.tier(portfolio(n))
	}
	return st
}

// phoneNumberFields are the fields GET /{phone-number-id} knows; Meta
// answers the default set without ?fields=.
var (
	phoneNumberFields = []string{"id", "display_phone_number", "verified_name", "code_verification_status", "quality_rating",
		"platform_type", "throughput", "name_status", "messaging_limit_tier", "last_onboarded_time", "is_on_biz_app", "status", "account_mode"}
	phoneNumberDefault = []string{"id", "display_phone_number", "verified_name", "code_verification_status", "quality_rating",
		"platform_type", "throughput"}
)

// handlePhoneNumber answers GET /{version}/{phone-number-id} the way Meta
// describes a business number, with ?fields= as Meta reads it (an unknown
// field is Meta's error 100). It shares its route with media lookups,
// since both are GET /{version}/{id}.
func (s *Sim) handlePhoneNumber(w http.ResponseWriter, r *http.Request, id string) {
	n, ok := s.authorize(w, r, id)
	if !ok {
		return
	}
	fields := phoneNumberDefault
	if f := r.URL.Query().Get("fields"); f != "" {
		fields = []string{"id"}
		for _, name := range strings.Split(f, ",") {
			name = strings.TrimSpace(name)
			if !slices.Contains(phoneNumberFields, name) {
				writeError(w, http.StatusBadRequest, 100, "OAuthException",
					fmt.Sprintf("(#100) Tried accessing nonexisting field (%s) on node type (WhatsAppBusinessPhoneNumber)", name), "")
				return
			}
			if name != "id" {
				fields = append(fields, name)
			}
		}
	}
	level := "STANDARD"
	if n.Throughput >= 1000 {
		level = "HIGH"
	}
	s.mu.Lock()
	st := s.numberStatusLocked(id)
	s.mu.Unlock()
	all := map[string]any{
		"id":                       n.PhoneNumberID,
		"display_phone_number":     n.DisplayPhoneNumber,
		"verified_name":            st.VerifiedName,
		"code_verification_status": st.CodeVerificationStatus,
		"quality_rating":           st.QualityRating,
		"platform_type":            "CLOUD_API",
		"throughput":               map[string]string{"level": level},
		"name_status":              st.NameStatus,
		"messaging_limit_tier":     st.MessagingLimitTier,
		// Meta writes times as 2026-01-15T09:30:00+0000.
		"last_onboarded_time": st.LastOnboardedTime.UTC().Format("2006-01-02T15:04:05-0700"),
		"is_on_biz_app":       false,
		"status":              st.Status,
		"account_mode":        "LIVE",
	}
	out := map[string]any{}
	for _, f := range fields {
		out[f] = all[f]
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
