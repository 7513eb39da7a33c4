package sender

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/fault"
)

// Job record states.
const (
	StateSending = "sending" // claimed; a send may be under way until LeaseUntil
	StateSent    = "sent"    // Meta accepted it (WAMID set, except read receipts)
	StateFailed  = "failed"  // reported failed; never sent again under this job id
)

// Job store defaults.
const (
	// DefaultLease bounds how long a claim protects a send in progress. It
	// outlasts the sender's function timeout (120 s in template.yaml), so a
	// live invocation never loses its claim, and is shorter than the outbound
	// queue's visibility timeout (720 s), so a job redelivered after a crash
	// always finds the lease expired.
	DefaultLease = 4 * time.Minute
	// keepJobs outlives SQS's 14-day retention, so a redelivered or
	// redriven job still finds its record.
	keepJobs = 15 * 24 * time.Hour
)

// JobsAPI is the part of the DynamoDB client JobStore uses.
type JobsAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// JobRecord is the idempotency record of one job, "job#{job_id}" in the
// state table.
type JobRecord struct {
	JobID         string `dynamodbav:"job_id"`
	TenantID      string `dynamodbav:"tenant_id"`
	PhoneNumberID string `dynamodbav:"phone_number_id"`
	To            string `dynamodbav:"to"`
	Type          string `dynamodbav:"type"`
	ClientRef     string `dynamodbav:"client_ref,omitempty"`
	State         string `dynamodbav:"state"`
	ClaimID       string `dynamodbav:"claim_id"`
	LeaseUntil    int64  `dynamodbav:"lease_until"` // Unix ms
	WAMID         string `dynamodbav:"wamid,omitempty"`
	// Failure, when State is failed.
	Reason    string `dynamodbav:"reason,omitempty"`
	Code      int    `dynamodbav:"code,omitempty"`
	Title     string `dynamodbav:"title,omitempty"`
	Details   string `dynamodbav:"details,omitempty"`
	Retryable bool   `dynamodbav:"retryable,omitempty"`
	Attempts  int    `dynamodbav:"attempts,omitempty"`
	// FinishedAt is when the outcome was known (Unix ms): the event time of
	// its result, also when the result is published again.
	FinishedAt int64 `dynamodbav:"finished_at,omitempty"`
	ExpiresAt  int64 `dynamodbav:"expires_at"`
}

// Failure is how a job failed.
type Failure struct {
	Reason    string
	Code      int
	Title     string
	Details   string
	Retryable bool
}

// JobStore keeps the idempotency records that make a job id sent at most
// once. It is safe for concurrent use.
type JobStore struct {
	API   JobsAPI
	Table string
	Lease time.Duration // default DefaultLease
	Now   func() time.Time
}

func jobKey(jobID string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "job#" + jobID}}
}

// Claim takes the job for one send attempt. It returns the claim id, or,
// when the job already has a record, that record (and no claim).
func (s *JobStore) Claim(ctx context.Context, r JobRecord) (claimID string, existing *JobRecord, err error) {
	claimID, existing, _, err = s.ClaimWith(ctx, r)
	return claimID, existing, err
}

