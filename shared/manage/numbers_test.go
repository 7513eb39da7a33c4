package manage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/manage"
	"github.com/tucanlink/wacloud/shared/tenant"
)

const (
	listNumbersRoute = "GET /v1/tenants/{tenant_id}/phone-numbers"
	demoNumber       = "100000000000011"
	demoNumber2      = "100000000000012"
	acmeNumber       = "100000000000021"
	brokenNumber     = "100000000000031"
)

// metaAPI is the API function over a registry of three tenants and the
// Graph simulator: demo with two numbers, acme with one, and broken,
// whose stored token Meta no longer takes.
type metaAPI struct {
	h      *manage.Handler
	sim    *graphsim.Sim
	s3     *s3.Client
	bucket string
}

func newMetaAPI(t *testing.T) *metaAPI {
	t.Helper()
	emu := awsemu.StartTest(t)
	st := stack.Fresh(t, emu.Config(), stack.Options{StackName: fmt.Sprintf("t-%s-r%d", stack.TestName(t), envRuns.Add(1))})
	fn := st.Functions["ApiFunction"]
	sim := graphsim.New(graphsim.Config{WebhookURL: "http://127.0.0.1:1/unused", AppSecret: "s", Numbers: []graphsim.Number{
		{PhoneNumberID: demoNumber, WABAID: "200000000000011", DisplayPhoneNumber: "15550000011", AccessToken: "tok-demo", Throughput: 1000},
		{PhoneNumberID: demoNumber2, WABAID: "200000000000011", DisplayPhoneNumber: "15550000012", AccessToken: "tok-demo"},
		{PhoneNumberID: acmeNumber, WABAID: "200000000000021", DisplayPhoneNumber: "15550000021", AccessToken: "tok-acme"},
		{PhoneNumberID: brokenNumber, WABAID: "200000000000031", DisplayPhoneNumber: "15550000031", AccessToken: "tok-broken"},
	}})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	h, err := manage.Setup(context.Background(), func(k string) string {
		if k == "GRAPH_API_BASE_URL" {
			return srv.URL
		}
		return fn.Getenv(k)
	}, emu.Config())
	if err != nil {
		t.Fatal(err)
	}
	h.Log = slog.New(slog.DiscardHandler)
	h.Metrics.Out = io.Discard
	h.Objects = s3.NewFromConfig(emu.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	reg := &tenant.Registry{API: dynamodb.NewFromConfig(emu.Config()), Table: fn.Getenv("TENANTS_TABLE")}
	sm := secretsmanager.NewFromConfig(emu.Config())
	run := fmt.Sprint(time.Now().UnixNano())
	put := func(id, token string, numbers ...tenant.Number) {
		secretID := "wacloud/tenants/" + id + "-" + run
		if _, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(secretID),
			SecretString: aws.String(`{"access_token":"` + token + `"}`)}); err != nil {
			t.Fatal(err)
		}
		tn := tenant.Tenant{ID: id, Status: tenant.StatusActive, SecretID: secretID}
		for i := range numbers {
			numbers[i].TenantID = id
			tn.PhoneNumbers = append(tn.PhoneNumbers, numbers[i].PhoneNumberID)
			if !slices.Contains(tn.WABAIDs, numbers[i].WABAID) {
				tn.WABAIDs = append(tn.WABAIDs, numbers[i].WABAID)
			}
		}
		if err := reg.Put(context.Background(), tn, numbers); err != nil {
			t.Fatal(err)
		}
	}
	put("demo", "tok-demo",
		tenant.Number{PhoneNumberID: demoNumber, WABAID: "200000000000011", DisplayPhoneNumber: "15550000011", Throughput: 1000},
		tenant.Number{PhoneNumberID: demoNumber2, WABAID: "200000000000011", DisplayPhoneNumber: "15550000012", OnBizApp: true})
	put("acme", "tok-acme", tenant.Number{PhoneNumberID: acmeNumber, WABAID: "200000000000021", DisplayPhoneNumber: "15550000021"})
	put("broken", "tok-revoked", tenant.Number{PhoneNumberID: brokenNumber, WABAID: "200000000000031"})
	return &metaAPI{h: h, sim: sim, s3: s3.NewFromConfig(emu.Config(), func(o *s3.Options) { o.UsePathStyle = true }), bucket: fn.Getenv("DATA_BUCKET")}
}

