// Package status is the status function: it consumes StatusQueue, where
// the webhook stores message statuses directly (their tenant is resolved
// here, by the business number) and the inbound function routes account
// changes (kind "change" for every field other than messages), applies each message status to its record in
// the messages table so the state never goes backwards, and tells the core
// about every state that really advanced (message.status) and every account
// change (account.<field>). Payment statuses of order-details messages are
// not delivery states: they become payment.status events and leave the
// message record alone. Failures with a permanent meaning update what
// the sender knows: 131047 closes the contact's 24-hour window; a
// throughput upgrade raises the number's pacing limit; a template's
// status, quality or category change updates the template catalog the
// sender checks jobs against.
package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/shared/campaign/tally"
	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/delivery"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/parking"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// Deliveries is the message record store (delivery.Store). Errors are
// classified with fault.
type Deliveries interface {
	Apply(ctx context.Context, u delivery.StatusUpdate) (delivery.Result, error)
	MarkNotified(ctx context.Context, wamid string, states []string, at time.Time) error
	// CountCampaign counts what a campaign's message newly reached in
	// its campaign, once per state (a message of no campaign: nothing).
	CountCampaign(ctx context.Context, m delivery.Message) (tally.Delta, error)
}

// Windows is the contact window store (window.Store).
type Windows interface {
	Close(ctx context.Context, phoneNumberID, waID string, at time.Time) error
}

// Numbers is the tenant registry (tenant.Registry). Errors wrap
// tenant.ErrNotFound for unregistered ids.
type Numbers interface {
	Tenant(ctx context.Context, id string) (tenant.Tenant, error)
	Number(ctx context.Context, phoneNumberID string) (tenant.Number, error)
	SetThroughput(ctx context.Context, phoneNumberID string, perSecond int) error
}

// Templates is the template catalog (catalog.Store). Apply reports false,
// without an error, for a template the catalog does not hold or holds in
// a newer state; errors are classified with fault.
type Templates interface {
	Apply(ctx context.Context, tenantID string, k catalog.Key, c catalog.Change) (bool, error)
}

// Publisher sends messages to a queue (queue.Publisher).
type Publisher interface {
	Publish(ctx context.Context, queueURL string, msgs ...queue.Message) error
}

// Per-tenant delivery metrics (dimensions Function and Tenant): a message
// counts once per state, when the message.status event of that state is
// first published (a late state too), so delivered over sent is the
// tenant's delivery rate and read over delivered its read rate. Tenant is
// the tenant id, bounded by Handler.MetricTenants.
const (
	MetricSent      = "MessagesSent"
	MetricDelivered = "MessagesDelivered"
	MetricRead      = "MessagesRead"
	MetricFailed    = "MessagesFailed"
)

// DefaultRecordGrace is how long a status of an unknown wamid waits for the
// sender's record before it is recorded as external.
const DefaultRecordGrace = time.Minute

// Handler processes StatusQueue batches. It is safe for concurrent use.
type Handler struct {
	Deliveries Deliveries
	Windows    Windows
	Numbers    Numbers
	Templates  Templates
	// Limits keeps the portfolio's messaging-limit tier and the number's
	// quality from phone_number_quality_update (*msglimit.Store); nil:
	// not kept.
	Limits         Limits
	Events         Publisher
	EventsQueueURL string
	// Queue runs the batch (source queue, DLQ, backoff); its Handle is set
	// by Handle.
	Queue   queue.Consumer
	Metrics *metrics.Recorder
	// MetricTenants bounds the Tenant dimension of the per-tenant delivery
	// metrics: past its limit of distinct tenants per instance, a tenant
	// counts as "other". Nil: one of metrics.DefaultLimit shared by the
	// process's handlers.
	MetricTenants *metrics.Bounded
	Log           *slog.Logger
	Now           func() time.Time
	// RecordGrace: a status younger than this (by Meta's timestamp) for a
	// wamid with no record is retried instead of recorded as external,
	// because the sender writes its record just after Meta's answer and the
	// status can overtake it. Zero means DefaultRecordGrace; negative
	// disables the wait.
	RecordGrace time.Duration
}

// Handle is the Lambda handler.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	c := h.Queue
	c.Handle = h.Process
	if c.Log == nil {
		c.Log = h.log()
	}
	return c.Run(ctx, ev)
}

// Process handles one StatusQueue record: a whatsapp.Unit in JSON.
func (h *Handler) Process(ctx context.Context, rec events.SQSMessage) error {
	var u whatsapp.Unit
	if err := json.Unmarshal([]byte(rec.Body), &u); err != nil {
		return fault.InvalidErr(fmt.Errorf("decode status queue record %s: %w", rec.MessageId, err))
	}
	return h.ProcessUnit(ctx, u)
}

