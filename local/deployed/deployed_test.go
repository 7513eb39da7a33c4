package deployed

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// EnvStack names the deployed stack to check; empty runs the checks
// against the local connector.
const EnvStack = "WACLOUD_DEPLOYED_STACK"

// target is where the checks run: its AWS configuration, the stack's
// outputs, and the wacloudctl flags that address it.
type target struct {
	cfg     aws.Config
	outputs map[string]string
	ctl     []string
	// wait bounds every wait for asynchronous work (queues, Lambda).
	wait time.Duration
}

func newTarget(t *testing.T) target {
	t.Helper()
	ctx := context.Background()
	if name := os.Getenv(EnvStack); name != "" {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			t.Fatalf("load the AWS configuration: %v", err)
		}
		if cfg.Region == "" {
			t.Fatal("no AWS region: set AWS_REGION (make test-aws REGION=…)")
		}
		out, err := cloudformation.NewFromConfig(cfg).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		if err != nil || len(out.Stacks) == 0 {
			t.Fatalf("read stack %s: %v", name, err)
		}
		o := map[string]string{}
		for _, v := range out.Stacks[0].Outputs {
			o[aws.ToString(v.OutputKey)] = aws.ToString(v.OutputValue)
		}
		return target{cfg: cfg, outputs: o, ctl: []string{"--stack", name, "--region", cfg.Region}, wait: 3 * time.Minute}
	}

	logFile, err := os.CreateTemp(t.TempDir(), "connector-*.log")
	if err != nil {
		t.Fatal(err)
	}
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	h, err := connector.Start(startCtx, connector.Options{
		AWSAddr: "-", APIAddr: "127.0.0.1:0", GraphAddr: "127.0.0.1:0", SinkAddr: "127.0.0.1:0", Log: logFile,
	})
	if err != nil {
		t.Fatalf("start the local connector: %v", err)
	}
	t.Cleanup(h.Close)
	ref := h.Stack.Names.Ref
	// The outputs of template.yaml this suite reads, as the local stack
	// names them.
	o := map[string]string{
		"WebhookUrl":       h.APIURL + "/webhook",
		"StateTableName":   ref["StateTable"],
		"OutboundQueueUrl": ref["OutboundQueue"],
		"OutboundDLQUrl":   ref["OutboundDLQ"],
	}
	return target{cfg: h.Emulator.Config(), outputs: o, ctl: []string{"--endpoint-url", h.AWSURL}, wait: time.Minute}
}

func (tg target) output(t *testing.T, key string) string {
	t.Helper()
	v := tg.outputs[key]
	if v == "" {
		t.Fatalf("the stack has no output %s", key)
	}
	return v
}

// ctl runs the wacloudctl binary against the target.
type ctl struct {
	bin   string
	flags []string
}

func buildCtl(t *testing.T, tg target) ctl {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wacloudctl")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/tucanlink/wacloud/cmd/wacloudctl").CombinedOutput()
	if err != nil {
		t.Fatalf("build wacloudctl: %v\n%s", err, out)
	}
	return ctl{bin: bin, flags: tg.ctl}
}

