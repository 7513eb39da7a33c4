package graphsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// webhookRecorder is the connector's webhook as far as the simulator can
// tell: it checks the signature and keeps each body.
type webhookRecorder struct {
	secret string
	mu     sync.Mutex
	bodies [][]byte
}

func (wr *webhookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	if !whatsapp.VerifySignature(wr.secret, b, r.Header.Get(whatsapp.SignatureHeader)) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	wr.mu.Lock()
	wr.bodies = append(wr.bodies, b)
	wr.mu.Unlock()
}

func newTestSim(t *testing.T) (*httptest.Server, *webhookRecorder) {
	t.Helper()
	rec := &webhookRecorder{secret: "app-secret"}
	hook := httptest.NewServer(rec)
	t.Cleanup(hook.Close)
	sim := New(Config{WebhookURL: hook.URL, AppSecret: "app-secret", Numbers: []Number{
		{PhoneNumberID: "100000000000001", WABAID: "200000000000001", DisplayPhoneNumber: "15550000001", AccessToken: "tok"},
	}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return srv, rec
}

func TestInbound(t *testing.T) {
	tests := []struct {
		name     string
		req      string
		wantType string
		want     string // a fragment the message must contain
	}{
		{"text", `{"from":"5511999990001","name":"Ana","type":"text","text":"hi"}`, "text", `"text":{"body":"hi"}`},
		{"default type is text", `{"text":"ol\u00e1"}`, "text", `"body":"olá"`},
		{"location", `{"type":"location","latitude":-23.5,"longitude":-46.6,"place_name":"Office"}`, "location", `"latitude":-23.5`},
		{"reaction", `{"type":"reaction","message_id":"wamid.X","emoji":"👍"}`, "reaction", `"message_id":"wamid.X"`},
		{"button reply", `{"type":"button_reply","reply_id":"yes","reply_title":"Yes"}`, "interactive", `"button_reply":{"id":"yes","title":"Yes"}`},
		{"list reply", `{"type":"interactive","reply_type":"list_reply","reply_id":"r1","reply_title":"Row","reply_description":"d"}`, "interactive", `"list_reply":{"description":"d","id":"r1","title":"Row"}`},
		{"image by media id", `{"type":"image","media_id":"777","mime_type":"image/jpeg","caption":"c"}`, "image", `"image":{"caption":"c","id":"777","mime_type":"image/jpeg"}`},
		{"raw content", `{"type":"contacts","content":[{"name":{"formatted_name":"Bo"}}]}`, "contacts", `"contacts":[{"name":{"formatted_name":"Bo"}}]`},
		{"reply context", `{"text":"re","context":{"from":"15550000001","id":"wamid.PREV"}}`, "text", `"context":{"from":"15550000001","id":"wamid.PREV"}`},
	}
	srv, hook := newTestSim(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/_sim/inbound", "application/json", strings.NewReader(tt.req))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var res InboundResult
			if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || res.Error != "" {
				t.Fatalf("status %d error %q", resp.StatusCode, res.Error)
			}
			hook.mu.Lock()
			last := hook.bodies[len(hook.bodies)-1]
			hook.mu.Unlock()
			if !bytes.Equal(last, res.Payload) {
				t.Errorf("answered payload differs from the one posted:\n%s\n%s", res.Payload, last)
			}
			units, err := whatsapp.Split(last)
			if err != nil || len(units) != 1 {
				t.Fatalf("Split = %d units, %v", len(units), err)
			}
			u := units[0]
			if u.Kind != whatsapp.KindMessage || u.WABAID != "200000000000001" || u.Metadata.PhoneNumberID != "100000000000001" || u.Field != "messages" {
				t.Errorf("unit = %+v", u)
			}
			var m struct{ ID, Type, Timestamp string }
			_ = json.Unmarshal(u.Item, &m)
			if m.ID != res.WAMID || !strings.HasPrefix(m.ID, "wamid.") || m.Type != tt.wantType || m.Timestamp == "" {
				t.Errorf("message id/type/timestamp = %q/%q/%q, want %q/%q", m.ID, m.Type, m.Timestamp, res.WAMID, tt.wantType)
			}
			if !strings.Contains(string(u.Item), tt.want) {
				t.Errorf("message %s lacks %s", u.Item, tt.want)
			}
		})
	}
}

func TestInboundRejects(t *testing.T) {
	tests := []struct {
		name, req string
		want      int
	}{
		{"not JSON", `{`, 400},
		{"unknown number", `{"phone_number_id":"999","text":"x"}`, 404},
		{"empty text", `{"type":"text"}`, 400},
		{"media without id", `{"type":"image"}`, 400},
		{"unknown type without content", `{"type":"order"}`, 400},
	}
	srv, _ := newTestSim(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/_sim/inbound", "application/json", strings.NewReader(tt.req))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

func TestWebhookReplay(t *testing.T) {
	srv, hook := newTestSim(t)
	body := `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"x":"\u00e9\/"},"field":"messages"}]}]}`
	resp, err := http.Post(srv.URL+"/_sim/webhook", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if got := string(hook.bodies[0]); got != body {
		t.Errorf("posted %s, want the exact bytes %s", got, body)
	}
}