// ProcessUnit handles one unit. Its error is classified with fault.
func (h *Handler) ProcessUnit(ctx context.Context, u whatsapp.Unit) error {
	if u.TenantID == "" && u.Kind == whatsapp.KindStatus {
		// Straight from the webhook (statuses skip the inbound function).
		id, err := h.resolve(ctx, u)
		if err != nil {
			return err
		}
		u.TenantID = id
	}
	if u.TenantID == "" {
		return fault.Invalidf("process %s unit of WABA %s: no tenant_id (the inbound function resolves it)", u.Kind, u.WABAID)
	}
	switch {
	case u.Kind == whatsapp.KindStatus:
		return h.status(ctx, u)
	case u.Kind == whatsapp.KindChange && u.Field != "messages" && u.Field != "":
		return h.account(ctx, u)
	}
	return fault.Invalidf("process unit of tenant %s: kind %q field %q is not handled by the status function", u.TenantID, u.Kind, u.Field)
}

// resolve finds the tenant of a status the webhook stored directly, by
// its business number, with the inbound function's rules: a tenant's own
// app speaks only for that tenant's numbers, and a disabled tenant gets
// nothing. What cannot be delivered is dead-lettered (Permanent) with the
// parking reason as its code; lookups that fail are retried. The registry
// caches numbers and tenants, so a status normally costs no read here.
func (h *Handler) resolve(ctx context.Context, u whatsapp.Unit) (string, error) {
	phone := u.Metadata.PhoneNumberID
	n, err := h.Numbers.Number(ctx, phone)
	if errors.Is(err, tenant.ErrNotFound) {
		return "", fault.WithCode(fault.Permanent, parking.ReasonUnknownPhoneNumber, fmt.Errorf("status for number %s: %w", phone, err))
	}
	if err != nil {
		return "", fault.Retryable(fmt.Errorf("resolve tenant of number %s: %w", phone, err))
	}
	if u.Route == whatsapp.RouteTenant && n.TenantID != u.RouteTenant {
		return "", fault.WithCode(fault.Permanent, parking.ReasonTenantMismatch,
			fmt.Errorf("status for number %s of tenant %s arrived on the webhook of tenant %s", phone, n.TenantID, u.RouteTenant))
	}
	t, err := h.Numbers.Tenant(ctx, n.TenantID)
	if errors.Is(err, tenant.ErrNotFound) {
		return "", fault.WithCode(fault.Permanent, parking.ReasonUnknownPhoneNumber, fmt.Errorf("status for number %s: tenant %s: %w", phone, n.TenantID, err))
	}
	if err != nil {
		return "", fault.Retryable(fmt.Errorf("read tenant %s: %w", n.TenantID, err))
	}
	if t.Status == tenant.StatusDisabled {
		return "", fault.WithCode(fault.Permanent, parking.ReasonTenantDisabled, fmt.Errorf("status for number %s of disabled tenant %s", phone, n.TenantID))
	}
	return n.TenantID, nil
}

// status applies one status and publishes the events it makes pending.
func (h *Handler) status(ctx context.Context, u whatsapp.Unit) error {
	if event.IsPaymentStatus(u.Item) {
		return h.payment(ctx, u)
	}
	it, err := event.ParseStatus(u.Item)
	if err != nil {
		return fault.InvalidErr(fmt.Errorf("status of tenant %s number %s: %w", u.TenantID, u.Metadata.PhoneNumberID, err))
	}
	log := h.log().With("tenant_id", u.TenantID, "phone_number_id", u.Metadata.PhoneNumberID, "wamid", it.ID, "status", it.Status)
	at, ok := parseTime(it.Timestamp)
	if !ok {
		// Meta always sends one; the receipt time is the next best thing.
		at, _ = parseTime(u.ReceivedAt)
	}
	if at.IsZero() {
		at = h.now()
	}
	upd := delivery.StatusUpdate{
		WAMID: it.ID, TenantID: u.TenantID, PhoneNumberID: u.Metadata.PhoneNumberID,
		Recipient: it.Recipient(), Status: it.Status, At: at, Errors: it.Errors,
		Conversation: it.Conversation, Pricing: it.Pricing, BizOpaqueCallbackData: it.BizOpaqueCallbackData,
		RequireRecord: h.grace() > 0 && h.now().Sub(at) < h.grace(),
	}
	res, err := h.Deliveries.Apply(ctx, upd)
	switch {
	case errors.Is(err, delivery.ErrTenantMismatch):
		log.WarnContext(ctx, "status parked: the message belongs to another tenant or number", "error", err.Error())
		h.Metrics.Count("StatusParked", 1)
		return err
	case errors.Is(err, delivery.ErrNoRecord):
		return err
	case err != nil:
		return fmt.Errorf("status %s of %s: %w", it.Status, it.ID, err)
	}
	if res.Advanced {
		h.Metrics.Count("StatusAdvanced", 1, "Status", it.Status)
	} else {
		h.Metrics.Count("StatusNotAdvanced", 1)
	}
	if it.Status == event.StatusFailed {
		if err := h.failed(ctx, u, it, at, log); err != nil {
			return err
		}
	}
	return h.notify(ctx, u, it, res.Message, log)
}

