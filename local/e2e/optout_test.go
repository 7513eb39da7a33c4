package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// TestOptOutByKeywordThenRemoved: a contact answers "BAJA" (Meta's
// reference text webhook, signed as Meta signs it); the core hears the
// message and contact.opted_out, the contact gets the Spanish
// confirmation, and the management API lists it. A template job to it then
// fails as suppressed without reaching Meta and a campaign skips it
// (counted suppressed); once the core removes it, the next template job
// is sent.
func TestOptOutByKeywordThenRemoved(t *testing.T) {
	h := startOutbound(t)
	requireWired(t, connector.Functions, "TemplatesFunction", "ApiFunction", "CampaignFunction")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The catalog the sender checks template jobs against.
	if err := h.Built["TemplatesFunction"].Scheduled(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"}); err != nil {
		t.Fatalf("scheduled template sync: %v", err)
	}
	contact, wamid := newContact(), newWAMID()
	body := referencePayload(t, contact, wamid)
	for old, new := range map[string]string{`"body": "Does it come in another color?"`: `"body": "BAJA"`, `"1749416383"`: fmt.Sprintf("%q", fmt.Sprint(time.Now().Unix()))} {
		if !bytes.Contains(body, []byte(old)) {
			t.Fatalf("testdata/text.json no longer contains %s", old)
		}
		body = bytes.ReplaceAll(body, []byte(old), []byte(new))
	}
	// The simulator, as Meta, lets the business answer a user who wrote.
	h.Sim.OpenWindow(connector.DemoPhoneNumberID, contact, time.Now())
	if got := postWebhook(t, h.APIURL+"/webhook", body, whatsapp.Sign(connector.PlatformAppSecret, body)); got != http.StatusOK {
		t.Fatalf("POST /webhook = %d, want 200", got)
	}

	var optedOut event.Event
	eventually(t, "contact.opted_out at the core sink", time.Minute, func() bool {
		for _, e := range ofContact(coreEvents(t, h, "?type="+event.TypeContactOptedOut), contact) {
			optedOut = e
			return true
		}
		return false
	})
	if o := optedOut.OptOut; o == nil || o.Reason != "keyword" || o.Keyword != "BAJA" || o.MessageID != wamid || o.ReplyJobID == "" || o.AlreadySuppressed {
		t.Fatalf("contact.opted_out %+v, want keyword BAJA of %s with a reply job", optedOut.OptOut, wamid)
	}
	if got := len(withMessage(sinkEvents(t, h, "?type=message.received"), wamid)); got != 1 {
		t.Errorf("%d message.received of the BAJA message, want 1", got)
	}
	if ev := awaitResult(t, h, optedOut.OptOut.ReplyJobID); ev.Type != event.TypeOutboundAccepted {
		t.Fatalf("confirmation reply: %s %+v, want outbound.accepted", ev.Type, ev.Outbound)
	}
	if ms := simMessages(t, h, contact); len(ms) != 1 || ms[0].Type != "text" || !strings.Contains(string(ms[0].Body), "No recibirás") {
		t.Errorf("messages to the contact at the simulator: %+v, want the Spanish confirmation", ms)
	}

	tok := apiToken(t, h, "tenant:"+connector.DemoTenantID)
	list := "/v1/tenants/" + connector.DemoTenantID + "/suppressions"
	var entry struct {
		Contact       string `json:"contact"`
		Reason        string `json:"reason"`
		Keyword       string `json:"keyword"`
		PhoneNumberID string `json:"phone_number_id"`
		MessageID     string `json:"message_id"`
	}
	r := apiCall{Method: "GET", Path: list + "/%2B" + contact, Token: tok}.do(t, h)
	if err := json.Unmarshal(r.Body, &entry); r.Status != http.StatusOK || err != nil {
		t.Fatalf("GET %s/+%s: %d %s", list, contact, r.Status, r.Body)
	}
	if entry.Contact != contact || entry.Reason != "keyword" || entry.Keyword != "BAJA" || entry.MessageID != wamid || entry.PhoneNumberID != connector.DemoPhoneNumberID {
		t.Errorf("entry %s, want the contact's keyword opt-out of %s", r.Body, wamid)
	}
	if r := (apiCall{Method: "GET", Path: list + "?limit=1000", Token: tok}.do(t, h)); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"contact":"`+contact+`"`) {
		t.Errorf("GET %s: %d %s, want the contact listed", list, r.Status, r.Body)
	}
	if r := (apiCall{Method: "GET", Path: "/v1/tenants/" + acme.ID + "/suppressions/" + contact, Token: apiToken(t, h, "tenant:"+acme.ID)}.do(t, h)); r.Status != http.StatusNotFound {
		t.Errorf("acme reading demo's entry: %d %s, want 404", r.Status, r.Body)
	}

	template := func(name string) outbound.Job {
		return outbound.Job{JobID: newJobID(name), TenantID: connector.DemoTenantID, PhoneNumberID: connector.DemoPhoneNumberID,
			To: "+" + contact, Type: outbound.TypeTemplate, Template: &outbound.Template{Name: "hello_world", Language: outbound.TemplateLanguage{Code: "en_US"}}}
	}
	before := simCalls(h)
	refused := template("optout-refused")
	postJobAPI(t, h, refused)
	if ev := awaitResult(t, h, refused.JobID); ev.Type != event.TypeOutboundFailed || ev.Outbound.Reason != event.ReasonSuppressed || ev.Outbound.Retryable == nil || *ev.Outbound.Retryable {
		t.Fatalf("template job to the suppressed contact: %s %+v, want outbound.failed suppressed, not retryable", ev.Type, ev.Outbound)
	}
	if got := simCalls(h) - before; got != 0 {
		t.Errorf("the simulator answered %d send(s) for a job to a suppressed contact", got)
	}

	// A campaign to the suppressed contact and another: the runner skips
	// the first (counted suppressed) and queues the second.
	other := newContact()
	key := "tenants/" + connector.DemoTenantID + "/campaigns/optout-" + fmt.Sprint(time.Now().UnixNano()) + ".csv"
	bucket := h.Stack.Names.Ref["DataBucket"]
	if _, err := s3.NewFromConfig(h.Emulator.Config(), func(o *s3.Options) { o.UsePathStyle = true }).PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("to\n+" + contact + "\n+" + other + "\n"), ContentType: aws.String("text/csv"),
	}); err != nil {
		t.Fatal(err)
	}
	r = apiCall{Method: "POST", Path: "/v1/tenants/" + connector.DemoTenantID + "/campaigns", Token: tok, Body: map[string]any{
		"name": "opt-out", "phone_number_id": connector.DemoPhoneNumberID, "template": map[string]string{"name": "hello_world", "language": "en_US"},
		"audience": "s3://" + bucket + "/" + key, "start_at": nil, "rate_limit": nil, "client_ref": "opt-out"}}.do(t, h)
	var cmp struct {
		ID     string `json:"id"`
		State  string `json:"state"`
		Counts struct {
			Rows       int `json:"rows"`
			Suppressed int `json:"suppressed"`
			Queued     int `json:"queued"`
		} `json:"counts"`
	}
	if err := json.Unmarshal(r.Body, &cmp); r.Status != http.StatusCreated || err != nil {
		t.Fatalf("POST campaign: %d %s", r.Status, r.Body)
	}
	eventually(t, "the campaign completed", 2*time.Minute, func() bool {
		r := apiCall{Method: "GET", Path: "/v1/tenants/" + connector.DemoTenantID + "/campaigns/" + cmp.ID, Token: tok}.do(t, h)
		return json.Unmarshal(r.Body, &cmp) == nil && cmp.State == "completed"
	})
	if cmp.Counts.Rows != 2 || cmp.Counts.Suppressed != 1 || cmp.Counts.Queued != 1 {
		t.Errorf("campaign counts %+v, want 2 rows, 1 suppressed, 1 queued", cmp.Counts)
	}
	eventually(t, "the campaign's template at the other contact", time.Minute, func() bool { return len(simMessages(t, h, other)) == 1 })
	if ms := simMessages(t, h, contact); len(ms) != 1 {
		t.Errorf("messages to the suppressed contact at the simulator: %+v, want only the confirmation", ms)
	}

	r = apiCall{Method: "DELETE", Path: list + "/" + contact, Token: tok}.do(t, h)
	if r.Status != http.StatusOK || string(r.Body) != `{"contact":"`+contact+`","removed":true}` {
		t.Fatalf("DELETE: %d %s, want removed", r.Status, r.Body)
	}
	if r := (apiCall{Method: "GET", Path: list + "/" + contact, Token: tok}.do(t, h)); r.Status != http.StatusNotFound {
		t.Errorf("GET after DELETE: %d %s, want 404", r.Status, r.Body)
	}
	sent := template("optout-sent")
	postJobAPI(t, h, sent)
	if ev := awaitResult(t, h, sent.JobID); ev.Type != event.TypeOutboundAccepted {
		t.Fatalf("template job after the removal: %s %+v, want outbound.accepted", ev.Type, ev.Outbound)
	}
	if ms := simMessages(t, h, contact); len(ms) != 2 || ms[1].Type != "template" {
		t.Errorf("messages to the contact at the simulator: %+v, want the confirmation and the template", ms)
	}
	checkContract(t, h)
}