// call serves route for tenantID with a token for scope tenants, path
// parameters, query and body, and checks it against the document.
func (m *metaAPI) call(t *testing.T, route, tenantID, scope string, path, query map[string]string, body string) (int, []byte) {
	t.Helper()
	req := request(route, tenantID, &scope, body)
	for k, v := range path {
		req.PathParameters[k] = v
	}
	req.QueryStringParameters = query
	resp := serve(t, m.h, req, false)
	return resp.StatusCode, []byte(resp.Body)
}

type numberList struct {
	Data []struct {
		PhoneNumberID          string `json:"phone_number_id"`
		DisplayPhoneNumber     string `json:"display_phone_number"`
		VerifiedName           string `json:"verified_name"`
		NameStatus             string `json:"name_status"`
		CodeVerificationStatus string `json:"code_verification_status"`
		QualityRating          string `json:"quality_rating"`
		MessagingLimitTier     string `json:"messaging_limit_tier"`
		Throughput             struct {
			Level     string `json:"level"`
			PerSecond int    `json:"messages_per_second"`
		} `json:"throughput"`
		LastOnboardedTime string `json:"last_onboarded_time"`
	} `json:"data"`
}

func (l numberList) summary() []string {
	var out []string
	for _, d := range l.Data {
		out = append(out, strings.Join([]string{d.PhoneNumberID, d.DisplayPhoneNumber, d.VerifiedName, d.NameStatus, d.CodeVerificationStatus,
			d.QualityRating, d.MessagingLimitTier, d.Throughput.Level, fmt.Sprint(d.Throughput.PerSecond), d.LastOnboardedTime}, " "))
	}
	return out
}

func TestPhoneNumbersJoinTheRegistryWithMeta(t *testing.T) {
	m := newMetaAPI(t)
	m.sim.SetNumberStatus(demoNumber2, func(s *graphsim.NumberStatus) {
		s.QualityRating, s.MessagingLimitTier, s.NameStatus = "YELLOW", "TIER_250", "PENDING_REVIEW"
		s.LastOnboardedTime = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	})
	tests := []struct {
		name   string
		tenant string
		want   []string
	}{
		// The tier is the business portfolio's: both numbers of the WABA report it.
		{"two numbers, one upgraded, one on the Business app with lower quality", "demo", []string{
			demoNumber + " 15550000011 Simulated business " + demoNumber + " APPROVED VERIFIED GREEN TIER_250 HIGH 1000 2026-01-15T09:30:00+0000",
			demoNumber2 + " 15550000012 Simulated business " + demoNumber2 + " PENDING_REVIEW VERIFIED YELLOW TIER_250 STANDARD 20 2026-11-02T08:00:00+0000",
		}},
		{"another tenant sees its own only", "acme", []string{
			acmeNumber + " 15550000021 Simulated business " + acmeNumber + " APPROVED VERIFIED GREEN TIER_1K STANDARD 80 2026-01-15T09:30:00+0000",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := m.call(t, listNumbersRoute, tt.tenant, "tenant:"+tt.tenant, nil, nil, "")
			if status != http.StatusOK {
				t.Fatalf("%d %s", status, body)
			}
			var got numberList
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.summary(), tt.want) {
				t.Errorf("numbers\n%q\nwant\n%q", got.summary(), tt.want)
			}
		})
	}
}

func TestPhoneNumbersRefusals(t *testing.T) {
	m := newMetaAPI(t)
	tests := []struct {
		name     string
		tenant   string
		want     int
		wantCode string
		detail   string
	}{
		{"tenant not registered", "ghost", http.StatusNotFound, manage.CodeTenantNotFound, ""},
		{"Meta refuses the stored token", "broken", http.StatusBadGateway, manage.CodeMetaRefused, "meta error 190"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request(listNumbersRoute, tt.tenant, aws.String("tenant:"+tt.tenant), "")
			resp := serve(t, m.h, req, false)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.want, resp.Body)
			}
			e := apiError(t, resp)
			if e.Code != tt.wantCode || (tt.detail != "" && !slices.ContainsFunc(e.Details, func(d string) bool { return strings.HasPrefix(d, tt.detail) })) {
				t.Errorf("error %+v, want code %s with a detail %q", e, tt.wantCode, tt.detail)
			}
		})
	}
}
