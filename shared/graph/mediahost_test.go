package graph

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tucanlink/wacloud/shared/fault"
)

// hostFarm is one TLS and one plain server standing in for every host name:
// the client's transport dials them whatever the URL's host, so tests can
// use real names (lookaside.fbsbx.com) and see which host each request
// named and whether it carried the token.
type hostFarm struct {
	mu    sync.Mutex
	seen  []string // "host auth" per request
	tls   *httptest.Server
	plain *httptest.Server
	// redirects maps "host/path" to the Location it answers with.
	redirects map[string]string
}

func newHostFarm(t *testing.T, redirects map[string]string) *hostFarm {
	t.Helper()
	f := &hostFarm{redirects: redirects}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seen = append(f.seen, r.Host+" "+r.Header.Get("Authorization"))
		f.mu.Unlock()
		if loc, ok := f.redirects[r.Host+r.URL.Path]; ok {
			http.Redirect(w, r, loc, http.StatusFound)
			return
		}
		io.WriteString(w, "bytes")
	})
	f.tls = httptest.NewTLSServer(h)
	f.plain = httptest.NewServer(h)
	t.Cleanup(f.tls.Close)
	t.Cleanup(f.plain.Close)
	return f
}

// client follows redirects like Go's default client; only dialling is
// redirected to the farm.
func (f *hostFarm) client() *http.Client {
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test servers
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			target := f.plain.Listener.Addr().String()
			if strings.HasSuffix(addr, ":443") {
				target = f.tls.Listener.Addr().String()
			}
			return (&net.Dialer{}).DialContext(ctx, network, target)
		},
	}
	return &http.Client{Transport: tr}
}

func (f *hostFarm) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

