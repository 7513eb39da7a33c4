package tokenhealth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/sender"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// Scheduled is what the scheduled templates function runs: the template
// catalog sync and the token check, at once. Each runs whatever the other
// does (an expired token fails both); the invocation fails if either did.
type Scheduled struct {
	Catalog *catalog.Handler
	Tokens  *Checker
	// Log and Metrics, when set, are the two parts' (both count under
	// Function=templates).
	Log     *slog.Logger
	Metrics *metrics.Recorder
}

// Handle runs one scheduled invocation.
func (s *Scheduled) Handle(ctx context.Context, ev events.EventBridgeEvent) error {
	if s.Log != nil {
		s.Catalog.Log, s.Tokens.Log = s.Log, s.Log
	}
	// Independent of each other: both at once (each reads a tenant's
	// secret once; the vault shares a read in flight).
	var syncErr, checkErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		syncErr = s.Catalog.Handle(ctx, ev)
	}()
	_, checkErr = s.Tokens.Check(ctx)
	wg.Wait()
	return errors.Join(syncErr, checkErr)
}

// Setup builds the scheduled function from its environment: catalog.Setup's,
// plus META_APP_SECRET (the platform's Meta app secret), STATE_TABLE and
// CORE_EVENTS_QUEUE_URL (required) and TOKEN_EXPIRY_WARNING_DAYS (optional,
// default 7: warn that many days before a token expires).
func Setup(ctx context.Context, getenv func(string) string, cfg aws.Config) (*Scheduled, error) {
	cat, err := catalog.Setup(ctx, getenv, cfg)
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"META_APP_SECRET", "STATE_TABLE", "CORE_EVENTS_QUEUE_URL"} {
		if getenv(k) == "" {
			return nil, fmt.Errorf("templates setup: %s is not set", k)
		}
	}
	warn := DefaultWarnBefore
	if v := getenv("TOKEN_EXPIRY_WARNING_DAYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 60 {
			return nil, fmt.Errorf("templates setup: TOKEN_EXPIRY_WARNING_DAYS %q is not a number of days from 1 to 60", v)
		}
		warn = time.Duration(n) * 24 * time.Hour
	}
	ddb := dynamodb.NewFromConfig(cfg)
	return &Scheduled{
		Catalog: cat,
		Metrics: cat.Metrics,
		Tokens: &Checker{
			Tenants:     &tenant.Registry{API: ddb, Table: getenv("TENANTS_TABLE")},
			Secrets:     &tenant.Vault{API: secretsmanager.NewFromConfig(cfg)},
			AppSecretID: getenv("META_APP_SECRET"),
			Meta:        &graph.Client{BaseURL: getenv("GRAPH_API_BASE_URL"), Version: getenv("GRAPH_API_VERSION"), Metrics: cat.Metrics},
			Warnings:    &WarnStore{API: ddb, Table: getenv("STATE_TABLE")},
			Outages:     &sender.OutageStore{API: ddb, Table: getenv("STATE_TABLE")},
			Events:      queue.Publisher{API: sqs.NewFromConfig(cfg)},
			EventsQueue: getenv("CORE_EVENTS_QUEUE_URL"),
			WarnBefore:  warn,
			Metrics:     cat.Metrics,
		},
	}, nil
}
