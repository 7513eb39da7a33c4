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
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/delivery"
	"github.com/tucanlink/wacloud/shared/dynamoexpr"
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
	// DefaultRetention is how long a job record is kept after its claim
	// and after its outcome: a day longer than its message record
	// (delivery.DefaultRetention, which holds the job reference), so a
	// job id reused while either lives finds its job record and is
	// answered with the first result, and one reused after both is sent
	// as a new job. Far longer than SQS's 14-day retention, so a
	// redelivered or redriven job always finds its record.
	DefaultRetention = delivery.DefaultRetention + 24*time.Hour
	// legacyRetention is how long records under the key of earlier
	// versions ("job#{job_id}") lived: LegacyKeys can be turned off once
	// this version has run that long.
	legacyRetention = 15 * 24 * time.Hour
)

// JobsAPI is the part of the DynamoDB client JobStore uses.
type JobsAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// JobRecord is the idempotency record of one job, "job#{tenant_id}#{job_id}"
// in the state table: job ids are scoped by tenant (tenant ids never
// contain '#').
type JobRecord struct {
	JobID         string `dynamodbav:"job_id"`
	TenantID      string `dynamodbav:"tenant_id"`
	PhoneNumberID string `dynamodbav:"phone_number_id"`
	To            string `dynamodbav:"to"`
	Type          string `dynamodbav:"type"`
	ClientRef     string `dynamodbav:"client_ref,omitempty"`
	CampaignID    string `dynamodbav:"campaign_id,omitempty"`
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

	// legacy: the record is under the key of earlier versions.
	legacy bool
}

// JobRef names a job record: the tenant's job id, under the current key
// or, for a record written by an earlier version, the legacy one.
type JobRef struct {
	TenantID string
	JobID    string
	legacy   bool
}

// Ref names r's record.
func (r *JobRecord) Ref() JobRef {
	return JobRef{TenantID: r.TenantID, JobID: r.JobID, legacy: r.legacy}
}

func (ref JobRef) key() map[string]ddbtypes.AttributeValue {
	pk := "job#" + ref.TenantID + "#" + ref.JobID
	if ref.legacy {
		pk = "job#" + ref.JobID
	}
	return map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}}
}

func (ref JobRef) String() string { return ref.TenantID + "/" + ref.JobID }

// Failure is how a job failed.
type Failure struct {
	Reason    string
	Code      int
	Title     string
	Details   string
	Retryable bool
}

// JobStore keeps the idempotency records that make a tenant's job id sent
// at most once. A record past its expires_at counts as absent even before
// DynamoDB's TTL removes it, so a reused id behaves the same whenever the
// deletion happens. It is safe for concurrent use.
type JobStore struct {
	API       JobsAPI
	Table     string
	Lease     time.Duration // default DefaultLease
	Retention time.Duration // default DefaultRetention
	// LegacyKeys makes a claim also look for a record of the same tenant
	// under the key of earlier versions ("job#{job_id}", kept 15 days), in
	// the claim's own transaction: a job claimed or sent before the
	// upgrade and redelivered after it is answered from that record,
	// never sent again.
	LegacyKeys bool
	Now        func() time.Time
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
	r.ExpiresAt = now.Add(s.retention()).Unix()
	return s.put(ctx, r, s.LegacyKeys, with)
}

// Fail records the failure of a job that was never claimed (it failed its
// checks before any request to Meta) in one write, with the writes in
// with (its campaign's count) in the same transaction, unless the job
// already has a record: that record is returned instead and nothing is
// written.
func (s *JobStore) Fail(ctx context.Context, r JobRecord, f Failure, with ...ddbtypes.TransactWriteItem) (existing *JobRecord, err error) {
	now := s.now()
	r.State, r.ClaimID, r.LeaseUntil = StateFailed, "", 0
	r.Reason, r.Code, r.Title, r.Details, r.Retryable = f.Reason, f.Code, f.Title, f.Details, f.Retryable
	r.FinishedAt = now.UnixMilli()
	r.ExpiresAt = now.Add(s.retention()).Unix()
	_, existing, _, err = s.put(ctx, r, s.LegacyKeys, with)
	return existing, err
}

