// Package dedup makes inbound processing happen once per Meta event, however
// often Meta delivers it. A key is claimed with one conditional write in the
// state table ("event#{key}") before any downstream publish, and that write
// is the whole protocol: there is no separate completion.
//
// A claim names its owner: one delivery of the event, identified by what
// stays the same for it across SQS retries, dead-lettering and redrive (the
// inbound function uses a hash of the queued body, which carries the
// webhook's receipt time, and an operator's replay mark, so Meta's later
// deliveries of the same event and each replay of a parked unit are other
// owners). The owner may claim again at any time, so its retries and
// its redrive from the DLQ go on; any other delivery finds the key taken and
// is a Duplicate. That is safe because the owner's message stays on its
// queue, or in its DLQ, until its publishes succeeded: the pending work is
// durable in SQS, not in the claim. Every record expires after TTL, longer
// than Meta's 7-day retry window.
//
// Records written by earlier releases carry a lease ("lease_until") and are
// completed with status "done": a done record is a Duplicate, a live lease
// is Busy, an expired lease may be taken over.
package dedup

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/dynamoexpr"
	"github.com/tucanlink/wacloud/shared/fault"
)

// API is the part of the DynamoDB client Store uses.
type API interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// DefaultTTL outlives Meta's 7-day webhook retry window.
const DefaultTTL = 8 * 24 * time.Hour

// Outcome of a claim.
type Outcome int

const (
	// Claimed: the caller owns the key and does the work; it may claim
	// again (the same owner) as often as its retries need.
	Claimed Outcome = iota
	// Duplicate: another delivery owns the event (it is done, or its
	// message is still on the queue or in the DLQ); skip it.
	Duplicate
	// Busy: a claim of an earlier release holds a live lease; try later.
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
	statusDone    = "done" // written by earlier releases only
)

// Store claims keys in Table. It is safe for concurrent use.
type Store struct {
	API   API
	Table string
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

// Claim tries to take key for owner, one delivery of the event that keeps
// its identity across retries (see the package comment). It is one
// conditional PutItem, a conflict included: the refusal carries the record
// (ALL_OLD), which tells a Duplicate from an earlier release's live lease
// (Busy).
// Errors are classified Retry.
func (s Store) Claim(ctx context.Context, key, owner string) (Outcome, error) {
	now := s.now()
	item := pk(key)
	item["status"] = str(statusClaimed)
	item["owner"] = str(owner)
	item["claimed_at"] = num(now)
	item["expires_at"] = num(now.Add(s.ttl()))
	// Unclaimed, or claimed by owner (not done by an earlier release), or
	// an earlier release's claim whose lease ran out (done records have no
	// lease).
	e := dynamoexpr.New()
	cond := dynamoexpr.Or(e.NotExists("pk"),
		dynamoexpr.And(e.Compare("owner", "=", e.S(owner)), e.Compare("status", "=", e.S(statusClaimed))),
		e.Compare("lease_until", "<", e.Value(num(now))))
	_, err := s.API.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.Table),
		Item:                      item,
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),

		ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return Claimed, nil
	}
	var cf *ddbtypes.ConditionalCheckFailedException
	if !errors.As(err, &cf) {
		return 0, fault.Retryable(fmt.Errorf("claim %s: %w", key, err))
	}
	if st, ok := cf.Item["status"].(*ddbtypes.AttributeValueMemberS); ok && st.Value == statusDone {
		return Duplicate, nil
	}
	if _, ok := cf.Item["lease_until"]; ok {
		return Busy, nil
	}
	return Duplicate, nil
}

func (s Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s Store) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return DefaultTTL
}
