package inbound_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/suppression"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// countingList counts the suppression list's writes.
type countingList struct {
	inner inboundList
	adds  atomic.Int32
}

type inboundList interface {
	Add(ctx context.Context, e suppression.Entry) (suppression.Entry, bool, error)
}

func (c *countingList) Add(ctx context.Context, e suppression.Entry) (suppression.Entry, bool, error) {
	c.adds.Add(1)
	return c.inner.Add(ctx, e)
}

// withText is the unit with another text body and wamid.
func withText(t *testing.T, u whatsapp.Unit, body, wamid string) whatsapp.Unit {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(u.Item, &m); err != nil {
		t.Fatal(err)
	}
	m["id"] = wamid
	m["text"] = map[string]any{"body": body}
	b, _ := json.Marshal(m)
	u.Item = b
	return u
}

// TestStopKeyword: a text that is a stop keyword puts the contact on the
// tenant's list, queues one confirmation reply however often Meta
// delivers it, and the core hears the message and then
// contact.opted_out; any other text costs no list call.
func TestStopKeyword(t *testing.T) {
	e := newEnv(t)
	e.register("acme", tenant.StatusActive, tenant.Number{PhoneNumberID: "106540352242922", WABAID: "419561257915477"})
	list := &suppression.Store{API: e.ddb, Table: e.getenv("SUPPRESSIONS_TABLE")}
	counted := &countingList{inner: list}
	e.h.Suppressions = counted
	// Settings reach a warm instance within its registry cache's TTL;
	// this one reads them every time.
	e.h.Registry = &tenant.Registry{API: e.ddb, Table: e.getenv("TENANTS_TABLE"), TTL: time.Nanosecond}
	stop := units(t, "text_stop_keyword.json")[0]
	// Meta's second delivery of it: the same event, received later.
	again := stop
	again.ReceivedAt = "2026-01-09T00:00:00Z"
	const contact = "16505551234"

	tests := []struct {
		name     string
		settings *tenant.OptOut
		units    []whatsapp.Unit
		optOut   string // keyword expected, "" for none
		reply    string // expected reply body, "" for none
	}{
		{"another text", nil, []whatsapp.Unit{withText(t, stop, "please stop calling me at work", "wamid.T1")}, "", ""},
		{"default keyword, delivered twice", nil, []whatsapp.Unit{stop, again}, "STOP", suppression.DefaultReply("STOP")},
		{"configured keyword and reply", &tenant.OptOut{Keywords: []string{"Não quero mais"}, Reply: "Pronto, você saiu."},
			[]whatsapp.Unit{withText(t, stop, "nao quero MAIS", "wamid.T2")}, "Não quero mais", "Pronto, você saiu."},
		{"configured keywords replace the defaults", &tenant.OptOut{Keywords: []string{"PARE"}},
			[]whatsapp.Unit{withText(t, stop, "STOP", "wamid.T3")}, "", ""},
		{"disabled", &tenant.OptOut{Disabled: true}, []whatsapp.Unit{withText(t, stop, "STOP", "wamid.T4")}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := list.Remove(e.ctx, "acme", contact); err != nil {
				t.Fatal(err)
			}
			if err := e.reg.SetOptOut(e.ctx, "acme", tt.settings); err != nil {
				t.Fatal(err)
			}
			counted.adds.Store(0)
			for _, u := range tt.units {
				e.enqueue(u)
				if failed := e.pump(); failed != 0 {
					t.Fatalf("%d records failed", failed)
				}
			}
			var received, optedOut []event.Event
			for _, ev := range e.coreEvents() {
				switch ev.Type {
				case event.TypeMessageReceived:
					received = append(received, ev)
				case event.TypeContactOptedOut:
					optedOut = append(optedOut, ev)
				}
			}
			if len(received) != 1 {
				t.Errorf("%d message.received, want 1 (the message reaches the core as usual, once)", len(received))
			}
			var jobs []outbound.Job
			for _, m := range e.drain("OUTBOUND_QUEUE_URL") {
				j, err := outbound.Decode([]byte(aws.ToString(m.Body)))
				if err != nil {
					t.Fatal(err)
				}
				jobs = append(jobs, j)
			}
			on, err := list.Suppressed(e.ctx, "acme", contact)
			if err != nil {
				t.Fatal(err)
			}
			if tt.optOut == "" {
				if len(optedOut) != 0 || len(jobs) != 0 || on || counted.adds.Load() != 0 {
					t.Errorf("opted out %+v, reply jobs %+v, suppressed %v, list writes %d; want none", optedOut, jobs, on, counted.adds.Load())
				}
				return
			}
			if !on {
				t.Errorf("contact not on the list")
			}
			if len(optedOut) != 1 {
				t.Fatalf("%d contact.opted_out events, want 1", len(optedOut))
			}
			o := optedOut[0].OptOut
			if o.Keyword != tt.optOut || o.MessageID != received[0].Message.ID || o.AlreadySuppressed || optedOut[0].Contact.WaID != contact {
				t.Errorf("contact.opted_out %+v (contact %+v), want keyword %q for message %s", o, optedOut[0].Contact, tt.optOut, received[0].Message.ID)
			}
			if len(jobs) != 1 {
				t.Fatalf("%d reply jobs queued, want 1", len(jobs))
			}
			j := jobs[0]
			if j.Type != outbound.TypeText || j.Text.Body != tt.reply || j.To != contact || j.TenantID != "acme" || j.JobID != o.ReplyJobID {
				t.Errorf("reply job %+v (text %q), want text %q to %s with job id %s", j, j.Text.Body, tt.reply, contact, o.ReplyJobID)
			}
			if !strings.HasPrefix(j.JobID, "opt-out-reply-") {
				t.Errorf("reply job id %q", j.JobID)
			}
		})
	}
}
