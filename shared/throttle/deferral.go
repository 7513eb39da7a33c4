package throttle

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/dynamoexpr"
	"github.com/tucanlink/wacloud/shared/fault"
)

// Lane is a class of sends on one number. Lanes share the number's
// schedule; each may lease only up to its own horizon ahead of now, so a
// lane with a longer horizon always finds room ahead of the others'
// backlog.
type Lane int

const (
	// Interactive: live conversation replies (DefaultHorizon).
	Interactive Lane = iota
	// Bulk: campaigns and notification runs (DefaultBulkHorizon).
	Bulk
	// BulkDue: a bulk send received again, normally at its place on the
	// deferral clock (DefaultBulkDueHorizon); it shares Bulk's clock.
	BulkDue
	// Final: a send that must not be put off again (a job at the end of
	// its receive budget); DefaultFinalHorizon, never deferred.
	Final
	laneCount
)

func (lane Lane) String() string {
	switch lane {
	case Bulk:
		return "bulk"
	case BulkDue:
		return "bulk-due"
	case Final:
		return "final"
	}
	return "interactive"
}

// The deferral clocks in the schedule's record (Unix µs): the end of what
// each lane has deferred on the number.
const (
	attrDeferInteractive = "defer_interactive"
	attrDeferBulk        = "defer_bulk"
)

func (lane Lane) clock() string {
	if lane == Bulk || lane == BulkDue {
		return attrDeferBulk
	}
	return attrDeferInteractive
}

// Defer books n places on lane's deferral clock of phoneNumberID, for sends
// the schedule has no room for within the lane's horizon, and returns them
// in order. Places start at the latest of the lane's clock, the schedule's
// end and now, one slot interval apart (the schedule's own spacing, as
// slowed down after 130429), and the clock moves past them: a backlog of N
// deferred sends comes back spread over N slots at the number's rate, in
// one pass, instead of returning all at once and being deferred again. A
// deferred send made visible again at its place finds its slot within
// the lane's horizon, unless a lane with a longer horizon took it first;
// then it is deferred again, behind the lane's backlog. One conditional
// UpdateItem in the usual case (the clock ahead of the schedule, or the
// schedule ahead of it: the instance guesses from what it saw last).
// Final sends are placed on the interactive clock.
func (l *Limiter) Defer(ctx context.Context, phoneNumberID string, perSecond int, lane Lane, n int) ([]time.Time, error) {
	if perSecond <= 0 || n <= 0 {
		return nil, fault.Invalidf("defer %d sends of %s: limit %d per second", n, phoneNumberID, perSecond)
	}
	d := l.dispenser(phoneNumberID)
	d.mu.Lock()
	factor := d.slow.factor(l.now())
	clockAhead := d.deferredUntil[lane].After(l.now())
	d.mu.Unlock()

	interval := float64(time.Second/time.Microsecond) / (float64(perSecond) * l.headroom()) / factor
	span := int64(math.Ceil(interval * float64(n)))
	key := map[string]ddbtypes.AttributeValue{"pk": sAttr("rate#num#" + phoneNumberID)}
	clock := lane.clock()
	var calls int64
	for attempt := 0; attempt < 4; attempt++ {
		now := l.now()
		exp := nAttr(now.Add(keepRate).Unix())
		// The lane's clock runs ahead of the schedule: after it.
		a := dynamoexpr.New()
		ahead := write(l.Table, key, a,
			a.Update().SetExpr(clock, a.Name(clock)+" + "+a.N(span)).Set(attrExpires, exp).String(),
			dynamoexpr.And(a.Compare(clock, ">=", a.N(micros(now))),
				dynamoexpr.Or(a.Compare(clock, ">=", a.Name(attrTAT)), a.NotExists(attrTAT))))
		// The schedule runs ahead of the clock: after the schedule.
		b := dynamoexpr.New()
		behind := write(l.Table, key, b,
			b.Update().SetExpr(clock, b.Name(attrTAT)+" + "+b.N(span)).Set(attrExpires, exp).String(),
			dynamoexpr.And(b.Compare(attrTAT, ">=", b.N(micros(now))),
				dynamoexpr.Or(b.NotExists(clock), b.Compare(clock, "<", b.Name(attrTAT)))))
		// Both lie in the past: from now.
		p := dynamoexpr.New()
		pNow := p.N(micros(now))
		past := write(l.Table, key, p,
			p.Update().Set(clock, nAttr(micros(now)+span)).Set(attrExpires, exp).
				SetExpr(attrTAT, "if_not_exists("+p.Name(attrTAT)+", "+pNow+")").String(),
			dynamoexpr.And(dynamoexpr.Or(p.NotExists(attrTAT), p.Compare(attrTAT, "<", pNow)),
				dynamoexpr.Or(p.NotExists(clock), p.Compare(clock, "<", pNow))))
		writes := []*ddbtypes.Update{ahead, behind, past}
		if !clockAhead {
			writes = []*ddbtypes.Update{behind, past, ahead}
		}
		for _, in := range writes {
			calls++
			out, err := l.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: in.TableName, Key: in.Key, UpdateExpression: in.UpdateExpression, ConditionExpression: in.ConditionExpression,
				ExpressionAttributeNames: in.ExpressionAttributeNames, ExpressionAttributeValues: in.ExpressionAttributeValues,
				ReturnValues: ddbtypes.ReturnValueAllNew,
			})
			if conditionFailed(err) {
				continue
			}
			if err != nil {
				return nil, fault.Retryable(fmt.Errorf("defer sends of %s: %w", phoneNumberID, err))
			}
			end, _ := readN(out.Attributes, lane.clock())
			tat, _ := readN(out.Attributes, attrTAT)
			places := make([]time.Time, n)
			for i := range places {
				places[i] = fromMicros(end - span + int64(math.Round(interval*float64(i))))
			}
			d.mu.Lock()
			d.calls += calls
			d.deferred += int64(n)
			clock := lane
			if lane == BulkDue {
				clock = Bulk
			}
			if t := fromMicros(end); t.After(d.deferredUntil[clock]) {
				d.deferredUntil[clock] = t
			}
			if t := fromMicros(tat); t.After(d.bookedUntil) {
				d.bookedUntil = t
			}
			d.mu.Unlock()
			return places, nil
		}
		clockAhead = !clockAhead
	}
	return nil, fault.Retryable(fmt.Errorf("defer sends of %s: schedule contended", phoneNumberID))
}

// Room tells what this instance knows of lane's room on phoneNumberID,
// without asking DynamoDB: booked, the schedule is booked beyond the
// lane's horizon (a send would get a *WaitError); backlog, the lane has
// sends deferred beyond its horizon (a new send of the lane would only go
// ahead of them, or be deferred behind them).
func (l *Limiter) Room(phoneNumberID string, lane Lane) (booked, backlog bool) {
	d := l.dispenser(phoneNumberID)
	d.mu.Lock()
	defer d.mu.Unlock()
	l.dropStale(d)
	edge := l.now().Add(l.horizon(lane))
	clock := lane
	if lane == BulkDue {
		clock = Bulk
	}
	return len(d.slots) == 0 && d.bookedUntil.After(edge), lane != Final && d.deferredUntil[clock].After(edge)
}
