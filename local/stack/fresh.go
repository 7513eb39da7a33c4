package stack

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// FindTemplate returns the path of the repository's template.yaml, looking
// from the working directory up to the module root.
func FindTemplate() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "template.yaml")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return "", errors.New("template.yaml not found at the module root")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("template.yaml not found")
		}
		dir = parent
	}
}

// Fresh provisions the repository's template for one test from scratch.
// The embedded emulator keeps its state per process, not per server, so the
// tables and queues an earlier test left are deleted first; the bucket is
// named after the test unless o.StackName says otherwise.
func Fresh(tb testing.TB, cfg aws.Config, o Options) *Stack {
	tb.Helper()
	ctx := context.Background()
	ddb := dynamodb.NewFromConfig(cfg)
	tables, err := ddb.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		tb.Fatal(err)
	}
	for _, name := range tables.TableNames {
		if _, err := ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			tb.Fatal(err)
		}
	}
	q := sqs.NewFromConfig(cfg)
	queues, err := q.ListQueues(ctx, &sqs.ListQueuesInput{})
	if err != nil {
		tb.Fatal(err)
	}
	for _, url := range queues.QueueUrls {
		if _, err := q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
			tb.Fatal(err)
		}
	}
	path, err := FindTemplate()
	if err != nil {
		tb.Fatal(err)
	}
	tmpl, err := Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	if o.StackName == "" {
		o.StackName = "t-" + TestName(tb)
	}
	st, err := Provision(ctx, cfg, tmpl, o)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// TestName turns a test's name into something usable in bucket names and
// secret prefixes.
func TestName(tb testing.TB) string {
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-", "(", "", ")", "", " ", "-").Replace(tb.Name()))
	if len(name) > 40 {
		name = name[:40]
	}
	return name
}
