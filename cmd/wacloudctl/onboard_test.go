package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/local/graphsim"
)

// TestOnboard runs wacloudctl onboard against the Graph simulator's
// Embedded Signup and the emulated stack: a company onboarded, the same
// command again (its code spent) answered from the state, a registration
// Meta refuses reported with Meta's code and resumed by running the
// command again.
func TestOnboard(t *testing.T) {
	e := newEnv(t)
	sim := graphsim.New(graphsim.Config{WebhookURL: "http://127.0.0.1:1/unused", AppSecret: "app-secret"})
	t.Cleanup(sim.Close)
	var refuse atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/register") && refuse.Add(-1) >= 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"message":"Two step verification PIN Mismatch","type":"OAuthException","code":133005,"fbtrace_id":"A1"}}`))
			return
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	if _, err := secretsmanager.NewFromConfig(e.emu.Config()).PutSecretValue(e.ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("wacloud/meta-app"),
		SecretString: aws.String(`{"app_id":"` + graphsim.DefaultAppID + `","app_secret":"app-secret"}`)}); err != nil {
		t.Fatal(err)
	}
	signup := func() (args []string, tenantID, pn string) {
		su, err := sim.AddSignup(graphsim.Signup{WABAID: uniqDigits(), PhoneNumberID: uniqDigits()})
		if err != nil {
			t.Fatal(err)
		}
		tenantID = uniq("newco")
		return []string{"onboard", "--code", su.Code, "--waba-id", su.WABAID, "--phone-number-id", su.PhoneNumberID,
			"--tenant", tenantID, "--name", "NewCo", "--graph-url", srv.URL}, tenantID, su.PhoneNumberID
	}
	first, firstTenant, firstNumber := signup()
	refused, refusedTenant, _ := signup()

	steps := []struct {
		name       string
		args       []string
		refuse     int32
		wantCode   int
		wantOut    string
		wantErr    string
		registered string // a number then registered to tenant, "" to skip
	}{
		{"no WABA", []string{"onboard", "--tenant", "x", "--phone-number-id", "1"}, 0, 2, "", "--waba-id", ""},
		{"a new company", first, 0, 0, "completed", "", firstNumber},
		{"the same again, its code spent", first, 0, 0, "completed", "", ""},
		{"registration refused", refused, 1, 1, "steps done: exchange_code, check_token, find_number, subscribe_app\n", "step register_number failed: meta_error (Meta error 133005, subcode 0)", ""},
		{"run again", refused, 0, 0, "completed", "", ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			refuse.Store(s.refuse)
			code, out, errb := e.run("", s.args...)
			if code != s.wantCode || !strings.Contains(out, s.wantOut) || !strings.Contains(errb, s.wantErr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s (want %q)\nstderr: %s (want %q)", code, s.wantCode, out, s.wantOut, errb, s.wantErr)
			}
			if s.registered != "" {
				if n, err := e.registry().Number(e.ctx, s.registered); err != nil || n.TenantID != firstTenant {
					t.Errorf("registry number %s: %+v %v", s.registered, n, err)
				}
			}
		})
	}
	if got := e.secret("wacloud/tenants/" + refusedTenant + "/pin"); len(got["pin"]) != 6 {
		t.Errorf("the refused tenant's PIN secret holds %d keys", len(got))
	}
}
