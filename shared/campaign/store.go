package campaign

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/campaign/tally"
	"github.com/tucanlink/wacloud/shared/fault"
)

// Errors Store returns (wrapped).
var (
	ErrNotFound = errors.New("no such campaign")
	// ErrState: the campaign is not in a state the change starts from.
	ErrState = errors.New("the campaign's state does not allow it")
	// ErrExists: a campaign with that id exists already.
	ErrExists = errors.New("campaign exists")
	// ErrLease: another runner holds the campaign's lease, or this
	// runner's lease or checkpoint is not the stored one any more.
	ErrLease = errors.New("campaign lease lost")
)

// API is the part of the DynamoDB client Store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Store reads and writes the campaigns table (pk tenant#{tenant_id}, sk
// campaign#{id}): a tenant's campaigns live under its own partition key,
// so no read by a tenant and an id can reach another tenant's. Their
// message counts are in tally shards, each under a partition key of its
// own that begins with the tenant's (tally.Key). It is
// safe for concurrent use. DynamoDB failures are retryable; ErrNotFound,
// ErrState and ErrExists permanent; ErrLease permanent for the caller
// (another runner goes on).
type Store struct {
	API   API
	Table string
	Now   func() time.Time
}

func key(tenantID, id string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: "tenant#" + tenantID},
		"sk": &ddbtypes.AttributeValueMemberS{Value: "campaign#" + id},
	}
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Create stores a new campaign; the error wraps ErrExists, with the
// stored campaign returned, when its id is taken.
func (s *Store) Create(ctx context.Context, c Campaign) (Campaign, error) {
	item, err := attributevalue.MarshalMap(c)
	if err != nil {
		return Campaign{}, fault.PermanentErr(fmt.Errorf("create campaign %s of tenant %s: encode: %w", c.ID, c.TenantID, err))
	}
	counts, err := attributevalue.MarshalMap(c.Counts)
	if err != nil {
		return Campaign{}, fault.PermanentErr(fmt.Errorf("create campaign %s: encode counts: %w", c.ID, err))
	}
	for k, v := range counts {
		item[k] = v
	}
	for k, v := range key(c.TenantID, c.ID) {
		item[k] = v
	}
	e, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk"))).Build()
	if err != nil {
		return Campaign{}, fault.PermanentErr(fmt.Errorf("create campaign %s: build expression: %w", c.ID, err))
	}
	_, err = s.API.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table), Item: item,
		ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(),
	})
	var cf *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		old, gerr := s.Get(ctx, c.TenantID, c.ID)
		if gerr != nil {
			return Campaign{}, gerr
		}
		return old, fault.PermanentErr(fmt.Errorf("create campaign %s of tenant %s: %w", c.ID, c.TenantID, ErrExists))
	}
	if err != nil {
		return Campaign{}, fault.Retryable(fmt.Errorf("create campaign %s of tenant %s: %w", c.ID, c.TenantID, err))
	}
	return c, nil
}

// Get returns the tenant's campaign with its message counts (summed
// over its tally shards); the error wraps ErrNotFound when the tenant
// has no campaign id.
func (s *Store) Get(ctx context.Context, tenantID, id string) (Campaign, error) {
	all, err := s.query(ctx, tenantID, "campaign#"+id)
	if err != nil {
		return Campaign{}, fmt.Errorf("get campaign %s: %w", id, err)
	}
	for _, c := range all {
		if c.ID == id {
			return c, nil
		}
	}
	return Campaign{}, fault.PermanentErr(fmt.Errorf("get campaign %s of tenant %s: %w", id, tenantID, ErrNotFound))
}

