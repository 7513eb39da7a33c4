package graphsim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// connectorHook takes every webhook like the connector and keeps the
// status items.
type connectorHook struct {
	mu    sync.Mutex
	items []event.StatusItem
}

func (h *connectorHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	units, err := whatsapp.Split(b)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, u := range units {
		if u.Kind != whatsapp.KindStatus {
			continue
		}
		it, err := event.ParseStatus(u.Item)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.items = append(h.items, it)
	}
}

// of returns the statuses of wamid as "status" or "failed:code:details".
func (h *connectorHook) of(wamid string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, it := range h.items {
		if it.ID != wamid {
			continue
		}
		s := it.Status
		for _, e := range it.Errors {
			s += fmt.Sprintf(":%d:%s", e.Code, e.Details)
		}
		out = append(out, s)
	}
	return out
}

func (h *connectorHook) recipient(wamid string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, it := range h.items {
		if it.ID == wamid {
			return it.RecipientID
		}
	}
	return ""
}

type conversationSim struct {
	sim  *Sim
	url  string
	hook *connectorHook
	clk  *manualClock
}

// newConversationSim is a simulator posting every webhook to a connector
// stand-in, on a manual clock.
func newConversationSim(t *testing.T) *conversationSim {
	t.Helper()
	hook := &connectorHook{}
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)
	clk := &manualClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	sim := New(Config{WebhookURL: hookSrv.URL, AppSecret: "s", Now: clk.Now, Numbers: []Number{
		{PhoneNumberID: "100", WABAID: "200", DisplayPhoneNumber: "15550000100", AccessToken: "tok-a"},
	}})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &conversationSim{sim: sim, url: srv.URL, hook: hook, clk: clk}
}

