package connector

import (
	"context"
	"io"
	"log/slog"
	"reflect"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tucanlink/wacloud/local/apigw"
	"github.com/tucanlink/wacloud/local/esm"
	"github.com/tucanlink/wacloud/shared/bridge"
	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/inbound"
	"github.com/tucanlink/wacloud/shared/manage"
	"github.com/tucanlink/wacloud/shared/media"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/sender"
	"github.com/tucanlink/wacloud/shared/status"
	"github.com/tucanlink/wacloud/shared/tokenhealth"
	"github.com/tucanlink/wacloud/shared/webhook"
)

// Functions maps each function's logical id in template.yaml to its
// handler package's Setup. Wiring a new function is one line here; its
// routes and queues come from the template.
var Functions = map[string]Setup{
	"WebhookFunction":  HTTP(webhook.Setup),
	"InboundFunction":  SQS(inbound.Setup),
	"BridgeFunction":   SQS(bridge.Setup),
	"MediaFunction":    SQS(media.Setup),
	"SenderFunction":   SQS(sender.Setup),
	"StatusFunction":   SQS(status.Setup),
	"ApiFunction":      HTTP(manage.Setup),
	"CampaignFunction": SQS(campaign.Setup),
	// Scheduled: nothing runs it on a timer locally; invoke it through
	// Built.Scheduled (wacloudctl templates sync does the same work).
	"TemplatesFunction": Scheduled(tokenhealth.Setup),
}

// Setup builds one function from its environment and AWS configuration,
// exactly as its Lambda main does.
type Setup func(ctx context.Context, getenv func(string) string, cfg aws.Config) (Built, error)

// Built is a function ready to invoke: HTTP for API Gateway routes, SQS for
// queue event sources, Scheduled for EventBridge schedules. Value is the
// handler itself.
type Built struct {
	HTTP      apigw.Handler
	SQS       esm.Handler
	Scheduled func(context.Context, events.EventBridgeEvent) error
	Value     any
}

type httpHandler interface {
	Handle(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
}

type sqsHandler interface {
	Handle(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
}

// HTTP adapts the Setup of an HTTP API function.
func HTTP[H httpHandler](setup func(context.Context, func(string) string, aws.Config) (H, error)) Setup {
	return func(ctx context.Context, getenv func(string) string, cfg aws.Config) (Built, error) {
		h, err := setup(ctx, getenv, cfg)
		if err != nil {
			return Built{}, err
		}
		return Built{HTTP: h.Handle, Value: h}, nil
	}
}

// SQS adapts the Setup of an SQS-triggered function.
func SQS[H sqsHandler](setup func(context.Context, func(string) string, aws.Config) (H, error)) Setup {
	return func(ctx context.Context, getenv func(string) string, cfg aws.Config) (Built, error) {
		h, err := setup(ctx, getenv, cfg)
		if err != nil {
			return Built{}, err
		}
		return Built{SQS: h.Handle, Value: h}, nil
	}
}

type scheduledHandler interface {
	Handle(context.Context, events.EventBridgeEvent) error
}

// Scheduled adapts the Setup of a function run by an EventBridge schedule.
func Scheduled[H scheduledHandler](setup func(context.Context, func(string) string, aws.Config) (H, error)) Setup {
	return func(ctx context.Context, getenv func(string) string, cfg aws.Config) (Built, error) {
		h, err := setup(ctx, getenv, cfg)
		if err != nil {
			return Built{}, err
		}
		return Built{Scheduled: h.Handle, Value: h}, nil
	}
}

var (
	loggerType   = reflect.TypeFor[*slog.Logger]()
	recorderType = reflect.TypeFor[*metrics.Recorder]()
)

// adopt gives a handler the connector's logger (tagged with the function
// name) and metrics output, when it has the conventional Log and Metrics
// fields and left them unset. On Lambda those defaults are stdout; here
// several functions share one process, and their lines must say whose
// they are.
func adopt(h any, log *slog.Logger, metricsOut io.Writer) {
	v := reflect.ValueOf(h)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return
	}
	s := v.Elem()
	if f := s.FieldByName("Log"); f.IsValid() && f.CanSet() && f.Type() == loggerType && f.IsNil() {
		f.Set(reflect.ValueOf(log))
	}
	if f := s.FieldByName("Metrics"); f.IsValid() && f.Type() == recorderType && !f.IsNil() {
		if r := f.Interface().(*metrics.Recorder); r.Out == nil {
			r.Out = metricsOut
		}
	}
}