func (c ctl) run(stdin string, args ...string) (string, error) {
	// Common flags go after the command's words, before its own flags.
	words := 2
	if len(args) < words {
		words = len(args)
	}
	full := append(append(append([]string{}, args[:words]...), c.flags...), args[words:]...)
	cmd := exec.Command(c.bin, full...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// testTenant is the throw-away tenant the suite onboards.
type testTenant struct {
	id, phone, waba                     string
	accessToken, appSecret, verifyToken string
}

func newTenant(t *testing.T) testTenant {
	t.Helper()
	return testTenant{
		id: "e2e-" + randomHex(t, 6),
		// Meta's ids are 15 or more digits; one starting with 9 followed by
		// random digits is no real number's.
		phone: "9" + randomDigits(t, 14), waba: "9" + randomDigits(t, 14),
		accessToken: "EAAE2E" + randomHex(t, 24), appSecret: randomHex(t, 16), verifyToken: "verify-" + randomHex(t, 8),
	}
}

func (tt testTenant) secrets() []string {
	return []string{tt.accessToken, tt.appSecret, tt.verifyToken}
}

// TestDeployed onboards a tenant with its own Meta app and checks the
// stack's promises end to end, then deletes what it created.
func TestDeployed(t *testing.T) {
	tg := newTarget(t)
	c := buildCtl(t, tg)
	tt := newTenant(t)
	creds, _ := json.Marshal(map[string]string{"access_token": tt.accessToken, "app_secret": tt.appSecret, "verify_token": tt.verifyToken})
	out, err := c.run(string(creds), "tenant", "add", "--id", tt.id, "--phone-number-id", tt.phone, "--waba-id", tt.waba, "--own-app", "--credentials-stdin")
	if err != nil {
		t.Fatalf("wacloudctl tenant add: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := c.run("", "tenant", "delete", "--id", tt.id, "--yes"); err != nil {
			t.Errorf("wacloudctl tenant delete %s: %v\n%s", tt.id, err, out)
		}
	})
	noSecrets(t, "wacloudctl tenant add", out, tt)
	hook := tg.output(t, "WebhookUrl") + "/" + tt.id

	t.Run("verification", func(t *testing.T) {
		cases := []struct {
			name, token string
			want        int
		}{
			{"right token answers the challenge", tt.verifyToken, http.StatusOK},
			{"wrong token is refused", "not-" + tt.verifyToken, http.StatusForbidden},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {tc.token}, "hub.challenge": {"1158201444"}}
				status, body := get(t, hook+"?"+q.Encode())
				if status != tc.want {
					t.Fatalf("GET verification: status %d, want %d (body %q)", status, tc.want, body)
				}
				if tc.want == http.StatusOK && body != "1158201444" {
					t.Errorf("GET verification: body %q, want the challenge", body)
				}
				noSecrets(t, "verification answer", body, tt)
			})
		}
	})

	ddb := dynamodb.NewFromConfig(tg.cfg)
	state := tg.output(t, "StateTableName")

	t.Run("signed post is stored once, a bad signature nothing", func(t *testing.T) {
		bad, badKey := payload(t, tt)
		status, body := post(t, hook, bad, whatsapp.Sign("not-"+tt.appSecret, bad))
		if status != http.StatusUnauthorized {
			t.Fatalf("POST with a wrong signature: status %d, want 401 (body %q)", status, body)
		}
		noSecrets(t, "401 answer", body, tt)

		good, goodKey := payload(t, tt)
		for i := range 2 { // Meta delivers at least once
			if status, body := post(t, hook, good, whatsapp.Sign(tt.appSecret, good)); status != http.StatusOK {
				t.Fatalf("signed POST %d: status %d, want 200 (body %q)", i+1, status, body)
			}
		}
		// The inbound function claims the event (its only dedup write;
		// there is no completion) once it resolved the tenant.
		waitFor(t, tg.wait, "the signed message claimed by the inbound function", func() (bool, error) {
			st, err := claimStatus(ddb, state, goodKey)
			return st == "claimed", err
		})
		// The unsigned post came first: had it been stored, it would
		// have been processed by now.
		if st, err := claimStatus(ddb, state, badKey); err != nil || st != "" {
			t.Errorf("the wrongly signed message left state %q (err %v), want none", st, err)
		}
	})

	t.Run("invalid outbound job is dead-lettered with its reason", func(t *testing.T) {
		q := sqs.NewFromConfig(tg.cfg)
		jobID := "e2e-invalid-" + randomHex(t, 6)
		to := "+1555" + randomDigits(t, 7)
		job, _ := json.Marshal(map[string]any{
			"job_id": jobID, "tenant_id": tt.id, "phone_number_id": tt.phone, "to": to,
			"type": "text", "text": map[string]string{"body": ""},
		})
		_, err := q.SendMessage(context.Background(), &sqs.SendMessageInput{
			QueueUrl: aws.String(tg.output(t, "OutboundQueueUrl")), MessageBody: aws.String(string(job)),
			MessageGroupId: aws.String(tt.id + ":" + tt.phone + ":" + to), MessageDeduplicationId: aws.String(jobID),
		})
		if err != nil {
			t.Fatalf("enqueue the job: %v", err)
		}
		dlq := tg.output(t, "OutboundDLQUrl")
		var reason string
		waitFor(t, tg.wait, "the job on the outbound dead-letter queue", func() (bool, error) {
			m, err := takeMessage(q, dlq, jobID)
			if err != nil || m == nil {
				return false, err
			}
			reason = aws.ToString(m.MessageAttributes[queue.ReasonAttribute].StringValue)
			return true, nil
		})
		if reason == "" {
			t.Errorf("dead-lettered job has no %s attribute", queue.ReasonAttribute)
		}
		noSecrets(t, "dead-letter reason", reason, tt)
	})
}

