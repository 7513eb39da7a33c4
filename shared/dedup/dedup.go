// Package dedup makes inbound processing happen once per Meta event, however
// often Meta delivers it. A key is claimed with a conditional write in the
// state table ("event#{key}") before any downstream publish, and marked done
// once every publish succeeded. A claim carries a lease: if the claimer
// crashes half-way, the key can be claimed again once the lease runs out, so
// work is retried instead of lost. Every record expires after TTL, longer
// than Meta's 7-day retry window.
package dedup

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/fault"
)

// API is the part of the DynamoDB client Store uses.
type API interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Defaults.
const (
	// DefaultTTL outlives Meta's 7-day webhook retry window.
	DefaultTTL = 8 * 24 * time.Hour
	// DefaultLease is shorter than the inbound queue's visibility timeout,
	// so a redelivered message finds a crashed claimer's lease expired.
	DefaultLease = 2 * time.Minute
)

// Outcome of a claim.
type Outcome int

const (
	// Claimed: the caller owns the key and must call Done after its work.
	Claimed Outcome = iota
	// Duplicate: the work was already done; skip it.
	Duplicate
	// Busy: another worker holds a live claim; try again later.
	Busy
)

func (o Outcome) String() string {
	switch o {
	case Claimed:
		return "claimed"
	case Duplicate:
		return "duplicate"
	case Busy:
		return "busy"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

const (
	statusClaimed = "claimed"
	statusDone    = "done"
)

// Store claims and completes keys in Table. It is safe for concurrent use.
type Store struct {
	API   API
	Table string
	Lease time.Duration // default DefaultLease
	TTL   time.Duration // default DefaultTTL
	Now   func() time.Time
}

func pk(key string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "event#" + key}}
}

func num(t time.Time) ddbtypes.AttributeValue {
	return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(t.Unix(), 10)}
}

func str(s string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: s} }

// Claim tries to take key for owner. owner identifies one piece of work
// across retries (an SQS message id): the same owner may re-claim its own
// live claim, so a retry after a failed publish does not wait for the lease.
// Errors are classified Retry (Permanent for an expression the builder
// refuses: a defect).
func (s Store) Claim(ctx context.Context, key, owner string) (Outcome, error) {
	now := s.now()
	item := pk(key)
	item["status"] = str(statusClaimed)
	item["owner"] = str(owner)
	item["lease_until"] = num(now.Add(s.lease()))
	item["expires_at"] = num(now.Add(s.ttl()))
	// Unclaimed, or claimed and either the lease ran out or owner holds it.
	e, err := expression.NewBuilder().WithCondition(
		expression.AttributeNotExists(expression.Name("pk")).Or(
			expression.Name("status").Equal(expression.Value(str(statusClaimed))).And(
				expression.Name("lease_until").LessThan(expression.Value(num(now))).Or(
					expression.Name("owner").Equal(expression.Value(str(owner))))))).Build()
	if err != nil {
		return 0, fault.PermanentErr(fmt.Errorf("claim %s: build expression: %w", key, err))
	}
	_, err = s.API.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.Table),
		Item:                      item,
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	if err == nil {
		return Claimed, nil
	}
	var cf *ddbtypes.ConditionalCheckFailedException
	if !errors.As(err, &cf) {
		return 0, fault.Retryable(fmt.Errorf("claim %s: %w", key, err))
	}
	// Someone else has it; read which way. Only conflicts pay this call.
	out, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: pk(key), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, fault.Retryable(fmt.Errorf("read claim %s: %w", key, err))
	}
	if v, ok := out.Item["status"].(*ddbtypes.AttributeValueMemberS); ok && v.Value == statusDone {
		return Duplicate, nil
	}
	return Busy, nil
}

// Done marks key as completed, so later deliveries are duplicates.
// Errors are classified Retry (Permanent for an expression the builder
// refuses: a defect).
func (s Store) Done(ctx context.Context, key string) error {
	now := s.now()
	e, err := expression.NewBuilder().WithUpdate(
		expression.Set(expression.Name("status"), expression.Value(str(statusDone))).
			Set(expression.Name("done_at"), expression.Value(num(now))).
			Set(expression.Name("expires_at"), expression.Value(num(now.Add(s.ttl())))).
			Remove(expression.Name("lease_until"))).Build()
	if err != nil {
		return fault.PermanentErr(fmt.Errorf("mark %s done: build expression: %w", key, err))
	}
	_, err = s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       pk(key),
		UpdateExpression:          e.Update(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	if err != nil {
		return fault.Retryable(fmt.Errorf("mark %s done: %w", key, err))
	}
	return nil
}

func (s Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s Store) lease() time.Duration {
	if s.Lease > 0 {
		return s.Lease
	}
	return DefaultLease
}

func (s Store) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return DefaultTTL
}
