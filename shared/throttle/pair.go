package throttle

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/dynamoexpr"
	"github.com/tucanlink/wacloud/shared/fault"
)

// Pair policy defaults. Meta allows about one message per 6 seconds to the
// same user, with bursts of up to 45 that borrow from later quota (error
// 131056 beyond). The sender keeps the 6-second rate but a burst of 10: a
// CRM conversation rarely needs more, and it stays far from Meta's edge.
const (
	DefaultPairPeriod = 6 * time.Second
	DefaultPairBurst  = 10
)

// Pair limits messages from one business number to one recipient, across
// instances. It is safe for concurrent use.
type Pair struct {
	API    API
	Table  string
	Period time.Duration // default DefaultPairPeriod
	Burst  int           // default DefaultPairBurst
	Now    func() time.Time

	mu    sync.Mutex
	hints map[string]time.Time // number#wa_id → tat last seen; picks the first write
}

func pairKey(phoneNumberID, waID string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": sAttr("rate#pair#" + phoneNumberID + "#" + waID)}
}

// Take books one message to waID now, or returns a *WaitError saying when
// the next one is allowed. The record is a GCRA: tat moves forward by one
// period per message from max(tat, now), and a message is allowed while
// tat ≤ now + (burst-1)·period.
//
// DynamoDB cannot take max(tat, now) in one expression, so there are two
// conditional writes, "busy" (tat ≥ now) and "idle" (no tat, or tat < now).
// Take tries first the one the pair's last known tat points to, idle for a
// pair this instance has not seen, so the usual case is one write.
func (p *Pair) Take(ctx context.Context, phoneNumberID, waID string) error {
	period, burst := p.period(), p.burst()
	key := pairKey(phoneNumberID, waID)
	hintKey := phoneNumberID + "#" + waID
	idleFirst := !p.hint(hintKey).After(p.now())
	for attempt := 0; attempt < 4; attempt++ {
		now := p.now()
		busyIn, idleIn := p.busyWrite(key, now), p.idleWrite(key, now)
		busy := func() (bool, error) {
			in := busyIn
			out, err := p.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: in.TableName, Key: in.Key, UpdateExpression: in.UpdateExpression,
				ConditionExpression: in.ConditionExpression, ExpressionAttributeNames: in.ExpressionAttributeNames,
				ExpressionAttributeValues: in.ExpressionAttributeValues,
				ReturnValues:              ddbtypes.ReturnValueUpdatedNew,
			})
			if err != nil {
				return false, err
			}
			if tat, ok := readN(out.Attributes, "tat"); ok {
				p.remember(hintKey, fromMicros(tat), now)
			}
			return true, nil
		}
		idle := func() (bool, error) {
			in := idleIn
			_, err := p.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: in.TableName, Key: in.Key, UpdateExpression: in.UpdateExpression,
				ConditionExpression: in.ConditionExpression, ExpressionAttributeNames: in.ExpressionAttributeNames,
				ExpressionAttributeValues: in.ExpressionAttributeValues,
			})
			if err != nil {
				return false, err
			}
			p.remember(hintKey, now.Add(period), now)
			return true, nil
		}
		tries := []func() (bool, error){busy, idle}
		if idleFirst {
			tries = []func() (bool, error){idle, busy}
		}
		for _, try := range tries {
			ok, err := try()
			if ok {
				return nil
			}
			if !conditionFailed(err) {
				return fault.Retryable(fmt.Errorf("pair rate of %s: %w", phoneNumberID, err))
			}
		}
		out, err := p.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(p.Table), Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return fault.Retryable(fmt.Errorf("pair rate of %s: %w", phoneNumberID, err))
		}
		tat, _ := readN(out.Item, "tat")
		p.remember(hintKey, fromMicros(tat), now)
		if wait := fromMicros(tat).Sub(p.now().Add(time.Duration(burst-1) * period)); wait > 0 {
			return &WaitError{Wait: wait, What: "pair"}
		}
		idleFirst = fromMicros(tat).Before(p.now())
	}
	return fault.Retryable(fmt.Errorf("pair rate of %s: record contended", phoneNumberID))
}

// busyWrite books one message on a pair already booked at or after now
// (tat ≥ now), within the burst.
func (p *Pair) busyWrite(key map[string]ddbtypes.AttributeValue, now time.Time) *ddbtypes.Update {
	period, burst := p.period(), p.burst()
	limit := now.Add(time.Duration(burst-1) * period)
	e := dynamoexpr.New()
	tat := e.Name(attrTAT)
	update := e.Update().SetExpr(attrTAT, tat+" + "+e.N(period.Microseconds())).
		Set(attrExpires, nAttr(limit.Add(period+keepRate).Unix())).String()
	cond := dynamoexpr.And(e.Compare(attrTAT, ">=", e.N(micros(now))), e.Compare(attrTAT, "<=", e.N(micros(limit))))
	return write(p.Table, key, e, update, cond)
}