// put writes r (a claim, or a failure) if the job has no record yet, with
// the writes in with in the same transaction.
func (s *JobStore) put(ctx context.Context, r JobRecord, legacy bool, with []ddbtypes.TransactWriteItem) (claimID string, existing *JobRecord, withRefused bool, err error) {
	now := s.now()
	ref := r.Ref()
	item, err := attributevalue.MarshalMap(r)
	if err != nil {
		return "", nil, false, fault.PermanentErr(fmt.Errorf("claim job %s: encode: %w", ref, err))
	}
	item["pk"] = ref.key()["pk"]
	absent := dynamoexpr.New()
	put := &ddbtypes.Put{
		TableName: aws.String(s.Table), Item: item,
		ConditionExpression:       aws.String(absentAt(absent, now)),
		ExpressionAttributeNames:  absent.Names(),
		ExpressionAttributeValues: absent.Values(),
	}
	items := []ddbtypes.TransactWriteItem{{Put: put}}
	if legacy {
		old := ref
		old.legacy = true
		check := dynamoexpr.New()
		items = append(items, ddbtypes.TransactWriteItem{ConditionCheck: &ddbtypes.ConditionCheck{
			TableName: aws.String(s.Table), Key: old.key(),
			ConditionExpression:       aws.String(absentAt(check, now)),
			ExpressionAttributeNames:  check.Names(),
			ExpressionAttributeValues: check.Values(),
		}})
	}
	firstWith := len(items)
	exists, legacyExists := false, false
	if len(items) == 1 && len(with) == 0 {
		_, err = s.API.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: put.TableName, Item: put.Item, ConditionExpression: put.ConditionExpression,
			ExpressionAttributeNames: put.ExpressionAttributeNames, ExpressionAttributeValues: put.ExpressionAttributeValues,
		})
		exists = conditionFailed(err)
	} else {
		_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append(items, with...)})
		var tc *ddbtypes.TransactionCanceledException
		if errors.As(err, &tc) {
			for i, reason := range tc.CancellationReasons {
				if aws.ToString(reason.Code) != "ConditionalCheckFailed" {
					continue
				}
				switch {
				case i == 0:
					exists = true
				case i < firstWith:
					legacyExists = true
				default:
					withRefused = true
				}
			}
		}
	}
	switch {
	case err == nil:
		return r.ClaimID, nil, false, nil
	case exists:
		rec, err := s.Get(ctx, ref)
		if err != nil {
			return "", nil, false, err
		}
		if rec == nil {
			// Deleted (released) between the two calls: try again later.
			return "", nil, false, fault.Retryable(fmt.Errorf("claim job %s: record released while reading it", ref))
		}
		return "", rec, false, nil
	case legacyExists:
		old := ref
		old.legacy = true
		rec, err := s.Get(ctx, old)
		if err != nil {
			return "", nil, false, err
		}
		if rec != nil && rec.TenantID == r.TenantID && rec.JobID == r.JobID {
			return "", rec, false, nil
		}
		// Another tenant's job under the old key (or gone meanwhile): not
		// this job's record.
		return s.put(ctx, r, false, with)
	case withRefused:
		return "", nil, true, nil
	}
	return "", nil, false, fault.Retryable(fmt.Errorf("claim job %s: %w", ref, err))
}

// absentAt holds when the item does not exist or has expired by now (its
// TTL deletion may come days later).
func absentAt(e *dynamoexpr.Expr, now time.Time) string {
	return dynamoexpr.Or(e.NotExists("pk"), e.Compare("expires_at", "<", e.N(now.Unix())))
}

// Get reads a job's record (strongly consistent), or nil when it has none
// or it has expired.
func (s *JobStore) Get(ctx context.Context, ref JobRef) (*JobRecord, error) {
	out, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: ref.key(), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fault.Retryable(fmt.Errorf("read job %s: %w", ref, err))
	}
	if out.Item == nil {
		return nil, nil
	}
	var r JobRecord
	if err := attributevalue.UnmarshalMap(out.Item, &r); err != nil {
		return nil, fault.PermanentErr(fmt.Errorf("read job %s: decode: %w", ref, err))
	}
	if r.ExpiresAt != 0 && r.ExpiresAt < s.now().Unix() {
		return nil, nil
	}
	r.legacy = ref.legacy
	return &r, nil
}

// Release gives a claim up when no request reached Meta, so the job can be
// tried again.
func (s *JobStore) Release(ctx context.Context, ref JobRef, claimID string) error {
	e := dynamoexpr.New()
	_, err := s.API.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.Table), Key: ref.key(),
		ConditionExpression:       aws.String(heldBy(e, claimID)),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	if err != nil && !conditionFailed(err) {
		return fault.Retryable(fmt.Errorf("release job %s: %w", ref, err))
	}
	return nil
}

// MarkSent records Meta's acceptance under claimID.
func (s *JobStore) MarkSent(ctx context.Context, ref JobRef, claimID, wamid string, attempts int) error {
	return s.finish(ctx, ref, claimID, nil, sentUpdate(wamid, attempts))
}

// sentUpdate records Meta's acceptance; finish adds finished_at.
func sentUpdate(wamid string, attempts int) func(*dynamoexpr.Update) {
	return func(u *dynamoexpr.Update) {
		u.Set("state", str(StateSent)).Set("wamid", str(wamid)).Set("attempts", num(int64(attempts)))
	}
}

// heldBy holds while claimID still holds the job's claim.
func heldBy(e *dynamoexpr.Expr, claimID string) string {
	return dynamoexpr.And(e.Compare("claim_id", "=", e.S(claimID)), e.Compare("state", "=", e.S(StateSending)))
}

