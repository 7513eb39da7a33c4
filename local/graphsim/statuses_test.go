package graphsim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// statusHook is the connector's webhook: it verifies signatures, keeps the
// status items in arrival order, and can refuse the first few posts.
type statusHook struct {
	secret string
	mu     sync.Mutex
	items  []event.StatusItem
	bad    int // posts with an invalid signature
	refuse int // answer 500 to this many posts first
}

func (h *statusHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !whatsapp.VerifySignature(h.secret, b, r.Header.Get(whatsapp.SignatureHeader)) {
		h.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if h.refuse > 0 {
		h.refuse--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	units, err := whatsapp.Split(b)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	for _, u := range units {
		it, err := event.ParseStatus(u.Item)
		if u.Kind != whatsapp.KindStatus || err != nil || u.Metadata.PhoneNumberID != "100000000000001" || u.WABAID != "200000000000001" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.items = append(h.items, it)
	}
}

func (h *statusHook) statuses() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, it := range h.items {
		out = append(out, it.Status)
	}
	return out
}

var simNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newStatusSim(t *testing.T) (*Sim, *statusHook) {
	t.Helper()
	hook := &statusHook{secret: "app-secret"}
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	sim := New(Config{WebhookURL: srv.URL, AppSecret: "app-secret", Now: func() time.Time { return simNow }, Numbers: []Number{
		{PhoneNumberID: "100000000000001", WABAID: "200000000000001", DisplayPhoneNumber: "15550000001", AccessToken: "tok"},
	}})
	t.Cleanup(sim.Close)
	return sim, hook
}

func accept(sim *Sim, wamid, to, typ string) {
	sim.onAccepted(Accepted{WAMID: wamid, PhoneNumberID: "100000000000001", To: to, Type: typ, At: simNow})
}

func wait(t *testing.T, sim *Sim) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sim.WaitStatuses(ctx); err != nil {
		t.Fatalf("status webhooks not all posted: %v (%+v)", err, sim.StatusStats())
	}
}

