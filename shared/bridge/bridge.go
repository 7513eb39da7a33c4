// Package bridge is the BridgeFunction: it pushes each event on the core
// events queue to the core's HTTP API (see package core for the contract).
//
// Events of one FIFO group (tenant, number, contact) reach the core in
// order: a group's records are pushed one after another, and after a
// failure the rest of the group waits. Records of different groups in a
// batch are pushed concurrently (up to Concurrency at once), so a core
// that takes 100 ms per event costs a batch of ten contacts about 100 ms,
// not a second.
//
// A failed push is retried with exponential backoff (5 s doubling to 5 min;
// with the queue's maxReceiveCount of 60 that is more than four hours of
// retries, so an hour-long core outage loses nothing); a push the core
// refuses for good goes to the dead-letter queue with the reason. An event
// the core keeps failing while it accepts others (a poison event) is parked
// in the dead-letter queue after ParkAfter receives, so that it blocks its
// contact's later events for minutes, not hours (see Forwarder.ParkAfter).
//
// The Forwarder is shared: the inbound function pushes a contact's
// messages and the status function a message's statuses with one of their
// own, straight from their queues.
package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/core"
	"github.com/tucanlink/wacloud/shared/crashpoint"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/queue"
)

// Pusher delivers one event body to the core. Errors are classified: Retry
// (may carry a RetryAfter) or Permanent. It must be safe for concurrent use.
type Pusher interface {
	Push(ctx context.Context, eventID, eventType string, body []byte) error
}

// Handler is the bridge function. It is safe for concurrent use.
type Handler struct {
	// Forwarder pushes each record's event (Core) and parks poison events
	// (ParkAfter, HealthyWithin, ConfirmPause).
	Forwarder
	// Consumer runs the batch; its Handle is set by Handle. Its
	// Concurrency is how many FIFO groups of a batch are pushed at once.
	Consumer queue.Consumer
	Metrics  *metrics.Recorder
	Log      *slog.Logger
}

// Backoff is the delay before each retry of a push. For local runs,
// queue.EnvBackoff (WACLOUD_RETRY_BACKOFF) replaces it.
var Backoff = queue.Exponential(5*time.Second, 5*time.Minute)

// MaxRetryAfter bounds how long the core's Retry-After may hold an event
// back: honoured up to 15 minutes, so that a core answering "come back
// tomorrow" (or a misconfigured proxy) cannot park a contact's events for
// the queue's whole retention; longer outages are covered by the
// backoff and the queue's maxReceiveCount.
const MaxRetryAfter = 15 * time.Minute

// Defaults.
const (
	// DefaultConcurrency: a FIFO batch holds at most 10 records, so every
	// group of a batch is pushed at once.
	DefaultConcurrency = 10
	// DefaultParkAfter receives is about ten minutes of retries on
	// Backoff (5+10+20+40+80+160+300 s between the eight attempts).
	DefaultParkAfter = 8
	// DefaultHealthyWithin is Backoff's cap: an instance retrying a poison
	// event sees the core accept others within that time, unless the core
	// is down for everyone.
	DefaultHealthyWithin = 5 * time.Minute
	// DefaultConfirmPause lets a core that blipped (a deploy) recover, and
	// the batch's other groups show whether the core is up, before an
	// event is parked.
	DefaultConfirmPause = time.Second
)

// Setup builds the handler from the function's environment: CORE_URL,
// CORE_EVENTS_PATH, CORE_SECRET_ID, CORE_EVENTS_QUEUE_URL,
// CORE_EVENTS_DLQ_URL and, optionally, CORE_PUSH_CONCURRENCY (1 to 10,
// default 10: how many FIFO groups of a batch are pushed at once).
func Setup(ctx context.Context, getenv func(string) string, cfg aws.Config) (*Handler, error) {
	for _, k := range []string{"CORE_URL", "CORE_SECRET_ID", "CORE_EVENTS_QUEUE_URL", "CORE_EVENTS_DLQ_URL"} {
		if getenv(k) == "" {
			return nil, fmt.Errorf("bridge setup: %s is not set", k)
		}
	}
	backoff, err := queue.BackoffFromEnv(getenv, Backoff)
	if err != nil {
		return nil, fmt.Errorf("bridge setup: %w", err)
	}
	concurrency := DefaultConcurrency
	if v := getenv("CORE_PUSH_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10 {
			return nil, fmt.Errorf("bridge setup: CORE_PUSH_CONCURRENCY %q: want a whole number from 1 to 10", v)
		}
		concurrency = n
	}
	sq := sqs.NewFromConfig(cfg)
	return &Handler{
		Forwarder: Forwarder{Core: CoreClient(getenv, cfg), ConfirmPause: DefaultConfirmPause},
		Consumer: queue.Consumer{
			API:           sq,
			QueueURL:      getenv("CORE_EVENTS_QUEUE_URL"),
			DLQURL:        getenv("CORE_EVENTS_DLQ_URL"),
			Backoff:       backoff,
			MaxRetryAfter: MaxRetryAfter,
			Concurrency:   concurrency,
		},
		Metrics: &metrics.Recorder{Function: "bridge"},
	}, nil
}

