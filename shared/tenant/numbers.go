package tenant

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/fault"
)

// RemoveNumber takes a business number away from its tenant: the number's
// item goes, and its WABA's too when no other number of the tenant is in
// it, in one transaction with the tenant's updated lists. It returns the
// number as it was. Errors wrap ErrNotFound when the number is not
// registered to tenantID.
func (r *Registry) RemoveNumber(ctx context.Context, tenantID, phoneNumberID string) (Number, error) {
	op := fmt.Sprintf("remove number %s from tenant %s", phoneNumberID, tenantID)
	var n Number
	var t Tenant
	if err := r.mustFresh(ctx, prefixPhone+phoneNumberID, &n); err != nil {
		return Number{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := r.mustFresh(ctx, prefixTenant+tenantID, &t); err != nil {
		return Number{}, fmt.Errorf("%s: %w", op, err)
	}
	if n.TenantID != tenantID || !slices.Contains(t.PhoneNumbers, phoneNumberID) {
		return Number{}, fault.PermanentErr(fmt.Errorf("%s: the number belongs to tenant %q: %w", op, n.TenantID, ErrNotFound))
	}
	rest, err := r.listedNumbers(ctx, tenantID, without(t.PhoneNumbers, phoneNumberID))
	if err != nil {
		return Number{}, fmt.Errorf("%s: %w", op, err)
	}
	t.PhoneNumbers = without(t.PhoneNumbers, phoneNumberID)
	pks := []string{prefixPhone + phoneNumberID}
	if n.WABAID != "" && !usesWABA(rest, n.WABAID) {
		t.WABAIDs = without(t.WABAIDs, n.WABAID)
		pks = append(pks, prefixWABA+n.WABAID)
	}
	var items []ddbtypes.TransactWriteItem
	for _, pk := range pks {
		del, err := r.ownedDelete(pk, tenantID)
		if err != nil {
			return Number{}, err
		}
		items = append(items, del)
	}
	put, err := r.tenantPut(t)
	if err != nil {
		return Number{}, err
	}
	if err := r.transact(ctx, op, append(items, put)); err != nil {
		return Number{}, err
	}
	r.forget(prefixTenant + tenantID)
	for _, pk := range pks {
		r.forget(pk)
	}
	return n, nil
}

// MoveNumbers gives business numbers of one tenant to another registered
// tenant, with their WABAs, in one transaction. A WABA belongs to one
// tenant (Meta's account webhooks are routed by it), so every number of
// the source tenant in a moved number's WABA must move too. The numbers
// keep their other fields (throughput, display number). It returns the
// source tenant's id.
func (r *Registry) MoveNumbers(ctx context.Context, toTenant string, phoneNumberIDs ...string) (string, error) {
	op := fmt.Sprintf("move numbers %s to tenant %s", strings.Join(phoneNumberIDs, ","), toTenant)
	if len(phoneNumberIDs) == 0 {
		return "", fault.Invalidf("%s: no number given", op)
	}
	moving, err := r.freshNumbers(ctx, phoneNumberIDs)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	fromID := moving[0].TenantID
	for _, n := range moving {
		if n.TenantID != fromID {
			return "", fault.Invalidf("%s: the numbers belong to different tenants (%s, %s)", op, fromID, n.TenantID)
		}
	}
	if fromID == toTenant {
		return "", fault.Invalidf("%s: they belong to tenant %s already", op, toTenant)
	}
	var from, to Tenant
	if err := r.mustFresh(ctx, prefixTenant+fromID, &from); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	if err := r.mustFresh(ctx, prefixTenant+toTenant, &to); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	rest := from.PhoneNumbers
	for _, id := range phoneNumberIDs {
		rest = without(rest, id)
	}
	staying, err := r.listedNumbers(ctx, fromID, rest)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	var wabas []string
	for _, n := range moving {
		if n.WABAID == "" || slices.Contains(wabas, n.WABAID) {
			continue
		}
		if usesWABA(staying, n.WABAID) {
			var also []string
			for _, s := range staying {
				if s.WABAID == n.WABAID {
					also = append(also, s.PhoneNumberID)
				}
			}
			return "", fault.Invalidf("%s: WABA %s also holds number(s) %s of tenant %s; a WABA belongs to one tenant, so move them together",
				op, n.WABAID, strings.Join(also, ","), fromID)
		}
		wabas = append(wabas, n.WABAID)
	}

	fromOwned, err := ownedBy(fromID)
	if err != nil {
		return "", err
	}
	var items []ddbtypes.TransactWriteItem
	for _, n := range moving {
		n.TenantID = toTenant
		item, err := r.item(prefixPhone+n.PhoneNumberID, n)
		if err != nil {
			return "", err
		}
		items = append(items, r.ownedPut(item, fromOwned))
		to.PhoneNumbers = append(to.PhoneNumbers, n.PhoneNumberID)
	}
	for _, w := range wabas {
		item, err := r.item(prefixWABA+w, wabaItem{WABAID: w, TenantID: toTenant})
		if err != nil {
			return "", err
		}
		items = append(items, r.ownedPut(item, fromOwned))
		from.WABAIDs = without(from.WABAIDs, w)
		if !slices.Contains(to.WABAIDs, w) {
			to.WABAIDs = append(to.WABAIDs, w)
		}
	}
	from.PhoneNumbers = rest
	for _, t := range []Tenant{from, to} {
		put, err := r.tenantPut(t)
		if err != nil {
			return "", err
		}
		items = append(items, put)
	}
	if err := r.transact(ctx, op, items); err != nil {
		return "", err
	}
	r.forget(prefixTenant + fromID)
	r.forget(prefixTenant + toTenant)
	for _, id := range phoneNumberIDs {
		r.forget(prefixPhone + id)
	}
	for _, w := range wabas {
		r.forget(prefixWABA + w)
	}
	return fromID, nil
}

// tenantPut rewrites a stored tenant's item, provided it still exists.
func (r *Registry) tenantPut(t Tenant) (ddbtypes.TransactWriteItem, error) {
	item, err := r.item(prefixTenant+t.ID, t)
	if err != nil {
		return ddbtypes.TransactWriteItem{}, err
	}
	owned, err := ownedBy(t.ID)
	if err != nil {
		return ddbtypes.TransactWriteItem{}, err
	}
	return r.ownedPut(item, owned), nil
}

// ownedBy holds when the item exists and belongs to tenantID.
func ownedBy(tenantID string) (expression.Expression, error) {
	e, err := expression.NewBuilder().WithCondition(expression.Name("tenant_id").Equal(expression.Value(tenantID))).Build()
	if err != nil {
		return e, fault.PermanentErr(fmt.Errorf("build ownership condition of tenant %s: %w", tenantID, err))
	}
	return e, nil
}

// ownedDelete deletes pk if it belongs to tenantID.
func (r *Registry) ownedDelete(pk, tenantID string) (ddbtypes.TransactWriteItem, error) {
	owned, err := ownedBy(tenantID)
	if err != nil {
		return ddbtypes.TransactWriteItem{}, err
	}
	return ddbtypes.TransactWriteItem{Delete: &ddbtypes.Delete{
		TableName:                 aws.String(r.Table),
		Key:                       map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}},
		ConditionExpression:       owned.Condition(),
		ExpressionAttributeNames:  owned.Names(),
		ExpressionAttributeValues: owned.Values(),
	}}, nil
}

