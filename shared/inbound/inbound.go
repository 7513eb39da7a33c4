// Package inbound is the InboundFunction: it takes the units the webhook
// stored on the inbound queue, finds the tenant each belongs to, makes sure
// each Meta event is processed once (dedup), and routes it on:
//
//   - messages, echoes and value-level errors are normalized into core
//     events and pushed to the core's HTTP API straight from the inbound
//     queue (no queue hop in between: a failed push leaves the unit on the
//     inbound queue, whose FIFO group keeps its contact's later units
//     behind it, and it is retried as the bridge retries its events); a
//     message opens the contact's 24-hour window and a media message also
//     becomes a media job (MediaQueue);
//   - statuses and account-level changes go, tenant filled in, to the
//     status function (StatusQueue);
//   - anything that cannot be delivered (unknown number, a tenant route
//     naming another tenant's number, a disabled tenant, a change nothing
//     normalizes) is parked in S3 with its reason. Nothing is dropped.
package inbound

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/bridge"
	"github.com/tucanlink/wacloud/shared/core"
	"github.com/tucanlink/wacloud/shared/crashpoint"
	"github.com/tucanlink/wacloud/shared/dedup"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/identity"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/parking"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/suppression"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/whatsapp"
	"github.com/tucanlink/wacloud/shared/window"
)

// Registry resolves numbers and WABAs to tenants. Errors wrap
// tenant.ErrNotFound for what is not registered; other errors are Retry.
type Registry interface {
	Number(ctx context.Context, phoneNumberID string) (tenant.Number, error)
	TenantOfWABA(ctx context.Context, wabaID string) (string, error)
	Tenant(ctx context.Context, id string) (tenant.Tenant, error)
	// SetOnBizApp records that a number is shared with the WhatsApp
	// Business app (its echoes show it): the sender paces it at 20/s.
	SetOnBizApp(ctx context.Context, phoneNumberID string, on bool) error
}

// Deduper claims a Meta event for one delivery of it before it is routed
// (package dedup): the one write that makes the event's processing happen
// once. Errors are classified Retry.
type Deduper interface {
	Claim(ctx context.Context, key, owner string) (dedup.Outcome, error)
}

// Windows records inbound messages for the 24-hour customer service window.
type Windows interface {
	RecordInbound(ctx context.Context, phoneNumberID, waID string, at time.Time) error
}

// Identities records what a user's business-scoped user id resolves to
// (package identity); *identity.Store satisfies it. Errors are classified
// Retry.
type Identities interface {
	Put(ctx context.Context, tenantID, phoneNumberID, input, id string) error
}

// Publisher writes messages to a queue; an error means some were not
// accepted and the whole publish may be repeated.
type Publisher interface {
	Publish(ctx context.Context, queueURL string, msgs ...queue.Message) error
}

// Core pushes one event of a queued unit to the core; *bridge.Forwarder
// satisfies it (the bridge's client, retry classification and poison
// parking). backoff is the inbound queue's retry delay by receive count.
// Errors are classified: Retry (may carry a RetryAfter) or Permanent
// (bridge.CodeParked for a poison event).
type Core interface {
	Forward(ctx context.Context, rec events.SQSMessage, backoff func(int) time.Duration, eventID, eventType string, body []byte) error
}

// Parker keeps what cannot be delivered.
type Parker interface {
	Park(ctx context.Context, reason string, body []byte, m parking.Meta) (string, error)
}

// Handler is the inbound function.
type Handler struct {
	Registry Registry
	Dedup    Deduper
	Windows  Windows
	// Identities, when set, records a user's BSUID → wa_id from messages
	// carrying both, so the sender finds the window of a job addressed by
	// the BSUID under the wa_id it is written under.
	Identities Identities
	Queue      Publisher
	Parking    Parker
	// Suppressions, with OutboundQueueURL, handles stop keywords
	// (optout.go): nil turns them off.
	Suppressions     Suppressions
	OutboundQueueURL string
	// Core receives the events of messages, echoes and errors.
	Core Core
	// Consumer runs the batch; its Handle is set by Handle. Its
	// Concurrency is how many FIFO groups (contacts) of a batch are
	// processed at once.
	Consumer       queue.Consumer
	MediaQueueURL  string
	StatusQueueURL string
	Metrics        *metrics.Recorder
	Log            *slog.Logger
}