// payload is the reference text payload addressed to tt's number with a
// fresh wamid, and the deduplication key the inbound function claims for
// it.
func payload(t *testing.T, tt testTenant) ([]byte, string) {
	t.Helper()
	raw, err := os.ReadFile("testdata/text.json")
	if err != nil {
		t.Fatal(err)
	}
	wamid := "wamid.E2E" + randomHex(t, 16)
	body := strings.NewReplacer(
		"106540352242922", tt.phone, "419561257915477", tt.waba,
		"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", wamid,
	).Replace(string(raw))
	units, err := whatsapp.Split([]byte(body))
	if err != nil || len(units) != 1 {
		t.Fatalf("split the payload: %d units, %v", len(units), err)
	}
	evs, err := event.Normalize(units[0], tt.id)
	if err != nil || len(evs) == 0 {
		t.Fatalf("normalize the payload: %v", err)
	}
	return []byte(body), evs[0].EventID
}

// claimStatus reads the inbound function's claim of key ("" when none).
func claimStatus(ddb *dynamodb.Client, table, key string) (string, error) {
	out, err := ddb.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "event#" + key}},
	})
	if err != nil {
		return "", fmt.Errorf("read claim %s: %w", key, err)
	}
	if s, ok := out.Item["status"].(*ddbtypes.AttributeValueMemberS); ok {
		return s.Value, nil
	}
	return "", nil
}

// takeMessage receives from queueURL, deletes and returns the message whose
// body contains marker, and makes every other message visible again at
// once (the dead-letter queue may hold other messages an operator needs).
func takeMessage(q *sqs.Client, queueURL, marker string) (*sqstypes.Message, error) {
	ctx := context.Background()
	out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 2, VisibilityTimeout: 30,
		MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", queueURL, err)
	}
	var found *sqstypes.Message
	for i, m := range out.Messages {
		if found == nil && strings.Contains(aws.ToString(m.Body), marker) {
			found = &out.Messages[i]
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return nil, fmt.Errorf("delete the dead-lettered job: %w", err)
			}
			continue
		}
		_, _ = q.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
	}
	return found, nil
}

func waitFor(t *testing.T, limit time.Duration, what string, done func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, err := done()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last error: %v)", limit, what, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func post(t *testing.T, u string, body []byte, signature string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whatsapp.SignatureHeader, signature)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// noSecrets fails when text holds one of tt's credentials.
func noSecrets(t *testing.T, where, text string, tt testTenant) {
	t.Helper()
	for _, s := range tt.secrets() {
		if strings.Contains(text, s) {
			t.Errorf("%s contains a credential of the tenant", where)
		}
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func randomDigits(t *testing.T, n int) string {
	t.Helper()
	var sb strings.Builder
	for range n {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			t.Fatal(err)
		}
		sb.WriteByte(byte('0' + d.Int64()))
	}
	return sb.String()
}
