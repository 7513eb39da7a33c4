// Command sdkhello is the SDK-only hello world make bench-cold measures
// each function against: config.LoadDefaultConfig and four clients
// (DynamoDB, SQS, S3, Secrets Manager) in init, then an answer that calls
// nothing.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		os.Exit(1)
	}
	clients := []any{dynamodb.NewFromConfig(cfg), sqs.NewFromConfig(cfg), s3.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg)}
	lambda.Start(func(context.Context, json.RawMessage) (int, error) { return len(clients), nil })
}
