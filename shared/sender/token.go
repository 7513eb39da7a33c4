package sender

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/queue"
)

// Token outages. When Meta rejects a tenant's access token (190), the
// tenant's jobs are held rather than failed: each goes back to the queue
// (its claim released, its visibility delayed by holdDelay) until the
// tenant's sending secret holds another token, and is then sent. An
// instance that saw the rejection does not call Meta again with that token:
// it compares the fingerprint of the token it reads with the rejected one,
// re-reading the secret at most every TokenRecheck. The first instance to
// see a given token rejected records it in the state table
// ("token#{tenant_id}"); only that one counts MetricTokenInvalid (the
// alarm) and tells the core (account.token_invalid), so both happen once
// per outage. A job held past TokenHoldMax since it was queued, or past
// the receive budget (GiveUpAfter), fails: graph_error 190, retryable.

// Outages records which token of a tenant Meta rejected; *OutageStore
// satisfies it. Begin reports whether this call is the first to record
// fingerprint for the tenant. Errors are classified Retry.
type Outages interface {
	Begin(ctx context.Context, tenantID, fingerprint string, at time.Time) (first bool, err error)
}

// Token hold defaults.
const (
	// DefaultTokenHoldMax is how long after it was queued a job may be
	// held for new credentials before it fails.
	DefaultTokenHoldMax = 4 * time.Hour
	// DefaultTokenRecheck is how often an instance re-reads a rejected
	// tenant's secret to see whether it changed.
	DefaultTokenRecheck = 30 * time.Second
	// firstHold and maxHoldDelay bound the visibility delay of a held job:
	// 30 s, doubling, at most 15 min. The receive budget (GiveUpAfter 25)
	// then spans about 5 h, beyond DefaultTokenHoldMax.
	firstHold    = 30 * time.Second
	maxHoldDelay = 15 * time.Minute
	keepOutages  = 30 * 24 * time.Hour
)

// Metric names of token outages.
const (
	// MetricTokenInvalid counts token outages: once per rejected token,
	// across all instances.
	MetricTokenInvalid = "TenantTokenInvalid"
	// MetricHeld counts jobs held for a tenant's credentials.
	MetricHeld = "OutboundHeld"
)

// TypeTokenInvalid is the event the core gets once per token outage.
const TypeTokenInvalid = event.TypeAccountPrefix + "token_invalid"

// rejectedToken is what an instance knows of a tenant's rejected token.
type rejectedToken struct {
	fingerprint string
	checked     time.Time // when the secret was last read
}

// Fingerprint identifies a token without keeping it: what the token
// outage record (OutageStore) and account.token_invalid's event id hold,
// so the scheduled token check (shared/tokenhealth) finds the same outage.
func Fingerprint(token string) string { return fingerprint(token) }

// fingerprint identifies a token without keeping it.
func fingerprint(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:8])
}

// tokenRejected says whether creds carry the token Meta rejected for this
// secret. It re-reads the secret when the last check is older than
// TokenRecheck, and forgets the rejection when the token changed.
func (h *Handler) tokenRejected(ctx context.Context, a *attempt) (bool, error) {
	v, ok := h.rejectedTokens.Load(a.tenant.SecretID)
	if !ok {
		return false, nil
	}
	r := v.(rejectedToken)
	if h.now().Sub(r.checked) >= h.tokenRecheck() {
		h.Secrets.Invalidate(a.tenant.SecretID)
		creds, err := h.Secrets.Credentials(ctx, a.tenant.SecretID)
		if err != nil {
			return false, err
		}
		a.creds = creds
		r.checked = h.now()
		h.rejectedTokens.Store(a.tenant.SecretID, r)
	}
	if fingerprint(a.creds.AccessToken) == r.fingerprint {
		return true, nil
	}
	h.rejectedTokens.Delete(a.tenant.SecretID)
	a.log.InfoContext(ctx, "tenant credentials changed since Meta rejected them; sending again")
	return false, nil
}

// tokenInvalid handles Meta's 190 for the attempt's token: remember it,
// record the outage (once), and hold the job.
func (h *Handler) tokenInvalid(ctx context.Context, a *attempt, ge *graph.Error) error {
	fp := fingerprint(a.creds.AccessToken)
	h.Secrets.Invalidate(a.tenant.SecretID)
	h.rejectedTokens.Store(a.tenant.SecretID, rejectedToken{fingerprint: fp, checked: h.now()})
	first := true
	if h.Outages != nil {
		var err error
		if first, err = h.Outages.Begin(ctx, a.tenant.ID, fp, h.now()); err != nil {
			// Told again by the next job that sees the rejection.
			a.log.WarnContext(ctx, "could not record the token outage", "error", err.Error())
			return h.release(ctx, a, err)
		}
	}
	if first {
		a.log.ErrorContext(ctx, "Meta rejected the tenant's access token; its jobs are held until the credentials change", "code", ge.Code, "subcode", ge.Subcode)
		h.count(MetricTokenInvalid)
		if err := h.publishTokenInvalid(ctx, a, fp, ge); err != nil {
			return h.release(ctx, a, err)
		}
	}
	return h.hold(ctx, a, ge)
}

