package onboard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// The steps, in order.
const (
	StepExchangeCode   = "exchange_code"
	StepCheckToken     = "check_token"
	StepFindNumber     = "find_number"
	StepSubscribeApp   = "subscribe_app"
	StepRegisterNumber = "register_number"
	StepStoreTenant    = "store_tenant"
	StepSyncTemplates  = "sync_templates"
	StepNotifyCore     = "notify_core"
)

// Steps lists the steps in the order they run.
var Steps = []string{StepExchangeCode, StepCheckToken, StepFindNumber, StepSubscribeApp,
	StepRegisterNumber, StepStoreTenant, StepSyncTemplates, StepNotifyCore}

// Statuses of an onboarding.
const (
	StatusInProgress = "in_progress"
	StatusFailed     = "failed"
	StatusCompleted  = "completed"
)

// TypeOnboarded is the event the core gets once per onboarding.
const TypeOnboarded = event.TypeAccountPrefix + "onboarded"

// Failure reasons that are not Meta's errors.
const (
	ReasonMeta           = "meta_error"         // Meta refused a call: Code, Subcode, Message are Meta's
	ReasonTokenScopes    = "token_scopes"       // the token lacks a scope or the WABA
	ReasonTokenInvalid   = "token_invalid"      // debug_token says the token is not valid
	ReasonNumberNotFound = "number_not_in_waba" // the WABA does not list the number
	ReasonNumberTaken    = "number_taken"       // another tenant has the number or the WABA
	ReasonOtherWABA      = "tenant_other_waba"  // the tenant exists with numbers of another WABA
	ReasonInternal       = "internal"           // AWS or another internal failure; retry
)

// Request is what Embedded Signup handed the browser, plus the tenant.
type Request struct {
	Code          string `json:"code"`
	WABAID        string `json:"waba_id"`
	PhoneNumberID string `json:"phone_number_id"`
	TenantID      string `json:"tenant_id"`
	TenantName    string `json:"tenant_name"`
}

// ID is the onboarding's id: the same tenant, WABA and number give the
// same id, so a repeated request resumes the same onboarding.
func ID(tenantID, wabaID, phoneNumberID string) string {
	sum := sha256.Sum256([]byte(tenantID + "\x00" + wabaID + "\x00" + phoneNumberID))
	return "onb_" + hex.EncodeToString(sum[:10])
}

// State is an onboarding as recorded (onboarding#{id}). It holds no token,
// secret or PIN.
type State struct {
	ID                 string   `dynamodbav:"onboarding_id" json:"id"`
	TenantID           string   `dynamodbav:"tenant_id" json:"tenant_id"`
	TenantName         string   `dynamodbav:"tenant_name,omitempty" json:"tenant_name,omitempty"`
	WABAID             string   `dynamodbav:"waba_id" json:"waba_id"`
	PhoneNumberID      string   `dynamodbav:"phone_number_id" json:"phone_number_id"`
	DisplayPhoneNumber string   `dynamodbav:"display_phone_number,omitempty" json:"display_phone_number,omitempty"`
	Status             string   `dynamodbav:"status" json:"status"`
	Done               []string `dynamodbav:"steps_done" json:"steps_done"`
	// Failure is the last failed step's error, cleared once a run gets
	// past that step.
	Failure   *Failure `dynamodbav:"failure,omitempty" json:"failure,omitempty"`
	CreatedAt string   `dynamodbav:"created_at" json:"created_at"`
	UpdatedAt string   `dynamodbav:"updated_at" json:"updated_at"`
	// Version guards concurrent runs of the same onboarding.
	Version int `dynamodbav:"version" json:"-"`
}

// Failure is why a step failed.
type Failure struct {
	Step    string `dynamodbav:"step" json:"step"`
	Reason  string `dynamodbav:"reason" json:"reason"`
	Code    int    `dynamodbav:"code,omitempty" json:"code,omitempty"`
	Subcode int    `dynamodbav:"subcode,omitempty" json:"subcode,omitempty"`
	// HTTPStatus is Meta's answer's status (ReasonMeta).
	HTTPStatus int    `dynamodbav:"http_status,omitempty" json:"http_status,omitempty"`
	Message    string `dynamodbav:"message" json:"message"`
	At         string `dynamodbav:"at" json:"at"`
}

