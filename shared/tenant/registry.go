package tenant

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/fault"
)

// RegistryAPI is the part of the DynamoDB client Registry uses.
type RegistryAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Registry reads and writes the tenant registry table. It is safe for
// concurrent use.
//
// Lookups are cached for TTL, and a key found not registered for a tenth
// of it. Both caches are bounded (CacheSize found items, MissCacheSize
// missing keys; least recently used dropped first), so lookups of made-up
// ids cost no more memory than the bound, and never push a real tenant
// out. A found item past its TTL is kept, stale, as the record that its
// key exists: that is what Unknown tells apart.
type Registry struct {
	API   RegistryAPI
	Table string
	TTL   time.Duration
	Now   func() time.Time
	// CacheSize and MissCacheSize bound the caches (DefaultCacheSize,
	// DefaultMissCacheSize when 0).
	CacheSize, MissCacheSize int
	// Unknown, when set, bounds the DynamoDB reads for keys this Registry
	// has not seen exist (neither cached nor stale): a lookup that would
	// read one and finds the budget spent fails with ErrBusy, without a
	// call. Refreshing a key seen before is never refused. It is for a
	// caller that looks up ids from unauthenticated requests (the webhook
	// route), so that random ids cost a bounded number of reads.
	Unknown *LookupBudget

	mu     sync.Mutex
	found  *lru
	absent *lru
}

// ErrBusy is returned (retryable) when a lookup was refused because the
// Registry's Unknown budget was spent; nothing was read.
var ErrBusy = errors.New("lookup budget for unknown keys spent")

// Key prefixes of the registry's items.
const (
	prefixTenant = "tenant#"
	prefixPhone  = "phone#"
	prefixWABA   = "waba#"
)

type wabaItem struct {
	WABAID   string `dynamodbav:"waba_id"`
	TenantID string `dynamodbav:"tenant_id"`
}

// Tenant returns the tenant with id, or an error wrapping ErrNotFound.
func (r *Registry) Tenant(ctx context.Context, id string) (Tenant, error) {
	var t Tenant
	if err := r.get(ctx, prefixTenant+id, &t); err != nil {
		return Tenant{}, fmt.Errorf("look up tenant %s: %w", id, err)
	}
	return t, nil
}

// Number returns the registered business number, or an error wrapping ErrNotFound.
func (r *Registry) Number(ctx context.Context, phoneNumberID string) (Number, error) {
	var n Number
	if err := r.get(ctx, prefixPhone+phoneNumberID, &n); err != nil {
		return Number{}, fmt.Errorf("look up phone number %s: %w", phoneNumberID, err)
	}
	return n, nil
}

// TenantOfWABA returns the id of the tenant that owns a WABA.
func (r *Registry) TenantOfWABA(ctx context.Context, wabaID string) (string, error) {
	var w wabaItem
	if err := r.get(ctx, prefixWABA+wabaID, &w); err != nil {
		return "", fmt.Errorf("look up WABA %s: %w", wabaID, err)
	}
	return w.TenantID, nil
}

