// Command bridge is the Bridge Lambda function; all behaviour lives in
// package bridge under shared/.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/tucanlink/wacloud/shared/bridge"
	"github.com/tucanlink/wacloud/shared/logging"
)

func main() {
	slog.SetDefault(logging.New("bridge"))
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		slog.Error("load AWS config", "error", err.Error())
		os.Exit(1)
	}
	h, err := bridge.Setup(ctx, os.Getenv, cfg)
	if err != nil {
		slog.Error("set up bridge function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
