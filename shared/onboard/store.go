package onboard

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/tucanlink/wacloud/shared/fault"
)

// ErrConflict is returned by Save when another run saved the onboarding
// since this one read it.
var ErrConflict = errors.New("onboarding changed by another run")

// Store keeps onboardings in the state table as "onboarding#{id}". It is
// safe for concurrent use.
type Store struct {
	API interface {
		GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
		PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	}
	Table string
}

var _ States = (*Store)(nil)

func stateKey(id string) string { return "onboarding#" + id }

// Get returns the onboarding id, found false when there is none.
func (s *Store) Get(ctx context.Context, id string) (State, bool, error) {
	out, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.Table),
		Key:            map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: stateKey(id)}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return State{}, false, fault.Retryable(fmt.Errorf("read onboarding %s: %w", id, err))
	}
	if len(out.Item) == 0 {
		return State{}, false, nil
	}
	var st State
	if err := attributevalue.UnmarshalMap(out.Item, &st); err != nil {
		return State{}, false, fault.PermanentErr(fmt.Errorf("decode onboarding %s: %w", id, err))
	}
	if st.Done == nil {
		st.Done = []string{}
	}
	return st, true, nil
}

// Save writes st if its Version is still the stored one, and increments
// it.
func (s *Store) Save(ctx context.Context, st *State) error {
	cond := expression.AttributeNotExists(expression.Name("pk"))
	if st.Version > 0 {
		cond = expression.Name("version").Equal(expression.Value(st.Version))
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fault.PermanentErr(fmt.Errorf("save onboarding %s: build condition: %w", st.ID, err))
	}
	next := *st
	next.Version++
	item, err := attributevalue.MarshalMap(next)
	if err != nil {
		return fault.PermanentErr(fmt.Errorf("encode onboarding %s: %w", st.ID, err))
	}
	item["pk"] = &ddbtypes.AttributeValueMemberS{Value: stateKey(st.ID)}
	_, err = s.API.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.Table),
		Item:                      item,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	var ccf *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fault.Retryable(fmt.Errorf("save onboarding %s: %w", st.ID, ErrConflict))
	}
	if err != nil {
		return fault.Retryable(fmt.Errorf("save onboarding %s: %w", st.ID, err))
	}
	st.Version = next.Version
	return nil
}

func createPIN(name, tenantID, pin string) *secretsmanager.CreateSecretInput {
	return &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		SecretString: aws.String(`{"pin":"` + pin + `"}`),
		Description:  aws.String("wacloud tenant " + tenantID + ": two-step verification PIN its number was registered with (read by onboarding)"),
	}
}

func alreadyExists(err error) bool {
	var exists *smtypes.ResourceExistsException
	return errors.As(err, &exists) || strings.Contains(err.Error(), "ResourceExists")
}
