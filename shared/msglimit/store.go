package msglimit

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/dynamoexpr"
	"github.com/tucanlink/wacloud/shared/fault"
)

// API is the part of the DynamoDB client Store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// DefaultStateTTL is how long an instance trusts the portfolio's tier it
// read.
const DefaultStateTTL = time.Minute

// maxRemembered bounds the recipients an instance remembers as counted.
const maxRemembered = 100_000

// keep is how long a recipient's record outlives its window.
const keep = Window + time.Hour

// Store counts recipients per portfolio in the state table. It is safe for
// concurrent use; every instance has its own and they agree through
// DynamoDB only. Errors are fault-classified: Retry for DynamoDB failures,
// Permanent for defects.
type Store struct {
	API      API
	Table    string
	StateTTL time.Duration // default DefaultStateTTL

	mu      sync.Mutex
	states  map[string]cachedState // portfolio → state read
	counted map[string]time.Time   // portfolio#recipient → counted_at
}

type cachedState struct {
	st      State
	buckets map[string]int
	readAt  time.Time
}

func portfolioKey(portfolio string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": sAttr("msglimit#p#" + portfolio)}
}

func recipientKey(portfolio, recipient string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": sAttr("msglimit#r#" + portfolio + "#" + recipient)}
}

func numberKey(phoneNumberID string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": sAttr("msglimit#n#" + phoneNumberID)}
}

func sAttr(s string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: s} }

