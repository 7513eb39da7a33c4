package suppression

import (
	"context"
	"encoding/base64"
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

// Why a contact is on the list.
const (
	ReasonKeyword = "keyword" // the contact wrote a stop keyword
	ReasonManual  = "manual"  // an operator added it (wacloudctl)
	ReasonAPI     = "api"     // the core added it (management API)
)

// Page sizes of List.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// API is the part of the DynamoDB client Store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Entry is one suppressed contact of a tenant.
type Entry struct {
	TenantID string `json:"-"`
	// Contact is the list's key of the contact (Key): a number's digits
	// or a business-scoped user id.
	Contact string    `json:"contact"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
	// Keyword, PhoneNumberID and MessageID tell, for ReasonKeyword, what
	// the contact wrote, to which business number, in which message.
	Keyword       string `json:"keyword,omitempty"`
	PhoneNumberID string `json:"phone_number_id,omitempty"`
	MessageID     string `json:"message_id,omitempty"`
	// Note is free text from whoever added it by hand or through the API.
	Note string `json:"note,omitempty"`
}

// MaxNoteChars bounds Entry.Note.
const MaxNoteChars = 256

// Store reads and writes the suppressions table. It is safe for concurrent
// use. Errors are classified with fault: DynamoDB failures Retry, bad
// input (a contact Key refuses, an unknown reason, a cursor not made by
// List) Invalid, defects Permanent.
type Store struct {
	API   API
	Table string
}

type item struct {
	PK            string `dynamodbav:"pk"`
	SK            string `dynamodbav:"sk"`
	TenantID      string `dynamodbav:"tenant_id"`
	Reason        string `dynamodbav:"reason"`
	At            string `dynamodbav:"at"`
	Keyword       string `dynamodbav:"keyword,omitempty"`
	PhoneNumberID string `dynamodbav:"phone_number_id,omitempty"`
	MessageID     string `dynamodbav:"message_id,omitempty"`
	Note          string `dynamodbav:"note,omitempty"`
}

func partition(tenantID string) string { return "tenant#" + tenantID }

func key(tenantID, contact string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: partition(tenantID)},
		"sk": &ddbtypes.AttributeValueMemberS{Value: contact},
	}
}

func (it item) entry() Entry {
	at, _ := time.Parse(time.RFC3339Nano, it.At)
	return Entry{TenantID: it.TenantID, Contact: it.SK, Reason: it.Reason, At: at, Keyword: it.Keyword,
		PhoneNumberID: it.PhoneNumberID, MessageID: it.MessageID, Note: it.Note}
}

// Add puts a contact on the tenant's list. A contact already there keeps
// its entry (the first opt-out's reason and time): added is false, and
// the stored entry is returned. Adding is therefore idempotent, and safe
// to repeat after a failure.
func (s *Store) Add(ctx context.Context, e Entry) (stored Entry, added bool, err error) {
	if e.TenantID == "" {
		return Entry{}, false, fault.Invalidf("add to suppression list: no tenant")
	}
	switch e.Reason {
	case ReasonKeyword, ReasonManual, ReasonAPI:
	default:
		return Entry{}, false, fault.Invalidf("add to suppression list of tenant %s: reason %q is not %s, %s or %s", e.TenantID, e.Reason, ReasonKeyword, ReasonManual, ReasonAPI)
	}
	if len([]rune(e.Note)) > MaxNoteChars {
		return Entry{}, false, fault.Invalidf("add to suppression list of tenant %s: note over %d characters", e.TenantID, MaxNoteChars)
	}
	k, err := Key(e.Contact)
	if err != nil {
		return Entry{}, false, fmt.Errorf("add to suppression list of tenant %s: %w", e.TenantID, err)
	}
	e.Contact = k
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC()
	av, err := attributevalue.MarshalMap(item{PK: partition(e.TenantID), SK: k, TenantID: e.TenantID, Reason: e.Reason,
		At: e.At.Format(time.RFC3339Nano), Keyword: e.Keyword, PhoneNumberID: e.PhoneNumberID, MessageID: e.MessageID, Note: e.Note})
	if err != nil {
		return Entry{}, false, fault.PermanentErr(fmt.Errorf("add to suppression list of tenant %s: encode: %w", e.TenantID, err))
	}
	cond, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk"))).Build()
	if err != nil {
		return Entry{}, false, fault.PermanentErr(fmt.Errorf("add to suppression list of tenant %s: build condition: %w", e.TenantID, err))
	}
	_, err = s.API.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.Table),
		Item:                      av,
		ConditionExpression:       cond.Condition(),
		ExpressionAttributeNames:  cond.Names(),
		ExpressionAttributeValues: cond.Values(),
		// The entry that is there, without a second call.
		ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var cf *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		var old item
		if len(cf.Item) > 0 {
			if err := attributevalue.UnmarshalMap(cf.Item, &old); err == nil {
				return old.entry(), false, nil
			}
		}
		got, found, err := s.Get(ctx, e.TenantID, k)
		if err != nil || !found {
			return e, false, err
		}
		return got, false, nil
	}
	if err != nil {
		return Entry{}, false, fault.Retryable(fmt.Errorf("add to suppression list of tenant %s: %w", e.TenantID, err))
	}
	return e, true, nil
}

// Remove takes a contact off the tenant's list; removed is false when it
// was not there.
func (s *Store) Remove(ctx context.Context, tenantID, contact string) (removed bool, err error) {
	k, err := Key(contact)
	if err != nil {
		return false, fmt.Errorf("remove from suppression list of tenant %s: %w", tenantID, err)
	}
	out, err := s.API.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.Table), Key: key(tenantID, k), ReturnValues: ddbtypes.ReturnValueAllOld,
	})
	if err != nil {
		return false, fault.Retryable(fmt.Errorf("remove from suppression list of tenant %s: %w", tenantID, err))
	}
	return len(out.Attributes) > 0, nil
}

// Get returns the tenant's entry of a contact, and whether there is one.
func (s *Store) Get(ctx context.Context, tenantID, contact string) (Entry, bool, error) {
	k, err := Key(contact)
	if err != nil {
		return Entry{}, false, fmt.Errorf("read suppression list of tenant %s: %w", tenantID, err)
	}
	// Strongly consistent: an opt-out written a moment ago must hold.
	out, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: key(tenantID, k), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Entry{}, false, fault.Retryable(fmt.Errorf("read suppression list of tenant %s: %w", tenantID, err))
	}
	if len(out.Item) == 0 {
		return Entry{}, false, nil
	}
	var it item
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return Entry{}, false, fault.PermanentErr(fmt.Errorf("read suppression list of tenant %s: decode: %w", tenantID, err))
	}
	return it.entry(), true, nil
}

// ItemKey is the key of the contact's entry on the tenant's list, for a
// caller that reads it with others in one (strongly consistent)
// BatchGetItem: an item found under it means the contact is on the list.
// It refuses a contact Key refuses (that contact is on no list).
func ItemKey(tenantID, contact string) (map[string]ddbtypes.AttributeValue, error) {
	k, err := Key(contact)
	if err != nil {
		return nil, err
	}
	return key(tenantID, k), nil
}

// Suppressed reports whether the tenant's list holds the contact (a
// wa_id, a phone number in any of the forms Key accepts, or a BSUID). It
// is one strongly consistent read. A contact Key refuses is not on any
// list: false, with no call and no error.
func (s *Store) Suppressed(ctx context.Context, tenantID, contact string) (bool, error) {
	if _, err := Key(contact); err != nil {
		return false, nil
	}
	_, found, err := s.Get(ctx, tenantID, contact)
	return found, err
}

// Page is one page of a tenant's list, in contact order. Next, when not
// empty, is the cursor of the following page.
type Page struct {
	Entries []Entry `json:"entries"`
	Next    string  `json:"next,omitempty"`
}

// List returns a page of up to limit entries (DefaultPageSize when 0, at
// most MaxPageSize) after cursor (empty: from the start; else a Page.Next
// this tenant's List returned).
func (s *Store) List(ctx context.Context, tenantID string, limit int, cursor string) (Page, error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	if limit > MaxPageSize {
		limit = MaxPageSize
	}
	e, err := expression.NewBuilder().WithKeyCondition(expression.Key("pk").Equal(expression.Value(partition(tenantID)))).Build()
	if err != nil {
		return Page{}, fault.PermanentErr(fmt.Errorf("list suppression list of tenant %s: build expression: %w", tenantID, err))
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.Table),
		KeyConditionExpression:    e.KeyCondition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
		Limit:                     aws.Int32(int32(limit)),
	}
	if cursor != "" {
		after, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(after) == 0 {
			return Page{}, fault.Invalidf("list suppression list of tenant %s: the cursor is not one a page returned", tenantID)
		}
		// The cursor names a contact only; the partition is always the
		// caller's tenant, so a cursor cannot reach another tenant's list.
		in.ExclusiveStartKey = key(tenantID, string(after))
	}
	page := Page{Entries: []Entry{}}
	for {
		out, err := s.API.Query(ctx, in)
		if err != nil {
			return Page{}, fault.Retryable(fmt.Errorf("list suppression list of tenant %s: %w", tenantID, err))
		}
		for _, raw := range out.Items {
			var it item
			if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
				return Page{}, fault.PermanentErr(fmt.Errorf("list suppression list of tenant %s: decode: %w", tenantID, err))
			}
			page.Entries = append(page.Entries, it.entry())
		}
		if len(out.LastEvaluatedKey) == 0 {
			return page, nil
		}
		if len(page.Entries) >= limit {
			last := page.Entries[len(page.Entries)-1].Contact
			page.Next = base64.RawURLEncoding.EncodeToString([]byte(last))
			return page, nil
		}
		// A page cut short by DynamoDB's 1 MB: read on.
		in.ExclusiveStartKey = out.LastEvaluatedKey
		in.Limit = aws.Int32(int32(limit - len(page.Entries)))
	}
}
