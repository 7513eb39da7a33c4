// Package lambdactx gives locally invoked handlers the context Lambda gives
// them (request id, function ARN) and lets log handlers find the function
// name again. It exists only for the local connector.
package lambdactx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
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
// name, with a fresh request id.
func New(ctx context.Context, name string) context.Context {
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       RequestID(),
		InvokedFunctionArn: ARN(name),
	})
}

// Function returns the name of the function ctx belongs to, or "".
func Function(ctx context.Context) string {
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok {
		return ""
	}
	_, name, _ := strings.Cut(lc.InvokedFunctionArn, ":function:")
	return name
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
