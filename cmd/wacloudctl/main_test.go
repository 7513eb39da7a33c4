package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/delivery"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// kumo registers its services once per process, so every emulator of a test
// binary shares queues and tables: tests use their own ids and purge the
// queues they count.

// uniq returns prefix with a random suffix.
func uniq(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// uniqDigits returns a random 15-digit id (phone number and WABA ids).
func uniqDigits() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	n := uint64(0)
	for _, x := range b {
		n = n<<8 | uint64(x)
	}
	return strconv.FormatUint(100000000000000+n%800000000000000, 10)
}

func (e *env) purge(urls ...string) {
	e.t.Helper()
	c := sqs.NewFromConfig(e.emu.Config())
	for _, u := range urls {
		if _, err := c.PurgeQueue(e.ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(u)}); err != nil {
			e.t.Fatalf("purge %s: %v", u, err)
		}
	}
}

// env is the emulator provisioned from template.yaml, as make local has it.
type env struct {
	t   *testing.T
	emu *awsemu.Emulator
	st  *stack.Stack
	ctx context.Context
	// vars are extra environment variables; terminal makes stderr a
	// terminal (progress lines).
	vars     map[string]string
	terminal bool
}

func newEnv(t *testing.T) *env {
	t.Helper()
	emu := awsemu.StartTest(t)
	tmpl, err := stack.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := stack.Provision(context.Background(), emu.Config(), tmpl, stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, emu: emu, st: st, ctx: context.Background()}
}

// run runs wacloudctl in-process with stdin and the local endpoint.
func (e *env) run(stdin string, args ...string) (code int, stdout, stderr string) {
	e.t.Helper()
	var out, errb bytes.Buffer
	vars := map[string]string{"WACLOUD_ENDPOINT_URL": e.emu.URL}
	for k, v := range e.vars {
		vars[k] = v
	}
	m := Main{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return vars[k] }}
	if e.terminal {
		m.Terminal = func(io.Writer) bool { return true }
	}
	code = m.Run(e.ctx, args)
	return code, out.String(), errb.String()
}

func (e *env) mustRun(stdin string, args ...string) string {
	e.t.Helper()
	code, out, errb := e.run(stdin, args...)
	if code != 0 {
		e.t.Fatalf("wacloudctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errb)
	}
	return out
}

// secret returns the keys and values of secret name, or nil when it does
// not exist.
func (e *env) secret(name string) map[string]string {
	e.t.Helper()
	out, err := secretsmanager.NewFromConfig(e.emu.Config()).GetSecretValue(e.ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		if strings.Contains(err.Error(), "ResourceNotFound") {
			return nil
		}
		e.t.Fatalf("read secret %s: %v", name, err)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &m); err != nil {
		e.t.Fatal(err)
	}
	return m
}

// sameKeys tells whether got holds exactly want, without printing values.
func sameKeys(got, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}

// keys lists a secret's keys, for failure messages that show no value.
func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (e *env) registry() *tenant.Registry {
	return &tenant.Registry{API: dynamodb.NewFromConfig(e.emu.Config()), Table: e.st.Names.Ref["TenantsTable"], TTL: time.Nanosecond}
}

func noSecrets(t *testing.T, texts []string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		for _, txt := range texts {
			if strings.Contains(txt, s) {
				t.Errorf("output shows the secret %q: %s", s, txt)
			}
		}
	}
}

