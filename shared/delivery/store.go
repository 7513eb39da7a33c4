package delivery

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/campaign/tally"
	"github.com/tucanlink/wacloud/shared/dynamoexpr"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/fault"
)

// API is the part of the DynamoDB client Store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// DefaultRetention is how long a record is kept after it was created.
const DefaultRetention = 90 * 24 * time.Hour

// maxAttempts bounds Apply's compare-and-swap loop; each retry means
// another status for the same message changed the record in between.
const maxAttempts = 10

// Store reads and writes message records. It is safe for concurrent use.
// Errors are classified with fault: Invalid for bad input, Permanent for a
// tenant conflict, Retry for anything DynamoDB may accept later.
type Store struct {
	API       API
	Table     string
	Retention time.Duration // default DefaultRetention
	Now       func() time.Time
	// CampaignsTable, when set, is where the messages of a campaign are
	// counted (package tally); unset, nothing is counted.
	CampaignsTable string
}

const (
	prefixMsg    = "msg#"
	prefixJobRef = "jobref#"
	noPrevious   = "none" // prev_{state} of the state that created the record
)

// Attribute names.
const (
	attrStatus    = "status"
	attrRank      = "status_rank"
	attrTenant    = "tenant_id"
	attrPhone     = "phone_number_id"
	attrJob       = "job_id"
	attrClientRef = "client_ref"
	attrCampaign  = "campaign_id"
	attrCounted   = "counted" // string set: the states counted in the campaign (tally)
	attrTrace     = "trace_header"
	attrRecipient = "recipient"
	attrType      = "msg_type"
	attrAccepted  = "accepted_at"
	attrExternal  = "external"
	attrErrors    = "errors"
	attrConv      = "conversation"
	attrPricing   = "pricing"
	attrOpaque    = "biz_opaque_callback_data"
	attrUpdated   = "updated_at"
	attrExpires   = "expires_at"
)

func atAttr(state string) string       { return state + "_at" }
func prevAttr(state string) string     { return "prev_" + state }
func notifiedAttr(state string) string { return "notified_" + state }

func key(pk string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}}
}

