// Package webhook is the WebhookFunction: the HTTP endpoint Meta calls.
//
// GET answers Meta's subscription check. POST verifies X-Hub-Signature-256
// over the exact raw body, splits the payload into units and stores all of
// them before answering 200 (message statuses on the status queue, every
// other unit on the inbound FIFO queue); if a store fails it answers 500
// so Meta retries. The only AWS calls
// on this path are the (cached) secret and registry reads and the
// SendMessageBatch calls: no dedup lookups, nothing per message. Signed
// bodies that are not WhatsApp payloads are parked in S3 and answered 200,
// so Meta does not retry garbage for a week.
//
// Routes: /webhook for the platform's Meta app, /webhook/{tenant_id} for a
// tenant with its own Meta app (its own app secret and verify token).
//
// An unauthenticated caller cannot tell a tenant route that exists from one
// that does not: an unknown, disabled or malformed tenant id is refused
// exactly as a known route with a wrong signature (POST: 401 "invalid
// signature") or a wrong verify token (GET: 403 "forbidden"). Looking an id
// up costs one cached registry read; ids that cannot be tenant ids cost
// none, and reads of ids not seen before are bounded per instance
// (RouteLookupsPerSecond, RouteLookupBurst): past the budget an unseen id
// is refused the same way without a read, and Meta, which retries any
// answer but 200, delivers once the budget refills.
//
// The webhook reads webhook-side secrets only (app secret and verify token:
// PLATFORM_WEBHOOK_SECRET_ID, TENANT_WEBHOOK_SECRET_PREFIX{tenant_id}); its
// IAM role cannot read the sending secrets that hold access tokens.
package webhook

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/parking"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// Tenants finds a tenant of the /webhook/{tenant_id} route.
// Errors wrap tenant.ErrNotFound for an unknown tenant and tenant.ErrBusy
// for a lookup refused, unread, to bound the reads of unseen ids.
type Tenants interface {
	Tenant(ctx context.Context, id string) (tenant.Tenant, error)
}

// Secrets reads a Meta app's webhook-side secret (cached by the
// implementation); *tenant.Vault satisfies it. Errors wrap
// tenant.ErrNotFound for a missing secret and never contain its value.
// Invalidate drops a cached copy.
type Secrets interface {
	AppCredentials(ctx context.Context, secretID string) (tenant.AppCredentials, error)
	Invalidate(secretID string)
}

// Publisher stores units on the inbound queue. An error means not every
// message was accepted; the whole publish may be repeated.
type Publisher interface {
	Publish(ctx context.Context, queueURL string, msgs ...queue.Message) error
}

// Parker keeps a payload that cannot be processed.
type Parker interface {
	Park(ctx context.Context, reason string, body []byte, m parking.Meta) (string, error)
}

// Handler is the webhook function.
type Handler struct {
	Tenants         Tenants
	Secrets         Secrets
	Queue           Publisher
	Parking         Parker
	InboundQueueURL string
	// StatusQueueURL, when set, takes the message status units straight
	// to the status function, which resolves their tenant itself: a
	// status then costs no inbound queue hop and no dedup claim (applying
	// a status is idempotent). Empty: every unit goes to the inbound queue.
	StatusQueueURL string
	// PlatformSecretID is the platform app's webhook-side secret.
	PlatformSecretID string
	// TenantSecretPrefix names a tenant's webhook-side secret:
	// TenantSecretPrefix + tenant id.
	TenantSecretPrefix string
	MaxBodyBytes       int
	Metrics            *metrics.Recorder
	Log                *slog.Logger
	Now                func() time.Time
}

// DefaultMaxBodyBytes applies when MAX_BODY_BYTES is unset: Meta's largest
// webhook payload (3 MiB). A signed body over it is parked whole
// (parking.ReasonBodyTooLarge) and answered 200.
const DefaultMaxBodyBytes = 3 << 20

// The per-instance budget of registry reads for tenant ids the instance
// has not seen exist. Only tenants with their own Meta app use the route,
// so a cold instance learns them well within the burst.
const (
	RouteLookupsPerSecond = 10
	RouteLookupBurst      = 100
)

