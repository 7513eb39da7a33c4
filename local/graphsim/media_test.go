package graphsim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMediaEndpoints(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2025, 6, 8, 12, 0, 0, 0, time.UTC)
	sim := New(Config{
		Numbers: []Number{{PhoneNumberID: "111", AccessToken: "tok-a"}, {PhoneNumberID: "222", AccessToken: "tok-b"}},
		Now:     func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
	})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	do := func(method, path, token, body string) (int, []byte) {
		t.Helper()
		if !strings.HasPrefix(path, "http") {
			path = srv.URL + path
		}
		req, _ := http.NewRequest(method, path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	// Created over HTTP with given content.
	status, b := do("POST", "/_sim/media", "", `{"phone_number_id":"111","mime_type":"image/png","content_base64":"aGVsbG8="}`)
	if status != http.StatusOK {
		t.Fatalf("POST /_sim/media: %d %s", status, b)
	}
	var o MediaObject
	json.Unmarshal(b, &o)
	sum := sha256.Sum256([]byte("hello"))
	if o.SHA256 != hex.EncodeToString(sum[:]) || o.Size != 5 {
		t.Fatalf("created %+v", o)
	}

	tests := []struct {
		name, token string
		wantStatus  int
		wantCode    string
	}{
		{"owner", "tok-a", http.StatusOK, ""},
		{"other number's token", "tok-b", http.StatusBadRequest, `"code":100`},
		{"no token", "", http.StatusUnauthorized, `"code":190`},
	}
	for _, tt := range tests {
		t.Run("info with "+tt.name, func(t *testing.T) {
			status, b := do("GET", "/v23.0/"+o.ID, tt.token, "")
			if status != tt.wantStatus || !strings.Contains(string(b), tt.wantCode) {
				t.Errorf("GET media: %d %s, want %d %s", status, b, tt.wantStatus, tt.wantCode)
			}
		})
	}

	_, b = do("GET", "/v23.0/"+o.ID, "tok-a", "")
	var info struct {
		URL      string `json:"url"`
		FileSize int64  `json:"file_size"`
	}
	json.Unmarshal(b, &info)
	if status, _ := do("GET", info.URL, "", ""); status != http.StatusUnauthorized {
		t.Errorf("download without token: %d, want 401", status)
	}
	if status, body := do("GET", info.URL, "tok-a", ""); status != http.StatusOK || string(body) != "hello" {
		t.Errorf("download: %d %q", status, body)
	}
	if status, _ := do("GET", strings.Replace(info.URL, "sig=", "sig=0", 1), "tok-a", ""); status != http.StatusForbidden {
		t.Errorf("download with a forged signature: %d, want 403", status)
	}
	mu.Lock()
	now = now.Add(DefaultMediaURLTTL)
	mu.Unlock()
	if status, _ := do("GET", info.URL, "tok-a", ""); status != http.StatusNotFound {
		t.Errorf("download after 5 minutes: %d, want 404 (expired)", status)
	}
	if got := sim.MediaDownloads(o.ID); got != 1 {
		t.Errorf("downloads = %d, want 1", got)
	}

	// Generated content is deterministic and hashed correctly.
	g1, _ := sim.CreateMedia(MediaSpec{PhoneNumberID: "111", MimeType: "video/mp4", Size: 3<<20 + 1, Seed: 7})
	g2, _ := sim.CreateMedia(MediaSpec{PhoneNumberID: "111", MimeType: "video/mp4", Size: 3<<20 + 1, Seed: 7})
	r, _, _ := sim.MediaContent(g1.ID)
	h := sha256.New()
	n, _ := io.Copy(h, r)
	if g1.SHA256 != g2.SHA256 || hex.EncodeToString(h.Sum(nil)) != g1.SHA256 || n != g1.Size {
		t.Errorf("generated media: %+v vs %+v, streamed %d bytes", g1, g2, n)
	}

	// Faults: a 5xx once, then a good answer.
	if status, b := do("POST", "/_sim/media/faults", "", `{"media_id":"`+g1.ID+`","faults":[{"target":"info","kind":"status","status":503,"times":1}]}`); status != http.StatusNoContent {
		t.Fatalf("set faults: %d %s", status, b)
	}
	if status, _ := do("GET", "/v23.0/"+g1.ID, "tok-a", ""); status != http.StatusServiceUnavailable {
		t.Errorf("faulted info: %d, want 503", status)
	}
	if status, _ := do("GET", "/v23.0/"+g1.ID, "tok-a", ""); status != http.StatusOK {
		t.Errorf("info after the fault: %d, want 200", status)
	}

	// Config: URL TTL of one second.
	if status, _ := do("POST", "/_sim/media/config", "", `{"url_ttl_seconds":1}`); status != http.StatusNoContent {
		t.Fatalf("config: %d", status)
	}
	_, b = do("GET", "/v23.0/"+o.ID, "tok-a", "")
	json.Unmarshal(b, &info)
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if status, _ := do("GET", info.URL, "tok-a", ""); status != http.StatusNotFound {
		t.Errorf("download after the configured TTL: %d, want 404", status)
	}
}

func TestMediaUpload(t *testing.T) {
	sim := New(Config{Numbers: []Number{{PhoneNumberID: "111", AccessToken: "tok-a"}}})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	body := "--X\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n" +
		"--X\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nimage/webp\r\n" +
		"--X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.webp\"\r\nContent-Type: image/webp\r\n\r\nRIFFdata\r\n--X--\r\n"
	req, _ := http.NewRequest("POST", srv.URL+"/v23.0/111/media", strings.NewReader(body))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=X")
	req.Header.Set("Authorization", "Bearer tok-a")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		ID string `json:"id"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusOK || out.ID == "" {
		t.Fatalf("upload: %d %+v", resp.StatusCode, out)
	}
	r, o, ok := sim.MediaContent(out.ID)
	got, _ := io.ReadAll(r)
	if !ok || !bytes.Equal(got, []byte("RIFFdata")) || o.MimeType != "image/webp" || sim.MediaUploads("111") != 1 {
		t.Errorf("uploaded %+v %q", o, got)
	}
}

// TestSharedToken: two numbers of one business share a token (one system
// user). Every object of either number is found with it, every time: the
// number is the object's, not one picked by token from a map.
func TestSharedToken(t *testing.T) {
	sim := New(Config{Numbers: []Number{
		{PhoneNumberID: "111", AccessToken: "tok-shared"},
		{PhoneNumberID: "222", AccessToken: "tok-shared"},
		{PhoneNumberID: "333", AccessToken: "tok-c"},
	}})
	sim.SetStatusConfig(StatusConfig{Disabled: true})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	do := func(method, path, token, body string) (int, []byte) {
		t.Helper()
		if !strings.HasPrefix(path, "http") {
			path = srv.URL + path
		}
		req, _ := http.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	owned := map[string]MediaObject{}
	for _, id := range []string{"111", "222", "333"} {
		o, err := sim.CreateMedia(MediaSpec{PhoneNumberID: id, MimeType: "image/png", Content: []byte("png of " + id)})
		if err != nil {
			t.Fatal(err)
		}
		owned[id] = o
	}
	tests := []struct {
		name, number, token string
		want                int
	}{
		{"first number, shared token", "111", "tok-shared", http.StatusOK},
		{"second number, shared token", "222", "tok-shared", http.StatusOK},
		{"third number, shared token", "333", "tok-shared", http.StatusBadRequest},
		{"first number, another business's token", "111", "tok-c", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := owned[tt.number]
			// Go randomises map order per iteration: repeat so a pick by
			// token would show.
			for i := range 20 {
				status, b := do("GET", "/v23.0/"+o.ID, tt.token, "")
				if status != tt.want {
					t.Fatalf("lookup %d of media of %s: %d %s, want %d", i+1, tt.number, status, b, tt.want)
				}
				if status != http.StatusOK {
					continue
				}
				var info struct {
					URL string `json:"url"`
				}
				json.Unmarshal(b, &info)
				if status, body := do("GET", info.URL, tt.token, ""); status != http.StatusOK || string(body) != "png of "+tt.number {
					t.Fatalf("download %d of media of %s: %d %q", i+1, tt.number, status, body)
				}
				if status, b := do("POST", "/v23.0/"+tt.number+"/messages", tt.token,
					`{"messaging_product":"whatsapp","status":"read","message_id":"wamid.A"}`); status != http.StatusOK {
					t.Fatalf("read receipt %d from %s: %d %s", i+1, tt.number, status, b)
				}
			}
			wantDelete := http.StatusOK
			if tt.want != http.StatusOK {
				wantDelete = http.StatusBadRequest
			}
			if status, b := do("DELETE", "/v23.0/"+o.ID, tt.token, ""); status != wantDelete {
				t.Errorf("delete media of %s: %d %s, want %d", tt.number, status, b, wantDelete)
			}
		})
	}
}