func str(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
func num(n int64) ddbtypes.AttributeValue {
	return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
func tstr(t time.Time) ddbtypes.AttributeValue {
	return str(t.UTC().Format(time.RFC3339Nano))
}

// RecordAccepted writes the record of a message Meta accepted, and its job
// reference, in one transaction. It is idempotent. When statuses arrived
// first (the record exists, marked external), it fills in the job and keeps
// the state and history they left. It fails with ErrTenantMismatch
// (Permanent) when the wamid is recorded for another tenant or job.
func (s *Store) RecordAccepted(ctx context.Context, r Record) error {
	items, err := s.acceptedWrites(r, false)
	if err != nil {
		return err
	}
	_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return s.AcceptedError(r, err)
}

// AcceptedWrites returns RecordAccepted's writes, for a caller that makes
// them part of its own transaction (the sender, with its job record,
// which happens once per job). A message of a campaign is also counted
// as accepted in it, and marked counted, so the status function never
// counts it again. AcceptedError interprets that transaction's error for
// them.
func (s *Store) AcceptedWrites(r Record) ([]ddbtypes.TransactWriteItem, error) {
	return s.acceptedWrites(r, true)
}

func (s *Store) acceptedWrites(r Record, count bool) ([]ddbtypes.TransactWriteItem, error) {
	if r.WAMID == "" || r.TenantID == "" || r.PhoneNumberID == "" || r.JobID == "" {
		return nil, fault.Invalidf("record accepted message: wamid, tenant, phone number id and job id are required (wamid %q, job %q)", r.WAMID, r.JobID)
	}
	now := s.now()
	at := r.AcceptedAt
	if at.IsZero() {
		at = now
	}
	b := newUpdate()
	b.set("wamid", str(r.WAMID))
	b.set(attrTenant, str(r.TenantID))
	b.set(attrPhone, str(r.PhoneNumberID))
	b.set(attrJob, str(r.JobID))
	b.set(attrAccepted, tstr(at))
	b.set(attrExternal, &ddbtypes.AttributeValueMemberBOOL{Value: false})
	b.setIfAbsent(attrStatus, str(event.StatusAccepted))
	b.setIfAbsent(attrRank, num(0))
	b.set(attrExpires, num(at.Add(s.retention()).Unix()))
	b.set(attrUpdated, tstr(now))
	if r.To != "" {
		b.set(attrRecipient, str(r.To))
	}
	if r.Type != "" {
		b.set(attrType, str(r.Type))
	}
	if r.ClientRef != "" {
		b.set(attrClientRef, str(r.ClientRef))
	}
	if r.CampaignID != "" {
		b.set(attrCampaign, str(r.CampaignID))
	}
	if r.TraceHeader != "" {
		b.set(attrTrace, str(r.TraceHeader))
	}
	// A new record, or this tenant's record of this job (or of no job yet:
	// statuses came first).
	e := b.e
	cond := dynamoexpr.Or(e.NotExists("pk"), dynamoexpr.And(
		e.Compare(attrTenant, "=", e.S(r.TenantID)),
		dynamoexpr.Or(e.NotExists(attrJob), e.Compare(attrJob, "=", e.S(r.JobID)))))
	var counted *ddbtypes.TransactWriteItem
	if count && r.CampaignID != "" && s.CampaignsTable != "" {
		d := tally.Delta{States: []string{tally.Accepted}}
		w, err := tally.Write(s.CampaignsTable, r.TenantID, r.CampaignID, r.WAMID, d)
		if err != nil {
			return nil, fault.PermanentErr(err)
		}
		counted = &w
		b.u.Add(attrCounted, &ddbtypes.AttributeValueMemberSS{Value: d.Marks()})
		cond = dynamoexpr.And(cond, notCounted(e, d.Marks()))
	}
	// Each transaction item carries its own placeholders only. A
	// reference past its expires_at (TTL deletes it days later) is free
	// again: the job record, which outlives it, decided the id is new.
	re := dynamoexpr.New()
	refCond := dynamoexpr.Or(re.NotExists("pk"), re.Compare("wamid", "=", re.S(r.WAMID)),
		re.Compare(attrExpires, "<", re.N(now.Unix())))
	jobRef := map[string]ddbtypes.AttributeValue{
		"pk": str(jobRefKey(r.TenantID, r.JobID)), "wamid": str(r.WAMID), attrTenant: str(r.TenantID),
		attrExpires: num(at.Add(s.retention()).Unix()),
	}
	items := []ddbtypes.TransactWriteItem{
		{Update: &ddbtypes.Update{
			TableName:                 aws.String(s.Table),
			Key:                       key(prefixMsg + r.WAMID),
			UpdateExpression:          aws.String(b.u.String()),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  e.Names(),
			ExpressionAttributeValues: e.Values(),
		}},
		{Put: &ddbtypes.Put{
			TableName:                 aws.String(s.Table),
			Item:                      jobRef,
			ConditionExpression:       aws.String(refCond),
			ExpressionAttributeNames:  re.Names(),
			ExpressionAttributeValues: re.Values(),
		}},
	}
	if counted != nil {
		items = append(items, *counted)
	}
	return items, nil
}

// notCounted holds while none of marks is in the record's counted set.
func notCounted(e *dynamoexpr.Expr, marks []string) string {
	conds := make([]string, len(marks))
	for i, m := range marks {
		conds[i] = dynamoexpr.Not(e.Contains(attrCounted, e.S(m)))
	}
	return dynamoexpr.And(conds...)
}

// AcceptedError classifies the error of a transaction holding
// AcceptedWrites (nil stays nil).
func (s *Store) AcceptedError(r Record, err error) error {
	if err == nil {
		return nil
	}
	var tc *ddbtypes.TransactionCanceledException
	if errors.As(err, &tc) && conditionFailed(tc) {
		return fault.WithCode(fault.Permanent, "tenant_mismatch", fmt.Errorf(
			"record accepted message %s of job %s for tenant %s: wamid or job already recorded for another tenant or job: %w",
			r.WAMID, r.JobID, r.TenantID, ErrTenantMismatch))
	}
	if err != nil {
		return fault.Retryable(fmt.Errorf("record accepted message %s of job %s: %w", r.WAMID, r.JobID, err))
	}
	return nil
}

func conditionFailed(tc *ddbtypes.TransactionCanceledException) bool {
	for _, r := range tc.CancellationReasons {
		if aws.ToString(r.Code) == "ConditionalCheckFailed" {
			return true
		}
	}
	return false
}

// Apply records one status. The state advances only when the status ranks
// above the stored state; otherwise the status leaves only its timestamp
// and the details not recorded yet. A status for an unknown wamid creates a
// record marked External (unless RequireRecord). A status for another
// tenant or business number than the record's changes nothing and returns
// ErrTenantMismatch.
func (s *Store) Apply(ctx context.Context, u StatusUpdate) (Result, error) {
	rank, ok := Rank(u.Status)
	if !ok || u.Status == event.StatusAccepted {
		return Result{}, fault.InvalidErr(fmt.Errorf("apply status %q to %s: %w", u.Status, u.WAMID, ErrUnknownStatus))
	}
	if u.WAMID == "" || u.TenantID == "" {
		return Result{}, fault.Invalidf("apply status %q: wamid and tenant are required (wamid %q)", u.Status, u.WAMID)
	}
	if u.At.IsZero() {
		u.At = s.now()
	}
	// Statuses mostly arrive in Meta's order: first try the update from
	// the state usually before this one, without reading the record. A
	// miss returns the record as it is (ALL_OLD), so it costs no read
	// either; a miss that returns none found no record.
	var old map[string]ddbtypes.AttributeValue
	known := false
	if guess, ok := usuallyBefore[u.Status]; ok {
		item, current, err := s.advance(ctx, u, rank, map[string]ddbtypes.AttributeValue{attrStatus: str(guess)})
		if err != nil {
			return Result{}, err
		}
		if item != nil {
			m, err := decode(item)
			return Result{Advanced: true, Previous: guess, Message: m}, err
		}
		old, known = current, true
		if len(old) == 0 {
			old = nil
		}
	}
	for range maxAttempts {
		if !known {
			var err error
			if old, err = s.item(ctx, prefixMsg+u.WAMID); err != nil {
				return Result{}, fmt.Errorf("apply status %s to %s: %w", u.Status, u.WAMID, err)
			}
		}
		known = false
		if old == nil && u.RequireRecord {
			return Result{}, fault.Retryable(fmt.Errorf("apply status %s to %s: %w", u.Status, u.WAMID, ErrNoRecord))
		}
		prev := ""
		if old != nil {
			prev = sAttr(old, attrStatus)
			if t, p := sAttr(old, attrTenant), sAttr(old, attrPhone); t != u.TenantID || (p != "" && u.PhoneNumberID != "" && p != u.PhoneNumberID) {
				return Result{}, fault.WithCode(fault.Permanent, "tenant_mismatch", fmt.Errorf(
					"apply status %s to %s: status of tenant %s number %s, record of tenant %s number %s: %w",
					u.Status, u.WAMID, u.TenantID, u.PhoneNumberID, t, p, ErrTenantMismatch))
			}
			if oldRank, _ := nAttr(old, attrRank); oldRank >= int64(rank) {
				item, retry, err := s.addHistory(ctx, u, old)
				if err != nil {
					return Result{}, err
				}
				if retry {
					continue
				}
				m, err := decode(item)
				return Result{Previous: prev, Message: m}, err
			}
		}
		item, current, err := s.advance(ctx, u, rank, old)
		if err != nil {
			return Result{}, err
		}
		if item == nil {
			old, known = current, len(current) > 0
			continue
		}
		m, err := decode(item)
		return Result{Advanced: true, Previous: prev, Message: m}, err
	}
	return Result{}, fault.Retryable(fmt.Errorf("apply status %s to %s: record kept changing under %d attempts", u.Status, u.WAMID, maxAttempts))
}

// usuallyBefore is the state Meta's statuses normally follow.
var usuallyBefore = map[string]string{
	event.StatusSent:      event.StatusAccepted,
	event.StatusDelivered: event.StatusSent,
	event.StatusRead:      event.StatusDelivered,
}

// advance makes u.Status the current state, provided the record is still
// in old's state (old nil: still absent) and of u's tenant and number. It
// returns the new record, or nil and the record as it is when it was not
// (current is empty when there is no record).
func (s *Store) advance(ctx context.Context, u StatusUpdate, rank int, old map[string]ddbtypes.AttributeValue) (item, current map[string]ddbtypes.AttributeValue, err error) {
	now := s.now()
	b := newUpdate()
	b.set(attrStatus, str(u.Status))
	b.set(attrRank, num(int64(rank)))
	b.set(atAttr(u.Status), tstr(u.At))
	prev := noPrevious
	if old != nil {
		prev = sAttr(old, attrStatus)
	}
	b.set(prevAttr(u.Status), str(prev))
	b.set("wamid", str(u.WAMID))
	b.set(attrUpdated, tstr(now))
	b.setIfAbsent(attrTenant, str(u.TenantID))
	b.setIfAbsent(attrExternal, &ddbtypes.AttributeValueMemberBOOL{Value: true})
	b.setIfAbsent(attrExpires, num(u.At.Add(s.retention()).Unix()))
	if u.PhoneNumberID != "" {
		b.setIfAbsent(attrPhone, str(u.PhoneNumberID))
	}
	if u.Recipient != "" {
		b.setIfAbsent(attrRecipient, str(u.Recipient))
	}
	if err := s.details(b, u, false, nil); err != nil {
		return nil, nil, err
	}
	// Still absent, or still the state read, ranked below this status, of
	// this tenant.
	e := b.e
	var cond string
	if old == nil {
		cond = e.NotExists("pk")
	} else {
		conds := []string{
			e.Compare(attrStatus, "=", e.S(sAttr(old, attrStatus))),
			e.Compare(attrRank, "<", e.N(int64(rank))),
			e.Compare(attrTenant, "=", e.S(u.TenantID)),
		}
		if u.PhoneNumberID != "" {
			conds = append(conds, dynamoexpr.Or(e.NotExists(attrPhone), e.Compare(attrPhone, "=", e.S(u.PhoneNumberID))))
		}
		cond = dynamoexpr.And(conds...)
	}
	in := b.input(s.Table, prefixMsg+u.WAMID, cond)
	in.ReturnValues = ddbtypes.ReturnValueAllNew
	in.ReturnValuesOnConditionCheckFailure = ddbtypes.ReturnValuesOnConditionCheckFailureAllOld
	out, err := s.API.UpdateItem(ctx, in)
	var cf *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return nil, cf.Item, nil
	}
	if err != nil {
		return nil, nil, fault.Retryable(fmt.Errorf("apply status %s to %s: %w", u.Status, u.WAMID, err))
	}
	return out.Attributes, nil, nil
}

// addHistory records what a non-advancing status adds: its timestamp and
// details the record lacks. It writes nothing when there is nothing new,
// so a duplicate changes nothing.
func (s *Store) addHistory(ctx context.Context, u StatusUpdate, old map[string]ddbtypes.AttributeValue) (item map[string]ddbtypes.AttributeValue, retry bool, err error) {
	b := newUpdate()
	if _, ok := old[atAttr(u.Status)]; !ok {
		b.setIfAbsent(atAttr(u.Status), tstr(u.At))
	}
	if _, ok := old[attrRecipient]; !ok && u.Recipient != "" {
		b.setIfAbsent(attrRecipient, str(u.Recipient))
	}
	if err := s.details(b, u, true, old); err != nil {
		return nil, false, err
	}
	if b.empty() {
		return old, false, nil
	}
	in := b.input(s.Table, prefixMsg+u.WAMID, b.e.Compare(attrTenant, "=", b.e.S(u.TenantID)))
	in.ReturnValues = ddbtypes.ReturnValueAllNew
	out, err := s.API.UpdateItem(ctx, in)
	var cf *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, fault.Retryable(fmt.Errorf("record late status %s of %s: %w", u.Status, u.WAMID, err))
	}
	return out.Attributes, false, nil
}

