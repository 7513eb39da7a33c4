package sender

import (
	"context"
	"testing"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/suppression"
)

// TestSuppressedContactsGetNoTemplates: a template job to a contact on its
// tenant's suppression list fails as suppressed (not retryable, not
// dead-lettered) without reaching Meta, whichever form of the number the
// list and the job use; a free-form reply inside the window still goes,
// and another tenant's list does not count.
func TestSuppressedContactsGetNoTemplates(t *testing.T) {
	e := testEnv(t)
	list := &suppression.Store{API: e.ddb, Table: e.getenv("SUPPRESSIONS_TABLE")}
	ctx := context.Background()
	const body = `[{"type":"body","parameters":[{"type":"text","text":"Ana"}]}]`
	// The job names +55 11 96… with the ninth digit; the list holds
	// Meta's wa_id, without it.
	suppressed := rcpt(t, "+5511900000501")
	waID := "55" + suppressed[3:5] + suppressed[6:]
	otherTenants := rcpt(t, "+5511900000502")
	for _, s := range []struct{ tenant, contact string }{{"demo", waID}, {"other", otherTenants}} {
		if _, _, err := list.Add(ctx, suppression.Entry{TenantID: s.tenant, Contact: s.contact, Reason: suppression.ReasonKeyword, Keyword: "STOP"}); err != nil {
			t.Fatal(err)
		}
	}
	free := rcpt(t, "+5511900000503")
	e.openWindow(t, suppressed)
	tests := []struct {
		name   string
		job    func(id string) outbound.Job
		reason string // "" when it must reach Meta
	}{
		{"template to a suppressed contact", func(id string) outbound.Job {
			return templateJob(id, suppressed, "opt_out_probe", "en_US", body)
		}, event.ReasonSuppressed},
		{"reply inside the window to a suppressed contact", func(id string) outbound.Job {
			return textJob(id, suppressed, "Sure, here is your receipt.")
		}, ""},
		{"template to a contact another tenant suppressed", func(id string) outbound.Job {
			return templateJob(id, otherTenants, "opt_out_probe", "en_US", body)
		}, ""},
		{"template to a contact on no list", func(id string) outbound.Job {
			return templateJob(id, free, "opt_out_probe", "en_US", body)
		}, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := e.handler(t)
			id := jid(t, "supp-"+string(rune('a'+i)))
			before := e.sends.Load()
			if failed := handle(t, h, record(t, tt.job(id), 1)); len(failed) != 0 {
				t.Fatalf("batch item failures %v", failed)
			}
			if sent := e.sends.Load() != before; sent != (tt.reason == "") {
				t.Errorf("reached Meta: %v, want %v", sent, tt.reason == "")
			}
			evs := e.coreEvents(t, id)
			if len(evs) != 1 {
				t.Fatalf("events %+v", evs)
			}
			o := evs[0].Outbound
			if tt.reason == "" {
				if evs[0].Type != event.TypeOutboundAccepted {
					t.Errorf("event %s %+v, want accepted", evs[0].Type, o)
				}
				return
			}
			if evs[0].Type != event.TypeOutboundFailed || o.Reason != tt.reason || o.Retryable == nil || *o.Retryable {
				t.Errorf("event %s %+v, want outbound.failed %s, not retryable", evs[0].Type, o, tt.reason)
			}
			if reasons := e.dlq(t, id); len(reasons) != 0 {
				t.Errorf("a suppressed job was dead-lettered: %q", reasons)
			}
		})
	}
}