// MarkSentWith records Meta's acceptance under claimID and makes the
// writes in with (the message record) in the same transaction: all or
// none. It fails with errClaimLost (Permanent) when the claim is no longer
// held, errWithRefused (Permanent) when a condition of with failed, and a
// Retryable error otherwise; in every case nothing was written.
func (s *JobStore) MarkSentWith(ctx context.Context, ref JobRef, claimID, wamid string, attempts int, with []ddbtypes.TransactWriteItem) error {
	e := dynamoexpr.New()
	update := s.finished(e, sentUpdate(wamid, attempts))
	// The job's item carries its own placeholders; each item of with
	// carries those of its own expressions.
	items := append([]ddbtypes.TransactWriteItem{{Update: &ddbtypes.Update{
		TableName: aws.String(s.Table), Key: ref.key(),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(heldBy(e, claimID)),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	}}}, with...)
	_, err := s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
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
				return fault.PermanentErr(fmt.Errorf("record send of job %s: %w", ref, errClaimLost))
			}
			return fault.PermanentErr(fmt.Errorf("record send of job %s: %w", ref, errWithRefused))
		}
	}
	return fault.Retryable(fmt.Errorf("record send of job %s: %w", ref, err))
}

// errWithRefused: a write made along with the job record was refused.
var errWithRefused = errors.New("a write of the same transaction was refused")

// MarkFailed records the job's failure under claimID, with the writes in
// with (its campaign's count) in the same transaction.
func (s *JobStore) MarkFailed(ctx context.Context, ref JobRef, claimID string, f Failure, attempts int, with ...ddbtypes.TransactWriteItem) error {
	return s.finish(ctx, ref, claimID, with, func(u *dynamoexpr.Update) {
		u.Set("state", str(StateFailed)).
			Set("reason", str(f.Reason)).
			Set("code", num(int64(f.Code))).
			Set("title", str(f.Title)).
			Set("details", str(f.Details)).
			Set("retryable", &ddbtypes.AttributeValueMemberBOOL{Value: f.Retryable}).
			Set("attempts", num(int64(attempts)))
	})
}

// errClaimLost: the record is no longer held by this claim.
var errClaimLost = errors.New("job claim lost")

// finish makes update, with finished_at, while claimID holds the claim,
// and the writes in with in the same transaction.
func (s *JobStore) finish(ctx context.Context, ref JobRef, claimID string, with []ddbtypes.TransactWriteItem, write func(*dynamoexpr.Update)) error {
	e := dynamoexpr.New()
	update, cond := s.finished(e, write), heldBy(e, claimID)
	if len(with) > 0 {
		items := append([]ddbtypes.TransactWriteItem{{Update: &ddbtypes.Update{
			TableName: aws.String(s.Table), Key: ref.key(),
			UpdateExpression:          aws.String(update),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  e.Names(),
			ExpressionAttributeValues: e.Values(),
		}}}, with...)
		_, err := s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		var tc *ddbtypes.TransactionCanceledException
		if errors.As(err, &tc) && len(tc.CancellationReasons) > 0 && aws.ToString(tc.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
			return fault.PermanentErr(fmt.Errorf("record outcome of job %s: %w", ref, errClaimLost))
		}
		if err != nil {
			return fault.Retryable(fmt.Errorf("record outcome of job %s: %w", ref, err))
		}
		return nil
	}
	_, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: ref.key(),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	if conditionFailed(err) {
		return fault.PermanentErr(fmt.Errorf("record outcome of job %s: %w", ref, errClaimLost))
	}
	if err != nil {
		return fault.Retryable(fmt.Errorf("record outcome of job %s: %w", ref, err))
	}
	return nil
}

// finished adds the outcome's time and restarts the record's retention
// from it: the message record of a sent job lives that long from then.
func (s *JobStore) finished(e *dynamoexpr.Expr, write func(*dynamoexpr.Update)) string {
	now := s.now()
	u := e.Update()
	write(u)
	return u.Set("finished_at", num(now.UnixMilli())).
		Set("expires_at", num(now.Add(s.retention()).Unix())).String()
}

// TakeOver claims a record whose lease expired (its holder crashed), so
// that exactly one instance decides its outcome.
func (s *JobStore) TakeOver(ctx context.Context, r *JobRecord) (claimID string, err error) {
	now := s.now()
	claimID = newClaimID()
	// Still the crashed holder's claim, and its lease ran out.
	e := dynamoexpr.New()
	update := e.Update().Set("claim_id", str(claimID)).Set("lease_until", num(now.Add(s.lease()).UnixMilli())).String()
	cond := dynamoexpr.And(heldBy(e, r.ClaimID), e.Compare("lease_until", "<", e.N(now.UnixMilli())))
	_, err = s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: r.Ref().key(),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	if conditionFailed(err) {
		return "", fault.Retryable(fmt.Errorf("take over job %s: %w", r.Ref(), errClaimLost))
	}
	if err != nil {
		return "", fault.Retryable(fmt.Errorf("take over job %s: %w", r.Ref(), err))
	}
	return claimID, nil
}

func (s *JobStore) lease() time.Duration {
	if s.Lease > 0 {
		return s.Lease
	}
	return DefaultLease
}

func (s *JobStore) retention() time.Duration {
	if s.Retention > 0 {
		return s.Retention
	}
	return DefaultRetention
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
