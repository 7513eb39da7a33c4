package sender

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/bridge"
	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/crashpoint"
	"github.com/tucanlink/wacloud/shared/delivery"
	"github.com/tucanlink/wacloud/shared/dynamoretry"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/identity"
	"github.com/tucanlink/wacloud/shared/media"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/msglimit"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/suppression"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/throttle"
	"github.com/tucanlink/wacloud/shared/window"
)

// EnvJobLease replaces DefaultLease for local runs (a Go duration): the
// crash test shortens the outbound queue's visibility timeout, and the
// lease must stay below it. The template does not set it.
const EnvJobLease = "WACLOUD_JOB_LEASE"

// Setup builds the handler from the function's environment:
// OUTBOUND_QUEUE_URL, OUTBOUND_DLQ_URL, CORE_EVENTS_QUEUE_URL,
// TENANTS_TABLE, STATE_TABLE, MESSAGES_TABLE, DATA_BUCKET (required),
// GRAPH_API_BASE_URL, GRAPH_API_VERSION, DEFAULT_THROUGHPUT, TEMPLATES_TABLE,
// SUPPRESSIONS_TABLE, CAMPAIGNS_TABLE (campaign messages are counted there),
// S3_USE_PATH_STYLE, and CORE_URL, CORE_EVENTS_PATH, CORE_SECRET_ID and
// CORE_PUSH_SLOW_MS (with CORE_URL, a batch's results are pushed straight
// to the core while it answers within CORE_PUSH_SLOW_MS milliseconds,
// default DefaultSlowPush, the rest going on the core events queue;
// without CORE_URL, or with CORE_PUSH_SLOW_MS 0, all go on the queue). Every call builds its own caches and limiter state,
// as a separate Lambda instance would have.
func Setup(ctx context.Context, getenv func(string) string, cfg aws.Config) (*Handler, error) {
	for _, k := range []string{"OUTBOUND_QUEUE_URL", "OUTBOUND_DLQ_URL", "CORE_EVENTS_QUEUE_URL",
		"TENANTS_TABLE", "STATE_TABLE", "MESSAGES_TABLE", "DATA_BUCKET"} {
		if getenv(k) == "" {
			return nil, fmt.Errorf("sender setup: %s is not set", k)
		}
	}
	throughput := tenant.DefaultThroughput
	if v := getenv("DEFAULT_THROUGHPUT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 1000 {
			return nil, fmt.Errorf("sender setup: DEFAULT_THROUGHPUT %q is not a number of messages per second (1-1000)", v)
		}
		throughput = n
	}
	var lease time.Duration
	if v := getenv(EnvJobLease); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("sender setup: %s %q is not a positive duration", EnvJobLease, v)
		}
		lease = d
	}
	resolver, err := media.NewOutboundResolver(getenv, cfg)
	if err != nil {
		return nil, fmt.Errorf("sender setup: %w", err)
	}
	slow := DefaultSlowPush
	if v := getenv("CORE_PUSH_SLOW_MS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 5000 {
			return nil, fmt.Errorf("sender setup: CORE_PUSH_SLOW_MS %q is not a number of milliseconds (0-5000)", v)
		}
		slow = time.Duration(n) * time.Millisecond
	}
	var coreClient CorePusher
	if getenv("CORE_URL") != "" && slow > 0 {
		if getenv("CORE_SECRET_ID") == "" {
			return nil, fmt.Errorf("sender setup: CORE_URL is set without CORE_SECRET_ID")
		}
		coreClient = &CoreBreaker{Core: bridge.CoreClient(getenv, cfg), Slow: slow}
	}
	rec := &metrics.Recorder{Function: "sender"}
	resolver.Graph.Metrics = rec
	ddb := dynamodb.NewFromConfig(cfg, dynamoretry.Conflicts)
	sq := sqs.NewFromConfig(cfg)
	state := getenv("STATE_TABLE")
	gc := &graph.Client{BaseURL: getenv("GRAPH_API_BASE_URL"), Version: getenv("GRAPH_API_VERSION"),
		HTTP: graph.NewHTTPClient(), Metrics: rec}
	windows := &windowCache{Store: window.Store{API: ddb, Table: state}}
	mappings := &identity.Store{API: ddb, Table: state}
	identities := &identityCache{Store: mappings}
	look := &Lookahead{API: ddb, StateTable: state, Identities: identities, Mappings: mappings, Windows: windows}
	var supp Suppressions
	if table := getenv("SUPPRESSIONS_TABLE"); table != "" {
		memo := &suppressionMemo{Store: &suppression.Store{API: ddb, Table: table}}
		look.SuppressionsTable, look.Suppressions, supp = table, memo, memo
	}
	return &Handler{
		Tenants:    &tenant.Registry{API: ddb, Table: getenv("TENANTS_TABLE")},
		Secrets:    &tenant.Vault{API: secretsmanager.NewFromConfig(cfg)},
		Windows:    windows,
		Identities: identities,
		Lookahead:  look,
		// Records of versions before job ids were scoped by tenant live
		// 15 days; looking for them costs no call of its own.
		Jobs:         &JobStore{API: ddb, Table: state, LegacyKeys: true, Lease: lease},
		Graph:        gc,
		PhoneNumbers: gc,
		Limits:       &msglimit.Store{API: ddb, Table: state},
		Deliveries:   &delivery.Store{API: ddb, Table: getenv("MESSAGES_TABLE"), CampaignsTable: getenv("CAMPAIGNS_TABLE")},
		Media:        resolver,
		Templates:    templates(ddb, getenv("TEMPLATES_TABLE")),
		Suppressions: supp,
		Numbers:      &throttle.Limiter{API: ddb, Table: state, Sleep: pacingSleep()},
		Outages:      &OutageStore{API: ddb, Table: state},
		Pairs:        &throttle.Pair{API: ddb, Table: state},
		Events:       queue.Publisher{API: sq},
		Core:         coreClient,
		Consumer: queue.Consumer{
			API:      sq,
			QueueURL: getenv("OUTBOUND_QUEUE_URL"),
			DLQURL:   getenv("OUTBOUND_DLQ_URL"),
			Backoff:  queue.Exponential(2*time.Second, 5*time.Minute),
			// A FIFO batch holds at most 10 records: every recipient in it
			// can be paced and sent at once.
			Concurrency: DefaultConcurrency,
			// A job started runs its pacing waits (DefaultMaxInlineWait),
			// Graph's timeout (20 s) and its records.
			Margin: DefaultMargin,
		},
		CoreEventsQueueURL: getenv("CORE_EVENTS_QUEUE_URL"),
		CampaignsTable:     getenv("CAMPAIGNS_TABLE"),
		DefaultThroughput:  throughput,
		Metrics:            rec,
	}, nil
}

// templates is the template catalog behind the instance's cache; without
// TEMPLATES_TABLE template jobs go to Meta unchecked.
func templates(ddb *dynamodb.Client, table string) TemplateCatalog {
	if table == "" {
		return nil
	}
	return &templateCache{Store: &catalog.Store{API: ddb, Table: table}}
}

// pacingSleep is the number limiter's sleep: its own unless the crash
// point sender.while_waiting is armed (shared/crashpoint).
func pacingSleep() func(ctx context.Context, d time.Duration) error {
	if !crashpoint.Armed("sender.while_waiting") {
		return nil
	}
	return func(ctx context.Context, d time.Duration) error {
		crashpoint.Hit("sender.while_waiting")
		return throttle.SleepContext(ctx, d)
	}
}
