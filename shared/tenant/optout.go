package tenant

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/fault"
)

// OptOut is a tenant's opt-out settings, kept on its tenant item so the
// inbound function, which reads the tenant for every message anyway, has
// them without another call. The zero value (or none stored) is the
// defaults: package suppression's DefaultKeywords and DefaultReply.
type OptOut struct {
	// Disabled turns stop keywords off: inbound texts are never matched
	// (the core keeps the list through the API alone).
	Disabled bool `dynamodbav:"disabled,omitempty" json:"disabled"`
	// Keywords replace the default stop keywords when not empty.
	Keywords []string `dynamodbav:"keywords,omitempty" json:"keywords"`
	// Reply is the confirmation sent to a contact who opted out; empty:
	// the default, in the language of the keyword.
	Reply string `dynamodbav:"reply,omitempty" json:"reply"`
}

// OptOutSettings returns a registered tenant's opt-out settings (nil: the
// defaults), read from the table, not the cache, and strongly consistent:
// a change SetOptOut made a moment ago, on any instance, is there. A tenant
// not registered is an error wrapping ErrNotFound.
func (r *Registry) OptOutSettings(ctx context.Context, tenantID string) (*OptOut, error) {
	proj, err := expression.NewBuilder().WithProjection(expression.NamesList(expression.Name("pk"), expression.Name("opt_out"))).Build()
	if err != nil {
		return nil, fault.PermanentErr(fmt.Errorf("read opt-out settings of tenant %s: build expression: %w", tenantID, err))
	}
	out, err := r.API.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(r.Table),
		Key:                      map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: prefixTenant + tenantID}},
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     proj.Projection(),
		ExpressionAttributeNames: proj.Names(),
	})
	if err != nil {
		return nil, fault.Retryable(fmt.Errorf("read opt-out settings of tenant %s: %w", tenantID, err))
	}
	if len(out.Item) == 0 {
		return nil, fmt.Errorf("read opt-out settings of tenant %s: %w", tenantID, ErrNotFound)
	}
	var it struct {
		OptOut *OptOut `dynamodbav:"opt_out"`
	}
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, fault.PermanentErr(fmt.Errorf("read opt-out settings of tenant %s: decode: %w", tenantID, err))
	}
	return it.OptOut, nil
}

// SetOptOut replaces a registered tenant's opt-out settings (nil: back to
// the defaults). It updates that one attribute of the tenant item, and
// only while the tenant is registered (else an error wrapping
// ErrNotFound).
func (r *Registry) SetOptOut(ctx context.Context, tenantID string, o *OptOut) error {
	pk := prefixTenant + tenantID
	up := expression.Remove(expression.Name("opt_out"))
	if o != nil {
		av, err := attributevalue.Marshal(o)
		if err != nil {
			return fault.PermanentErr(fmt.Errorf("set opt-out settings of tenant %s: encode: %w", tenantID, err))
		}
		up = expression.Set(expression.Name("opt_out"), expression.Value(av))
	}
	e, err := expression.NewBuilder().WithUpdate(up).WithCondition(expression.AttributeExists(expression.Name("pk"))).Build()
	if err != nil {
		return fault.PermanentErr(fmt.Errorf("set opt-out settings of tenant %s: build expression: %w", tenantID, err))
	}
	_, err = r.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(r.Table),
		Key:                       map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}},
		UpdateExpression:          e.Update(),
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	r.forget(pk)
	var cf *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return fault.PermanentErr(fmt.Errorf("set opt-out settings of tenant %s: %w", tenantID, ErrNotFound))
	}
	if err != nil {
		return fault.Retryable(fmt.Errorf("set opt-out settings of tenant %s: %w", tenantID, err))
	}
	return nil
}
