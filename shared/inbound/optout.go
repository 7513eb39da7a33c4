package inbound

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/suppression"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// Suppressions adds contacts to a tenant's suppression list;
// *suppression.Store satisfies it. Add is idempotent: a contact already
// listed keeps its entry (added false, the stored entry returned). Errors
// are classified Retry or Invalid.
type Suppressions interface {
	Add(ctx context.Context, e suppression.Entry) (stored suppression.Entry, added bool, err error)
}

// MetricOptOuts counts contacts who wrote a stop keyword.
const MetricOptOuts = "InboundOptOuts"

// optOut is a stop keyword found in an inbound text.
type optOut struct {
	keyword  string
	reply    string // "" for none
	message  *event.Event
	contacts []string // wa_id and/or BSUID
}

// findOptOut tells whether an inbound text message is one of the tenant's
// stop keywords. It is pure (the settings come with the tenant item the
// unit was resolved with), so a message that is not one costs no call.
// Group chats and messages without a sender are never opt-outs.
func findOptOut(settings *tenant.OptOut, evs []event.Event) *optOut {
	if settings != nil && settings.Disabled {
		return nil
	}
	for i := range evs {
		ev := &evs[i]
		m := ev.Message
		if ev.Type != event.TypeMessageReceived || m == nil || m.Kind != "text" || m.Text == nil || m.GroupID != "" {
			continue
		}
		var keywords []string
		var reply string
		if settings != nil {
			keywords, reply = settings.Keywords, settings.Reply
		}
		k, ok := suppression.Match(m.Text.Body, keywords)
		if !ok {
			continue
		}
		o := &optOut{keyword: k, reply: reply, message: ev}
		if o.reply == "" {
			o.reply = suppression.DefaultReply(k)
		}
		for _, c := range []string{m.From, m.FromUserID} {
			if _, err := suppression.Key(c); err == nil {
				o.contacts = append(o.contacts, c)
			}
		}
		if len(o.contacts) == 0 {
			continue
		}
		return o
	}
	return nil
}

// replyJobID is the confirmation's job id: one per opt-out message, so a
// redelivered webhook or a retried unit queues the same job, which the
// sender sends once.
func replyJobID(tenantID, wamid string) string {
	sum := sha256.Sum256([]byte(tenantID + "\x1f" + wamid))
	return "opt-out-reply-" + hex.EncodeToString(sum[:16])
}

// applyOptOut puts the contact on the tenant's suppression list, queues
// the confirmation reply on the outbound queue (the sender sends it like
// any job, once) and returns the contact.opted_out event for the core.
// Every step is idempotent, so a retry of the unit repeats it safely.
func (h *Handler) applyOptOut(ctx context.Context, log *slog.Logger, o *optOut) (event.Event, error) {
	ev, m := o.message, o.message.Message
	already := true
	for _, c := range o.contacts {
		stored, added, err := h.Suppressions.Add(ctx, suppression.Entry{TenantID: ev.TenantID, Contact: c, Reason: suppression.ReasonKeyword,
			At: parseTime(ev.OccurredAt), Keyword: o.keyword, PhoneNumberID: ev.PhoneNumberID, MessageID: m.ID})
		if err != nil {
			return event.Event{}, fmt.Errorf("record opt-out of message %s: %w", m.ID, err)
		}
		// An entry of this very message is a retry's, not an earlier opt-out.
		if added || stored.MessageID == m.ID {
			already = false
		}
	}
	detail := &event.OptOut{Reason: suppression.ReasonKeyword, Keyword: o.keyword, MessageID: m.ID, At: ev.OccurredAt, AlreadySuppressed: already}
	if o.reply != "" && h.OutboundQueueURL != "" {
		job := outbound.Job{JobID: replyJobID(ev.TenantID, m.ID), TenantID: ev.TenantID, PhoneNumberID: ev.PhoneNumberID,
			Type: outbound.TypeText, ClientRef: "opt-out", Text: &outbound.Text{Body: o.reply}}
		if m.From != "" {
			job.To = m.From
		} else {
			job.Recipient = m.FromUserID
		}
		if err := outbound.Validate(job); err != nil {
			// A configured reply the contract refuses: the opt-out
			// stands, the core hears it without a reply.
			log.WarnContext(ctx, "opt-out reply not sent: the job is invalid", "error", err.Error())
		} else {
			body, err := json.Marshal(job)
			if err != nil {
				return event.Event{}, fault.PermanentErr(fmt.Errorf("encode opt-out reply to message %s: %w", m.ID, err))
			}
			if err := h.Queue.Publish(ctx, h.OutboundQueueURL, queue.Message{Body: string(body), GroupID: job.GroupID(), DedupID: job.JobID}); err != nil {
				return event.Event{}, fault.Retryable(fmt.Errorf("queue opt-out reply to message %s: %w", m.ID, err))
			}
			detail.ReplyJobID = job.JobID
		}
	}
	h.Metrics.Count(MetricOptOuts, 1)
	log.InfoContext(ctx, "contact opted out", "keyword", o.keyword, "already_suppressed", already, "reply_job_id", detail.ReplyJobID)
	return event.Event{
		SchemaVersion: event.SchemaVersion,
		EventID:       event.ID(event.TypeContactOptedOut, ev.TenantID, m.ID),
		Type:          event.TypeContactOptedOut,
		TenantID:      ev.TenantID,
		PhoneNumberID: ev.PhoneNumberID,
		WABAID:        ev.WABAID,
		OccurredAt:    ev.OccurredAt,
		Contact:       ev.Contact,
		OptOut:        detail,
	}, nil
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}
