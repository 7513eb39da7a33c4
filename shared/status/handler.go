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

	"github.com/tucanlink/wacloud/shared/bridge"
	"github.com/tucanlink/wacloud/shared/campaign/tally"
	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/core"
	"github.com/tucanlink/wacloud/shared/crashpoint"
	"github.com/tucanlink/wacloud/shared/delivery"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/parking"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/tracing"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// Deliveries is the message record store (delivery.Store). Errors are
// classified with fault.
type Deliveries interface {
	Apply(ctx context.Context, u delivery.StatusUpdate) (delivery.Result, error)
	// CountAndMarkNotified counts what a campaign's message newly reached
	// in its campaign, once per state (a message of no campaign: nothing),
	// and marks states as pushed to the core, in one write.
	CountAndMarkNotified(ctx context.Context, m delivery.Message, states []string, at time.Time) (tally.Delta, error)
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
	Limits Limits
	// Core receives every event the function makes: message.status (with
	// the outbound.accepted copy ahead of a message's first one),
	// account.* and payment.status. They go straight from the status
	// queue to the core, with no second queue hop: a *bridge.Forwarder
	// (the bridge's client, retry classification and poison parking).
	Core bridge.EventForwarder
	// Queue runs the batch (source queue, DLQ, backoff, how many records
	// at once); its Handle is set by Handle.
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
	// A cold instance reads the core's credentials while it applies the
	// batch's statuses, not after (a no-op once they are cached).
	go core.Warm(ctx, h.Core)
	c := h.Queue
	c.Handle = h.Process
	if c.Log == nil {
		c.Log = h.log()
	}
	return c.Run(ctx, ev)
}

// Lane is the status queue consumer's lane of a record (queue.Consumer.Lane):
// the message a status is about, so that a batch's statuses of one message
// run one after another and each finds the states before it already
// pushed and marked (rather than pushing them again beside it); "" for
// other units, and for a record it cannot read (Process reports it).
func Lane(rec events.SQSMessage) string {
	var u struct {
		Kind string `json:"kind"`
		Item struct {
			ID string `json:"id"`
		} `json:"item"`
	}
	if json.Unmarshal([]byte(rec.Body), &u) != nil || u.Kind != whatsapp.KindStatus {
		return ""
	}
	return u.Item.ID
}

// Process handles one StatusQueue record: a whatsapp.Unit in JSON.
func (h *Handler) Process(ctx context.Context, rec events.SQSMessage) error {
	var u whatsapp.Unit
	if err := json.Unmarshal([]byte(rec.Body), &u); err != nil {
		return fault.InvalidErr(fmt.Errorf("decode status queue record %s: %w", rec.MessageId, err))
	}
	return h.unit(ctx, rec, u)
}

// ProcessUnit handles one unit that came with no queue record: its events
// are pushed as on a first receive (never parked as poison). Its error is
// classified with fault.
func (h *Handler) ProcessUnit(ctx context.Context, u whatsapp.Unit) error {
	return h.unit(ctx, events.SQSMessage{}, u)
}

// unit handles one unit carried by rec. Its error is classified with fault.
func (h *Handler) unit(ctx context.Context, rec events.SQSMessage, u whatsapp.Unit) error {
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
		return h.status(ctx, rec, u)
	case u.Kind == whatsapp.KindChange && u.Field != "messages" && u.Field != "":
		return h.account(ctx, rec, u)
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

// status applies one status and pushes the events it makes pending.
func (h *Handler) status(ctx context.Context, rec events.SQSMessage, u whatsapp.Unit) error {
	if event.IsPaymentStatus(u.Item) {
		return h.payment(ctx, rec, u)
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
	return h.notify(ctx, rec, u, it, res.Message, log)
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

// notify pushes to the core, in rank order, the events of every state that
// became current and was not pushed yet (including ones a crash or a
// concurrent instance left behind), then those of states Meta reported
// late (below the current state, which they leave unchanged), then marks
// them all notified. Pushing again after a crash is harmless: the event
// ids are stable and the core drops repeats by Idempotency-Key.
//
// Concurrent instances keep a message's order at the core: a state is
// marked notified only after it was pushed, so an instance that pushes a
// state first pushes, ahead of it, every lower state not marked yet; the
// first copy of each state reaches the core in rank order, and later
// copies are repeats.
func (h *Handler) notify(ctx context.Context, rec events.SQSMessage, u whatsapp.Unit, it event.StatusItem, m delivery.Message, log *slog.Logger) error {
	pending, late := m.Pending(), m.Late()
	if len(pending)+len(late) == 0 {
		return nil
	}
	if ev, ok := acceptedEvent(m); ok {
		// The sender publishes outbound.accepted after recording the
		// message, and the bridge pushes it from the core events queue,
		// so a fast status could reach the core first. Pushing the same
		// event (same id) ahead of the status keeps the order; the copy
		// that comes second is a repeat the core drops. It continues the
		// job's trace, not this status's.
		actx := ctx
		if m.TraceHeader != "" {
			actx = tracing.WithHeader(ctx, m.TraceHeader)
		}
		if err := h.push(actx, rec, ev); err != nil {
			return err
		}
	}
	evs := make([]event.Event, 0, len(pending)+len(late))
	for _, st := range pending {
		evs = append(evs, statusEvent(u, it, m, st, false))
	}
	for _, st := range late {
		evs = append(evs, statusEvent(u, it, m, st, true))
	}
	if err := h.push(ctx, rec, evs...); err != nil {
		return err
	}
	for _, st := range late {
		h.Metrics.Count("StatusLate", 1, "Status", st)
	}
	crashpoint.Hit("status.after_push")
	// Counted with the events' notified marks, in one write: a crash
	// before it pushes them again (same ids) and counts what is left.
	m.WAMID = it.ID // the record's key, as MarkNotified had it
	if d, err := h.Deliveries.CountAndMarkNotified(ctx, m, append(pending, late...), h.now()); err != nil {
		return err
	} else if !d.Empty() {
		log.DebugContext(ctx, "counted in campaign", "campaign_id", m.CampaignID, "states", d.States, "pricing", d.Pricing)
	}
	h.countStates(u.TenantID, append(pending, late...))
	log.InfoContext(ctx, "status events pushed", "states", pending, "late", late, "job_id", m.JobID, "external", m.External)
	return nil
}

// push sends evs to the core one after another, in order, stopping at the
// first failure (bridge.ForwardEvents).
func (h *Handler) push(ctx context.Context, rec events.SQSMessage, evs ...event.Event) error {
	return bridge.ForwardEvents(ctx, h.Core, rec, h.Queue.Backoff, h.Metrics, evs...)
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
	// The contact, as on the sender's outbound.accepted.
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
