// Command status is the status Lambda function: it applies WhatsApp message
// statuses so they never go backwards and reports them and account changes to the core.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/tucanlink/wacloud/shared/logging"
	"github.com/tucanlink/wacloud/shared/status"
)

func main() {
	slog.SetDefault(logging.New("status"))
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		slog.Error("load AWS config", "error", err.Error())
		os.Exit(1)
	}
	h, err := status.Setup(ctx, os.Getenv, cfg)
	if err != nil {
		slog.Error("set up status function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
