package graphsim

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

const (
	limWABA, limOther = "200000000000001", "200000000000009"
	limPN1, limPN2    = "100000000000001", "100000000000002" // both of limWABA
	limPN3            = "100000000000009"                    // limOther's
)

// limitSim is a simulator whose clock the test moves, with two numbers of
// one WABA and one of another.
type limitSim struct {
	sim  *Sim
	url  string
	hook *templateHook
	mu   sync.Mutex
	now  time.Time
}

func newLimitSim(t *testing.T) *limitSim {
	t.Helper()
	ls := &limitSim{hook: &templateHook{}, now: simNow}
	hs := httptest.NewServer(ls.hook)
	t.Cleanup(hs.Close)
	ls.sim = New(Config{WebhookURL: hs.URL, AppSecret: "app-secret", Now: ls.clock, Numbers: []Number{
		{PhoneNumberID: limPN1, WABAID: limWABA, DisplayPhoneNumber: "+1 555-000-0001", AccessToken: "tok", Throughput: 1000},
		{PhoneNumberID: limPN2, WABAID: limWABA, DisplayPhoneNumber: "+1 555-000-0002", AccessToken: "tok", Throughput: 1000},
		{PhoneNumberID: limPN3, WABAID: limOther, DisplayPhoneNumber: "+1 555-000-0009", AccessToken: "tok", Throughput: 1000},
	}})
	t.Cleanup(ls.sim.Close)
	srv := httptest.NewServer(ls.sim)
	t.Cleanup(srv.Close)
	ls.url = srv.URL
	return ls
}

func (ls *limitSim) clock() time.Time { ls.mu.Lock(); defer ls.mu.Unlock(); return ls.now }

func (ls *limitSim) advance(d time.Duration) { ls.mu.Lock(); ls.now = ls.now.Add(d); ls.mu.Unlock() }

// send sends a message of kind ("template" or "text") from the number to
// the user and returns the code the message fails with later (0: none).
func (ls *limitSim) send(t *testing.T, from, kind string, user int) int {
	t.Helper()
	to := fmt.Sprintf("5511988%06d", user)
	body := `{"messaging_product":"whatsapp","to":"` + to + `","type":"template","template":{"name":"order_update","language":{"code":"pt_BR"}}}`
	if kind == "text" {
		body = `{"messaging_product":"whatsapp","to":"` + to + `","type":"text","text":{"body":"hi"}}`
	}
	status, out := graphCall(t, "POST", ls.url+"/v23.0/"+from+"/messages", "tok", body)
	if status != 200 {
		t.Fatalf("send %s to user %d from %s: %d %v", kind, user, from, status, out)
	}
	ls.advance(10 * time.Millisecond) // under the number's throughput
	msgs := ls.sim.Messages()
	return msgs[len(msgs)-1].fail
}

// TestMessagingLimitTier: business-initiated messages (templates outside
// the user's window) reach at most the tier's number of unique users per
// portfolio in 24 hours; the one past it is accepted and fails with 131048.
func TestMessagingLimitTier(t *testing.T) {
	type step struct {
		from  string
		kind  string
		users []int // user numbers, sent in order
		want  int   // failure code of every send of the step
	}
	span := func(from, to int) []int {
		var u []int
		for i := from; i <= to; i++ {
			u = append(u, i)
		}
		return u
	}
	tests := []struct {
		name     string
		tier     string
		open     []int         // users who wrote to limPN1 before
		after    time.Duration // wait between the first step and the others
		steps    []step
		wantUsed int
	}{
		{"exactly the limit, then one more", "TIER_250", nil, 0, []step{
			{limPN1, "template", span(1, 250), 0},
			{limPN1, "template", []int{251}, CodeSpamRateLimit},
		}, 250},
		{"repeat recipients do not count", "TIER_50", nil, 0, []step{
			{limPN1, "template", span(1, 50), 0},
			{limPN1, "template", span(1, 50), 0},
			{limPN1, "template", []int{51}, CodeSpamRateLimit},
		}, 50},
		{"users in an open window do not count", "TIER_50", span(1, 10), 0, []step{
			{limPN1, "template", span(1, 10), 0},
			{limPN1, "template", span(11, 60), 0},
			{limPN1, "template", []int{61}, CodeSpamRateLimit},
		}, 50},
		{"free-form messages do not count", "TIER_50", nil, 0, []step{
			{limPN1, "text", span(1, 10), CodeWindowClosed},
			{limPN1, "template", span(11, 60), 0},
			{limPN1, "template", []int{61}, CodeSpamRateLimit},
		}, 50},
		{"the portfolio's numbers share the limit", "TIER_50", nil, 0, []step{
			{limPN1, "template", span(1, 25), 0},
			{limPN2, "template", span(26, 50), 0},
			{limPN2, "template", []int{51}, CodeSpamRateLimit},
			{limPN1, "template", []int{52}, CodeSpamRateLimit},
			{limPN3, "template", []int{53}, 0}, // another portfolio
		}, 50},
		{"capacity frees 24 hours after", "TIER_50", nil, 24 * time.Hour, []step{
			{limPN1, "template", span(1, 50), 0},
			{limPN1, "template", span(51, 100), 0},
			{limPN1, "template", []int{101}, CodeSpamRateLimit},
		}, 50},
		{"unlimited", "TIER_UNLIMITED", nil, 0, []step{
			{limPN1, "template", span(1, 300), 0},
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls := newLimitSim(t)
			ls.sim.SetNumberStatus(limPN2, func(s *NumberStatus) { s.MessagingLimitTier = tt.tier })
			for _, u := range tt.open {
				ls.sim.OpenWindow(limPN1, fmt.Sprintf("5511988%06d", u), ls.clock())
			}
			for i, st := range tt.steps {
				if i == 1 {
					ls.advance(tt.after)
				}
				for _, u := range st.users {
					if got := ls.send(t, st.from, st.kind, u); got != st.want {
						t.Fatalf("step %d: %s to user %d from %s fails with %d, want %d", i, st.kind, u, st.from, got, st.want)
					}
				}
			}
			_, lim, _ := ls.sim.NumberState(limPN1)
			if lim.Used != tt.wantUsed || lim.Tier != tt.tier {
				t.Errorf("portfolio %+v, want tier %s used %d", lim, tt.tier, tt.wantUsed)
			}
		})
	}
}

