// Package dynamoretry makes a DynamoDB client retry the writes DynamoDB
// refused only because another request held one of their items at that
// moment: a transaction cancelled for TransactionConflict (another
// transaction on the same item) or a throttled item, and a plain write
// refused with TransactionConflictException (an item in a transaction).
// Nothing of such a write was applied, so the same request may be sent
// again. The SDK retries neither by default.
//
// The items many transactions share (a campaign's count shards, a
// portfolio's messaging-limit count) meet these conflicts at full rate on
// DynamoDB; the local emulators run one write at a time
// and never answer them (docs/operations.md, "DynamoDB partitions at full
// rate").
package dynamoretry

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Cancellation reason codes DynamoDB gives a TransactWriteItems item.
const (
	reasonNone       = "None"
	reasonConflict   = "TransactionConflict"
	reasonThrottling = "ThrottlingError"
	reasonCapacity   = "ProvisionedThroughputExceeded"
)

// Conflicts is a dynamodb.Options function: the client's retryer (the
// SDK's, with its attempts, backoff and retry quota) also retries what
// Conflict reports.
func Conflicts(o *dynamodb.Options) {
	if o.Retryer == nil {
		return
	}
	o.Retryer = retryer{RetryerV2: v2(o.Retryer)}
}

// Conflict reports whether err is a write DynamoDB refused only because
// of another request on one of its items or the item's throughput: every
// cancellation reason of a transaction is a conflict, a throttling or
// none (an item that was fine), or a plain write conflicted with a
// transaction. A transaction whose condition failed is not one: that is
// an answer, and asking again gives the same.
func Conflict(err error) bool {
	var tc *ddbtypes.TransactionCanceledException
	if errors.As(err, &tc) {
		conflict := false
		for _, r := range tc.CancellationReasons {
			switch aws.ToString(r.Code) {
			case reasonConflict, reasonThrottling, reasonCapacity:
				conflict = true
			case reasonNone, "":
			default:
				return false
			}
		}
		return conflict
	}
	var pc *ddbtypes.TransactionConflictException
	return errors.As(err, &pc)
}

// retryer is the client's retryer that also retries conflicts.
type retryer struct{ aws.RetryerV2 }

func (r retryer) IsErrorRetryable(err error) bool {
	return Conflict(err) || r.RetryerV2.IsErrorRetryable(err)
}

// v2 returns r as an aws.RetryerV2.
func v2(r aws.Retryer) aws.RetryerV2 {
	if r2, ok := r.(aws.RetryerV2); ok {
		return r2
	}
	return retryerV1{r}
}

type retryerV1 struct{ aws.Retryer }

func (r retryerV1) GetAttemptToken(context.Context) (func(error) error, error) {
	return r.GetInitialToken(), nil
}
