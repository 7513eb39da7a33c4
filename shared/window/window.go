// Package window tracks WhatsApp's 24-hour customer service window per
// business number and contact: an inbound message opens or refreshes it;
// outside it only template messages may be sent (Meta error 131047). Records
// live in the state table as "window#{phone_number_id}#{wa_id}".
package window

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

// Length is how long a window stays open after the contact's last message.
const Length = 24 * time.Hour

// keep is how long a record outlives its window (for history and late events).
const keep = 8 * 24 * time.Hour

// API is the part of the DynamoDB client Store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Store reads and writes window records. It is safe for concurrent use.
type Store struct {
	API   API
	Table string
	Now   func() time.Time
}

func key(phoneNumberID, waID string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "window#" + phoneNumberID + "#" + waID}}
}

func num(t time.Time) ddbtypes.AttributeValue {
	return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(t.Unix(), 10)}
}

// RecordInbound notes an inbound message sent at `at`. Out-of-order calls are
// harmless: the record only moves forward.
func (s Store) RecordInbound(ctx context.Context, phoneNumberID, waID string, at time.Time) error {
	// Only forward: no message recorded yet, or an earlier one.
	e := dynamoexpr.New()
	update := e.Update().Set("last_inbound_at", num(at)).Set("expires_at", num(at.Add(keep))).String()
	cond := dynamoexpr.Or(e.NotExists("last_inbound_at"), e.Compare("last_inbound_at", "<", e.Value(num(at))))
	_, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       key(phoneNumberID, waID),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	var cf *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return nil // a later message is already recorded
	}
	if err != nil {
		return fault.Retryable(fmt.Errorf("record inbound window for %s: %w", phoneNumberID, err))
	}
	return nil
}

// Close marks the window closed as of `at` (Meta answered 131047), so the
// sender stops trying free-form messages until the contact writes again.
func (s Store) Close(ctx context.Context, phoneNumberID, waID string, at time.Time) error {
	e := dynamoexpr.New()
	update := e.Update().Set("closed_at", num(at)).SetIfAbsent("expires_at", num(at.Add(keep))).String()
	_, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       key(phoneNumberID, waID),
		UpdateExpression:          aws.String(update),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	if err != nil {
		return fault.Retryable(fmt.Errorf("close window for %s: %w", phoneNumberID, err))
	}
	return nil
}

// State is a contact's window as recorded.
type State struct {
	LastInbound time.Time // zero when the contact never wrote
	ClosedAt    time.Time // zero unless Meta reported the window closed
}

// Open reports whether free-form messages may be sent at now.
func (st State) Open(now time.Time) bool {
	if st.LastInbound.IsZero() || now.Sub(st.LastInbound) >= Length {
		return false
	}
	return st.ClosedAt.IsZero() || st.ClosedAt.Before(st.LastInbound)
}

// ItemKey is the key of a contact's window record, for a caller that
// reads it with other items in one (strongly consistent) BatchGetItem.
func ItemKey(phoneNumberID, waID string) map[string]ddbtypes.AttributeValue {
	return key(phoneNumberID, waID)
}

// Get reads a contact's window (strongly consistent).
func (s Store) Get(ctx context.Context, phoneNumberID, waID string) (State, error) {
	out, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: key(phoneNumberID, waID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return State{}, fault.Retryable(fmt.Errorf("read window for %s: %w", phoneNumberID, err))
	}
	return StateOf(out.Item), nil
}

// StateOf reads a window record (nil when there is none).
func StateOf(item map[string]ddbtypes.AttributeValue) State {
	var st State
	if v, ok := item["last_inbound_at"].(*ddbtypes.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		st.LastInbound = time.Unix(n, 0)
	}
	if v, ok := item["closed_at"].(*ddbtypes.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		st.ClosedAt = time.Unix(n, 0)
	}
	return st
}

// IsOpen reports whether a free-form message to waID may be sent now.
func (s Store) IsOpen(ctx context.Context, phoneNumberID, waID string) (bool, error) {
	st, err := s.Get(ctx, phoneNumberID, waID)
	if err != nil {
		return false, err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	return st.Open(now()), nil
}
