package manage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/manage"
)

const (
	createCampaignRoute = "POST /v1/tenants/{tenant_id}/campaigns"
	listCampaignsRoute  = "GET /v1/tenants/{tenant_id}/campaigns"
	getCampaignRoute    = "GET /v1/tenants/{tenant_id}/campaigns/{campaign_id}"
)

// campaignEnv is the API function as its main builds it (campaigns table
// and campaign queue in the emulator), over an in-memory registry and
// catalog: number 100000000000001 is demo's, 100000000000009 acme's.
type campaignEnv struct {
	h      *manage.Handler
	sqs    *sqs.Client
	queue  string
	bucket string
	// schedules is Scheduler's client and group, where starts later
	// than 15 minutes ahead go.
	schedules *scheduler.Client
	group     string
}

func newCampaignEnv(t *testing.T, now time.Time) *campaignEnv {
	t.Helper()
	emu := awsemu.StartTest(t)
	st := stack.Fresh(t, emu.Config(), stack.Options{StackName: fmt.Sprintf("t-%s-r%d", stack.TestName(t), envRuns.Add(1))})
	fn := st.Functions["ApiFunction"]
	h, err := manage.Setup(context.Background(), fn.Getenv, emu.Config())
	if err != nil {
		t.Fatal(err)
	}
	h.Log = slog.New(slog.DiscardHandler)
	h.Metrics.Out = io.Discard
	h.Now = func() time.Time { return now }
	h.CampaignControl.(*campaign.Control).Now = h.Now
	const waba = "200000000000001"
	cat := memCatalog{}
	for _, tenantID := range []string{"demo", "acme"} {
		for _, s := range graphsim.SampleTemplates(waba) {
			comps, _ := json.Marshal(s.Components)
			cat[tenantID+"#"+catalog.Key{WABAID: waba, Name: s.Name, Language: s.Language}.String()] = catalog.Template{
				TenantID: tenantID, WABAID: waba, Name: s.Name, Language: s.Language, Status: s.Status,
				Category: s.Category, ParameterFormat: s.ParameterFormat, Components: comps}
		}
	}
	h.TemplateLookup = cat
	h.Tenants = memRegistry{
		"100000000000001": {PhoneNumberID: "100000000000001", TenantID: "demo", WABAID: waba},
		"100000000000009": {PhoneNumberID: "100000000000009", TenantID: "acme", WABAID: waba},
	}
	return &campaignEnv{h: h, sqs: sqs.NewFromConfig(emu.Config()), queue: fn.Env["CAMPAIGN_QUEUE_URL"], bucket: fn.Env["DATA_BUCKET"],
		schedules: scheduler.NewFromConfig(emu.Config()), group: fn.Env["CAMPAIGN_SCHEDULE_GROUP"]}
}

// do serves one request for tenantID (the token names only that tenant).
func (e *campaignEnv) do(t *testing.T, route, tenantID string, path map[string]string, body string, headers ...string) apiAnswer {
	t.Helper()
	scope := "tenant:" + tenantID
	req := request(route, tenantID, &scope, body)
	for k, v := range path {
		req.PathParameters[k] = v
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Headers[headers[i]] = headers[i+1]
	}
	resp := serve(t, e.h, req, false)
	return apiAnswer{Status: resp.StatusCode, Body: resp.Body}
}

type apiAnswer struct {
	Status int
	Body   string
}

func (r apiAnswer) campaign(t *testing.T) campaign.Campaign {
	t.Helper()
	var c campaign.Campaign
	if err := json.Unmarshal([]byte(r.Body), &c); err != nil {
		t.Fatalf("body %s: %v", r.Body, err)
	}
	return c
}

