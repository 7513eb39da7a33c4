package manage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/manage"
	"github.com/tucanlink/wacloud/shared/onboard"
)

// TestOnboardingRoutes: POST /v1/onboarding through the function as
// deployed (Setup, the template's environment) against the Graph
// simulator's Embedded Signup: the token must name the tenant, a new
// company is onboarded (201), the same request again answers 200, a spent
// code answers 422 with Meta's error and the state, and GET answers the
// state only to a token of its tenant. Every request and answer is checked
// against api/openapi.yaml.
func TestOnboardingRoutes(t *testing.T) {
	emu := awsemu.StartTest(t)
	st := stack.Fresh(t, emu.Config(), stack.Options{StackName: fmt.Sprintf("t-%s-r%d", stack.TestName(t), envRuns.Add(1))})
	fn := st.Functions["ApiFunction"]
	sim := graphsim.New(graphsim.Config{WebhookURL: "http://127.0.0.1:1/unused", AppSecret: "app-secret"})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	if _, err := secretsmanager.NewFromConfig(emu.Config()).PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(fn.Env["META_APP_SECRET"]),
		SecretString: aws.String(`{"app_id":"` + graphsim.DefaultAppID + `","app_secret":"app-secret"}`)}); err != nil {
		t.Fatal(err)
	}
	h, err := manage.Setup(ctx, func(k string) string {
		if k == "GRAPH_API_BASE_URL" {
			return srv.URL
		}
		return fn.Getenv(k)
	}, emu.Config())
	if err != nil {
		t.Fatal(err)
	}
	h.Log, h.Metrics.Out = slog.New(slog.DiscardHandler), io.Discard
	h.Onboarding.(*onboard.Onboarder).Log = slog.New(slog.DiscardHandler)

	signup := func(n int) map[string]string {
		su, err := sim.AddSignup(graphsim.Signup{WABAID: fmt.Sprintf("2000000000009%02d", n), PhoneNumberID: fmt.Sprintf("1000000000009%02d", n)})
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"code": su.Code, "waba_id": su.WABAID, "phone_number_id": su.PhoneNumberID,
			"tenant_id": fmt.Sprintf("newco%d", n), "tenant_name": fmt.Sprintf("NewCo %d", n)}
	}
	post := func(body map[string]string, scope string) answer {
		b, _ := json.Marshal(body)
		resp := serve(t, h, request("POST /v1/onboarding", "", &scope, string(b)), false)
		return answer{status: resp.StatusCode, body: resp.Body}
	}
	get := func(id, scope string) answer {
		req := request("GET /v1/onboarding/{onboarding_id}", "", &scope, "")
		req.PathParameters = map[string]string{"onboarding_id": id}
		resp := serve(t, h, req, false)
		return answer{status: resp.StatusCode, body: resp.Body}
	}

	ok := signup(1)
	spent := signup(2)
	if _, err := (&graph.Client{BaseURL: srv.URL}).ExchangeCode(ctx, graph.App{ID: graphsim.DefaultAppID, Secret: "app-secret"}, spent["code"]); err != nil {
		t.Fatal(err)
	}
	okID := onboard.ID(ok["tenant_id"], ok["waba_id"], ok["phone_number_id"])
	spentID := onboard.ID(spent["tenant_id"], spent["waba_id"], spent["phone_number_id"])

	tests := []struct {
		name       string
		do         func() answer
		wantStatus int
		wantCode   string // error code, "" for a state
		wantState  string // status of the state answered
	}{
		{"token without the tenant", func() answer { return post(ok, "tenant:demo") }, http.StatusForbidden, manage.CodeForbiddenTenant, ""},
		{"bad body", func() answer { return post(map[string]string{"tenant_id": "newco1", "waba": "1"}, "tenant:newco1") }, http.StatusBadRequest, manage.CodeInvalidJSON, ""},
		{"not numeric ids", func() answer {
			return post(map[string]string{"code": "x", "waba_id": "abc", "phone_number_id": "1", "tenant_id": "newco1"}, "tenant:newco1")
		}, http.StatusBadRequest, manage.CodeInvalidOnboarding, ""},
		{"unknown onboarding", func() answer { return get(okID, "tenant:newco1") }, http.StatusNotFound, manage.CodeNotFound, ""},
		{"new company", func() answer { return post(ok, "tenant:demo tenant:newco1") }, http.StatusCreated, "", onboard.StatusCompleted},
		{"the same again", func() answer { return post(ok, "tenant:newco1") }, http.StatusOK, "", onboard.StatusCompleted},
		{"its state", func() answer { return get(okID, "tenant:newco1") }, http.StatusOK, "", onboard.StatusCompleted},
		{"its state to another tenant", func() answer { return get(okID, "tenant:demo") }, http.StatusNotFound, manage.CodeNotFound, ""},
		{"spent code", func() answer { return post(spent, "tenant:newco2") }, http.StatusUnprocessableEntity, manage.CodeOnboardingFailed, onboard.StatusFailed},
		{"spent code, state", func() answer { return get(spentID, "tenant:newco2") }, http.StatusOK, "", onboard.StatusFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.do()
			if got.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", got.status, tc.wantStatus, got.body)
			}
			var body struct {
				Error      *manage.Error  `json:"error"`
				Onboarding *onboard.State `json:"onboarding"`
				onboard.State
			}
			if err := json.Unmarshal([]byte(got.body), &body); err != nil {
				t.Fatal(err)
			}
			state := &body.State
			if body.Onboarding != nil {
				state = body.Onboarding
			}
			if tc.wantCode != "" && (body.Error == nil || body.Error.Code != tc.wantCode) {
				t.Errorf("error %s, want code %s", got.body, tc.wantCode)
			}
			if tc.wantState != "" && state.Status != tc.wantState {
				t.Errorf("state %s, want status %s", got.body, tc.wantState)
			}
			if tc.wantState == onboard.StatusFailed {
				f := state.Failure
				if f == nil || f.Step != onboard.StepExchangeCode || f.Code != 100 || f.Subcode != 36009 {
					t.Errorf("failure %+v, want exchange_code 100/36009", f)
				}
				if body.Error != nil && (len(body.Error.Details) != 1 || body.Error.Details[0] != "exchange_code: Meta error 100 (subcode 36009): "+f.Message) {
					t.Errorf("details %q, want Meta's error", body.Error.Details)
				}
			}
		})
	}
}

type answer struct {
	status int
	body   string
}