// graphServer answers GET /v23.0/{id} for the token "good-token" and
// Meta's error 190 for any other.
func graphServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer good-token" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"message":"Invalid OAuth access token - Cannot parse access token","type":"OAuthException","code":190,"fbtrace_id":"A1"}}`))
			return
		}
		id := strings.TrimPrefix(r.URL.Path, "/v23.0/")
		_ = json.NewEncoder(w).Encode(map[string]string{"id": id, "display_phone_number": "+1 555-000-0042", "verified_name": "Acme"})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTenantCommands(t *testing.T) {
	e := newEnv(t)
	acme, beta := uniq("acme"), uniq("beta")
	pn1, pn2, pn3, waba1, waba2 := uniqDigits(), uniqDigits(), uniqDigits(), uniqDigits(), uniqDigits()
	creds := `{"access_token":"acme-token-123","app_secret":"acme-app-secret","verify_token":"acme-verify"}`

	out := e.mustRun(creds, "tenant", "add", "--id", acme, "--name", "Acme", "--phone-number-id", pn1,
		"--waba-id", waba1, "--own-app", "--credentials-stdin")
	noSecrets(t, []string{out}, "acme-token-123", "acme-app-secret", "acme-verify")

	t.Run("add writes the registry and the secret", func(t *testing.T) {
		n, err := e.registry().Number(e.ctx, pn1)
		if err != nil || n.TenantID != acme || n.WABAID != waba1 {
			t.Fatalf("number = %+v, %v", n, err)
		}
		tn, err := e.registry().Tenant(e.ctx, acme)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := tn.SecretID, "wacloud/tenants/"+acme; got != want {
			t.Errorf("secret id = %q, want %q", got, want)
		}
		if !tn.OwnApp || tn.Status != tenant.StatusActive {
			t.Errorf("tenant = %+v", tn)
		}
		if got := e.secret(tn.SecretID); !sameKeys(got, map[string]string{"access_token": "acme-token-123"}) {
			t.Errorf("sending secret %s holds keys %v or other values, want the access token only", tn.SecretID, keys(got))
		}
		webhookSide := "wacloud/webhook/tenants/" + acme
		if got := e.secret(webhookSide); !sameKeys(got, map[string]string{"app_secret": "acme-app-secret", "verify_token": "acme-verify"}) {
			t.Errorf("webhook-side secret %s holds keys %v or other values, want app_secret and verify_token", webhookSide, keys(got))
		}
	})

	t.Run("add refuses an existing tenant or another tenant's number", func(t *testing.T) {
		for _, args := range [][]string{
			{"tenant", "add", "--id", acme, "--phone-number-id", pn3, "--waba-id", "2", "--access-token", "x"},
			{"tenant", "add", "--id", "other", "--phone-number-id", pn1, "--waba-id", "2", "--access-token", "x"},
		} {
			code, out, errb := e.run("", args...)
			if code != 1 {
				t.Errorf("%v: exit %d, want 1\n%s%s", args, code, out, errb)
			}
		}
		if _, err := e.registry().Tenant(e.ctx, "other"); err == nil {
			t.Errorf("tenant other was registered")
		}
	})

	t.Run("add with bad usage", func(t *testing.T) {
		for _, args := range [][]string{
			{"tenant", "add", "--id", "x y", "--phone-number-id", "1", "--waba-id", "2", "--access-token", "x"},
			// One past the tenant id rule's 64 characters, and ids that
			// would be "." or ".." as a key segment.
			{"tenant", "add", "--id", strings.Repeat("t", 65), "--phone-number-id", "1", "--waba-id", "2", "--access-token", "x"},
			{"tenant", "add", "--id", "..", "--phone-number-id", "1", "--waba-id", "2", "--access-token", "x"},
			{"tenant", "add", "--id", "x", "--waba-id", "2", "--access-token", "x"},
			{"tenant", "add", "--id", "x", "--phone-number-id", "1", "--waba-id", "2"},
			{"tenant", "add", "--id", "x", "--phone-number-id", "1", "--waba-id", "2", "--own-app", "--access-token", "x"},
		} {
			if code, _, _ := e.run("", args...); code != 2 {
				t.Errorf("%v: exit %d, want 2", args, code)
			}
		}
		if _, err := e.registry().Tenant(e.ctx, strings.Repeat("t", 65)); err == nil {
			t.Errorf("a 65-character tenant id was registered")
		}
	})

	t.Run("list", func(t *testing.T) {
		out := e.mustRun("", "tenant", "list")
		if !strings.Contains(out, acme) || !strings.Contains(out, pn1) {
			t.Errorf("list:\n%s", out)
		}
		var ts []tenant.Tenant
		if err := json.Unmarshal([]byte(e.mustRun("", "tenant", "list", "--json")), &ts); err != nil {
			t.Fatalf("list --json: %v", err)
		}
		found := false
		for _, tn := range ts {
			found = found || tn.ID == acme && tn.Status == tenant.StatusActive
		}
		if !found {
			t.Errorf("list --json = %+v, want %s active", ts, acme)
		}
	})

	t.Run("disable asks first", func(t *testing.T) {
		code, _, errb := e.run("n\n", "tenant", "disable", "--id", acme)
		if code != 1 || !strings.Contains(errb, "not confirmed") {
			t.Errorf("declined disable: exit %d, %s", code, errb)
		}
		if tn, _ := e.registry().Tenant(e.ctx, acme); tn.Status != tenant.StatusActive {
			t.Fatalf("status = %s after a declined disable", tn.Status)
		}
		e.mustRun("y\n", "tenant", "disable", "--id", acme)
		if tn, _ := e.registry().Tenant(e.ctx, acme); tn.Status != tenant.StatusDisabled {
			t.Errorf("status = %s, want disabled", tn.Status)
		}
		e.mustRun("", "tenant", "enable", "--id", acme)
		if tn, _ := e.registry().Tenant(e.ctx, acme); tn.Status != tenant.StatusActive {
			t.Errorf("status = %s, want active", tn.Status)
		}
	})

	t.Run("rotate replaces only what is given", func(t *testing.T) {
		code, _, _ := e.run(`{"access_token":"new-token"}`, "tenant", "rotate", "--id", acme, "--credentials-stdin")
		if code != 2 {
			t.Errorf("rotate from stdin without --yes: exit %d, want 2", code)
		}
		// Keys are read strictly: another case or a second copy is refused
		// before anything is written.
		for _, in := range []string{`{"Access_Token":"new-token"}`, `{"access_token":"new-token","access_token":"other-token"}`} {
			code, _, errb := e.run(in, "tenant", "rotate", "--id", acme, "--credentials-stdin", "--yes")
			if code != 2 || strings.Contains(errb, "new-token") {
				t.Errorf("rotate with stdin %s: exit %d (%s), want 2 without the value", in, code, errb)
			}
		}
		out := e.mustRun(`{"access_token":"acme-token-456"}`, "tenant", "rotate", "--id", acme, "--credentials-stdin", "--yes")
		noSecrets(t, []string{out}, "acme-token-456", "acme-app-secret")
		if got := e.secret("wacloud/tenants/" + acme); !sameKeys(got, map[string]string{"access_token": "acme-token-456"}) {
			t.Errorf("after rotate: sending secret holds keys %v, access token rotated=%v", keys(got), got["access_token"] == "acme-token-456")
		}
		if got := e.secret("wacloud/webhook/tenants/" + acme); !sameKeys(got, map[string]string{"app_secret": "acme-app-secret", "verify_token": "acme-verify"}) {
			t.Errorf("after rotate: webhook-side secret holds keys %v, app secret kept=%v, verify token kept=%v",
				keys(got), got["app_secret"] == "acme-app-secret", got["verify_token"] == "acme-verify")
		}
		out = e.mustRun("", "tenant", "rotate", "--id", acme, "--verify-token", "acme-verify-2", "--yes")
		noSecrets(t, []string{out}, "acme-verify-2")
		if got := e.secret("wacloud/webhook/tenants/" + acme); !sameKeys(got, map[string]string{"app_secret": "acme-app-secret", "verify_token": "acme-verify-2"}) {
			t.Errorf("after rotating the verify token: webhook-side secret holds keys %v, verify token rotated=%v", keys(got), got["verify_token"] == "acme-verify-2")
		}
		if got := e.secret("wacloud/tenants/" + acme); !sameKeys(got, map[string]string{"access_token": "acme-token-456"}) {
			t.Errorf("rotating the verify token touched the sending secret (keys %v)", keys(got))
		}
	})

	t.Run("validate", func(t *testing.T) {
		g := graphServer(t)
		code, out, errb := e.run(`{"access_token":"bad-token"}`, "tenant", "add", "--id", beta, "--phone-number-id", pn2,
			"--waba-id", waba2, "--credentials-stdin", "--validate", "--graph-url", g.URL)
		if code != 1 || !strings.Contains(errb, "190") {
			t.Errorf("bad token: exit %d, stderr %s", code, errb)
		}
		noSecrets(t, []string{out, errb}, "bad-token")
		if _, err := e.registry().Tenant(e.ctx, beta); err == nil {
			t.Errorf("tenant registered although its token failed validation")
		}
		if _, err := secretsmanager.NewFromConfig(e.emu.Config()).GetSecretValue(e.ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("wacloud/tenants/" + beta)}); err == nil {
			t.Errorf("secret written although the token failed validation")
		}
		e.mustRun(`{"access_token":"good-token"}`, "tenant", "add", "--id", beta, "--phone-number-id", pn2,
			"--waba-id", waba2, "--credentials-stdin", "--validate", "--graph-url", g.URL)
		if _, err := e.registry().Tenant(e.ctx, beta); err != nil {
			t.Errorf("tenant %s not registered after a valid token: %v", beta, err)
		}
		if got := e.secret("wacloud/tenants/" + beta); !sameKeys(got, map[string]string{"access_token": "good-token"}) {
			t.Errorf("sending secret of %s holds keys %v", beta, keys(got))
		}
		if got := e.secret("wacloud/webhook/tenants/" + beta); got != nil {
			t.Errorf("a tenant on the platform app got a webhook-side secret (keys %v)", keys(got))
		}
	})

	t.Run("delete removes both secrets", func(t *testing.T) {
		out := e.mustRun("", "tenant", "delete", "--id", acme, "--yes")
		for _, id := range []string{"wacloud/tenants/" + acme, "wacloud/webhook/tenants/" + acme} {
			if got := e.secret(id); got != nil {
				t.Errorf("secret %s left after delete (keys %v):\n%s", id, keys(got), out)
			}
		}
	})
}