// ClaimWith is Claim, making the writes in with (a pair booking) in the
// same transaction: all or none. withRefused reports that a condition of
// with failed, so nothing was written and there is no claim: the caller
// claims again without it.
func (s *JobStore) ClaimWith(ctx context.Context, r JobRecord, with ...ddbtypes.TransactWriteItem) (claimID string, existing *JobRecord, withRefused bool, err error) {
	now := s.now()
	r.State, r.ClaimID = StateSending, newClaimID()
	r.LeaseUntil = now.Add(s.lease()).UnixMilli()
	r.ExpiresAt = now.Add(keepJobs).Unix()
	item, err := attributevalue.MarshalMap(r)
	if err != nil {
		return "", nil, false, fault.PermanentErr(fmt.Errorf("claim job %s: encode: %w", r.JobID, err))
	}
	item["pk"] = jobKey(r.JobID)["pk"]
	absent, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk"))).Build()
	if err != nil {
		return "", nil, false, buildError("claim job "+r.JobID, err)
	}
	put := &ddbtypes.Put{
		TableName: aws.String(s.Table), Item: item,
		ConditionExpression:      absent.Condition(),
		ExpressionAttributeNames: absent.Names(),
	}
	exists := false
	if len(with) == 0 {
		_, err = s.API.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: put.TableName, Item: put.Item,
			ConditionExpression: put.ConditionExpression, ExpressionAttributeNames: put.ExpressionAttributeNames,
		})
		exists = conditionFailed(err)
	} else {
		items := append([]ddbtypes.TransactWriteItem{{Put: put}}, with...)
		_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		var tc *ddbtypes.TransactionCanceledException
		if errors.As(err, &tc) {
			for i, reason := range tc.CancellationReasons {
				if aws.ToString(reason.Code) != "ConditionalCheckFailed" {
					continue
				}
				if i == 0 {
					exists = true
					break
				}
				withRefused = true
			}
			if withRefused && !exists {
				return "", nil, true, nil
			}
		}
	}
	if err == nil {
		return r.ClaimID, nil, false, nil
	}
	if !exists {
		return "", nil, false, fault.Retryable(fmt.Errorf("claim job %s: %w", r.JobID, err))
	}
	rec, err := s.Get(ctx, r.JobID)
	if err != nil {
		return "", nil, false, err
	}
	if rec == nil {
		// Deleted (released) between the two calls: try again later.
		return "", nil, false, fault.Retryable(fmt.Errorf("claim job %s: record released while reading it", r.JobID))
	}
	return "", rec, false, nil
}

// Get reads a job's record (strongly consistent), or nil when it has none.
func (s *JobStore) Get(ctx context.Context, jobID string) (*JobRecord, error) {
	out, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: jobKey(jobID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fault.Retryable(fmt.Errorf("read job %s: %w", jobID, err))
	}
	if out.Item == nil {
		return nil, nil
	}
	var r JobRecord
	if err := attributevalue.UnmarshalMap(out.Item, &r); err != nil {
		return nil, fault.PermanentErr(fmt.Errorf("read job %s: decode: %w", jobID, err))
	}
	return &r, nil
}

// Release gives a claim up when no request reached Meta, so the job can be
// tried again.
func (s *JobStore) Release(ctx context.Context, jobID, claimID string) error {
	e, err := expression.NewBuilder().WithCondition(heldBy(claimID)).Build()
	if err != nil {
		return buildError("release job "+jobID, err)
	}
	_, err = s.API.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.Table), Key: jobKey(jobID),
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	if err != nil && !conditionFailed(err) {
		return fault.Retryable(fmt.Errorf("release job %s: %w", jobID, err))
	}
	return nil
}

// MarkSent records Meta's acceptance under claimID.
func (s *JobStore) MarkSent(ctx context.Context, jobID, claimID, wamid string, attempts int) error {
	return s.finish(ctx, jobID, claimID, sentUpdate(wamid, attempts))
}

// sentUpdate records Meta's acceptance; finish adds finished_at.
func sentUpdate(wamid string, attempts int) expression.UpdateBuilder {
	return expression.Set(expression.Name("state"), expression.Value(StateSent)).
		Set(expression.Name("wamid"), expression.Value(wamid)).
		Set(expression.Name("attempts"), expression.Value(num(int64(attempts))))
}

// heldBy holds while claimID still holds the job's claim.
func heldBy(claimID string) expression.ConditionBuilder {
	return expression.Name("claim_id").Equal(expression.Value(claimID)).And(
		expression.Name("state").Equal(expression.Value(StateSending)))
}

// buildError reports an expression the builder refused: a defect, never
// worth a retry.
func buildError(what string, err error) error {
	return fault.PermanentErr(fmt.Errorf("%s: build expression: %w", what, err))
}

