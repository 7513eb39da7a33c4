// Package delivery keeps the record of every outbound message in the
// messages table: who sent it (tenant, business number, job), and the
// delivery state Meta reported for it, which only ever moves forward.
//
// Items:
//   - "msg#{wamid}": the message record (Message).
//   - "jobref#{tenant_id}#{job_id}": the wamid a tenant's job produced,
//     for history by job id.
//
// States are totally ordered by rank (Rank). A status is applied with a
// conditional update that succeeds only if the stored state is the one read
// and ranks below the new one, so concurrent and out-of-order statuses
// converge on the highest state whatever their order, and a duplicate
// changes nothing. Lower or equal states that arrive late still leave their
// timestamp (if_not_exists), so the history is complete.
//
// Every state that became current is logged on the record with the state it
// replaced ("prev_{state}"), and marked once its event was published
// ("notified_{state}"). Pending lists the states whose event still has to
// go out, so a crash between the update and the publish loses nothing. Late
// does the same for states that arrived after a higher one: they never
// become current, but Meta reported them and the core is told.
package delivery

import (
	"errors"
	"time"

	"github.com/tucanlink/wacloud/shared/event"
)

// Ranks of the delivery states. The order is total, so the final state of a
// message is the highest-ranked status received, whatever the arrival order:
//
//	accepted(0) < sent(10) < delivered(20) < failed(30) < read(40) < played(50) < deleted(60)
//
// Why:
//   - sent, delivered, read is Meta's normal sequence; played follows read
//     for voice messages (hearing one implies having opened it).
//   - failed ranks above sent and delivered because Meta reports a failure
//     after sent (and, rarely, after delivered): the failure is the later,
//     truer fact, and a late delivered must not hide it.
//   - failed ranks below read because a read receipt proves the user has the
//     message; a failure reported after it cannot be the message's truth.
//   - deleted is terminal: nothing can happen to a deleted message.
//
// The gaps leave room for states Meta may add without rewriting stored ranks.
var ranks = map[string]int{
	event.StatusAccepted:  0,
	event.StatusSent:      10,
	event.StatusDelivered: 20,
	event.StatusFailed:    30,
	event.StatusRead:      40,
	event.StatusPlayed:    50,
	event.StatusDeleted:   60,
}

// States lists the states in rank order.
var States = []string{
	event.StatusAccepted, event.StatusSent, event.StatusDelivered, event.StatusFailed,
	event.StatusRead, event.StatusPlayed, event.StatusDeleted,
}

// Rank returns the rank of a state and whether the state is known.
func Rank(state string) (int, bool) {
	r, ok := ranks[state]
	return r, ok
}

// Errors Store returns (wrapped, and classified with fault).
var (
	// ErrUnknownStatus: a status name outside States (Invalid).
	ErrUnknownStatus = errors.New("unknown status")
	// ErrTenantMismatch: the status names another tenant or business number
	// than the record (Permanent: the status is parked, the record untouched).
	ErrTenantMismatch = errors.New("status does not belong to the message's tenant")
	// ErrNoRecord: no record yet and StatusUpdate.RequireRecord is set
	// (Retry: the sender has probably not written it yet).
	ErrNoRecord = errors.New("no message record yet")
	// ErrNotFound: Get or ByJob found nothing.
	ErrNotFound = errors.New("message not found")
)

// Record is what the sender knows when Meta accepts a message.
type Record struct {
	WAMID         string
	TenantID      string
	PhoneNumberID string
	JobID         string
	ClientRef     string
	// CampaignID is the campaign the job was a row of.
	CampaignID string
	// TraceHeader is the X-Ray trace of the job that sent the message
	// (package tracing): the status function's copy of outbound.accepted
	// carries it, so the event keeps the job's trace whichever copy
	// reaches the core.
	TraceHeader string
	To          string
	Type        string
	AcceptedAt  time.Time
}

// StatusUpdate is one status Meta reported for a message.
type StatusUpdate struct {
	WAMID         string
	TenantID      string
	PhoneNumberID string
	Recipient     string // recipient_id, or recipient_user_id when Meta hides the number
	Status        string
	At            time.Time // Meta's timestamp
	Errors        []event.Error
	Conversation  *event.Conversation
	Pricing       *event.Pricing
	// BizOpaqueCallbackData is the tracking string the sender attached.
	BizOpaqueCallbackData string
	// RequireRecord makes Apply return ErrNoRecord, writing nothing, when
	// the message has no record yet, instead of creating an external one.
	RequireRecord bool
}

// Message is a message record with its delivery history.
type Message struct {
	Record
	// External is true when the record was created by a status for a
	// message this system did not send (no RecordAccepted so far).
	External bool
	Status   string // current state
	// StatusAt holds when each state was reached, for every state seen,
	// including late ones that did not become current.
	StatusAt map[string]time.Time
	// Transitions maps each state that became current to the state it
	// replaced ("" when it created the record).
	Transitions map[string]string
	// Notified holds when the event of each transition was published.
	Notified map[string]time.Time
	// Counted holds the states (and tally.Priced) already counted in
	// the message's campaign.
	Counted               map[string]bool
	Errors                []event.Error
	Conversation          *event.Conversation
	Pricing               *event.Pricing
	BizOpaqueCallbackData string
	UpdatedAt             time.Time
}

// Pending returns, in rank order, the states that became current but whose
// event has not been marked published.
func (m Message) Pending() []string {
	var out []string
	for _, s := range States {
		if _, ok := m.Transitions[s]; !ok {
			continue
		}
		if _, done := m.Notified[s]; !done {
			out = append(out, s)
		}
	}
	return out
}

// Late returns, in rank order, the states Meta reported after a higher
// state had become current (so they never became current themselves) and
// whose event has not been marked published. accepted is the sender's, not
// Meta's, and never listed.
func (m Message) Late() []string {
	var out []string
	for _, s := range States {
		if s == event.StatusAccepted {
			continue
		}
		if _, seen := m.StatusAt[s]; !seen {
			continue
		}
		if _, current := m.Transitions[s]; current {
			continue
		}
		if _, done := m.Notified[s]; !done {
			out = append(out, s)
		}
	}
	return out
}

// Result is the outcome of Apply.
type Result struct {
	// Advanced is true when this call moved the state forward.
	Advanced bool
	// Previous is the state before this call ("" when there was no record).
	Previous string
	// Message is the record after this call.
	Message Message
}