// details adds errors, conversation, pricing and callback data. When
// onlyAbsent, each is written only if the record (old) lacks it.
func (s *Store) details(b *update, u StatusUpdate, onlyAbsent bool, old map[string]ddbtypes.AttributeValue) error {
	add := func(attr string, v any) error {
		if _, ok := old[attr]; ok && onlyAbsent {
			return nil
		}
		av, err := attributevalue.MarshalWithOptions(v, jsonTags)
		if err != nil {
			return fault.InvalidErr(fmt.Errorf("encode %s of %s: %w", attr, u.WAMID, err))
		}
		if onlyAbsent {
			b.setIfAbsent(attr, av)
		} else {
			b.set(attr, av)
		}
		return nil
	}
	if u.Status == event.StatusFailed && len(u.Errors) > 0 {
		if err := add(attrErrors, u.Errors); err != nil {
			return err
		}
	}
	if u.Conversation != nil {
		if err := add(attrConv, u.Conversation); err != nil {
			return err
		}
	}
	if u.Pricing != nil {
		if err := add(attrPricing, u.Pricing); err != nil {
			return err
		}
	}
	if u.BizOpaqueCallbackData != "" {
		if _, ok := old[attrOpaque]; !ok {
			b.setIfAbsent(attrOpaque, str(u.BizOpaqueCallbackData))
		}
	}
	return nil
}

