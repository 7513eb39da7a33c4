// Command inbound is the Inbound Lambda function; all behaviour lives in
// package inbound under shared/.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/tucanlink/wacloud/shared/inbound"
	"github.com/tucanlink/wacloud/shared/logging"
)

func main() {
	slog.SetDefault(logging.New("inbound"))
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		slog.Error("load AWS config", "error", err.Error())
		os.Exit(1)
	}
	h, err := inbound.Setup(ctx, os.Getenv, cfg)
	if err != nil {
		slog.Error("set up inbound function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