// TestMessagingLimitFailsInAStatus: the message over the limit is
// accepted (a wamid) and reported failed with 131048 in a signed status
// webhook, as Meta reports the messages it does not deliver.
func TestMessagingLimitFailsInAStatus(t *testing.T) {
	ls := newLimitSim(t)
	ls.sim.SetNumberStatus(limPN1, func(s *NumberStatus) { s.MessagingLimitTier = "TIER_50" })
	for u := 1; u <= 51; u++ {
		ls.send(t, limPN1, "template", u)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ls.sim.WaitStatuses(ctx); err != nil {
		t.Fatal(err)
	}
	ls.hook.mu.Lock()
	defer ls.hook.mu.Unlock()
	failed := map[string]int{}
	for _, p := range ls.hook.payloads {
		units, err := whatsapp.Split(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range units {
			it, err := event.ParseStatus(u.Item)
			if err != nil {
				t.Fatal(err)
			}
			if it.Status == "failed" {
				for _, e := range it.Errors {
					failed[it.RecipientID] = e.Code
				}
			}
		}
	}
	want := map[string]int{"5511988000051": CodeSpamRateLimit}
	if fmt.Sprint(failed) != fmt.Sprint(want) || ls.hook.bad != 0 {
		t.Errorf("failed statuses %v (%d badly signed), want %v", failed, ls.hook.bad, want)
	}
	if st := ls.sim.MessageStats(); st.Limited != 1 || st.Accepted != 51 {
		t.Errorf("stats %+v, want 51 accepted, 1 limited", st)
	}
}

// TestChangeNumberPostsQualityWebhooks: the switch changes what GET
// /{phone-number-id} reports and posts Meta's phone_number_quality_update
// webhooks, signed, with the keys of Meta's own payload.
func TestChangeNumberPostsQualityWebhooks(t *testing.T) {
	tests := []struct {
		name    string
		changes []string // POST /_sim/numbers/{limPN1}/status bodies, in order
		events  []string // events of the last change, in posting order
		limit   string   // current_limit of its webhooks
		get     map[string]any
	}{
		{"quality RED flags the number", []string{`{"quality_rating":"RED"}`}, []string{"FLAGGED"}, "TIER_1K",
			map[string]any{"quality_rating": "RED", "status": "FLAGGED", "messaging_limit_tier": "TIER_1K"}},
		{"GREEN again unflags it", []string{`{"quality_rating":"RED"}`, `{"quality_rating":"GREEN"}`}, []string{"UNFLAGGED"}, "TIER_1K",
			map[string]any{"quality_rating": "GREEN", "status": "CONNECTED"}},
		{"status FLAGGED", []string{`{"status":"FLAGGED"}`}, []string{"FLAGGED"}, "TIER_1K",
			map[string]any{"quality_rating": "GREEN", "status": "FLAGGED"}},
		{"YELLOW alone posts nothing", []string{`{"quality_rating":"YELLOW"}`}, nil, "",
			map[string]any{"quality_rating": "YELLOW", "status": "CONNECTED"}},
		{"tier down", []string{`{"messaging_limit_tier":"TIER_250"}`}, []string{"DOWNGRADE"}, "TIER_250",
			map[string]any{"messaging_limit_tier": "TIER_250"}},
		{"tier up", []string{`{"messaging_limit_tier":"TIER_UNLIMITED"}`}, []string{"UPGRADE"}, "TIER_UNLIMITED",
			map[string]any{"messaging_limit_tier": "TIER_UNLIMITED"}},
		{"RED and a lower tier", []string{`{"quality_rating":"RED","messaging_limit_tier":"TIER_250"}`}, []string{"FLAGGED", "DOWNGRADE"}, "TIER_250",
			map[string]any{"quality_rating": "RED", "status": "FLAGGED", "messaging_limit_tier": "TIER_250"}},
		{"the same tier again posts nothing", []string{`{"messaging_limit_tier":"TIER_1K"}`}, nil, "",
			map[string]any{"messaging_limit_tier": "TIER_1K"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls := newLimitSim(t)
			var out map[string]any
			for _, c := range tt.changes {
				ls.hook.mu.Lock()
				ls.hook.payloads = nil
				ls.hook.mu.Unlock()
				var status int
				if status, out = graphCall(t, "POST", ls.url+"/_sim/numbers/"+limPN1+"/status", "", c); status != 200 {
					t.Fatalf("change %s: %d %v", c, status, out)
				}
			}
			if got := fmt.Sprint(out["events"]); got != fmt.Sprint(append([]any{}, anySlice(tt.events)...)) {
				t.Errorf("answer's events %s, want %v", got, tt.events)
			}
			ls.hook.mu.Lock()
			payloads := ls.hook.payloads
			bad := ls.hook.bad
			ls.hook.mu.Unlock()
			if bad != 0 || len(payloads) != len(tt.events) {
				t.Fatalf("%d webhooks (%d badly signed), want %d", len(payloads), bad, len(tt.events))
			}
			want := changeKeys(t, mustRead(t, "testdata/webhooks/phone_number_quality_update.json"))
			for i, p := range payloads {
				if got := changeKeys(t, p); !slices.Equal(got, want) {
					t.Errorf("webhook %d: %s, Meta's: %s", i, strings.Join(got, " "), strings.Join(want, " "))
				}
				units, err := whatsapp.Split(p)
				if err != nil || len(units) != 1 || units[0].WABAID != limWABA {
					t.Fatalf("webhook %d does not split as the connector reads it: %v %+v", i, err, units)
				}
				cs, err := event.ParseAccountChanges(units[0].Field, units[0].Value)
				if err != nil || len(cs) != 1 || cs[0].PhoneNumber == nil {
					t.Fatalf("webhook %d: %v %+v", i, err, cs)
				}
				pc := cs[0].PhoneNumber
				if cs[0].Event != tt.events[i] || pc.CurrentLimit != tt.limit || pc.DisplayPhoneNumber != "15550000001" {
					t.Errorf("webhook %d: event %s current_limit %s display %s, want %s %s 15550000001", i, cs[0].Event, pc.CurrentLimit, pc.DisplayPhoneNumber, tt.events[i], tt.limit)
				}
			}
			for _, id := range []string{limPN1, limPN2} {
				status, got := graphCall(t, "GET", ls.url+"/v23.0/"+id+"?fields=quality_rating,status,messaging_limit_tier,name_status", "tok", "")
				if status != 200 {
					t.Fatalf("GET %s: %d %v", id, status, got)
				}
				for k, v := range tt.get {
					if id == limPN2 && k != "messaging_limit_tier" {
						continue // quality and status are the number's own
					}
					if got[k] != v {
						t.Errorf("GET %s: %s = %v, want %v", id, k, got[k], v)
					}
				}
				if got["name_status"] != "APPROVED" {
					t.Errorf("GET %s: name_status %v", id, got["name_status"])
				}
			}
			// The WABA's number list says the same as each number.
			status, list := graphCall(t, "GET", ls.url+"/v23.0/"+limWABA+"/phone_numbers", "tok", "")
			data, _ := list["data"].([]any)
			if status != 200 || len(data) != 2 {
				t.Fatalf("GET phone_numbers: %d %v", status, list)
			}
			for _, d := range data {
				n, _ := d.(map[string]any)
				for k, v := range tt.get {
					if n["id"] == limPN2 && k != "messaging_limit_tier" {
						continue
					}
					if n[k] != v {
						t.Errorf("phone_numbers %s: %s = %v, want %v", n["id"], k, n[k], v)
					}
				}
			}
			if status, got := graphCall(t, "GET", ls.url+"/v23.0/"+limPN3+"?fields=messaging_limit_tier,status", "tok", ""); status != 200 ||
				got["messaging_limit_tier"] != DefaultTier || got["status"] != "CONNECTED" {
				t.Errorf("another portfolio's number changed: %d %v", status, got)
			}
		})
	}
}

func anySlice(s []string) []any {
	out := []any{}
	for _, v := range s {
		out = append(out, v)
	}
	return out
}

func TestChangeNumberRefusesUnknownValues(t *testing.T) {
	ls := newLimitSim(t)
	for _, c := range []NumberChange{{}, {QualityRating: "BLUE"}, {Status: "LIVE"}, {MessagingLimitTier: "TIER_5"}} {
		if _, err := ls.sim.ChangeNumber(context.Background(), limPN1, c); err == nil {
			t.Errorf("change %+v accepted", c)
		}
	}
	if _, err := ls.sim.ChangeNumber(context.Background(), "1", NumberChange{QualityRating: "RED"}); err == nil {
		t.Errorf("change of an unknown number accepted")
	}
	if status, _ := graphCall(t, "POST", ls.url+"/_sim/numbers/"+limPN1+"/status", "", `{"quality":"RED"}`); status != 400 {
		t.Errorf("unknown key: %d, want 400", status)
	}
}
