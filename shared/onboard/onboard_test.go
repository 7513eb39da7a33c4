package onboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/event/eventtest"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/onboard"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// meta counts the Graph calls by path ending and refuses the next
// registrations it is told to, as Meta does (a PIN mismatch).
type meta struct {
	sim http.Handler

	mu         sync.Mutex
	calls      map[string]int
	refuseRegs int
}

func (m *meta) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	m.mu.Lock()
	m.calls[path]++
	refuse := path == "register" && m.refuseRegs > 0
	if refuse {
		m.refuseRegs--
	}
	m.mu.Unlock()
	if refuse {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"message":"Two step verification PIN Mismatch","type":"OAuthException","code":133005,"fbtrace_id":"Atest"}}`))
		return
	}
	m.sim.ServeHTTP(w, r)
}

func (m *meta) count(path string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[path]
}

type env struct {
	o     *onboard.Onboarder
	sim   *graphsim.Sim
	meta  *meta
	sm    *secretsmanager.Client
	reg   *tenant.Registry
	sqs   *sqs.Client
	queue string
	fn    stack.Function
	hook  stack.Function
	run   string
}

func setup(t *testing.T) *env {
	t.Helper()
	emu := awsemu.StartTest(t)
	ctx := context.Background()
	st := stack.Fresh(t, emu.Config(), stack.Options{})
	fn, hook := st.Functions["TemplatesFunction"], st.Functions["WebhookFunction"]
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(hooks.Close)
	sim := graphsim.New(graphsim.Config{WebhookURL: hooks.URL, AppSecret: "app-secret"})
	t.Cleanup(sim.Close)
	m := &meta{sim: sim, calls: map[string]int{}}
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	cfg := emu.Config()
	sm, ddb := secretsmanager.NewFromConfig(cfg), dynamodb.NewFromConfig(cfg)
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(fn.Env["META_APP_SECRET"]),
		SecretString: aws.String(`{"app_id":"` + graphsim.DefaultAppID + `","app_secret":"app-secret"}`)}); err != nil {
		t.Fatal(err)
	}
	g := &graph.Client{BaseURL: srv.URL}
	reg := &tenant.Registry{API: ddb, Table: fn.Env["TENANTS_TABLE"]}
	e := &env{sim: sim, meta: m, sm: sm, reg: reg, sqs: sqs.NewFromConfig(cfg), queue: fn.Env["CORE_EVENTS_QUEUE_URL"], fn: fn, hook: hook,
		run: strconv.FormatInt(time.Now().UnixNano()%1e9, 10)}
	e.o = &onboard.Onboarder{
		Meta: g, Secrets: sm, MetaAppSecret: fn.Env["META_APP_SECRET"],
		SecretPrefix: fn.Env["TENANT_SECRET_PREFIX"], WebhookSecretPrefix: hook.Env["TENANT_WEBHOOK_SECRET_PREFIX"],
		Registry: reg, Catalog: &catalog.Syncer{Meta: g, Templates: &catalog.Store{API: ddb, Table: fn.Env["TEMPLATES_TABLE"]}},
		States: &onboard.Store{API: ddb, Table: fn.Env["STATE_TABLE"]},
		Events: queue.Publisher{API: e.sqs}, EventsQueue: fn.Env["CORE_EVENTS_QUEUE_URL"],
	}
	return e
}

// signup makes the simulator hold a finished Embedded Signup and returns
// the onboarding request for it.
func (e *env) signup(t *testing.T, n int, su graphsim.Signup) onboard.Request {
	t.Helper()
	su.WABAID, su.PhoneNumberID = "2"+e.run+strconv.Itoa(10+n), "1"+e.run+strconv.Itoa(10+n)
	out, err := e.sim.AddSignup(su)
	if err != nil {
		t.Fatal(err)
	}
	return onboard.Request{Code: out.Code, WABAID: su.WABAID, PhoneNumberID: su.PhoneNumberID,
		TenantID: "acme-" + e.run + "-" + strconv.Itoa(n), TenantName: "Acme " + strconv.Itoa(n)}
}

func (e *env) secret(t *testing.T, id string) (map[string]string, bool) {
	t.Helper()
	v, found, err := tenant.ReadSecret(context.Background(), e.sm, id)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	if found {
		if err := json.Unmarshal([]byte(v), &out); err != nil {
			t.Fatal(err)
		}
	}
	return out, found
}

// events drains the core queue and returns the onboarded events of tenantID.
func (e *env) events(t *testing.T, tenantID string) []event.Event {
	t.Helper()
	var got []event.Event
	for {
		out, err := awsemu.Receive(context.Background(), e.sqs, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queue), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return got
		}
		for _, m := range out.Messages {
			var ev event.Event
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.TenantID == tenantID && ev.Type == onboard.TypeOnboarded {
				eventtest.ValidateJSON(t, []byte(aws.ToString(m.Body)))
				got = append(got, ev)
			}
			_, _ = e.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(e.queue), ReceiptHandle: m.ReceiptHandle})
		}
	}
}

// TestOnboarding runs onboardings against the Graph simulator: a new
// number end to end (and a repeat that changes nothing), a number already
// registered, a register refused and then retried with the spent code, a
// spent code on a new onboarding, and a token without the messaging scope.
func TestOnboarding(t *testing.T) {
	e := setup(t)
	ctx := context.Background()

	t.Run("new number", func(t *testing.T) {
		req := e.signup(t, 1, graphsim.Signup{})
		st, err := e.o.Run(ctx, req)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if st.Status != onboard.StatusCompleted || len(st.Done) != len(onboard.Steps) || st.Failure != nil {
			t.Fatalf("state = %+v, want completed with every step", st)
		}
		if st.ID != onboard.ID(req.TenantID, req.WABAID, req.PhoneNumberID) {
			t.Errorf("id = %s, want the one derived from tenant, WABA and number", st.ID)
		}
		sending, _ := e.secret(t, e.o.SecretPrefix+req.TenantID)
		if sending["access_token"] == "" || len(sending) != 1 {
			t.Errorf("sending secret has keys %d, want only access_token", len(sending))
		}
		pin, _ := e.secret(t, e.o.SecretPrefix+req.TenantID+"/pin")
		if len(pin["pin"]) != 6 {
			t.Errorf("PIN secret = %d chars, want 6 digits", len(pin["pin"]))
		}
		hook, _ := e.secret(t, e.o.WebhookSecretPrefix+req.TenantID)
		if hook["app_secret"] != "app-secret" || len(hook["verify_token"]) < 32 {
			t.Errorf("webhook-side secret: app_secret matches %v, verify token %d chars", hook["app_secret"] == "app-secret", len(hook["verify_token"]))
		}
		n, err := e.reg.Number(ctx, req.PhoneNumberID)
		if err != nil || n.TenantID != req.TenantID || n.WABAID != req.WABAID {
			t.Errorf("registry number = %+v %v", n, err)
		}
		ten, err := e.reg.Tenant(ctx, req.TenantID)
		if err != nil || ten.Name != req.TenantName || ten.SecretID != e.o.SecretPrefix+req.TenantID || ten.Status != tenant.StatusActive {
			t.Errorf("registry tenant = %+v %v", ten, err)
		}
		if evs := e.events(t, req.TenantID); len(evs) != 1 || evs[0].PhoneNumberID != req.PhoneNumberID || evs[0].Account == nil {
			t.Errorf("onboarded events = %+v, want one for the number", evs)
		}
		if got := e.meta.count("register"); got != 1 {
			t.Errorf("register calls = %d, want 1", got)
		}
		if !e.sim.Subscribed(req.WABAID) || !e.sim.Registered(req.PhoneNumberID) {
			t.Errorf("simulator: subscribed %v, registered %v; want both", e.sim.Subscribed(req.WABAID), e.sim.Registered(req.PhoneNumberID))
		}

		before := e.meta.count("access_token") + e.meta.count("debug_token") + e.meta.count("register") + e.meta.count("subscribed_apps")
		again, err := e.o.Run(ctx, req)
		if err != nil || again.Status != onboard.StatusCompleted {
			t.Fatalf("repeated Run = %+v %v, want the completed state", again, err)
		}
		if after := e.meta.count("access_token") + e.meta.count("debug_token") + e.meta.count("register") + e.meta.count("subscribed_apps"); after != before {
			t.Errorf("a repeated Run made %d Graph calls, want none", after-before)
		}
		if evs := e.events(t, req.TenantID); len(evs) != 0 {
			t.Errorf("a repeated Run queued %d onboarded events, want none", len(evs))
		}
	})

	t.Run("registered number", func(t *testing.T) {
		before := e.meta.count("register")
		req := e.signup(t, 2, graphsim.Signup{Registered: true, PIN: "424242"})
		// A webhook-side secret that exists (the tenant's own app) stays.
		own := `{"app_secret":"own-app-secret","verify_token":"own-verify"}`
		if _, err := e.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(e.o.WebhookSecretPrefix + req.TenantID), SecretString: aws.String(own)}); err != nil {
			t.Fatal(err)
		}
		st, err := e.o.Run(ctx, req)
		if err != nil || st.Status != onboard.StatusCompleted {
			t.Fatalf("Run = %+v %v", st, err)
		}
		if got := e.meta.count("register") - before; got != 0 {
			t.Errorf("register calls = %d, want none for a CONNECTED number", got)
		}
		if _, found := e.secret(t, e.o.SecretPrefix+req.TenantID+"/pin"); found {
			t.Errorf("a PIN secret was created for a number that needed no registration")
		}
		if hook, _ := e.secret(t, e.o.WebhookSecretPrefix+req.TenantID); hook["app_secret"] != "own-app-secret" || hook["verify_token"] != "own-verify" {
			t.Errorf("the existing webhook-side secret was overwritten")
		}
	})

	t.Run("register refused then retried", func(t *testing.T) {
		req := e.signup(t, 3, graphsim.Signup{})
		e.meta.mu.Lock()
		e.meta.refuseRegs = 1
		e.meta.mu.Unlock()
		exchanges := e.meta.count("access_token")
		st, err := e.o.Run(ctx, req)
		var se *onboard.StepError
		if !errors.As(err, &se) || se.Failure.Step != onboard.StepRegisterNumber {
			t.Fatalf("Run error = %v, want a failed register_number step", err)
		}
		if fault.ClassOf(err) != fault.Invalid {
			t.Errorf("class = %v, want invalid (Meta's 4xx)", fault.ClassOf(err))
		}
		want := onboard.Failure{Step: onboard.StepRegisterNumber, Reason: onboard.ReasonMeta, Code: 133005, HTTPStatus: 400, Message: "Two step verification PIN Mismatch"}
		if st.Failure == nil {
			t.Fatalf("state has no failure")
		}
		got := *st.Failure
		got.At = ""
		if got != want || st.Status != onboard.StatusFailed {
			t.Errorf("failure = %+v (status %s), want %+v", got, st.Status, want)
		}
		if strings.Join(st.Done, ",") != "exchange_code,check_token,find_number,subscribe_app" {
			t.Errorf("steps done = %v", st.Done)
		}
		stored, found, err := e.o.States.Get(ctx, st.ID)
		if err != nil || !found || stored.Failure == nil || stored.Failure.Code != 133005 {
			t.Errorf("stored state = %+v %v %v, want the failure recorded", stored, found, err)
		}
		if _, err := e.reg.Tenant(ctx, req.TenantID); !errors.Is(err, tenant.ErrNotFound) {
			t.Errorf("tenant registered before its number: %v", err)
		}

		// The retry carries the same, now spent, code (Meta would answer
		// 100/36009): the exchange is done and not repeated.
		st, err = e.o.Run(ctx, req)
		if err != nil || st.Status != onboard.StatusCompleted || st.Failure != nil {
			t.Fatalf("retry = %+v %v, want completed", st, err)
		}
		if got := e.meta.count("access_token") - exchanges; got != 1 {
			t.Errorf("code exchanges = %d, want 1", got)
		}
		if evs := e.events(t, req.TenantID); len(evs) != 1 {
			t.Errorf("onboarded events = %d, want 1", len(evs))
		}
	})

	t.Run("spent code", func(t *testing.T) {
		req := e.signup(t, 4, graphsim.Signup{})
		if _, err := (&graph.Client{BaseURL: e.o.Meta.(*graph.Client).BaseURL}).ExchangeCode(ctx, graph.App{ID: graphsim.DefaultAppID, Secret: "app-secret"}, req.Code); err != nil {
			t.Fatal(err)
		}
		st, err := e.o.Run(ctx, req)
		if err == nil || st.Failure == nil {
			t.Fatalf("Run = %+v %v, want the exchange refused", st, err)
		}
		if f := st.Failure; f.Step != onboard.StepExchangeCode || f.Code != 100 || f.Subcode != 36009 || len(st.Done) != 0 {
			t.Errorf("failure = %+v, done %v; want exchange_code 100/36009 and nothing done", f, st.Done)
		}
		if _, found := e.secret(t, e.o.SecretPrefix+req.TenantID); found {
			t.Errorf("a sending secret was written without a token")
		}
	})

	t.Run("tenant of another WABA", func(t *testing.T) {
		req := e.signup(t, 6, graphsim.Signup{})
		req.TenantID = "acme-" + e.run + "-1" // onboarded above with another WABA
		token, _ := e.secret(t, e.o.SecretPrefix+req.TenantID)
		exchanges := e.meta.count("access_token")
		st, err := e.o.Run(ctx, req)
		if err == nil || st.Failure == nil || st.Failure.Step != onboard.StepExchangeCode || st.Failure.Reason != onboard.ReasonOtherWABA {
			t.Fatalf("Run = %+v %v, want exchange_code refused for the tenant's other WABA", st.Failure, err)
		}
		if got := e.meta.count("access_token") - exchanges; got != 0 {
			t.Errorf("the code was exchanged %d time(s)", got)
		}
		if after, _ := e.secret(t, e.o.SecretPrefix+req.TenantID); after["access_token"] != token["access_token"] {
			t.Errorf("the tenant's token was replaced")
		}
	})

	t.Run("missing scope", func(t *testing.T) {
		req := e.signup(t, 5, graphsim.Signup{Scopes: []string{graph.ScopeManagement}})
		st, err := e.o.Run(ctx, req)
		if err == nil || st.Failure == nil || st.Failure.Step != onboard.StepCheckToken || st.Failure.Reason != onboard.ReasonTokenScopes {
			t.Fatalf("Run = %+v %v, want check_token failed for the scopes", st.Failure, err)
		}
		if fault.ClassOf(err) != fault.Invalid {
			t.Errorf("class = %v, want invalid", fault.ClassOf(err))
		}
	})
}
