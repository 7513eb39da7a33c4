package iamcheck_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/coresink"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/iamcheck"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// waivers are grants the scenario cannot show in use, each with the
// reason it stays.
var waivers = append([]iamcheck.Waiver{
	{Function: "MediaFunction", Item: "s3:DeleteObject",
		Why: "removes an object the uploader completed without the body being verified; the SDK's uploader never does that, so no run reaches it"},
	{Function: "SenderFunction", Sid: "Limiter", Item: "dynamodb:GetItem",
		Why: "reads a limiter bucket only when it is booked beyond the horizon or changed between two writes; the scenario sends too little to contend"},
	{Function: "InboundFunction", Sid: "MarkBizAppNumbers", Item: "dynamodb:UpdateItem",
		Why: "marks a number on its first WhatsApp Business app echo; the scenario's number is not shared with the app (shared/inbound TestEchoMarksNumberSharedWithBusinessApp makes the call)"},
	{Function: "SenderFunction", Sid: "TokenOutages", Item: "dynamodb:PutItem",
		Why: "records a token outage only when Meta rejects a tenant's token (190); the scenario's token is valid, and a rejected one would hold its jobs (shared/sender TestTokenOutageHoldsJobs writes it)"},
	{Function: "TemplatesFunction", Sid: "SyncCatalog", Item: "dynamodb:DeleteItem",
		Why: "removes a catalog template Meta no longer lists; the scenario's WABA keeps its templates (shared/catalog TestSyncMirrorsMeta removes one)"},
	{Function: "SenderFunction", Sid: "FindCrashedSend", Item: "dynamodb:GetItem",
		Why: "looks up the job reference when taking over a job whose attempt stopped after claiming it; no attempt stops half-way here"},
	{Function: "CampaignFunction", Sid: "ClaimsAndLimits", Item: "dynamodb:TransactWriteItems",
		Why: "counts a new recipient against the portfolio's messaging-limit tier (shared/msglimit) in one transaction; the scenario's portfolio has no tier reported, so nothing is counted"},
	{Function: "CampaignFunction", Sid: "ClaimsAndLimits", Item: "dynamodb:ConditionCheckItem",
		Why: "part of msglimit's counting transaction; the scenario's portfolio has no tier reported"},
	{Function: "SenderFunction", Sid: "CountCampaignMessages", Item: "dynamodb:UpdateItem",
		Why: "counts a campaign's messages in the transaction that records them; the scenario runs no campaign (shared/sender TestCampaignCounts makes the call)"},
	{Function: "SenderFunction", Sid: "ReadWindows", Item: "dynamodb:GetItem",
		Why: "a job reads its window itself only when the batch's read ahead left the key unprocessed, failed, or found it closed more than 2 s before, or for a wa_id Meta's mapping gave after the read; the scenario's reads ahead all succeed (shared/sender TestLookaheadKeepsOnlyWhatItRead, TestWindowRule make the call)"},
	{Function: "SenderFunction", Sid: "ReadSuppressions", Item: "dynamodb:GetItem",
		Why: "a template job reads the suppression list itself only when the batch's read ahead of it failed or was left unprocessed; the scenario's reads ahead all succeed (shared/sender TestSuppressionMemo's fallback, TestSuppressedContactsGetNoTemplates with one job per batch)"},
	{Function: "SenderFunction", Sid: "RecipientIdentities", Item: "dynamodb:GetItem",
		Why: "a job reads its recipient's identity itself only when the batch's read ahead of it failed or was left unprocessed (shared/sender TestLookaheadKeepsOnlyWhatItRead)"},
	{Function: "CampaignFunction", Sid: "OutboundQueueDepth", Item: "sqs:GetQueueAttributes",
		Why: "reads the outbound queue's depth only while a run is held back by its sender; the scenario's campaign is too small to be held (shared/campaign TestQueueWaiting makes the call)"},
	{Function: "StatusFunction", Sid: "CountCampaignMessages", Item: "dynamodb:UpdateItem",
		Why: "counts a campaign's messages in the transaction that records their statuses; the scenario runs no campaign (shared/sender TestCampaignCounts makes the call)"},
}, queueKeyWaivers()...)

// queueKeyWaivers excuse the QueueKey statements: SQS uses a
// customer-managed queue key on each function's behalf (kms:ViaService),
// and no emulator encrypts queues, so no recorded call shows it.
func queueKeyWaivers() []iamcheck.Waiver {
	var out []iamcheck.Waiver
	for _, fn := range dirs {
		for _, a := range []string{"kms:GenerateDataKey", "kms:Decrypt"} {
			out = append(out, iamcheck.Waiver{Function: fn, Sid: "QueueKey", Item: a, Why: "SQS uses the queue key for the function; emulators never see KMS"})
		}
	}
	for _, fn := range []string{"MediaFunction", "CampaignFunction"} {
		for _, a := range []string{"kms:GenerateDataKey", "kms:Decrypt"} {
			out = append(out, iamcheck.Waiver{Function: fn, Sid: "QueueKey", Item: a, Why: "SQS uses the queue key for the function; emulators never see KMS"})
		}
	}
	return out
}

