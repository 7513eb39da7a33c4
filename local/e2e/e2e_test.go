// Package e2e tests the whole connector over HTTP, as a user of `make local`
// would use it: signed webhooks in through the API Gateway front, normalized
// events out at the core sink.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/coresink"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/event/eventtest"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// The reference payload's own number and WABA, rewritten to the demo
// tenant's so that the payload belongs to a registered number.
const (
	refPhoneNumberID = "106540352242922"
	refWABAID        = "419561257915477"
	refWAMID         = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
	refFrom          = "16505551234"
)

var acme = connector.Tenant{ID: "acme", PhoneNumberID: "100000000000002", WABAID: "200000000000002", OwnApp: true,
	AppSecret: "acme-app-secret", VerifyToken: "acme-verify-token", AccessToken: "acme-access-token"}

// The embedded AWS emulator keeps its state per process (kumo's services
// are process-wide), so every test of this package shares one connector
// and keeps to its own contacts and message ids.
var (
	shared     *connector.Handle
	sharedErr  error
	sharedOnce sync.Once
	logPath    string
	contactSeq atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	if code == 0 && logPath != "" {
		if leaks := personalDataInLogs(logPath); len(leaks) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: personal data in the functions' logs (every test's contacts and texts are checked):\n%s\n", strings.Join(leaks, "\n"))
			code = 1
		}
	}
	if logPath != "" {
		os.Remove(logPath)
	}
	os.Exit(code)
}

// requireWired fails the test unless every named function is wired into
// the local connector: a suite that skipped an unwired function would pass
// while testing nothing.
func requireWired(t testing.TB, wired map[string]connector.Setup, names ...string) {
	t.Helper()
	var missing []string
	for _, f := range names {
		if _, ok := wired[f]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("not wired into the local connector (local/connector/functions.go): %s", strings.Join(missing, ", "))
	}
}

func start(t *testing.T) *connector.Handle {
	t.Helper()
	requireWired(t, connector.Functions, "WebhookFunction", "InboundFunction", "BridgeFunction")
	sharedOnce.Do(func() {
		f, err := os.CreateTemp("", "wacloud-e2e-*.log")
		if err != nil {
			sharedErr = err
			return
		}
		logPath = f.Name()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shared, sharedErr = connector.Start(ctx, connector.Options{
			AWSAddr: "-", APIAddr: "127.0.0.1:0", GraphAddr: "127.0.0.1:0", SinkAddr: "127.0.0.1:0",
			Tenants: []connector.Tenant{acme, tierco}, Log: f,
		})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	// Every function of the template runs: one left out would leave its
	// queue unread and the tests that need it waiting, not failing.
	if len(shared.Unwired) > 0 {
		t.Fatalf("template functions not wired into the local connector: %s", strings.Join(shared.Unwired, ", "))
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpTail(t, logPath, 80)
		}
	})
	return shared
}

// newContact returns a wa_id no other test uses.
func newContact() string {
	c := fmt.Sprintf("1650555%04d", contactSeq.Add(1))
	personal(c)
	return c
}

// personalValues are the contacts' numbers and the texts the tests sent:
// none may appear in a log line of any function (see TestMain).
var (
	personalMu     sync.Mutex
	personalValues []string
)

func personal(v string) {
	if len(v) < 10 || !strings.ContainsAny(v, " 0123456789") {
		return // "hi" is in "this", "marker" in a job id: too short or plain to tell a leak
	}
	personalMu.Lock()
	personalValues = append(personalValues, v)
	personalMu.Unlock()
}

// personalDataInLogs returns the log lines of path holding a personal
// value, each with the value.
func personalDataInLogs(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return []string{err.Error()}
	}
	personalMu.Lock()
	defer personalMu.Unlock()
	var leaks []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, v := range personalValues {
			if strings.Contains(line, v) {
				leaks = append(leaks, fmt.Sprintf("%q in %s", v, line))
				break
			}
		}
		if len(leaks) == 20 {
			break
		}
	}
	return leaks
}