func nAttr(n int64) ddbtypes.AttributeValue {
	return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// bucketName is the attribute counting the recipients counted in t's bucket.
func bucketName(t time.Time) string {
	return "b" + strconv.FormatInt(t.Truncate(Bucket).Unix(), 10)
}

// bucketEnd is when a bucket's recipients have all left the window.
func bucketEnd(name string) (time.Time, bool) {
	if !strings.HasPrefix(name, "b") {
		return time.Time{}, false
	}
	s, err := strconv.ParseInt(name[1:], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(s, 0).Add(Bucket + Window), true
}

// Reserve counts recipient as a business-initiated contact of portfolio at
// now, unless it already is one inside the window (Repeat, free), the
// tier is unlimited (Unlimited, nothing written) or counting it would
// exceed the tier (Exceeded, with FreeAt). A recipient this instance
// counted costs no call until its 24 hours end; a new one costs one
// transaction.
func (s *Store) Reserve(ctx context.Context, portfolio, recipient string, now time.Time) (Decision, error) {
	st, err := s.state(ctx, portfolio, now)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Tier: st.Tier, Limit: st.Limit}
	if st.Unlimited {
		d.Outcome = Unlimited
		return d, nil
	}
	ck := portfolio + "#" + recipient
	if at, ok := s.countedAt(ck); ok && now.Before(at.Add(Window)) && !now.Before(at) {
		d.Outcome = Repeat
		return d, nil
	}
	for attempt := 0; attempt < 3; attempt++ {
		repeat, counted, refused, err := s.count(ctx, portfolio, recipient, now)
		switch {
		case err != nil:
			return Decision{}, err
		case counted:
			s.remember(ck, now)
			d.Outcome = Allowed
			return d, nil
		case repeat:
			d.Outcome = Repeat
			return d, nil
		case !refused:
			return Decision{}, fault.Retryable(fmt.Errorf("count recipient of portfolio %s: transaction neither applied nor refused", portfolio))
		}
		// Refused by the limit: buckets out of the window may still be
		// counted. Subtract them and try again; otherwise it is full.
		cs, err := s.read(ctx, portfolio, now)
		if err != nil {
			return Decision{}, err
		}
		d.Tier, d.Limit = cs.st.Tier, cs.st.Limit
		if cs.st.Unlimited {
			d.Outcome = Unlimited
			return d, nil
		}
		swept, err := s.sweep(ctx, portfolio, cs.buckets, now)
		if err != nil {
			return Decision{}, err
		}
		if swept {
			continue
		}
		d.Outcome, d.Used, d.FreeAt = Exceeded, cs.st.Used, oldestEnd(cs.buckets, now)
		return d, nil
	}
	return Decision{}, fault.Retryable(fmt.Errorf("count recipient of portfolio %s: the count kept changing", portfolio))
}

// count is the transaction: the recipient's record, then the portfolio's
// count. repeat: the recipient is counted already; refused: the limit.
func (s *Store) count(ctx context.Context, portfolio, recipient string, now time.Time) (repeat, counted, refused bool, err error) {
	ms := now.UnixMilli()
	// The recipient's record: new, or its 24 hours over.
	re := dynamoexpr.New()
	rcond := dynamoexpr.Or(re.NotExists("pk"), re.Compare("counted_at", "<=", re.N(now.Add(-Window).UnixMilli())))
	// The portfolio's count and this hour's bucket, one more each, while
	// the count is below the tier's limit.
	pe := dynamoexpr.New()
	used, bucket, zero, one := pe.Name("used"), pe.Name(bucketName(now)), pe.N(0), pe.N(1)
	pupd := pe.Update().
		SetExpr("used", "if_not_exists("+used+", "+zero+") + "+one).
		SetExpr(bucketName(now), "if_not_exists("+bucket+", "+zero+") + "+one).String()
	pcond := dynamoexpr.Or(pe.NotExists("tier_limit"), pe.NotExists("used"), "("+used+" < "+pe.Name("tier_limit")+")")
	item := recipientKey(portfolio, recipient)
	item["counted_at"] = nAttr(ms)
	item["expires_at"] = nAttr(now.Add(keep).Unix())
	_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
		{Put: &ddbtypes.Put{TableName: aws.String(s.Table), Item: item,
			ConditionExpression: aws.String(rcond), ExpressionAttributeNames: re.Names(), ExpressionAttributeValues: re.Values()}},
		{Update: &ddbtypes.Update{TableName: aws.String(s.Table), Key: portfolioKey(portfolio),
			UpdateExpression: aws.String(pupd), ConditionExpression: aws.String(pcond),
			ExpressionAttributeNames: pe.Names(), ExpressionAttributeValues: pe.Values()}},
	}})
	if err == nil {
		return false, true, false, nil
	}
	var tc *ddbtypes.TransactionCanceledException
	if errors.As(err, &tc) {
		for i, r := range tc.CancellationReasons {
			if aws.ToString(r.Code) != "ConditionalCheckFailed" {
				continue
			}
			if i == 0 {
				repeat = true
			} else {
				refused = true
			}
		}
		if repeat {
			return true, false, false, nil
		}
		if refused {
			return false, false, true, nil
		}
	}
	return false, false, false, fault.Retryable(fmt.Errorf("count recipient of portfolio %s: %w", portfolio, err))
}

// sweep subtracts the buckets that left the window from the count, in one
// conditional update (each bucket still as read, so two instances never
// subtract one twice). It reports whether it subtracted anything.
func (s *Store) sweep(ctx context.Context, portfolio string, buckets map[string]int, now time.Time) (bool, error) {
	var names []string
	sum := 0
	for name, n := range buckets {
		if end, ok := bucketEnd(name); ok && !now.Before(end) {
			names = append(names, name)
			sum += n
		}
	}
	if len(names) == 0 {
		return false, nil
	}
	sort.Strings(names)
	used := expression.Name("used")
	upd := expression.Set(used, expression.Minus(used, expression.Value(nAttr(int64(sum)))))
	cond := expression.AttributeExists(used)
	for _, name := range names {
		upd = upd.Remove(expression.Name(name))
		cond = cond.And(expression.Name(name).Equal(expression.Value(nAttr(int64(buckets[name])))))
	}
	e, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return false, fault.PermanentErr(fmt.Errorf("sweep messaging limit of portfolio %s: build expression: %w", portfolio, err))
	}
	_, err = s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.Table), Key: portfolioKey(portfolio),
		UpdateExpression: e.Update(), ConditionExpression: e.Condition(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()})
	if conditionFailed(err) {
		return true, nil // another instance swept (or counted): read again
	}
	if err != nil {
		return false, fault.Retryable(fmt.Errorf("sweep messaging limit of portfolio %s: %w", portfolio, err))
	}
	return true, nil
}