func (c *conversationSim) post(t *testing.T, path, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(c.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// send posts a message and returns the answer's wamid and wa_id; anything
// but Meta's success answer fails the test.
func (c *conversationSim) send(t *testing.T, body string) (wamid, waID, input string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.url+"/v23.0/100/messages", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok-a")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Contacts []struct {
			Input string `json:"input"`
			WaID  string `json:"wa_id"`
		} `json:"contacts"`
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || len(out.Messages) != 1 || len(out.Contacts) != 1 {
		t.Fatalf("send %s: %d %s, want Meta's success answer", body, resp.StatusCode, raw)
	}
	return out.Messages[0].ID, out.Contacts[0].WaID, out.Contacts[0].Input
}

func (c *conversationSim) wait(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.sim.WaitStatuses(ctx); err != nil {
		t.Fatalf("statuses not all posted: %v (%+v)", err, c.sim.StatusStats())
	}
}

func textTo(to string) string {
	return `{"messaging_product":"whatsapp","recipient_type":"individual","to":"` + to + `","type":"text","text":{"body":"hi"}}`
}

func templateTo(to string) string {
	return `{"messaging_product":"whatsapp","to":"` + to + `","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`
}

const windowFailed = "failed:131047:Message failed to send because more than 24 hours have passed since the customer last replied to this number."

// TestCustomerServiceWindow: a free-form message outside the 24-hour
// window is accepted (200 and a wamid, never a synchronous 131047) and
// then fails with 131047 in a status; a template is not held to the window.
func TestCustomerServiceWindow(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, c *conversationSim, user string)
		body  func(user string) string
		want  []string
	}{
		{"never wrote", func(*testing.T, *conversationSim, string) {}, textTo, []string{windowFailed}},
		{"never wrote, template", func(*testing.T, *conversationSim, string) {}, templateTo, []string{"sent", "delivered", "read"}},
		{"wrote through /_sim/inbound", func(t *testing.T, c *conversationSim, user string) {
			if code, b := c.post(t, "/_sim/inbound", `{"from":"`+user+`","text":"hello"}`); code != http.StatusOK {
				t.Fatalf("inbound: %d %s", code, b)
			}
		}, textTo, []string{"sent", "delivered", "read"}},
		{"wrote 23h59m ago", func(t *testing.T, c *conversationSim, user string) {
			c.post(t, "/_sim/inbound", `{"from":"`+user+`","text":"hello"}`)
			c.clk.Add(WindowLength - time.Minute)
		}, textTo, []string{"sent", "delivered", "read"}},
		{"wrote 24h ago", func(t *testing.T, c *conversationSim, user string) {
			c.post(t, "/_sim/inbound", `{"from":"`+user+`","text":"hello"}`)
			c.clk.Add(WindowLength)
		}, textTo, []string{windowFailed}},
		{"replayed webhook from the user", func(t *testing.T, c *conversationSim, user string) {
			payload := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"200","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550000100","phone_number_id":"100"},"contacts":[{"profile":{"name":"A"},"wa_id":%q}],"messages":[{"from":%q,"id":"wamid.R","timestamp":"%d","type":"text","text":{"body":"hi"}}]}}]}]}`,
				user, user, c.clk.Now().Unix()-60)
			if code, b := c.post(t, "/_sim/webhook", payload); code != http.StatusOK {
				t.Fatalf("webhook: %d %s", code, b)
			}
		}, textTo, []string{"sent", "delivered", "read"}},
		{"opened with /_sim/window", func(t *testing.T, c *conversationSim, user string) {
			if code, b := c.post(t, "/_sim/window", `{"wa_id":"`+user+`"}`); code != http.StatusOK || !strings.Contains(string(b), `"open":true`) {
				t.Fatalf("window: %d %s", code, b)
			}
		}, textTo, []string{"sent", "delivered", "read"}},
		{"opened 25h ago with /_sim/window", func(t *testing.T, c *conversationSim, user string) {
			at := c.clk.Now().Add(-25 * time.Hour).Format(time.RFC3339)
			if code, b := c.post(t, "/_sim/window", `{"wa_id":"`+user+`","last_inbound":"`+at+`"}`); code != http.StatusOK || !strings.Contains(string(b), `"open":false`) {
				t.Fatalf("window: %d %s", code, b)
			}
		}, textTo, []string{windowFailed}},
		{"closed with /_sim/window", func(t *testing.T, c *conversationSim, user string) {
			c.post(t, "/_sim/inbound", `{"from":"`+user+`","text":"hello"}`)
			if code, b := c.post(t, "/_sim/window", `{"wa_id":"`+user+`","close":true}`); code != http.StatusOK {
				t.Fatalf("window: %d %s", code, b)
			}
		}, textTo, []string{windowFailed}},
		{"131047 forced by /_sim/faults is reported later too", func(t *testing.T, c *conversationSim, user string) {
			c.post(t, "/_sim/inbound", `{"from":"`+user+`","text":"hello"}`)
			if code, b := c.post(t, "/_sim/faults", `{"code":131047,"to":"+`+user+`"}`); code != http.StatusNoContent {
				t.Fatalf("fault: %d %s", code, b)
			}
		}, textTo, []string{windowFailed}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConversationSim(t)
			user := fmt.Sprintf("1650555%04d", i)
			tt.setup(t, c, user)
			wamid, _, _ := c.send(t, tt.body(user))
			c.wait(t)
			if got := c.hook.of(wamid); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("statuses %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBrazilianWaID: Meta answers the wa_id of the account a number
// reaches; a Brazilian account registered before the ninth digit keeps a
// wa_id without it, and status webhooks name it so.
func TestBrazilianWaID(t *testing.T) {
	tests := []struct {
		name   string
		wrote  string // the account that wrote in ("" none)
		to     string
		wantID string
	}{
		{"old account, sent with the ninth digit", "551199990001", "+5511999990001", "551199990001"},
		{"old account, sent as its wa_id", "551199990001", "551199990001", "551199990001"},
		{"new account, sent with the ninth digit", "5521988880002", "+5521988880002", "5521988880002"},
		{"new account, sent without the ninth digit", "5521988880002", "552188880002", "5521988880002"},
		{"unknown Brazilian number keeps its digits", "", "+5531977770003", "5531977770003"},
		{"landline (no ninth digit to add)", "553133330004", "+55 31 3333-0004", "553133330004"},
		{"other country", "16505550005", "+1 (650) 555-0005", "16505550005"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConversationSim(t)
			if tt.wrote != "" {
				if code, b := c.post(t, "/_sim/inbound", `{"from":"`+tt.wrote+`","text":"oi"}`); code != http.StatusOK {
					t.Fatalf("inbound: %d %s", code, b)
				}
			}
			wamid, waID, input := c.send(t, templateTo(tt.to))
			if waID != tt.wantID || input != tt.to {
				t.Errorf("contacts[0] = {input %q, wa_id %q}, want {%q, %q}", input, waID, tt.to, tt.wantID)
			}
			c.wait(t)
			if got := c.hook.recipient(wamid); got != tt.wantID {
				t.Errorf("status recipient_id %q, want %q", got, tt.wantID)
			}
			// The account's window is the one a free-form send finds.
			if tt.wrote != "" {
				wamid, _, _ := c.send(t, textTo(tt.to))
				c.wait(t)
				if got := c.hook.of(wamid); len(got) == 0 || got[0] != "sent" {
					t.Errorf("free-form message to the account that wrote: %q, want sent first", got)
				}
			}
			if got := c.sim.WindowOf("100", tt.to).WaID; got != tt.wantID {
				t.Errorf("GET /_sim/window wa_id %q, want %q", got, tt.wantID)
			}
		})
	}
}

// mediaHost serves media at fixed paths and counts the GETs.
type mediaHost struct{ gets atomic.Int64 }

func (m *mediaHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	m.gets.Add(1)
	switch r.URL.Path {
	case "/photo.jpg":
		w.Header().Set("Content-Type", "image/jpeg")
		_, _ = w.Write([]byte("\xff\xd8\xff jpeg"))
	case "/photo.html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<html>expired</html>"))
	case "/huge.jpg":
		w.Header().Set("Content-Type", "image/jpeg")
		_, _ = w.Write(make([]byte, 5<<20+1))
	case "/expired.jpg":
		http.Error(w, "Request has expired", http.StatusForbidden)
	default:
		http.NotFound(w, r)
	}
}

// TestMediaLinksFetched: Meta fetches a send's media links with a GET
// after accepting it; a link it cannot use fails the message later with
// 131053, never the send itself.
func TestMediaLinksFetched(t *testing.T) {
	host := &mediaHost{}
	hostSrv := httptest.NewServer(host)
	defer hostSrv.Close()
	image := func(path string) string {
		return `{"messaging_product":"whatsapp","to":"16505550001","type":"image","image":{"link":"` + hostSrv.URL + path + `","caption":"c"}}`
	}
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"image served", image("/photo.jpg"), []string{"sent", "delivered", "read"}},
		{"404", image("/gone.jpg"), []string{"failed:131053:Downloading media from weblink failed with http code 404, status message Not Found"}},
		{"expired presigned link", image("/expired.jpg"), []string{"failed:131053:Downloading media from weblink failed with http code 403, status message Forbidden"}},
		{"HTML instead of an image", image("/photo.html"), []string{"failed:131053:Unsupported Image mime type text/html. Please use one of image/jpeg, image/png."}},
		{"over 5 MB", image("/huge.jpg"), []string{"failed:131053:Media file size too big. Max image file size is 5242880 bytes."}},
		{"unreachable host", `{"messaging_product":"whatsapp","to":"16505550001","type":"document","document":{"link":"http://127.0.0.1:1/q.pdf"}}`,
			[]string{"failed:131053:Downloading media from weblink failed: the host could not be reached"}},
		{"template header parameter", `{"messaging_product":"whatsapp","to":"16505550001","type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"header","parameters":[{"type":"image","image":{"link":"` + hostSrv.URL + `/gone.jpg"}}]}]}}`,
			[]string{"failed:131053:Downloading media from weblink failed with http code 404, status message Not Found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConversationSim(t)
			c.sim.OpenWindow("100", "16505550001", c.clk.Now())
			before := host.gets.Load()
			wamid, _, _ := c.send(t, tt.body)
			c.wait(t)
			if got := c.hook.of(wamid); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("statuses %q, want %q", got, tt.want)
			}
			wantGets := int64(1)
			if strings.Contains(tt.body, "127.0.0.1:1/") {
				wantGets = 0
			}
			if got := host.gets.Load() - before; got != wantGets {
				t.Errorf("%d GETs of the link, want %d", got, wantGets)
			}
			if st := c.sim.MessageStats(); st.LinksFetched != 1 || st.LinksFailed != boolInt(strings.HasPrefix(tt.want[0], "failed")) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