func dumpTail(t *testing.T, path string, n int) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	t.Logf("last connector log lines:\n%s", strings.Join(lines[max(0, len(lines)-n):], "\n"))
}

// referencePayload is text.json addressed to the demo number, sent by
// contact from, with message id wamid.
func referencePayload(t *testing.T, from, wamid string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/text.json")
	if err != nil {
		t.Fatal(err)
	}
	for old, new := range map[string]string{refPhoneNumberID: connector.DemoPhoneNumberID, refWABAID: connector.DemoWABAID, refFrom: from, refWAMID: wamid} {
		if !bytes.Contains(b, []byte(old)) {
			t.Fatalf("testdata/text.json no longer contains %s", old)
		}
		b = bytes.ReplaceAll(b, []byte(old), []byte(new))
	}
	return b
}

// newWAMID returns a message id unique to this run.
func newWAMID() string {
	return "wamid.HBgLE2E" + strings.TrimPrefix(graphsim.NewWAMID(), "wamid.")
}

func postWebhook(t *testing.T, url string, body []byte, signature string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set(whatsapp.SignatureHeader, signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

type sinkEvent struct {
	EventID       string `json:"event_id"`
	Type          string `json:"type"`
	TenantID      string `json:"tenant_id"`
	PhoneNumberID string `json:"phone_number_id"`
	Message       struct {
		ID   string `json:"id"`
		Text struct {
			Body string `json:"body"`
		} `json:"text"`
	} `json:"message"`
}

func sinkEvents(t *testing.T, h *connector.Handle, query string) []sinkEvent {
	t.Helper()
	resp, err := http.Get(h.SinkURL + "/events" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var evs []sinkEvent
	if err := json.NewDecoder(resp.Body).Decode(&evs); err != nil {
		t.Fatalf("GET /events: %v", err)
	}
	return evs
}

// withMessage returns the events carrying wamid.
func withMessage(evs []sinkEvent, wamid string) []sinkEvent {
	var out []sinkEvent
	for _, e := range evs {
		if e.Message.ID == wamid {
			out = append(out, e)
		}
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// simInbound makes a simulated user send text to the demo number; it
// returns the wamid.
func simInbound(t *testing.T, h *connector.Handle, from, text string) string {
	t.Helper()
	return simInboundTo(t, h, connector.DemoPhoneNumberID, from, text)
}

func simInboundTo(t *testing.T, h *connector.Handle, phoneNumberID, from, text string) string {
	t.Helper()
	personal(text)
	return simInboundRaw(t, h, map[string]any{"phone_number_id": phoneNumberID, "from": from, "name": "Ana", "type": "text", "text": text})
}

// awaitMarker sends a message from the same contact as an earlier post and
// waits for it at the sink. Events of one contact reach the core in order,
// so once the marker is there, anything posted before it that was going to
// arrive has arrived.
func awaitMarker(t *testing.T, h *connector.Handle, from string) {
	t.Helper()
	marker := simInbound(t, h, from, "marker")
	eventually(t, "the marker event", time.Minute, func() bool { return len(withMessage(sinkEvents(t, h, ""), marker)) == 1 })
}

// checkContract validates every event the sink has received against the
// published event schema.
func checkContract(t *testing.T, h *connector.Handle) {
	t.Helper()
	resp, err := http.Get(h.SinkURL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raws []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raws); err != nil {
		t.Fatal(err)
	}
	for _, raw := range raws {
		if err := eventtest.Check(raw); err != nil {
			t.Errorf("event does not match the contract: %v\n%s", err, raw)
		}
	}
}

func TestVerification(t *testing.T) {
	h := start(t)
	tests := []struct {
		name, path, token string
		wantCode          int
		wantBody          string
	}{
		{"platform app", "/webhook", connector.PlatformVerify, 200, "1158201444"},
		{"platform app wrong token", "/webhook", "nope", 403, ""},
		{"own-app tenant", "/webhook/acme", acme.VerifyToken, 200, "1158201444"},
		{"own-app tenant with the platform token", "/webhook/acme", connector.PlatformVerify, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(h.APIURL + tt.path + "?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=" + tt.token)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantCode)
			}
			if tt.wantCode == 200 {
				if string(b) != tt.wantBody || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
					t.Errorf("body %q content type %q, want %q text/plain", b, resp.Header.Get("Content-Type"), tt.wantBody)
				}
			}
		})
	}
}

func TestSignedReferencePayloadReachesCore(t *testing.T) {
	h := start(t)
	wamid := newWAMID()
	body := referencePayload(t, newContact(), wamid)
	if got := postWebhook(t, h.APIURL+"/webhook", body, whatsapp.Sign(connector.PlatformAppSecret, body)); got != 200 {
		t.Fatalf("POST /webhook = %d, want 200", got)
	}
	var evs []sinkEvent
	eventually(t, "the event at the core sink", time.Minute, func() bool {
		evs = withMessage(sinkEvents(t, h, "?tenant_id=demo"), wamid)
		return len(evs) > 0
	})
	e := evs[0]
	if e.TenantID != "demo" || e.PhoneNumberID != connector.DemoPhoneNumberID || e.Type != "message.received" || e.EventID == "" {
		t.Errorf("event = %+v, want a message.received of tenant demo on %s", e, connector.DemoPhoneNumberID)
	}
	if got, want := e.Message.Text.Body, "Does it come in another color?"; got != want {
		t.Errorf("message.text.body = %q, want %q", got, want)
	}
	checkContract(t, h)
}

// A tenant with its own Meta app gets its webhooks on /webhook/{tenant_id},
// signed with its own secret, and its events carry its tenant id.
func TestOwnAppTenantReachesCore(t *testing.T) {
	h := start(t)
	wamid := simInboundTo(t, h, acme.PhoneNumberID, newContact(), "hello acme")
	var evs []sinkEvent
	eventually(t, "the acme event at the core sink", time.Minute, func() bool {
		evs = withMessage(sinkEvents(t, h, "?tenant_id=acme"), wamid)
		return len(evs) > 0
	})
	if got := evs[0]; got.PhoneNumberID != acme.PhoneNumberID || got.Message.Text.Body != "hello acme" {
		t.Errorf("event = %+v", got)
	}
	if got := withMessage(sinkEvents(t, h, "?tenant_id=demo"), wamid); len(got) != 0 {
		t.Errorf("acme's message also reached the core as tenant demo: %+v", got)
	}
	// The platform app's secret does not open the tenant's route.
	body := referencePayload(t, newContact(), newWAMID())
	if got := postWebhook(t, h.APIURL+"/webhook/acme", body, whatsapp.Sign(connector.PlatformAppSecret, body)); got != 401 {
		t.Errorf("POST /webhook/acme signed with the platform secret = %d, want 401", got)
	}
	checkContract(t, h)
}

func TestBadSignatureIsRejectedAndNothingArrives(t *testing.T) {
	h := start(t)
	from, wamid := newContact(), newWAMID()
	body := referencePayload(t, from, wamid)
	tests := []struct{ name, signature string }{
		{"wrong secret", whatsapp.Sign("not-the-app-secret", body)},
		{"missing", ""},
		{"malformed", "sha256=zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := postWebhook(t, h.APIURL+"/webhook", body, tt.signature); got != 401 {
				t.Errorf("POST /webhook = %d, want 401", got)
			}
		})
	}
	awaitMarker(t, h, from)
	if got := withMessage(sinkEvents(t, h, ""), wamid); len(got) != 0 {
		t.Errorf("%d events arrived for a payload with a bad signature", len(got))
	}
}