// MarkSentWith records Meta's acceptance under claimID and makes the
// writes in with (the message record) in the same transaction: all or
// none. It fails with errClaimLost (Permanent) when the claim is no longer
// held, errWithRefused (Permanent) when a condition of with failed, and a
// Retryable error otherwise; in every case nothing was written.
func (s *JobStore) MarkSentWith(ctx context.Context, jobID, claimID, wamid string, attempts int, with []ddbtypes.TransactWriteItem) error {
	e, err := expression.NewBuilder().
		WithUpdate(sentUpdate(wamid, attempts).Set(expression.Name("finished_at"), expression.Value(num(s.now().UnixMilli())))).
		WithCondition(heldBy(claimID)).Build()
	if err != nil {
		return buildError("record send of job "+jobID, err)
	}
	// The job's item carries its own placeholders; each item of with
	// carries those of its own expressions.
	items := append([]ddbtypes.TransactWriteItem{{Update: &ddbtypes.Update{
		TableName: aws.String(s.Table), Key: jobKey(jobID),
		UpdateExpression:          e.Update(),
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	}}}, with...)
	_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	var tc *ddbtypes.TransactionCanceledException
	if errors.As(err, &tc) {
		for i, r := range tc.CancellationReasons {
			if aws.ToString(r.Code) != "ConditionalCheckFailed" {
				continue
			}
			if i == 0 {
				return fault.PermanentErr(fmt.Errorf("record send of job %s: %w", jobID, errClaimLost))
			}
			return fault.PermanentErr(fmt.Errorf("record send of job %s: %w", jobID, errWithRefused))
		}
	}
	return fault.Retryable(fmt.Errorf("record send of job %s: %w", jobID, err))
}

// errWithRefused: a write made along with the job record was refused.
var errWithRefused = errors.New("a write of the same transaction was refused")

// MarkFailed records the job's failure under claimID.
func (s *JobStore) MarkFailed(ctx context.Context, jobID, claimID string, f Failure, attempts int) error {
	return s.finish(ctx, jobID, claimID,
		expression.Set(expression.Name("state"), expression.Value(StateFailed)).
			Set(expression.Name("reason"), expression.Value(f.Reason)).
			Set(expression.Name("code"), expression.Value(num(int64(f.Code)))).
			Set(expression.Name("title"), expression.Value(f.Title)).
			Set(expression.Name("details"), expression.Value(f.Details)).
			Set(expression.Name("retryable"), expression.Value(f.Retryable)).
			Set(expression.Name("attempts"), expression.Value(num(int64(attempts)))))
}

// errClaimLost: the record is no longer held by this claim.
var errClaimLost = errors.New("job claim lost")

// finish makes update, with finished_at, while claimID holds the claim.
func (s *JobStore) finish(ctx context.Context, jobID, claimID string, update expression.UpdateBuilder) error {
	e, err := expression.NewBuilder().
		WithUpdate(update.Set(expression.Name("finished_at"), expression.Value(num(s.now().UnixMilli())))).
		WithCondition(heldBy(claimID)).Build()
	if err != nil {
		return buildError("record outcome of job "+jobID, err)
	}
	_, err = s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: jobKey(jobID),
		UpdateExpression:          e.Update(),
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	if conditionFailed(err) {
		return fault.PermanentErr(fmt.Errorf("record outcome of job %s: %w", jobID, errClaimLost))
	}
	if err != nil {
		return fault.Retryable(fmt.Errorf("record outcome of job %s: %w", jobID, err))
	}
	return nil
}

// TakeOver claims a record whose lease expired (its holder crashed), so
// that exactly one instance decides its outcome.
func (s *JobStore) TakeOver(ctx context.Context, r *JobRecord) (claimID string, err error) {
	now := s.now()
	claimID = newClaimID()
	// Still the crashed holder's claim, and its lease ran out.
	e, err := expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("claim_id"), expression.Value(claimID)).
			Set(expression.Name("lease_until"), expression.Value(num(now.Add(s.lease()).UnixMilli())))).
		WithCondition(heldBy(r.ClaimID).And(
			expression.Name("lease_until").LessThan(expression.Value(num(now.UnixMilli()))))).Build()
	if err != nil {
		return "", buildError("take over job "+r.JobID, err)
	}
	_, err = s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: jobKey(r.JobID),
		UpdateExpression:          e.Update(),
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	if conditionFailed(err) {
		return "", fault.Retryable(fmt.Errorf("take over job %s: %w", r.JobID, errClaimLost))
	}
	if err != nil {
		return "", fault.Retryable(fmt.Errorf("take over job %s: %w", r.JobID, err))
	}
	return claimID, nil
}

func (s *JobStore) lease() time.Duration {
	if s.Lease > 0 {
		return s.Lease
	}
	return DefaultLease
}

func (s *JobStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func newClaimID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func str(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }

func num(v int64) ddbtypes.AttributeValue {
	return &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(v)}
}

func conditionFailed(err error) bool {
	var cf *ddbtypes.ConditionalCheckFailedException
	return errors.As(err, &cf)
}
