package tenant

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/fault"
)

// Delete removes a tenant and the number and WABA items it owns, in one
// transaction; an item another tenant owns is left alone (the
// transaction fails instead). It returns the deleted tenant, whose
// SecretID names the credentials the caller may delete next. ErrNotFound
// when the tenant is not registered.
func (r *Registry) Delete(ctx context.Context, id string) (Tenant, error) {
	var t Tenant
	r.forget(prefixTenant + id) // decide on the stored item, not a cached copy
	if err := r.get(ctx, prefixTenant+id, &t); err != nil {
		return Tenant{}, err
	}
	owned, err := expression.NewBuilder().WithCondition(
		expression.Name("tenant_id").Equal(expression.Value(id)),
	).Build()
	if err != nil {
		return Tenant{}, fault.Invalidf("delete tenant %s: build condition: %v", id, err)
	}
	del := func(pk string) ddbtypes.TransactWriteItem {
		return ddbtypes.TransactWriteItem{Delete: &ddbtypes.Delete{
			TableName:                 aws.String(r.Table),
			Key:                       map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}},
			ConditionExpression:       owned.Condition(),
			ExpressionAttributeNames:  owned.Names(),
			ExpressionAttributeValues: owned.Values(),
		}}
	}
	items := []ddbtypes.TransactWriteItem{del(prefixTenant + id)}
	for _, n := range t.PhoneNumbers {
		items = append(items, del(prefixPhone+n))
	}
	for _, w := range t.WABAIDs {
		items = append(items, del(prefixWABA+w))
	}
	if _, err := r.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		var tc *ddbtypes.TransactionCanceledException
		if errors.As(err, &tc) {
			return Tenant{}, fault.PermanentErr(fmt.Errorf("delete tenant %s: an item changed owner or vanished meanwhile: %w", id, err))
		}
		return Tenant{}, fault.Retryable(fmt.Errorf("delete tenant %s: %w", id, err))
	}
	r.forget(prefixTenant + id)
	for _, n := range t.PhoneNumbers {
		r.forget(prefixPhone + n)
	}
	for _, w := range t.WABAIDs {
		r.forget(prefixWABA + w)
	}
	return t, nil
}
