package graphsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newSendSim(t *testing.T, throughput int) (*Sim, *httptest.Server, *manualClock) {
	t.Helper()
	clk := &manualClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	s := New(Config{Now: clk.Now, Numbers: []Number{{PhoneNumberID: "100", AccessToken: "tok-a", Throughput: throughput}}})
	s.SetStatusConfig(StatusConfig{Disabled: true})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Cleanup(s.Close)
	return s, srv, clk
}

type answer struct {
	status int
	Error  struct {
		Code int `json:"code"`
		Data struct {
			Details string `json:"details"`
		} `json:"error_data"`
	} `json:"error"`
	Messages []struct {
		ID string `json:"id"`
	} `json:"messages"`
	Success bool `json:"success"`
}

func send(t *testing.T, url, token, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v23.0/100/messages", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer %s: %v", raw, err)
	}
	a.status = resp.StatusCode
	return a
}

func text(to string) string {
	return `{"messaging_product":"whatsapp","recipient_type":"individual","to":"` + to + `","type":"text","text":{"body":"hi","preview_url":false}}`
}

// TestSpecExamplesAccepted sends every sendMessage request example of
// Meta's spec (copied in the outbound package's testdata).
func TestSpecExamplesAccepted(t *testing.T) {
	files, _ := filepath.Glob("../../shared/outbound/testdata/spec/*.json")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	_, srv, _ := newSendSim(t, 1000)
	for i, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			// One recipient per example keeps the pair limit out of the way.
			body := strings.ReplaceAll(string(raw), "{{Recipient-Phone-Number}}", "5511999990"+string(rune('a'+i)))
			a := send(t, srv.URL, "tok-a", body)
			if a.status != 200 || (len(a.Messages) != 1 && !a.Success) {
				t.Errorf("status %d, code %d: %s", a.status, a.Error.Code, a.Error.Data.Details)
			}
		})
	}
}

func TestInvalidRequestsRefused(t *testing.T) {
	tests := []struct{ name, body string }{
		{"not JSON", `{`},
		{"no messaging_product", `{"to":"1","type":"text","text":{"body":"x"}}`},
		{"no to", `{"messaging_product":"whatsapp","type":"text","text":{"body":"x"}}`},
		{"type without its object", `{"messaging_product":"whatsapp","to":"1","type":"image","text":{"body":"x"}}`},
		{"text without body", `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"preview_url":true}}`},
		{"unknown top-level field", `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"body":"x"},"colour":"red"}`},
		{"unknown text field", `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"body":"x","bold":true}}`},
		{"media id and link", `{"messaging_product":"whatsapp","to":"1","type":"image","image":{"id":"1","link":"https://x"}}`},
		{"media neither", `{"messaging_product":"whatsapp","to":"1","type":"image","image":{"caption":"x"}}`},
		{"location without latitude", `{"messaging_product":"whatsapp","to":"1","type":"location","location":{"longitude":1}}`},
		{"template without language", `{"messaging_product":"whatsapp","to":"1","type":"template","template":{"name":"x"}}`},
		{"four reply buttons", `{"messaging_product":"whatsapp","to":"1","type":"interactive","interactive":{"type":"button","body":{"text":"x"},"action":{"buttons":[
			{"type":"reply","reply":{"id":"a","title":"a"}},{"type":"reply","reply":{"id":"b","title":"b"}},{"type":"reply","reply":{"id":"c","title":"c"}},{"type":"reply","reply":{"id":"d","title":"d"}}]}}}`},
		{"button title 21", `{"messaging_product":"whatsapp","to":"1","type":"interactive","interactive":{"type":"button","body":{"text":"x"},"action":{"buttons":[
			{"type":"reply","reply":{"id":"a","title":"aaaaaaaaaaaaaaaaaaaaa"}}]}}}`},
		{"reaction without emoji", `{"messaging_product":"whatsapp","to":"1","type":"reaction","reaction":{"message_id":"wamid.A"}}`},
		{"read without message id", `{"messaging_product":"whatsapp","status":"read"}`},
		{"contact without name", `{"messaging_product":"whatsapp","to":"1","type":"contacts","contacts":[{"phones":[{"phone":"1"}]}]}`},
	}
	s, srv, _ := newSendSim(t, 1000)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := send(t, srv.URL, "tok-a", tt.body)
			if a.status != 400 || a.Error.Code != 100 {
				t.Errorf("status %d code %d, want 400 and code 100", a.status, a.Error.Code)
			}
		})
	}
	if got := len(s.Messages()); got != 0 {
		t.Errorf("%d invalid requests recorded as accepted", got)
	}
}

func TestSendChecksToken(t *testing.T) {
	s, srv, _ := newSendSim(t, 80)
	if a := send(t, srv.URL, "tok-b", text("5511999990001")); a.status != 401 || a.Error.Code != 190 {
		t.Errorf("wrong token: status %d code %d, want 401 and 190", a.status, a.Error.Code)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v23.0/999/messages", strings.NewReader(text("5511999990001")))
	req.Header.Set("Authorization", "Bearer tok-a")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("unknown number: status %d, want 400", resp.StatusCode)
	}
	if len(s.Messages()) != 0 {
		t.Error("refused requests recorded")
	}
}

