// Command webhook is the Webhook Lambda function; all behaviour lives in
// package webhook under shared/.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/tucanlink/wacloud/shared/logging"
	"github.com/tucanlink/wacloud/shared/webhook"
)

func main() {
	slog.SetDefault(logging.New("webhook"))
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		slog.Error("load AWS config", "error", err.Error())
		os.Exit(1)
	}
	h, err := webhook.Setup(ctx, os.Getenv, cfg)
	if err != nil {
		slog.Error("set up webhook function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
