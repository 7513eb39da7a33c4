package sender

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/local/coresink"

	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/event/eventtest"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/status"
	"github.com/tucanlink/wacloud/shared/suppression"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// statusUnit is Meta's status webhook in file, made about wamid sent to
// recipient from numberA.
func statusUnit(t *testing.T, file, wamid, recipient string) whatsapp.Unit {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/webhooks", file))
	if err != nil {
		t.Fatal(err)
	}
	var w map[string]any
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	value := w["entry"].([]any)[0].(map[string]any)["changes"].([]any)[0].(map[string]any)["value"].(map[string]any)
	value["metadata"].(map[string]any)["phone_number_id"] = numberA
	st := value["statuses"].([]any)[0].(map[string]any)
	st["id"], st["recipient_id"] = wamid, recipient
	delete(value, "contacts")
	if b, err = json.Marshal(w); err != nil {
		t.Fatal(err)
	}
	units, err := whatsapp.Split(b)
	if err != nil || len(units) != 1 {
		t.Fatalf("split %s: %d units, %v", file, len(units), err)
	}
	units[0].TenantID = "demo"
	return units[0]
}

// TestCampaignCounts sends a campaign's jobs through the sender and
// Meta's status webhooks (real payloads) through the status function,
// with redeliveries, duplicates and statuses out of order, and checks
// the campaign's counts are exact (each message once per state it
// reached; read implies delivered and sent), failures are counted by
// Meta's code or the sender's reason, pricing by Meta's category, and
// every outbound.* and message.status event carries the campaign id.
func TestCampaignCounts(t *testing.T) {
	e := testEnv(t)
	ctx := context.Background()
	campaigns := &campaign.Store{API: e.ddb, Table: e.getenv("CAMPAIGNS_TABLE")}
	c := campaign.Campaign{ID: campaign.NewID("demo", jid(t, "counts")), TenantID: "demo", Name: "counts", PhoneNumberID: numberA,
		Template: campaign.Template{Name: "opt_out_probe", Language: "en_US"}, State: campaign.StateCompleted,
		FailedByReason: map[string]int64{}, Pricing: map[string]int64{}, CreatedAt: time.Now().UTC().Format(time.RFC3339)}
	if _, err := campaigns.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	const body = `[{"type":"body","parameters":[{"type":"text","text":"Ana"}]}]`
	suppressed := rcpt(t, "+5511900000605")
	if _, _, err := (&suppression.Store{API: e.ddb, Table: e.getenv("SUPPRESSIONS_TABLE")}).Add(ctx,
		suppression.Entry{TenantID: "demo", Contact: suppressed[1:], Reason: suppression.ReasonKeyword, Keyword: "STOP"}); err != nil {
		t.Fatal(err)
	}
	// Each message's statuses, in the order they arrive.
	messages := []struct {
		name     string
		to       string
		statuses []string
	}{
		{"in order, with redeliveries", rcpt(t, "+5511900000601"),
			[]string{"status_sent.json", "status_sent.json", "status_delivered.json", "status_read.json", "status_delivered.json", "status_read.json"}},
		{"out of order", rcpt(t, "+5511900000602"),
			[]string{"status_read.json", "status_delivered.json", "status_sent.json", "status_read.json"}},
		{"failed after sent", rcpt(t, "+5511900000603"),
			[]string{"status_sent.json", "status_failed_130472.json", "status_failed_130472.json"}},
		{"delivered only, priced marketing", rcpt(t, "+5511900000604"),
			[]string{"status_delivered_pricing_marketing.json", "status_delivered_pricing_marketing.json"}},
	}
	h := e.handler(t)
	var jobIDs []string
	wamids := map[string]string{}
	for i, m := range messages {
		job := templateJob(jid(t, "cmpc-"+string(rune('a'+i))), m.to, "opt_out_probe", "en_US", body)
		job.CampaignID, job.Lane = c.ID, outbound.LaneBulk
		jobIDs = append(jobIDs, job.JobID)
		// Delivered twice: the second is answered from the job record.
		for n := 1; n <= 2; n++ {
			if failed := handle(t, h, record(t, job, n)); len(failed) != 0 {
				t.Fatalf("%s: batch item failures %v", m.name, failed)
			}
		}
	}
	refused := templateJob(jid(t, "cmpc-s"), suppressed, "opt_out_probe", "en_US", body)
	refused.CampaignID, refused.Lane = c.ID, outbound.LaneBulk
	jobIDs = append(jobIDs, refused.JobID)
	for n := 1; n <= 2; n++ {
		if failed := handle(t, h, record(t, refused, n)); len(failed) != 0 {
			t.Fatalf("suppressed: batch item failures %v", failed)
		}
	}
	for _, ev := range e.coreEvents(t, jobIDs...) {
		if ev.Outbound.CampaignID != c.ID {
			t.Errorf("%s of job %s: campaign_id %q, want %s", ev.Type, ev.Outbound.JobID, ev.Outbound.CampaignID, c.ID)
		}
		if ev.Type == event.TypeOutboundAccepted {
			wamids[ev.Outbound.JobID] = ev.Outbound.MessageID
		}
	}
	if len(wamids) != len(messages) {
		t.Fatalf("%d jobs accepted, want %d", len(wamids), len(messages))
	}

	// The status function pushes its events to the core (a local stand-in).
	const coreToken, coreSigning = "core-bearer-token", "core-signing-secret"
	fn := e.stack.Functions["StatusFunction"]
	sink := coresink.New(coresink.Config{Path: fn.Env["CORE_EVENTS_PATH"], BearerToken: coreToken, SigningSecret: coreSigning,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	srv := httptest.NewServer(sink)
	defer srv.Close()
	getenv := func(k string) string {
		if k == "CORE_URL" {
			return srv.URL
		}
		return fn.Env[k]
	}
	if _, err := secretsmanager.NewFromConfig(e.cfg).PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:     aws.String(getenv("CORE_SECRET_ID")),
		SecretString: aws.String(`{"bearer_token":"` + coreToken + `","signing_secret":"` + coreSigning + `"}`),
	}); err != nil {
		t.Fatal(err)
	}
	sh, err := status.Setup(ctx, getenv, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	sh.Metrics.Out = io.Discard
	for i, m := range messages {
		wamid := wamids[jobIDs[i]]
		for _, file := range m.statuses {
			if err := sh.ProcessUnit(ctx, statusUnit(t, file, wamid, m.to[1:])); err != nil {
				t.Fatalf("%s: status %s: %v", m.name, file, err)
			}
		}
	}

	got, err := campaigns.Get(ctx, "demo", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := campaign.Counts{Accepted: 4, Sent: 4, Delivered: 3, Read: 2, Failed: 2}
	if got.Counts != want {
		t.Errorf("counts %+v, want %+v", got.Counts, want)
	}
	if want := map[string]int64{"130472": 1, "suppressed": 1}; !equalCounts(got.FailedByReason, want) {
		t.Errorf("failed_by_reason %v, want %v", got.FailedByReason, want)
	}
	if want := map[string]int64{"service": 3, "marketing": 1}; !equalCounts(got.Pricing, want) {
		t.Errorf("pricing %v, want %v", got.Pricing, want)
	}

	// The status events, as the core received them.
	statuses := 0
	for _, raw := range sink.Events() {
		if err := eventtest.Check(raw); err != nil {
			t.Errorf("event violates the contract: %v\n%s", err, raw)
		}
		var ev event.Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != event.TypeStatusUpdated || ev.Status == nil || !contains(jobIDs, ev.Status.JobID) {
			continue
		}
		statuses++
		if ev.Status.CampaignID != c.ID {
			t.Errorf("message.status %s of job %s: campaign_id %q, want %s", ev.Status.Reported, ev.Status.JobID, ev.Status.CampaignID, c.ID)
		}
	}
	// sent, delivered, read; read, late delivered, late sent; sent,
	// failed; delivered.
	if statuses != 9 {
		t.Errorf("%d message.status events of the campaign, want 9 (one per state reported, duplicates dropped)", statuses)
	}
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
