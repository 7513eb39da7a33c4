package sender

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/outbound"
)

// putSamples writes the simulator's real template definitions into
// tenant demo's catalog, for number A's WABA, as a sync would.
func (e *env) putSamples(t *testing.T) {
	t.Helper()
	store := &catalog.Store{API: e.ddb, Table: e.getenv("TEMPLATES_TABLE")}
	for _, s := range graphsim.SampleTemplates("2000" + numberA) {
		comps, _ := json.Marshal(s.Components)
		if err := store.Put(context.Background(), catalog.Template{TenantID: "demo", WABAID: s.WABAID, ID: "1", Name: s.Name,
			Language: s.Language, Status: s.Status, Category: s.Category, ParameterFormat: s.ParameterFormat,
			Components: comps, SyncedAt: "2026-03-01T12:00:00Z"}); err != nil {
			t.Fatal(err)
		}
	}
}

func templateJob(id, to, name, lang, components string) outbound.Job {
	j := outbound.Job{JobID: id, TenantID: "demo", PhoneNumberID: numberA, To: to, Type: outbound.TypeTemplate, ClientRef: "ref-" + id,
		Template: &outbound.Template{Name: name, Language: outbound.TemplateLanguage{Code: lang}}}
	if err := json.Unmarshal([]byte(components), &j.Template.Components); err != nil {
		panic(err)
	}
	return j
}

// TestTemplateJobsAreCheckedAgainstTheCatalog: a template job that does
// not fit the catalog fails at once as template_invalid, saying what is
// wrong, without a Graph call; a fitting one, and one the catalog does not
// know yet, go to Meta.
func TestTemplateJobsAreCheckedAgainstTheCatalog(t *testing.T) {
	e := testEnv(t)
	e.putSamples(t)
	const body2 = `{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"860198-230332"}]}`
	const doc = `{"type":"header","parameters":[{"type":"document","document":{"link":"https://example.com/r.pdf","filename":"r.pdf"}}]}`
	tests := []struct {
		name    string
		job     func(id, to string) outbound.Job
		sent    bool     // reached Meta
		details []string // template_invalid details must say these
	}{
		{"fits", func(id, to string) outbound.Job {
			return templateJob(id, to, "order_confirmation", "en_US", `[`+doc+`,`+body2+`]`)
		}, true, nil},
		{"unknown to the catalog", func(id, to string) outbound.Job {
			return templateJob(id, to, "created_a_minute_ago", "en_US", `[`+body2+`]`)
		}, true, nil},
		{"language the catalog does not hold", func(id, to string) outbound.Job {
			return templateJob(id, to, "order_confirmation", "pt_BR", `[`+body2+`]`)
		}, true, nil},
		{"header media missing, one parameter short", func(id, to string) outbound.Job {
			return templateJob(id, to, "order_confirmation", "en_US", `[{"type":"body","parameters":[{"type":"text","text":"Ana"}]}]`)
		}, false, []string{"template order_confirmation (en_US), as synced 2026-03-01T12:00:00Z:",
			"header is DOCUMENT: give a header component with one document parameter (got 0)",
			"body takes 2 parameter(s) ({{1}}…), the job gives 1"}},
		{"paused", func(id, to string) outbound.Job {
			return templateJob(id, to, "2023_april_promo", "en_US", `[`+body2+`]`)
		}, false, []string{"is PAUSED at Meta"}},
		{"dynamic URL button missing", func(id, to string) outbound.Job {
			return templateJob(id, to, "limited_time_offer_tuscan_getaway_2023", "en_US",
				`[{"type":"header","parameters":[{"type":"image","image":{"link":"https://example.com/x.jpg"}}]},{"type":"body","parameters":[{"type":"text","text":"a"},{"type":"text","text":"b"},{"type":"text","text":"c"}]}]`)
		}, false, []string{`button index 1 (URL "Shop Now") needs a button component`}},
		{"positional parameters for named ones", func(id, to string) outbound.Job {
			return templateJob(id, to, "reservation_confirmation", "en_US",
				`[{"type":"header","parameters":[{"type":"image","image":{"link":"https://example.com/x.jpg"}}]},{"type":"body","parameters":[{"type":"text","text":"4"}]}]`)
		}, false, []string{"has no parameter_name, but the template's parameters are named"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := e.handler(t)
			id := jid(t, "tmpl-"+string(rune('a'+i)))
			to := rcpt(t, "+55119000000"+string(rune('0'+i))+"1")
			before := e.sends.Load()
			if failed := handle(t, h, record(t, tt.job(id, to), 1)); len(failed) != 0 {
				t.Fatalf("batch item failures %v", failed)
			}
			sent := e.sends.Load() != before
			if sent != tt.sent {
				t.Errorf("reached Meta: %v, want %v", sent, tt.sent)
			}
			evs := e.coreEvents(t, id)
			if len(evs) != 1 {
				t.Fatalf("events %+v", evs)
			}
			o := evs[0].Outbound
			if tt.sent {
				if evs[0].Type != event.TypeOutboundAccepted {
					t.Errorf("event %s %+v, want accepted", evs[0].Type, o)
				}
				return
			}
			if evs[0].Type != event.TypeOutboundFailed || o.Reason != event.ReasonTemplateInvalid || o.Retryable == nil || *o.Retryable || o.Code != 0 {
				t.Fatalf("event %s %+v, want outbound.failed template_invalid, not retryable", evs[0].Type, o)
			}
			for _, d := range tt.details {
				if !strings.Contains(o.Details, d) {
					t.Errorf("details %q do not say %q", o.Details, d)
				}
			}
			if reasons := e.dlq(t, id); len(reasons) != 0 {
				t.Errorf("a template_invalid job was dead-lettered: %q", reasons)
			}
		})
	}
}

// TestTemplateCacheTrustsAReadForItsTTL: a campaign reads its template
// once per instance and TTL; after the TTL a pause is seen.
func TestTemplateCacheTrustsAReadForItsTTL(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	store := &countingCatalog{t: catalog.Template{Name: "x", Status: catalog.StatusApproved}}
	c := &templateCache{Store: store, TTL: 30 * time.Second, Now: func() time.Time { return now }}
	k := catalog.Key{WABAID: "w", Name: "x", Language: "en"}
	for range 3 {
		if got, err := c.Get(context.Background(), "demo", k); err != nil || got.Status != catalog.StatusApproved {
			t.Fatalf("Get = %+v, %v", got, err)
		}
	}
	store.t.Status = catalog.StatusPaused
	now = now.Add(31 * time.Second)
	if got, _ := c.Get(context.Background(), "demo", k); got.Status != catalog.StatusPaused || store.reads != 2 {
		t.Errorf("after the TTL: %s with %d reads, want PAUSED with 2", got.Status, store.reads)
	}
}

type countingCatalog struct {
	t     catalog.Template
	reads int
}

func (c *countingCatalog) Get(context.Context, string, catalog.Key) (catalog.Template, error) {
	c.reads++
	return c.t, nil
}