// idleWrite books one message on a pair with nothing booked from now on.
func (p *Pair) idleWrite(key map[string]ddbtypes.AttributeValue, now time.Time) *ddbtypes.Update {
	period, burst := p.period(), p.burst()
	limit := now.Add(time.Duration(burst-1) * period)
	e := dynamoexpr.New()
	update := e.Update().Set(attrTAT, nAttr(micros(now.Add(period)))).
		Set(attrExpires, nAttr(limit.Add(period+keepRate).Unix())).String()
	cond := dynamoexpr.Or(e.NotExists(attrTAT), e.Compare(attrTAT, "<", e.N(micros(now))))
	return write(p.Table, key, e, update, cond)
}

// Booking is one message to a recipient, booked by a write the caller
// makes in its own transaction (the sender's job claim), which saves a
// call per message. The write assumes the pair's state this instance last
// saw; if its condition fails (the assumption was wrong, or the pair is at
// its limit), nothing is booked: call Refused and use Take.
type Booking struct {
	Write ddbtypes.TransactWriteItem
	key   string
	idle  bool
	now   time.Time
}

// Book returns the write that books one message to waID now. Its error
// is always nil; PairLimiter leaves other implementations room to fail.
func (p *Pair) Book(phoneNumberID, waID string) (Booking, error) {
	key := pairKey(phoneNumberID, waID)
	b := Booking{key: phoneNumberID + "#" + waID, now: p.now()}
	b.idle = !p.hint(b.key).After(b.now)
	if b.idle {
		b.Write.Update = p.idleWrite(key, b.now)
	} else {
		b.Write.Update = p.busyWrite(key, b.now)
	}
	return b, nil
}

// Booked notes that b's transaction succeeded: the message is booked.
func (p *Pair) Booked(b Booking) {
	if b.idle {
		p.remember(b.key, b.now.Add(p.period()), b.now)
		return
	}
	// A transaction does not return the new tat; one period later than
	// last seen is as good a hint.
	p.remember(b.key, p.hint(b.key).Add(p.period()), b.now)
}

// Refused notes that b's condition failed: the next Take tries the other
// write first.
func (p *Pair) Refused(b Booking) {
	if b.idle {
		// Booked by another instance: busy until at least a period on.
		p.remember(b.key, b.now.Add(p.period()), b.now)
		return
	}
	p.remember(b.key, time.Time{}, b.now)
}

// maxPairHints bounds the hints an instance keeps; past it, hints of pairs
// already idle (which say nothing the default does not) are dropped.
const maxPairHints = 50_000

// hint is the pair's tat as this instance last saw it (zero if unknown).
func (p *Pair) hint(key string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hints[key]
}

func (p *Pair) remember(key string, tat, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hints == nil {
		p.hints = map[string]time.Time{}
	}
	if len(p.hints) >= maxPairHints {
		for k, t := range p.hints {
			if t.Before(now) {
				delete(p.hints, k)
			}
		}
	}
	if len(p.hints) < maxPairHints {
		p.hints[key] = tat
	}
}

// Throttled pushes the pair's schedule so that the next message waits a
// full period and later ones go one per period, after Meta answered 131056.
func (p *Pair) Throttled(ctx context.Context, phoneNumberID, waID string) error {
	now := p.now()
	end := now.Add(time.Duration(p.burst()) * p.period())
	e := dynamoexpr.New()
	in := write(p.Table, pairKey(phoneNumberID, waID), e,
		e.Update().Set(attrTAT, nAttr(micros(end))).Set(attrExpires, nAttr(end.Add(keepRate).Unix())).String(),
		dynamoexpr.Or(e.NotExists(attrTAT), e.Compare(attrTAT, "<", e.N(micros(end)))))
	_, err := p.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: in.TableName, Key: in.Key, UpdateExpression: in.UpdateExpression,
		ConditionExpression: in.ConditionExpression, ExpressionAttributeNames: in.ExpressionAttributeNames,
		ExpressionAttributeValues: in.ExpressionAttributeValues,
	})
	if err != nil && !conditionFailed(err) {
		return fault.Retryable(fmt.Errorf("slow pair rate of %s: %w", phoneNumberID, err))
	}
	return nil
}

func (p *Pair) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Pair) period() time.Duration {
	if p.Period > 0 {
		return p.Period
	}
	return DefaultPairPeriod
}

func (p *Pair) burst() int {
	if p.Burst > 0 {
		return p.Burst
	}
	return DefaultPairBurst
}