func TestStatusWebhooks(t *testing.T) {
	ts := func(d time.Duration) string { return simNow.Add(d).Format(time.RFC3339) }
	tests := []struct {
		name string
		cfg  StatusConfig
		to   string
		typ  string
		want []string // status@timestamp, in order
	}{
		{"default", StatusConfig{}, "5511999990001", "text",
			[]string{"sent@" + ts(0), "delivered@" + ts(time.Second), "read@" + ts(2*time.Second)}},
		{"read without delivered", StatusConfig{ReadWithoutDelivered: true}, "5511999990001", "text",
			[]string{"sent@" + ts(0), "read@" + ts(time.Second)}},
		{"until delivered", StatusConfig{Until: "delivered"}, "5511999990001", "text",
			[]string{"sent@" + ts(0), "delivered@" + ts(time.Second)}},
		{"fail to recipient", StatusConfig{FailTo: map[string]int{"5511000000000": 131026}}, "5511000000000", "text",
			[]string{"failed@" + ts(0)}},
		{"fail after sent", StatusConfig{FailTo: map[string]int{"5511000000000": 131047}, FailAfterSent: true}, "5511000000000", "text",
			[]string{"sent@" + ts(0), "failed@" + ts(time.Second)}},
		{"other recipients still succeed", StatusConfig{FailTo: map[string]int{"5511000000000": 131026}, Until: "sent"}, "5511999990001", "text",
			[]string{"sent@" + ts(0)}},
		{"duplicates", StatusConfig{Duplicates: 2, Until: "delivered"}, "5511999990001", "template",
			[]string{"sent@" + ts(0), "sent@" + ts(0), "delivered@" + ts(time.Second), "delivered@" + ts(time.Second)}},
		{"delay", StatusConfig{DelayMS: 5}, "5511999990001", "text",
			[]string{"sent@" + ts(0), "delivered@" + ts(time.Second), "read@" + ts(2*time.Second)}},
		{"sent to +number, failing by wa_id", StatusConfig{FailTo: map[string]int{"5511000000000": 131026}}, "+5511000000000", "text",
			[]string{"failed@" + ts(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, hook := newStatusSim(t)
			if err := sim.SetStatusConfig(tt.cfg); err != nil {
				t.Fatal(err)
			}
			accept(sim, "wamid.T1", tt.to, tt.typ)
			wait(t, sim)
			hook.mu.Lock()
			defer hook.mu.Unlock()
			var got []string
			for _, it := range hook.items {
				got = append(got, it.Status+"@"+it.Timestamp)
				// Meta's recipient_id is the wa_id, without the "+" a send may use.
				waID := strings.TrimPrefix(tt.to, "+")
				if it.ID != "wamid.T1" || it.RecipientID != waID {
					t.Errorf("status %+v for the wrong message", it)
				}
				switch it.Status {
				case "sent", "delivered":
					if it.Conversation == nil || it.Pricing == nil || it.Pricing.Billable == nil {
						t.Errorf("%s without conversation and pricing", it.Status)
					}
					if (it.Status == "sent") != (it.Conversation.ExpiresAt != "") {
						t.Errorf("%s: conversation expiration %q (only sent carries it)", it.Status, it.Conversation.ExpiresAt)
					}
					if tt.typ == "template" && it.Pricing.Category != "utility" {
						t.Errorf("template priced as %q", it.Pricing.Category)
					}
				case "failed":
					if len(it.Errors) != 1 || it.Errors[0].Code != tt.cfg.FailTo[waID] || it.Errors[0].Title == "" || it.Errors[0].Details == "" {
						t.Errorf("failed errors %+v", it.Errors)
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("statuses %v, want %v", got, tt.want)
			}
			if hook.bad != 0 {
				t.Errorf("%d webhooks with a bad signature", hook.bad)
			}
			if st := sim.StatusStats(); st.Posted != len(tt.want) || st.Scheduled != len(tt.want) || st.Pending != 0 || st.Failed != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestStatusShuffleAndDuplicates(t *testing.T) {
	sim, hook := newStatusSim(t)
	if err := sim.SetStatusConfig(StatusConfig{Shuffle: true, Duplicates: 3, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	const messages = 5
	for i := range messages {
		accept(sim, fmt.Sprintf("wamid.S%d", i), "5511999990001", "text")
	}
	wait(t, sim)
	got := hook.statuses()
	if len(got) != messages*3*3 {
		t.Fatalf("%d webhooks, want %d", len(got), messages*9)
	}
	count := map[string]int{}
	for _, it := range hook.items {
		count[it.ID+"/"+it.Status]++
	}
	for k, n := range count {
		if n != 3 {
			t.Errorf("%s posted %d times, want 3", k, n)
		}
	}
	// With this seed at least one message's statuses arrive out of order;
	// the same seed gives the same order every run.
	inOrder := true
	last := map[string]string{}
	rank := map[string]int{"sent": 1, "delivered": 2, "read": 3}
	for _, it := range hook.items {
		if rank[it.Status] < rank[last[it.ID]] {
			inOrder = false
		}
		last[it.ID] = it.Status
	}
	if inOrder {
		t.Error("shuffle left every message in order")
	}
	first := append([]string(nil), got...)
	sim2, hook2 := newStatusSim(t)
	_ = sim2.SetStatusConfig(StatusConfig{Shuffle: true, Duplicates: 3, Seed: 7})
	for i := range messages {
		accept(sim2, fmt.Sprintf("wamid.S%d", i), "5511999990001", "text")
	}
	wait(t, sim2)
	if fmt.Sprint(hook2.statuses()) != fmt.Sprint(first) {
		t.Error("the same seed gave another order")
	}
}

func TestStatusRetriesRefusedWebhook(t *testing.T) {
	sim, hook := newStatusSim(t)
	hook.refuse = 2
	_ = sim.SetStatusConfig(StatusConfig{Until: "sent"})
	accept(sim, "wamid.R", "5511999990001", "text")
	wait(t, sim)
	if got := hook.statuses(); fmt.Sprint(got) != "[sent]" {
		t.Errorf("statuses %v, want [sent] after retries", got)
	}
	if st := sim.StatusStats(); st.Posted != 1 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestStatusDisabledAndClose(t *testing.T) {
	sim, hook := newStatusSim(t)
	_ = sim.SetStatusConfig(StatusConfig{Disabled: true})
	accept(sim, "wamid.D", "5511999990001", "text")
	wait(t, sim)
	if got := hook.statuses(); len(got) != 0 || sim.StatusStats().Scheduled != 0 {
		t.Errorf("disabled simulator sent %v", got)
	}
	_ = sim.SetStatusConfig(StatusConfig{DelayMS: 60_000})
	accept(sim, "wamid.C", "5511999990001", "text")
	if st := sim.StatusStats(); st.Pending != 3 {
		t.Fatalf("pending %d, want 3", st.Pending)
	}
	sim.Close() // must return although webhooks are a minute away
	sim.Close()
	accept(sim, "wamid.after", "5511999990001", "text")
	if st := sim.StatusStats(); st.Pending != 0 || st.Posted != 0 {
		t.Errorf("after Close: %+v", st)
	}
	wait(t, sim)
}

func TestStatusConfigEndpoint(t *testing.T) {
	sim, _ := newStatusSim(t)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	post := func(body string) (int, string) {
		resp, err := http.Post(srv.URL+"/_sim/statuses/config", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := post(`{"duplicates":2,"shuffle":true,"delay_ms":10,"read_without_delivered":true,"fail_to":{"5511":131047},"seed":3}`)
	if code != http.StatusOK {
		t.Fatalf("POST config: %d %s", code, body)
	}
	want := StatusConfig{Duplicates: 2, Shuffle: true, DelayMS: 10, ReadWithoutDelivered: true, FailTo: map[string]int{"5511": 131047}, Seed: 3}
	if got := sim.StatusConfig(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("config %+v, want %+v", got, want)
	}
	resp, err := http.Get(srv.URL + "/_sim/statuses/config")
	if err != nil {
		t.Fatal(err)
	}
	var got StatusConfig
	_ = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("GET config %+v, want %+v", got, want)
	}
	for _, bad := range []string{`{"until":"played"}`, `{"duplicates":-1}`, `{"surprise":true}`, `not json`} {
		if code, _ := post(bad); code != http.StatusBadRequest {
			t.Errorf("POST %s: %d, want 400", bad, code)
		}
	}
	resp, err = http.Get(srv.URL + "/_sim/statuses")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /_sim/statuses: %d", resp.StatusCode)
	}
}

// The simulator's status items have the keys of Meta's own samples.
func TestStatusPayloadMatchesReference(t *testing.T) {
	keys := func(b []byte) string {
		units, err := whatsapp.Split(b)
		if err != nil || len(units) != 1 {
			t.Fatalf("split: %v", err)
		}
		var m map[string]json.RawMessage
		_ = json.Unmarshal(units[0].Item, &m)
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	n := &Number{PhoneNumberID: "1", WABAID: "2", DisplayPhoneNumber: "3"}
	a := Accepted{WAMID: "wamid.X", PhoneNumberID: "1", To: "5511", Type: "text"}
	for status, ref := range map[string]string{
		"sent":      "status_sent.json",
		"delivered": "status_delivered.json",
		"failed":    "status_failed_131047_reengagement.json",
	} {
		want, err := os.ReadFile("../../shared/status/testdata/webhooks/" + ref)
		if err != nil {
			t.Fatal(err)
		}
		got, err := statusPayload(n, a, status, simNow, 131047)
		if err != nil {
			t.Fatal(err)
		}
		if keys(got) != keys(want) {
			t.Errorf("%s item keys %s, Meta's %s", status, keys(got), keys(want))
		}
	}
}
