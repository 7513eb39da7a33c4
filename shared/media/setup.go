package media

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// Setup builds the media function from its environment:
// TENANTS_TABLE, DATA_BUCKET, CORE_EVENTS_QUEUE_URL, MEDIA_QUEUE_URL and
// MEDIA_DLQ_URL (required); GRAPH_API_BASE_URL, GRAPH_API_VERSION,
// GRAPH_MEDIA_HOSTS (comma-separated domains the token may be sent to for
// downloads, default graph.DefaultMediaHosts), S3_USE_PATH_STYLE, MEDIA_URL_TTL (Go duration such as "24h", or seconds;
// default and maximum 7 days) and MEDIA_MAX_ATTEMPTS (default 6, below the
// queue's maxReceiveCount of 8).
func Setup(ctx context.Context, getenv func(string) string, cfg aws.Config) (*Handler, error) {
	env, err := require(getenv, "TENANTS_TABLE", "DATA_BUCKET", "CORE_EVENTS_QUEUE_URL", "MEDIA_QUEUE_URL", "MEDIA_DLQ_URL")
	if err != nil {
		return nil, fmt.Errorf("media setup: %w", err)
	}
	ttl, err := durationEnv(getenv, "MEDIA_URL_TTL", DefaultURLTTL)
	if err != nil {
		return nil, fmt.Errorf("media setup: %w", err)
	}
	if ttl > maxURLTTL {
		return nil, fmt.Errorf("media setup: MEDIA_URL_TTL %s exceeds SigV4's 7 days", ttl)
	}
	attempts := DefaultMaxAttempts
	if v := getenv("MEDIA_MAX_ATTEMPTS"); v != "" {
		if attempts, err = strconv.Atoi(v); err != nil || attempts < 1 || attempts >= 8 {
			return nil, fmt.Errorf("media setup: MEDIA_MAX_ATTEMPTS %q must be 1..7 (below maxReceiveCount 8)", v)
		}
	}
	hosts, err := mediaHosts(getenv("GRAPH_MEDIA_HOSTS"))
	if err != nil {
		return nil, fmt.Errorf("media setup: %w", err)
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = getenv("S3_USE_PATH_STYLE") == "true" })
	sqsc := sqs.NewFromConfig(cfg)
	rec := &metrics.Recorder{Function: "media"}
	return &Handler{
		Registry: &tenant.Registry{API: dynamodb.NewFromConfig(cfg), Table: env["TENANTS_TABLE"]},
		Vault:    &tenant.Vault{API: secretsmanager.NewFromConfig(cfg)},
		// HTTP left nil: Graph calls get the client's 20-second timeout, while
		// downloads (up to 100 MB) are bounded by the invocation's deadline.
		Graph:         &graph.Client{BaseURL: getenv("GRAPH_API_BASE_URL"), Version: getenv("GRAPH_API_VERSION"), MediaHosts: hosts, Metrics: rec},
		S3:            s3c,
		Presign:       s3.NewPresignClient(s3c),
		SQS:           sqsc,
		Bucket:        env["DATA_BUCKET"],
		CoreEventsURL: env["CORE_EVENTS_QUEUE_URL"],
		QueueURL:      env["MEDIA_QUEUE_URL"],
		DLQURL:        env["MEDIA_DLQ_URL"],
		URLTTL:        ttl,
		Credentials:   cfg.Credentials,
		MaxAttempts:   attempts,
		Metrics:       rec,
	}, nil
}

// mediaHosts parses GRAPH_MEDIA_HOSTS: domain names, comma-separated; empty
// means graph.DefaultMediaHosts.
func mediaHosts(v string) ([]string, error) {
	var hosts []string
	for _, h := range strings.Split(v, ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		if strings.Trim(h, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" || !strings.Contains(strings.Trim(h, "."), ".") {
			return nil, fmt.Errorf("GRAPH_MEDIA_HOSTS: %q is not a domain name", h)
		}
		hosts = append(hosts, strings.Trim(h, "."))
	}
	return hosts, nil
}

func require(getenv func(string) string, keys ...string) (map[string]string, error) {
	env := map[string]string{}
	var missing []string
	for _, k := range keys {
		if v := getenv(k); v != "" {
			env[k] = v
		} else {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing environment: %s", strings.Join(missing, ", "))
	}
	return env, nil
}

func durationEnv(getenv func(string) string, key string, def time.Duration) (time.Duration, error) {
	v := getenv(key)
	if v == "" {
		return def, nil
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s %q is not a positive duration", key, v)
	}
	return d, nil
}

// NewOutboundResolver builds the resolver the sender uses, from DATA_BUCKET
// and STATE_TABLE (required), GRAPH_API_BASE_URL, GRAPH_API_VERSION,
// S3_USE_PATH_STYLE and MEDIA_LINK_TTL (default 1 hour).
func NewOutboundResolver(getenv func(string) string, cfg aws.Config) (*OutboundResolver, error) {
	env, err := require(getenv, "DATA_BUCKET", "STATE_TABLE")
	if err != nil {
		return nil, fmt.Errorf("media resolver setup: %w", err)
	}
	ttl, err := durationEnv(getenv, "MEDIA_LINK_TTL", DefaultLinkTTL)
	if err != nil {
		return nil, fmt.Errorf("media resolver setup: %w", err)
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = getenv("S3_USE_PATH_STYLE") == "true" })
	return &OutboundResolver{
		S3:         s3c,
		Presign:    s3.NewPresignClient(s3c),
		Cache:      dynamodb.NewFromConfig(cfg),
		Graph:      &graph.Client{BaseURL: getenv("GRAPH_API_BASE_URL"), Version: getenv("GRAPH_API_VERSION")},
		Bucket:     env["DATA_BUCKET"],
		StateTable: env["STATE_TABLE"],
		LinkTTL:    ttl,
	}, nil
}
