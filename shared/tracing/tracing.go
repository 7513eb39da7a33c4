// Package tracing carries the AWS X-Ray trace header (X-Amzn-Trace-Id,
// "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
// through the connector: from the invocation's context, into the
// AWSTraceHeader system attribute of every SQS message a function sends,
// and out of the records the next function receives. With Tracing: Active
// Lambda records each function's segment under that header, and every log
// line carries its Root as trace_id (package logging), so one inbound
// message or one outbound job is followed by one id across the webhook,
// the queues, the functions and the bridge.
package tracing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// lambdaKey is the context key the Lambda Go runtime stores the
// invocation's trace header under (github.com/aws/aws-lambda-go/lambda).
const lambdaKey = "x-amzn-trace-id"

// AttributeName is the SQS message system attribute that carries the
// header from one function to the next.
const AttributeName = "AWSTraceHeader"

type ctxKey struct{}

// WithHeader returns ctx carrying header (ignored when empty).
func WithHeader(ctx context.Context, header string) context.Context {
	if header == "" {
		return ctx
	}
	return context.WithValue(ctx, ctxKey{}, header)
}

// FromContext returns the trace header of ctx: the one WithHeader set
// (a record's), else the Lambda invocation's, else "".
func FromContext(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	if h, ok := ctx.Value(ctxKey{}).(string); ok && h != "" {
		return h
	}
	if h, ok := ctx.Value(lambdaKey).(string); ok {
		return h
	}
	return ""
}

// ForRecord returns ctx carrying rec's trace header, when it has one: the
// work done for that record continues the trace of whoever sent it.
func ForRecord(ctx context.Context, rec events.SQSMessage) context.Context {
	return WithHeader(ctx, rec.Attributes[AttributeName])
}

// Root returns the Root field of header ("1-5759e988-bd86…"), the trace id
// logs carry, or "".
func Root(header string) string {
	for _, f := range strings.Split(header, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(f), "Root="); ok {
			return v
		}
	}
	return ""
}

// TraceID returns the Root of ctx's trace header, or "".
func TraceID(ctx context.Context) string { return Root(FromContext(ctx)) }

// NewHeader returns a header for a new sampled trace, in X-Ray's format
// (version 1, the start time in hex seconds, 96 random bits), for
// callers that start work no trace covers yet (the local runtime).
func NewHeader(now time.Time) string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return "Root=1-" + strconv.FormatInt(now.Unix(), 16) + "-" + h[:24] + ";Parent=" + h[24:40] + ";Sampled=1"
}