// Setup builds the handler from the function's environment: INBOUND_QUEUE_URL,
// INBOUND_DLQ_URL, CORE_URL, CORE_EVENTS_PATH, CORE_SECRET_ID,
// MEDIA_QUEUE_URL, STATUS_QUEUE_URL, TENANTS_TABLE, STATE_TABLE,
// DATA_BUCKET and S3_USE_PATH_STYLE; stop keywords with SUPPRESSIONS_TABLE
// (the confirmation reply also needs OUTBOUND_QUEUE_URL). Retries follow
// the bridge's schedule (WACLOUD_RETRY_BACKOFF replaces it for local runs).
func Setup(ctx context.Context, getenv func(string) string, cfg aws.Config) (*Handler, error) {
	for _, k := range []string{"INBOUND_QUEUE_URL", "INBOUND_DLQ_URL", "CORE_URL", "CORE_SECRET_ID", "MEDIA_QUEUE_URL",
		"STATUS_QUEUE_URL", "TENANTS_TABLE", "STATE_TABLE", "DATA_BUCKET"} {
		if getenv(k) == "" {
			return nil, fmt.Errorf("inbound setup: %s is not set", k)
		}
	}
	backoff, err := queue.BackoffFromEnv(getenv, bridge.Backoff)
	if err != nil {
		return nil, fmt.Errorf("inbound setup: %w", err)
	}
	ddb := dynamodb.NewFromConfig(cfg)
	sq := sqs.NewFromConfig(cfg)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = getenv("S3_USE_PATH_STYLE") == "true" })
	return &Handler{
		Registry:         &tenant.Registry{API: ddb, Table: getenv("TENANTS_TABLE")},
		Dedup:            dedup.Store{API: ddb, Table: getenv("STATE_TABLE")},
		Windows:          window.Store{API: ddb, Table: getenv("STATE_TABLE")},
		Identities:       &identity.Store{API: ddb, Table: getenv("STATE_TABLE")},
		Queue:            queue.Publisher{API: sq},
		Parking:          parking.Store{API: s3c, Bucket: getenv("DATA_BUCKET")},
		Suppressions:     suppressions(ddb, getenv("SUPPRESSIONS_TABLE")),
		OutboundQueueURL: getenv("OUTBOUND_QUEUE_URL"),
		Core:             &bridge.Forwarder{Core: bridge.CoreClient(getenv, cfg), ConfirmPause: bridge.DefaultConfirmPause},
		Consumer: queue.Consumer{
			API:           sq,
			QueueURL:      getenv("INBOUND_QUEUE_URL"),
			DLQURL:        getenv("INBOUND_DLQ_URL"),
			Backoff:       backoff,
			MaxRetryAfter: bridge.MaxRetryAfter,
			Concurrency:   bridge.DefaultConcurrency,
		},
		MediaQueueURL:  getenv("MEDIA_QUEUE_URL"),
		StatusQueueURL: getenv("STATUS_QUEUE_URL"),
		Metrics:        &metrics.Recorder{Function: "inbound"},
	}, nil
}

// Metric names.
const (
	MetricEvents     = "InboundEvents"
	MetricDuplicates = "InboundDuplicates"
	MetricParked     = "InboundParked"
	MetricMediaJobs  = "InboundMediaJobs"
	MetricStatus     = "InboundRoutedToStatus"
)

// Handle processes one batch from the inbound queue.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	// A cold instance reads the core's credentials while it resolves and
	// claims the batch's units, not after (a no-op once they are cached).
	go core.Warm(ctx, h.Core)
	c := h.Consumer
	c.Handle = h.process
	if c.Log == nil {
		c.Log = h.log()
	}
	return c.Run(ctx, ev)
}

// plan is what one unit turns into, decided before the claim so that the
// dedup key can come from the normalized event.
type plan struct {
	key       string
	events    []event.Event
	mediaJobs []queue.MediaJob
	window    bool // record the contact's inbound window
	toStatus  bool
	park      string // reason, when the unit cannot be delivered
	optOut    *optOut
}