// commands takes the run commands off the campaign queue.
func (e *campaignEnv) commands(t *testing.T) []campaign.Command {
	t.Helper()
	var out []campaign.Command
	for {
		r, err := awsemu.Receive(context.Background(), e.sqs, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queue), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			return out
		}
		for _, m := range r.Messages {
			var c campaign.Command
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &c); err != nil {
				t.Fatal(err)
			}
			out = append(out, c)
			if _, err := e.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(e.queue), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// scheduleNames lists the schedules of the stack's campaign group.
func (e *campaignEnv) scheduleNames(t *testing.T) []string {
	t.Helper()
	out, err := e.schedules.ListSchedules(context.Background(), &scheduler.ListSchedulesInput{GroupName: aws.String(e.group)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range out.Schedules {
		names = append(names, aws.ToString(s.Name))
	}
	return names
}

func campaignBody(bucket, tenantID, number, startAt string) string {
	return `{"name":"Black Friday","phone_number_id":"` + number + `","template":{"name":"order_confirmation","language":"en_US"},` +
		`"audience":"s3://` + bucket + `/tenants/` + tenantID + `/campaigns/bf.csv","start_at":` + startAt + `,"rate_limit":null,"client_ref":"bf-1"}`
}

// TestCampaignLifecycle: a created campaign answers 201 with its id, state
// and zero counts and wakes the runner; GET and the list show it; pause,
// resume and cancel move it (resume wakes the runner again), a change
// from a state that does not allow it is 409, a repeated one 200. A
// campaign due tomorrow is one schedule, kept through a pause and a
// resume and deleted by a cancel.
func TestCampaignLifecycle(t *testing.T) {
	now := time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC)
	e := newCampaignEnv(t, now)
	created := e.do(t, createCampaignRoute, "demo", nil, campaignBody(e.bucket, "demo", "100000000000001", "null"))
	if created.Status != http.StatusCreated {
		t.Fatalf("create: status %d %s", created.Status, created.Body)
	}
	c := created.campaign(t)
	if !campaign.ValidID(c.ID) || c.State != campaign.StateRunning || c.Counts != (campaign.Counts{}) || c.TenantID != "demo" {
		t.Errorf("created %s: want a running campaign of demo with zero counts", created.Body)
	}
	for _, k := range []string{`"rows":0`, `"invalid":0`, `"duplicates":0`, `"suppressed":0`, `"queued":0`, `"accepted":0`, `"sent":0`, `"delivered":0`, `"read":0`, `"failed":0`} {
		if !strings.Contains(created.Body, k) {
			t.Errorf("created %s has no %s", created.Body, k)
		}
	}
	if got, want := e.commands(t), []campaign.Command{{TenantID: "demo", CampaignID: c.ID}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("commands after create = %v, want %v", got, want)
	}
	id := map[string]string{"campaign_id": c.ID}
	if got := e.do(t, getCampaignRoute, "demo", id, "").campaign(t); got.ID != c.ID || got.Name != "Black Friday" || got.ClientRef != "bf-1" {
		t.Errorf("get = %+v", got)
	}
	later := e.do(t, createCampaignRoute, "demo", nil, campaignBody(e.bucket, "demo", "100000000000001", `"2026-12-06T09:00:00+01:00"`))
	if got := later.campaign(t); later.Status != http.StatusCreated || got.State != campaign.StateScheduled || *got.StartAt != "2026-12-06T08:00:00Z" {
		t.Errorf("create with start_at tomorrow: %d %s, want 201 scheduled at 2026-12-06T08:00:00Z", later.Status, later.Body)
	}
	laterID := map[string]string{"campaign_id": later.campaign(t).ID}
	// Due in 18 hours: a one-time schedule at the start, no command yet.
	wantSchedules := []string{campaign.ScheduleName(laterID["campaign_id"], time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC))}
	if got := e.commands(t); len(got) != 0 {
		t.Errorf("commands after creating a campaign due tomorrow: %v, want none (a schedule wakes it)", got)
	}
	if got := e.scheduleNames(t); fmt.Sprint(got) != fmt.Sprint(wantSchedules) {
		t.Errorf("schedules after creating a campaign due tomorrow: %v, want %v", got, wantSchedules)
	}
	e.do(t, "POST /v1/tenants/{tenant_id}/campaigns/{campaign_id}/pause", "demo", laterID, "")
	if r := e.do(t, "POST /v1/tenants/{tenant_id}/campaigns/{campaign_id}/resume", "demo", laterID, ""); r.campaign(t).State != campaign.StateScheduled {
		t.Errorf("resume before start_at: %s, want scheduled again", r.Body)
	}
	// The pause woke the runner (to report it); the resume found its
	// start scheduled already.
	if got := e.scheduleNames(t); fmt.Sprint(got) != fmt.Sprint(wantSchedules) {
		t.Errorf("schedules after pause and resume: %v, want %v", got, wantSchedules)
	}
	// Cancelled before its start: its schedule goes.
	if r := e.do(t, "POST /v1/tenants/{tenant_id}/campaigns/{campaign_id}/cancel", "demo", laterID, ""); r.campaign(t).State != campaign.StateCancelled {
		t.Errorf("cancel before start_at: %s, want cancelled", r.Body)
	}
	if got := e.scheduleNames(t); len(got) != 0 {
		t.Errorf("schedules after cancelling the campaign due tomorrow: %v, want none", got)
	}
	e.commands(t)
	var list struct{ Data []campaign.Campaign }
	listed := e.do(t, listCampaignsRoute, "demo", nil, "")
	if err := json.Unmarshal([]byte(listed.Body), &list); err != nil || len(list.Data) != 2 {
		t.Errorf("list: %s, want both campaigns", listed.Body)
	}

	steps := []struct {
		name, action string
		want         int
		wantState    string
		wantCommand  bool
	}{
		{"resume a running campaign (a repeated resume)", "resume", http.StatusOK, campaign.StateRunning, true},
		{"pause (the runner reports it)", "pause", http.StatusOK, campaign.StatePaused, true},
		{"pause again", "pause", http.StatusOK, campaign.StatePaused, true},
		{"resume", "resume", http.StatusOK, campaign.StateRunning, true},
		{"cancel (the runner reports it)", "cancel", http.StatusOK, campaign.StateCancelled, true},
		{"resume a cancelled campaign", "resume", http.StatusConflict, campaign.StateCancelled, false},
		{"pause a cancelled campaign", "pause", http.StatusConflict, campaign.StateCancelled, false},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			e.commands(t)
			r := e.do(t, "POST /v1/tenants/{tenant_id}/campaigns/{campaign_id}/"+s.action, "demo", id, "")
			if r.Status != s.want {
				t.Fatalf("status %d %s, want %d", r.Status, r.Body, s.want)
			}
			if s.want == http.StatusConflict {
				if e := apiError(t, apiAnswerToResp(r)); e.Code != manage.CodeCampaignState {
					t.Errorf("code %q", e.Code)
				}
			}
			if got := e.do(t, getCampaignRoute, "demo", id, "").campaign(t).State; got != s.wantState {
				t.Errorf("state %s, want %s", got, s.wantState)
			}
			if got := len(e.commands(t)) > 0; got != s.wantCommand {
				t.Errorf("runner woken: %v, want %v", got, s.wantCommand)
			}
		})
	}
}

