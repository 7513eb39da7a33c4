package coresink

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/shared/core"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/queue"
)

type coreSecret struct{}

func (coreSecret) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(`{"signing_secret":"` + secret + `","bearer_token":"` + token + `"}`)}, nil
}

// TestFaults pushes one event through the bridge's own core client while
// the sink suffers each fault, then once more with the fault spent: the
// first push fails as Retry (with the core's Retry-After when it gave
// one), the event is at the sink exactly once, and a push the core had
// accepted comes back as a duplicate.
func TestFaults(t *testing.T) {
	tests := []struct {
		name           string
		fault          Fault
		wantRetryAfter time.Duration
		acceptedFirst  bool // the faulty push was recorded anyway
		wantStat       func(Stats) int
	}{
		{"drop after accepting", Fault{Mode: FaultDrop, Count: 1}, 0, true, func(s Stats) int { return s.InjectedDrops }},
		{"slower than the client's timeout", Fault{Mode: FaultSlow, Count: 1, DelayMS: 3000}, 0, true, func(s Stats) int { return s.InjectedSlow }},
		{"429 with Retry-After", Fault{Mode: FaultStatus, Count: 1, Status: 429, RetryAfterS: 30}, 30 * time.Second, false, func(s Stats) int { return s.InjectedFailures }},
		{"503 with Retry-After", Fault{Mode: FaultStatus, Count: 1, Status: 503, RetryAfterS: 7}, 7 * time.Second, false, func(s Stats) int { return s.InjectedFailures }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := New(Config{BearerToken: token, SigningSecret: secret})
			srv := httptest.NewServer(sink)
			defer srv.Close()
			c := &core.Client{URL: srv.URL + "/wacloud/v1/events", Secrets: coreSecret{}, SecretID: "core",
				HTTP: &http.Client{Timeout: 300 * time.Millisecond}}
			if err := sink.SetFault(tt.fault); err != nil {
				t.Fatal(err)
			}
			body := []byte(`{"event_id":"e1","type":"message.received","tenant_id":"demo"}`)
			err := c.Push(context.Background(), "e1", "message.received", body)
			if err == nil || fault.ClassOf(err) != fault.Retry {
				t.Fatalf("faulty push: err = %v, want a Retry error", err)
			}
			var ra queue.RetryAfter
			got := time.Duration(0)
			if errors.As(err, &ra) {
				got = ra.RetryAfter()
			}
			if got != tt.wantRetryAfter {
				t.Errorf("Retry-After = %s, want %s", got, tt.wantRetryAfter)
			}
			if n := len(sink.Events()); (n == 1) != tt.acceptedFirst {
				t.Errorf("events after the faulty push = %d, want accepted=%v", n, tt.acceptedFirst)
			}
			if err := c.Push(context.Background(), "e1", "message.received", body); err != nil {
				t.Fatalf("push after the fault: %v", err)
			}
			st := sink.Stats()
			if n := len(sink.Events()); n != 1 {
				t.Errorf("events = %d, want exactly 1", n)
			}
			wantDup := 0
			if tt.acceptedFirst {
				wantDup = 1
			}
			if st.Duplicates != wantDup {
				t.Errorf("duplicates = %d, want %d", st.Duplicates, wantDup)
			}
			if n := tt.wantStat(st); n != 1 {
				t.Errorf("injected faults counted = %d, want 1", n)
			}
			if st.PendingFault != nil {
				t.Errorf("pending fault = %+v, want none once spent", st.PendingFault)
			}
		})
	}
}

func TestFaultSwitch(t *testing.T) {
	sink := New(Config{BearerToken: token, SigningSecret: secret})
	srv := httptest.NewServer(sink)
	defer srv.Close()
	tests := []struct {
		name, body string
		want       int
	}{
		{"drop", `{"mode":"drop","count":2}`, 200},
		{"slow", `{"mode":"slow","count":1,"delay_ms":15000}`, 200},
		{"status until switched off", `{"mode":"status","count":-1,"status":429,"retry_after_s":60}`, 200},
		{"off", `{"mode":"off"}`, 200},
		{"unknown mode", `{"mode":"explode","count":1}`, 400},
		{"slow without delay", `{"mode":"slow","count":1}`, 400},
		{"status 200", `{"mode":"status","count":1,"status":200}`, 400},
		{"no count", `{"mode":"drop"}`, 400},
		{"not JSON", `nope`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/_sink/fault", "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("POST /_sink/fault %s = %d, want %d", tt.body, resp.StatusCode, tt.want)
			}
		})
	}
	if st := sink.Stats(); st.PendingFault != nil {
		t.Errorf("after off: pending fault %+v", st.PendingFault)
	}
}

// A fault limited to one event type spares the pushes of other types: with
// several functions pushing at once, a test fails the one it means to.
func TestFaultByEventType(t *testing.T) {
	sink := New(Config{BearerToken: token, SigningSecret: secret})
	srv := httptest.NewServer(sink)
	defer srv.Close()
	c := &core.Client{URL: srv.URL + "/wacloud/v1/events", Secrets: coreSecret{}, SecretID: "core"}
	if err := sink.SetFault(Fault{Mode: FaultStatus, Count: 1, Status: 503, EventType: "outbound."}); err != nil {
		t.Fatal(err)
	}
	pushes := []struct {
		id, typ string
		wantErr bool
	}{
		{"s1", "message.status", false},
		{"r1", "message.received", false},
		{"o1", "outbound.accepted", true},
		{"o1", "outbound.accepted", false}, // the fault is spent
		{"o2", "outbound.failed", false},
	}
	for _, p := range pushes {
		body := []byte(`{"event_id":"` + p.id + `","type":"` + p.typ + `","tenant_id":"demo"}`)
		if err := c.Push(context.Background(), p.id, p.typ, body); (err != nil) != p.wantErr {
			t.Errorf("push %s (%s): err = %v, want error %v", p.id, p.typ, err, p.wantErr)
		}
	}
	if st := sink.Stats(); st.InjectedFailures != 1 || st.Accepted != 4 {
		t.Errorf("stats %+v, want 1 injected failure and 4 events accepted", st)
	}
}