func (h *Handler) process(ctx context.Context, rec events.SQSMessage) error {
	var u whatsapp.Unit
	if err := json.Unmarshal([]byte(rec.Body), &u); err != nil {
		return fault.Invalidf("decode inbound unit: %v", err)
	}
	if u.Kind == "" || (u.Route != whatsapp.RoutePlatform && u.Route != whatsapp.RouteTenant) ||
		(u.Route == whatsapp.RouteTenant && u.RouteTenant == "") {
		return fault.Invalidf("decode inbound unit: kind %q, route %q, route tenant %q is not a unit the webhook writes", u.Kind, u.Route, u.RouteTenant)
	}
	log := h.log().With("phone_number_id", u.Metadata.PhoneNumberID, "waba_id", u.WABAID, "kind", u.Kind, "route", u.Route)

	t, reason, err := h.resolve(ctx, u)
	if err != nil {
		return fmt.Errorf("resolve tenant of %s unit: %w", u.Kind, err)
	}
	if reason != "" {
		return h.park(ctx, log, reason, []byte(rec.Body), u)
	}
	tenantID := t.ID
	u.TenantID = tenantID
	log = log.With("tenant_id", tenantID)
	if u.Kind == whatsapp.KindEcho {
		h.markBizApp(ctx, log, u.Metadata.PhoneNumberID)
	}

	p, err := h.plan(u)
	if err != nil {
		return err
	}
	if p.park != "" {
		return h.park(ctx, log, p.park, []byte(rec.Body), u)
	}
	if h.Suppressions != nil && u.Kind == whatsapp.KindMessage {
		p.optOut = findOptOut(t.OptOut, p.events)
	}
	if len(p.events) > 0 && p.events[0].Message != nil {
		log = log.With("wamid", p.events[0].Message.ID)
	}

	outcome, err := h.Dedup.Claim(ctx, p.key, Delivery(rec.Body))
	if err != nil {
		return err
	}
	switch outcome {
	case dedup.Duplicate:
		h.Metrics.Count(MetricDuplicates, 1)
		log.InfoContext(ctx, "duplicate skipped", "dedup_key", p.key)
		return nil
	case dedup.Busy:
		return fault.Retryable(fmt.Errorf("process %s: another worker holds its claim", p.key))
	}

	if err := h.deliver(ctx, log, rec, u, p); err != nil {
		// The claim stays this delivery's (same body) and its retry, or its
		// redrive from the DLQ, claims again at once; the FIFO dedup ids and
		// event ids make repeats harmless.
		return err
	}
	// No completion write: once the pushes and publishes succeeded the
	// core and the queues hold the outcome, and the record's deletion by
	// the event source ends the delivery (see package dedup).
	crashpoint.Hit("inbound.after_publish")
	pushed := len(p.events)
	if p.optOut != nil && !p.toStatus {
		pushed++ // contact.opted_out, after the message
	}
	log.InfoContext(ctx, "unit routed", "events_pushed", pushed, "media_jobs", len(p.mediaJobs), "to_status", p.toStatus)
	return nil
}

// plan decides what a unit turns into. A message, echo or error Normalize
// cannot read is returned as its (Invalid) error, so it is dead-lettered
// with the reason.
func (h *Handler) plan(u whatsapp.Unit) (plan, error) {
	switch {
	case u.Kind == whatsapp.KindStatus, u.Kind == whatsapp.KindChange && u.Field != "messages":
		return plan{key: unitKey(u), toStatus: true}, nil
	case u.Kind == whatsapp.KindChange:
		// A messages change with nothing but contacts: an event if the
		// contract has one, else kept for an operator.
		evs, err := event.Normalize(u, u.TenantID)
		if err != nil || len(evs) == 0 {
			return plan{park: parking.ReasonUnhandledChange}, nil
		}
		return plan{key: evs[0].EventID, events: evs}, nil
	}
	evs, err := event.Normalize(u, u.TenantID)
	if err != nil {
		return plan{}, err
	}
	if len(evs) == 0 {
		return plan{park: parking.ReasonUnhandledChange}, nil
	}
	p := plan{key: evs[0].EventID, events: evs, window: u.Kind == whatsapp.KindMessage}
	for _, ev := range evs {
		if j, ok := mediaJob(ev); ok {
			p.mediaJobs = append(p.mediaJobs, j)
		}
	}
	return p, nil
}