func TestConcurrentRetriesArriveOnce(t *testing.T) {
	h := start(t)
	from, wamid := newContact(), newWAMID()
	body := referencePayload(t, from, wamid)
	sig := whatsapp.Sign(connector.PlatformAppSecret, body)
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = postWebhook(t, h.APIURL+"/webhook", body, sig)
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("post %d = %d, want 200", i+1, c)
		}
	}
	eventually(t, "the event at the core sink", time.Minute, func() bool { return len(withMessage(sinkEvents(t, h, ""), wamid)) > 0 })
	awaitMarker(t, h, from)
	if got := withMessage(sinkEvents(t, h, ""), wamid); len(got) != 1 {
		t.Errorf("the same payload posted 3 times gave %d events, want 1", len(got))
	}
}

func TestSimulatedUserMessageReachesCore(t *testing.T) {
	h := start(t)
	wamid := simInbound(t, h, newContact(), "olá from the simulator")
	var evs []sinkEvent
	eventually(t, "the event at the core sink", time.Minute, func() bool {
		evs = withMessage(sinkEvents(t, h, "?type=message.received"), wamid)
		return len(evs) > 0
	})
	if got := evs[0]; got.TenantID != "demo" || got.Message.Text.Body != "olá from the simulator" {
		t.Errorf("event = %+v", got)
	}
	checkContract(t, h)
}

