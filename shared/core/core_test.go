package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/shared/core"
	"github.com/tucanlink/wacloud/shared/fault"
)

// secrets is an in-memory Secrets Manager holding one secret, counting reads.
type secrets struct {
	mu    sync.Mutex
	value string
	reads int
}

func (s *secrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(s.value)}, nil
}

func (s *secrets) set(v string) { s.mu.Lock(); s.value = v; s.mu.Unlock() }

func (s *secrets) count() int { s.mu.Lock(); defer s.mu.Unlock(); return s.reads }

const (
	bearer  = "static-bearer-token-123"
	signing = "signing-secret-456"
)

type received struct {
	header http.Header
	body   []byte
}

func TestPushClassification(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		wantErr    bool
		class      fault.Class
		retryAfter time.Duration
	}{
		{"200", 200, nil, `{"ok":true}`, false, 0, 0},
		{"202", 202, nil, ``, false, 0, 0},
		{"409 already have it", 409, nil, `duplicate`, false, 0, 0},
		{"500", 500, nil, `boom`, true, fault.Retry, 0},
		{"503 with Retry-After", 503, map[string]string{"Retry-After": "120"}, ``, true, fault.Retry, 2 * time.Minute},
		{"429", 429, map[string]string{"Retry-After": "7"}, `slow down`, true, fault.Retry, 7 * time.Second},
		{"401", 401, nil, `bad token`, true, fault.Retry, 0},
		{"403", 403, nil, ``, true, fault.Retry, 0},
		{"400", 400, nil, `{"error":"schema_version unsupported"}`, true, fault.Permanent, 0},
		{"422", 422, nil, `no`, true, fault.Permanent, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			sm := &secrets{value: fmt.Sprintf(`{"bearer_token":%q,"signing_secret":%q}`, bearer, signing)}
			c := &core.Client{URL: srv.URL + "/wacloud/v1/events", Secrets: sm, SecretID: "core"}
			err := c.Push(context.Background(), "evt_1", "message.received", []byte(`{"event_id":"evt_1"}`))
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			if got, want := fault.ClassOf(err), tt.class; got != want {
				t.Errorf("class = %v, want %v (%v)", got, want, err)
			}
			if got, want := fault.CodeOf(err), fmt.Sprintf("http_%d", tt.status); got != want {
				t.Errorf("code = %q, want %q", got, want)
			}
			var ra interface{ RetryAfter() time.Duration }
			if !errors.As(err, &ra) {
				t.Fatalf("error %v carries no RetryAfter", err)
			}
			if got, want := ra.RetryAfter(), tt.retryAfter; got != want {
				t.Errorf("RetryAfter = %v, want %v", got, want)
			}
			if tt.class == fault.Permanent && tt.body != "" && !strings.Contains(err.Error(), tt.body) {
				t.Errorf("permanent error %q lacks the body excerpt", err)
			}
			if strings.Contains(err.Error(), bearer) || strings.Contains(err.Error(), signing) {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestPushTimeoutAndTransportErrors(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	sm := &secrets{value: fmt.Sprintf(`{"bearer_token":%q,"signing_secret":%q}`, bearer, signing)}
	for _, tt := range []struct{ name, url string }{{"timeout", slow.URL}, {"connection refused", closedURL}} {
		t.Run(tt.name, func(t *testing.T) {
			c := &core.Client{URL: tt.url, Secrets: sm, SecretID: "core", HTTP: &http.Client{Timeout: 100 * time.Millisecond}}
			err := c.Push(context.Background(), "evt_1", "message.received", []byte(`{}`))
			if err == nil || fault.ClassOf(err) != fault.Retry {
				t.Fatalf("err = %v, want a Retry error", err)
			}
		})
	}
}

// A redirect is not the core taking the event: following it would turn the
// POST into a GET without the body, and a 200 to that GET would count the
// event as delivered.
func TestPushRedirectIsNotDelivery(t *testing.T) {
	var posts atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new", http.StatusFound)
	})
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	sm := &secrets{value: fmt.Sprintf(`{"bearer_token":%q,"signing_secret":%q}`, bearer, signing)}
	c := &core.Client{URL: srv.URL + "/old", Secrets: sm, SecretID: "core"}
	err := c.Push(context.Background(), "evt_1", "message.received", []byte(`{"event_id":"evt_1"}`))
	if err == nil && posts.Load() == 0 {
		t.Fatal("push reported delivered, but the core never received the event")
	}
	// Like 401/403, a misconfigured CORE_URL: retried, not dead-lettered.
	if err == nil || fault.ClassOf(err) != fault.Retry || !strings.Contains(err.Error(), "302") {
		t.Errorf("err = %v, want a Retry error naming the 302", err)
	}
}

func TestPushHeadersAndSignature(t *testing.T) {
	var got []received
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{r.Header.Clone(), b})
		mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/wacloud/v1/events" {
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	sm := &secrets{value: fmt.Sprintf(`{"bearer_token":%q,"signing_secret":%q}`, bearer, signing)}
	c := &core.Client{URL: srv.URL + "/wacloud/v1/events", Secrets: sm, SecretID: "core"}
	body := []byte(`{"schema_version":"1.0","event_id":"evt_abc","type":"message.received","text":"caf\u00e9 \/ ol\u00e1"}`)
	for i := 0; i < 3; i++ {
		if err := c.Push(context.Background(), "evt_abc", "message.received", body); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 3 {
		t.Fatalf("requests = %d", len(got))
	}
	r := got[0]
	for k, want := range map[string]string{
		"Content-Type":         "application/json",
		"Authorization":        "Bearer " + bearer,
		"Idempotency-Key":      "evt_abc",
		"X-Wacloud-Event-Type": "message.received",
	} {
		if g := r.header.Get(k); g != want {
			t.Errorf("%s = %q, want %q", k, g, want)
		}
	}
	if string(r.body) != string(body) {
		t.Errorf("body changed in transit: %s", r.body)
	}
	sig := r.header.Get(core.SignatureHeader)
	if !core.VerifySignature(signing, r.body, sig) {
		t.Errorf("signature %q does not verify", sig)
	}
	if core.VerifySignature("other", r.body, sig) || core.VerifySignature(signing, append(r.body, ' '), sig) {
		t.Errorf("signature verifies under the wrong secret or body")
	}
	if got, want := sm.count(), 1; got != want {
		t.Errorf("secret reads = %d for 3 pushes, want %d", got, want)
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"a":1}`)
	good := core.Sign("s", body)
	tests := []struct {
		name, secret, header string
		want                 bool
	}{
		{"good", "s", good, true},
		{"spaces", "s", " " + good + " ", true},
		{"wrong secret", "t", good, false},
		{"empty secret", "", core.Sign("", body), false},
		{"no prefix", "s", strings.TrimPrefix(good, "sha256="), false},
		{"short", "s", good[:20], false},
		{"not hex", "s", "sha256=" + strings.Repeat("z", 64), false},
		{"empty", "s", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := core.VerifySignature(tt.secret, body, tt.header); got != tt.want {
				t.Errorf("VerifySignature(%q, %q) = %v, want %v", tt.secret, tt.header, got, tt.want)
			}
		})
	}
}

// A 401 drops the cached credentials: the next push reads the (rotated)
// secret again and succeeds with the new token.
func TestPushRereadsSecretAfter401(t *testing.T) {
	var current atomic.Value
	current.Store("old-token")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer new-token" {
			w.WriteHeader(401)
		}
	}))
	defer srv.Close()
	sm := &secrets{value: `{"bearer_token":"old-token","signing_secret":"s"}`}
	c := &core.Client{URL: srv.URL, Secrets: sm, SecretID: "core"}
	err := c.Push(context.Background(), "evt_1", "t", []byte(`{}`))
	if fault.ClassOf(err) != fault.Retry {
		t.Fatalf("err = %v, want Retry", err)
	}
	sm.set(`{"bearer_token":"new-token","signing_secret":"s"}`)
	if err := c.Push(context.Background(), "evt_1", "t", []byte(`{}`)); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if got, want := sm.count(), 2; got != want {
		t.Errorf("secret reads = %d, want %d", got, want)
	}
}

// Warm reads the credentials once, ahead of the first push, which then
// uses them; a secret that cannot be read is left for the push to report.
func TestWarm(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	tests := []struct {
		name      string
		secret    string
		wantReads int
		wantErr   bool
	}{
		{"readable secret", `{"bearer_token":"t","signing_secret":"s"}`, 1, false},
		{"unreadable secret", `not json`, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm := &secrets{value: tt.secret}
			c := &core.Client{URL: srv.URL, Secrets: sm, SecretID: "core"}
			c.Warm(context.Background())
			if got := sm.count(); got != 1 {
				t.Fatalf("secret reads after Warm = %d, want 1", got)
			}
			err := c.Push(context.Background(), "evt_1", "t", []byte(`{}`))
			if (err != nil) != tt.wantErr {
				t.Errorf("push after Warm: %v, want error %t", err, tt.wantErr)
			}
			if got := sm.count(); got != tt.wantReads {
				t.Errorf("secret reads = %d, want %d", got, tt.wantReads)
			}
		})
	}
}

func TestPushOAuth2ClientCredentials(t *testing.T) {
	var tokenCalls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		tokenCalls.Add(1)
		_ = r.ParseForm()
		id, secret, _ := r.BasicAuth()
		if id == "" {
			id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
		}
		if id != "wacloud" || secret != "client-secret-789" || r.Form.Get("grant_type") != "client_credentials" {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "oauth-token", "token_type": "Bearer", "expires_in": 3600})
	})
	var auths []string
	mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		auths = append(auths, r.Header.Get("Authorization"))
	})
	// A core that refuses the token and quotes it back.
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, "token rejected: "+r.Header.Get("Authorization"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	sm := &secrets{value: fmt.Sprintf(`{"client_id":"wacloud","client_secret":"client-secret-789","token_url":%q,"signing_secret":"s"}`, srv.URL+"/token")}
	c := &core.Client{URL: srv.URL + "/events", Secrets: sm, SecretID: "core"}
	for i := 0; i < 2; i++ {
		if err := c.Push(context.Background(), "evt_1", "t", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if len(auths) != 2 || auths[0] != "Bearer oauth-token" {
		t.Errorf("Authorization = %v, want the OAuth2 token", auths)
	}
	if got := tokenCalls.Load(); got != 1 {
		t.Errorf("token requests = %d, want 1 (cached)", got)
	}

	t.Run("core quotes the token back", func(t *testing.T) {
		c := &core.Client{URL: srv.URL + "/echo", Secrets: sm, SecretID: "core"}
		err := c.Push(context.Background(), "evt_1", "t", []byte(`{}`))
		if err == nil || strings.Contains(err.Error(), "oauth-token") {
			t.Errorf("err = %v, want an error without the access token", err)
		}
	})

	t.Run("rejected client", func(t *testing.T) {
		sm := &secrets{value: fmt.Sprintf(`{"client_id":"wacloud","client_secret":"wrong-secret-000","token_url":%q,"signing_secret":"s"}`, srv.URL+"/token")}
		c := &core.Client{URL: srv.URL + "/events", Secrets: sm, SecretID: "core"}
		err := c.Push(context.Background(), "evt_1", "t", []byte(`{}`))
		if fault.ClassOf(err) != fault.Retry || strings.Contains(err.Error(), "wrong-secret-000") {
			t.Errorf("err = %v, want Retry without the secret", err)
		}
	})
}

func TestBadSecret(t *testing.T) {
	for _, v := range []string{`not json {"bearer_token":"leak-me"`, `{"bearer_token":"leak-me"}`, `{}`,
		// Strict: a key in another case, a key given twice, an unknown key.
		`{"Bearer_Token":"leak-me","signing_secret":"s"}`,
		`{"bearer_token":"leak-me","signing_secret":"s","signing_secret":"t"}`,
		`{"bearer_token":"leak-me","signing_secret":"s","Signing_Secret":"t"}`,
		`{"bearer_token":"leak-me","signing_secret":"s","bearer":"x"}`,
	} {
		c := &core.Client{URL: "http://127.0.0.1:1", Secrets: &secrets{value: v}, SecretID: "core"}
		err := c.Push(context.Background(), "evt_1", "t", []byte(`{}`))
		if err == nil || fault.ClassOf(err) != fault.Retry {
			t.Errorf("secret %q: err = %v, want Retry", v, err)
		}
		if err != nil && strings.Contains(err.Error(), "leak-me") {
			t.Errorf("error leaks the secret: %v", err)
		}
	}
}

func TestCredentialsRedacted(t *testing.T) {
	c := core.Credentials{BearerToken: "tok-SECRET", ClientSecret: "cs-SECRET", SigningSecret: "sig-SECRET"}
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("creds", "c", c, "p", &c)
	out := fmt.Sprintf("%v %+v %#v %s %q %x %d", c, c, c, c, c, c, c) + fmt.Sprint(&c) + logs.String()
	if strings.Contains(out, "SECRET") {
		t.Errorf("credentials printed: %s", out)
	}
}

// core.Warm warms what can be warmed, through any wrapper that passes
// Warm on, and leaves the rest alone, nil included.
func TestWarmAnyCore(t *testing.T) {
	type wrapper struct{ *core.Client } // passes Warm on, as the handlers' wrappers do
	type plain struct{}                 // cannot warm
	tests := []struct {
		name      string
		p         func(*core.Client) any
		wantReads int
	}{
		{"nil", func(*core.Client) any { return nil }, 0},
		{"something that cannot warm", func(*core.Client) any { return plain{} }, 0},
		{"a client", func(c *core.Client) any { return c }, 1},
		{"a wrapper of a client", func(c *core.Client) any { return wrapper{c} }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm := &secrets{value: `{"bearer_token":"t","signing_secret":"s"}`}
			c := &core.Client{URL: "http://127.0.0.1:1", Secrets: sm, SecretID: "core"}
			core.Warm(context.Background(), tt.p(c))
			if got := sm.count(); got != tt.wantReads {
				t.Errorf("secret reads = %d, want %d", got, tt.wantReads)
			}
		})
	}
}
