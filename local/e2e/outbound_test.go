package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/queue"
)

var jobSeq atomic.Int64

// startOutbound is start for tests that need the sender and the status
// function too.
func startOutbound(t *testing.T) *connector.Handle {
	t.Helper()
	requireWired(t, connector.Functions, "SenderFunction", "StatusFunction", "MediaFunction")
	return start(t)
}

// newJobID returns a job id unique to this run.
func newJobID(name string) string {
	return fmt.Sprintf("e2e-%s-%d-%d", name, time.Now().UnixNano(), jobSeq.Add(1))
}

// textJob is a free-form text job from the demo tenant to contact, as the
// core writes it (the recipient with "+", as E.164 allows).
func textJob(jobID, contact, text string) outbound.Job {
	personal(text)
	return outbound.Job{JobID: jobID, TenantID: connector.DemoTenantID, PhoneNumberID: connector.DemoPhoneNumberID,
		To: "+" + contact, Type: "text", ClientRef: "crm-" + jobID, Text: &outbound.Text{Body: text}}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// enqueue sends one job to the outbound queue through the SDK, grouped
// and deduplicated as the sender's contract says (dedup overrides the
// deduplication id, to send one job id twice).
func enqueue(t *testing.T, h *connector.Handle, j outbound.Job, dedup string) {
	t.Helper()
	if dedup == "" {
		dedup = j.JobID
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := sqs.NewFromConfig(h.Emulator.Config()).SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(h.Stack.Names.Ref["OutboundQueue"]), MessageBody: aws.String(string(mustJSON(j))),
		MessageGroupId: aws.String(j.GroupID()), MessageDeduplicationId: aws.String(dedup),
	})
	if err != nil {
		t.Fatalf("send job %s to the outbound queue: %v", j.JobID, err)
	}
}

// awsCLI runs the aws CLI against the connector's embedded AWS, with
// throwaway credentials and no user configuration; it skips the test when
// the CLI is not installed.
func awsCLI(t *testing.T, h *connector.Handle, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not installed; the SDK variant covers the same path")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--endpoint-url", h.AWSURL, "--region", "us-east-1", "--output", "json"}, args...)...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_PAGER=",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// enqueueCLI sends a job exactly as the README tells the core
// to: aws sqs send-message with the group and deduplication ids and the
// job in a file.
func enqueueCLI(t *testing.T, h *connector.Handle, j outbound.Job) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "job.json")
	if err := os.WriteFile(file, mustJSON(j), 0o600); err != nil {
		t.Fatal(err)
	}
	out := awsCLI(t, h, "sqs", "send-message", "--queue-url", h.Stack.Names.Ref["OutboundQueue"],
		"--message-group-id", j.GroupID(), "--message-deduplication-id", j.JobID, "--message-body", "file://"+file)
	if !strings.Contains(string(out), "MessageId") {
		t.Fatalf("aws sqs send-message answered %s", out)
	}
}

// coreEvents returns the events the core sink received (filtered by
// query, e.g. "?type=outbound.accepted"), in arrival order.
func coreEvents(t *testing.T, h *connector.Handle, query string) []event.Event {
	t.Helper()
	resp, err := http.Get(h.SinkURL + "/events" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var evs []event.Event
	if err := json.NewDecoder(resp.Body).Decode(&evs); err != nil {
		t.Fatalf("GET /events: %v", err)
	}
	return evs
}

// ofContact keeps the events about one contact, in arrival order.
func ofContact(evs []event.Event, waID string) []event.Event {
	var out []event.Event
	for _, e := range evs {
		if e.Contact != nil && e.Contact.WaID == waID {
			out = append(out, e)
		}
	}
	return out
}

// jobResults returns the outbound.* events of a job.
func jobResults(evs []event.Event, jobID string) []event.Event {
	var out []event.Event
	for _, e := range evs {
		if e.Outbound != nil && e.Outbound.JobID == jobID {
			out = append(out, e)
		}
	}
	return out
}

// awaitResult waits for the job's outbound.accepted or outbound.failed
// event and returns it.
func awaitResult(t *testing.T, h *connector.Handle, jobID string) event.Event {
	t.Helper()
	var got []event.Event
	eventually(t, "the result of job "+jobID+" at the core sink", time.Minute, func() bool {
		got = jobResults(coreEvents(t, h, ""), jobID)
		return len(got) > 0
	})
	return got[0]
}

// openWindow makes contact write to the demo number and waits until the
// core has the message: from then on the sender must find the window open.
func openWindow(t *testing.T, h *connector.Handle, contact string) {
	t.Helper()
	wamid := simInbound(t, h, contact, "hi, I have a question")
	eventually(t, "the contact's message at the core sink", time.Minute, func() bool {
		return len(withMessage(sinkEvents(t, h, "?type=message.received"), wamid)) == 1
	})
}

// postJSON posts body to url and fails the test unless the answer is 2xx.
func postJSON(t *testing.T, url, body string) []byte {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s = %d: %s", url, resp.StatusCode, b)
	}
	return b
}

