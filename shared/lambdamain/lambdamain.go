// Package lambdamain is the wiring every functions/<name>/main.go shares:
// the redacting JSON logger, the AWS configuration from the Lambda
// environment, the function's Setup with os.Getenv, and lambda.Start.
package lambdamain

import (
	"context"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tucanlink/wacloud/shared/logging"
)

// Setup builds a function's handler from its environment and AWS config.
type Setup[H any] func(ctx context.Context, getenv func(string) string, cfg aws.Config) (H, error)

// Start wires function name and hands handle(h) to the Lambda runtime. It
// exits non-zero when the configuration cannot be loaded or Setup fails,
// so Lambda reports an init error instead of running a broken handler.
func Start[H any](name string, setup Setup[H], handle func(H) any) {
	slog.SetDefault(logging.New(name))
	ctx := context.Background()
	cfg, err := Config(ctx, os.Getenv)
	if err != nil {
		slog.Error("load AWS config", "error", err.Error())
		os.Exit(1)
	}
	h, err := setup(ctx, os.Getenv, cfg)
	if err != nil {
		slog.Error("set up function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(&invocations{next: lambda.NewHandler(handle(h))})
}

// invocations marks the process's first invocation as a cold start for
// its log lines (logging.WithColdStart); the invocation's request id and
// trace header are in its context already (lambda puts them there).
type invocations struct {
	next   lambda.Handler
	served atomic.Bool
}

func (i *invocations) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if !i.served.Swap(true) {
		ctx = logging.WithColdStart(ctx)
	}
	return i.next.Invoke(ctx, payload)
}