// deliver does every downstream write of a claimed unit. Each is idempotent
// (FIFO dedup ids, event ids the core dedups by as Idempotency-Key, a
// window that only moves forward), so a retry after a partial failure
// repeats them safely.
func (h *Handler) deliver(ctx context.Context, log *slog.Logger, rec events.SQSMessage, u whatsapp.Unit, p plan) error {
	if p.toStatus {
		b, err := json.Marshal(u)
		if err != nil {
			return fault.PermanentErr(fmt.Errorf("encode %s unit for status queue: %w", u.Kind, err))
		}
		// The business number (or account) is its tenant on the fair
		// standard queue: one company's burst does not hold the others'.
		m := queue.Message{Body: string(b), GroupID: u.OrderKey(), DedupID: p.key, Tenant: cmp.Or(u.Metadata.PhoneNumberID, u.WABAID)}
		if err := h.Queue.Publish(ctx, h.StatusQueueURL, m); err != nil {
			return fault.Retryable(fmt.Errorf("route %s unit to status queue: %w", u.Kind, err))
		}
		h.Metrics.Count(MetricStatus, 1)
		return nil
	}
	// The window is recorded before the core hears of the message: a core
	// that answers at once must find the window open.
	if p.window {
		if err := h.recordWindow(ctx, u); err != nil {
			return err
		}
	}
	evs := p.events
	if p.optOut != nil {
		// After the message, in its contact's group: the core reads the
		// message, then that the contact opted out.
		ev, err := h.applyOptOut(ctx, log, p.optOut)
		if err != nil {
			return err
		}
		evs = append(evs[:len(evs):len(evs)], ev)
	}
	// One after another: the core reads a message before the opt-out it
	// caused.
	if err := bridge.ForwardEvents(ctx, h.Core, rec, h.Consumer.Backoff, h.Metrics, evs...); err != nil {
		return err
	}
	h.Metrics.Count(MetricEvents, float64(len(evs)))
	if len(p.mediaJobs) > 0 {
		jm := make([]queue.Message, 0, len(p.mediaJobs))
		for _, j := range p.mediaJobs {
			b, err := json.Marshal(j)
			if err != nil {
				return fault.PermanentErr(fmt.Errorf("encode media job %s: %w", j.MediaID, err))
			}
			jm = append(jm, queue.Message{Body: string(b), GroupID: j.TenantID + ":" + j.PhoneNumberID, DedupID: "media-" + j.MessageID,
				Tenant: j.TenantID})
		}
		if err := h.Queue.Publish(ctx, h.MediaQueueURL, jm...); err != nil {
			return fault.Retryable(fmt.Errorf("publish %d media jobs: %w", len(jm), err))
		}
		h.Metrics.Count(MetricMediaJobs, float64(len(jm)))
	}
	return nil
}

func (h *Handler) recordWindow(ctx context.Context, u whatsapp.Unit) error {
	contact := u.Contact()
	if contact == "" || u.Metadata.PhoneNumberID == "" {
		return nil
	}
	var m struct {
		Timestamp string `json:"timestamp"`
	}
	_ = json.Unmarshal(u.Item, &m)
	at, err := time.Parse(time.RFC3339, event.UnixTime(m.Timestamp))
	if err != nil {
		// No usable timestamp from Meta: the webhook's receipt time is the
		// closest truth.
		if at, err = time.Parse(time.RFC3339Nano, u.ReceivedAt); err != nil {
			return nil
		}
	}
	if err := h.Windows.RecordInbound(ctx, u.Metadata.PhoneNumberID, contact, at); err != nil {
		return err
	}
	// The window is under the wa_id; a job may name the user by its BSUID.
	var ids struct {
		From       string `json:"from"`
		FromUserID string `json:"from_user_id"`
	}
	_ = json.Unmarshal(u.Item, &ids)
	if h.Identities != nil && u.Kind == whatsapp.KindMessage && ids.From != "" && ids.FromUserID != "" && u.TenantID != "" {
		return h.Identities.Put(ctx, u.TenantID, u.Metadata.PhoneNumberID, ids.FromUserID, ids.From)
	}
	return nil
}

// markBizApp records that a number whose echoes arrive (smb_message_echoes,
// which Meta sends only for numbers onboarded from the WhatsApp Business
// app) is shared with the app: Meta fixes its throughput at 20/s. Best
// effort: the echo is routed whatever happens here, and the next one
// tries again.
func (h *Handler) markBizApp(ctx context.Context, log *slog.Logger, phoneNumberID string) {
	if phoneNumberID == "" {
		return
	}
	n, err := h.Registry.Number(ctx, phoneNumberID)
	if err != nil || n.OnBizApp {
		return
	}
	if err := h.Registry.SetOnBizApp(ctx, phoneNumberID, true); err != nil && !errors.Is(err, tenant.ErrNotFound) {
		log.WarnContext(ctx, "could not record that the number is shared with the WhatsApp Business app", "error", err.Error())
		return
	}
	log.InfoContext(ctx, "number is shared with the WhatsApp Business app (its echoes arrive): paced at its fixed throughput", "throughput", tenant.BizAppThroughput)
}