// Put writes a tenant and its numbers in one transaction. numbers are the
// tenant's whole set: a number or WABA the stored tenant lists and numbers
// no longer holds is removed from the registry in the same transaction. A
// number or WABA already registered to another tenant makes it fail: a
// number belongs to one tenant only.
func (r *Registry) Put(ctx context.Context, t Tenant, numbers []Number) error {
	if err := CheckID(t.ID); err != nil {
		return fmt.Errorf("put tenant: %w", err)
	}
	if t.Status == "" {
		t.Status = StatusActive
	}
	var prev Tenant
	if _, err := r.fresh(ctx, prefixTenant+t.ID, &prev); err != nil {
		return fmt.Errorf("put tenant %s: %w", t.ID, err)
	}
	t.PhoneNumbers, t.WABAIDs = nil, nil
	if t.OptOut == nil {
		// Settings are changed by SetOptOut, not by rewriting the tenant.
		t.OptOut = prev.OptOut
	}
	owned, err := ownedCondition(t.ID)
	if err != nil {
		return fault.PermanentErr(fmt.Errorf("put tenant %s: build condition: %w", t.ID, err))
	}
	seenNumber, seenWABA := map[string]bool{}, map[string]bool{}
	var items []ddbtypes.TransactWriteItem
	for _, n := range numbers {
		if n.PhoneNumberID == "" {
			return fault.Invalidf("put tenant %s: number without phone_number_id", t.ID)
		}
		if seenNumber[n.PhoneNumberID] {
			return fault.Invalidf("put tenant %s: number %s listed twice", t.ID, n.PhoneNumberID)
		}
		seenNumber[n.PhoneNumberID] = true
		n.TenantID = t.ID
		t.PhoneNumbers = append(t.PhoneNumbers, n.PhoneNumberID)
		item, err := r.item(prefixPhone+n.PhoneNumberID, n)
		if err != nil {
			return err
		}
		items = append(items, r.ownedPut(item, owned))
		if n.WABAID != "" && !seenWABA[n.WABAID] {
			seenWABA[n.WABAID] = true
			t.WABAIDs = append(t.WABAIDs, n.WABAID)
			w, err := r.item(prefixWABA+n.WABAID, wabaItem{WABAID: n.WABAID, TenantID: t.ID})
			if err != nil {
				return err
			}
			items = append(items, r.ownedPut(w, owned))
		}
	}
	// Stale items: what the tenant had and no longer lists.
	var stale []string
	for _, n := range prev.PhoneNumbers {
		if !seenNumber[n] {
			stale = append(stale, prefixPhone+n)
		}
	}
	for _, w := range prev.WABAIDs {
		if !seenWABA[w] {
			stale = append(stale, prefixWABA+w)
		}
	}
	for _, pk := range stale {
		del, err := r.ownedDelete(pk, t.ID)
		if err != nil {
			return err
		}
		items = append(items, del)
	}
	ti, err := r.item(prefixTenant+t.ID, t)
	if err != nil {
		return err
	}
	items = append(items, ddbtypes.TransactWriteItem{Put: &ddbtypes.Put{TableName: aws.String(r.Table), Item: ti}})
	if err := r.transact(ctx, "put tenant "+t.ID, items); err != nil {
		return err
	}
	r.forget(prefixTenant + t.ID)
	for _, n := range t.PhoneNumbers {
		r.forget(prefixPhone + n)
	}
	for _, w := range t.WABAIDs {
		r.forget(prefixWABA + w)
	}
	for _, pk := range stale {
		r.forget(pk)
	}
	return nil
}

// SetStatus enables or disables a tenant.
func (r *Registry) SetStatus(ctx context.Context, id, status string) error {
	t, err := r.Tenant(ctx, id)
	if err != nil {
		return err
	}
	t.Status = status
	item, err := r.item(prefixTenant+id, t)
	if err != nil {
		return err
	}
	if _, err := r.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(r.Table), Item: item}); err != nil {
		return fmt.Errorf("set tenant %s status: %w", id, err)
	}
	r.forget(prefixTenant + id)
	return nil
}

// SetThroughput records a number's messages-per-second limit, up or down.
// It updates that one attribute of the stored item, and only while the
// number is registered: a concurrent change of the number's other fields
// stays, and a number deleted meanwhile is not written back (an error
// wrapping ErrNotFound).
func (r *Registry) SetThroughput(ctx context.Context, phoneNumberID string, perSecond int) error {
	if perSecond <= 0 {
		return fault.Invalidf("set throughput of %s: %d messages per second", phoneNumberID, perSecond)
	}
	return r.setNumberAttr(ctx, phoneNumberID, "throughput", perSecond)
}

// SetOnBizApp records whether a number is shared with the WhatsApp
// Business app (coexistence), with SetThroughput's conditions.
func (r *Registry) SetOnBizApp(ctx context.Context, phoneNumberID string, on bool) error {
	return r.setNumberAttr(ctx, phoneNumberID, "on_biz_app", on)
}

// setNumberAttr sets one attribute of a registered number's item.
func (r *Registry) setNumberAttr(ctx context.Context, phoneNumberID, name string, value any) error {
	pk := prefixPhone + phoneNumberID
	e, err := expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name(name), expression.Value(value))).
		WithCondition(expression.AttributeExists(expression.Name("pk"))).
		Build()
	if err != nil {
		return fault.PermanentErr(fmt.Errorf("set %s of %s: build expression: %w", name, phoneNumberID, err))
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
		return fault.PermanentErr(fmt.Errorf("set %s of %s: %w", name, phoneNumberID, ErrNotFound))
	}
	if err != nil {
		return fault.Retryable(fmt.Errorf("set %s of %s: %w", name, phoneNumberID, err))
	}
	return nil
}

