package manage

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/onboard"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/suppression"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// Publisher stores messages on a queue. An error means not every message
// was accepted; the whole publish may be repeated (FIFO deduplication ids
// make that safe).
type Publisher interface {
	Publish(ctx context.Context, queueURL string, msgs ...queue.Message) error
}

// Handler is the management API function. Its routes are listed in
// routes.go, one file per route group.
type Handler struct {
	Queue Publisher
	// OutboundQueueURL is the sender's FIFO queue (POST …/messages).
	OutboundQueueURL string
	// Presign signs media upload URLs into Bucket (the data bucket),
	// valid for UploadTTL (default DefaultUploadTTL) or until
	// Credentials, when set, expire.
	Presign     Presigner
	Bucket      string
	UploadTTL   time.Duration
	Credentials aws.CredentialsProvider
	// Templates is the template catalog (GET …/templates).
	Templates Catalog
	// TemplateLookup reads one catalog template, to check template jobs
	// (POST …/messages) as the sender does.
	TemplateLookup TemplateLookup
	Metrics        *metrics.Recorder
	Log            *slog.Logger
	Now            func() time.Time

	// Tenants, Secrets and Meta serve the routes that call Meta with the
	// tenant's own access token (numbers.go, profile.go, blocks.go).
	Tenants Registry
	Secrets Secrets
	Meta    Meta
	// Objects and Uploader carry a profile picture from the data bucket
	// to Meta (picture.go).
	Objects  Objects
	Uploader Uploader
	// Onboarding runs Embedded Signup onboardings (onboarding.go).
	Onboarding Onboarding
	// Campaigns and CampaignControl serve the campaign routes
	// (campaigns.go).
	Campaigns       Campaigns
	CampaignControl CampaignControl
	// Suppressions and OptOut serve the suppression list and opt-out
	// settings routes (suppressions.go).
	Suppressions Suppressions
	OptOut       OptOutSettings
}

// Setup builds the handler from the function's environment:
// OUTBOUND_QUEUE_URL, DATA_BUCKET, TEMPLATES_TABLE, TENANTS_TABLE, GRAPH_API_BASE_URL
// and GRAPH_API_VERSION (empty: Meta's), and optionally UPLOAD_URL_TTL (a Go
// duration such as 15m, at most MaxUploadTTL) and S3_USE_PATH_STYLE; for
// onboarding META_APP_SECRET, STATE_TABLE, CORE_EVENTS_QUEUE_URL,
// TENANT_SECRET_PREFIX and TENANT_WEBHOOK_SECRET_PREFIX; for campaigns
// CAMPAIGNS_TABLE and CAMPAIGN_QUEUE_URL; for the suppression lists
// SUPPRESSIONS_TABLE.
func Setup(ctx context.Context, getenv func(string) string, cfg aws.Config) (*Handler, error) {
	for _, k := range []string{"OUTBOUND_QUEUE_URL", "DATA_BUCKET", "TEMPLATES_TABLE", "TENANTS_TABLE",
		"META_APP_SECRET", "STATE_TABLE", "CORE_EVENTS_QUEUE_URL", "TENANT_SECRET_PREFIX", "TENANT_WEBHOOK_SECRET_PREFIX",
		"CAMPAIGNS_TABLE", "CAMPAIGN_QUEUE_URL", "SUPPRESSIONS_TABLE"} {
		if getenv(k) == "" {
			return nil, fmt.Errorf("api setup: %s is not set", k)
		}
	}
	ttl := DefaultUploadTTL
	if v := getenv("UPLOAD_URL_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute || d > MaxUploadTTL {
			return nil, fmt.Errorf("api setup: UPLOAD_URL_TTL %q is not a duration from 1m to %s", v, MaxUploadTTL)
		}
		ttl = d
	}
	rec := &metrics.Recorder{Function: "api"}
	meta := &graph.Client{BaseURL: getenv("GRAPH_API_BASE_URL"), Version: getenv("GRAPH_API_VERSION"), Metrics: rec}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = getenv("S3_USE_PATH_STYLE") == "true" })
	ddb := dynamodb.NewFromConfig(cfg)
	templates := &catalog.Store{API: ddb, Table: getenv("TEMPLATES_TABLE")}
	registry := &tenant.Registry{API: ddb, Table: getenv("TENANTS_TABLE")}
	sm := secretsmanager.NewFromConfig(cfg)
	sqsc := sqs.NewFromConfig(cfg)
	publisher := queue.Publisher{API: sqsc}
	return &Handler{
		Queue:            publisher,
		OutboundQueueURL: getenv("OUTBOUND_QUEUE_URL"),
		Presign:          s3.NewPresignClient(s3c),
		Bucket:           getenv("DATA_BUCKET"),
		UploadTTL:        ttl,
		Credentials:      cfg.Credentials,
		Templates:        templates,
		TemplateLookup:   templates,
		Tenants:          registry,
		Secrets:          &tenant.Vault{API: sm},
		Meta:             meta,
		Objects:          s3c,
		Uploader:         meta,
		Metrics:          rec,
		Campaigns:        &campaign.Store{API: ddb, Table: getenv("CAMPAIGNS_TABLE")},
		CampaignControl:  campaignControl(getenv, cfg, sqsc),
		Suppressions:     &suppression.Store{API: ddb, Table: getenv("SUPPRESSIONS_TABLE")},
		OptOut:           registry,
		Onboarding: &onboard.Onboarder{
			Meta: meta, Secrets: sm, MetaAppSecret: getenv("META_APP_SECRET"),
			SecretPrefix: getenv("TENANT_SECRET_PREFIX"), WebhookSecretPrefix: getenv("TENANT_WEBHOOK_SECRET_PREFIX"),
			Registry: registry, Catalog: &catalog.Syncer{Meta: meta, Templates: templates},
			States: &onboard.Store{API: ddb, Table: getenv("STATE_TABLE")},
			Events: publisher, EventsQueue: getenv("CORE_EVENTS_QUEUE_URL"),
		},
	}, nil
}