// TestCampaignIdempotencyKey: the same create request with the same
// Idempotency-Key answers the same campaign; one campaign is stored.
func TestCampaignIdempotencyKey(t *testing.T) {
	e := newCampaignEnv(t, time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC))
	body := campaignBody(e.bucket, "demo", "100000000000001", "null")
	a := e.do(t, createCampaignRoute, "demo", nil, body, "Idempotency-Key", "bf-2026").campaign(t)
	b := e.do(t, createCampaignRoute, "demo", nil, body, "Idempotency-Key", "bf-2026").campaign(t)
	if a.ID != b.ID {
		t.Errorf("ids %s and %s, want one campaign", a.ID, b.ID)
	}
	var list struct{ Data []campaign.Campaign }
	_ = json.Unmarshal([]byte(e.do(t, listCampaignsRoute, "demo", nil, "").Body), &list)
	if len(list.Data) != 1 {
		t.Errorf("%d campaigns stored, want 1", len(list.Data))
	}
}

// TestCampaignValidation: each invalid request is a 400 naming the
// problem, nothing stored, the runner not woken.
func TestCampaignValidation(t *testing.T) {
	e := newCampaignEnv(t, time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC))
	good := map[string]any{}
	_ = json.Unmarshal([]byte(campaignBody(e.bucket, "demo", "100000000000001", "null")), &good)
	with := func(k string, v any) string {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct {
		name, body, wantCode, wantDetail string
	}{
		{"not JSON", `{"name":`, manage.CodeInvalidJSON, ""},
		{"unknown field", with("priority", 1), manage.CodeInvalidJSON, "priority"},
		{"no name", with("name", nil), manage.CodeInvalidCampaign, "name is required"},
		{"no template", with("template", map[string]string{"name": "order_confirmation"}), manage.CodeInvalidCampaign, "template.name and template.language"},
		{"audience of another tenant", with("audience", "s3://"+e.bucket+"/tenants/acme/campaigns/bf.csv"), manage.CodeInvalidCampaign, "tenant's prefix"},
		{"audience escaping the prefix", with("audience", "s3://"+e.bucket+"/tenants/demo/../acme/bf.csv"), manage.CodeInvalidCampaign, "tenant's prefix"},
		{"audience in another bucket", with("audience", "s3://other-bucket/tenants/demo/bf.csv"), manage.CodeInvalidCampaign, "data bucket"},
		{"audience not csv or jsonl", with("audience", "s3://"+e.bucket+"/tenants/demo/bf.xlsx"), manage.CodeInvalidCampaign, ".csv"},
		{"start_at not a time", with("start_at", "tomorrow"), manage.CodeInvalidCampaign, "start_at"},
		{"rate_limit 0", with("rate_limit", 0), manage.CodeInvalidCampaign, "rate_limit"},
		{"number of another tenant", with("phone_number_id", "100000000000009"), manage.CodeInvalidCampaign, "not a number of tenant demo"},
		{"unknown number", with("phone_number_id", "100000000000077"), manage.CodeInvalidCampaign, "not a number of tenant demo"},
		{"template not in the catalog", with("template", map[string]string{"name": "nope", "language": "en_US"}), manage.CodeInvalidCampaign, "not in the tenant's catalog"},
		{"template paused at Meta", with("template", map[string]string{"name": "2023_april_promo", "language": "en_US"}), manage.CodeInvalidCampaign, "PAUSED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scope := "tenant:demo"
			resp := serve(t, e.h, request(createCampaignRoute, "demo", &scope, tt.body), true)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d %s, want 400", resp.StatusCode, resp.Body)
			}
			got := apiError(t, resp)
			if got.Code != tt.wantCode || !strings.Contains(strings.Join(got.Details, "|"), tt.wantDetail) {
				t.Errorf("error %+v, want code %s with a detail naming %q", got, tt.wantCode, tt.wantDetail)
			}
		})
	}
	var list struct{ Data []campaign.Campaign }
	_ = json.Unmarshal([]byte(e.do(t, listCampaignsRoute, "demo", nil, "").Body), &list)
	if len(list.Data) != 0 || len(e.commands(t)) != 0 {
		t.Errorf("%d campaigns stored after invalid requests, want none", len(list.Data))
	}
}