// Totals returns the campaign's message counts, summed over its tally
// shards (and the earlier layout's, tally.LegacySK).
func (s *Store) Totals(ctx context.Context, tenantID, id string) (tally.Totals, error) {
	totals := map[string]*tally.Totals{id: {}}
	if err := s.shards(ctx, tenantID, []string{id}, totals); err != nil {
		return tally.Totals{}, fmt.Errorf("count messages of campaign %s: %w", id, err)
	}
	e, err := expression.NewBuilder().WithKeyCondition(expression.Key("pk").Equal(expression.Value("tenant#" + tenantID)).
		And(expression.Key("sk").BeginsWith(tally.LegacyPrefix(id)))).Build()
	if err != nil {
		return tally.Totals{}, fault.PermanentErr(fmt.Errorf("count messages of campaign %s: build expression: %w", id, err))
	}
	t := totals[id]
	var start map[string]ddbtypes.AttributeValue
	for {
		page, err := s.API.Query(ctx, &dynamodb.QueryInput{
			TableName: aws.String(s.Table), KeyConditionExpression: e.KeyCondition(), ConsistentRead: aws.Bool(true),
			ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(), ExclusiveStartKey: start,
		})
		if err != nil {
			return tally.Totals{}, fault.Retryable(fmt.Errorf("count messages of campaign %s: %w", id, err))
		}
		for _, item := range page.Items {
			t.Add(item)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return *t, nil
		}
		start = page.LastEvaluatedKey
	}
}

const (
	// shardReads is how many BatchGetItem calls reading count shards
	// run at once.
	shardReads = 4
	// maxBatchGet is the most keys one BatchGetItem takes.
	maxBatchGet = 100
	// unprocessedTries is how many times keys DynamoDB leaves unprocessed
	// are asked for before the read fails (retryable).
	unprocessedTries = 5
)

// shards reads the tally shards of campaigns ids and adds each to
// totals[id] (made when missing). A shard no message was counted in yet
// does not exist.
func (s *Store) shards(ctx context.Context, tenantID string, ids []string, totals map[string]*tally.Totals) error {
	var keys []map[string]ddbtypes.AttributeValue
	for _, id := range ids {
		keys = append(keys, tally.Keys(tenantID, id)...)
		if totals[id] == nil {
			totals[id] = &tally.Totals{}
		}
	}
	var mu sync.Mutex
	add := func(items []map[string]ddbtypes.AttributeValue) {
		mu.Lock()
		defer mu.Unlock()
		for _, item := range items {
			pk, _ := item["pk"].(*ddbtypes.AttributeValueMemberS)
			if pk == nil {
				continue
			}
			if id, ok := tally.CampaignOf(tenantID, pk.Value); ok && totals[id] != nil {
				totals[id].Add(item)
			}
		}
	}
	var wg sync.WaitGroup
	var first error
	slots := make(chan struct{}, shardReads)
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), maxBatchGet)]
		keys = keys[len(chunk):]
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			items, err := s.batchGet(ctx, chunk)
			add(items)
			if err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// batchGet reads keys (at most maxBatchGet) strongly consistently, asking
// again for what DynamoDB leaves unprocessed.
func (s *Store) batchGet(ctx context.Context, keys []map[string]ddbtypes.AttributeValue) ([]map[string]ddbtypes.AttributeValue, error) {
	var out []map[string]ddbtypes.AttributeValue
	for try := 1; ; try++ {
		res, err := s.API.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]ddbtypes.KeysAndAttributes{
			s.Table: {Keys: keys, ConsistentRead: aws.Bool(true)},
		}})
		if err != nil {
			return out, fault.Retryable(fmt.Errorf("read count shards: %w", err))
		}
		out = append(out, res.Responses[s.Table]...)
		keys = res.UnprocessedKeys[s.Table].Keys
		if len(keys) == 0 {
			return out, nil
		}
		if try == unprocessedTries {
			return out, fault.Retryable(fmt.Errorf("read count shards: %d keys left unprocessed %d times", len(keys), try))
		}
		select {
		case <-time.After(time.Duration(try*try) * 20 * time.Millisecond):
		case <-ctx.Done():
			return out, fault.Retryable(fmt.Errorf("read count shards: %w", ctx.Err()))
		}
	}
}