// customerKey is the queue key the policies are evaluated with, so the
// statements a customer-managed key adds are checked too.
const customerKey = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// deployed are the stack's names as deployed with a customer-managed
// queue key.
func deployed(st *stack.Stack) *stack.Names {
	n := *st.Names
	n.Params = maps.Clone(n.Params)
	if _, ok := st.Template.Parameters["QueueKmsKeyArn"]; ok {
		n.Params["QueueKmsKeyArn"] = customerKey
	}
	return &n
}

// dirs maps a directory under events/ to the function its samples are for.
var dirs = map[string]string{
	"webhook": "WebhookFunction", "inbound": "InboundFunction", "bridge": "BridgeFunction",
	"sender": "SenderFunction", "status": "StatusFunction", "templates": "TemplatesFunction",
	"api": "ApiFunction",
}

var acme = connector.Tenant{ID: "acme", PhoneNumberID: "100000000000002", WABAID: "200000000000002", OwnApp: true,
	AppSecret: "acme-app-secret", VerifyToken: "acme-verify-token", AccessToken: "acme-access-token"}

var (
	recOnce  sync.Once
	recCalls []iamcheck.Call
	recStack *stack.Stack
	recErr   error
)

// recorded runs the connector once for the package, with every function
// wired and recorded, through the scenario, and returns the calls.
func recorded(t *testing.T) ([]iamcheck.Call, *stack.Stack) {
	t.Helper()
	recOnce.Do(func() {
		// Stays set when the scenario stops the test that runs it.
		recErr = fmt.Errorf("the scenario did not finish (see the first test that ran it)")
		st := &scenarioT{T: t}
		recCalls, recStack = runScenario(st)
		if !st.failed {
			recErr = nil
		}
	})
	if recErr != nil {
		t.Fatal(recErr)
	}
	return recCalls, recStack
}

// scenarioT lets the scenario fail the test that first runs it.
type scenarioT struct {
	*testing.T
	failed bool
}

func runScenario(t *scenarioT) ([]iamcheck.Call, *stack.Stack) {
	ctx := context.Background()
	// kumo keeps its state per process: start from the template's empty
	// tables and queues, so go test -count=N finds no earlier run's
	// records (the stack name is the connector's, whose bucket the
	// samples' s3:// links name).
	stack.Fresh(t, awsemu.StartTest(t).Config(), stack.Options{StackName: "wacloud-local"})

	rec := &iamcheck.Recorder{}
	h, err := connector.Start(ctx, connector.Options{
		AWSAddr: "-", APIAddr: "127.0.0.1:0", GraphAddr: "127.0.0.1:0", SinkAddr: "127.0.0.1:0",
		Template: "../../template.yaml", Tenants: []connector.Tenant{acme}, Log: io.Discard, Recorder: rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	feedSamples(t, h)
	edges(t, h)
	tokenHealth(t, h)
	onboarding(t, h)
	live(t, h, rec)
	return rec.Calls(), h.Stack
}

// feedSamples gives every sample event under events/ to its function, as
// the connector built it.
func feedSamples(t *scenarioT, h *connector.Handle) {
	files, err := filepath.Glob("../../events/*/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample events: %v", err)
	}
	sort.Strings(files)
	for _, f := range files {
		dir := filepath.Base(filepath.Dir(f))
		id, ok := dirs[dir]
		if !ok {
			t.Fatalf("no function for events/%s/: add it to dirs", dir)
		}
		b := h.Built[id]
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{
			AwsRequestID: "iamcheck-" + f, InvokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:" + id,
		}), 2*time.Minute)
		switch {
		case b.HTTP != nil:
			var req events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &req); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			_, err = b.HTTP(ctx, req)
		case b.SQS != nil:
			var ev events.SQSEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			_, err = b.SQS(ctx, ev)
		case b.Scheduled != nil:
			var ev events.EventBridgeEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			err = b.Scheduled(ctx, ev)
		default:
			t.Fatalf("%s is not wired into the connector", id)
		}
		cancel()
		if err != nil {
			t.Fatalf("%s: handler error: %v", f, err)
		}
	}
}

