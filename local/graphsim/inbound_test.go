package graphsim

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
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
		{"media and media_id", `{"type":"image","media_id":"777","media":{"mime_type":"image/jpeg","size":10}}`, 400},
		{"media on a text message", `{"type":"text","text":"x","media":{"mime_type":"image/jpeg","size":10}}`, 400},
		{"media of another number", `{"type":"image","media":{"phone_number_id":"100000000000009","mime_type":"image/jpeg","size":10}}`, 400},
		{"media without a size or content", `{"type":"image","media":{"mime_type":"image/jpeg"}}`, 400},
		{"media without a mime type", `{"type":"image","media":{"size":10}}`, 400},
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

// Media messages reference media the simulator serves, and carry what
// Meta's webhooks carry: id, mime_type, sha256 in base64, a document's
// filename.
func TestInboundMedia(t *testing.T) {
	srv, hook := newTestSim(t)
	held := postMedia(t, srv.URL, `{"mime_type":"application/pdf","filename":"held.pdf","content_base64":"JVBERi0xLjQK"}`)
	tests := []struct {
		name string
		req  string
		// wantMedia is the message's media object; "$id" and "$sha" stand
		// for the served object's id and base64 sha256.
		wantMedia string
		wantSize  int64 // of the object InboundResult names; 0: none
	}{
		{"image generated at a size", `{"type":"image","caption":"c","media":{"mime_type":"image/jpeg","size":200000}}`,
			`{"caption":"c","id":"$id","mime_type":"image/jpeg","sha256":"$sha"}`, 200000},
		{"document with content", `{"type":"document","media":{"mime_type":"text/plain","filename":"a b.txt","content_base64":"aGVsbG8="}}`,
			`{"filename":"a b.txt","id":"$id","mime_type":"text/plain","sha256":"$sha"}`, 5},
		{"voice note", `{"type":"audio","voice":true,"media":{"mime_type":"audio/ogg","size":1000}}`,
			`{"id":"$id","mime_type":"audio/ogg","sha256":"$sha","voice":true}`, 1000},
		{"sticker", `{"type":"sticker","media":{"mime_type":"image/webp","size":3000}}`,
			`{"id":"$id","mime_type":"image/webp","sha256":"$sha"}`, 3000},
		{"video", `{"type":"video","media":{"mime_type":"video/mp4","size":5000,"seed":7}}`,
			`{"id":"$id","mime_type":"video/mp4","sha256":"$sha"}`, 5000},
		{"held media by id", `{"type":"document","media_id":"` + held.ID + `"}`,
			`{"filename":"held.pdf","id":"$id","mime_type":"application/pdf","sha256":"$sha"}`, held.Size},
		{"held media by id, fields given win", `{"type":"document","media_id":"` + held.ID + `","mime_type":"application/x-pdf","filename":"x.pdf"}`,
			`{"filename":"x.pdf","id":"$id","mime_type":"application/x-pdf","sha256":"$sha"}`, held.Size},
		{"unknown media id is sent as is", `{"type":"image","media_id":"404404","mime_type":"image/png"}`,
			`{"id":"404404","mime_type":"image/png"}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/_sim/inbound", "application/json", strings.NewReader(tt.req))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var res InboundResult
			if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != 200 {
				t.Fatalf("status %d, %v, %q", resp.StatusCode, err, res.Error)
			}
			want := tt.wantMedia
			if tt.wantSize == 0 {
				if res.Media != nil {
					t.Errorf("result names media %+v, want none", res.Media)
				}
			} else {
				if res.Media == nil {
					t.Fatal("result names no media")
				}
				if res.Media.Size != tt.wantSize {
					t.Errorf("media size = %d, want %d", res.Media.Size, tt.wantSize)
				}
				// The webhook's sha256 is the served bytes' digest.
				if sum := sha256.Sum256(downloadMedia(t, srv.URL, res.Media.ID)); base64.StdEncoding.EncodeToString(sum[:]) != res.Media.SHA256Base64 {
					t.Errorf("served bytes hash to %x, object says %s", sum, res.Media.SHA256Base64)
				}
				want = strings.NewReplacer("$id", res.Media.ID, "$sha", res.Media.SHA256Base64).Replace(want)
			}
			hook.mu.Lock()
			last := hook.bodies[len(hook.bodies)-1]
			hook.mu.Unlock()
			units, err := whatsapp.Split(last)
			if err != nil || len(units) != 1 {
				t.Fatalf("Split = %d units, %v", len(units), err)
			}
			var msg map[string]json.RawMessage
			_ = json.Unmarshal(units[0].Item, &msg)
			var typ string
			_ = json.Unmarshal(msg["type"], &typ)
			if got := string(msg[typ]); got != want {
				t.Errorf("message %s object = %s, want %s", typ, got, want)
			}
		})
	}
}

// downloadMedia fetches a media's bytes the way the media function does:
// GET /{media-id} for the URL, then the URL, both with the number's token.
func downloadMedia(t *testing.T, base, id string) []byte {
	t.Helper()
	get := func(url string) []byte {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d %v: %s", url, resp.StatusCode, err, b)
		}
		return b
	}
	var info struct{ URL string }
	if err := json.Unmarshal(get(base+"/v23.0/"+id), &info); err != nil || info.URL == "" {
		t.Fatalf("media info: %v %q", err, info.URL)
	}
	return get(info.URL)
}

func postMedia(t *testing.T, base, spec string) MediaObject {
	t.Helper()
	resp, err := http.Post(base+"/_sim/media", "application/json", strings.NewReader(spec))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var o MediaObject
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /_sim/media = %d, %v", resp.StatusCode, err)
	}
	return o
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
