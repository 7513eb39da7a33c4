package graphsim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Messaging limits as Meta enforces them: a business portfolio reaches at
// most its tier's number of unique WhatsApp users with business-initiated
// messages (templates sent while the user's customer service window with
// the sending number is closed) in any moving MessagingLimitWindow. A user
// already reached inside the window costs nothing; messages inside an
// open window are not counted. The portfolio is the number's WABA (all
// its numbers share one count and one tier).
//
// Over the tier Meta documents no error of its own. The simulator does
// what Meta does for a message it will not deliver under a sending
// restriction: it accepts the send (200 and a wamid) and reports the
// message failed with 131048 "Spam rate limit hit" ("there are
// restrictions on how many messages can be sent from this phone number")
// in a status webhook. 131048 is the Cloud API's form of the On-Premises
// API's 471, the error businesses got past their messaging limit, and it
// is the one whose text names a limit on the number's sending; 131049 is
// Meta's per-user marketing limit (the user, not the business) and
// 131056 the pair rate, which the simulator enforces on its own.
const MessagingLimitWindow = 24 * time.Hour

// DefaultTier is the tier of a portfolio nobody set one for.
const DefaultTier = "TIER_1K"

// tierLimits are the unique recipients each tier allows (Meta's OpenAPI
// lists TIER_50 … TIER_UNLIMITED, its webhooks also TIER_2K).
var tierLimits = map[string]int{"TIER_50": 50, "TIER_250": 250, "TIER_1K": 1000, "TIER_2K": 2000,
	"TIER_10K": 10000, "TIER_100K": 100000, "TIER_UNLIMITED": -1}

// Quality ratings and number statuses the switch takes (Meta's OpenAPI
// enums).
var (
	qualityRatings = []string{"GREEN", "YELLOW", "RED", "NA", "UNKNOWN"}
	numberStatuses = []string{"CONNECTED", "FLAGGED", "RESTRICTED", "DISCONNECTED", "PENDING", "UNVERIFIED"}
)

// limitState is each portfolio's tier and who it reached. Guarded by
// Sim.mu.
type limitState struct {
	tiers   map[string]string               // portfolio → tier (DefaultTier when absent)
	reached map[string]map[string]time.Time // portfolio → wa_id → when counted
	refused map[string]int                  // portfolio → messages over the limit
}

func (l *limitState) tier(portfolio string) string {
	if t, ok := l.tiers[portfolio]; ok {
		return t
	}
	return DefaultTier
}

// used is the number of users the portfolio reached in the window ending
// at now; users whose window ended are forgotten.
func (l *limitState) used(portfolio string, now time.Time) int {
	m := l.reached[portfolio]
	for id, at := range m {
		if now.Sub(at) >= MessagingLimitWindow {
			delete(m, id)
		}
	}
	return len(m)
}

// reach decides whether a business-initiated message from the portfolio
// reaches waID at now, counting the user when it does.
func (l *limitState) reach(portfolio, waID string, now time.Time) bool {
	limit := tierLimits[l.tier(portfolio)]
	if limit < 0 {
		return true
	}
	if l.reached == nil {
		l.reached = map[string]map[string]time.Time{}
	}
	n := l.used(portfolio, now)
	if at, ok := l.reached[portfolio][waID]; ok && now.Sub(at) < MessagingLimitWindow {
		return true
	}
	if n >= limit {
		if l.refused == nil {
			l.refused = map[string]int{}
		}
		l.refused[portfolio]++
		return false
	}
	if l.reached[portfolio] == nil {
		l.reached[portfolio] = map[string]time.Time{}
	}
	l.reached[portfolio][waID] = now
	return true
}

// portfolio names the number's business portfolio (its WABA).
func portfolio(n *Number) string {
	if n.WABAID != "" {
		return n.WABAID
	}
	return "number:" + n.PhoneNumberID
}

