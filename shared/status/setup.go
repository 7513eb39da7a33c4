package status

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/bridge"
	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/delivery"
	"github.com/tucanlink/wacloud/shared/dynamoretry"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/msglimit"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/window"
)

// Setup builds the status function from its environment: MESSAGES_TABLE,
// STATE_TABLE, TENANTS_TABLE, TEMPLATES_TABLE, CORE_URL, CORE_SECRET_ID,
// STATUS_QUEUE_URL and STATUS_DLQ_URL (required); CORE_EVENTS_PATH (the
// core's events endpoint, as the bridge's); STATUS_RECORD_GRACE (optional
// Go duration, default 1m; "0s" or negative records unknown wamids as
// external at once) and CAMPAIGNS_TABLE (optional: where campaign
// messages are counted). Retries follow the bridge's schedule
// (WACLOUD_RETRY_BACKOFF replaces it for local runs).
func Setup(ctx context.Context, getenv func(string) string, cfg aws.Config) (*Handler, error) {
	env := map[string]string{}
	var missing []string
	for _, k := range []string{"MESSAGES_TABLE", "STATE_TABLE", "TENANTS_TABLE", "TEMPLATES_TABLE", "CORE_URL", "CORE_SECRET_ID", "STATUS_QUEUE_URL", "STATUS_DLQ_URL"} {
		if env[k] = getenv(k); env[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("status setup: missing environment: %s", strings.Join(missing, ", "))
	}
	grace := DefaultRecordGrace
	if v := getenv("STATUS_RECORD_GRACE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("status setup: STATUS_RECORD_GRACE %q is not a duration", v)
		}
		grace = d
		if grace == 0 {
			grace = -1
		}
	}
	backoff, err := queue.BackoffFromEnv(getenv, bridge.Backoff)
	if err != nil {
		return nil, fmt.Errorf("status setup: %w", err)
	}
	ddb := dynamodb.NewFromConfig(cfg, dynamoretry.Conflicts)
	sqsc := sqs.NewFromConfig(cfg)
	return &Handler{
		Deliveries: &delivery.Store{API: ddb, Table: env["MESSAGES_TABLE"], CampaignsTable: getenv("CAMPAIGNS_TABLE")},
		Windows:    window.Store{API: ddb, Table: env["STATE_TABLE"]},
		Limits:     &msglimit.Store{API: ddb, Table: env["STATE_TABLE"]},
		Numbers:    &tenant.Registry{API: ddb, Table: env["TENANTS_TABLE"]},
		Templates:  &catalog.Store{API: ddb, Table: env["TEMPLATES_TABLE"]},
		Core:       &bridge.Forwarder{Core: bridge.CoreClient(getenv, cfg), ConfirmPause: bridge.DefaultConfirmPause},
		Queue: queue.Consumer{
			API:      sqsc,
			QueueURL: env["STATUS_QUEUE_URL"],
			DLQURL:   env["STATUS_DLQ_URL"],
			// The bridge's: starts at 5 s, so a status that overtook the
			// sender's record is applied soon after it, and rides out a
			// core outage of hours (the queue's 60 receives).
			Backoff:       backoff,
			MaxRetryAfter: bridge.MaxRetryAfter,
			// Statuses of a standard queue: the batch's messages at once, so
			// a core answering in 100 ms costs a batch 100 ms, not a second;
			// one message's statuses one after another (Lane).
			Concurrency: bridge.DefaultConcurrency,
			Lane:        Lane,
		},
		Metrics:       &metrics.Recorder{Function: "status"},
		MetricTenants: &metrics.Bounded{Limit: metrics.DefaultLimit},
		RecordGrace:   grace,
	}, nil
}