// MarkNotified records that the events of states were published, so
// Pending no longer lists them.
func (s *Store) MarkNotified(ctx context.Context, wamid string, states []string, at time.Time) error {
	if len(states) == 0 {
		return nil
	}
	b := newUpdate()
	for _, st := range states {
		b.setIfAbsent(notifiedAttr(st), tstr(at))
	}
	in := b.input(s.Table, prefixMsg+wamid, b.e.Exists("pk"))
	if _, err := s.API.UpdateItem(ctx, in); err != nil {
		return fault.Retryable(fmt.Errorf("mark status events of %s published: %w", wamid, err))
	}
	return nil
}

// Get returns the record of a message, or an error wrapping ErrNotFound.
func (s *Store) Get(ctx context.Context, wamid string) (Message, error) {
	item, err := s.item(ctx, prefixMsg+wamid)
	if err != nil {
		return Message{}, fmt.Errorf("get message %s: %w", wamid, err)
	}
	if item == nil {
		return Message{}, fault.PermanentErr(fmt.Errorf("get message %s: %w", wamid, ErrNotFound))
	}
	return decode(item)
}

// jobRefKey is the job reference's key: job ids are scoped by tenant, and
// tenant ids never contain '#'.
func jobRefKey(tenantID, jobID string) string { return prefixJobRef + tenantID + "#" + jobID }

