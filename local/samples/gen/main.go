// Command gen writes the sample events of the webhook, inbound and bridge
// functions under events/ (the events `sam local invoke -e` and
// `make invoke` take) and their expected outcomes in events/expect.json.
// Payloads are Meta's reference webhooks from local/samples/testdata with
// the business ids replaced by the demo tenant's, signed with the demo app
// secret, so that every sample reaches the demo tenant.
//
//	go run ./local/samples/gen [-root .]
package main

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// Demo tenant of the local connector (docs/design.md).
const (
	demoTenant      = "demo"
	demoPhoneNumber = "100000000000001"
	demoDisplay     = "15550000001"
	demoWABA        = "200000000000001"
	appSecret       = "local-app-secret"
	verifyToken     = "local-verify-token"
	account         = "000000000000"
	region          = "us-east-1"
	// Fixed times keep the output stable from run to run.
	receivedAt = "2026-01-01T00:00:00.000000001Z"
	epochMilli = 1767225600000
)

// Expect is the outcome a sample must have; see local/samples.
type Expect struct {
	Status            int    `json:"status,omitempty"`
	Body              string `json:"body,omitempty"`
	BatchItemFailures *int   `json:"batch_item_failures,omitempty"`
	Note              string `json:"note,omitempty"`
}

func main() {
	root := flag.String("root", ".", "repository root")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

type sample struct {
	path   string
	value  any
	expect Expect
}

func run(root string) error {
	payloads := map[string][]byte{}
	for _, name := range []string{"text", "image", "status_delivered", "message_template_status_update_approved"} {
		b, err := os.ReadFile(filepath.Join(root, "local/samples/testdata", name+".json"))
		if err != nil {
			return err
		}
		if payloads[name], err = demoIDs(b); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	var out []sample
	ok200 := Expect{Status: 200, Body: "ok"}
	zero := 0
	none := Expect{BatchItemFailures: &zero}

	// Webhook: API Gateway HTTP API (payload 2.0) requests.
	out = append(out,
		sample{"webhook/get_verify.json", verifyRequest("/webhook", verifyToken), Expect{Status: 200, Body: "1158201444"}},
		sample{"webhook/get_verify_bad_token.json", verifyRequest("/webhook", "not-the-token"), Expect{Status: 403}},
		sample{"webhook/get_verify_tenant.json", verifyRequest("/webhook/demo", verifyToken), Expect{Status: 200, Body: "1158201444"}},
		sample{"webhook/post_text.json", postRequest("/webhook", payloads["text"], whatsapp.Sign(appSecret, payloads["text"]), false), ok200},
		sample{"webhook/post_image.json", postRequest("/webhook", payloads["image"], whatsapp.Sign(appSecret, payloads["image"]), false), ok200},
		sample{"webhook/post_status_delivered.json", postRequest("/webhook", payloads["status_delivered"], whatsapp.Sign(appSecret, payloads["status_delivered"]), false), ok200},
		sample{"webhook/post_template_status_update.json", postRequest("/webhook", payloads["message_template_status_update_approved"], whatsapp.Sign(appSecret, payloads["message_template_status_update_approved"]), false), ok200},
		sample{"webhook/post_text_base64.json", postRequest("/webhook", payloads["text"], whatsapp.Sign(appSecret, payloads["text"]), true), ok200},
		sample{"webhook/post_text_tenant_route.json", postRequest("/webhook/demo", payloads["text"], whatsapp.Sign(appSecret, payloads["text"]), false), ok200},
		sample{"webhook/post_bad_signature.json", postRequest("/webhook", payloads["text"], whatsapp.Sign("not-the-app-secret", payloads["text"]), false), Expect{Status: 401}},
		sample{"webhook/post_unknown_tenant_route.json", postRequest("/webhook/nobody", payloads["text"], whatsapp.Sign(appSecret, payloads["text"]), false), Expect{Status: 401}},
	)

	// Inbound: SQS batches of webhook units, as the webhook enqueues them.
	units := map[string][]whatsapp.Unit{}
	for name, p := range payloads {
		us, err := whatsapp.Split(p)
		if err != nil {
			return fmt.Errorf("split %s: %w", name, err)
		}
		for i := range us {
			us[i].Route, us[i].ReceivedAt = whatsapp.RoutePlatform, receivedAt
		}
		units[name] = us
	}
	inboundARN := "arn:aws:sqs:" + region + ":" + account + ":InboundQueue.fifo"
	var all []events.SQSMessage
	for _, name := range []string{"text", "image", "status_delivered", "message_template_status_update_approved"} {
		var recs []events.SQSMessage
		for _, u := range units[name] {
			r, err := unitRecord(u, inboundARN, len(all))
			if err != nil {
				return err
			}
			recs = append(recs, r)
			all = append(all, r)
		}
		short := strings.TrimPrefix(name, "message_")
		out = append(out, sample{"inbound/" + short + ".json", events.SQSEvent{Records: recs}, none})
	}
	out = append(out, sample{"inbound/batch_mixed.json", events.SQSEvent{Records: all}, none})
	unknown := units["text"][0]
	unknown.Metadata.PhoneNumberID, unknown.Metadata.DisplayPhoneNumber, unknown.WABAID = "199999999999999", "15559999999", "299999999999999"
	r, err := unitRecord(unknown, inboundARN, 90)
	if err != nil {
		return err
	}
	out = append(out, sample{"inbound/unknown_number.json", events.SQSEvent{Records: []events.SQSMessage{r}},
		Expect{BatchItemFailures: &zero, Note: "parked under parked/, not retried"}})
	out = append(out, sample{"inbound/malformed_body.json", events.SQSEvent{Records: []events.SQSMessage{
		record(`{"v":1,"route":"platform","kind":`, inboundARN, 91, "garbled", "garbled-1"),
	}}, Expect{BatchItemFailures: &zero, Note: "dead-lettered with its reason, not retried"}})

	// Bridge: SQS batches of core events, as the inbound function publishes them.
	coreARN := "arn:aws:sqs:" + region + ":" + account + ":CoreEventsQueue.fifo"
	var evRecs []events.SQSMessage
	for _, name := range []string{"text", "image"} {
		for _, u := range units[name] {
			evs, err := event.Normalize(u, demoTenant)
			if err != nil {
				return fmt.Errorf("normalize %s: %w", name, err)
			}
			for _, ev := range evs {
				m, err := queue.EventMessage(ev)
				if err != nil {
					return err
				}
				rec := record(m.Body, coreARN, 100+len(evRecs), m.GroupID, m.DedupID)
				rec.MessageAttributes = map[string]events.SQSMessageAttribute{}
				for k, v := range m.Attributes {
					rec.MessageAttributes[k] = events.SQSMessageAttribute{DataType: "String", StringValue: ptr(v)}
				}
				evRecs = append(evRecs, rec)
				out = append(out, sample{"bridge/" + strings.ReplaceAll(ev.Type, ".", "_") + "_" + name + ".json",
					events.SQSEvent{Records: []events.SQSMessage{rec}}, none})
			}
		}
	}
	out = append(out, sample{"bridge/batch.json", events.SQSEvent{Records: evRecs}, none})
	out = append(out, sample{"bridge/malformed_body.json", events.SQSEvent{Records: []events.SQSMessage{
		record(`not an event`, coreARN, 199, "demo:garbled", "garbled-2"),
	}}, Expect{BatchItemFailures: &zero, Note: "dead-lettered with its reason, not retried"}})

	return write(root, out)
}

// demoIDs rewrites a reference payload's WABA, phone number id and display
// number to the demo tenant's.
func demoIDs(b []byte) ([]byte, error) {
	var p map[string]any
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	entries, _ := p["entry"].([]any)
	for _, e := range entries {
		em, _ := e.(map[string]any)
		em["id"] = demoWABA
		changes, _ := em["changes"].([]any)
		for _, c := range changes {
			cm, _ := c.(map[string]any)
			v, _ := cm["value"].(map[string]any)
			if md, ok := v["metadata"].(map[string]any); ok {
				md["phone_number_id"], md["display_phone_number"] = demoPhoneNumber, demoDisplay
			}
		}
	}
	return json.Marshal(p)
}

func verifyRequest(path, token string) events.APIGatewayV2HTTPRequest {
	q := map[string]string{"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"}
	req := request("GET", path)
	req.RawQueryString = "hub.mode=subscribe&hub.verify_token=" + token + "&hub.challenge=1158201444"
	req.QueryStringParameters = q
	return req
}

func postRequest(path string, body []byte, signature string, b64 bool) events.APIGatewayV2HTTPRequest {
	req := request("POST", path)
	req.Headers["content-type"] = "application/json"
	req.Headers["content-length"] = fmt.Sprint(len(body))
	req.Headers["x-hub-signature-256"] = signature
	req.Body = string(body)
	if b64 {
		req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return req
}

func request(method, path string) events.APIGatewayV2HTTPRequest {
	routeKey := method + " /webhook"
	var params map[string]string
	if id, ok := strings.CutPrefix(path, "/webhook/"); ok {
		routeKey, params = method+" /webhook/{tenant_id}", map[string]string{"tenant_id": id}
	}
	sum := sha256.Sum256([]byte(method + path))
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: routeKey, RawPath: path,
		Headers: map[string]string{
			"host": "abcdef1234.execute-api.us-east-1.amazonaws.com", "user-agent": "facebookexternalua",
			"accept": "*/*", "x-forwarded-proto": "https", "x-forwarded-port": "443",
		},
		PathParameters: params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: routeKey, AccountID: account, Stage: "$default", APIID: "abcdef1234",
			DomainName: "abcdef1234.execute-api.us-east-1.amazonaws.com", DomainPrefix: "abcdef1234",
			RequestID: hex.EncodeToString(sum[:8]), Time: "01/Jan/2026:00:00:00 +0000", TimeEpoch: epochMilli,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: method, Path: path, Protocol: "HTTP/1.1", SourceIP: "173.252.127.1", UserAgent: "facebookexternalua",
			},
		},
	}
}