// Setup builds the handler from the function's environment: INBOUND_QUEUE_URL,
// STATUS_QUEUE_URL (optional), PLATFORM_WEBHOOK_SECRET_ID, TENANT_WEBHOOK_SECRET_PREFIX, TENANTS_TABLE,
// DATA_BUCKET, MAX_BODY_BYTES and S3_USE_PATH_STYLE.
func Setup(ctx context.Context, getenv func(string) string, cfg aws.Config) (*Handler, error) {
	for _, k := range []string{"INBOUND_QUEUE_URL", "PLATFORM_WEBHOOK_SECRET_ID", "TENANT_WEBHOOK_SECRET_PREFIX", "TENANTS_TABLE", "DATA_BUCKET"} {
		if getenv(k) == "" {
			return nil, fmt.Errorf("webhook setup: %s is not set", k)
		}
	}
	maxBody := DefaultMaxBodyBytes
	if v := getenv("MAX_BODY_BYTES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("webhook setup: MAX_BODY_BYTES %q is not a positive number", v)
		}
		maxBody = n
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = getenv("S3_USE_PATH_STYLE") == "true" })
	h := &Handler{
		Secrets:            &tenant.Vault{API: secretsmanager.NewFromConfig(cfg)},
		Queue:              queue.Publisher{API: sqs.NewFromConfig(cfg)},
		Parking:            parking.Store{API: s3c, Bucket: getenv("DATA_BUCKET")},
		InboundQueueURL:    getenv("INBOUND_QUEUE_URL"),
		StatusQueueURL:     getenv("STATUS_QUEUE_URL"),
		PlatformSecretID:   getenv("PLATFORM_WEBHOOK_SECRET_ID"),
		TenantSecretPrefix: getenv("TENANT_WEBHOOK_SECRET_PREFIX"),
		MaxBodyBytes:       maxBody,
		Metrics:            &metrics.Recorder{Function: "webhook"},
	}
	h.Tenants = &tenant.Registry{API: dynamodb.NewFromConfig(cfg), Table: getenv("TENANTS_TABLE"), Now: h.now,
		Unknown: &tenant.LookupBudget{PerSecond: RouteLookupsPerSecond, Burst: RouteLookupBurst}}
	return h, nil
}

// Metric names.
const (
	MetricAccepted        = "WebhookAccepted"
	MetricUnits           = "WebhookUnits"
	MetricSignatureFailed = "WebhookSignatureRejected"
	MetricParked          = "WebhookParked"
	MetricStoreFailed     = "WebhookStoreFailed"
	MetricVerifyRejected  = "WebhookVerifyRejected"
	MetricTooLarge        = "WebhookTooLarge"
	MetricLatency         = "WebhookLatency"
	// MetricRouteRefused counts requests to a tenant route that is
	// unknown, disabled or malformed, or whose lookup the budget refused
	// (dimension Reason).
	MetricRouteRefused     = "WebhookRouteRefused"
	headerSignatureLowered = "x-hub-signature-256"
)

// Handle serves one API Gateway (HTTP API, payload v2) request.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	start := time.Now()
	defer func() {
		h.Metrics.Emit(MetricLatency, float64(time.Since(start).Microseconds())/1000, metrics.Milliseconds)
	}()

	method := strings.ToUpper(req.RequestContext.HTTP.Method)
	rt, ok := parseRoute(req)
	if !ok {
		return text(http.StatusNotFound, "not found"), nil
	}
	log := h.log().With("route", rt.name)
	if rt.tenant != "" && !rt.malformed {
		log = log.With("tenant_id", rt.tenant)
	}
	if method != http.MethodGet && method != http.MethodPost {
		return text(http.StatusMethodNotAllowed, "method not allowed"), nil
	}
	var body []byte
	if method == http.MethodPost {
		// Decoded before any lookup, so a bad encoding answers the same on
		// every route.
		b, status := h.rawBody(req)
		if status != 0 {
			return text(status, http.StatusText(status)), nil
		}
		body = b
	}

	secretID, status := h.secretOf(ctx, rt, log)
	if status == statusRefused {
		return refuse(method), nil
	}
	if status != 0 {
		return text(status, http.StatusText(status)), nil
	}
	creds, err := h.Secrets.AppCredentials(ctx, secretID)
	if err != nil {
		// Without the secret nothing can be verified; 500 makes Meta retry.
		log.ErrorContext(ctx, "read app credentials", "error", err.Error())
		return text(http.StatusInternalServerError, "temporarily unavailable"), nil
	}
	if method == http.MethodPost && creds.AppSecret == "" {
		// Not set yet (a new stack, or one whose secrets are being
		// migrated): no signature can be checked, but Meta's retries will
		// deliver once it is, which the next request reads afresh.
		h.Secrets.Invalidate(secretID)
		log.ErrorContext(ctx, "app secret not set", "secret_id", secretID)
		return text(http.StatusInternalServerError, "temporarily unavailable"), nil
	}

	if method == http.MethodGet {
		return h.verify(ctx, req, creds, log), nil
	}
	return h.receive(ctx, req, body, rt, creds, log), nil
}