// oldestEnd is when the oldest bucket still in the window leaves it.
func oldestEnd(buckets map[string]int, now time.Time) time.Time {
	var oldest time.Time
	for name, n := range buckets {
		end, ok := bucketEnd(name)
		if !ok || n <= 0 || !now.Before(end) {
			continue
		}
		if oldest.IsZero() || end.Before(oldest) {
			oldest = end
		}
	}
	if oldest.IsZero() {
		return now.Add(Bucket)
	}
	return oldest
}

// State is the portfolio's tier and count, read at most once per
// StateTTL by this instance.
func (s *Store) State(ctx context.Context, portfolio string, now time.Time) (State, error) {
	return s.state(ctx, portfolio, now)
}

func (s *Store) state(ctx context.Context, portfolio string, now time.Time) (State, error) {
	s.mu.Lock()
	c, ok := s.states[portfolio]
	s.mu.Unlock()
	if ok && now.Sub(c.readAt) < s.stateTTL() && !now.Before(c.readAt) {
		return c.st, nil
	}
	cs, err := s.read(ctx, portfolio, now)
	if err != nil {
		return State{}, err
	}
	// Keep the record small: buckets out of the window go now.
	if _, err := s.sweep(ctx, portfolio, cs.buckets, now); err != nil {
		return State{}, err
	}
	return cs.st, nil
}

func (s *Store) stateTTL() time.Duration {
	if s.StateTTL > 0 {
		return s.StateTTL
	}
	return DefaultStateTTL
}

// read reads the portfolio's record (strongly consistent) and caches it.
func (s *Store) read(ctx context.Context, portfolio string, now time.Time) (cachedState, error) {
	out, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: portfolioKey(portfolio), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return cachedState{}, fault.Retryable(fmt.Errorf("read messaging limit of portfolio %s: %w", portfolio, err))
	}
	cs := cachedState{st: State{Portfolio: portfolio}, buckets: map[string]int{}, readAt: now}
	for k, v := range out.Item {
		switch {
		case k == "tier":
			cs.st.Tier = str(v)
		case k == "tier_at":
			cs.st.At = time.UnixMilli(int64(number(v)))
		case k == "used":
			cs.st.Used = number(v)
		case strings.HasPrefix(k, "b"):
			if _, ok := bucketEnd(k); ok {
				cs.buckets[k] = number(v)
			}
		}
	}
	if cs.st.Tier != "" {
		cs.st.Limit, cs.st.Unlimited, _ = TierLimit(cs.st.Tier)
	}
	for name, n := range cs.buckets {
		if end, _ := bucketEnd(name); !now.Before(end) {
			cs.st.Used -= n
		}
	}
	s.mu.Lock()
	if s.states == nil {
		s.states = map[string]cachedState{}
	}
	s.states[portfolio] = cs
	s.mu.Unlock()
	return cs, nil
}

func (s *Store) countedAt(k string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.counted[k]
	return at, ok
}

func (s *Store) remember(k string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counted == nil || len(s.counted) >= maxRemembered {
		s.counted = map[string]time.Time{}
	}
	s.counted[k] = at
}

// Apply records what Meta reported of a number and its portfolio. A
// report older than the one recorded is ignored (webhooks arrive out of
// order); applied says whether the tier was written. A tier this package
// does not know is refused (Invalid).
func (s *Store) Apply(ctx context.Context, r Report) (applied bool, err error) {
	if r.Tier != "" && r.Portfolio != "" {
		if _, _, ok := TierLimit(r.Tier); !ok {
			return false, fault.Invalidf("messaging limit of portfolio %s: unknown tier %q", r.Portfolio, r.Tier)
		}
		if applied, err = s.setTier(ctx, r); err != nil {
			return false, err
		}
	}
	if r.PhoneNumberID != "" && (r.Quality != "" || r.Status != "") {
		if err := s.setHealth(ctx, r); err != nil {
			return applied, err
		}
	}
	return applied, nil
}

