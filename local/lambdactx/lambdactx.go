// Package lambdactx gives locally invoked handlers the context Lambda gives
// them (request id, function ARN) and lets log handlers find the function
// name again. It exists only for the local connector.
package lambdactx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/tucanlink/wacloud/shared/logging"
	"github.com/tucanlink/wacloud/shared/tracing"
)

// Account and Region are what local ARNs use.
const (
	Account = "000000000000"
	Region  = "us-east-1"
)

// ARN returns the local ARN of function name.
func ARN(name string) string {
	return "arn:aws:lambda:" + Region + ":" + Account + ":function:" + name
}

// New returns ctx carrying a Lambda context for one invocation of function
// name, with a fresh request id and, as Lambda with active tracing gives
// each invocation, a fresh X-Ray trace header (records of an SQS batch
// carry their own, package tracing). The first invocation of each
// function name in the process is its cold start (logging.WithColdStart).
func New(ctx context.Context, name string) context.Context {
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       RequestID(),
		InvokedFunctionArn: ARN(name),
	})
	ctx = context.WithValue(ctx, traceKey, tracing.NewHeader(time.Now()))
	if _, warm := started.LoadOrStore(name, true); !warm {
		ctx = logging.WithColdStart(ctx)
	}
	return ctx
}

// traceKey is the key the Lambda Go runtime stores the invocation's trace
// header under (github.com/aws/aws-lambda-go/lambda); tracing reads it.
const traceKey = "x-amzn-trace-id"

// started holds the functions invoked at least once in this process.
var started sync.Map

// Function returns the name of the function ctx belongs to, or "".
func Function(ctx context.Context) string {
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok {
		return ""
	}
	_, name, _ := strings.Cut(lc.InvokedFunctionArn, ":function:")
	return name
}

// ShortName is the name a function logs under, the one its main package
// gives lambdamain.Start: its template logical id without "Function",
// first letter lower-cased ("WebhookFunction" → "webhook"), so make local
// and make invoke log the same "function".
func ShortName(logicalID string) string {
	n := strings.TrimSuffix(logicalID, "Function")
	if n == "" {
		return logicalID
	}
	return strings.ToLower(n[:1]) + n[1:]
}

// RequestID returns a request id shaped like Lambda's (a UUID).
func RequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