// CoreClient is the core's events endpoint from the environment: CORE_URL,
// CORE_EVENTS_PATH and CORE_SECRET_ID (the credentials' secret).
func CoreClient(getenv func(string) string, cfg aws.Config) *core.Client {
	return &core.Client{
		URL:      getenv("CORE_URL") + getenv("CORE_EVENTS_PATH"),
		Secrets:  secretsmanager.NewFromConfig(cfg),
		SecretID: getenv("CORE_SECRET_ID"),
	}
}

// Metric names.
const (
	MetricPushed = "CoreEventsPushed"
	MetricFailed = "CoreEventsPushFailed"
	// MetricParked counts poison events parked in the dead-letter queue
	// (CoreEventParkedAlarm).
	MetricParked = "CoreEventsParked"
)

// CodeParked is the dead-letter failure code (attribute
// wacloud-failure-code) of a parked poison event.
const CodeParked = "poison_parked"

// Handle pushes one batch from the core events queue.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	c := h.Consumer
	c.Handle = h.push
	if c.Log == nil {
		c.Log = h.log()
	}
	return c.Run(ctx, ev)
}

func (h *Handler) push(ctx context.Context, rec events.SQSMessage) error {
	var ev struct {
		EventID       string `json:"event_id"`
		Type          string `json:"type"`
		TenantID      string `json:"tenant_id"`
		PhoneNumberID string `json:"phone_number_id"`
		// The message and the job it concerns, for the log line (and so
		// the line can be found by wamid or job id, then its trace_id).
		Message *struct {
			ID string `json:"id"`
		} `json:"message"`
		Status *struct {
			MessageID string `json:"message_id"`
		} `json:"status"`
		Outbound *struct {
			JobID     string `json:"job_id"`
			MessageID string `json:"message_id"`
		} `json:"outbound"`
	}
	if err := json.Unmarshal([]byte(rec.Body), &ev); err != nil {
		return fault.Invalidf("decode core event: %v", err)
	}
	if ev.EventID == "" || ev.Type == "" {
		return fault.Invalidf("decode core event: event_id %q and type %q are both required", ev.EventID, ev.Type)
	}
	// The body goes out exactly as queued: the signature covers these bytes.
	err := h.Forward(ctx, rec, h.Consumer.Backoff, ev.EventID, ev.Type, []byte(rec.Body))
	countPush(h.Metrics, err)
	if err != nil {
		return fmt.Errorf("bridge event %s (%s) of tenant %s: %w", ev.EventID, ev.Type, ev.TenantID, err)
	}
	crashpoint.Hit("bridge.after_push")
	attrs := []any{"event_id", ev.EventID, "type", ev.Type, "tenant_id", ev.TenantID, "phone_number_id", ev.PhoneNumberID}
	switch {
	case ev.Message != nil && ev.Message.ID != "":
		attrs = append(attrs, "wamid", ev.Message.ID)
	case ev.Status != nil && ev.Status.MessageID != "":
		attrs = append(attrs, "wamid", ev.Status.MessageID)
	case ev.Outbound != nil:
		attrs = append(attrs, "job_id", ev.Outbound.JobID)
		if ev.Outbound.MessageID != "" {
			attrs = append(attrs, "wamid", ev.Outbound.MessageID)
		}
	}
	h.log().InfoContext(ctx, "event pushed to core", attrs...)
	return nil
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}