// Completed reports whether step is recorded as done.
func (s State) Completed(step string) bool { return slices.Contains(s.Done, step) }

// StepError is a failed run: the step, its recorded Failure and the cause.
// Its fault class says who must act: Invalid for what the business or the
// caller must fix (a refused code, a missing scope, a number not in the
// WABA, Meta's 4xx), Retry for Meta's or AWS's transient failures.
type StepError struct {
	Failure Failure
	Err     error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("onboarding step %s: %v", e.Failure.Step, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// Meta is the Graph API (graph.Client). Errors are *graph.Error when Meta
// answered.
type Meta interface {
	ExchangeCode(ctx context.Context, app graph.App, code string) (string, error)
	DebugToken(ctx context.Context, app graph.App, token string) (graph.TokenDebug, error)
	WABANumbers(ctx context.Context, token, wabaID string) ([]graph.WABANumber, error)
	SubscribeApp(ctx context.Context, token, wabaID string) error
	RegisterNumber(ctx context.Context, token, phoneNumberID, pin string) error
}

// SecretsAPI is the part of the Secrets Manager client onboarding uses:
// reads (uncached: a retry must see what the last run wrote) and writes of
// the tenant's secrets, and the platform's Meta app secret.
type SecretsAPI interface {
	tenant.SecretReaderAPI
	tenant.SecretWriterAPI
}

// Registry is the tenant registry (tenant.Registry).
type Registry interface {
	Tenant(ctx context.Context, id string) (tenant.Tenant, error)
	Number(ctx context.Context, phoneNumberID string) (tenant.Number, error)
	TenantOfWABA(ctx context.Context, wabaID string) (string, error)
	Put(ctx context.Context, t tenant.Tenant, numbers []tenant.Number) error
}

// Catalog syncs a tenant's templates (catalog.Syncer).
type Catalog interface {
	SyncTenant(ctx context.Context, tenantID string, wabaIDs []string, token string) (catalog.Result, error)
}

// Publisher queues events for the core (queue.Publisher).
type Publisher interface {
	Publish(ctx context.Context, queueURL string, msgs ...queue.Message) error
}

// States keeps onboardings (*Store). Save fails with ErrConflict when
// another run saved the state since it was read.
type States interface {
	Get(ctx context.Context, id string) (State, bool, error)
	Save(ctx context.Context, s *State) error
}

// Onboarder runs onboardings.
type Onboarder struct {
	Meta    Meta
	Secrets SecretsAPI
	// MetaAppSecret is the platform's Meta app secret id
	// ({SecretPrefix}/meta-app, {"app_id","app_secret"}).
	MetaAppSecret string
	// SecretPrefix and WebhookSecretPrefix name the tenant's secrets:
	// {SecretPrefix}{tenant_id} (sending), {SecretPrefix}{tenant_id}/pin,
	// {WebhookSecretPrefix}{tenant_id} (webhook-side).
	SecretPrefix        string
	WebhookSecretPrefix string
	Registry            Registry
	Catalog             Catalog
	States              States
	Events              Publisher
	EventsQueue         string
	Log                 *slog.Logger
	Now                 func() time.Time
}

// Check validates a request before anything runs.
func Check(r Request) error {
	if err := tenant.CheckID(r.TenantID); err != nil {
		return fault.InvalidErr(fmt.Errorf("onboarding: %w", err))
	}
	if !numeric(r.WABAID) || !numeric(r.PhoneNumberID) {
		return fault.Invalidf("onboarding: waba_id and phone_number_id must be Meta's numeric ids")
	}
	if len(r.TenantName) > 200 {
		return fault.Invalidf("onboarding: tenant_name is longer than 200 characters")
	}
	return nil
}

func numeric(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// State returns the onboarding id, found false when there is none.
func (o *Onboarder) State(ctx context.Context, id string) (State, bool, error) {
	return o.States.Get(ctx, id)
}

// run is one run's working set.
type run struct {
	o     *Onboarder
	req   Request
	st    *State
	app   graph.App
	token string
}

// Run starts or resumes the onboarding of req and returns its state. A
// step that fails stops the run: the state records it and the error is a
// *StepError. The code is needed only while exchange_code is not done.
func (o *Onboarder) Run(ctx context.Context, req Request) (State, error) {
	if err := Check(req); err != nil {
		return State{}, err
	}
	id := ID(req.TenantID, req.WABAID, req.PhoneNumberID)
	st, found, err := o.States.Get(ctx, id)
	if err != nil {
		return State{}, err
	}
	now := o.now()
	if !found {
		st = State{ID: id, TenantID: req.TenantID, WABAID: req.WABAID, PhoneNumberID: req.PhoneNumberID,
			CreatedAt: now.Format(time.RFC3339), Done: []string{}}
	}
	if req.TenantName != "" {
		st.TenantName = req.TenantName
	}
	if st.Status == StatusCompleted {
		return st, nil
	}
	if !st.Completed(StepExchangeCode) && req.Code == "" {
		return st, fault.Invalidf("onboarding %s: code is required until it has been exchanged", id)
	}
	r := &run{o: o, req: req, st: &st}
	for _, step := range Steps {
		if st.Completed(step) {
			continue
		}
		if err := r.do(ctx, step); err != nil {
			return r.fail(ctx, step, err)
		}
		st.Done = append(st.Done, step)
		st.Failure = nil
		st.Status = StatusInProgress
		if len(st.Done) == len(Steps) {
			st.Status = StatusCompleted
		}
		st.UpdatedAt = o.now().Format(time.RFC3339)
		if err := o.States.Save(ctx, &st); err != nil {
			return st, &StepError{Failure: Failure{Step: step, Reason: ReasonInternal, Message: "the onboarding state could not be saved; retry", At: st.UpdatedAt}, Err: err}
		}
		o.log().InfoContext(ctx, "onboarding step done", "onboarding_id", id, "tenant_id", st.TenantID, "phone_number_id", st.PhoneNumberID, "step", step)
	}
	return st, nil
}

// fail records the failed step and returns the state with a *StepError.
func (r *run) fail(ctx context.Context, step string, err error) (State, error) {
	f := Failure{Step: step, Reason: ReasonInternal, Message: "internal error; retry", At: r.o.now().Format(time.RFC3339)}
	var ge *graph.Error
	var own *ownFailure
	class := fault.Retry
	switch {
	case errors.As(err, &own):
		f.Reason, f.Message, class = own.reason, own.message, fault.Invalid
	case errors.As(err, &ge) && !ge.Transport:
		f.Reason, f.Code, f.Subcode, f.HTTPStatus, f.Message = ReasonMeta, ge.Code, ge.Subcode, ge.HTTPStatus, ge.Message
		if ge.UserMessage != "" {
			f.Message += " (" + ge.UserMessage + ")"
		}
		if ge.HTTPStatus >= 400 && ge.HTTPStatus < 500 && ge.HTTPStatus != 429 && !ge.IsTransient {
			class = fault.Invalid
		}
	case errors.As(err, &ge):
		f.Reason, f.Message = ReasonMeta, "the Graph API could not be reached; retry"
	}
	r.st.Status, r.st.Failure, r.st.UpdatedAt = StatusFailed, &f, f.At
	log := r.o.log().With("onboarding_id", r.st.ID, "tenant_id", r.st.TenantID, "phone_number_id", r.st.PhoneNumberID, "step", step)
	log.WarnContext(ctx, "onboarding step failed", "reason", f.Reason, "code", f.Code, "subcode", f.Subcode, "error", err.Error())
	// The failure is recorded even when the run's deadline is what
	// stopped it.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	if serr := r.o.States.Save(sctx, r.st); serr != nil {
		log.ErrorContext(ctx, "record onboarding failure", "error", serr.Error())
	}
	return *r.st, fault.WithCode(class, f.Reason, &StepError{Failure: f, Err: err})
}

// ownFailure is a check of this package that failed (not Meta's error).
type ownFailure struct{ reason, message string }

func (e *ownFailure) Error() string { return e.message }

func (r *run) do(ctx context.Context, step string) error {
	switch step {
	case StepExchangeCode:
		return r.exchange(ctx)
	case StepCheckToken:
		return r.checkToken(ctx)
	case StepFindNumber:
		return r.findNumber(ctx)
	case StepSubscribeApp:
		return r.withToken(ctx, func(token string) error { return r.o.Meta.SubscribeApp(ctx, token, r.st.WABAID) })
	case StepRegisterNumber:
		return r.register(ctx)
	case StepStoreTenant:
		return r.storeTenant(ctx)
	case StepSyncTemplates:
		return r.withToken(ctx, func(token string) error {
			_, err := r.o.Catalog.SyncTenant(ctx, r.st.TenantID, []string{r.st.WABAID}, token)
			return err
		})
	case StepNotifyCore:
		return r.notify(ctx)
	}
	return fault.Permanentf("onboarding: unknown step %s", step)
}

func (r *run) sendingSecret() string { return r.o.SecretPrefix + r.st.TenantID }
func (r *run) pinSecret() string     { return PINSecretID(r.o.SecretPrefix, r.st.TenantID) }

// PINSecretID is the secret that keeps the tenant's two-step verification
// PIN, {"pin":"6 digits"}.
func PINSecretID(secretPrefix, tenantID string) string { return secretPrefix + tenantID + "/pin" }
func (r *run) webhookSecret() string                   { return r.o.WebhookSecretPrefix + r.st.TenantID }

func (r *run) metaApp(ctx context.Context) (graph.App, error) {
	if r.app.ID != "" {
		return r.app, nil
	}
	v, found, err := tenant.ReadSecret(ctx, r.o.Secrets, r.o.MetaAppSecret)
	if err != nil {
		return graph.App{}, fault.Retryable(fmt.Errorf("read the Meta app secret: %w", err))
	}
	a, err := tenant.ParseMetaApp(v)
	if !found || err != nil || !a.Configured() {
		return graph.App{}, fault.Permanentf("the Meta app secret %s has no app_id and app_secret", r.o.MetaAppSecret)
	}
	r.app = graph.App{ID: a.AppID, Secret: a.AppSecret}
	return r.app, nil
}

// exchange trades the code for the token and keeps the token in the
// tenant's sending secret.
func (r *run) exchange(ctx context.Context) error {
	// A tenant's numbers share its one token: a business token for
	// another WABA would replace the token its other numbers use.
	prev, err := r.o.Registry.Tenant(ctx, r.st.TenantID)
	switch {
	case err == nil:
		for _, w := range prev.WABAIDs {
			if w != r.st.WABAID {
				return &ownFailure{ReasonOtherWABA, fmt.Sprintf("tenant %s has numbers of WABA %s, and a tenant's numbers share one token: onboard this WABA as another tenant", r.st.TenantID, w)}
			}
		}
	case !errors.Is(err, tenant.ErrNotFound):
		return fault.Retryable(err)
	}
	app, err := r.metaApp(ctx)
	if err != nil {
		return err
	}
	token, err := r.o.Meta.ExchangeCode(ctx, app, r.req.Code)
	if err != nil {
		return err
	}
	if err := tenant.PutSecret(ctx, r.o.Secrets, r.sendingSecret(), tenant.Credentials{AccessToken: token},
		"wacloud tenant "+r.st.TenantID+": Meta access token (read by the functions that call the Graph API)"); err != nil {
		// The code is spent: a retry cannot exchange it again.
		return fault.Retryable(fmt.Errorf("store the exchanged token of tenant %s: %w", r.st.TenantID, err))
	}
	r.token = token
	return nil
}

// withToken runs f with the token from the tenant's sending secret.
func (r *run) withToken(ctx context.Context, f func(token string) error) error {
	if r.token == "" {
		v, found, err := tenant.ReadSecret(ctx, r.o.Secrets, r.sendingSecret())
		if err != nil {
			return fault.Retryable(err)
		}
		c, perr := tenant.ParseCredentials(v)
		if !found || perr != nil || c.AccessToken == "" {
			return fault.Permanentf("the sending secret %s holds no access token", r.sendingSecret())
		}
		r.token = c.AccessToken
	}
	return f(r.token)
}

func (r *run) checkToken(ctx context.Context) error {
	app, err := r.metaApp(ctx)
	if err != nil {
		return err
	}
	return r.withToken(ctx, func(token string) error {
		d, err := r.o.Meta.DebugToken(ctx, app, token)
		if err != nil {
			return err
		}
		if !d.IsValid {
			return &ownFailure{ReasonTokenInvalid, "Meta says the business token is not valid"}
		}
		for _, scope := range []string{graph.ScopeManagement, graph.ScopeMessaging} {
			if !d.Grants(scope, r.st.WABAID) {
				return &ownFailure{ReasonTokenScopes, fmt.Sprintf("the business token does not grant %s on WABA %s: the business must finish Embedded Signup granting it", scope, r.st.WABAID)}
			}
		}
		return nil
	})
}

func (r *run) findNumber(ctx context.Context) error {
	n, err := r.number(ctx)
	if err != nil {
		return err
	}
	r.st.DisplayPhoneNumber = n.DisplayPhoneNumber
	return nil
}

func (r *run) number(ctx context.Context) (graph.WABANumber, error) {
	var found graph.WABANumber
	err := r.withToken(ctx, func(token string) error {
		ns, err := r.o.Meta.WABANumbers(ctx, token, r.st.WABAID)
		if err != nil {
			return err
		}
		for _, n := range ns {
			if n.ID == r.st.PhoneNumberID {
				found = n
				return nil
			}
		}
		return &ownFailure{ReasonNumberNotFound, fmt.Sprintf("WABA %s has no phone number %s", r.st.WABAID, r.st.PhoneNumberID)}
	})
	return found, err
}

// register registers the number unless Meta lists it CONNECTED already.
func (r *run) register(ctx context.Context) error {
	n, err := r.number(ctx)
	if err != nil {
		return err
	}
	if n.Registered() {
		return nil
	}
	pin, err := r.pin(ctx)
	if err != nil {
		return err
	}
	return r.withToken(ctx, func(token string) error { return r.o.Meta.RegisterNumber(ctx, token, r.st.PhoneNumberID, pin) })
}

type pinSecret struct {
	PIN string `json:"pin"`
}

// pin returns the tenant's two-step verification PIN, generated and kept
// the first time.
func (r *run) pin(ctx context.Context) (string, error) {
	for range 2 {
		v, found, err := tenant.ReadSecret(ctx, r.o.Secrets, r.pinSecret())
		if err != nil {
			return "", fault.Retryable(err)
		}
		if found {
			var p pinSecret
			if err := json.Unmarshal([]byte(v), &p); err != nil || len(p.PIN) != 6 {
				return "", fault.Permanentf("the PIN secret %s is not {\"pin\":\"6 digits\"}", r.pinSecret())
			}
			return p.PIN, nil
		}
		n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
		if err != nil {
			return "", fmt.Errorf("generate a PIN: %w", err)
		}
		pin := fmt.Sprintf("%06d", n.Int64())
		_, err = r.o.Secrets.CreateSecret(ctx, createPIN(r.pinSecret(), r.st.TenantID, pin))
		if err == nil {
			return pin, nil
		}
		if !alreadyExists(err) {
			return "", fault.Retryable(fmt.Errorf("create secret %s: %w", r.pinSecret(), err))
		}
		// Another run created it first: read theirs.
	}
	return "", fault.Retryable(fmt.Errorf("read secret %s: created concurrently and not readable", r.pinSecret()))
}

// storeTenant writes the webhook-side secret and the registry entries.
func (r *run) storeTenant(ctx context.Context) error {
	if owner, err := r.o.Registry.Number(ctx, r.st.PhoneNumberID); err == nil && owner.TenantID != r.st.TenantID {
		return &ownFailure{ReasonNumberTaken, fmt.Sprintf("phone number %s belongs to another tenant", r.st.PhoneNumberID)}
	} else if err != nil && !errors.Is(err, tenant.ErrNotFound) {
		return fault.Retryable(err)
	}
	if owner, err := r.o.Registry.TenantOfWABA(ctx, r.st.WABAID); err == nil && owner != r.st.TenantID {
		return &ownFailure{ReasonNumberTaken, fmt.Sprintf("WABA %s belongs to another tenant", r.st.WABAID)}
	} else if err != nil && !errors.Is(err, tenant.ErrNotFound) {
		return fault.Retryable(err)
	}
	app, err := r.metaApp(ctx)
	if err != nil {
		return err
	}
	// Created when missing, never overwritten: an existing one is a
	// previous onboarding's (the same app secret) or belongs to a tenant
	// with its own Meta app, whose secret must stay. So onboarding never
	// reads or rewrites webhook-side secrets.
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("generate a verify token: %w", err)
	}
	value, err := json.Marshal(tenant.AppCredentials{AppSecret: app.Secret, VerifyToken: hex.EncodeToString(b)})
	if err != nil {
		return fault.PermanentErr(fmt.Errorf("encode the webhook-side secret of tenant %s: %w", r.st.TenantID, err))
	}
	if _, err := r.o.Secrets.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(r.webhookSecret()), SecretString: aws.String(string(value)),
		Description: aws.String("wacloud tenant " + r.st.TenantID + ": Meta app secret and webhook verify token (read by the webhook)"),
	}); err != nil && !alreadyExists(err) {
		return fault.Retryable(fmt.Errorf("create secret %s: %w", r.webhookSecret(), err))
	}

	t := tenant.Tenant{ID: r.st.TenantID, Name: r.st.TenantName, Status: tenant.StatusActive, SecretID: r.sendingSecret(),
		CreatedAt: r.o.now().UTC().Format(time.RFC3339)}
	number := tenant.Number{PhoneNumberID: r.st.PhoneNumberID, WABAID: r.st.WABAID, DisplayPhoneNumber: r.st.DisplayPhoneNumber}
	numbers := []tenant.Number{number}
	prev, err := r.o.Registry.Tenant(ctx, r.st.TenantID)
	switch {
	case err == nil:
		// An existing tenant keeps its other numbers, name and creation date.
		t.CreatedAt, t.OwnApp, t.Status = prev.CreatedAt, prev.OwnApp, prev.Status
		if t.Name == "" {
			t.Name = prev.Name
		}
		for _, id := range prev.PhoneNumbers {
			if id == number.PhoneNumberID {
				continue
			}
			n, err := r.o.Registry.Number(ctx, id)
			if err != nil {
				return fault.Retryable(err)
			}
			numbers = append(numbers, n)
		}
	case !errors.Is(err, tenant.ErrNotFound):
		return fault.Retryable(err)
	}
	if err := r.o.Registry.Put(ctx, t, numbers); err != nil {
		return err
	}
	return nil
}

