package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/fault"
)

// ErrNotFound is returned (wrapped) for a template the catalog does not hold.
var ErrNotFound = errors.New("template not in the catalog")

// API is the part of the DynamoDB client Store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Store reads and writes the templates table. It is safe for concurrent
// use. Errors are classified with fault: DynamoDB failures retryable,
// ErrNotFound permanent.
type Store struct {
	API   API
	Table string
}

// item is a template as stored.
type item struct {
	PK              string `dynamodbav:"pk"`
	SK              string `dynamodbav:"sk"`
	TenantID        string `dynamodbav:"tenant_id"`
	WABAID          string `dynamodbav:"waba_id"`
	ID              string `dynamodbav:"template_id"`
	Name            string `dynamodbav:"name"`
	Language        string `dynamodbav:"language"`
	Status          string `dynamodbav:"status"`
	Category        string `dynamodbav:"category"`
	Quality         string `dynamodbav:"quality,omitempty"`
	ParameterFormat string `dynamodbav:"parameter_format,omitempty"`
	Components      string `dynamodbav:"components"` // Meta's JSON
	SyncedAt        string `dynamodbav:"synced_at"`
	ChangedAt       string `dynamodbav:"changed_at,omitempty"`
}

func partition(tenantID string) string { return "tenant#" + tenantID }

func key(tenantID string, k Key) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: partition(tenantID)},
		"sk": &ddbtypes.AttributeValueMemberS{Value: k.String()},
	}
}

func (it item) template() Template {
	t := Template{TenantID: it.TenantID, WABAID: it.WABAID, ID: it.ID, Name: it.Name, Language: it.Language,
		Status: it.Status, Category: it.Category, Quality: it.Quality, ParameterFormat: it.ParameterFormat,
		SyncedAt: it.SyncedAt, ChangedAt: it.ChangedAt}
	if it.Components != "" {
		t.Components = []byte(it.Components)
	}
	return t
}

// Get returns the tenant's template; the error wraps ErrNotFound when the
// catalog does not hold it.
func (s *Store) Get(ctx context.Context, tenantID string, k Key) (Template, error) {
	out, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: key(tenantID, k), ConsistentRead: aws.Bool(false)})
	if err != nil {
		return Template{}, fault.Retryable(fmt.Errorf("get template %s of tenant %s: %w", k, tenantID, err))
	}
	if len(out.Item) == 0 {
		return Template{}, fault.PermanentErr(fmt.Errorf("get template %s of tenant %s: %w", k, tenantID, ErrNotFound))
	}
	var it item
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return Template{}, fault.PermanentErr(fmt.Errorf("get template %s of tenant %s: decode: %w", k, tenantID, err))
	}
	return it.template(), nil
}

// List returns the tenant's templates, of every WABA, ordered by WABA,
// name and language.
func (s *Store) List(ctx context.Context, tenantID string) ([]Template, error) {
	e, err := expression.NewBuilder().WithKeyCondition(expression.Key("pk").Equal(expression.Value(partition(tenantID)))).Build()
	if err != nil {
		return nil, fault.PermanentErr(fmt.Errorf("list templates of tenant %s: build expression: %w", tenantID, err))
	}
	var out []Template
	var start map[string]ddbtypes.AttributeValue
	for {
		page, err := s.API.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.Table),
			KeyConditionExpression:    e.KeyCondition(),
			ExpressionAttributeNames:  e.Names(),
			ExpressionAttributeValues: e.Values(),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, fault.Retryable(fmt.Errorf("list templates of tenant %s: %w", tenantID, err))
		}
		for _, raw := range page.Items {
			var it item
			if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
				return nil, fault.PermanentErr(fmt.Errorf("list templates of tenant %s: decode: %w", tenantID, err))
			}
			out = append(out, it.template())
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		start = page.LastEvaluatedKey
	}
}

// Put writes the template whole.
func (s *Store) Put(ctx context.Context, t Template) error {
	k := Key{WABAID: t.WABAID, Name: t.Name, Language: t.Language}
	if t.TenantID == "" || t.WABAID == "" || t.Name == "" || t.Language == "" || strings.Contains(t.WABAID+t.Name+t.Language, "#") {
		return fault.InvalidErr(fmt.Errorf("put template %s of tenant %q: tenant, WABA, name and language are required, without #", k, t.TenantID))
	}
	av, err := attributevalue.MarshalMap(item{PK: partition(t.TenantID), SK: k.String(), TenantID: t.TenantID, WABAID: t.WABAID,
		ID: t.ID, Name: t.Name, Language: t.Language, Status: t.Status, Category: t.Category, Quality: t.Quality,
		ParameterFormat: t.ParameterFormat, Components: string(t.Components), SyncedAt: t.SyncedAt, ChangedAt: t.ChangedAt})
	if err != nil {
		return fault.PermanentErr(fmt.Errorf("put template %s of tenant %s: encode: %w", k, t.TenantID, err))
	}
	if _, err := s.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: av}); err != nil {
		return fault.Retryable(fmt.Errorf("put template %s of tenant %s: %w", k, t.TenantID, err))
	}
	return nil
}

// Delete removes the template (nothing happens when it is not there).
func (s *Store) Delete(ctx context.Context, tenantID string, k Key) error {
	if _, err := s.API.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.Table), Key: key(tenantID, k)}); err != nil {
		return fault.Retryable(fmt.Errorf("delete template %s of tenant %s: %w", k, tenantID, err))
	}
	return nil
}

// Change is what a template webhook reports; empty fields stay as they
// are. At is when Meta made the change.
type Change struct {
	Status   string
	Quality  string
	Category string
	At       time.Time
}

// Apply records a change of a template the catalog holds, unless the
// catalog already holds a newer state (a later webhook or sync). It
// reports whether the change was applied: false for a template the
// catalog does not know yet (the next sync brings it whole) or an older
// change.
func (s *Store) Apply(ctx context.Context, tenantID string, k Key, c Change) (bool, error) {
	at := c.At.UTC().Format(time.RFC3339)
	var up expression.UpdateBuilder
	set := false
	for name, v := range map[string]string{"status": c.Status, "quality": c.Quality, "category": c.Category} {
		if v != "" {
			up = up.Set(expression.Name(name), expression.Value(v))
			set = true
		}
	}
	if !set {
		return false, nil
	}
	up = up.Set(expression.Name("changed_at"), expression.Value(at))
	cond := expression.AttributeExists(expression.Name("pk")).And(
		expression.AttributeNotExists(expression.Name("changed_at")).Or(expression.Name("changed_at").LessThanEqual(expression.Value(at))))
	e, err := expression.NewBuilder().WithUpdate(up).WithCondition(cond).Build()
	if err != nil {
		return false, fault.PermanentErr(fmt.Errorf("apply change to template %s of tenant %s: build expression: %w", k, tenantID, err))
	}
	_, err = s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       key(tenantID, k),
		UpdateExpression:          e.Update(),
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	var cf *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return false, nil
	}
	if err != nil {
		return false, fault.Retryable(fmt.Errorf("apply change to template %s of tenant %s: %w", k, tenantID, err))
	}
	return true, nil
}