// resolve returns the tenant a unit belongs to, or the reason to park it.
func (h *Handler) resolve(ctx context.Context, u whatsapp.Unit) (tn tenant.Tenant, reason string, err error) {
	var tenantID string
	switch {
	case u.Metadata.PhoneNumberID != "":
		n, err := h.Registry.Number(ctx, u.Metadata.PhoneNumberID)
		if errors.Is(err, tenant.ErrNotFound) {
			return tenant.Tenant{}, parking.ReasonUnknownPhoneNumber, nil
		}
		if err != nil {
			return tenant.Tenant{}, "", err
		}
		tenantID = n.TenantID
	case u.WABAID != "":
		id, err := h.Registry.TenantOfWABA(ctx, u.WABAID)
		if errors.Is(err, tenant.ErrNotFound) {
			return tenant.Tenant{}, parking.ReasonUnknownWABA, nil
		}
		if err != nil {
			return tenant.Tenant{}, "", err
		}
		tenantID = id
	default:
		return tenant.Tenant{}, parking.ReasonUnknownWABA, nil
	}
	// A tenant's own app can only speak for that tenant's numbers.
	if u.Route == whatsapp.RouteTenant && tenantID != u.RouteTenant {
		return tenant.Tenant{}, parking.ReasonTenantMismatch, nil
	}
	t, err := h.Registry.Tenant(ctx, tenantID)
	if errors.Is(err, tenant.ErrNotFound) {
		return tenant.Tenant{}, parking.ReasonUnknownPhoneNumber, nil
	}
	if err != nil {
		return tenant.Tenant{}, "", err
	}
	if t.Status == tenant.StatusDisabled {
		return tenant.Tenant{}, parking.ReasonTenantDisabled, nil
	}
	if t.ID == "" {
		t.ID = tenantID
	}
	return t, "", nil
}

func (h *Handler) park(ctx context.Context, log *slog.Logger, reason string, body []byte, u whatsapp.Unit) error {
	key, err := h.Parking.Park(ctx, reason, body, parking.Meta{
		Route: u.Route, RouteTenant: u.RouteTenant, TenantID: u.TenantID,
		PhoneNumberID: u.Metadata.PhoneNumberID, WABAID: u.WABAID, ReceivedAt: u.ReceivedAt,
	})
	if err != nil {
		return err
	}
	h.Metrics.Count(MetricParked, 1, "Reason", reason)
	log.WarnContext(ctx, "unit parked", "reason", reason, "key", key)
	return nil
}

// Delivery identifies one delivery of a Meta event for its dedup claim: a
// hash of the queued unit, which carries the webhook's receipt time. It is
// the same for every SQS retry of the message, after dead-lettering and
// after a redrive (wacloudctl dlq redrive sends the body unchanged), and
// differs for Meta's later deliveries of the same event and for every
// operator replay of a parked unit (each carries its own Replay mark).
func Delivery(body string) string {
	sum := sha256.Sum256([]byte(body))
	return "unit-body:" + hex.EncodeToString(sum[:16])
}

// unitKey identifies a status or change unit by what Meta said, not by when
// it arrived.
func unitKey(u whatsapp.Unit) string {
	body := u.Item
	if len(body) == 0 {
		body = u.Value
	}
	sum := sha256.Sum256([]byte(u.Kind + "\x1f" + u.Field + "\x1f" + u.WABAID + "\x1f" + u.Metadata.PhoneNumberID + "\x1f" +
		strconv.FormatInt(u.EntryTime, 10) + "\x1f" + string(body)))
	return "unit_" + hex.EncodeToString(sum[:16])
}

// mediaJob asks the media function to fetch the file of a media message.
func mediaJob(ev event.Event) (queue.MediaJob, bool) {
	if ev.Message == nil || ev.Message.Media == nil || ev.Message.Media.ID == "" {
		return queue.MediaJob{}, false
	}
	md := ev.Message.Media
	j := queue.MediaJob{
		TenantID: ev.TenantID, PhoneNumberID: ev.PhoneNumberID, WABAID: ev.WABAID,
		MessageID: ev.Message.ID, MediaID: md.ID, Kind: md.Kind, MimeType: md.MimeType,
		SHA256: md.SHA256, Filename: md.Filename, OccurredAt: ev.OccurredAt,
	}
	if ev.Contact != nil {
		j.ContactWaID = ev.Contact.WaID
		if j.ContactWaID == "" {
			j.ContactWaID = ev.Contact.UserID
		}
	}
	return j, true
}

// suppressions is the tenants' suppression lists; without
// SUPPRESSIONS_TABLE stop keywords are not handled.
func suppressions(ddb *dynamodb.Client, table string) Suppressions {
	if table == "" {
		return nil
	}
	return &suppression.Store{API: ddb, Table: table}
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}
