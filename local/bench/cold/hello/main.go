// Command hello is the plain Go hello-world Lambda function make bench-cold
// compares the functions' cold starts with: lambda.Start and nothing else.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (string, error) { return "hello", nil })
}
