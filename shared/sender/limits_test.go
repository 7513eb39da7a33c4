package sender

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/outbound"
)

// lockedBuffer collects metric lines from the batch's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// limited counts the MetricLimited lines with the code.
func (l *lockedBuffer) limited(code string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(line, `"`+MetricLimited+`"`) && strings.Contains(line, `"Code":"`+code+`"`) {
			n++
		}
	}
	return n
}

func limitTemplateJob(id, tenantID, number, to string) outbound.Job {
	return outbound.Job{JobID: id, TenantID: tenantID, PhoneNumberID: number, To: to, Type: outbound.TypeTemplate,
		Template: &outbound.Template{Name: "hello_world", Language: outbound.TemplateLanguage{Code: "en_US"}}}
}

// TestMessagingLimitTierWalk walks a portfolio through its tier, read from
// Meta's phone-number API (TIER_50 in the simulator): exactly 50 new
// recipients of templates outside the window are sent; repeats, templates
// inside a window and free-form replies cost nothing; the 51st new
// recipient fails as messaging_limit without reaching Meta; once the first
// recipients' 24 hours have passed, new ones go out again.
func TestMessagingLimitTierWalk(t *testing.T) {
	f := newFairEnv(t)
	tid, number := f.tenant(t, 1000)
	f.sim.SetNumberStatus(number, func(s *graphsim.NumberStatus) { s.MessagingLimitTier = "TIER_50" })
	h, _ := f.handler(t)
	metrics := &lockedBuffer{}
	h.Metrics.Out = metrics
	sends := func() int { return len(f.sim.Messages()) }
	to := func(i int) string { return fmt.Sprintf("+55119%03d%05d", f.run%1000, i) }
	run := func(t *testing.T, jobs ...outbound.Job) map[string]event.Event {
		t.Helper()
		var recs []events.SQSMessage
		var ids []string
		for _, j := range jobs {
			recs = append(recs, record(t, j, 1))
			ids = append(ids, j.JobID)
		}
		if failed := handle(t, h, recs...); len(failed) != 0 {
			t.Fatalf("batch failures %v", failed)
		}
		out := map[string]event.Event{}
		for _, ev := range f.coreEvents(t, ids...) {
			out[ev.Outbound.JobID] = ev
		}
		if len(out) != len(jobs) {
			t.Fatalf("%d results for %d jobs", len(out), len(jobs))
		}
		return out
	}
	job := func(name string, i int) outbound.Job {
		return limitTemplateJob(fmt.Sprintf("limit-%d-%s-%d", f.run, name, i), tid, number, to(i))
	}

	for b := 0; b < 5; b++ {
		var jobs []outbound.Job
		for i := b * 10; i < b*10+10; i++ {
			jobs = append(jobs, job("new", i))
		}
		for id, ev := range run(t, jobs...) {
			if ev.Type != event.TypeOutboundAccepted {
				t.Fatalf("%s: %s %+v, want accepted (within the tier)", id, ev.Type, ev.Outbound)
			}
		}
	}
	if got := sends(); got != 50 {
		t.Fatalf("Meta got %d sends, want 50", got)
	}
	// A repeat, a template to a contact whose window is open, and a
	// free-form reply in that window: none is a new business-initiated
	// contact.
	inWindow := to(900)
	f.openWindowOn(t, number, inWindow, f.clk.Now().Add(-time.Minute))
	text := textJob(fmt.Sprintf("limit-%d-reply", f.run), inWindow, "hi")
	text.TenantID, text.PhoneNumberID = tid, number
	for id, ev := range run(t, job("repeat", 7), job("window", 900), text) {
		if ev.Type != event.TypeOutboundAccepted {
			t.Errorf("%s: %s %+v, want accepted (costs no capacity)", id, ev.Type, ev.Outbound)
		}
	}
	before := sends()
	over := job("over", 50)
	ev := run(t, over)[over.JobID]
	if ev.Type != event.TypeOutboundFailed || ev.Outbound.Reason != event.ReasonMessagingLimit || !*ev.Outbound.Retryable ||
		!strings.Contains(ev.Outbound.Details, "TIER_50") {
		t.Fatalf("51st new recipient: %s %+v, want failed messaging_limit (retryable, naming TIER_50)", ev.Type, ev.Outbound)
	}
	if sends() != before {
		t.Error("a send over the tier reached Meta")
	}
	if got := metrics.limited("tier"); got != 1 {
		t.Errorf("tier refusals counted %d times, want 1", got)
	}
	// 24 hours (and the count's bucket) later the first recipients have
	// left the window.
	f.clk.us.Add((24*time.Hour + 20*time.Minute).Microseconds())
	again := job("later", 51)
	if ev := run(t, again)[again.JobID]; ev.Type != event.TypeOutboundAccepted {
		t.Errorf("a day later: %s %+v, want accepted", ev.Type, ev.Outbound)
	}
}

// TestMetaMessagingLimits: Meta's per-user marketing limit (131049) and
// spam rate limit (131048) fail the job without a retry, 131049 telling
// the core it may try again later (not before 24 hours) and 131048 not,
// and both are counted.
func TestMetaMessagingLimits(t *testing.T) {
	f := newFairEnv(t)
	tid, number := f.tenant(t, 1000)
	h, _ := f.handler(t)
	metrics := &lockedBuffer{}
	h.Metrics.Out = metrics
	tests := []struct {
		code      int
		retryable bool
	}{
		{131049, true},
		{131048, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			to := fmt.Sprintf("+55219%03d%05d", f.run%1000, tt.code%100000)
			f.sim.AddFault(graphsim.Fault{Code: tt.code, To: to})
			j := limitTemplateJob(fmt.Sprintf("meta-limit-%d-%d", f.run, tt.code), tid, number, to)
			if failed := handle(t, h, record(t, j, 1)); len(failed) != 0 {
				t.Fatalf("failures %v: Meta's limit was retried", failed)
			}
			evs := f.coreEvents(t, j.JobID)
			if len(evs) != 1 || evs[0].Outbound.Reason != event.ReasonGraphError || evs[0].Outbound.Code != tt.code ||
				*evs[0].Outbound.Retryable != tt.retryable {
				t.Fatalf("events %+v, want graph_error %d retryable=%v", evs, tt.code, tt.retryable)
			}
			if got := metrics.limited(fmt.Sprint(tt.code)); got != 1 {
				t.Errorf("%s{Code=%d} counted %d times, want 1", MetricLimited, tt.code, got)
			}
		})
	}
}
