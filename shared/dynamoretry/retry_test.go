package dynamoretry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/tucanlink/wacloud/shared/dynamoretry"
)

func cancelled(codes ...string) error {
	tc := &ddbtypes.TransactionCanceledException{}
	for _, c := range codes {
		tc.CancellationReasons = append(tc.CancellationReasons, ddbtypes.CancellationReason{Code: aws.String(c)})
	}
	return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "TransactWriteItems", Err: tc}
}

func TestConflict(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"conflict on one item", cancelled("None", "TransactionConflict"), true},
		{"conflict on every item", cancelled("TransactionConflict", "TransactionConflict"), true},
		{"an item throttled", cancelled("None", "ThrottlingError"), true},
		{"an item over provisioned capacity", cancelled("ProvisionedThroughputExceeded", "None"), true},
		{"a condition failed beside a conflict", cancelled("ConditionalCheckFailed", "TransactionConflict"), false},
		{"a condition failed", cancelled("ConditionalCheckFailed", "None"), false},
		{"a validation error", cancelled("ValidationError"), false},
		{"no reason given", cancelled(), false},
		{"a plain write conflicting with a transaction", &smithy.OperationError{Err: &ddbtypes.TransactionConflictException{}}, true},
		{"another error", errors.New("connection reset"), false},
		{"no error", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dynamoretry.Conflict(tt.err); got != tt.want {
				t.Errorf("Conflict = %v, want %v", got, tt.want)
			}
		})
	}
}

// dynamo answers TransactWriteItems as DynamoDB does (JSON 1.0 errors):
// with answers[i] for the i-th request, the last one after that.
type dynamo struct {
	answers  []string
	requests atomic.Int32
}

func (d *dynamo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	n := int(d.requests.Add(1))
	a := d.answers[min(n, len(d.answers))-1]
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if a == "ok" {
		_, _ = io.WriteString(w, `{}`)
		return
	}
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, a)
}

const (
	conflict = `{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",` +
		`"Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]",` +
		`"CancellationReasons":[{"Code":"None"},{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]}`
	conditional = `{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",` +
		`"Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None]",` +
		`"CancellationReasons":[{"Code":"ConditionalCheckFailed","Message":"The conditional request failed"},{"Code":"None"}]}`
	plainConflict = `{"__type":"com.amazonaws.dynamodb.v20120810#TransactionConflictException",` +
		`"message":"Transaction is ongoing for the item"}`
)

// TestClientRetriesConflicts: a client with Conflicts sends a write
// again when DynamoDB refused it for a conflict, within the SDK's
// attempts (DynamoDB's default: 4), and never again when a condition
// failed; without Conflicts, a conflict is not retried.
func TestClientRetriesConflicts(t *testing.T) {
	tests := []struct {
		name      string
		answers   []string
		option    bool
		update    bool // a plain UpdateItem rather than a transaction
		requests  int
		succeeded bool
	}{
		{"conflict twice, then written", []string{conflict, conflict, "ok"}, true, false, 3, true},
		{"a condition failed", []string{conditional, "ok"}, true, false, 1, false},
		{"conflict on every attempt", []string{conflict}, true, false, 4, false},
		{"a plain write conflicting with a transaction", []string{plainConflict, "ok"}, true, true, 2, true},
		{"without the option", []string{conflict, "ok"}, false, false, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &dynamo{answers: tt.answers}
			srv := httptest.NewServer(d)
			defer srv.Close()
			cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
				Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
			var opts []func(*dynamodb.Options)
			if tt.option {
				opts = append(opts, dynamoretry.Conflicts)
			}
			ddb := dynamodb.NewFromConfig(cfg, opts...)
			key := map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "tenant#acme#campaign#c#n#3"}, "sk": &ddbtypes.AttributeValueMemberS{Value: "tally"}}
			var err error
			if tt.update {
				_, err = ddb.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String("Campaigns"), Key: key,
					UpdateExpression: aws.String("ADD #c :one"), ExpressionAttributeNames: map[string]string{"#c": "count_sent"},
					ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":one": &ddbtypes.AttributeValueMemberN{Value: "1"}}})
			} else {
				_, err = ddb.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
					{ConditionCheck: &ddbtypes.ConditionCheck{TableName: aws.String("Messages"), Key: key, ConditionExpression: aws.String("attribute_exists(pk)")}},
					{Update: &ddbtypes.Update{TableName: aws.String("Campaigns"), Key: key, UpdateExpression: aws.String("ADD #c :one"),
						ExpressionAttributeNames:  map[string]string{"#c": "count_sent"},
						ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":one": &ddbtypes.AttributeValueMemberN{Value: "1"}}}},
				}})
			}
			if got := int(d.requests.Load()); got != tt.requests {
				t.Errorf("%d requests, want %d", got, tt.requests)
			}
			if (err == nil) != tt.succeeded {
				t.Fatalf("error %v, want success %v", err, tt.succeeded)
			}
			if err != nil {
				var tc *ddbtypes.TransactionCanceledException
				if !errors.As(err, &tc) {
					t.Errorf("error %v is not the cancellation", err)
				}
				if tt.name == "a condition failed" && !strings.Contains(fmt.Sprint(err), "ConditionalCheckFailed") {
					t.Errorf("error %v does not name the failed condition", err)
				}
			}
		})
	}
}
