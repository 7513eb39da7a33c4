package tokenhealth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/sender"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/tokenhealth"
)

// TestScheduledTokenCheck runs the templates function as deployed (its
// Setup, the template's environment, the emulated stack) against the
// simulator's debug_token, over several days, and checks which events the
// core gets: a token expiring within the warning window once per tenant
// and day, an invalid one once per outage (none when the sender already
// recorded it), nothing for healthy tokens.
func TestScheduledTokenCheck(t *testing.T) {
	emu := awsemu.StartTest(t)
	ctx := context.Background()
	st := stack.Fresh(t, emu.Config(), stack.Options{})
	fn := st.Functions["TemplatesFunction"]
	day1 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	now := day1
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()
	sim := graphsim.New(graphsim.Config{WebhookURL: hook.URL, AppSecret: "app-secret", Now: func() time.Time { return now },
		Numbers: []graphsim.Number{{PhoneNumberID: "100000000000009", WABAID: "200000000000009", AccessToken: "system-token"}}})
	defer sim.Close()
	srv := httptest.NewServer(sim)
	defer srv.Close()

	sm := secretsmanager.NewFromConfig(emu.Config())
	ddb := dynamodb.NewFromConfig(emu.Config())
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(fn.Env["META_APP_SECRET"]),
		SecretString: aws.String(`{"app_id":"` + graphsim.DefaultAppID + `","app_secret":"app-secret"}`)}); err != nil {
		t.Fatal(err)
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	reg := &tenant.Registry{API: ddb, Table: fn.Env["TENANTS_TABLE"]}
	// addTenant signs a company up in the simulator and registers it with
	// the token Meta issued (or the configured number's system token).
	addTenant := func(name string, n int, su *graphsim.Signup) (id, token string) {
		id = name + "-" + run
		waba, pn := "2000000000000"+strconv.Itoa(10+n), "1000000000000"+strconv.Itoa(10+n)
		token = "system-token"
		if su != nil {
			su.WABAID, su.PhoneNumberID = waba, pn
			out, err := sim.AddSignup(*su)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get(srv.URL + "/v23.0/oauth/access_token?client_id=" + graphsim.DefaultAppID + "&client_secret=app-secret&code=" + out.Code)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				AccessToken string `json:"access_token"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			token = body.AccessToken
		} else {
			waba, pn = "200000000000009", "100000000000009"
		}
		secretID := fn.Env["TENANT_SECRET_PREFIX"] + id
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(secretID),
			SecretString: aws.String(`{"access_token":"` + token + `"}`)}); err != nil {
			t.Fatal(err)
		}
		if err := reg.Put(ctx, tenant.Tenant{ID: id, Status: tenant.StatusActive, SecretID: secretID},
			[]tenant.Number{{PhoneNumberID: pn, TenantID: id, WABAID: waba}}); err != nil {
			t.Fatal(err)
		}
		return id, token
	}
	healthy, _ := addTenant("healthy", 1, &graphsim.Signup{TokenTTL: "1440h"})
	soon, _ := addTenant("soon", 2, &graphsim.Signup{TokenTTL: "72h"})
	revoked, revokedToken := addTenant("revoked", 3, &graphsim.Signup{})
	known, knownToken := addTenant("known", 4, &graphsim.Signup{})
	system, _ := addTenant("system", 0, nil)
	for _, tok := range []string{revokedToken, knownToken} {
		if err := sim.ChangeToken(tok, time.Time{}, true); err != nil {
			t.Fatal(err)
		}
	}
	// The sender already met the known tenant's revoked token.
	if first, err := (&sender.OutageStore{API: ddb, Table: fn.Env["STATE_TABLE"]}).Begin(ctx, known, sender.Fingerprint(knownToken), day1); err != nil || !first {
		t.Fatalf("record the sender's outage: %v %v", first, err)
	}

	env := map[string]string{"GRAPH_API_BASE_URL": srv.URL}
	h, err := tokenhealth.Setup(ctx, func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return fn.Env[k]
	}, emu.Config())
	if err != nil {
		t.Fatal(err)
	}
	h.Tokens.Now = func() time.Time { return now }
	h.Catalog.Syncer.Now = func() time.Time { return now }
	q := sqs.NewFromConfig(emu.Config())
	queueURL := fn.Env["CORE_EVENTS_QUEUE_URL"]

	runs := []struct {
		name string
		at   time.Time
		want []string // tenant/type of the events the run queues
	}{
		{"first run", day1, []string{revoked + "/" + sender.TypeTokenInvalid, soon + "/" + tokenhealth.TypeTokenExpiring}},
		{"same day again", day1.Add(6 * time.Hour), nil},
		{"next day", day1.Add(24 * time.Hour), []string{soon + "/" + tokenhealth.TypeTokenExpiring}},
		{"after the expiry", day1.Add(73 * time.Hour), []string{soon + "/" + sender.TypeTokenInvalid}},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			now = r.at
			// The revoked tokens fail the catalog sync (the invocation
			// fails); the token check runs all the same and must not fail.
			err := h.Handle(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"})
			if err == nil || strings.Contains(err.Error(), "token check") {
				t.Fatalf("scheduled run: %v, want only the sync of the revoked tenants to fail", err)
			}
			var got []string
			for {
				out, err := awsemu.Receive(ctx, q, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 0})
				if err != nil {
					t.Fatal(err)
				}
				if len(out.Messages) == 0 {
					break
				}
				for _, m := range out.Messages {
					var ev event.Event
					if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
						t.Fatal(err)
					}
					if ev.Account == nil || ev.EventID == "" {
						t.Errorf("event %s has no account part or id", ev.Type)
					}
					if ev.TenantID == healthy || ev.TenantID == system || ev.TenantID == known {
						t.Errorf("unexpected %s for %s", ev.Type, ev.TenantID)
					}
					if ev.TenantID == soon || ev.TenantID == revoked {
						got = append(got, ev.TenantID+"/"+ev.Type)
					}
					_, _ = q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle})
				}
			}
			sort.Strings(got)
			want := append([]string(nil), r.want...)
			sort.Strings(want)
			if len(got) != len(want) {
				t.Fatalf("events = %v, want %v", got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("events = %v, want %v", got, want)
				}
			}
		})
	}
}

// TestCheckSkipsUnconfiguredApp: a stack whose Meta app secret is not
// filled in yet checks nothing and does not fail the schedule.
func TestCheckSkipsUnconfiguredApp(t *testing.T) {
	c := &tokenhealth.Checker{Secrets: unconfigured{}}
	res, err := c.Check(context.Background())
	if err != nil || res != (tokenhealth.Result{}) {
		t.Fatalf("Check = %+v %v, want nothing checked and no error", res, err)
	}
}

type unconfigured struct{}

func (unconfigured) Credentials(context.Context, string) (tenant.Credentials, error) {
	panic("no tenant is read without an app")
}
func (unconfigured) MetaApp(context.Context, string) (tenant.MetaApp, error) {
	return tenant.ParseMetaApp(`{"app_id":"","app_secret":""}`)
}
