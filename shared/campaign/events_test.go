package campaign_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/event/eventtest"
)

// coreEvents takes every event off the core events queue, checked
// against the contract.
func (e *env) coreEvents(t *testing.T) []event.Event {
	t.Helper()
	var out []event.Event
	for {
		r, err := e.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.core), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			return out
		}
		for _, m := range r.Messages {
			eventtest.ValidateJSON(t, []byte(aws.ToString(m.Body)))
			var ev event.Event
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				t.Fatal(err)
			}
			out = append(out, ev)
			_, _ = e.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(e.core), ReceiptHandle: m.ReceiptHandle})
		}
	}
}

func byType(evs []event.Event) map[string][]event.Event {
	out := map[string][]event.Event{}
	for _, ev := range evs {
		out[ev.Type] = append(out[ev.Type], ev)
	}
	return out
}

// TestRunnerPublishesCampaignEvents: a campaign whose first run stops
// without a commit (a crash) and whose next runs finish it reports
// campaign.started once, campaign.progress with growing counts (at
// most every ProgressEvery), and campaign.completed once with the final
// counts; runs of the completed campaign report nothing more.
func TestRunnerPublishesCampaignEvents(t *testing.T) {
	e := newEnv(t)
	body, valid := audience(400) // 5 s at the number's 80/s
	c := e.campaign(t, "tenants/demo/campaigns/events.csv", body)
	e.r.Every, e.r.ProgressEvery = time.Second, 2*time.Second
	e.r.StopAfterRows = 150
	cmd := campaign.Command{TenantID: "demo", CampaignID: c.ID}
	if err := e.r.Run(context.Background(), cmd); err == nil {
		t.Fatal("the crashing run did not stop")
	}
	e.clock.Add(time.Hour)
	e.r.StopAfterRows = 0
	for range 3 {
		if err := e.r.Run(context.Background(), cmd); err != nil {
			t.Fatal(err)
		}
	}
	evs := e.coreEvents(t)
	got := byType(evs)
	if n := len(got[event.TypeCampaignStarted]); n != 1 {
		t.Errorf("%d campaign.started, want 1", n)
	}
	if n := len(got[event.TypeCampaignCompleted]); n != 1 {
		t.Fatalf("%d campaign.completed, want 1", n)
	}
	done := got[event.TypeCampaignCompleted][0].Campaign
	want := event.CampaignCounts{Rows: 400, Invalid: 40, Duplicates: 40, Queued: int64(valid)}
	if done.State != campaign.StateCompleted || done.Counts != want {
		t.Errorf("completed: %s %+v, want completed %+v", done.State, done.Counts, want)
	}
	progress := got[event.TypeCampaignProgress]
	if len(progress) < 2 {
		t.Fatalf("%d campaign.progress, want at least 2 in 5 s at one per 2 s", len(progress))
	}
	var last int64
	for _, p := range progress {
		if p.Campaign.Counts.Rows <= last || p.Campaign.State != campaign.StateRunning {
			t.Errorf("progress %s rows %d after %d", p.Campaign.State, p.Campaign.Counts.Rows, last)
		}
		last = p.Campaign.Counts.Rows
	}
	ids := map[string]bool{}
	for _, ev := range evs {
		if ids[ev.EventID] {
			t.Errorf("event id %s twice (%s)", ev.EventID, ev.Type)
		}
		ids[ev.EventID] = true
		if ev.TenantID != "demo" || ev.PhoneNumberID != number || ev.Campaign == nil || ev.Campaign.ID != c.ID {
			t.Errorf("%s: tenant %s number %s campaign %+v", ev.Type, ev.TenantID, ev.PhoneNumberID, ev.Campaign)
		}
	}
	if evs[0].Type != event.TypeCampaignStarted || evs[len(evs)-1].Type != event.TypeCampaignCompleted {
		t.Errorf("first %s, last %s: want started first and completed last", evs[0].Type, evs[len(evs)-1].Type)
	}
}

// TestRunnerReportsPauseAndResume: a pause through the API (no reason)
// is reported once as campaign.paused with reason user, however many
// run commands see it; a resume is reported as campaign.resumed.
func TestRunnerReportsPauseAndResume(t *testing.T) {
	e := newEnv(t)
	body, _ := audience(20)
	c := e.campaign(t, "tenants/demo/campaigns/pause.csv", body)
	ctx := context.Background()
	cmd := campaign.Command{TenantID: "demo", CampaignID: c.ID}
	e.r.StopAfterRows = 5
	_ = e.r.Run(ctx, cmd) // started, then a crash
	e.r.StopAfterRows = 0
	e.clock.Add(time.Hour)
	if _, err := e.store.Transition(ctx, "demo", c.ID, campaign.StatePaused, "", campaign.StateRunning); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := e.r.Run(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Add(time.Second)
	if _, err := e.store.Transition(ctx, "demo", c.ID, campaign.StateRunning, "", campaign.StatePaused); err != nil {
		t.Fatal(err)
	}
	if err := e.r.Run(ctx, cmd); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range e.coreEvents(t) {
		if ev.Type == event.TypeCampaignProgress {
			continue
		}
		types = append(types, ev.Type)
		if ev.Type == event.TypeCampaignPaused && ev.Campaign.Reason != event.CampaignPausedByUser {
			t.Errorf("paused reason %q, want user", ev.Campaign.Reason)
		}
	}
	want := []string{event.TypeCampaignStarted, event.TypeCampaignPaused, event.TypeCampaignResumed, event.TypeCampaignCompleted}
	if len(types) != len(want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("events %v, want %v", types, want)
		}
	}
}
