package tokenhealth

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/fault"
)

// keepWarnings is how long a day's warning mark stays (TTL).
const keepWarnings = 3 * 24 * time.Hour

// WarnStore keeps the day's token warnings in the state table:
// "tokenwarn#{tenant_id}#{day}".
type WarnStore struct {
	API interface {
		GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
		PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	}
	Table string
}

func warnKey(tenantID, day string) string { return "tokenwarn#" + tenantID + "#" + day }

// Warned reports whether the tenant was warned on day.
func (s *WarnStore) Warned(ctx context.Context, tenantID, day string) (bool, error) {
	out, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.Table),
		Key:            map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: warnKey(tenantID, day)}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, fault.Retryable(fmt.Errorf("read token warning of tenant %s: %w", tenantID, err))
	}
	return len(out.Item) > 0, nil
}

// MarkWarned records the day's warning.
func (s *WarnStore) MarkWarned(ctx context.Context, tenantID, day string, at time.Time) error {
	_, err := s.API.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table),
		Item: map[string]ddbtypes.AttributeValue{
			"pk":         &ddbtypes.AttributeValueMemberS{Value: warnKey(tenantID, day)},
			"tenant_id":  &ddbtypes.AttributeValueMemberS{Value: tenantID},
			"warned_at":  &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(at.Unix(), 10)},
			"expires_at": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(at.Add(keepWarnings).Unix(), 10)},
		},
	})
	if err != nil {
		return fault.Retryable(fmt.Errorf("record token warning of tenant %s: %w", tenantID, err))
	}
	return nil
}