// The answers to a caller that failed to authenticate, the same whether
// the route exists or not.
func refusedPost() events.APIGatewayV2HTTPResponse {
	return text(http.StatusUnauthorized, "invalid signature")
}

func refusedGet() events.APIGatewayV2HTTPResponse {
	return text(http.StatusForbidden, "forbidden")
}

// refuse answers a request to a tenant route that cannot be served as a
// failed authentication would.
func refuse(method string) events.APIGatewayV2HTTPResponse {
	if method == http.MethodGet {
		return refusedGet()
	}
	return refusedPost()
}

// verifyRefusal says why a subscription check fails, or "" when it
// passes. The reason names facts, never the tokens.
func verifyRefusal(mode, token, want string) string {
	switch {
	case mode != "subscribe":
		return "hub.mode is not subscribe"
	case want == "":
		return "no verify token is set for this route"
	case token == "":
		return "no hub.verify_token given"
	case subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1:
		return "hub.verify_token does not match"
	}
	return ""
}

// verify answers Meta's subscription check.
func (h *Handler) verify(ctx context.Context, req events.APIGatewayV2HTTPRequest, creds tenant.AppCredentials, log *slog.Logger) events.APIGatewayV2HTTPResponse {
	q := req.QueryStringParameters
	token := q["hub.verify_token"]
	if reason := verifyRefusal(q["hub.mode"], token, creds.VerifyToken); reason != "" {
		h.Metrics.Count(MetricVerifyRejected, 1)
		log.WarnContext(ctx, "webhook verification rejected", "reason", reason, "mode", q["hub.mode"])
		return refusedGet()
	}
	return text(http.StatusOK, q["hub.challenge"])
}