// unitRecord wraps a unit as the webhook does (body, group, dedup id).
func unitRecord(u whatsapp.Unit, arn string, n int) (events.SQSMessage, error) {
	body, err := json.Marshal(u)
	if err != nil {
		return events.SQSMessage{}, err
	}
	id := u
	id.ReceivedAt, id.Seq = "", 0
	idb, _ := json.Marshal(id)
	sum := sha256.Sum256(idb)
	return record(string(body), arn, n, u.OrderKey(), hex.EncodeToString(sum[:])), nil
}

func record(body, arn string, n int, group, dedup string) events.SQSMessage {
	md5 := fmt.Sprintf("%x", md5sum(body))
	return events.SQSMessage{
		MessageId:     fmt.Sprintf("00000000-0000-4000-8000-%012d", n+1),
		ReceiptHandle: fmt.Sprintf("AQEB-sample-receipt-handle-%d", n+1),
		Body:          body,
		Md5OfBody:     md5,
		Attributes: map[string]string{
			"ApproximateReceiveCount": "1", "SentTimestamp": fmt.Sprint(epochMilli), "SenderId": account,
			"ApproximateFirstReceiveTimestamp": fmt.Sprint(epochMilli + 100),
			"MessageGroupId":                   group, "MessageDeduplicationId": dedup,
			"SequenceNumber": fmt.Sprintf("1888%016d", n+1),
		},
		EventSource: "aws:sqs", EventSourceARN: arn, AWSRegion: region,
	}
}

