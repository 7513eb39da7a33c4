package iamcheck

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/tucanlink/wacloud/local/stack"
)

// SecretSuffix stands for the six random characters AWS appends to a
// secret's name in its ARN; a call naming a secret by name gets an ARN
// ending in it, so only policies that allow for the suffix match.
const SecretSuffix = "-Ab3dE9"

// Recorder records the AWS calls of every function it is given to. It is
// safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	calls []Call
}

// APIOptions returns the middleware that records the calls of function;
// names give the region and account of the ARNs. Every call is recorded,
// failed ones included: on AWS they would need the permission all the same.
func (r *Recorder) APIOptions(function string, names *stack.Names) []func(*middleware.Stack) error {
	region, account := names.Region, names.AccountID
	record := middleware.InitializeMiddlewareFunc("iamcheck.Record", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleInitialize(ctx, in)
		calls := CallsOf(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), in.Parameters, region, account)
		if missing(err) {
			calls = append(calls, impliedByMissing(in.Parameters)...)
		}
		for i := range calls {
			calls[i].Function = function
		}
		r.mu.Lock()
		r.calls = append(r.calls, calls...)
		r.mu.Unlock()
		return out, md, err
	})
	return []func(*middleware.Stack) error{func(s *middleware.Stack) error {
		return s.Initialize.Add(record, middleware.After)
	}}
}

// Calls returns what was recorded so far.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// missing says whether err is S3's answer for a missing object.
func missing(err error) bool {
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == 404
}

// impliedByMissing is the permission AWS checks to answer 404 rather than
// 403 for a missing object: s3:ListBucket, with the key as s3:prefix.
func impliedByMissing(params any) []Call {
	var bucket, key string
	switch in := params.(type) {
	case *s3.HeadObjectInput:
		bucket, key = aws.ToString(in.Bucket), aws.ToString(in.Key)
	case *s3.GetObjectInput:
		bucket, key = aws.ToString(in.Bucket), aws.ToString(in.Key)
	default:
		return nil
	}
	return []Call{{Service: "s3", Operation: "HeadObject", Action: "s3:ListBucket", Resource: "arn:aws:s3:::" + bucket,
		Context: map[string][]string{"s3:prefix": {key}}, Why: "a missing object answers 404, not 403"}}
}

