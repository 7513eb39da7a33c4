// Package identity resolves the recipient an outbound job names to the
// identity WhatsApp knows the user by, so that the 24-hour window (written
// by inbound messages under Meta's wa_id) and the per-recipient pacing are
// read and written under one key.
//
// A user is named three ways: the phone number the CRM has (the job's
// to), Meta's wa_id (what webhooks call from, recipient_id and wa_id),
// and a business-scoped user id (BSUID, from_user_id, recipient_user_id,
// user_id; a user who hides the number has only this one). wa_id and the
// number differ for some accounts: Brazilian mobile numbers registered
// before the ninth digit (wa_id 55 11 9999 8888 for +55 11 9 9999 8888)
// and Mexican mobile numbers (wa_id 52 1 …, the number +52 …).
//
// The identity of a recipient is its wa_id when it is known, else what the
// job names. Mappings (per tenant and business number) come from what
// Meta says: the contacts[].wa_id of a send's answer (input → wa_id), and
// an inbound message carrying both wa_id and user_id (BSUID → wa_id).
// Before any mapping exists, Variants lists the other forms a Brazilian or
// Mexican number's wa_id may take, for the window check to try.
//
// Records: "contact#{tenant_id}#{phone_number_id}#{input}" in the state
// table, attribute identity, with expires_at (Retention after the last
// write) and updated_at.
package identity

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/fault"
)

// DefaultRetention is how long a mapping is kept after its last write.
// Writers refresh a mapping older than RefreshAfter, so one in use never
// expires; one unused for this long is learnt again from Meta's next
// answer.
const DefaultRetention = 90 * 24 * time.Hour

// RefreshAfter is the age after which a mapping read and still right is
// written again, restarting its retention.
const RefreshAfter = 7 * 24 * time.Hour

// API is the part of the DynamoDB client Store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Mapping is what a recipient resolves to.
type Mapping struct {
	Identity  string
	UpdatedAt time.Time
}

// Store reads and writes mappings. It is safe for concurrent use. Errors
// are classified Retry (DynamoDB) or Permanent (a defect).
type Store struct {
	API       API
	Table     string
	Retention time.Duration // default DefaultRetention
	Now       func() time.Time
}

func key(tenantID, phoneNumberID, input string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{
		Value: "contact#" + tenantID + "#" + phoneNumberID + "#" + input}}
}

// ItemKey is the key of input's mapping on a tenant's number, for a
// caller that reads it with other items in one BatchGetItem.
func ItemKey(tenantID, phoneNumberID, input string) map[string]ddbtypes.AttributeValue {
	return key(tenantID, phoneNumberID, input)
}

// Get returns the mapping of input on a tenant's number, and whether there
// is one (an expired one, not yet removed by TTL, is none).
func (s *Store) Get(ctx context.Context, tenantID, phoneNumberID, input string) (Mapping, bool, error) {
	out, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table),
		Key: key(tenantID, phoneNumberID, input)})
	if err != nil {
		return Mapping{}, false, fault.Retryable(fmt.Errorf("read recipient identity on %s: %w", phoneNumberID, err))
	}
	m, ok := s.MappingOf(out.Item)
	return m, ok, nil
}

// MappingOf reads a mapping item (as GetItem or BatchGetItem returned it;
// nil when there is none) as Get does.
func (s *Store) MappingOf(item map[string]ddbtypes.AttributeValue) (Mapping, bool) {
	id, _ := item["identity"].(*ddbtypes.AttributeValueMemberS)
	if id == nil || id.Value == "" {
		return Mapping{}, false
	}
	if exp := unix(item["expires_at"]); !exp.IsZero() && exp.Before(s.now()) {
		return Mapping{}, false
	}
	return Mapping{Identity: id.Value, UpdatedAt: unix(item["updated_at"])}, true
}

// Put records that input resolves to identity on a tenant's number.
func (s *Store) Put(ctx context.Context, tenantID, phoneNumberID, input, identity string) error {
	now := s.now()
	e, err := expression.NewBuilder().WithUpdate(
		expression.Set(expression.Name("identity"), expression.Value(identity)).
			Set(expression.Name("updated_at"), expression.Value(num(now))).
			Set(expression.Name("expires_at"), expression.Value(num(now.Add(s.retention()))))).Build()
	if err != nil {
		return fault.PermanentErr(fmt.Errorf("record recipient identity on %s: build expression: %w", phoneNumberID, err))
	}
	_, err = s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: key(tenantID, phoneNumberID, input),
		UpdateExpression:          e.Update(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	if err != nil {
		return fault.Retryable(fmt.Errorf("record recipient identity on %s: %w", phoneNumberID, err))
	}
	return nil
}

// Variants lists the other forms Meta's wa_id may take for a phone number
// (digits only), most likely first: a Brazilian mobile number with and
// without the ninth digit (55 AA 9XXXXXXXX ↔ 55 AA XXXXXXXX, where an
// 8-digit mobile number starts with 6 to 9), a Mexican mobile number with
// and without the 1 after the country code (52 1 XXXXXXXXXX ↔ 52
// XXXXXXXXXX). Other numbers have none.
func Variants(digits string) []string {
	if !allDigits(digits) {
		return nil
	}
	switch {
	case strings.HasPrefix(digits, "55") && len(digits) >= 5 && digits[2] != '0' && digits[3] != '0':
		switch {
		case len(digits) == 13 && digits[4] == '9' && digits[5] >= '6':
			return []string{digits[:4] + digits[5:]}
		case len(digits) == 12 && digits[4] >= '6':
			return []string{digits[:4] + "9" + digits[4:]}
		}
	case strings.HasPrefix(digits, "52"):
		switch {
		case len(digits) == 13 && digits[2] == '1':
			return []string{"52" + digits[3:]}
		case len(digits) == 12:
			return []string{"521" + digits[2:]}
		}
	}
	return nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func num(t time.Time) ddbtypes.AttributeValue {
	return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(t.Unix(), 10)}
}

func unix(v ddbtypes.AttributeValue) time.Time {
	n, ok := v.(*ddbtypes.AttributeValueMemberN)
	if !ok {
		return time.Time{}
	}
	sec, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(sec, 0)
}

func (s *Store) retention() time.Duration {
	if s.Retention > 0 {
		return s.Retention
	}
	return DefaultRetention
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
