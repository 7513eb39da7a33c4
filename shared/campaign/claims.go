package campaign

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

// ClaimTTL is how long a recipient claim is kept (DynamoDB's TTL removes
// it after): longer than any campaign runs.
const ClaimTTL = 60 * 24 * time.Hour

// PutAPI is the part of the DynamoDB client Claims uses.
type PutAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Claims records, in the state table, which row of a campaign first named
// each recipient (pk "campaign#{tenant_id}#{campaign_id}#{recipient}"),
// so a recipient listed twice is sent once, by whichever run reads the
// rows. It is safe for concurrent use; errors are retryable.
type Claims struct {
	API   PutAPI
	Table string
	Now   func() time.Time
}

// Claim claims recipient for row; first is false when an earlier (other)
// row holds it. Claiming the same row again (a restart) is true.
func (c *Claims) Claim(ctx context.Context, tenantID, campaignID, recipient string, row int64) (first bool, err error) {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	e := dynamoexpr.New()
	cond := dynamoexpr.Or(e.NotExists("pk"), e.Compare("row", "=", e.N(row)))
	_, err = c.API.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(c.Table),
		Item: map[string]ddbtypes.AttributeValue{
			"pk":         &ddbtypes.AttributeValueMemberS{Value: "campaign#" + tenantID + "#" + campaignID + "#" + recipient},
			"row":        &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(row, 10)},
			"expires_at": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(ClaimTTL).Unix(), 10)},
		},
		ConditionExpression: aws.String(cond), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
	})
	var cf *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return false, nil
	}
	if err != nil {
		return false, fault.Retryable(fmt.Errorf("claim row %d's recipient of campaign %s: %w", row, campaignID, err))
	}
	return true, nil
}