func (h *Handler) receive(ctx context.Context, req events.APIGatewayV2HTTPRequest, body []byte, rt route, creds tenant.AppCredentials, log *slog.Logger) events.APIGatewayV2HTTPResponse {
	if !whatsapp.VerifySignature(creds.AppSecret, body, header(req.Headers, headerSignatureLowered)) {
		h.Metrics.Count(MetricSignatureFailed, 1)
		log.WarnContext(ctx, "webhook signature rejected", "signature_present", header(req.Headers, headerSignatureLowered) != "", "body_bytes", len(body))
		return refusedPost()
	}

	receivedAt := h.now().UTC().Format(time.RFC3339Nano)
	if len(body) > h.maxBody() {
		// Signed by Meta but larger than any payload Meta documents: a 413
		// would be retried for days and then lost. It is kept whole for an
		// operator (wacloudctl parked replay), and the alarm says so.
		h.Metrics.Count(MetricTooLarge, 1)
		key, err := h.Parking.Park(ctx, parking.ReasonBodyTooLarge, body, parking.Meta{Route: rt.name, RouteTenant: rt.tenant, ReceivedAt: receivedAt})
		if err != nil {
			log.ErrorContext(ctx, "park webhook payload", "reason", parking.ReasonBodyTooLarge, "error", err.Error())
			h.Metrics.Count(MetricStoreFailed, 1)
			return text(http.StatusInternalServerError, "temporarily unavailable")
		}
		h.Metrics.Count(MetricParked, 1, "Reason", parking.ReasonBodyTooLarge)
		log.WarnContext(ctx, "webhook payload parked", "reason", parking.ReasonBodyTooLarge, "key", key, "body_bytes", len(body), "limit_bytes", h.maxBody())
		return text(http.StatusOK, "ok")
	}
	units, err := whatsapp.Split(body)
	if err != nil {
		reason := parking.ReasonUnparseable
		if errors.Is(err, whatsapp.ErrNotWhatsApp) {
			reason = parking.ReasonNotWhatsApp
		}
		key, perr := h.Parking.Park(ctx, reason, body, parking.Meta{Route: rt.name, RouteTenant: rt.tenant, ReceivedAt: receivedAt})
		if perr != nil {
			log.ErrorContext(ctx, "park webhook payload", "reason", reason, "error", perr.Error())
			h.Metrics.Count(MetricStoreFailed, 1)
			return text(http.StatusInternalServerError, "temporarily unavailable")
		}
		h.Metrics.Count(MetricParked, 1, "Reason", reason)
		log.WarnContext(ctx, "webhook payload parked", "reason", reason, "key", key)
		return text(http.StatusOK, "ok")
	}

	msgs := make([]queue.Message, 0, len(units))
	var statuses []queue.Message
	for i := range units {
		u := &units[i]
		u.Route, u.RouteTenant, u.ReceivedAt = rt.name, rt.tenant, receivedAt
		m, err := message(*u)
		if err != nil {
			// Split just produced the unit, so this cannot fail on a
			// payload that parsed; treat it as a store failure.
			log.ErrorContext(ctx, "encode unit", "error", err.Error())
			return text(http.StatusInternalServerError, "temporarily unavailable")
		}
		if queue.TooLarge(m) {
			// SQS would refuse it on every retry of Meta's, and with it
			// the payload's other units: keep it for an operator instead.
			key, err := h.Parking.Park(ctx, parking.ReasonTooLarge, []byte(m.Body), parking.Meta{Route: rt.name, RouteTenant: rt.tenant,
				PhoneNumberID: u.Metadata.PhoneNumberID, WABAID: u.WABAID, ReceivedAt: receivedAt})
			if err != nil {
				log.ErrorContext(ctx, "park webhook unit", "reason", parking.ReasonTooLarge, "error", err.Error())
				h.Metrics.Count(MetricStoreFailed, 1)
				return text(http.StatusInternalServerError, "temporarily unavailable")
			}
			h.Metrics.Count(MetricParked, 1, "Reason", parking.ReasonTooLarge)
			log.WarnContext(ctx, "webhook unit parked", "reason", parking.ReasonTooLarge, "key", key, "kind", u.Kind, "field", u.Field, "unit_bytes", len(m.Body))
			continue
		}
		if h.StatusQueueURL != "" && u.Kind == whatsapp.KindStatus {
			// The business number is the status's tenant on the fair
			// standard queue: one number's campaign receipts do not hold
			// another company's back.
			m.Tenant = cmp.Or(u.Metadata.PhoneNumberID, u.WABAID)
			statuses = append(statuses, m)
			continue
		}
		msgs = append(msgs, m)
	}
	// Both stores before the answer: a failure of either makes Meta
	// retry the whole payload, which the inbound dedup and the status
	// function's forward-only records make harmless.
	for _, q := range []struct {
		url  string
		msgs []queue.Message
	}{{h.InboundQueueURL, msgs}, {h.StatusQueueURL, statuses}} {
		if len(q.msgs) == 0 {
			continue
		}
		if err := h.Queue.Publish(ctx, q.url, q.msgs...); err != nil {
			h.Metrics.Count(MetricStoreFailed, 1)
			log.ErrorContext(ctx, "store webhook units", "units", len(q.msgs), "error", err.Error())
			return text(http.StatusInternalServerError, "temporarily unavailable")
		}
	}
	h.Metrics.Count(MetricAccepted, 1)
	h.Metrics.Count(MetricUnits, float64(len(msgs)+len(statuses)))
	log.InfoContext(ctx, "webhook accepted", "units", len(msgs)+len(statuses), "statuses", len(statuses), "waba_id", units[0].WABAID, "phone_number_id", units[0].Metadata.PhoneNumberID)
	return text(http.StatusOK, "ok")
}

// message wraps a unit for the inbound queue. The dedup id covers what
// identifies the unit, not when or where in a payload it arrived, so
// concurrent copies of one delivery collapse in SQS.
func message(u whatsapp.Unit) (queue.Message, error) {
	body, err := json.Marshal(u)
	if err != nil {
		return queue.Message{}, fmt.Errorf("encode unit %d: %w", u.Seq, err)
	}
	id := u
	id.ReceivedAt, id.Seq = "", 0
	idb, err := json.Marshal(id)
	if err != nil {
		return queue.Message{}, fmt.Errorf("encode unit %d: %w", u.Seq, err)
	}
	sum := sha256.Sum256(idb)
	return queue.Message{Body: string(body), GroupID: u.OrderKey(), DedupID: hex.EncodeToString(sum[:])}, nil
}

// statusRefused is secretOf's answer for a tenant route that cannot be
// served: refuse answers it as a failed authentication.
const statusRefused = -1