func (s *Store) setTier(ctx context.Context, r Report) (bool, error) {
	tier := strings.ToUpper(strings.TrimSpace(r.Tier))
	limit, unlimited, _ := TierLimit(tier)
	at := expression.Value(nAttr(r.At.UnixMilli()))
	upd := expression.Set(expression.Name("tier"), expression.Value(sAttr(tier))).
		Set(expression.Name("tier_at"), at).
		Set(expression.Name("used"), expression.IfNotExists(expression.Name("used"), expression.Value(nAttr(0))))
	if unlimited {
		upd = upd.Remove(expression.Name("tier_limit"))
	} else {
		upd = upd.Set(expression.Name("tier_limit"), expression.Value(nAttr(int64(limit))))
	}
	cond := expression.AttributeNotExists(expression.Name("tier_at")).Or(expression.Name("tier_at").LessThanEqual(at))
	e, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return false, fault.PermanentErr(fmt.Errorf("set messaging limit of portfolio %s: build expression: %w", r.Portfolio, err))
	}
	_, err = s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.Table), Key: portfolioKey(r.Portfolio),
		UpdateExpression: e.Update(), ConditionExpression: e.Condition(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fault.Retryable(fmt.Errorf("set messaging limit of portfolio %s: %w", r.Portfolio, err))
	}
	s.mu.Lock()
	delete(s.states, r.Portfolio)
	s.mu.Unlock()
	return true, nil
}

func (s *Store) setHealth(ctx context.Context, r Report) error {
	at := expression.Value(nAttr(r.At.UnixMilli()))
	upd := expression.Set(expression.Name("at"), at)
	if r.Quality != "" {
		upd = upd.Set(expression.Name("quality"), expression.Value(sAttr(strings.ToUpper(r.Quality))))
	}
	if r.Status != "" {
		upd = upd.Set(expression.Name("status"), expression.Value(sAttr(strings.ToUpper(r.Status))))
		if r.Quality == "" && HealthEvent(r.Status) && !strings.EqualFold(r.Status, "FLAGGED") {
			upd = upd.Remove(expression.Name("quality"))
		}
	}
	cond := expression.AttributeNotExists(expression.Name("at")).Or(expression.Name("at").LessThanEqual(at))
	e, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return fault.PermanentErr(fmt.Errorf("set quality of number %s: build expression: %w", r.PhoneNumberID, err))
	}
	_, err = s.API.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.Table), Key: numberKey(r.PhoneNumberID),
		UpdateExpression: e.Update(), ConditionExpression: e.Condition(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()})
	if err != nil && !conditionFailed(err) {
		return fault.Retryable(fmt.Errorf("set quality of number %s: %w", r.PhoneNumberID, err))
	}
	return nil
}

// Health is the number's quality and status as last reported (zero when
// never).
func (s *Store) Health(ctx context.Context, phoneNumberID string) (Health, error) {
	out, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: numberKey(phoneNumberID)})
	if err != nil {
		return Health{}, fault.Retryable(fmt.Errorf("read quality of number %s: %w", phoneNumberID, err))
	}
	h := Health{PhoneNumberID: phoneNumberID, Quality: str(out.Item["quality"]), Status: str(out.Item["status"])}
	if v, ok := out.Item["at"]; ok {
		h.At = time.UnixMilli(int64(number(v)))
	}
	return h, nil
}

func str(v ddbtypes.AttributeValue) string {
	if s, ok := v.(*ddbtypes.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func number(v ddbtypes.AttributeValue) int {
	if n, ok := v.(*ddbtypes.AttributeValueMemberN); ok {
		i, _ := strconv.ParseInt(n.Value, 10, 64)
		return int(i)
	}
	return 0
}

func conditionFailed(err error) bool {
	var cf *ddbtypes.ConditionalCheckFailedException
	return errors.As(err, &cf)
}
