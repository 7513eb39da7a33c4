// Package msglimit keeps Meta's messaging limit per business portfolio:
// how many unique WhatsApp users a business may start conversations with
// (business-initiated messages: templates outside the customer service
// window) in a rolling 24 hours. Meta sets the tier (TIER_250 … TIER_100K,
// TIER_UNLIMITED) and reports it on the phone number
// (messaging_limit_tier) and in phone_number_quality_update webhooks
// (current_limit).
//
// Counting. Each recipient counted has a record in the state table
// ("msglimit#r#{portfolio}#{recipient}", counted_at); the portfolio's
// record ("msglimit#p#{portfolio}") holds the tier, its limit, the count
// of recipients in the window and that count per 10-minute bucket. A new
// recipient is counted in one transaction: its record (only if absent or
// older than 24 h) and the portfolio's count (only while below the limit).
// So the limit is never exceeded, whatever the number of instances; a
// recipient inside its 24 hours costs nothing; and capacity frees when a
// bucket leaves the window (at most one bucket late: the count is never
// under the truth). Buckets that left the window are subtracted from the
// count by a conditional update when a reservation is refused and when
// an instance reads the portfolio (at most once a minute).
//
// The portfolio is named by the caller: the connector uses the number's
// WhatsApp Business Account id, which Meta's webhooks name too.
package msglimit

import (
	"strings"
	"time"
)

// Window is Meta's rolling period.
const Window = 24 * time.Hour

// Bucket is the granularity of the count: a recipient counted at t frees
// its capacity at the end of t's bucket plus Window.
const Bucket = 10 * time.Minute

// Tiers Meta names (messaging_limit_tier on the phone number, current_limit
// in webhooks; Meta's OpenAPI lists TIER_50, TIER_250, TIER_1K, TIER_10K,
// TIER_100K, TIER_UNLIMITED and its webhooks TIER_2K).
const (
	Tier50        = "TIER_50"
	Tier250       = "TIER_250"
	Tier1K        = "TIER_1K"
	Tier2K        = "TIER_2K"
	Tier10K       = "TIER_10K"
	Tier100K      = "TIER_100K"
	TierUnlimited = "TIER_UNLIMITED"
)

var tierLimits = map[string]int{
	Tier50: 50, Tier250: 250, Tier1K: 1000, Tier2K: 2000, Tier10K: 10000, Tier100K: 100000,
}

// TierLimit is the number of unique recipients a tier allows in Window;
// unlimited is true for TIER_UNLIMITED. ok is false for a name this
// package does not know.
func TierLimit(tier string) (limit int, unlimited, ok bool) {
	t := strings.ToUpper(strings.TrimSpace(tier))
	if t == TierUnlimited {
		return 0, true, true
	}
	n, ok := tierLimits[t]
	return n, false, ok
}

// Outcome is what Reserve decided.
type Outcome int

// Reserve's outcomes.
const (
	// Allowed: the recipient was counted now.
	Allowed Outcome = iota + 1
	// Repeat: the recipient is already counted in the window; free.
	Repeat
	// Unlimited: the portfolio's tier is TIER_UNLIMITED; nothing counted.
	Unlimited
	// Exceeded: counting the recipient would exceed the tier; nothing
	// counted. Decision.FreeAt says when capacity frees.
	Exceeded
)

func (o Outcome) String() string {
	switch o {
	case Allowed:
		return "allowed"
	case Repeat:
		return "repeat"
	case Unlimited:
		return "unlimited"
	case Exceeded:
		return "exceeded"
	}
	return "unknown"
}

// Decision is Reserve's answer.
type Decision struct {
	Outcome Outcome
	// Tier is the portfolio's tier as last reported ("" when unknown: the
	// recipient is counted but no limit applies).
	Tier string
	// Limit is the tier's number of unique recipients (0 when unknown or
	// unlimited).
	Limit int
	// Used is the count in the window the decision saw (Exceeded only).
	Used int
	// FreeAt is when the oldest counted recipients leave the window
	// (Exceeded only).
	FreeAt time.Time
}

// OK reports whether the message may be sent.
func (d Decision) OK() bool { return d.Outcome != Exceeded }

// State is a portfolio's messaging limit as last reported.
type State struct {
	Portfolio string
	Tier      string    // "" when never reported
	Limit     int       // 0 when unknown or unlimited
	Unlimited bool      // TIER_UNLIMITED
	At        time.Time // when Meta reported it (zero when never)
	// Used is the count of recipients in the window (buckets already out
	// of it not yet subtracted are left out here).
	Used int
}

// Known reports whether a tier was ever reported.
func (s State) Known() bool { return s.Tier != "" }

// Health is a business number's quality and status as last reported.
type Health struct {
	PhoneNumberID string
	// Quality is quality_rating: GREEN, YELLOW, RED, NA ("" unknown).
	Quality string
	// Status is the number's status (CONNECTED, FLAGGED, RESTRICTED …) or
	// the last quality event (FLAGGED, UNFLAGGED, UPGRADE, DOWNGRADE).
	Status string
	At     time.Time
}

// HealthEvent reports whether a phone_number_quality_update event says
// something of the number's health: FLAGGED (its quality rating dropped
// to low), UNFLAGGED (it rose again), UPGRADE and DOWNGRADE (a new tier;
// Meta changes the tier of numbers that are not flagged, and a flagged
// number's DOWNGRADE ends its flag). THROUGHPUT_UPGRADE and ONBOARDING
// do not.
func HealthEvent(ev string) bool {
	switch strings.ToUpper(ev) {
	case "FLAGGED", "UNFLAGGED", "UPGRADE", "DOWNGRADE":
		return true
	}
	return false
}

// Paused reports whether campaigns on the number should stop: quality RED
// or the number FLAGGED (Meta's phone_number_quality_update event or the
// number's status).
func (h Health) Paused() bool {
	return strings.EqualFold(h.Quality, "RED") || strings.EqualFold(h.Status, "FLAGGED") ||
		strings.EqualFold(h.Status, "RESTRICTED")
}

// Report is what Meta said of a number and its portfolio: from GET
// /{phone-number-id} (messaging_limit_tier, quality_rating, status) or a
// phone_number_quality_update webhook (current_limit, event). Empty
// fields are left as they were, except that an event ending a flag
// (UNFLAGGED, UPGRADE, DOWNGRADE) without a quality forgets the quality
// recorded: Meta no longer rates the number low, and does not say what
// it rates it now.
type Report struct {
	Portfolio     string
	PhoneNumberID string // "" when Meta named the number only by its display number
	Tier          string
	Quality       string
	Status        string
	At            time.Time // Meta's time; an older report never overwrites a newer one
}