// ByJob returns the record of the message a tenant's outbound job
// produced, or an error wrapping ErrNotFound. A reference written by a
// version before job ids were scoped by tenant ("jobref#{job_id}") is
// found too when it names this tenant.
func (s *Store) ByJob(ctx context.Context, tenantID, jobID string) (Message, error) {
	item, err := s.item(ctx, jobRefKey(tenantID, jobID))
	if err == nil && item == nil {
		item, err = s.item(ctx, prefixJobRef+jobID)
		if item != nil && sAttr(item, attrTenant) != tenantID {
			item = nil
		}
	}
	if err != nil {
		return Message{}, fmt.Errorf("get message of job %s/%s: %w", tenantID, jobID, err)
	}
	if item == nil {
		return Message{}, fault.PermanentErr(fmt.Errorf("get message of job %s/%s: %w", tenantID, jobID, ErrNotFound))
	}
	return s.Get(ctx, sAttr(item, "wamid"))
}

func (s *Store) item(ctx context.Context, pk string) (map[string]ddbtypes.AttributeValue, error) {
	out, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: key(pk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fault.Retryable(fmt.Errorf("read %s: %w", pk, err))
	}
	return out.Item, nil
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Store) retention() time.Duration {
	if s.Retention > 0 {
		return s.Retention
	}
	return DefaultRetention
}

func jsonTags(o *attributevalue.EncoderOptions) { o.TagKey = "json" }

// update collects the SET actions of one UpdateItem. dynamoexpr puts every
// attribute name through a placeholder, so that no attribute (external,
// status…) collides with DynamoDB's reserved words.
type update struct {
	e *dynamoexpr.Expr
	u *dynamoexpr.Update
}