// hold returns the job to the queue until the credentials change, or
// fails it once it has waited too long.
func (h *Handler) hold(ctx context.Context, a *attempt, ge *graph.Error) error {
	waited := time.Duration(0)
	if !a.queuedAt.IsZero() {
		waited = h.now().Sub(a.queuedAt)
	}
	if waited >= h.tokenHoldMax() || a.attempts >= h.giveUpAfter() {
		f := Failure{Reason: event.ReasonGraphError, Code: graph.CodeInvalidToken, Title: "Access token rejected", Retryable: true,
			Details: fmt.Sprintf("held %s (%d receives) for new credentials of tenant %s; Meta kept rejecting its access token", waited.Round(time.Minute), a.attempts, a.tenant.ID)}
		if ge != nil && ge.Title != "" {
			f.Title = ge.Title
		}
		return h.fail(ctx, a, f)
	}
	h.count(MetricHeld, "Reason", "token_invalid")
	after := holdDelay(a.attempts)
	a.log.InfoContext(ctx, "job held: the tenant's access token is rejected", "retry_in", after.String())
	return h.release(ctx, a, &retryAfterError{after: after,
		err: fault.Retryable(fmt.Errorf("send job %s: held: the access token of tenant %s is rejected", a.job.JobID, a.tenant.ID))})
}

// holdDelay is the visibility delay of a job held for the receive-th time.
func holdDelay(receive int) time.Duration {
	d := firstHold
	for i := 1; i < receive && d < maxHoldDelay; i++ {
		d *= 2
	}
	return min(d, maxHoldDelay)
}

// publishTokenInvalid tells the core, at once, that the tenant's token is
// rejected and its jobs are held.
func (h *Handler) publishTokenInvalid(ctx context.Context, a *attempt, fp string, ge *graph.Error) error {
	value, err := json.Marshal(map[string]any{
		"code": ge.Code, "subcode": ge.Subcode, "message": ge.Message,
		"held_for_at_most": h.tokenHoldMax().String(),
	})
	if err != nil {
		return fault.PermanentErr(fmt.Errorf("encode %s: %w", TypeTokenInvalid, err))
	}
	ev := event.Event{
		SchemaVersion: event.SchemaVersion,
		EventID:       event.AccountEventID(TypeTokenInvalid, a.tenant.ID, fp),
		Type:          TypeTokenInvalid,
		TenantID:      a.tenant.ID,
		PhoneNumberID: a.job.PhoneNumberID,
		OccurredAt:    h.now().UTC().Format(time.RFC3339),
		Account:       &event.AccountChange{Field: "token_invalid", Event: "TOKEN_INVALID", Value: value},
	}
	msg, err := queue.EventMessage(ev)
	if err != nil {
		return fault.PermanentErr(err)
	}
	if err := h.Events.Publish(ctx, h.CoreEventsQueueURL, msg); err != nil {
		return fault.Retryable(fmt.Errorf("report %s of tenant %s: %w", TypeTokenInvalid, a.tenant.ID, err))
	}
	return nil
}

// OutageStore keeps token outages in the state table, one item per
// tenant: "token#{tenant_id}" with the rejected token's fingerprint.
type OutageStore struct {
	API interface {
		PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	}
	Table string
}

// Begin records fingerprint as the tenant's rejected token unless it is
// recorded already.
func (s *OutageStore) Begin(ctx context.Context, tenantID, fp string, at time.Time) (bool, error) {
	e, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk")).Or(
		expression.Name("fingerprint").NotEqual(expression.Value(fp)))).Build()
	if err != nil {
		return false, fault.PermanentErr(fmt.Errorf("record token outage of tenant %s: build condition: %w", tenantID, err))
	}
	_, err = s.API.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table),
		Item: map[string]ddbtypes.AttributeValue{
			"pk":          &ddbtypes.AttributeValueMemberS{Value: "token#" + tenantID},
			"tenant_id":   &ddbtypes.AttributeValueMemberS{Value: tenantID},
			"fingerprint": &ddbtypes.AttributeValueMemberS{Value: fp},
			"since":       &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(at.Unix(), 10)},
			"expires_at":  &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(at.Add(keepOutages).Unix(), 10)},
		},
		ConditionExpression:       e.Condition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
	})
	var cf *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return false, nil
	}
	if err != nil {
		return false, fault.Retryable(fmt.Errorf("record token outage of tenant %s: %w", tenantID, err))
	}
	return true, nil
}

func (h *Handler) tokenHoldMax() time.Duration {
	if h.TokenHoldMax > 0 {
		return h.TokenHoldMax
	}
	return DefaultTokenHoldMax
}

func (h *Handler) tokenRecheck() time.Duration {
	if h.TokenRecheck > 0 {
		return h.TokenRecheck
	}
	return DefaultTokenRecheck
}