// TestCampaignTenantIsolation: acme's token reaches neither demo's
// campaign by id (404, as an unknown one) nor changes it, and acme's list
// does not show it.
func TestCampaignTenantIsolation(t *testing.T) {
	e := newCampaignEnv(t, time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC))
	c := e.do(t, createCampaignRoute, "demo", nil, campaignBody(e.bucket, "demo", "100000000000001", "null")).campaign(t)
	id := map[string]string{"campaign_id": c.ID}
	for _, route := range []string{getCampaignRoute, "POST /v1/tenants/{tenant_id}/campaigns/{campaign_id}/pause",
		"POST /v1/tenants/{tenant_id}/campaigns/{campaign_id}/cancel", "POST /v1/tenants/{tenant_id}/campaigns/{campaign_id}/resume"} {
		t.Run(route, func(t *testing.T) {
			r := e.do(t, route, "acme", id, "")
			if r.Status != http.StatusNotFound {
				t.Fatalf("acme %s demo's campaign: status %d %s, want 404", route, r.Status, r.Body)
			}
		})
	}
	if got := e.do(t, getCampaignRoute, "demo", id, "").campaign(t).State; got != campaign.StateRunning {
		t.Errorf("demo's campaign is %s after acme's requests, want running", got)
	}
	if r := e.do(t, listCampaignsRoute, "acme", nil, ""); r.Body != `{"data":[]}` {
		t.Errorf("acme's list = %s, want none", r.Body)
	}
}

func apiAnswerToResp(r apiAnswer) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{StatusCode: r.Status, Body: r.Body, Headers: map[string]string{"Content-Type": "application/json"}}
}
