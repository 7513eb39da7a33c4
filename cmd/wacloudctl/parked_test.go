package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/coresink"
	"github.com/tucanlink/wacloud/local/esm"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/inbound"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/parking"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/webhook"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// parkedEnv runs the webhook and inbound functions of the provisioned
// stack in-process, so payloads take the real path: webhook, inbound queue,
// inbound function, core or parked/.
type parkedEnv struct {
	*env
	webhook  *webhook.Handler
	inbound  *inbound.Handler
	inboundQ string
	core     *coresink.Sink // the local core stand-in
	seen     int            // core events already read by received
	bucket   string
}

const parkedAppSecret = "parked-test-app-secret"

func newParkedEnv(t *testing.T) *parkedEnv {
	t.Helper()
	e := newEnv(t)
	core := coresink.New(coresink.Config{Path: e.st.Functions["InboundFunction"].Env["CORE_EVENTS_PATH"], BearerToken: "core-token", SigningSecret: "core-signing",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(core)
	t.Cleanup(srv.Close)
	fnEnv := func(fn string) func(string) string {
		return func(k string) string {
			switch k {
			case "S3_USE_PATH_STYLE":
				return "true"
			case "CORE_URL":
				return srv.URL
			}
			return e.st.Functions[fn].Env[k]
		}
	}
	wenv, ienv := fnEnv("WebhookFunction"), fnEnv("InboundFunction")
	sm := secretsmanager.NewFromConfig(e.emu.Config())
	for id, secret := range map[string]string{
		wenv("PLATFORM_WEBHOOK_SECRET_ID"): `{"app_secret":"` + parkedAppSecret + `","verify_token":"v"}`,
		ienv("CORE_SECRET_ID"):             `{"bearer_token":"core-token","signing_secret":"core-signing"}`,
	} {
		if _, err := sm.PutSecretValue(e.ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(secret)}); err != nil {
			if _, err := sm.CreateSecret(e.ctx, &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(secret)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	wh, err := webhook.Setup(e.ctx, wenv, e.emu.Config())
	if err != nil {
		t.Fatal(err)
	}
	wh.Log, wh.Metrics = quiet, &metrics.Recorder{Out: io.Discard}
	ih, err := inbound.Setup(e.ctx, ienv, e.emu.Config())
	if err != nil {
		t.Fatal(err)
	}
	ih.Log, ih.Metrics = quiet, &metrics.Recorder{Out: io.Discard}
	// The deployed function caches a number unknown for 6 seconds; the test
	// onboards and replays at once.
	ih.Registry = &tenant.Registry{API: dynamodb.NewFromConfig(e.emu.Config()), Table: ienv("TENANTS_TABLE"), TTL: time.Nanosecond}
	p := &parkedEnv{env: e, webhook: wh, inbound: ih, inboundQ: ienv("INBOUND_QUEUE_URL"), core: core, bucket: ienv("DATA_BUCKET")}
	e.purge(p.inboundQ)
	return p
}

// post delivers a signed webhook body as Meta does.
func (p *parkedEnv) post(t *testing.T, body []byte) {
	t.Helper()
	req := events.APIGatewayV2HTTPRequest{RouteKey: "POST /webhook", RawPath: "/webhook", Body: string(body),
		Headers: map[string]string{"content-type": "application/json", "x-hub-signature-256": whatsapp.Sign(parkedAppSecret, body)}}
	req.RequestContext.HTTP.Method = "POST"
	resp, err := p.webhook.Handle(p.ctx, req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("webhook answered %d, %v", resp.StatusCode, err)
	}
}

// pump runs the inbound function over the inbound queue as Lambda's event
// source mapping does, until nothing is visible.
func (p *parkedEnv) pump(t *testing.T) {
	t.Helper()
	c := sqs.NewFromConfig(p.emu.Config())
	for {
		out, err := awsemu.Receive(p.ctx, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(p.inboundQ), MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return
		}
		resp, err := p.inbound.Handle(p.ctx, (&esm.Poller{}).Event(out.Messages))
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.BatchItemFailures) > 0 {
			t.Fatalf("inbound failed %d records", len(resp.BatchItemFailures))
		}
		for _, m := range out.Messages {
			if _, err := c.DeleteMessage(p.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(p.inboundQ), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// received returns the message ids of the message.received events for
// phone number pn the core accepted since the last call.
func (p *parkedEnv) received(t *testing.T, pn string) []string {
	t.Helper()
	if st := p.core.Stats(); st.Unauthorized+st.BadSignature+st.BadRequest > 0 {
		t.Errorf("pushes the core refused as unauthenticated, unsigned or malformed: %+v", st)
	}
	evs := p.core.Events()
	var ids []string
	for _, b := range evs[p.seen:] {
		var ev event.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type == event.TypeMessageReceived && ev.PhoneNumberID == pn && ev.Message != nil {
			ids = append(ids, ev.Message.ID)
		}
	}
	p.seen = len(evs)
	return ids
}

func (p *parkedEnv) list(t *testing.T, extra ...string) []parking.Item {
	t.Helper()
	var items []parking.Item
	out := p.mustRun("", append([]string{"parked", "list", "--json", "--data-bucket", p.bucket}, extra...)...)
	if err := json.Unmarshal([]byte(out), &items); err != nil {
		t.Fatalf("parked list --json: %v\n%s", err, out)
	}
	return items
}

// textPayload is Meta's text message example for business number pn and
// message id wamid.
func textPayload(t *testing.T, pn, wamid string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/webhook_text.json")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "106540352242922", pn)
	return []byte(strings.ReplaceAll(s, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", wamid))
}

// Payloads parked because the number was not onboarded yet (a unit) and
// because the body was over the webhook's cap (the whole body) are listed,
// replayed into the normal inbound path once the number is onboarded, and
// reach the core exactly once however often they are replayed.
func TestParkedListAndReplay(t *testing.T) {
	p := newParkedEnv(t)
	pn := uniqDigits()
	unitWamid, bodyWamid := "wamid."+uniq("unit"), "wamid."+uniq("body")

	// A message for a number no tenant has yet: parked by the inbound function.
	p.post(t, textPayload(t, pn, unitWamid))
	p.pump(t)
	// A body over the webhook's cap: parked whole by the webhook.
	big := textPayload(t, pn, bodyWamid)
	p.webhook.MaxBodyBytes = len(big) - 1
	p.post(t, big)
	p.webhook.MaxBodyBytes = 0
	p.pump(t)
	if got := p.received(t, pn); len(got) != 0 {
		t.Fatalf("core got %v before the number was onboarded", got)
	}

	// This run's items: the unit names its number; the whole body, which
	// names nothing, is known by its key (the bucket keeps earlier runs'
	// bodies too, with -count).
	items := p.list(t)
	bodyName := path.Base(parking.Key(parking.ReasonBodyTooLarge, time.Now(), big))
	reasons := map[string]parking.Item{}
	for _, it := range items {
		if it.Metadata["phone-number-id"] == pn || path.Base(it.Key) == bodyName {
			reasons[it.Reason] = it
		}
	}
	unit, body := reasons[parking.ReasonUnknownPhoneNumber], reasons[parking.ReasonBodyTooLarge]
	if !unit.Replayable || !body.Replayable || unit.Metadata["route"] != "platform" || body.Metadata["received-at"] == "" {
		t.Fatalf("parked list = %+v, want a replayable unknown_phone_number unit and a body_too_large body", items)
	}
	if out := p.mustRun("", "parked", "list", "--data-bucket", p.bucket); !strings.Contains(out, unit.Key) || !strings.Contains(out, pn) {
		t.Errorf("parked list:\n%s", out)
	}

	// Replayed before the number is onboarded: parked again, nothing lost.
	p.mustRun("", "parked", "replay", "--all", "--yes", "--data-bucket", p.bucket)
	p.pump(t)
	if got := p.received(t, pn); len(got) != 0 {
		t.Fatalf("core got %v before the number was onboarded", got)
	}
	again := 0
	for _, it := range p.list(t, "--reason", parking.ReasonUnknownPhoneNumber) {
		if it.Metadata["phone-number-id"] == pn {
			again++
		}
	}
	if again != 2 {
		// The unit, parked again, and the body's unit, parked now as a unit.
		t.Fatalf("after a replay with the number still unknown, %d units of it are parked, want 2", again)
	}

	// Onboarded: the replay reaches the core, once per message.
	tn := uniq("late")
	if err := p.registry().Put(p.ctx, tenant.Tenant{ID: tn, SecretID: "wacloud/tenants/" + tn}, []tenant.Number{{PhoneNumberID: pn, WABAID: uniqDigits()}}); err != nil {
		t.Fatal(err)
	}
	out := p.mustRun("", "parked", "replay", "--reason", parking.ReasonUnknownPhoneNumber, "--yes", "--data-bucket", p.bucket)
	if !strings.Contains(out, "moved to "+parking.ReplayedPrefix) {
		t.Errorf("replay output:\n%s", out)
	}
	p.pump(t)
	got := p.received(t, pn)
	if strings.Join(got, ",") != unitWamid+","+bodyWamid && strings.Join(got, ",") != bodyWamid+","+unitWamid {
		t.Fatalf("core got message.received for %v, want %s and %s once each", got, unitWamid, bodyWamid)
	}
	for _, it := range p.list(t) {
		if it.Metadata["phone-number-id"] == pn {
			t.Errorf("still parked after the replay: %s", it.Key)
		}
	}

	// Replayed again from the archive: the inbound dedup holds.
	var replayed []string
	for _, it := range p.list(t, "--replayed") {
		if it.Metadata["phone-number-id"] == pn || it.Key == strings.Replace(body.Key, parking.Prefix, parking.ReplayedPrefix, 1) {
			if it.Metadata["replayed-at"] == "" {
				t.Errorf("%s has no replayed-at", it.Key)
			}
			replayed = append(replayed, it.Key)
		}
	}
	if len(replayed) < 2 {
		t.Fatalf("replayed/ holds %v, want the unit and the body", replayed)
	}
	args := []string{"parked", "replay", "--yes", "--data-bucket", p.bucket}
	for _, k := range replayed {
		args = append(args, "--key", k)
	}
	p.mustRun("", args...)
	p.pump(t)
	if got := p.received(t, pn); len(got) != 0 {
		t.Errorf("a second replay reached the core again: %v", got)
	}
}

func TestParkedReplayUsage(t *testing.T) {
	e := newEnv(t)
	bucket := e.st.Names.Ref["DataBucket"]
	for _, args := range [][]string{
		{"parked", "replay", "--data-bucket", bucket},
		{"parked", "replay", "--all", "--reason", "tenant_disabled", "--data-bucket", bucket},
		{"parked", "replay", "--reason", parking.ReasonUnparseable, "--data-bucket", bucket},
		{"parked", "replay", "--key", "parked/not_whatsapp/2026/12/05/x.json", "--data-bucket", bucket},
		{"parked", "replay", "--key", "tenants/acme/media/x.jpg", "--data-bucket", bucket},
	} {
		if code, _, errb := e.run("", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errb)
		}
	}
}