// WithTotals sets c's message counts to t.
func WithTotals(c Campaign, t tally.Totals) Campaign {
	c.Counts.Accepted, c.Counts.Sent, c.Counts.Delivered, c.Counts.Read, c.Counts.Failed = t.Accepted, t.Sent, t.Delivered, t.Read, t.Failed
	c.FailedByReason, c.Pricing = map[string]int64{}, map[string]int64{}
	for k, v := range t.FailedByReason {
		c.FailedByReason[k] = v
	}
	for k, v := range t.Pricing {
		c.Pricing[k] = v
	}
	return c
}

func (s *Store) record(ctx context.Context, tenantID, id string) (record, error) {
	out, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: key(tenantID, id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return record{}, fault.Retryable(fmt.Errorf("get campaign %s of tenant %s: %w", id, tenantID, err))
	}
	if len(out.Item) == 0 {
		return record{}, fault.PermanentErr(fmt.Errorf("get campaign %s of tenant %s: %w", id, tenantID, ErrNotFound))
	}
	return decode(out.Item)
}

// List returns the tenant's campaigns, newest first.
func (s *Store) List(ctx context.Context, tenantID string) ([]Campaign, error) {
	out, err := s.query(ctx, tenantID, "campaign#")
	if err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].CreatedAt != out[j].CreatedAt {
			return out[i].CreatedAt > out[j].CreatedAt
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// query reads the tenant's campaigns whose sort key begins with prefix,
// each with its message counts summed over its tally shards: the
// earlier layout's come with the campaigns (the same partition key), the
// others are read for the campaigns found.
func (s *Store) query(ctx context.Context, tenantID, prefix string) ([]Campaign, error) {
	e, err := expression.NewBuilder().WithKeyCondition(expression.Key("pk").Equal(expression.Value("tenant#" + tenantID)).
		And(expression.Key("sk").BeginsWith(prefix))).Build()
	if err != nil {
		return nil, fault.PermanentErr(fmt.Errorf("read campaigns of tenant %s: build expression: %w", tenantID, err))
	}
	out := []Campaign{}
	totals := map[string]*tally.Totals{}
	var start map[string]ddbtypes.AttributeValue
	for {
		page, err := s.API.Query(ctx, &dynamodb.QueryInput{
			TableName: aws.String(s.Table), KeyConditionExpression: e.KeyCondition(), ConsistentRead: aws.Bool(true),
			ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(), ExclusiveStartKey: start,
		})
		if err != nil {
			return nil, fault.Retryable(fmt.Errorf("read campaigns of tenant %s: %w", tenantID, err))
		}
		for _, raw := range page.Items {
			sk, _ := raw["sk"].(*ddbtypes.AttributeValueMemberS)
			if sk != nil {
				if id, ok := tally.ShardOf(sk.Value); ok {
					if totals[id] == nil {
						totals[id] = &tally.Totals{}
					}
					totals[id].Add(raw)
					continue
				}
			}
			r, err := decode(raw)
			if err != nil {
				return nil, err
			}
			out = append(out, r.Campaign)
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		start = page.LastEvaluatedKey
	}
	ids := make([]string, len(out))
	for i, c := range out {
		ids[i] = c.ID
	}
	if err := s.shards(ctx, tenantID, ids, totals); err != nil {
		return nil, fmt.Errorf("read campaigns of tenant %s: %w", tenantID, err)
	}
	for i, c := range out {
		if t := totals[c.ID]; t != nil {
			out[i] = WithTotals(c, *t)
		}
	}
	return out, nil
}

// Transition moves the campaign to state to when it is in one of from,
// and returns it as it is now; the error wraps ErrState (with the
// campaign as it is) when it is in another state, ErrNotFound when it
// does not exist.
func (s *Store) Transition(ctx context.Context, tenantID, id, to, reason string, from ...string) (Campaign, error) {
	states := make([]expression.OperandBuilder, 0, len(from))
	for _, f := range from {
		states = append(states, expression.Value(f))
	}
	cond := expression.AttributeExists(expression.Name("pk"))
	if len(states) > 0 {
		cond = cond.And(expression.Name("state").In(states[0], states[1:]...))
	}
	stamp := s.now().UTC().Format(time.RFC3339Nano)
	upd := expression.Set(expression.Name("state"), expression.Value(to)).
		Set(expression.Name("updated_at"), expression.Value(stamp)).
		Set(expression.Name("state_at"), expression.Value(stamp))
	if reason != "" {
		upd = upd.Set(expression.Name("reason"), expression.Value(reason))
	} else {
		upd = upd.Remove(expression.Name("reason"))
	}
	e, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return Campaign{}, fault.PermanentErr(fmt.Errorf("move campaign %s to %s: build expression: %w", id, to, err))
	}
	out, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: key(tenantID, id),
		ConditionExpression: e.Condition(), UpdateExpression: e.Update(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
		ReturnValues:                        ddbtypes.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var cf *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		if len(cf.Item) == 0 {
			// moto does not return the item; read it.
			c, gerr := s.Get(ctx, tenantID, id)
			if gerr != nil {
				return Campaign{}, gerr
			}
			return c, fault.PermanentErr(fmt.Errorf("move campaign %s from %s to %s: %w", id, c.State, to, ErrState))
		}
		r, derr := decode(cf.Item)
		if derr != nil {
			return Campaign{}, derr
		}
		return r.Campaign, fault.PermanentErr(fmt.Errorf("move campaign %s from %s to %s: %w", id, r.State, to, ErrState))
	}
	if err != nil {
		return Campaign{}, fault.Retryable(fmt.Errorf("move campaign %s of tenant %s to %s: %w", id, tenantID, to, err))
	}
	r, err := decode(out.Attributes)
	return r.Campaign, err
}

// record is a campaign with the runner's fields.
type record struct {
	Campaign
	Progress
}

// Progress is the runner's state of a campaign: its checkpoint (the next
// data row to read and its byte offset in the audience file), the CSV
// header read at the start, and the lease of the runner at work.
type Progress struct {
	Row        int64    `dynamodbav:"cp_row"`    // data rows done (0: none)
	Offset     int64    `dynamodbav:"cp_offset"` // where row Row+1 starts
	Header     []string `dynamodbav:"header,omitempty"`
	LeaseOwner string   `dynamodbav:"lease_owner,omitempty"`
	LeaseUntil int64    `dynamodbav:"lease_until,omitempty"` // unix ms
	// Started is set once campaign.started was published; Reported is
	// the StateAt of the last state whose event was published.
	Started  bool   `dynamodbav:"started,omitempty"`
	Reported string `dynamodbav:"reported,omitempty"`
}

func decode(item map[string]ddbtypes.AttributeValue) (record, error) {
	var r record
	if err := attributevalue.UnmarshalMap(item, &r.Campaign); err != nil {
		return record{}, fault.PermanentErr(fmt.Errorf("decode campaign: %w", err))
	}
	if err := attributevalue.UnmarshalMap(item, &r.Counts); err != nil {
		return record{}, fault.PermanentErr(fmt.Errorf("decode campaign counts: %w", err))
	}
	if err := attributevalue.UnmarshalMap(item, &r.Progress); err != nil {
		return record{}, fault.PermanentErr(fmt.Errorf("decode campaign progress: %w", err))
	}
	if r.FailedByReason == nil {
		r.FailedByReason = map[string]int64{}
	}
	if r.Pricing == nil {
		r.Pricing = map[string]int64{}
	}
	return r, nil
}

// MarkStarted records that campaign.started was published, which
// reports the running state entered at stateAt too.
func (s *Store) MarkStarted(ctx context.Context, tenantID, id, stateAt string) error {
	upd := expression.Set(expression.Name("started"), expression.Value(true))
	if stateAt != "" {
		upd = upd.Set(expression.Name("reported"), expression.Value(stateAt))
	}
	_, err := s.update(ctx, tenantID, id, "mark started", expression.AttributeExists(expression.Name("pk")), upd)
	return err
}

// MarkReported records that the event of the state entered at stateAt
// was published.
func (s *Store) MarkReported(ctx context.Context, tenantID, id, stateAt string) error {
	_, err := s.update(ctx, tenantID, id, "mark reported", expression.AttributeExists(expression.Name("pk")),
		expression.Set(expression.Name("reported"), expression.Value(stateAt)))
	return err
}