func newUpdate() *update {
	e := dynamoexpr.New()
	return &update{e: e, u: e.Update()}
}

// set writes attr.
func (b *update) set(attr string, v ddbtypes.AttributeValue) { b.u.Set(attr, v) }

// setIfAbsent writes attr unless it exists.
func (b *update) setIfAbsent(attr string, v ddbtypes.AttributeValue) { b.u.SetIfAbsent(attr, v) }

func (b *update) empty() bool { return b.u.Empty() }

// input is the UpdateItem of the record pk, made only when cond (written
// with b.e) holds.
func (b *update) input(table, pk, cond string) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       key(pk),
		UpdateExpression:          aws.String(b.u.String()),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  b.e.Names(),
		ExpressionAttributeValues: b.e.Values(),
	}
}

func sAttr(item map[string]ddbtypes.AttributeValue, name string) string {
	if v, ok := item[name].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func nAttr(item map[string]ddbtypes.AttributeValue, name string) (int64, bool) {
	if v, ok := item[name].(*ddbtypes.AttributeValueMemberN); ok {
		n, err := strconv.ParseInt(v.Value, 10, 64)
		return n, err == nil
	}
	return 0, false
}

func tAttr(item map[string]ddbtypes.AttributeValue, name string) (time.Time, bool) {
	s := sAttr(item, name)
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// decode turns an item into a Message.
func decode(item map[string]ddbtypes.AttributeValue) (Message, error) {
	m := Message{
		Record: Record{
			WAMID: sAttr(item, "wamid"), TenantID: sAttr(item, attrTenant), PhoneNumberID: sAttr(item, attrPhone),
			JobID: sAttr(item, attrJob), ClientRef: sAttr(item, attrClientRef), CampaignID: sAttr(item, attrCampaign), To: sAttr(item, attrRecipient),
			Type: sAttr(item, attrType), TraceHeader: sAttr(item, attrTrace),
		},
		Status:                sAttr(item, attrStatus),
		BizOpaqueCallbackData: sAttr(item, attrOpaque),
		StatusAt:              map[string]time.Time{},
		Transitions:           map[string]string{},
		Notified:              map[string]time.Time{},
		Counted:               map[string]bool{},
	}
	if v, ok := item[attrCounted].(*ddbtypes.AttributeValueMemberSS); ok {
		for _, c := range v.Value {
			m.Counted[c] = true
		}
	}
	if v, ok := item[attrExternal].(*ddbtypes.AttributeValueMemberBOOL); ok {
		m.External = v.Value
	}
	m.AcceptedAt, _ = tAttr(item, attrAccepted)
	m.UpdatedAt, _ = tAttr(item, attrUpdated)
	for _, st := range States {
		if t, ok := tAttr(item, atAttr(st)); ok {
			m.StatusAt[st] = t
		}
		if _, ok := item[prevAttr(st)]; ok {
			p := sAttr(item, prevAttr(st))
			if p == noPrevious {
				p = ""
			}
			m.Transitions[st] = p
		}
		if t, ok := tAttr(item, notifiedAttr(st)); ok {
			m.Notified[st] = t
		}
	}
	dec := func(o *attributevalue.DecoderOptions) { o.TagKey = "json" }
	if v, ok := item[attrErrors]; ok {
		if err := attributevalue.UnmarshalWithOptions(v, &m.Errors, dec); err != nil {
			return m, fault.PermanentErr(fmt.Errorf("decode errors of %s: %w", m.WAMID, err))
		}
	}
	if v, ok := item[attrConv]; ok {
		m.Conversation = &event.Conversation{}
		if err := attributevalue.UnmarshalWithOptions(v, m.Conversation, dec); err != nil {
			return m, fault.PermanentErr(fmt.Errorf("decode conversation of %s: %w", m.WAMID, err))
		}
	}
	if v, ok := item[attrPricing]; ok {
		m.Pricing = &event.Pricing{}
		if err := attributevalue.UnmarshalWithOptions(v, m.Pricing, dec); err != nil {
			return m, fault.PermanentErr(fmt.Errorf("decode pricing of %s: %w", m.WAMID, err))
		}
	}
	return m, nil
}
