// Command media is the media Lambda function: it streams inbound WhatsApp
// media from Meta into S3 and reports it to the core.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/tucanlink/wacloud/shared/logging"
	"github.com/tucanlink/wacloud/shared/media"
)

func main() {
	slog.SetDefault(logging.New("media"))
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		slog.Error("load AWS config", "error", err.Error())
		os.Exit(1)
	}
	h, err := media.Setup(ctx, os.Getenv, cfg)
	if err != nil {
		slog.Error("set up media function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