// TestThroughputSlidingWindow: at most Throughput acceptances in any
// one-second window, counted on the simulator's clock.
func TestThroughputSlidingWindow(t *testing.T) {
	s, srv, clk := newSendSim(t, 5)
	to := func(i int) string { return "55119999900" + string(rune('0'+i/10)) + string(rune('0'+i%10)) }
	for i := 0; i < 3; i++ {
		if a := send(t, srv.URL, "tok-a", text(to(i))); a.status != 200 {
			t.Fatalf("send %d: %d", i, a.status)
		}
	}
	clk.Add(500 * time.Millisecond)
	for i := 3; i < 5; i++ {
		if a := send(t, srv.URL, "tok-a", text(to(i))); a.status != 200 {
			t.Fatalf("send %d: %d", i, a.status)
		}
	}
	if a := send(t, srv.URL, "tok-a", text(to(5))); a.Error.Code != 130429 {
		t.Fatalf("6th send within a second: code %d, want 130429", a.Error.Code)
	}
	// 999 ms after the first three they still count.
	clk.Add(499 * time.Millisecond)
	if a := send(t, srv.URL, "tok-a", text(to(6))); a.Error.Code != 130429 {
		t.Fatalf("send at 999 ms: code %d, want 130429", a.Error.Code)
	}
	// At one second the first three leave the window: three more fit.
	clk.Add(time.Millisecond)
	for i := 7; i < 10; i++ {
		if a := send(t, srv.URL, "tok-a", text(to(i))); a.status != 200 {
			t.Fatalf("send %d after the window slid: status %d code %d", i, a.status, a.Error.Code)
		}
	}
	if a := send(t, srv.URL, "tok-a", text(to(10))); a.Error.Code != 130429 {
		t.Fatalf("code %d, want 130429", a.Error.Code)
	}
	// Read receipts count against the number too.
	clk.Add(time.Second)
	for i := 0; i < 5; i++ {
		send(t, srv.URL, "tok-a", `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.A"}`)
	}
	if a := send(t, srv.URL, "tok-a", text(to(11))); a.Error.Code != 130429 {
		t.Errorf("after 5 read receipts: code %d, want 130429", a.Error.Code)
	}
	if st := s.MessageStats(); st.Throughput != 4 || st.Accepted != 13 {
		t.Errorf("stats %+v, want 4 refusals and 13 accepted", st)
	}
}

func TestPairLimit(t *testing.T) {
	s, srv, clk := newSendSim(t, 1000)
	for i := 0; i < PairBurst; i++ {
		if a := send(t, srv.URL, "tok-a", text("5511999990001")); a.status != 200 {
			t.Fatalf("burst message %d: code %d", i+1, a.Error.Code)
		}
	}
	if a := send(t, srv.URL, "tok-a", text("5511999990001")); a.Error.Code != 131056 {
		t.Fatalf("message %d: code %d, want 131056", PairBurst+1, a.Error.Code)
	}
	if a := send(t, srv.URL, "tok-a", text("+5511999990002")); a.status != 200 {
		t.Errorf("another recipient: code %d", a.Error.Code)
	}
	clk.Add(PairPeriod)
	if a := send(t, srv.URL, "tok-a", text("5511999990001")); a.status != 200 {
		t.Errorf("one period later: code %d", a.Error.Code)
	}
	if a := send(t, srv.URL, "tok-a", text("5511999990001")); a.Error.Code != 131056 {
		t.Errorf("twice in a period after the burst: code %d, want 131056", a.Error.Code)
	}
	if st := s.MessageStats(); st.Pair != 2 {
		t.Errorf("pair refusals %d, want 2", st.Pair)
	}
}

func TestFaultsAndRecord(t *testing.T) {
	s, srv, _ := newSendSim(t, 80)
	resp, err := http.Post(srv.URL+"/_sim/faults", "application/json", strings.NewReader(`{"code":131026,"to":"+5511999990001","count":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if a := send(t, srv.URL, "tok-a", text("5511999990002")); a.status != 200 {
		t.Fatalf("another recipient hit the fault: %d", a.Error.Code)
	}
	if a := send(t, srv.URL, "tok-a", text("5511999990001")); a.status != 400 || a.Error.Code != 131026 {
		t.Fatalf("faulted send: status %d code %d, want 400 131026", a.status, a.Error.Code)
	}
	first := send(t, srv.URL, "tok-a", text("5511999990001"))
	if first.status != 200 || len(first.Messages) != 1 || !strings.HasPrefix(first.Messages[0].ID, "wamid.") {
		t.Fatalf("send after the fault: %+v", first)
	}
	if a := send(t, srv.URL, "tok-a", `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.A","typing_indicator":{"type":"text"}}`); !a.Success {
		t.Errorf("typing indicator: %+v", a)
	}

	resp, err = http.Get(srv.URL + "/_sim/messages")
	if err != nil {
		t.Fatal(err)
	}
	var got []struct {
		WAMID string          `json:"wamid"`
		PNID  string          `json:"phone_number_id"`
		To    string          `json:"to"`
		Type  string          `json:"type"`
		Body  json.RawMessage `json:"body"`
		At    time.Time       `json:"accepted_at"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if len(got) != 3 || got[0].To != "5511999990002" || got[1].WAMID != first.Messages[0].ID || got[2].Type != "typing" {
		t.Fatalf("recorded %+v", got)
	}
	var body map[string]any
	if err := json.Unmarshal(got[1].Body, &body); err != nil || body["to"] != "5511999990001" || got[1].PNID != "100" {
		t.Errorf("recorded body %s", got[1].Body)
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/_sim/messages", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages after reset", n)
	}
}