func TestDLQCommands(t *testing.T) {
	e := newEnv(t)
	c := sqs.NewFromConfig(e.emu.Config())
	dlq, src := e.st.Names.Ref["InboundDLQ"], e.st.Names.Ref["InboundQueue"]
	e.purge(dlq, src)
	pub := queue.Publisher{API: c}
	for i, group := range []string{"100000000000001:5511", "100000000000001:5522"} {
		err := pub.Publish(e.ctx, dlq, queue.Message{
			Body: `{"v":1,"kind":"message","n":` + strconv.Itoa(i) + `}`, GroupID: group, DedupID: "d" + strconv.Itoa(i),
			Attributes: map[string]string{queue.ReasonAttribute: "normalize: bad payload " + strconv.Itoa(i), "wacloud-failure-class": "invalid"},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	depth := func(url string) int {
		// Visible and in flight: the emulator keeps a message counted as
		// in flight after its visibility is reset until it is received.
		out, err := c.GetQueueAttributes(e.ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
		m, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
		return n + m
	}

	var listed []struct {
		Queue    string `json:"queue"`
		Depth    int    `json:"depth"`
		Messages []struct {
			MessageID string `json:"message_id"`
			GroupID   string `json:"group_id"`
			Reason    string `json:"reason"`
			Class     string `json:"class"`
		} `json:"messages"`
	}
	out := e.mustRun("", "dlq", "list", "--json")
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("dlq list --json: %v\n%s", err, out)
	}
	if len(listed) != 5 {
		t.Fatalf("listed %d queues, want the 5 DLQs", len(listed))
	}
	inbound := listed[0]
	if inbound.Queue != "Inbound" || inbound.Depth != 2 || len(inbound.Messages) != 2 {
		t.Fatalf("inbound DLQ listing = %+v", inbound)
	}
	for i, m := range inbound.Messages {
		if !strings.HasPrefix(m.Reason, "normalize: bad payload") || m.Class != "invalid" || m.GroupID == "" {
			t.Errorf("message %d = %+v", i, m)
		}
	}
	if got := depth(dlq); got != 2 {
		t.Fatalf("after listing, DLQ holds %d, want 2 (listing must not remove messages)", got)
	}
	// Listed messages are visible again at once: a second listing sees them.
	if err := json.Unmarshal([]byte(e.mustRun("", "dlq", "list", "--json", "--queue", "Inbound")), &listed); err != nil || len(listed) != 1 || len(listed[0].Messages) != 2 {
		t.Fatalf("second listing = %+v, %v", listed, err)
	}
	text := e.mustRun("", "dlq", "list", "--queue", "inbound")
	if !strings.Contains(text, "normalize: bad payload 0") || strings.Contains(text, `"n":0`) {
		t.Errorf("text listing (reasons shown, bodies hidden):\n%s", text)
	}

	first := inbound.Messages[0]
	t.Run("declined redrive moves nothing", func(t *testing.T) {
		code, _, _ := e.run("no\n", "dlq", "redrive", "--queue", "Inbound")
		if code != 1 || depth(dlq) != 2 || depth(src) != 0 {
			t.Errorf("exit %d, dlq %d, source %d; want 1, 2, 0", code, depth(dlq), depth(src))
		}
	})
	t.Run("unknown id", func(t *testing.T) {
		if code, _, _ := e.run("", "dlq", "redrive", "--id", "no-such-id", "--yes"); code != 1 || depth(dlq) != 2 {
			t.Errorf("exit %d, dlq %d", code, depth(dlq))
		}
	})
	t.Run("redrive one by id keeps its group", func(t *testing.T) {
		e.mustRun("", "dlq", "redrive", "--queue", "Inbound", "--id", first.MessageID, "--yes")
		if got := depth(dlq); got != 1 {
			t.Errorf("DLQ depth = %d, want 1", got)
		}
		msgs, err := c.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(src), MaxNumberOfMessages: 10,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs.Messages) != 1 {
			t.Fatalf("source queue has %d messages, want 1", len(msgs.Messages))
		}
		m := msgs.Messages[0]
		if got := m.Attributes["MessageGroupId"]; got != first.GroupID {
			t.Errorf("group = %q, want %q", got, first.GroupID)
		}
		if _, ok := m.MessageAttributes[queue.ReasonAttribute]; ok {
			t.Errorf("failure reason carried back to the source queue")
		}
	})
	t.Run("redrive the rest, with progress on a terminal", func(t *testing.T) {
		e.terminal = true
		defer func() { e.terminal = false }()
		code, out, errb := e.run("y\n", "dlq", "redrive")
		if code != 0 || !strings.Contains(out, "redrove 1") || depth(dlq) != 0 {
			t.Errorf("exit %d, out %q, dlq depth %d", code, out, depth(dlq))
		}
		if !strings.Contains(errb, "\rredriving: 1/1 (100%)") {
			t.Errorf("no progress on the terminal: %q", errb)
		}
	})
}

func TestSendTestAndMessageShow(t *testing.T) {
	e := newEnv(t)
	e.purge(e.st.Names.Ref["OutboundQueue"])
	jobID, wamid := uniq("job"), uniq("wamid.T")
	reg := e.registry()
	if err := reg.Put(e.ctx, tenant.Tenant{ID: "demo", SecretID: "wacloud/tenants/demo"},
		[]tenant.Number{{PhoneNumberID: "100000000000001", WABAID: "200000000000001"}}); err != nil {
		t.Fatal(err)
	}

	t.Run("send-test enqueues a valid job in the recipient's group", func(t *testing.T) {
		if code, _, _ := e.run("n\n", "send-test", "--tenant", "demo", "--to", "+5511999990001"); code != 1 {
			t.Errorf("declined send-test: exit %d, want 1", code)
		}
		out := e.mustRun("", "send-test", "--tenant", "demo", "--to", "+5511999990001", "--text", "hello", "--job-id", jobID, "--yes")
		if !strings.Contains(out, jobID) {
			t.Errorf("out = %q", out)
		}
		c := sqs.NewFromConfig(e.emu.Config())
		msgs, err := c.ReceiveMessage(e.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.st.Names.Ref["OutboundQueue"]), MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs.Messages) != 1 {
			t.Fatalf("outbound queue has %d messages, want 1", len(msgs.Messages))
		}
		job, err := outbound.Decode([]byte(aws.ToString(msgs.Messages[0].Body)))
		if err != nil {
			t.Fatal(err)
		}
		if err := outbound.Validate(job); err != nil {
			t.Errorf("job invalid: %v", err)
		}
		if job.JobID != jobID || job.PhoneNumberID != "100000000000001" || job.Text == nil || job.Text.Body != "hello" {
			t.Errorf("job = %+v", job)
		}
		if got, want := msgs.Messages[0].Attributes["MessageGroupId"], job.GroupID(); got != want {
			t.Errorf("group = %q, want %q", got, want)
		}
	})

	t.Run("message show by wamid and job", func(t *testing.T) {
		store := &delivery.Store{API: dynamodb.NewFromConfig(e.emu.Config()), Table: e.st.Names.Ref["MessagesTable"]}
		err := store.RecordAccepted(e.ctx, delivery.Record{WAMID: wamid, TenantID: "demo", PhoneNumberID: "100000000000001",
			JobID: jobID, To: "5511999990001", Type: "text", AcceptedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"--wamid", wamid}, {"--tenant", "demo", "--job", jobID}} {
			out := e.mustRun("", append([]string{"message", "show"}, args...)...)
			if !strings.Contains(out, wamid) || !strings.Contains(out, jobID) || !strings.Contains(out, "accepted") {
				t.Errorf("message show %v:\n%s", args, out)
			}
		}
		if code, _, _ := e.run("", "message", "show", "--wamid", "wamid.none"); code != 1 {
			t.Errorf("unknown wamid: exit %d, want 1", code)
		}
		if code, _, _ := e.run("", "message", "show"); code != 2 {
			t.Errorf("no selector: exit %d, want 2", code)
		}
	})
}

func TestHelp(t *testing.T) {
	var out, errb bytes.Buffer
	m := Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
	for _, c := range commands {
		out.Reset()
		errb.Reset()
		args := append(strings.Fields(c.path), "--help")
		if code := m.Run(context.Background(), args); code != 0 {
			t.Errorf("%s --help: exit %d", c.path, code)
		}
		if !strings.Contains(out.String(), "usage: wacloudctl "+c.path) || errb.Len() != 0 {
			t.Errorf("%s --help printed %q on stdout and %q on stderr; want the usage on stdout only", c.path, out.String(), errb.String())
		}
	}
	if code := m.Run(context.Background(), []string{"nope"}); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}
