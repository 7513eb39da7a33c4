// Command sender is the Sender Lambda function; all behaviour lives in
// package sender under shared/.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/tucanlink/wacloud/shared/logging"
	"github.com/tucanlink/wacloud/shared/sender"
)

func main() {
	slog.SetDefault(logging.New("sender"))
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		slog.Error("load AWS config", "error", err.Error())
		os.Exit(1)
	}
	h, err := sender.Setup(ctx, os.Getenv, cfg)
	if err != nil {
		slog.Error("set up sender function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
