package campaign

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/dynamoretry"
	"github.com/tucanlink/wacloud/shared/msglimit"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/suppression"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// CapacityStateTTL is how long the runner trusts the portfolio's tier it
// read: a tier the sender learns from Meta on the campaign's first sends
// (often unlimited, which lets rows reserve at once) is seen within it.
const CapacityStateTTL = 10 * time.Second

// Setup builds the runner (CampaignFunction) from its environment:
// CAMPAIGNS_TABLE, CAMPAIGN_QUEUE_URL, OUTBOUND_QUEUE_URL, DATA_BUCKET,
// STATE_TABLE (recipient claims and the messaging-limit counts),
// TENANTS_TABLE, TEMPLATES_TABLE, SUPPRESSIONS_TABLE and
// CORE_EVENTS_QUEUE_URL; optionally CAMPAIGN_MARGIN (a Go duration: how
// long before the deadline a run hands over), CAMPAIGN_AHEAD (a Go
// duration, Runner.Ahead: default DefaultAhead, 0 feeds at the number's
// nominal rate alone), WACLOUD_RETRY_BACKOFF
// (local runs: queue.EnvBackoff) and S3_USE_PATH_STYLE.
func Setup(ctx context.Context, getenv func(string) string, cfg aws.Config) (*Runner, error) {
	for _, k := range []string{"CAMPAIGNS_TABLE", "CAMPAIGN_QUEUE_URL", "OUTBOUND_QUEUE_URL", "DATA_BUCKET", "STATE_TABLE",
		"TENANTS_TABLE", "TEMPLATES_TABLE", "SUPPRESSIONS_TABLE", "CORE_EVENTS_QUEUE_URL"} {
		if getenv(k) == "" {
			return nil, fmt.Errorf("campaign setup: %s is not set", k)
		}
	}
	margin := DefaultMargin
	if v := getenv("CAMPAIGN_MARGIN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return nil, fmt.Errorf("campaign setup: CAMPAIGN_MARGIN %q is not a duration of 1s or more", v)
		}
		margin = d
	}
	ahead := DefaultAhead
	if v := getenv("CAMPAIGN_AHEAD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("campaign setup: CAMPAIGN_AHEAD %q is not a duration of 0s or more", v)
		}
		ahead = d
	}
	backoff, err := queue.BackoffFromEnv(getenv, DefaultBackoff)
	if err != nil {
		return nil, fmt.Errorf("campaign setup: %w", err)
	}
	ddb := dynamodb.NewFromConfig(cfg, dynamoretry.Conflicts)
	sqsc := sqs.NewFromConfig(cfg)
	pub := queue.Publisher{API: sqsc}
	return &Runner{
		Records:      &Store{API: ddb, Table: getenv("CAMPAIGNS_TABLE")},
		Objects:      s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = getenv("S3_USE_PATH_STYLE") == "true" }),
		Bucket:       getenv("DATA_BUCKET"),
		Jobs:         pub,
		OutboundURL:  getenv("OUTBOUND_QUEUE_URL"),
		Wake:         &Control{API: sqsc, QueueURL: getenv("CAMPAIGN_QUEUE_URL")},
		Numbers:      &tenant.Registry{API: ddb, Table: getenv("TENANTS_TABLE")},
		Templates:    &catalog.Store{API: ddb, Table: getenv("TEMPLATES_TABLE")},
		Recipients:   &Claims{API: ddb, Table: getenv("STATE_TABLE")},
		Suppressions: &suppression.Store{API: ddb, Table: getenv("SUPPRESSIONS_TABLE")},
		Capacity:     &msglimit.Store{API: ddb, Table: getenv("STATE_TABLE"), StateTTL: CapacityStateTTL},
		Events:       &Events{Queue: pub, QueueURL: getenv("CORE_EVENTS_QUEUE_URL")},
		Margin:       margin,
		Ahead:        ahead,
		Waiting:      &QueueWaiting{API: sqsc, QueueURL: getenv("OUTBOUND_QUEUE_URL")},
		Visibility:   sqsc,
		QueueURL:     getenv("CAMPAIGN_QUEUE_URL"),
		Backoff:      backoff,
	}, nil
}