// List returns every tenant.
func (r *Registry) List(ctx context.Context) ([]Tenant, error) {
	var out []Tenant
	var start map[string]ddbtypes.AttributeValue
	tenants, err := expression.NewBuilder().WithFilter(expression.BeginsWith(expression.Name("pk"), prefixTenant)).Build()
	if err != nil {
		return nil, fault.PermanentErr(fmt.Errorf("list tenants: build filter: %w", err))
	}
	for {
		page, err := r.API.Scan(ctx, &dynamodb.ScanInput{
			TableName:                 aws.String(r.Table),
			FilterExpression:          tenants.Filter(),
			ExpressionAttributeNames:  tenants.Names(),
			ExpressionAttributeValues: tenants.Values(),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		for _, it := range page.Items {
			var t Tenant
			if err := attributevalue.UnmarshalMap(it, &t); err != nil {
				return nil, fmt.Errorf("list tenants: decode: %w", err)
			}
			out = append(out, t)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		start = page.LastEvaluatedKey
	}
}

// ownedCondition holds when a key is free or belongs to tenantID.
func ownedCondition(tenantID string) (expression.Expression, error) {
	return expression.NewBuilder().WithCondition(
		expression.AttributeNotExists(expression.Name("pk")).Or(
			expression.Name("tenant_id").Equal(expression.Value(tenantID)))).Build()
}

// ownedPut writes item unless the key belongs to another tenant; owned is
// ownedCondition's.
func (r *Registry) ownedPut(item map[string]ddbtypes.AttributeValue, owned expression.Expression) ddbtypes.TransactWriteItem {
	return ddbtypes.TransactWriteItem{Put: &ddbtypes.Put{
		TableName:                 aws.String(r.Table),
		Item:                      item,
		ConditionExpression:       owned.Condition(),
		ExpressionAttributeNames:  owned.Names(),
		ExpressionAttributeValues: owned.Values(),
	}}
}

func (r *Registry) item(pk string, v any) (map[string]ddbtypes.AttributeValue, error) {
	item, err := attributevalue.MarshalMap(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", pk, err)
	}
	item["pk"] = &ddbtypes.AttributeValueMemberS{Value: pk}
	return item, nil
}

func (r *Registry) get(ctx context.Context, pk string, out any) error {
	item, err := r.lookup(ctx, pk)
	if err != nil {
		return err
	}
	if item == nil {
		return ErrNotFound
	}
	if err := attributevalue.UnmarshalMap(item, out); err != nil {
		return fault.PermanentErr(fmt.Errorf("decode %s: %w", pk, err))
	}
	return nil
}

func (r *Registry) lookup(ctx context.Context, pk string) (map[string]ddbtypes.AttributeValue, error) {
	now := r.now()
	r.mu.Lock()
	r.init()
	e, known := r.found.get(pk)
	if known && now.Before(e.expires) {
		r.mu.Unlock()
		return e.item, nil
	}
	if !known {
		if m, ok := r.absent.get(pk); ok && now.Before(m.expires) {
			r.mu.Unlock()
			return nil, nil
		}
	}
	r.mu.Unlock()
	if !known && r.Unknown != nil && !r.Unknown.take(now) {
		return nil, fault.Retryable(ErrBusy)
	}
	out, err := r.API.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(r.Table),
		Key:       map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}},
	})
	if err != nil {
		return nil, fault.Retryable(err)
	}
	r.mu.Lock()
	if out.Item == nil {
		r.found.remove(pk)
		r.absent.put(pk, nil, now.Add(r.ttl()/10))
	} else {
		r.absent.remove(pk)
		r.found.put(pk, out.Item, now.Add(r.ttl()))
	}
	r.mu.Unlock()
	return out.Item, nil
}

// forget makes the next lookup of pk read DynamoDB. A found key stays
// known (stale), so that reading it again is never refused by Unknown.
func (r *Registry) forget(pk string) {
	r.mu.Lock()
	r.init()
	if e, ok := r.found.get(pk); ok {
		r.found.put(pk, e.item, time.Time{})
	}
	r.absent.remove(pk)
	r.mu.Unlock()
}

// init creates the caches; r.mu is held.
func (r *Registry) init() {
	if r.found != nil {
		return
	}
	r.found = newLRU(cmp.Or(r.CacheSize, DefaultCacheSize))
	r.absent = newLRU(cmp.Or(r.MissCacheSize, DefaultMissCacheSize))
}

// cached returns how many found and missing keys r holds.
func (r *Registry) cached() (found, missing int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	return r.found.len(), r.absent.len()
}

func (r *Registry) ttl() time.Duration {
	if r.TTL > 0 {
		return r.TTL
	}
	return time.Minute
}

func (r *Registry) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}