// PortfolioLimit is a portfolio's messaging limit as GET
// /_sim/numbers/{id}/status shows it.
type PortfolioLimit struct {
	Portfolio string `json:"waba_id"`
	Tier      string `json:"messaging_limit_tier"`
	Limit     int    `json:"limit"`   // -1: unlimited
	Used      int    `json:"used"`    // unique users reached in the last 24 hours
	Refused   int    `json:"refused"` // business-initiated messages over the limit (failed with 131048)
}

// NumberChange is what POST /_sim/numbers/{id}/status changes; empty
// fields stay.
type NumberChange struct {
	QualityRating      string `json:"quality_rating,omitempty"`
	Status             string `json:"status,omitempty"`
	MessagingLimitTier string `json:"messaging_limit_tier,omitempty"`
}

// NumberChangeResult is the number after a change and the
// phone_number_quality_update events posted for it.
type NumberChangeResult struct {
	Status NumberStatus   `json:"status"`
	Limit  PortfolioLimit `json:"limit"`
	Events []string       `json:"events"`
}

// routeLimits registers GET and POST /_sim/numbers/{id}/status.
func (s *Sim) routeLimits(mux *http.ServeMux) {
	mux.HandleFunc("GET /_sim/numbers/{id}/status", func(w http.ResponseWriter, r *http.Request) {
		st, lim, ok := s.NumberState(r.PathValue("id"))
		if !ok {
			replyJSON(w, http.StatusNotFound, map[string]string{"error": "no number " + r.PathValue("id")})
			return
		}
		replyJSON(w, http.StatusOK, NumberChangeResult{Status: st, Limit: lim, Events: []string{}})
	})
	mux.HandleFunc("POST /_sim/numbers/{id}/status", func(w http.ResponseWriter, r *http.Request) {
		var c NumberChange
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			replyJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"quality_rating":"RED","status":"FLAGGED","messaging_limit_tier":"TIER_250"}`})
			return
		}
		res, err := s.ChangeNumber(r.Context(), r.PathValue("id"), c)
		if err != nil {
			replyJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		replyJSON(w, http.StatusOK, res)
	})
}

// NumberState returns the number's status and its portfolio's messaging
// limit; false when the simulator has no such number.
func (s *Sim) NumberState(phoneNumberID string) (NumberStatus, PortfolioLimit, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.numbers()[phoneNumberID]
	if !ok {
		return NumberStatus{}, PortfolioLimit{}, false
	}
	return s.numberStatusLocked(phoneNumberID), s.portfolioLimitLocked(portfolio(n)), true
}

func (s *Sim) portfolioLimitLocked(p string) PortfolioLimit {
	t := s.limits.tier(p)
	return PortfolioLimit{Portfolio: p, Tier: t, Limit: tierLimits[t], Used: s.limits.used(p, s.cfg.Now()), Refused: s.limits.refused[p]}
}

// ChangeNumber applies c to the number and posts, signed, to the number's
// webhook the phone_number_quality_update webhooks Meta sends for it:
// FLAGGED when the number becomes flagged (a quality rating dropping to
// RED flags it, as Meta does, unless c names another status), UNFLAGGED
// when it stops being flagged (a rating back to GREEN or YELLOW makes it
// CONNECTED), and UPGRADE or DOWNGRADE when its portfolio's tier changes;
// each carries the tier after the change as current_limit. A YELLOW
// rating alone sends nothing (Meta reports it on the number only). The
// tier is the portfolio's: every number of the WABA reports it. A webhook
// that cannot be posted is an error (the change stays).
func (s *Sim) ChangeNumber(ctx context.Context, phoneNumberID string, c NumberChange) (NumberChangeResult, error) {
	c.QualityRating = strings.ToUpper(strings.TrimSpace(c.QualityRating))
	c.Status = strings.ToUpper(strings.TrimSpace(c.Status))
	c.MessagingLimitTier = strings.ToUpper(strings.TrimSpace(c.MessagingLimitTier))
	switch {
	case c.QualityRating == "" && c.Status == "" && c.MessagingLimitTier == "":
		return NumberChangeResult{}, fmt.Errorf("number change: give a quality_rating, a status or a messaging_limit_tier")
	case c.QualityRating != "" && !slices.Contains(qualityRatings, c.QualityRating):
		return NumberChangeResult{}, fmt.Errorf("number change: quality_rating %q must be one of %v", c.QualityRating, qualityRatings)
	case c.Status != "" && !slices.Contains(numberStatuses, c.Status):
		return NumberChangeResult{}, fmt.Errorf("number change: status %q must be one of %v", c.Status, numberStatuses)
	}
	if _, ok := tierLimits[c.MessagingLimitTier]; c.MessagingLimitTier != "" && !ok {
		return NumberChangeResult{}, fmt.Errorf("number change: messaging_limit_tier %q is not one of Meta's tiers (TIER_50, TIER_250, TIER_1K, TIER_2K, TIER_10K, TIER_100K, TIER_UNLIMITED)", c.MessagingLimitTier)
	}
	s.mu.Lock()
	n, ok := s.numbers()[phoneNumberID]
	if !ok {
		s.mu.Unlock()
		return NumberChangeResult{}, fmt.Errorf("number change: no number %s", phoneNumberID)
	}
	old := s.numberStatusLocked(phoneNumberID)
	st := old
	if c.QualityRating != "" {
		st.QualityRating = c.QualityRating
	}
	switch {
	case c.Status != "":
		st.Status = c.Status
	case c.QualityRating == "RED" && old.QualityRating != "RED":
		st.Status = "FLAGGED"
	case (c.QualityRating == "GREEN" || c.QualityRating == "YELLOW") && old.Status == "FLAGGED":
		st.Status = "CONNECTED"
	}
	var events []string
	switch {
	case old.Status != "FLAGGED" && st.Status == "FLAGGED":
		events = append(events, "FLAGGED")
	case old.Status == "FLAGGED" && st.Status != "FLAGGED":
		events = append(events, "UNFLAGGED")
	}
	if c.MessagingLimitTier != "" && c.MessagingLimitTier != old.MessagingLimitTier {
		st.MessagingLimitTier = c.MessagingLimitTier
		if tierRank(c.MessagingLimitTier) > tierRank(old.MessagingLimitTier) {
			events = append(events, "UPGRADE")
		} else {
			events = append(events, "DOWNGRADE")
		}
	}
	s.setNumberStatusLocked(n, st)
	st = s.numberStatusLocked(phoneNumberID)
	res := NumberChangeResult{Status: st, Limit: s.portfolioLimitLocked(portfolio(n)), Events: []string{}}
	now := s.cfg.Now()
	s.mu.Unlock()

	for _, ev := range events {
		payload, err := json.Marshal(map[string]any{
			"object": "whatsapp_business_account",
			"entry": []any{map[string]any{"id": n.WABAID, "time": now.Unix(), "changes": []any{map[string]any{
				"field": "phone_number_quality_update",
				"value": map[string]any{"display_phone_number": digits(n.DisplayPhoneNumber), "event": ev, "current_limit": st.MessagingLimitTier},
			}}}},
		})
		if err != nil {
			return res, fmt.Errorf("number change: %w", err)
		}
		if err := s.postWithRetry(ctx, scheduledStatus{number: n, payload: payload, status: "phone_number_quality_update"}); err != nil {
			return res, fmt.Errorf("number change: %s webhook: %w", ev, err)
		}
		res.Events = append(res.Events, ev)
	}
	return res, nil
}

// tierRank orders tiers by the recipients they allow (unlimited last).
func tierRank(tier string) int {
	n, ok := tierLimits[tier]
	switch {
	case !ok:
		return 0
	case n < 0:
		return 1 << 30
	}
	return n
}
