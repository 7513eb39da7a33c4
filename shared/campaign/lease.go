package campaign

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

// Lease takes the campaign for owner until untilMs (unix ms) when it is
// running or waiting for capacity and no other runner holds an unexpired
// lease, and returns its record. The error wraps ErrLease when another
// runner holds it or the campaign is in another state.
func (s *Store) Lease(ctx context.Context, tenantID, id, owner string, nowMs, untilMs int64) (record, error) {
	cond := expression.AttributeExists(expression.Name("pk")).
		And(expression.Name("state").In(expression.Value(StateRunning), expression.Value(StateWaitingForCapacity))).
		And(expression.Or(
			expression.AttributeNotExists(expression.Name("lease_until")),
			expression.Name("lease_until").LessThan(expression.Value(nowMs)),
			expression.Name("lease_owner").Equal(expression.Value(owner)),
		))
	upd := expression.Set(expression.Name("lease_owner"), expression.Value(owner)).
		Set(expression.Name("lease_until"), expression.Value(untilMs))
	return s.update(ctx, tenantID, id, "lease", cond, upd)
}

// Commit moves owner's checkpoint from row from to p's, adds delta to
// the counts and extends the lease to untilMs, in one write that holds
// only while owner has the lease and the checkpoint is still at from.
// It returns the record as it is now (its state may have changed: a
// pause or cancel the runner obeys). The error wraps ErrLease otherwise.
func (s *Store) Commit(ctx context.Context, tenantID, id, owner string, from int64, p Progress, delta Counts, untilMs int64) (record, error) {
	cond := expression.Name("lease_owner").Equal(expression.Value(owner)).
		And(expression.Name("cp_row").Equal(expression.Value(from)))
	if from == 0 {
		cond = expression.Name("lease_owner").Equal(expression.Value(owner)).
			And(expression.Or(expression.AttributeNotExists(expression.Name("cp_row")), expression.Name("cp_row").Equal(expression.Value(from))))
	}
	upd := expression.Set(expression.Name("cp_row"), expression.Value(p.Row)).
		Set(expression.Name("cp_offset"), expression.Value(p.Offset)).
		Set(expression.Name("lease_until"), expression.Value(untilMs)).
		Set(expression.Name("updated_at"), expression.Value(s.now().UTC().Format(timeLayout)))
	if len(p.Header) > 0 {
		upd = upd.Set(expression.Name("header"), expression.Value(p.Header))
	}
	for name, n := range map[string]int64{"rows": delta.Rows, "invalid": delta.Invalid, "duplicates": delta.Duplicates,
		"suppressed": delta.Suppressed, "queued": delta.Queued} {
		if n != 0 {
			upd = upd.Add(expression.Name("count_"+name), expression.Value(n))
		}
	}
	return s.update(ctx, tenantID, id, "commit", cond, upd)
}

// Hold extends owner's lease to untilMs while owner has it and the
// checkpoint is still at from, as Commit would, without moving anything:
// a run that lost the campaign learns it (ErrLease) before it writes what
// only the holder may (the report part the checkpoint after from names).
func (s *Store) Hold(ctx context.Context, tenantID, id, owner string, from int64, untilMs int64) error {
	cond := expression.Name("lease_owner").Equal(expression.Value(owner)).
		And(expression.Name("cp_row").Equal(expression.Value(from)))
	if from == 0 {
		cond = expression.Name("lease_owner").Equal(expression.Value(owner)).
			And(expression.Or(expression.AttributeNotExists(expression.Name("cp_row")), expression.Name("cp_row").Equal(expression.Value(from))))
	}
	_, err := s.update(ctx, tenantID, id, "hold", cond, expression.Set(expression.Name("lease_until"), expression.Value(untilMs)))
	return err
}

// Release gives the lease up (a runner that stops early), so the next
// command need not wait for it to expire.
func (s *Store) Release(ctx context.Context, tenantID, id, owner string) error {
	cond := expression.Name("lease_owner").Equal(expression.Value(owner))
	upd := expression.Remove(expression.Name("lease_owner")).Remove(expression.Name("lease_until"))
	_, err := s.update(ctx, tenantID, id, "release", cond, upd)
	if errors.Is(err, ErrLease) {
		return nil
	}
	return err
}

const timeLayout = "2006-01-02T15:04:05.999999999Z07:00"

func (s *Store) update(ctx context.Context, tenantID, id, op string, cond expression.ConditionBuilder, upd expression.UpdateBuilder) (record, error) {
	e, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return record{}, fault.PermanentErr(fmt.Errorf("%s campaign %s: build expression: %w", op, id, err))
	}
	out, err := s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: key(tenantID, id),
		ConditionExpression: e.Condition(), UpdateExpression: e.Update(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
		ReturnValues: ddbtypes.ReturnValueAllNew,
	})
	var cf *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return record{}, fault.PermanentErr(fmt.Errorf("%s campaign %s of tenant %s: %w", op, id, tenantID, ErrLease))
	}
	if err != nil {
		return record{}, fault.Retryable(fmt.Errorf("%s campaign %s of tenant %s: %w", op, id, tenantID, err))
	}
	return decode(out.Attributes)
}