func TestDownloadSendsTokenOnlyToMetaMediaHosts(t *testing.T) {
	const token = "secret-token"
	const bearer = "Bearer " + token
	const lookaside = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1228169767822607&ext=16772107977&hash=ATs5BiSbLTZzCFh73M16stmnUK2UV6NBqChXB4WWC21sw"
	tests := []struct {
		name      string
		hosts     []string
		url       string
		redirects map[string]string
		wantOK    bool
		wantSeen  []string // requests the servers saw: "host authorization"
	}{
		{name: "Meta's lookaside URL (reference media_get_url.json)", url: lookaside, wantOK: true,
			wantSeen: []string{"lookaside.fbsbx.com " + bearer}},
		{name: "another https host", url: "https://attacker.example/m.jpg", wantSeen: nil},
		{name: "a look-alike domain", url: "https://lookaside.fbsbx.com.attacker.example/m.jpg", wantSeen: nil},
		{name: "a domain ending like Meta's", url: "https://evilfbsbx.com/m.jpg", wantSeen: nil},
		{name: "plain http to Meta's host", url: "http://lookaside.fbsbx.com/m.jpg", wantSeen: nil},
		{name: "Meta's host on another port", url: "https://lookaside.fbsbx.com:8443/m.jpg", wantSeen: nil},
		{name: "redirect to another host", url: "https://lookaside.fbsbx.com/r",
			redirects: map[string]string{"lookaside.fbsbx.com/r": "https://attacker.example/m.jpg"},
			wantSeen:  []string{"lookaside.fbsbx.com " + bearer}},
		// Go would keep the token here: same host name, so it copies
		// Authorization, over plain HTTP.
		{name: "redirect to plain http on the same host", url: "https://lookaside.fbsbx.com/r",
			redirects: map[string]string{"lookaside.fbsbx.com/r": "http://lookaside.fbsbx.com/m.jpg"},
			wantSeen:  []string{"lookaside.fbsbx.com " + bearer}},
		// Go would keep the token here too: a subdomain of the first host.
		{name: "redirect to a subdomain outside the list", hosts: []string{"lookaside.fbsbx.com"}, url: "https://lookaside.fbsbx.com/r",
			redirects: map[string]string{"lookaside.fbsbx.com/r": "https://x.lookaside.fbsbx.com.attacker.example/m.jpg"},
			wantSeen:  []string{"lookaside.fbsbx.com " + bearer}},
		{name: "redirect to Meta's CDN", url: "https://lookaside.fbsbx.com/r",
			redirects: map[string]string{"lookaside.fbsbx.com/r": "https://scontent.xx.fbcdn.net/v/t45/m.jpg"},
			wantOK:    true,
			// Followed; Go drops the token itself (fbcdn.net is not a
			// subdomain of the first host), and the CDN URL needs none.
			wantSeen: []string{"lookaside.fbsbx.com " + bearer, "scontent.xx.fbcdn.net "}},
		{name: "redirect within Meta's domain", url: "https://lookaside.fbsbx.com/r",
			redirects: map[string]string{"lookaside.fbsbx.com/r": "https://cdn.lookaside.fbsbx.com/m.jpg"},
			wantOK:    true, wantSeen: []string{"lookaside.fbsbx.com " + bearer, "cdn.lookaside.fbsbx.com " + bearer}},
		{name: "redirect loop", url: "https://lookaside.fbsbx.com/r",
			redirects: map[string]string{"lookaside.fbsbx.com/r": "https://lookaside.fbsbx.com/r"},
			wantSeen:  []string{"lookaside.fbsbx.com " + bearer, "lookaside.fbsbx.com " + bearer, "lookaside.fbsbx.com " + bearer, "lookaside.fbsbx.com " + bearer, "lookaside.fbsbx.com " + bearer, "lookaside.fbsbx.com " + bearer}},
		{name: "configured hosts replace the defaults", hosts: []string{"media.example"}, url: "https://media.example/m.jpg", wantOK: true,
			wantSeen: []string{"media.example " + bearer}},
		{name: "defaults not allowed once hosts are configured", hosts: []string{"media.example"}, url: lookaside, wantSeen: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newHostFarm(t, tt.redirects)
			c := &Client{BaseURL: "https://graph.facebook.com", HTTP: f.client(), MediaHosts: tt.hosts}
			body, _, err := c.Download(context.Background(), token, tt.url)
			if tt.wantOK {
				if err != nil {
					t.Fatalf("Download(%s): %v", tt.url, err)
				}
				b, _ := io.ReadAll(body)
				body.Close()
				if string(b) != "bytes" {
					t.Errorf("body = %q", b)
				}
			} else {
				if err == nil {
					body.Close()
					t.Fatalf("Download(%s) succeeded, want a refusal", tt.url)
				}
				if fault.ClassOf(err) != fault.Permanent {
					t.Errorf("error class = %v, want permanent: %v", fault.ClassOf(err), err)
				}
				if strings.Contains(err.Error(), token) {
					t.Errorf("error contains the token: %v", err)
				}
			}
			if got := f.requests(); strings.Join(got, "|") != strings.Join(tt.wantSeen, "|") {
				t.Errorf("requests seen = %q, want %q", got, tt.wantSeen)
			}
		})
	}
}

// The configured Graph host is allowed as it is (the local simulator serves
// media from its own plain-HTTP address), and only that host.
func TestDownloadFromGraphHost(t *testing.T) {
	f := newHostFarm(t, nil)
	c := &Client{BaseURL: "http://127.0.0.1:3001", HTTP: f.client()}
	body, _, err := c.Download(context.Background(), "tok", "http://127.0.0.1:3001/_media/download/1?sig=x")
	if err != nil {
		t.Fatal(err)
	}
	body.Close()
	if _, _, err := c.Download(context.Background(), "tok", "http://127.0.0.1:3002/_media/download/1"); err == nil {
		t.Error("another port of the Graph host was allowed")
	}
	if got, want := f.requests(), []string{"127.0.0.1:3001 Bearer tok"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("requests seen = %q, want %q", got, want)
	}
}