// CallsOf returns the authorizations one API call needs on AWS, from its
// typed input. An operation this function does not know becomes
// "{service}:{operation}" on resource "*", which a well-scoped policy does
// not allow: the check then fails until it is described here.
func CallsOf(serviceID, operation string, params any, region, account string) []Call {
	table := func(name *string) string {
		n := aws.ToString(name)
		if strings.HasPrefix(n, "arn:") {
			return n
		}
		return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", region, account, n)
	}
	ddb := func(op, action string, name *string, key map[string]ddbtypes.AttributeValue) Call {
		c := Call{Service: "dynamodb", Operation: op, Action: "dynamodb:" + action, Resource: table(name)}
		if pk := leadingKey(key); pk != "" {
			c.Context = map[string][]string{"dynamodb:LeadingKeys": {pk}}
		}
		return c
	}
	queue := func(u *string) string { return queueARN(aws.ToString(u), region) }
	sq := func(op, action string, u *string) []Call {
		return []Call{{Service: "sqs", Operation: op, Action: "sqs:" + action, Resource: queue(u)}}
	}
	object := func(op, action string, bucket, key *string) []Call {
		return []Call{{Service: "s3", Operation: op, Action: "s3:" + action,
			Resource: "arn:aws:s3:::" + aws.ToString(bucket) + "/" + aws.ToString(key)}}
	}
	secret := func(op string, id *string) []Call {
		return []Call{{Service: "secretsmanager", Operation: op, Action: "secretsmanager:" + op,
			Resource: secretARN(aws.ToString(id), region, account)}}
	}

	switch in := params.(type) {
	// DynamoDB
	case *dynamodb.GetItemInput:
		return []Call{ddb(operation, "GetItem", in.TableName, in.Key)}
	case *dynamodb.PutItemInput:
		return []Call{ddb(operation, "PutItem", in.TableName, in.Item)}
	case *dynamodb.UpdateItemInput:
		return []Call{ddb(operation, "UpdateItem", in.TableName, in.Key)}
	case *dynamodb.DeleteItemInput:
		return []Call{ddb(operation, "DeleteItem", in.TableName, in.Key)}
	case *dynamodb.TransactWriteItemsInput:
		var out []Call
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				out = append(out, ddb(operation, "PutItem", it.Put.TableName, it.Put.Item))
			case it.Update != nil:
				out = append(out, ddb(operation, "UpdateItem", it.Update.TableName, it.Update.Key))
			case it.Delete != nil:
				out = append(out, ddb(operation, "DeleteItem", it.Delete.TableName, it.Delete.Key))
			case it.ConditionCheck != nil:
				out = append(out, ddb(operation, "ConditionCheckItem", it.ConditionCheck.TableName, it.ConditionCheck.Key))
			}
		}
		return out
	case *dynamodb.TransactGetItemsInput:
		var out []Call
		for _, it := range in.TransactItems {
			if it.Get != nil {
				out = append(out, ddb(operation, "GetItem", it.Get.TableName, it.Get.Key))
			}
		}
		return out
	case *dynamodb.BatchGetItemInput:
		var out []Call
		for name, ka := range in.RequestItems {
			for _, k := range ka.Keys {
				out = append(out, ddb(operation, "BatchGetItem", aws.String(name), k))
			}
		}
		return out
	case *dynamodb.BatchWriteItemInput:
		var out []Call
		for name, reqs := range in.RequestItems {
			for _, w := range reqs {
				switch {
				case w.PutRequest != nil:
					out = append(out, ddb(operation, "BatchWriteItem", aws.String(name), w.PutRequest.Item))
				case w.DeleteRequest != nil:
					out = append(out, ddb(operation, "BatchWriteItem", aws.String(name), w.DeleteRequest.Key))
				}
			}
		}
		return out
	case *dynamodb.ScanInput:
		return []Call{ddb(operation, "Scan", in.TableName, nil)}
	case *dynamodb.QueryInput:
		// The partition value hides in the key condition; no leading key
		// recorded means ForAllValues conditions hold, as they would not
		// on AWS. Nothing queries today.
		return []Call{ddb(operation, "Query", in.TableName, nil)}

	// SQS
	case *sqs.SendMessageInput:
		return sq(operation, "SendMessage", in.QueueUrl)
	case *sqs.SendMessageBatchInput:
		return sq(operation, "SendMessage", in.QueueUrl)
	case *sqs.ChangeMessageVisibilityInput:
		return sq(operation, "ChangeMessageVisibility", in.QueueUrl)
	case *sqs.ChangeMessageVisibilityBatchInput:
		return sq(operation, "ChangeMessageVisibility", in.QueueUrl)
	case *sqs.DeleteMessageInput:
		return sq(operation, "DeleteMessage", in.QueueUrl)
	case *sqs.DeleteMessageBatchInput:
		return sq(operation, "DeleteMessage", in.QueueUrl)
	case *sqs.ReceiveMessageInput:
		return sq(operation, "ReceiveMessage", in.QueueUrl)
	case *sqs.GetQueueAttributesInput:
		return sq(operation, "GetQueueAttributes", in.QueueUrl)

	// S3
	case *s3.PutObjectInput:
		return object(operation, "PutObject", in.Bucket, in.Key)
	case *s3.CreateMultipartUploadInput:
		return object(operation, "PutObject", in.Bucket, in.Key)
	case *s3.UploadPartInput:
		return object(operation, "PutObject", in.Bucket, in.Key)
	case *s3.CompleteMultipartUploadInput:
		return object(operation, "PutObject", in.Bucket, in.Key)
	case *s3.AbortMultipartUploadInput:
		return object(operation, "AbortMultipartUpload", in.Bucket, in.Key)
	case *s3.ListPartsInput:
		return object(operation, "ListMultipartUploadParts", in.Bucket, in.Key)
	case *s3.GetObjectInput:
		// PresignGetObject comes through here too: the link is signed
		// with the function's credentials, so whoever follows it needs
		// the function's s3:GetObject.
		return object(operation, "GetObject", in.Bucket, in.Key)
	case *s3.HeadObjectInput:
		return object(operation, "GetObject", in.Bucket, in.Key)
	case *s3.DeleteObjectInput:
		return object(operation, "DeleteObject", in.Bucket, in.Key)
	case *s3.ListObjectsV2Input:
		return []Call{{Service: "s3", Operation: operation, Action: "s3:ListBucket", Resource: "arn:aws:s3:::" + aws.ToString(in.Bucket),
			Context: map[string][]string{"s3:prefix": {aws.ToString(in.Prefix)}}}}

	// Secrets Manager
	case *secretsmanager.GetSecretValueInput:
		return secret(operation, in.SecretId)
	case *secretsmanager.DescribeSecretInput:
		return secret(operation, in.SecretId)
	case *secretsmanager.PutSecretValueInput:
		return secret(operation, in.SecretId)
	case *secretsmanager.CreateSecretInput:
		// Authorized against the ARN the new secret will have.
		return secret(operation, in.Name)

	// EventBridge Scheduler: the schedule's ARN in its group ("default"
	// when none is named); handing the schedule a role to send as is an
	// iam:PassRole of that role to Scheduler.
	case *scheduler.CreateScheduleInput:
		group := aws.ToString(in.GroupName)
		if group == "" {
			group = "default"
		}
		out := []Call{{Service: "scheduler", Operation: operation, Action: "scheduler:CreateSchedule",
			Resource: fmt.Sprintf("arn:aws:scheduler:%s:%s:schedule/%s/%s", region, account, group, aws.ToString(in.Name))}}
		if in.Target != nil && in.Target.RoleArn != nil {
			out = append(out, Call{Service: "iam", Operation: operation, Action: "iam:PassRole", Resource: aws.ToString(in.Target.RoleArn),
				Context: map[string][]string{"iam:PassedToService": {"scheduler.amazonaws.com"}}, Why: "the schedule sends as the role it is given"})
		}
		return out
	case *scheduler.DeleteScheduleInput:
		group := aws.ToString(in.GroupName)
		if group == "" {
			group = "default"
		}
		return []Call{{Service: "scheduler", Operation: operation, Action: "scheduler:DeleteSchedule",
			Resource: fmt.Sprintf("arn:aws:scheduler:%s:%s:schedule/%s/%s", region, account, group, aws.ToString(in.Name))}}
	}
	svc := strings.ToLower(strings.ReplaceAll(serviceID, " ", ""))
	return []Call{{Service: svc, Operation: operation, Action: svc + ":" + operation, Resource: "*"}}
}

// leadingKey is the partition key value of an item or key: the table's
// only string attribute named pk here, or the only attribute of a key.
func leadingKey(key map[string]ddbtypes.AttributeValue) string {
	if v, ok := key["pk"].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	if len(key) == 1 {
		for _, v := range key {
			if s, ok := v.(*ddbtypes.AttributeValueMemberS); ok {
				return s.Value
			}
		}
	}
	return ""
}

// queueARN turns a queue URL (https://sqs.{region}.amazonaws.com/{account}/{name},
// or an emulator's http://host/{account}/{name}) into the queue's ARN.
func queueARN(queueURL, region string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return "invalid-queue-url:" + queueURL
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 2 {
		return "invalid-queue-url:" + queueURL
	}
	account, name := parts[len(parts)-2], parts[len(parts)-1]
	return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", region, account, name)
}

// secretARN is the ARN of a secret named by ARN or by name; a name gets
// the random suffix AWS appends.
func secretARN(id, region, account string) string {
	if strings.HasPrefix(id, "arn:") {
		return id
	}
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s%s", region, account, id, SecretSuffix)
}