// notify queues account.onboarded. Its id is fixed per onboarding, so a
// run that stops after the publish and before recording the step sends
// the same event again, which the core drops.
func (r *run) notify(ctx context.Context) error {
	value, err := json.Marshal(map[string]string{"waba_id": r.st.WABAID, "phone_number_id": r.st.PhoneNumberID,
		"display_phone_number": r.st.DisplayPhoneNumber, "onboarding_id": r.st.ID})
	if err != nil {
		return fault.PermanentErr(fmt.Errorf("encode %s: %w", TypeOnboarded, err))
	}
	msg, err := queue.EventMessage(event.Event{
		SchemaVersion: event.SchemaVersion,
		EventID:       event.AccountEventID(TypeOnboarded, r.st.TenantID, r.st.WABAID, r.st.PhoneNumberID),
		Type:          TypeOnboarded,
		TenantID:      r.st.TenantID,
		PhoneNumberID: r.st.PhoneNumberID,
		WABAID:        r.st.WABAID,
		OccurredAt:    r.o.now().UTC().Format(time.RFC3339),
		Account:       &event.AccountChange{Field: "onboarded", Event: "ONBOARDED", Value: value},
	})
	if err != nil {
		return fault.PermanentErr(err)
	}
	if err := r.o.Events.Publish(ctx, r.o.EventsQueue, msg); err != nil {
		return fault.Retryable(fmt.Errorf("report %s of tenant %s: %w", TypeOnboarded, r.st.TenantID, err))
	}
	return nil
}

func (o *Onboarder) log() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.Default()
}

func (o *Onboarder) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}
