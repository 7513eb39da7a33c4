package campaign

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/queue"
)

// Campaign event types the core hears (event.TypeCampaign…).
const (
	EventStarted   = event.TypeCampaignStarted
	EventProgress  = event.TypeCampaignProgress
	EventPaused    = event.TypeCampaignPaused
	EventResumed   = event.TypeCampaignResumed
	EventWaiting   = event.TypeCampaignWaiting
	EventCompleted = event.TypeCampaignCompleted
	EventCancelled = event.TypeCampaignCancelled
	EventFailed    = event.TypeCampaignFailed
)

// DefaultProgressEvery is the least time between two campaign.progress
// events of a run.
const DefaultProgressEvery = 5 * time.Second

// Events reports a campaign's life to the core on the core events queue,
// as every other core event goes (queue.EventMessage: the tenant and
// number's FIFO group, the event id as deduplication id). Event ids are
// deterministic (CampaignEventID), so a runner that reports an event
// again after a restart does not reach the core twice. A nil *Events
// reports nothing. Errors are retryable.
type Events struct {
	Queue    Publisher
	QueueURL string
	Now      func() time.Time
}

// StateEvent is the event type reporting that a campaign entered its
// state, or "" for a state that has none of its own (scheduled; running
// reports as resumed only after it started).
func StateEvent(c Campaign, started bool) string {
	switch c.State {
	case StateRunning:
		if started {
			return EventResumed
		}
	case StatePaused:
		return EventPaused
	case StateWaitingForCapacity:
		return EventWaiting
	case StateCompleted:
		return EventCompleted
	case StateCancelled:
		return EventCancelled
	case StateFailed:
		return EventFailed
	}
	return ""
}

// Publish reports event typ of campaign c (with its counts as they are).
// Started and the terminal events are once per campaign; paused,
// resumed and waiting once per time the campaign entered the state;
// progress once per checkpoint and counts.
func (e *Events) Publish(ctx context.Context, typ string, c Campaign) error {
	if e == nil {
		return nil
	}
	var parts []string
	switch typ {
	case EventPaused, EventResumed, EventWaiting:
		parts = []string{c.StateAt}
	case EventProgress:
		n := c.Counts
		parts = []string{fmt.Sprint(n.Rows, n.Invalid, n.Duplicates, n.Suppressed, n.Queued, n.Accepted, n.Sent, n.Delivered, n.Read, n.Failed)}
	}
	st := &event.CampaignStatus{
		ID: c.ID, Name: c.Name, ClientRef: c.ClientRef, State: c.State,
		Template: event.CampaignTemplate{Name: c.Template.Name, Language: c.Template.Language},
		Counts: event.CampaignCounts{Rows: c.Counts.Rows, Invalid: c.Counts.Invalid, Duplicates: c.Counts.Duplicates,
			Suppressed: c.Counts.Suppressed, Queued: c.Counts.Queued, Accepted: c.Counts.Accepted, Sent: c.Counts.Sent,
			Delivered: c.Counts.Delivered, Read: c.Counts.Read, Failed: c.Counts.Failed},
		FailedByReason: nonEmpty(c.FailedByReason), Pricing: nonEmpty(c.Pricing),
	}
	switch typ {
	case EventPaused:
		st.Reason, st.Details = PauseReason(c.Reason), c.Reason
	case EventWaiting, EventFailed:
		st.Details = c.Reason
	}
	at := e.now()
	if typ != EventProgress && c.StateAt != "" {
		if t, err := time.Parse(time.RFC3339Nano, c.StateAt); err == nil {
			at = t
		}
	}
	ev := event.Event{
		SchemaVersion: event.SchemaVersion,
		EventID:       event.CampaignEventID(typ, c.TenantID, c.ID, parts...),
		Type:          typ,
		TenantID:      c.TenantID,
		PhoneNumberID: c.PhoneNumberID,
		OccurredAt:    at.UTC().Format(time.RFC3339),
		Campaign:      st,
	}
	m, err := queue.EventMessage(ev)
	if err != nil {
		return fault.PermanentErr(err)
	}
	if err := e.Queue.Publish(ctx, e.QueueURL, m); err != nil {
		return fault.Retryable(fmt.Errorf("publish %s of campaign %s: %w", typ, c.ID, err))
	}
	return nil
}

// PauseReason names why a campaign was paused from the reason stored
// with the pause: none is the tenant's own pause.
func PauseReason(reason string) string {
	switch r := strings.ToLower(reason); {
	case r == "":
		return event.CampaignPausedByUser
	case strings.Contains(r, "quality"), strings.Contains(r, "flagged"):
		return event.CampaignPausedByQuality
	case strings.Contains(r, "template"):
		return event.CampaignPausedByTemplate
	}
	return event.CampaignPausedOther
}

func nonEmpty(m map[string]int64) map[string]int64 {
	if len(m) == 0 {
		return nil
	}
	return m
}

func (e *Events) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}