// edges invokes the functions with what sends them down their retry and
// dead-letter paths: a body no function can read (dead-lettered), a
// status of a message the sender has not recorded yet (retried), an
// inbound unit another worker holds the claim of (retried), and a
// payload that is not WhatsApp's (parked by the webhook).
func edges(t *scenarioT, h *connector.Handle) {
	ctx := context.Background()
	for _, id := range []string{"SenderFunction", "MediaFunction", "StatusFunction"} {
		invokeSQS(t, h, id, "not json")
	}

	stamp := time.Now().UnixNano()
	status := sampleBody(t, "status/delivered.json")
	status = strings.Replace(status, "wamid.xyzxyz", fmt.Sprintf("wamid.iamcheck%d", stamp), 1)
	status = strings.Replace(status, `"timestamp":"1698266945"`, fmt.Sprintf(`"timestamp":"%d"`, time.Now().Unix()), 1)
	invokeSQS(t, h, "StatusFunction", status)

	unit := sampleBody(t, "inbound/text.json")
	unit = strings.Replace(unit, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", fmt.Sprintf("wamid.iamcheck%d", stamp), 1)
	var u whatsapp.Unit
	if err := json.Unmarshal([]byte(unit), &u); err != nil {
		t.Fatal(err)
	}
	evs, err := event.Normalize(u, connector.DemoTenantID)
	if err != nil || len(evs) == 0 {
		t.Fatalf("normalize the inbound sample: %v", err)
	}
	// A claim with a live lease (as the release before single-write claims
	// left them) makes the inbound function back off: its record's
	// visibility is changed.
	if _, err := dynamodb.NewFromConfig(h.Emulator.Config()).PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(h.Stack.Names.Ref["StateTable"]),
		Item: map[string]ddbtypes.AttributeValue{
			"pk":          &ddbtypes.AttributeValueMemberS{Value: "event#" + evs[0].EventID},
			"status":      &ddbtypes.AttributeValueMemberS{Value: "claimed"},
			"owner":       &ddbtypes.AttributeValueMemberS{Value: "another-worker"},
			"lease_until": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(time.Now().Add(time.Hour).Unix())},
		},
	}); err != nil {
		t.Fatal(err)
	}
	invokeSQS(t, h, "InboundFunction", unit)

	resp, err := http.Post(h.GraphURL+"/_sim/webhook", "application/json", strings.NewReader(`{"object":"page","entry":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// sampleBody is the first record's body of a sample event.
func sampleBody(t *scenarioT, name string) string {
	raw, err := os.ReadFile("../../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil || len(ev.Records) == 0 {
		t.Fatalf("%s: %v", name, err)
	}
	return ev.Records[0].Body
}

// invokeSQS gives one record to a queue function, as its event source
// mapping would (the receipt handle is made up; the calls it leads to are
// what counts).
func invokeSQS(t *scenarioT, h *connector.Handle, id, body string) {
	ev := events.SQSEvent{Records: []events.SQSMessage{{
		MessageId: fmt.Sprintf("iamcheck-%d", time.Now().UnixNano()), ReceiptHandle: "iamcheck-receipt-handle", Body: body,
		EventSource: "aws:sqs", AWSRegion: "us-east-1",
		Attributes: map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": fmt.Sprint(time.Now().UnixMilli()),
			"MessageGroupId": "iamcheck", "MessageDeduplicationId": "iamcheck"},
	}}}
	ctx, cancel := context.WithTimeout(lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: ev.Records[0].MessageId}), time.Minute)
	defer cancel()
	if _, err := h.Built[id].SQS(ctx, ev); err != nil {
		t.Fatalf("%s: handler error: %v", id, err)
	}
}

// live drives the running connector through what the samples cannot show:
// inbound text and media (a multipart upload and an aborted one),
// outbound text, linked and uploaded S3 media, a missing S3 object, Meta's
// statuses, a retried send and a retried push to the core.
func live(t *scenarioT, h *connector.Handle, rec *iamcheck.Recorder) {
	ctx := context.Background()
	contact := "16505550199"

	// A tenant with its own app: its route, registry entry and secret.
	acmeWAMID := simInbound(t, h, fmt.Sprintf(`{"phone_number_id":%q,"from":"16505550198","type":"text","text":"hello acme"}`, acme.PhoneNumberID))
	// The contact opens its window; the first push to the core fails
	// once, so the inbound function backs off.
	h.Sink.Fail(http.StatusServiceUnavailable, 1)
	openWAMID := simInbound(t, h, fmt.Sprintf(`{"phone_number_id":%q,"from":%q,"type":"text","text":"hi"}`, connector.DemoPhoneNumberID, contact))
	// Media over the 5 MiB part size goes up in parts.
	videoWAMID := simInbound(t, h, fmt.Sprintf(`{"phone_number_id":%q,"from":%q,"type":"video","media":{"mime_type":"video/mp4","size":6000000}}`, connector.DemoPhoneNumberID, contact))
	// A corrupt download is caught at its end, and its parts aborted.
	bad, err := h.Sim.CreateMedia(graphsim.MediaSpec{PhoneNumberID: connector.DemoPhoneNumberID, MimeType: "video/mp4", Size: 6000000})
	if err != nil {
		t.Fatal(err)
	}
	h.Sim.SetMediaFaults(bad.ID, graphsim.MediaFault{Kind: "corrupt", Times: 1})
	badWAMID := simInbound(t, h, fmt.Sprintf(`{"phone_number_id":%q,"from":%q,"type":"video","media_id":%q}`, connector.DemoPhoneNumberID, contact, bad.ID))

	// A Brazilian user registered before the ninth digit, who also has a
	// business-scoped user id: inbound records what the BSUID resolves to,
	// and the answer to the 13-digit number teaches the sender its wa_id.
	brWaID := "551167770199"
	brWAMID := simInbound(t, h, fmt.Sprintf(`{"phone_number_id":%q,"from":%q,"user_id":"BR.1393000011112222","type":"text","text":"oi"}`, connector.DemoPhoneNumberID, brWaID))
	// A contact writes a stop keyword: it joins the suppression list and
	// its confirmation goes out through the outbound queue.
	stopWAMID := simInbound(t, h, fmt.Sprintf(`{"phone_number_id":%q,"from":"16505550197","type":"text","text":"Stop"}`, connector.DemoPhoneNumberID))
	eventually(t, "the opt-out at the core", func() bool {
		return hasEvent(h, func(e event.Event) bool { return e.OptOut != nil && e.OptOut.MessageID == stopWAMID })
	})
	eventually(t, "every inbound message at the core", func() bool {
		if !hasEvent(h, func(e event.Event) bool { return e.Message != nil && e.Message.ID == brWAMID }) {
			return false
		}
		for _, id := range []string{openWAMID, acmeWAMID, videoWAMID, badWAMID} {
			if !hasEvent(h, func(e event.Event) bool { return e.Message != nil && e.Message.ID == id }) {
				return false
			}
		}
		return true
	})
	// Every inbound message is at the core. The first two pushes of an
	// outbound.failed (the job whose S3 media is missing, below; the
	// scenario's only one) fail: the sender's, so the result goes on the
	// core events queue, and the bridge's first, so the bridge backs off
	// (the status function pushes statuses and its own copy of
	// outbound.accepted at the same time, untouched).
	if err := h.Sink.SetFault(coresink.Fault{Mode: coresink.FaultStatus, Status: http.StatusServiceUnavailable, Count: 2, EventType: "outbound.failed"}); err != nil {
		t.Fatal(err)
	}

	// Outbound media the core stored under the tenant's prefix.
	s3c := s3.NewFromConfig(h.Emulator.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	bucket := h.Stack.Names.Ref["DataBucket"]
	for key, o := range map[string]struct{ mime, body string }{
		"tenants/demo/iamcheck/photo.jpg":    {"image/jpeg", "\xff\xd8\xff\xe0 a small jpeg"},
		"tenants/demo/iamcheck/sticker.webp": {"image/webp", "RIFF\x24\x00\x00\x00WEBPVP8 a small sticker"},
	} {
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
			Body: strings.NewReader(o.body), ContentType: aws.String(o.mime)}); err != nil {
			t.Fatal(err)
		}
	}
	ref := func(key string) string { return "s3://" + bucket + "/tenants/demo/iamcheck/" + key }
	stamp := time.Now().UnixNano()
	jobs := []outbound.Job{
		{Type: "text", Text: &outbound.Text{Body: "your order shipped"}},
		{Type: "image", Image: &outbound.Media{Link: ref("photo.jpg")}},
		{Type: "sticker", Sticker: &outbound.Media{Link: ref("sticker.webp")}},
		{Type: "image", Image: &outbound.Media{Link: ref("missing.jpg")}},
	}
	brJob := outbound.Job{JobID: fmt.Sprintf("iamcheck-%d-br", stamp), TenantID: connector.DemoTenantID, PhoneNumberID: connector.DemoPhoneNumberID,
		To: "+" + brWaID[:4] + "9" + brWaID[4:], Type: "text", Text: &outbound.Text{Body: "oi"}}
	// The first send answers a server error: the job is retried.
	h.Sim.AddFault(graphsim.Fault{Code: 131000, To: contact, Count: 1})
	api := sqs.NewFromConfig(h.Emulator.Config())
	for i := range jobs {
		j := &jobs[i]
		j.JobID = fmt.Sprintf("iamcheck-%d-%d", stamp, i)
		j.TenantID, j.PhoneNumberID, j.To = connector.DemoTenantID, connector.DemoPhoneNumberID, "+"+contact
		body, _ := json.Marshal(j)
		if _, err := api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(h.Stack.Names.Ref["OutboundQueue"]),
			MessageBody: aws.String(string(body)), MessageGroupId: aws.String(j.GroupID()), MessageDeduplicationId: aws.String(j.JobID)}); err != nil {
			t.Fatal(err)
		}
	}
	if body, err := json.Marshal(brJob); err != nil {
		t.Fatal(err)
	} else if _, err := api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(h.Stack.Names.Ref["OutboundQueue"]),
		MessageBody: aws.String(string(body)), MessageGroupId: aws.String(brJob.GroupID()), MessageDeduplicationId: aws.String(brJob.JobID)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Brazilian job accepted", func() bool {
		return hasEvent(h, func(e event.Event) bool {
			return e.Outbound != nil && e.Outbound.JobID == brJob.JobID && e.Type == event.TypeOutboundAccepted
		})
	})
	// Jobs the core hands to the management API instead of the queue: a
	// text, and a photo it uploaded through an upload URL.
	token := apiToken(t, h)
	apiJobs := []outbound.Job{
		{JobID: fmt.Sprintf("iamcheck-%d-api", stamp), Type: "text", Text: &outbound.Text{Body: "sent through the API"}},
		{JobID: fmt.Sprintf("iamcheck-%d-api-upload", stamp), Type: "image", Image: &outbound.Media{Link: uploadMedia(t, h, token, "image/jpeg", "\xff\xd8\xff\xe0 uploaded")}},
		// A template job: checked against the catalog before it is queued.
		{JobID: fmt.Sprintf("iamcheck-%d-api-template", stamp), Type: "template", Template: &outbound.Template{Name: "hello_world", Language: outbound.TemplateLanguage{Code: "en_US"}}},
	}
	// The template catalog the scheduled sync filled (feedSamples).
	apiGet(t, h, token, "/v1/tenants/"+connector.DemoTenantID+"/templates?status=APPROVED")
	// A template created through the API (recorded in the catalog at
	// once), then deleted (removed from it).
	tplName := fmt.Sprintf("iamcheck_%d", stamp)
	apiPost(t, h, token, "/v1/tenants/"+connector.DemoTenantID+"/templates", map[string]any{"name": tplName, "language": "en_US",
		"category": "UTILITY", "components": []map[string]any{{"type": "BODY", "text": "Checked by iamcheck"}}}, http.StatusCreated, nil)
	apiDelete(t, h, token, "/v1/tenants/"+connector.DemoTenantID+"/templates/"+tplName)
	// The tenant's numbers, read from Meta with the tenant's own token.
	apiGet(t, h, token, "/v1/tenants/"+connector.DemoTenantID+"/phone-numbers")
	numberPath := "/v1/tenants/" + connector.DemoTenantID + "/phone-numbers/" + connector.DemoPhoneNumberID
	apiPost(t, h, token, numberPath+"/profile", map[string]any{"about": "Checked by iamcheck", "vertical": "RETAIL",
		"profile_picture": uploadMedia(t, h, token, "image/jpeg", "\xff\xd8\xff\xe0 logo")}, http.StatusOK, nil)
	apiGet(t, h, token, numberPath+"/profile")
	apiPost(t, h, token, numberPath+"/blocked-users", map[string]any{"users": []string{"+" + contact}}, http.StatusOK, nil)
	apiGet(t, h, token, numberPath+"/blocked-users")
	// The suppression list: a contact added, read, listed and removed;
	// the opt-out settings read, and set (to the defaults).
	suppressions := "/v1/tenants/" + connector.DemoTenantID + "/suppressions"
	apiPost(t, h, token, suppressions, map[string]string{"contact": "+16315550199", "note": "iamcheck"}, http.StatusCreated, nil)
	apiGet(t, h, token, suppressions+"/16315550199")
	apiGet(t, h, token, suppressions+"?limit=10")
	apiDelete(t, h, token, suppressions+"/16315550199")
	apiGet(t, h, token, "/v1/tenants/"+connector.DemoTenantID+"/opt-out")
	apiSend(t, h, http.MethodPut, token, "/v1/tenants/"+connector.DemoTenantID+"/opt-out", map[string]any{"enabled": true}, http.StatusOK, nil)
	// A campaign: created (stored, its runner woken), listed, read,
	// paused, resumed and cancelled.
	var cmp struct {
		ID string `json:"id"`
	}
	apiPost(t, h, token, "/v1/tenants/"+connector.DemoTenantID+"/campaigns", map[string]any{"name": "iamcheck",
		"phone_number_id": connector.DemoPhoneNumberID, "template": map[string]string{"name": "hello_world", "language": "en_US"},
		"audience": "s3://" + h.Stack.Functions["ApiFunction"].Env["DATA_BUCKET"] + "/tenants/" + connector.DemoTenantID + "/campaigns/iamcheck.csv",
		"start_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)}, http.StatusCreated, &cmp)
	// A run command ahead of the start (a duplicate fire): the runner
	// puts it back to sleep until start_at.
	if _, err := sqs.NewFromConfig(h.Emulator.Config()).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(h.Stack.Names.Ref["CampaignQueue"]),
		MessageBody: aws.String(`{"tenant_id":"` + connector.DemoTenantID + `","campaign_id":"` + cmp.ID + `"}`)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the runner putting the scheduled campaign back to sleep", func() bool {
		return slices.ContainsFunc(rec.Calls(), func(c iamcheck.Call) bool {
			return c.Function == "CampaignFunction" && c.Action == "sqs:SendMessage" && strings.Contains(c.Resource, "CampaignQueue")
		})
	})
	apiGet(t, h, token, "/v1/tenants/"+connector.DemoTenantID+"/campaigns")
	apiGet(t, h, token, "/v1/tenants/"+connector.DemoTenantID+"/campaigns/"+cmp.ID)
	for _, action := range []string{"pause", "resume", "cancel"} {
		apiPost(t, h, token, "/v1/tenants/"+connector.DemoTenantID+"/campaigns/"+cmp.ID+"/"+action, nil, http.StatusOK, nil)
	}
	// A campaign run to its end by the runner: an audience of two rows
	// (one queued, one duplicate, one invalid, listed in the report).
	bucket = h.Stack.Functions["ApiFunction"].Env["DATA_BUCKET"]
	audienceKey := "tenants/" + connector.DemoTenantID + "/campaigns/iamcheck-run.jsonl"
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(audienceKey),
		Body: strings.NewReader(`{"to":"+` + contact + `"}` + "\n" + `{"to":"+` + contact + `"}` + "\n" + `{"to":"+` + contact + `","body.1":"x"}` + "\n")}); err != nil {
		t.Fatal(err)
	}
	var run struct {
		ID string `json:"id"`
	}
	apiPost(t, h, token, "/v1/tenants/"+connector.DemoTenantID+"/campaigns", map[string]any{"name": "iamcheck run",
		"phone_number_id": connector.DemoPhoneNumberID, "template": map[string]string{"name": "hello_world", "language": "en_US"},
		"audience": "s3://" + bucket + "/" + audienceKey}, http.StatusCreated, &run)
	eventually(t, "the campaign run to its end", func() bool {
		return slices.ContainsFunc(rec.Calls(), func(c iamcheck.Call) bool {
			return c.Function == "CampaignFunction" && c.Action == "s3:PutObject"
		}) && slices.ContainsFunc(rec.Calls(), func(c iamcheck.Call) bool {
			return c.Function == "CampaignFunction" && c.Action == "sqs:SendMessage" && strings.Contains(c.Resource, "OutboundQueue")
		})
	})
	for _, j := range apiJobs {
		j.PhoneNumberID, j.To = connector.DemoPhoneNumberID, "+"+contact
		postJob(t, h, token, j)
		j.TenantID = connector.DemoTenantID
		jobs = append(jobs, j)
	}
	eventually(t, "every job's result, a status of the text job, both videos handled", func() bool {
		var textWAMID string
		for _, j := range jobs {
			found := false
			for _, e := range coreEvents(h) {
				if e.Outbound != nil && e.Outbound.JobID == j.JobID {
					found = true
					if j.Type == "text" {
						textWAMID = e.Outbound.MessageID
					}
				}
			}
			if !found {
				return false
			}
		}
		return textWAMID != "" &&
			hasEvent(h, func(e event.Event) bool { return e.Status != nil && e.Status.MessageID == textWAMID }) &&
			hasEvent(h, func(e event.Event) bool {
				return e.Media != nil && e.Media.MessageID == videoWAMID && e.Type == event.TypeMediaReady
			}) &&
			slices.ContainsFunc(rec.Calls(), func(c iamcheck.Call) bool { return c.Action == "s3:AbortMultipartUpload" })
	})

	// The core sends the text job again: the sender's claim finds the job
	// record, and reads it to answer without a second send.
	again := jobs[0]
	body, _ := json.Marshal(again)
	if _, err := api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(h.Stack.Names.Ref["OutboundQueue"]),
		MessageBody: aws.String(string(body)), MessageGroupId: aws.String(again.GroupID()), MessageDeduplicationId: aws.String(again.JobID + "-again")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the sender reading the repeated job's record", func() bool {
		return slices.ContainsFunc(rec.Calls(), func(c iamcheck.Call) bool {
			return c.Function == "SenderFunction" && c.Action == "dynamodb:GetItem" && slices.Contains(c.Context["dynamodb:LeadingKeys"], "job#"+again.TenantID+"#"+again.JobID)
		})
	})
}

// apiToken gets a management API token from the local issuer.
func apiToken(t *scenarioT, h *connector.Handle) string {
	resp, err := http.PostForm(h.SinkURL+"/oauth/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {coresink.ClientID}, "client_secret": {coresink.ClientSecret}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("no token from the local issuer: %d %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}

// apiPost posts body to a management API path and decodes the answer
// into out, failing unless the status is want.
func apiPost(t *scenarioT, h *connector.Handle, token, path string, body any, want int, out any) {
	apiSend(t, h, http.MethodPost, token, path, body, want, out)
}

// apiSend sends body with method to a management API path and decodes
// the answer into out, failing unless the status is want.
func apiSend(t *scenarioT, h *connector.Handle, method, token, path string, body any, want int, out any) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, h.APIURL+path, strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d", method, path, resp.StatusCode, want)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

// apiGet gets a management API path and fails unless it answers 200.
func apiGet(t *scenarioT, h *connector.Handle, token, path string) {
	req, _ := http.NewRequest(http.MethodGet, h.APIURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, want 200", path, resp.StatusCode)
	}
}

// apiDelete deletes a management API path and fails unless it answers 200.
func apiDelete(t *scenarioT, h *connector.Handle, token, path string) {
	req, _ := http.NewRequest(http.MethodDelete, h.APIURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE %s: %d, want 200", path, resp.StatusCode)
	}
}

// postJob hands a job of the demo tenant to the management API.
func postJob(t *scenarioT, h *connector.Handle, token string, j outbound.Job) {
	apiPost(t, h, token, "/v1/tenants/"+connector.DemoTenantID+"/messages", j, http.StatusAccepted, nil)
}

// uploadMedia gets an upload URL from the management API, PUTs body to it
// and returns the s3:// reference.
func uploadMedia(t *scenarioT, h *connector.Handle, token, contentType, body string) string {
	var up struct {
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		S3URI   string            `json:"s3_uri"`
	}
	apiPost(t, h, token, "/v1/tenants/"+connector.DemoTenantID+"/media-uploads",
		map[string]any{"kind": "image", "content_type": contentType, "content_length": len(body)}, http.StatusOK, &up)
	req, _ := http.NewRequest(http.MethodPut, up.URL, strings.NewReader(body))
	for k, v := range up.Headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT to the upload URL: %s", resp.Status)
	}
	return up.S3URI
}

func simInbound(t *scenarioT, h *connector.Handle, body string) string {
	resp, err := http.Post(h.GraphURL+"/_sim/inbound", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res graphsim.InboundResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /_sim/inbound %s: %d %v %s", body, resp.StatusCode, err, res.Error)
	}
	return res.WAMID
}

func coreEvents(h *connector.Handle) []event.Event {
	var out []event.Event
	for _, raw := range h.Sink.Events() {
		var e event.Event
		if json.Unmarshal(raw, &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

func hasEvent(h *connector.Handle, f func(event.Event) bool) bool {
	return slices.ContainsFunc(coreEvents(h), f)
}

// eventually polls cond until it holds, for at most two minutes.
func eventually(t *scenarioT, what string, cond func() bool) {
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (t *scenarioT) Fatal(args ...any) {
	t.failed = true
	t.T.Fatal(args...)
}

func (t *scenarioT) Fatalf(format string, args ...any) {
	t.failed = true
	t.T.Fatalf(format, args...)
}

// TestTemplateGrantsWhatFunctionsUse runs every function through the
// scenario and holds template.yaml's policies to the calls: each call is
// allowed by its function's own statements, and each grant is used.
func TestTemplateGrantsWhatFunctionsUse(t *testing.T) {
	calls, st := recorded(t)
	policies, err := iamcheck.Policies(st.Template, deployed(st))
	if err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		dump(t, calls)
	}
	for _, f := range iamcheck.Check(policies, calls, waivers) {
		t.Error(f)
	}
}

func dump(t *testing.T, calls []iamcheck.Call) {
	seen := map[string]bool{}
	var lines []string
	for _, c := range calls {
		s := c.Function + " " + generalize(c).String()
		if !seen[s] {
			seen[s] = true
			lines = append(lines, s)
		}
	}
	sort.Strings(lines)
	t.Logf("%d calls, %d kinds:\n%s", len(calls), len(lines), strings.Join(lines, "\n"))
}

// generalize keeps a call's key prefix only, for the dump.
func generalize(c iamcheck.Call) iamcheck.Call {
	ctx := map[string][]string{}
	for k, vs := range c.Context {
		for _, v := range vs {
			if i := strings.LastIndexAny(v, "#/"); i >= 0 {
				v = v[:i+1] + "…"
			}
			ctx[k] = append(ctx[k], v)
		}
	}
	c.Context = ctx
	if i := strings.Index(c.Resource, ":::"); i >= 0 {
		if j := strings.LastIndex(c.Resource, "/"); j > i {
			c.Resource = c.Resource[:j+1] + "…"
		}
	}
	return c
}

// TestTemplateCheckFails proves the check bites: each case changes a copy
// of template.yaml the way a careless edit would, and the check must
// report it against the same recorded calls.
func TestTemplateCheckFails(t *testing.T) {
	calls, st := recorded(t)
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(t *testing.T, tmpl *stack.Template)
		want   string
	}{
		{"the sender's job records no longer granted", removeStatement("SenderFunction", "Jobs"), "SenderFunction: not allowed: dynamodb:PutItem arn:aws:dynamodb:us-east-1:000000000000:table/StateTable"},
		{"the webhook cannot store on the inbound queue", removeStatement("WebhookFunction", "StoreInbound"), "WebhookFunction: not allowed: sqs:SendMessage"},
		{"the media function cannot tell a missing object", removeStatement("MediaFunction", "TellMissingMedia"), "MediaFunction: not allowed: s3:ListBucket"},
		{"the bridge cannot read the core secret", removeStatement("BridgeFunction", "ReadCoreSecret"), "BridgeFunction: not allowed: secretsmanager:GetSecretValue"},
		{"the API cannot queue jobs", removeStatement("ApiFunction", "QueueJobs"), "ApiFunction: not allowed: sqs:SendMessage"},
		{"the API cannot sign uploads", removeStatement("ApiFunction", "SignMediaUploads"), "ApiFunction: not allowed: s3:PutObject"},
		{"onboarding cannot store the token", removeStatement("ApiFunction", "WriteTenantSecrets"), "ApiFunction: not allowed: secretsmanager:PutSecretValue"},
		{"onboarding may overwrite webhook-side secrets", addAction("ApiFunction", "CreateWebhookSecrets", "secretsmanager:PutSecretValue"), "statement CreateWebhookSecrets grants action secretsmanager:PutSecretValue"},
		{"onboarding state narrowed to jobs", setLeadingKeys("ApiFunction", "OnboardingState", "job#*"), "ApiFunction: not allowed: dynamodb:PutItem"},
		{"the status function's message records narrowed to job references", setLeadingKeys("StatusFunction", "MessageRecords", "jobref#*"), "StatusFunction: not allowed: dynamodb:UpdateItem"},
		{"a Scan added to the inbound registry read", addAction("InboundFunction", "ReadRegistry", "dynamodb:Scan"), "InboundFunction: statement ReadRegistry grants action dynamodb:Scan, which no call uses"},
		{"a read added to the webhook's parking", addAction("WebhookFunction", "ParkUnroutable", "s3:GetObject"), "statement ParkUnroutable grants action s3:GetObject"},
		{"multipart part listing granted again", addAction("MediaFunction", "StoreTenantMedia", "s3:ListMultipartUploadParts"), "grants action s3:ListMultipartUploadParts"},
		{"the status function may rewrite tenant items", setLeadingKeys("StatusFunction", "SetThroughput", "phone#*", "tenant#*"), `statement SetThroughput grants ForAllValues:StringLike dynamodb:LeadingKeys "tenant#*"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := stack.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			tt.mutate(t, tmpl)
			policies, err := iamcheck.Policies(tmpl, deployed(st))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range iamcheck.Check(policies, calls, waivers) {
				got = append(got, f.String())
			}
			if !slices.ContainsFunc(got, func(f string) bool { return strings.Contains(f, tt.want) }) {
				t.Errorf("findings %q\nwant one containing %q", got, tt.want)
			}
		})
	}
}

