package iamcheck

import (
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func TestCallsOf(t *testing.T) {
	const region, account = "eu-west-1", "123456789012"
	pk := func(v string) map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: v}}
	}
	table := "arn:aws:dynamodb:eu-west-1:123456789012:table/StateTable"
	lead := func(v string) map[string][]string { return map[string][]string{"dynamodb:LeadingKeys": {v}} }
	tests := []struct {
		name   string
		op     string
		params any
		want   []Call
	}{
		{"GetItem", "GetItem", &dynamodb.GetItemInput{TableName: aws.String("StateTable"), Key: pk("job#1")},
			[]Call{{Service: "dynamodb", Operation: "GetItem", Action: "dynamodb:GetItem", Resource: table, Context: lead("job#1")}}},
		{"PutItem's leading key comes from the item", "PutItem", &dynamodb.PutItemInput{TableName: aws.String("StateTable"), Item: pk("event#e")},
			[]Call{{Service: "dynamodb", Operation: "PutItem", Action: "dynamodb:PutItem", Resource: table, Context: lead("event#e")}}},
		{"TransactWriteItems is one action per item", "TransactWriteItems", &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
			{Put: &ddbtypes.Put{TableName: aws.String("StateTable"), Item: pk("job#1")}},
			{Update: &ddbtypes.Update{TableName: aws.String("MessagesTable"), Key: pk("msg#w")}},
			{Delete: &ddbtypes.Delete{TableName: aws.String("StateTable"), Key: pk("job#2")}},
			{ConditionCheck: &ddbtypes.ConditionCheck{TableName: aws.String("StateTable"), Key: pk("rate#pair#1")}},
		}}, []Call{
			{Service: "dynamodb", Operation: "TransactWriteItems", Action: "dynamodb:PutItem", Resource: table, Context: lead("job#1")},
			{Service: "dynamodb", Operation: "TransactWriteItems", Action: "dynamodb:UpdateItem", Resource: "arn:aws:dynamodb:eu-west-1:123456789012:table/MessagesTable", Context: lead("msg#w")},
			{Service: "dynamodb", Operation: "TransactWriteItems", Action: "dynamodb:DeleteItem", Resource: table, Context: lead("job#2")},
			{Service: "dynamodb", Operation: "TransactWriteItems", Action: "dynamodb:ConditionCheckItem", Resource: table, Context: lead("rate#pair#1")},
		}},
		{"Scan has no leading key", "Scan", &dynamodb.ScanInput{TableName: aws.String("StateTable")},
			[]Call{{Service: "dynamodb", Operation: "Scan", Action: "dynamodb:Scan", Resource: table}}},
		{"SendMessageBatch is sqs:SendMessage on the queue's ARN", "SendMessageBatch",
			&sqs.SendMessageBatchInput{QueueUrl: aws.String("https://sqs.eu-west-1.amazonaws.com/123456789012/CoreEventsQueue.fifo")},
			[]Call{{Service: "sqs", Operation: "SendMessageBatch", Action: "sqs:SendMessage", Resource: "arn:aws:sqs:eu-west-1:123456789012:CoreEventsQueue.fifo"}}},
		{"an emulator's queue URL", "ChangeMessageVisibility",
			&sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String("http://127.0.0.1:4566/000000000000/StatusQueue")},
			[]Call{{Service: "sqs", Operation: "ChangeMessageVisibility", Action: "sqs:ChangeMessageVisibility", Resource: "arn:aws:sqs:eu-west-1:000000000000:StatusQueue"}}},
		{"HeadObject is s3:GetObject", "HeadObject", &s3.HeadObjectInput{Bucket: aws.String("b"), Key: aws.String("tenants/demo/a.jpg")},
			[]Call{{Service: "s3", Operation: "HeadObject", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/tenants/demo/a.jpg"}}},
		{"UploadPart is s3:PutObject", "UploadPart", &s3.UploadPartInput{Bucket: aws.String("b"), Key: aws.String("k")},
			[]Call{{Service: "s3", Operation: "UploadPart", Action: "s3:PutObject", Resource: "arn:aws:s3:::b/k"}}},
		{"AbortMultipartUpload", "AbortMultipartUpload", &s3.AbortMultipartUploadInput{Bucket: aws.String("b"), Key: aws.String("k")},
			[]Call{{Service: "s3", Operation: "AbortMultipartUpload", Action: "s3:AbortMultipartUpload", Resource: "arn:aws:s3:::b/k"}}},
		{"ListObjectsV2 is s3:ListBucket with the prefix", "ListObjectsV2", &s3.ListObjectsV2Input{Bucket: aws.String("b"), Prefix: aws.String("tenants/demo/")},
			[]Call{{Service: "s3", Operation: "ListObjectsV2", Action: "s3:ListBucket", Resource: "arn:aws:s3:::b", Context: map[string][]string{"s3:prefix": {"tenants/demo/"}}}}},
		{"a secret by name gets AWS's suffix", "GetSecretValue", &secretsmanager.GetSecretValueInput{SecretId: aws.String("wacloud/tenants/demo")},
			[]Call{{Service: "secretsmanager", Operation: "GetSecretValue", Action: "secretsmanager:GetSecretValue", Resource: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wacloud/tenants/demo" + SecretSuffix}}},
		{"CreateSecret is on the new secret's ARN", "CreateSecret", &secretsmanager.CreateSecretInput{Name: aws.String("wacloud/tenants/newco/pin")},
			[]Call{{Service: "secretsmanager", Operation: "CreateSecret", Action: "secretsmanager:CreateSecret", Resource: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wacloud/tenants/newco/pin" + SecretSuffix}}},
		{"PutSecretValue is on the secret", "PutSecretValue", &secretsmanager.PutSecretValueInput{SecretId: aws.String("wacloud/tenants/newco")},
			[]Call{{Service: "secretsmanager", Operation: "PutSecretValue", Action: "secretsmanager:PutSecretValue", Resource: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wacloud/tenants/newco" + SecretSuffix}}},
		{"a secret by ARN keeps it", "GetSecretValue", &secretsmanager.GetSecretValueInput{SecretId: aws.String("arn:aws:secretsmanager:eu-west-1:123456789012:secret:wacloud/core-xYz123")},
			[]Call{{Service: "secretsmanager", Operation: "GetSecretValue", Action: "secretsmanager:GetSecretValue", Resource: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wacloud/core-xYz123"}}},
		{"an operation not described", "ListTables", &dynamodb.ListTablesInput{},
			[]Call{{Service: "dynamodb", Operation: "ListTables", Action: "dynamodb:ListTables", Resource: "*"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CallsOf("DynamoDB", tt.op, tt.params, region, account)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("CallsOf(%T)\n got %v\nwant %v", tt.params, got, tt.want)
			}
		})
	}
}

func TestImpliedByMissing(t *testing.T) {
	notFound := &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 404}}, Err: errors.New("NotFound")}
	forbidden := &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 403}}, Err: errors.New("Forbidden")}
	head := &s3.HeadObjectInput{Bucket: aws.String("b"), Key: aws.String("tenants/demo/a.jpg")}
	tests := []struct {
		name   string
		err    error
		params any
		want   int
	}{
		{"HeadObject of a missing object", notFound, head, 1},
		{"GetObject of a missing object", notFound, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")}, 1},
		{"HeadObject refused", forbidden, head, 0},
		{"HeadObject found", nil, head, 0},
		{"another operation's 404", notFound, &s3.DeleteObjectInput{Bucket: aws.String("b"), Key: aws.String("k")}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Call
			if missing(tt.err) {
				got = impliedByMissing(tt.params)
			}
			if len(got) != tt.want {
				t.Fatalf("got %v, want %d calls", got, tt.want)
			}
			if tt.want == 1 {
				c := got[0]
				if c.Action != "s3:ListBucket" || c.Resource != "arn:aws:s3:::b" || len(c.Context["s3:prefix"]) != 1 {
					t.Errorf("got %s, want s3:ListBucket on the bucket with the key as s3:prefix", c)
				}
			}
		})
	}
}
