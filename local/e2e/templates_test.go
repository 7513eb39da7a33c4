package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/outbound"
)

// simCalls is every send the simulator answered, accepted or refused.
func simCalls(h *connector.Handle) int {
	st := h.Sim.MessageStats()
	return st.Accepted + st.Throughput + st.Pair + st.Invalid + st.Faults
}

// TestBadTemplateJobMakesNoGraphCall: once the demo tenant's catalog is
// synced (the scheduled templates function, invoked as EventBridge would),
// a template job whose parameters do not fit its template fails as
// template_invalid without any call to the Graph API, a paused template
// likewise, and a fitting job is sent.
func TestBadTemplateJobMakesNoGraphCall(t *testing.T) {
	h := startOutbound(t)
	requireWired(t, connector.Functions, "TemplatesFunction")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.Built["TemplatesFunction"].Scheduled(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"}); err != nil {
		t.Fatalf("scheduled template sync: %v", err)
	}
	// Meta pauses a template after the sync: the webhook reaches the
	// catalog through the status function.
	for _, tp := range h.Sim.Templates(connector.DemoWABAID) {
		if tp.Name == "limited_time_offer_tuscan_getaway_2023" {
			if _, err := h.Sim.ChangeTemplate(ctx, tp.ID, graphsim.TemplateChange{Status: "PAUSED", Reason: "LOW_QUALITY"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	eventually(t, "the account.message_template_status_update event at the core sink", time.Minute, func() bool {
		return len(sinkEvents(t, h, "?type=account.message_template_status_update")) > 0
	})

	job := func(contact, name, components string) outbound.Job {
		j := outbound.Job{JobID: newJobID("tmpl"), TenantID: connector.DemoTenantID, PhoneNumberID: connector.DemoPhoneNumberID,
			To: "+" + contact, Type: outbound.TypeTemplate,
			Template: &outbound.Template{Name: name, Language: outbound.TemplateLanguage{Code: "en_US"}}}
		if err := json.Unmarshal([]byte(components), &j.Template.Components); err != nil {
			t.Fatal(err)
		}
		return j
	}
	const img = `{"type":"header","parameters":[{"type":"image","image":{"link":"https://example.com/x.jpg"}}]}`
	const body3 = `{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"Tuscan Getaway package"},{"type":"text","text":"$800"}]}`
	tests := []struct {
		name    string
		job     outbound.Job
		details string
	}{
		{"a body parameter short, no document header", job(newContact(), "order_confirmation", `[{"type":"body","parameters":[{"type":"text","text":"Ana"}]}]`),
			"header is DOCUMENT: give a header component with one document parameter (got 0); the template's body takes 2 parameter(s)"},
		{"paused after the sync", job(newContact(), "limited_time_offer_tuscan_getaway_2023",
			`[`+img+`,`+body3+`,{"type":"button","sub_type":"url","index":1,"parameters":[{"type":"text","text":"summer2023"}]}]`),
			"is PAUSED at Meta"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := simCalls(h)
			enqueue(t, h, tt.job, "")
			ev := awaitResult(t, h, tt.job.JobID)
			if ev.Type != event.TypeOutboundFailed || ev.Outbound.Reason != event.ReasonTemplateInvalid || !strings.Contains(ev.Outbound.Details, tt.details) {
				t.Fatalf("result %s %+v, want outbound.failed template_invalid saying %q", ev.Type, ev.Outbound, tt.details)
			}
			if got := simCalls(h); got != before {
				t.Errorf("the simulator answered %d send(s) for a job the catalog refused", got-before)
			}
			if ms := simMessages(t, h, strings.TrimPrefix(tt.job.To, "+")); len(ms) != 0 {
				t.Errorf("the simulator accepted %d message(s) to the contact", len(ms))
			}
		})
	}
	t.Run("the management API lists the synced catalog", func(t *testing.T) {
		tok := apiToken(t, h, "")
		r := apiCall{Method: "GET", Path: "/v1/tenants/" + connector.DemoTenantID + "/templates?status=PAUSED", Token: tok}.do(t, h)
		var got struct {
			Data []struct {
				Name     string `json:"name"`
				Language string `json:"language"`
				Status   string `json:"status"`
			} `json:"data"`
			SyncedAt *string `json:"synced_at"`
		}
		if err := json.Unmarshal(r.Body, &got); err != nil || r.Status != 200 || got.SyncedAt == nil {
			t.Fatalf("GET templates?status=PAUSED: %d %s (%v)", r.Status, r.Body, err)
		}
		var names []string
		for _, d := range got.Data {
			names = append(names, d.Name)
		}
		// 2023_april_promo is PAUSED in the samples; the other was paused
		// by the webhook above.
		if len(names) != 2 || !slices.Contains(names, "2023_april_promo") || !slices.Contains(names, "limited_time_offer_tuscan_getaway_2023") {
			t.Errorf("paused templates %v", names)
		}
		r = apiCall{Method: "GET", Path: "/v1/tenants/" + connector.DemoTenantID + "/templates/hello_world", Token: apiToken(t, h, "tenant:acme")}.do(t, h)
		if code, _ := apiErrorOf(t, r); r.Status != 403 || code != "forbidden_tenant" {
			t.Errorf("another tenant's token: %d %s", r.Status, r.Body)
		}
	})
	t.Run("a fitting job is sent", func(t *testing.T) {
		j := job(newContact(), "order_confirmation",
			`[{"type":"header","parameters":[{"type":"document","document":{"link":"https://example.com/r.pdf","filename":"receipt.pdf"}}]},{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"860198-230332"}]}]`)
		enqueue(t, h, j, "")
		if ev := awaitResult(t, h, j.JobID); ev.Type != event.TypeOutboundAccepted {
			t.Fatalf("result %s %+v, want outbound.accepted", ev.Type, ev.Outbound)
		}
		if ms := simMessages(t, h, strings.TrimPrefix(j.To, "+")); len(ms) != 1 || ms[0].Type != "template" {
			t.Errorf("simulator messages to the contact: %+v", ms)
		}
	})
}