// Reasons of MetricRouteRefused.
const (
	refusedMalformed = "malformed"
	refusedUnknown   = "unknown"
	refusedDisabled  = "disabled"
	refusedBusy      = "lookup_budget"
)

// secretOf returns the webhook-side secret id of the route's Meta app,
// statusRefused for a tenant route that cannot be served, or an HTTP
// status for a failure of ours.
func (h *Handler) secretOf(ctx context.Context, rt route, log *slog.Logger) (string, int) {
	if rt.name == whatsapp.RoutePlatform {
		return h.PlatformSecretID, 0
	}
	reason := refusedMalformed
	if !rt.malformed {
		t, err := h.Tenants.Tenant(ctx, rt.tenant)
		switch {
		case errors.Is(err, tenant.ErrNotFound):
			reason = refusedUnknown
		case errors.Is(err, tenant.ErrBusy):
			reason = refusedBusy
		case err != nil:
			log.ErrorContext(ctx, "look up tenant", "error", err.Error())
			return "", http.StatusInternalServerError
		case t.Status == tenant.StatusDisabled:
			reason = refusedDisabled
		default:
			reason = ""
		}
	}
	if reason != "" {
		h.Metrics.Count(MetricRouteRefused, 1, "Reason", reason)
		log.WarnContext(ctx, "webhook tenant route refused", "reason", reason)
		return "", statusRefused
	}
	// The id passed tenant.ValidID, so the name stays under the prefix.
	return h.TenantSecretPrefix + rt.tenant, 0
}

// rawBody returns the exact bytes Meta sent, or a status refusing them. A
// body over MaxBodyBytes is returned too: it is parked once its signature
// is checked. (API Gateway and Lambda bound what arrives: 6 MB in all.)
func (h *Handler) rawBody(req events.APIGatewayV2HTTPRequest) ([]byte, int) {
	if !req.IsBase64Encoded {
		return []byte(req.Body), 0
	}
	b, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil {
		return nil, http.StatusBadRequest
	}
	return b, 0
}

type route struct {
	name   string // whatsapp.RoutePlatform or whatsapp.RouteTenant
	tenant string
	// malformed: the tenant route's id breaks the tenant id rule, so no
	// tenant has it and it is never looked up.
	malformed bool
}

// parseRoute names the route API Gateway matched, from its route key
// ("POST /webhook", "GET /webhook/{tenant_id}"): the raw path also carries a
// named stage ("/live/webhook") or a custom domain's base path, so it cannot
// tell the routes apart. Only an event without a route key (a front that is
// not API Gateway) is routed by its path.
func parseRoute(req events.APIGatewayV2HTTPRequest) (route, bool) {
	key := req.RouteKey
	if key == "" {
		key = req.RequestContext.RouteKey
	}
	if key == "" {
		return routeOfPath(req)
	}
	_, path, _ := strings.Cut(key, " ")
	switch path {
	case routePlatform:
		return route{name: whatsapp.RoutePlatform}, true
	case routeTenant:
		id := req.PathParameters["tenant_id"]
		return route{name: whatsapp.RouteTenant, tenant: id, malformed: !tenant.ValidID(id)}, true
	}
	return route{}, false
}

// The template's route paths.
const (
	routePlatform = "/webhook"
	routeTenant   = "/webhook/{tenant_id}"
)

// routeOfPath routes an event that carries no route key by its path.
func routeOfPath(req events.APIGatewayV2HTTPRequest) (route, bool) {
	p := strings.TrimSuffix(req.RawPath, "/")
	if p == "" {
		p = strings.TrimSuffix(req.RequestContext.HTTP.Path, "/")
	}
	if p == routePlatform {
		return route{name: whatsapp.RoutePlatform}, true
	}
	if id, ok := strings.CutPrefix(p, routePlatform+"/"); ok && !strings.Contains(id, "/") {
		return route{name: whatsapp.RouteTenant, tenant: id, malformed: !tenant.ValidID(id)}, true
	}
	return route{}, false
}

// header looks a header up case-insensitively: API Gateway v2 lower-cases
// names, other fronts may not.
func header(h map[string]string, name string) string {
	if v, ok := h[name]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func text(status int, body string) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "text/plain; charset=utf-8"},
		Body:       body,
	}
}

func (h *Handler) maxBody() int {
	if h.MaxBodyBytes > 0 {
		return h.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}