// statement returns the statement list of fn's inline policy and the
// index of the statement sid in it.
func statement(t *testing.T, tmpl *stack.Template, fn, sid string) ([]any, int) {
	t.Helper()
	policies, _ := tmpl.Resources[fn].Properties["Policies"].([]any)
	for _, p := range policies {
		m, _ := p.(map[string]any)
		list, _ := m["Statement"].([]any)
		for i, s := range list {
			if sm, ok := s.(map[string]any); ok && sm["Sid"] == sid {
				return list, i
			}
		}
	}
	t.Fatalf("%s has no statement %s", fn, sid)
	return nil, 0
}

func removeStatement(fn, sid string) func(*testing.T, *stack.Template) {
	return func(t *testing.T, tmpl *stack.Template) {
		list, i := statement(t, tmpl, fn, sid)
		list[i] = map[string]any{"Ref": "AWS::NoValue"}
	}
}

func addAction(fn, sid, action string) func(*testing.T, *stack.Template) {
	return func(t *testing.T, tmpl *stack.Template) {
		list, i := statement(t, tmpl, fn, sid)
		s := list[i].(map[string]any)
		switch a := s["Action"].(type) {
		case string:
			s["Action"] = []any{a, action}
		case []any:
			s["Action"] = append(a, action)
		}
	}
}