// Request is one authorized request as a route sees it.
type Request struct {
	// Tenant is the path's {tenant_id}, already checked against the
	// token; empty on routes without one.
	Tenant  string
	Path    map[string]string
	Query   map[string]string
	Headers map[string]string // lower-case names
	Body    []byte
	Claims  map[string]string
	Log     *slog.Logger
}

// Header returns a request header by name, in any case.
func (r *Request) Header(name string) string { return r.Headers[strings.ToLower(name)] }

// Route is one API route: Method and Path as the template declares them
// (the API Gateway route key is Method + " " + Path).
type Route struct {
	Method string
	Path   string
	Serve  func(ctx context.Context, r *Request) (Response, *Error)
}

// Key is the route's API Gateway route key.
func (rt Route) Key() string { return rt.Method + " " + rt.Path }

// MaxBodyBytes is the largest request body a route reads; a job over it
// could not be queued (SQS takes 256 KiB).
const MaxBodyBytes = 256 << 10

// Metric names.
const (
	MetricRequests = "ApiRequests" // by Route and Status class
	MetricLatency  = "ApiLatency"
)

// Handle serves one API Gateway (HTTP API, payload v2) request.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	start := time.Now()
	key := req.RouteKey
	if key == "" {
		key = req.RequestContext.RouteKey
	}
	resp := h.serve(ctx, key, req)
	h.Metrics.Count(MetricRequests, 1, "Route", key, "Status", fmt.Sprintf("%dxx", resp.StatusCode/100))
	h.Metrics.Emit(MetricLatency, float64(time.Since(start).Microseconds())/1000, metrics.Milliseconds)
	return resp, nil
}

func (h *Handler) serve(ctx context.Context, key string, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	rt, ok := h.route(key)
	if !ok {
		return failure(errorf(http.StatusNotFound, CodeNotFound, "no such route"))
	}
	log := h.log().With("route", key)
	claims := Claims(req)
	if claims == nil {
		// Only a route deployed without the authorizer gets here.
		log.ErrorContext(ctx, "request without token claims; is the route behind the JWT authorizer?")
		return failure(errorf(http.StatusUnauthorized, CodeUnauthorized, "no valid bearer token"))
	}
	r := &Request{Path: req.PathParameters, Query: req.QueryStringParameters, Headers: lower(req.Headers), Claims: claims}
	if strings.Contains(rt.Path, "{tenant_id}") {
		id := req.PathParameters["tenant_id"]
		if !tenant.ValidID(id) {
			return failure(errorf(http.StatusBadRequest, CodeInvalidTenant, "the path's tenant id is not a valid tenant id"))
		}
		log = log.With("tenant_id", id)
		if !mayActFor(claims, id) {
			log.WarnContext(ctx, "token does not grant the tenant", "client_id", claims["client_id"], "sub", claims["sub"])
			return failure(errorf(http.StatusForbidden, CodeForbiddenTenant, fmt.Sprintf("the token may not act for tenant %s", id)))
		}
		r.Tenant = id
	}
	if req.Body != "" {
		if ct := r.Header("Content-Type"); ct != "" && !isJSON(ct) {
			return failure(errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "send the body as application/json"))
		}
		body := []byte(req.Body)
		if req.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(req.Body)
			if err != nil {
				return failure(errorf(http.StatusBadRequest, CodeInvalidJSON, "the body could not be read"))
			}
			body = b
		}
		if len(body) > MaxBodyBytes {
			return failure(errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("the body is over %d bytes", MaxBodyBytes)))
		}
		r.Body = body
	}
	r.Log = log
	resp, e := rt.Serve(ctx, r)
	if e != nil {
		if e.Status >= 500 {
			log.ErrorContext(ctx, "request failed", "code", e.Code)
		}
		return failure(e)
	}
	return respond(resp)
}

// route finds the route of an API Gateway route key.
func (h *Handler) route(key string) (Route, bool) {
	for _, rt := range h.Routes() {
		if rt.Key() == key {
			return rt, true
		}
	}
	return Route{}, false
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

func lower(headers map[string]string) map[string]string {
	out := make(map[string]string, len(headers))
	for k, v := range headers {
		out[strings.ToLower(k)] = v
	}
	return out
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// campaignControl wakes campaigns through the campaign queue, and those
// due later than SQS can delay a message through one-time EventBridge
// Scheduler schedules when CAMPAIGN_SCHEDULE_GROUP is set (with
// CAMPAIGN_QUEUE_ARN, CAMPAIGN_SCHEDULER_ROLE_ARN and CAMPAIGN_DLQ_ARN).
func campaignControl(getenv func(string) string, cfg aws.Config, sqsc *sqs.Client) *campaign.Control {
	c := &campaign.Control{API: sqsc, QueueURL: getenv("CAMPAIGN_QUEUE_URL")}
	if group := getenv("CAMPAIGN_SCHEDULE_GROUP"); group != "" {
		c.Schedules = scheduler.NewFromConfig(cfg)
		c.ScheduleGroup, c.QueueARN = group, getenv("CAMPAIGN_QUEUE_ARN")
		c.RoleARN, c.DeadLetterARN = getenv("CAMPAIGN_SCHEDULER_ROLE_ARN"), getenv("CAMPAIGN_DLQ_ARN")
	}
	return c
}