func ptr(s string) *string { return &s }

func md5sum(s string) [16]byte { return md5.Sum([]byte(s)) }

// write stores every sample and merges their expectations into
// events/expect.json, keeping other directories' entries.
func write(root string, out []sample) error {
	expectPath := filepath.Join(root, "events", "expect.json")
	expect := map[string]Expect{}
	if b, err := os.ReadFile(expectPath); err == nil {
		if err := json.Unmarshal(b, &expect); err != nil {
			return fmt.Errorf("read %s: %w", expectPath, err)
		}
	}
	for _, dir := range []string{"webhook", "inbound", "bridge"} {
		old, _ := filepath.Glob(filepath.Join(root, "events", dir, "*.json"))
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
		for k := range expect {
			if strings.HasPrefix(k, dir+"/") {
				delete(expect, k)
			}
		}
	}
	for _, s := range out {
		b, err := json.MarshalIndent(s.value, "", "  ")
		if err != nil {
			return err
		}
		p := filepath.Join(root, "events", s.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
			return err
		}
		expect[s.path] = s.expect
	}
	keys := make([]string, 0, len(expect))
	for k := range expect {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Marshal of a map sorts keys already; indent for reviewable diffs.
	b, err := json.MarshalIndent(expect, "", "  ")
	if err != nil {
		return err
	}
	fmt.Printf("wrote %d samples, %d expectations\n", len(out), len(keys))
	return os.WriteFile(expectPath, append(b, '\n'), 0o644)
}