// failed tells the sender what a permanent failure means for later sends.
func (h *Handler) failed(ctx context.Context, u whatsapp.Unit, it event.StatusItem, at time.Time, log *slog.Logger) error {
	for _, e := range it.Errors {
		h.Metrics.Count("StatusFailed", 1, "Code", fmt.Sprint(e.Code))
		switch e.Code {
		case 131047:
			// The window is closed: the sender must use a template until
			// the contact writes again.
			if err := h.Windows.Close(ctx, u.Metadata.PhoneNumberID, it.Recipient(), at); err != nil {
				return fmt.Errorf("status failed 131047 for %s: %w", it.ID, err)
			}
		case 131048:
			// Spam rate limit on this number: a person has to look at it.
			log.ErrorContext(ctx, "number hit Meta's spam rate limit (131048): sends to new contacts will keep failing", "code", e.Code)
		}
	}
	return nil
}

// notify publishes, in rank order, the events of every state that became
// current and was not published yet (including ones a crash left behind),
// then those of states Meta reported late (below the current state, which
// they leave unchanged), then marks them all published. Re-publishing after
// a crash is harmless: the event ids are stable.
func (h *Handler) notify(ctx context.Context, u whatsapp.Unit, it event.StatusItem, m delivery.Message, log *slog.Logger) error {
	pending, late := m.Pending(), m.Late()
	if len(pending)+len(late) == 0 {
		return nil
	}
	msgs := make([]queue.Message, 0, len(pending)+len(late)+1)
	if ev, ok := acceptedEvent(m); ok {
		// The sender publishes outbound.accepted after recording the
		// message, so a fast status could reach the core first. Publishing
		// the same event (same id) ahead of the status keeps the order; the
		// copy that comes second is dropped as a duplicate.
		msg, err := queue.EventMessage(ev)
		if err != nil {
			return fault.PermanentErr(err)
		}
		// The sender's event, in the job's trace, not this status's.
		msg.TraceHeader = m.TraceHeader
		msgs = append(msgs, msg)
	}
	for _, st := range pending {
		ev := statusEvent(u, it, m, st, false)
		msg, err := queue.EventMessage(ev)
		if err != nil {
			return fault.PermanentErr(err)
		}
		msgs = append(msgs, msg)
	}
	for _, st := range late {
		ev := statusEvent(u, it, m, st, true)
		msg, err := queue.EventMessage(ev)
		if err != nil {
			return fault.PermanentErr(err)
		}
		msgs = append(msgs, msg)
		h.Metrics.Count("StatusLate", 1, "Status", st)
	}
	if err := h.Events.Publish(ctx, h.EventsQueueURL, msgs...); err != nil {
		return fault.Retryable(fmt.Errorf("publish status events of %s: %w", it.ID, err))
	}
	// Counted before the events are marked published: a crash in
	// between publishes them again (same ids) and counts what is left.
	if d, err := h.Deliveries.CountCampaign(ctx, m); err != nil {
		return err
	} else if !d.Empty() {
		log.DebugContext(ctx, "counted in campaign", "campaign_id", m.CampaignID, "states", d.States, "pricing", d.Pricing)
	}
	if err := h.Deliveries.MarkNotified(ctx, it.ID, append(pending, late...), h.now()); err != nil {
		return err
	}
	h.countStates(u.TenantID, append(pending, late...))
	log.InfoContext(ctx, "status events published", "states", pending, "late", late, "job_id", m.JobID, "external", m.External)
	return nil
}

