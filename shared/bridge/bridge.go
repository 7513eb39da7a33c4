// Package bridge is the BridgeFunction: it pushes each event on the core
// events queue to the core's HTTP API (see package core for the contract).
// A failed push is retried with exponential backoff (5 s doubling to 5 min;
// with the queue's maxReceiveCount of 60 that is more than four hours of
// retries, so an hour-long core outage loses nothing); a push the core
// refuses for good goes to the dead-letter queue with the reason. Events of
// one FIFO group (tenant, number, contact) stay in order: after a failure,
// the rest of the group waits.
package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/core"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/queue"
)

// Pusher delivers one event body to the core. Errors are classified: Retry
// (may carry a RetryAfter) or Permanent.
type Pusher interface {
	Push(ctx context.Context, eventID, eventType string, body []byte) error
}

// Handler is the bridge function.
type Handler struct {
	Core Pusher
	// Consumer runs the batch; its Handle is set by Handle.
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

// Setup builds the handler from the function's environment: CORE_URL,
// CORE_EVENTS_PATH, CORE_SECRET_ID, CORE_EVENTS_QUEUE_URL and
// CORE_EVENTS_DLQ_URL.
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
	sq := sqs.NewFromConfig(cfg)
	return &Handler{
		Core: &core.Client{
			URL:      getenv("CORE_URL") + getenv("CORE_EVENTS_PATH"),
			Secrets:  secretsmanager.NewFromConfig(cfg),
			SecretID: getenv("CORE_SECRET_ID"),
		},
		Consumer: queue.Consumer{
			API:           sq,
			QueueURL:      getenv("CORE_EVENTS_QUEUE_URL"),
			DLQURL:        getenv("CORE_EVENTS_DLQ_URL"),
			Backoff:       backoff,
			MaxRetryAfter: MaxRetryAfter,
		},
		Metrics: &metrics.Recorder{Function: "bridge"},
	}, nil
}

// Metric names.
const (
	MetricPushed = "CoreEventsPushed"
	MetricFailed = "CoreEventsPushFailed"
)

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
	}
	if err := json.Unmarshal([]byte(rec.Body), &ev); err != nil {
		return fault.Invalidf("decode core event: %v", err)
	}
	if ev.EventID == "" || ev.Type == "" {
		return fault.Invalidf("decode core event: event_id %q and type %q are both required", ev.EventID, ev.Type)
	}
	// The body goes out exactly as queued: the signature covers these bytes.
	if err := h.Core.Push(ctx, ev.EventID, ev.Type, []byte(rec.Body)); err != nil {
		h.Metrics.Count(MetricFailed, 1, "Class", fault.ClassOf(err).String())
		return fmt.Errorf("bridge event %s (%s) of tenant %s: %w", ev.EventID, ev.Type, ev.TenantID, err)
	}
	h.Metrics.Count(MetricPushed, 1)
	h.log().Info("event pushed to core", "event_id", ev.EventID, "type", ev.Type, "tenant_id", ev.TenantID, "phone_number_id", ev.PhoneNumberID)
	return nil
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}
