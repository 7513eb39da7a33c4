// Package throttle paces sends to Meta's limits across every concurrently
// running sender instance, with shared state in DynamoDB (the state table):
//
//   - Number: a business number's messages per second. One item per number,
//     "rate#num#{phone_number_id}", holds the next free instant of a global
//     send schedule (GCRA's theoretical arrival time, in microseconds).
//     An instance leases a block of consecutive slots with one conditional
//     UpdateItem and sends each at its slot, so no two sends anywhere share
//     a slot and any one-second window holds at most rate+1 slots. A batch
//     books its sends as one block ahead of them (Prefetch); a send without
//     a slot leases just what the instance's waiting sends lack.
//     Meta's 130429 halves the rate for every instance: the item also
//     holds the slow-down (Throttled), which every lease reads back.
//   - Pair: messages to one recipient. One item per number and recipient,
//     "rate#pair#{phone_number_id}#{wa_id}", is a GCRA with a burst.
//
// A caller that would have to wait longer than it should hold a Lambda
// invocation gets a *WaitError and returns the job to the queue with that
// delay instead of sleeping.
package throttle

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/dynamoexpr"
)

// WaitError says the limit is booked: try again after Wait.
type WaitError struct {
	Wait time.Duration
	What string // "number" or "pair"
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("%s rate limit: next slot in %s", e.What, e.Wait.Round(time.Millisecond))
}

// RetryAfter is how long the job should stay invisible before its retry.
func (e *WaitError) RetryAfter() time.Duration { return e.Wait }

// AsWait returns the *WaitError in err's chain.
func AsWait(err error) (*WaitError, bool) {
	var we *WaitError
	ok := errors.As(err, &we)
	return we, ok
}

func micros(t time.Time) int64 { return t.UnixMicro() }

// The attributes of a schedule record: tat, the end of what is booked
// (Unix µs), and its TTL.
const (
	attrTAT     = "tat"
	attrExpires = "expires_at"
)

// write is the write of update to the record key when cond holds, both
// written with e (package dynamoexpr), every name and value through a
// placeholder.
func write(table string, key map[string]ddbtypes.AttributeValue, e *dynamoexpr.Expr, update, cond string) *ddbtypes.Update {
	return &ddbtypes.Update{
		TableName:                 aws.String(table),
		Key:                       key,
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	}
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us) }

func nAttr(v int64) ddbtypes.AttributeValue {
	return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func sAttr(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }

func readN(item map[string]ddbtypes.AttributeValue, name string) (int64, bool) {
	v, ok := item[name].(*ddbtypes.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	return n, err == nil
}

func conditionFailed(err error) bool {
	var cf *ddbtypes.ConditionalCheckFailedException
	return errors.As(err, &cf)
}
