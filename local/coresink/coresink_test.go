package coresink

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/shared/core"
)

const (
	token  = "tok"
	secret = "sig-secret"
)

func post(t *testing.T, srv *httptest.Server, body, auth, sig, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/wacloud/v1/events", strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if sig != "" {
		req.Header.Set(core.SignatureHeader, sig)
	}
	if key != "" {
		req.Header.Set(core.IdempotencyHeader, key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func get(t *testing.T, srv *httptest.Server, path string) string {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestSink(t *testing.T) {
	sink := New(Config{BearerToken: token, SigningSecret: secret})
	srv := httptest.NewServer(sink)
	defer srv.Close()

	ev1 := `{"event_id":"e1", "type":"message.received","tenant_id":"demo","text":"ol\u00e1"}`
	ev2 := `{"event_id":"e2","type":"message.status","tenant_id":"acme"}`
	tests := []struct {
		name string
		body string
		auth string
		sig  string
		key  string
		want int
	}{
		{"accepted", ev1, "Bearer " + token, core.Sign(secret, []byte(ev1)), "e1", 200},
		{"wrong token", ev2, "Bearer nope", core.Sign(secret, []byte(ev2)), "e2", 401},
		{"no token", ev2, "", core.Sign(secret, []byte(ev2)), "e2", 401},
		{"bad signature", ev2, "Bearer " + token, core.Sign("other", []byte(ev2)), "e2", 401},
		{"no signature", ev2, "Bearer " + token, "", "e2", 401},
		{"no idempotency key", ev2, "Bearer " + token, core.Sign(secret, []byte(ev2)), "", 400},
		{"not JSON", "nope", "Bearer " + token, core.Sign(secret, []byte("nope")), "x", 400},
		{"duplicate", ev1, "Bearer " + token, core.Sign(secret, []byte(ev1)), "e1", 200},
		{"second event", ev2, "Bearer " + token, core.Sign(secret, []byte(ev2)), "e2", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := post(t, srv, tt.body, tt.auth, tt.sig, tt.key); got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
		})
	}

	if got, want := get(t, srv, "/events"), "["+ev1+","+ev2+"]"; got != want {
		t.Errorf("GET /events = %s, want %s", got, want)
	}
	if got, want := get(t, srv, "/events?tenant_id=acme"), "["+ev2+"]"; got != want {
		t.Errorf("GET /events?tenant_id=acme = %s, want %s", got, want)
	}
	if got, want := get(t, srv, "/events?type=message.received"), "["+ev1+"]"; got != want {
		t.Errorf("GET /events?type=message.received = %s, want %s", got, want)
	}
	var st Stats
	if err := json.Unmarshal([]byte(get(t, srv, "/stats")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Accepted != 2 || st.Duplicates != 1 || st.Unauthorized != 2 || st.BadSignature != 2 || st.BadRequest != 2 {
		t.Errorf("stats = %+v", st)
	}

	t.Run("fail switch", func(t *testing.T) {
		resp, err := http.Post(srv.URL+"/_sink/fail", "application/json", strings.NewReader(`{"status":503,"count":2}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ev3 := `{"event_id":"e3","type":"t","tenant_id":"demo"}`
		for i, want := range []int{503, 503, 200} {
			if got := post(t, srv, ev3, "Bearer "+token, core.Sign(secret, []byte(ev3)), "e3"); got != want {
				t.Errorf("push %d: status = %d, want %d", i+1, got, want)
			}
		}
	})

	t.Run("reset", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/events", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := get(t, srv, "/events"); got != "[]" {
			t.Errorf("after reset GET /events = %s, want []", got)
		}
	})
}

// The latency switch: set, refused out of bounds, read back.
func TestSinkLatency(t *testing.T) {
	sink := New(Config{BearerToken: token, SigningSecret: secret})
	srv := httptest.NewServer(sink)
	defer srv.Close()
	set := func(body string) (int, string) {
		resp, err := http.Post(srv.URL+"/_sink/latency", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantMS     string // GET /_sink/latency afterwards
	}{
		{"set", `{"ms":100}`, 200, `{"ms":100}`},
		{"negative", `{"ms":-1}`, 400, `{"ms":100}`},
		{"above the bound", `{"ms":60001}`, 400, `{"ms":100}`},
		{"missing", `{}`, 400, `{"ms":100}`},
		{"not JSON", `100`, 400, `{"ms":100}`},
		{"off", `{"ms":0}`, 200, `{"ms":0}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := set(tt.body); got != tt.wantStatus {
				t.Errorf("POST /_sink/latency %s = %d, want %d", tt.body, got, tt.wantStatus)
			}
			if got := strings.TrimSpace(get(t, srv, "/_sink/latency")); got != tt.wantMS {
				t.Errorf("GET /_sink/latency = %s, want %s", got, tt.wantMS)
			}
		})
	}

}