// transact runs a registry transaction. A refused condition is permanent:
// an item belongs to another tenant, or changed or vanished meanwhile.
func (r *Registry) transact(ctx context.Context, op string, items []ddbtypes.TransactWriteItem) error {
	_, err := r.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var tc *ddbtypes.TransactionCanceledException
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tc):
		return fault.PermanentErr(fmt.Errorf("%s: an item belongs to another tenant, or changed or vanished meanwhile: %w", op, err))
	default:
		return fault.Retryable(fmt.Errorf("%s: %w", op, err))
	}
}

// fresh reads pk from the table, not the cache, into out; false when absent.
func (r *Registry) fresh(ctx context.Context, pk string, out any) (bool, error) {
	res, err := r.API.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(r.Table),
		Key:            map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, fault.Retryable(fmt.Errorf("read %s: %w", pk, err))
	}
	if res.Item == nil {
		return false, nil
	}
	if err := attributevalue.UnmarshalMap(res.Item, out); err != nil {
		return false, fault.PermanentErr(fmt.Errorf("decode %s: %w", pk, err))
	}
	return true, nil
}

// mustFresh is fresh for an item that must exist (else ErrNotFound).
func (r *Registry) mustFresh(ctx context.Context, pk string, out any) error {
	ok, err := r.fresh(ctx, pk, out)
	if err == nil && !ok {
		err = fault.PermanentErr(fmt.Errorf("%s: %w", pk, ErrNotFound))
	}
	return err
}

// freshNumbers reads numbers that must exist.
func (r *Registry) freshNumbers(ctx context.Context, ids []string) ([]Number, error) {
	out := make([]Number, 0, len(ids))
	for _, id := range ids {
		var n Number
		if err := r.mustFresh(ctx, prefixPhone+id, &n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// listedNumbers reads the numbers a tenant item lists that are still
// registered to it; a listed number gone or owned by another tenant
// is no longer the tenant's.
func (r *Registry) listedNumbers(ctx context.Context, tenantID string, ids []string) ([]Number, error) {
	out := make([]Number, 0, len(ids))
	for _, id := range ids {
		var n Number
		ok, err := r.fresh(ctx, prefixPhone+id, &n)
		if err != nil {
			return nil, err
		}
		if ok && n.TenantID == tenantID {
			out = append(out, n)
		}
	}
	return out, nil
}

func usesWABA(ns []Number, waba string) bool {
	for _, n := range ns {
		if n.WABAID == waba {
			return true
		}
	}
	return false
}

func without(list []string, v string) []string {
	var out []string
	for _, x := range list {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}