func TestCoreOutageLosesNothing(t *testing.T) {
	h := start(t)
	before := sinkStats(t, h)
	resp, err := http.Post(h.SinkURL+"/_sink/fail", "application/json", strings.NewReader(`{"status":503,"count":2}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wamid := simInbound(t, h, newContact(), "sent while the core is down")
	// The bridge backs off 5 s, then 10 s: allow well beyond that.
	eventually(t, "the event after the core recovers", 2*time.Minute, func() bool { return len(withMessage(sinkEvents(t, h, ""), wamid)) == 1 })
	after := sinkStats(t, h)
	if got := after.InjectedFailures - before.InjectedFailures; got != 2 {
		t.Errorf("the sink failed %d pushes, want 2", got)
	}
	if after.PendingFailures != 0 {
		t.Errorf("%d simulated failures still pending", after.PendingFailures)
	}
}

func sinkStats(t *testing.T, h *connector.Handle) coresink.Stats {
	t.Helper()
	r, err := http.Get(h.SinkURL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var st coresink.Stats
	if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestEmbeddedAWSServesTheCLI(t *testing.T) {
	aws, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not installed")
	}
	h := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, aws, "--endpoint-url", h.AWSURL, "--region", "us-east-1", "--output", "json", "sqs", "list-queues")
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws sqs list-queues: %v\n%s", err, out)
	}
	for _, q := range []string{"InboundQueue.fifo", "InboundDLQ.fifo", "CoreEventsQueue.fifo", "MediaQueue", "StatusDLQ"} {
		if !strings.Contains(string(out), "/"+q+`"`) {
			t.Errorf("list-queues output lacks %s:\n%s", q, out)
		}
	}
}

// Messages of one contact reach the core in the order the webhook received
// them, through every queue and poller.
func TestContactOrderIsKept(t *testing.T) {
	h := start(t)
	contacts := []string{newContact(), newContact()}
	const perContact = 12
	sent := map[string][]string{}
	for i := range perContact {
		for _, c := range contacts {
			sent[c] = append(sent[c], simInbound(t, h, c, fmt.Sprintf("message %d", i)))
		}
	}
	got := map[string][]string{}
	eventually(t, "every message at the core sink", time.Minute, func() bool {
		got = map[string][]string{}
		for _, e := range sinkEvents(t, h, "?type=message.received") {
			for _, c := range contacts {
				for _, w := range sent[c] {
					if e.Message.ID == w {
						got[c] = append(got[c], w)
					}
				}
			}
		}
		return len(got[contacts[0]])+len(got[contacts[1]]) == 2*perContact
	})
	for _, c := range contacts {
		if fmt.Sprint(got[c]) != fmt.Sprint(sent[c]) {
			t.Errorf("contact %s: events arrived in order %v, sent %v", c, got[c], sent[c])
		}
	}
}