// acceptedEvent rebuilds the sender's outbound.accepted event from the
// record of a message this system sent, until the record's first status
// event has been published (which then already followed an acceptance).
func acceptedEvent(m delivery.Message) (event.Event, bool) {
	if m.External || m.JobID == "" || m.AcceptedAt.IsZero() || len(m.Notified) > 0 {
		return event.Event{}, false
	}
	ev := event.Event{
		SchemaVersion: event.SchemaVersion,
		EventID:       event.OutboundEventID(event.TypeOutboundAccepted, m.TenantID, m.JobID),
		Type:          event.TypeOutboundAccepted,
		TenantID:      m.TenantID,
		PhoneNumberID: m.PhoneNumberID,
		OccurredAt:    rfc3339(m.AcceptedAt),
		Outbound: &event.OutboundResult{
			JobID: m.JobID, ClientRef: m.ClientRef, MessageType: m.Type, MessageID: m.WAMID, CampaignID: m.CampaignID,
		},
	}
	if m.To != "" {
		// As the sender names it: a contact known only by its
		// business-scoped user id is named by it.
		ev.Contact = &event.Contact{WaID: m.To}
		if outbound.IsBSUID(m.To) {
			ev.Contact = &event.Contact{UserID: m.To}
		}
	}
	return ev, true
}

// statusEvent builds the message.status event of state st from the record:
// st became current, or (late) Meta reported st after a higher state had
// become current, which stays current in the event.
func statusEvent(u whatsapp.Unit, it event.StatusItem, m delivery.Message, st string, late bool) event.Event {
	phone := m.PhoneNumberID
	if phone == "" {
		phone = u.Metadata.PhoneNumberID
	}
	sc := &event.StatusChange{
		MessageID: m.WAMID, Previous: m.Transitions[st], Current: st, Reported: st, At: rfc3339(m.StatusAt[st]),
		JobID: m.JobID, ClientRef: m.ClientRef, CampaignID: m.CampaignID, External: m.External,
		Recipient: it.RecipientID, RecipientUserID: it.RecipientUserID, RecipientType: it.RecipientType,
		Participant: it.Participant, Conversation: m.Conversation, Pricing: m.Pricing,
		BizOpaqueCallbackData: m.BizOpaqueCallbackData, Timestamps: map[string]string{},
	}
	if sc.Recipient == "" && sc.RecipientUserID == "" {
		sc.Recipient = m.To
		if outbound.IsBSUID(m.To) {
			sc.Recipient, sc.RecipientUserID = "", m.To
		}
	}
	if !m.AcceptedAt.IsZero() {
		sc.Timestamps[event.StatusAccepted] = rfc3339(m.AcceptedAt)
	}
	for s, t := range m.StatusAt {
		sc.Timestamps[s] = rfc3339(t)
	}
	if st == event.StatusFailed {
		sc.Errors = m.Errors
		sc.Failure = event.ClassifyFailure(m.Errors)
	}
	id := event.StatusEventID(m.TenantID, phone, m.WAMID, st)
	if late {
		sc.Previous, sc.Current, sc.Late = "", m.Status, true
		id = event.LateStatusEventID(m.TenantID, phone, m.WAMID, st)
	}
	ev := event.Event{
		SchemaVersion: event.SchemaVersion,
		EventID:       id,
		Type:          event.TypeStatusUpdated,
		TenantID:      m.TenantID,
		PhoneNumberID: phone,
		WABAID:        u.WABAID,
		OccurredAt:    sc.At,
		Status:        sc,
	}
	// Same contact key as the sender's outbound.accepted, so the core gets
	// both in one FIFO group, in order.
	if c := (event.Contact{WaID: sc.Recipient, UserID: sc.RecipientUserID}); c.WaID != "" || c.UserID != "" {
		ev.Contact = &c
	}
	return ev
}

// countStates counts each published state of one message by tenant.
func (h *Handler) countStates(tenantID string, states []string) {
	if h.Metrics == nil {
		return
	}
	bounded := h.MetricTenants
	if bounded == nil {
		bounded = defaultMetricTenants
	}
	tenant := bounded.Value(tenantID)
	for _, st := range states {
		switch st {
		case event.StatusSent:
			h.Metrics.Count(MetricSent, 1, "Tenant", tenant)
		case event.StatusDelivered:
			h.Metrics.Count(MetricDelivered, 1, "Tenant", tenant)
		case event.StatusRead:
			h.Metrics.Count(MetricRead, 1, "Tenant", tenant)
		case event.StatusFailed:
			h.Metrics.Count(MetricFailed, 1, "Tenant", tenant)
		}
	}
}

var defaultMetricTenants = &metrics.Bounded{}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) grace() time.Duration {
	if h.RecordGrace == 0 {
		return DefaultRecordGrace
	}
	return h.RecordGrace
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