// simMessage is a message the Graph simulator accepted (GET /_sim/messages).
type simMessage struct {
	WAMID         string          `json:"wamid"`
	PhoneNumberID string          `json:"phone_number_id"`
	To            string          `json:"to"`
	Type          string          `json:"type"`
	Body          json.RawMessage `json:"body"`
}

func simMessages(t *testing.T, h *connector.Handle, to string) []simMessage {
	t.Helper()
	resp, err := http.Get(h.GraphURL + "/_sim/messages?to=" + to)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ms []simMessage
	if err := json.NewDecoder(resp.Body).Decode(&ms); err != nil {
		t.Fatalf("GET /_sim/messages: %v", err)
	}
	return ms
}

// checkAccepted checks that the job was accepted exactly once: one
// outbound.accepted event naming the job and the simulator's wamid, and
// one message at the simulator with the job's text. It returns the wamid.
func checkAccepted(t *testing.T, h *connector.Handle, j outbound.Job, text string) string {
	t.Helper()
	res := awaitResult(t, h, j.JobID)
	if res.Type != event.TypeOutboundAccepted {
		t.Fatalf("job %s: %s (%+v), want %s", j.JobID, res.Type, res.Outbound, event.TypeOutboundAccepted)
	}
	o := res.Outbound
	if o.ClientRef != j.ClientRef || o.MessageType != "text" || !strings.HasPrefix(o.MessageID, "wamid.") {
		t.Errorf("outbound = %+v, want client_ref %s, type text and a wamid", o, j.ClientRef)
	}
	if res.TenantID != j.TenantID || res.PhoneNumberID != j.PhoneNumberID || res.Contact == nil || res.Contact.WaID != j.WaID() {
		t.Errorf("event tenant/number/contact = %s/%s/%+v, want %s/%s/%s", res.TenantID, res.PhoneNumberID, res.Contact, j.TenantID, j.PhoneNumberID, j.WaID())
	}
	var sent []simMessage
	for _, m := range simMessages(t, h, j.WaID()) {
		if m.WAMID == o.MessageID {
			sent = append(sent, m)
		}
	}
	if len(sent) != 1 {
		t.Fatalf("the simulator accepted %d messages with wamid %s, want 1", len(sent), o.MessageID)
	}
	var body struct {
		MessagingProduct string `json:"messaging_product"`
		To, Type         string
		Text             struct{ Body string }
	}
	if err := json.Unmarshal(sent[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.MessagingProduct != "whatsapp" || strings.TrimPrefix(body.To, "+") != j.WaID() || body.Type != "text" || body.Text.Body != text {
		t.Errorf("Meta got %s, want the job's text %q to %s", sent[0].Body, text, j.To)
	}
	if sent[0].PhoneNumberID != j.PhoneNumberID {
		t.Errorf("sent from %s, want %s", sent[0].PhoneNumberID, j.PhoneNumberID)
	}
	return o.MessageID
}

// A job the core enqueues reaches Meta and its acceptance reaches the core,
// whether it was enqueued with the aws CLI (as the notes document) or an SDK.
func TestOutboundJobReachesMetaAndCore(t *testing.T) {
	h := startOutbound(t)
	tests := []struct {
		name    string
		enqueue func(*testing.T, *connector.Handle, outbound.Job)
	}{
		{"aws CLI", enqueueCLI},
		{"SDK", func(t *testing.T, h *connector.Handle, j outbound.Job) { enqueue(t, h, j, "") }},
		{"management API", postJobAPI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			contact := newContact()
			openWindow(t, h, contact)
			text := "Olá! Your order 1234 has shipped (" + tt.name + ")."
			j := textJob(newJobID("out"), contact, text)
			tt.enqueue(t, h, j)
			checkAccepted(t, h, j, text)
		})
	}
	checkContract(t, h)
}

// A job that breaks the contract never reaches Meta: the core hears why and
// the job waits on the dead-letter queue with the reason.
func TestInvalidJobFailsAndIsDeadLettered(t *testing.T) {
	h := startOutbound(t)
	contact := newContact()
	openWindow(t, h, contact)
	j := textJob(newJobID("invalid"), contact, strings.Repeat("a", 4097)) // Meta's text limit is 4096
	enqueue(t, h, j, "")

	res := awaitResult(t, h, j.JobID)
	if res.Type != event.TypeOutboundFailed || res.Outbound.Reason != event.ReasonInvalidJob ||
		res.Outbound.Retryable == nil || *res.Outbound.Retryable || res.Outbound.ClientRef != j.ClientRef {
		t.Errorf("result = %s %+v, want outbound.failed invalid_job, not retryable, with the client ref", res.Type, res.Outbound)
	}
	if !strings.Contains(res.Outbound.Details, "4096") {
		t.Errorf("details %q do not say what is wrong", res.Outbound.Details)
	}

	dlq := h.Stack.Names.Ref["OutboundDLQ"]
	api := sqs.NewFromConfig(h.Emulator.Config())
	var dead *sqstypes.Message
	eventually(t, "the job on the OutboundDLQ", time.Minute, func() bool {
		out, err := api.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(dlq), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"}, VisibilityTimeout: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			if strings.Contains(aws.ToString(m.Body), `"job_id":"`+j.JobID+`"`) {
				dead = &m
				return true
			}
		}
		return false
	})
	reason := aws.ToString(dead.MessageAttributes[queue.ReasonAttribute].StringValue)
	if !strings.Contains(reason, "4096") {
		t.Errorf("dead-letter reason %q does not say what is wrong", reason)
	}
	// Kept in the job's group, so a redrive keeps the recipient's order.
	if got := dead.Attributes["MessageGroupId"]; got != j.GroupID() {
		t.Errorf("dead-lettered in group %q, want the job's %q", got, j.GroupID())
	}
	if got := aws.ToString(dead.Body); got != string(mustJSON(j)) {
		t.Errorf("dead-lettered body differs from the job:\n%s", got)
	}
	if got := simMessages(t, h, contact); len(got) != 0 {
		t.Errorf("the invalid job reached Meta: %+v", got)
	}

	// A recipient the validation quotes: its dead-letter reason (and, see
	// TestMain, every log line) masks the number.
	bad := textJob(newJobID("invalid-to"), contact+"00000", "texto do cliente 42") // 16 digits
	enqueue(t, h, bad, "")
	if res := awaitResult(t, h, bad.JobID); res.Outbound == nil || res.Outbound.Reason != event.ReasonInvalidJob {
		t.Fatalf("result = %+v, want invalid_job", res)
	}
	eventually(t, "the bad recipient's job on the OutboundDLQ", time.Minute, func() bool {
		out, err := api.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(dlq), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"}, VisibilityTimeout: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			if strings.Contains(aws.ToString(m.Body), `"job_id":"`+bad.JobID+`"`) {
				for k, v := range m.MessageAttributes {
					if strings.Contains(aws.ToString(v.StringValue), contact) {
						t.Errorf("dead-letter attribute %s = %q holds the recipient", k, aws.ToString(v.StringValue))
					}
				}
				return true
			}
		}
		return false
	})
	checkContract(t, h)
}

// The core may enqueue a job twice (its retry after the queue's
// five-minute deduplication window): Meta gets it once and the core hears
// of it once.
func TestSameJobTwiceIsSentOnce(t *testing.T) {
	h := startOutbound(t)
	contact := newContact()
	openWindow(t, h, contact)
	j := textJob(newJobID("twice"), contact, "sent once")
	enqueue(t, h, j, j.JobID+"-first")
	enqueue(t, h, j, j.JobID+"-retry")
	// The same FIFO group: once a later job's result is at the core, both
	// copies have been handled.
	marker := textJob(newJobID("marker"), contact, "marker")
	enqueue(t, h, marker, "")
	checkAccepted(t, h, marker, "marker")

	wamid := checkAccepted(t, h, j, "sent once")
	if got := jobResults(coreEvents(t, h, ""), j.JobID); len(got) != 1 {
		t.Errorf("the core got %d results for the job, want 1: %+v", len(got), got)
	}
	var order []string
	for _, m := range simMessages(t, h, contact) {
		order = append(order, m.WAMID)
	}
	if len(order) != 2 || order[0] != wamid {
		t.Errorf("the simulator accepted %v for the contact, want the job's %s once, then the marker", order, wamid)
	}
}