func setLeadingKeys(fn, sid string, prefixes ...string) func(*testing.T, *stack.Template) {
	return func(t *testing.T, tmpl *stack.Template) {
		list, i := statement(t, tmpl, fn, sid)
		var vals []any
		for _, p := range prefixes {
			vals = append(vals, p)
		}
		list[i].(map[string]any)["Condition"] = map[string]any{"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": vals}}
	}
}

// tokenHealth gives the scheduled token check a tenant whose token
// expires in two days and one whose token expired (both from Embedded
// Signups in the simulator), so it warns, records an outage and tells the
// core.
func tokenHealth(t *scenarioT, h *connector.Handle) {
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(h.Emulator.Config())
	reg := &tenant.Registry{API: dynamodb.NewFromConfig(h.Emulator.Config()), Table: h.Stack.Names.Ref["TenantsTable"]}
	prefix := h.Stack.Functions["SenderFunction"].Env["TENANT_SECRET_PREFIX"]
	stamp := time.Now().UnixNano() % 1e9
	for i, name := range []string{"expiring", "expired"} {
		waba, pn := fmt.Sprintf("31%013d", stamp*10+int64(i)), fmt.Sprintf("32%013d", stamp*10+int64(i))
		su, err := h.Sim.AddSignup(graphsim.Signup{WABAID: waba, PhoneNumberID: pn, TokenTTL: "48h"})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(h.GraphURL + "/v23.0/oauth/access_token?" + url.Values{"client_id": {graphsim.DefaultAppID},
			"client_secret": {connector.PlatformAppSecret}, "code": {su.Code}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if name == "expired" {
			if err := h.Sim.ChangeToken(out.AccessToken, time.Now().Add(-time.Hour), false); err != nil {
				t.Fatal(err)
			}
		}
		id := fmt.Sprintf("tokens-%s-%d", name, stamp)
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(prefix + id),
			SecretString: aws.String(`{"access_token":"` + out.AccessToken + `"}`)}); err != nil {
			t.Fatal(err)
		}
		if err := reg.Put(ctx, tenant.Tenant{ID: id, Status: tenant.StatusActive, SecretID: prefix + id},
			[]tenant.Number{{PhoneNumberID: pn, TenantID: id, WABAID: waba}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Built["TemplatesFunction"].Scheduled(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"}); err != nil {
		t.Fatalf("scheduled templates run: %v", err)
	}
	eventually(t, "account.token_expiring and account.token_invalid at the core", func() bool {
		return hasEvent(h, func(e event.Event) bool { return e.Type == "account.token_expiring" }) &&
			hasEvent(h, func(e event.Event) bool {
				return e.Type == "account.token_invalid" && strings.HasPrefix(e.TenantID, "tokens-expired-")
			})
	})
}

// onboarding takes a company from an Embedded Signup code to a tenant
// through POST /v1/onboarding (its scope granted by the core's identity
// provider first). Its sending secret exists already (kept when an
// earlier tenant of that id was deleted), so the token is written as a
// new version of it.
func onboarding(t *scenarioT, h *connector.Handle) {
	ctx := context.Background()
	stamp := time.Now().UnixNano() % 1e9
	waba, pn := fmt.Sprintf("33%013d", stamp), fmt.Sprintf("34%013d", stamp)
	su, err := h.Sim.AddSignup(graphsim.Signup{WABAID: waba, PhoneNumberID: pn})
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("onboarded-%d", stamp)
	prefix := h.Stack.Functions["ApiFunction"].Env["TENANT_SECRET_PREFIX"]
	if _, err := secretsmanager.NewFromConfig(h.Emulator.Config()).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(prefix + id), SecretString: aws.String(`{"access_token":"kept-from-before"}`)}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(h.SinkURL+"/_core/tenants", "application/json", strings.NewReader(`{"tenant_id":"`+id+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	token := apiToken(t, h)
	var st struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	apiPost(t, h, token, "/v1/onboarding", map[string]string{"code": su.Code, "waba_id": waba, "phone_number_id": pn,
		"tenant_id": id, "tenant_name": "Onboarded by iamcheck"}, http.StatusCreated, &st)
	apiGet(t, h, token, "/v1/onboarding/"+st.ID)
	eventually(t, "account.onboarded at the core", func() bool {
		return hasEvent(h, func(e event.Event) bool { return e.Type == "account.onboarded" && e.TenantID == id })
	})
}
