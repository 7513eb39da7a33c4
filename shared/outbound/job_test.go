package outbound

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/shared/fault"
)

func TestDecodeIsStrict(t *testing.T) {
	const head = `{"job_id":"j","tenant_id":"demo","type":"text",`
	tests := []struct {
		name, body string
		wantErr    string // "" means it decodes
	}{
		{"exact keys", head + `"to":"+5511999990011","text":{"body":"hi"}}`, ""},
		{"To beside to", head + `"to":"+5511999990011","To":"+5511999990012","text":{"body":"hi"}}`, `keys "to" and "To" differ only in case`},
		{"To alone", head + `"To":"+5511999990012","text":{"body":"hi"}}`, `unknown key "To" (key names are case-sensitive: "to")`},
		{"to twice", head + `"to":"+5511999990011","text":{"body":"hi"},"to":"+5511999990012"}`, `key "to" appears twice`},
		{"nested case variant", head + `"to":"+5511999990011","text":{"Body":"hi"}}`, `$.text: unknown key "Body"`},
		{"unknown key in a template parameter", `{"job_id":"j","tenant_id":"demo","to":"+5511999990011","type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"a","extra":{"link":"s3://d/tenants/x/a"}}]}]}}`,
			`$.template.components[0].parameters[0]: unknown key "extra"`},
		{"unknown key in media", head + `"to":"+5511999990011","text":{"body":"hi"},"image":{"link":"https://e.com/a.jpg","url":"x"}}`, `$.image: unknown key "url"`},
		{"two jobs in one body", head + `"to":"+5511999990011","text":{"body":"hi"}}{}`, "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.body))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Decode(%s) = %v", tt.body, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || fault.ClassOf(err) != fault.Invalid {
				t.Fatalf("Decode(%s) = %v, want invalid with %q", tt.body, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "5511999990012") {
				t.Errorf("the error quotes a recipient: %v", err)
			}
		})
	}
}

func TestPeekIgnoresAmbiguousKeys(t *testing.T) {
	tests := []struct {
		name, body          string
		jobID, tenantID, to string
	}{
		{"plain", `{"job_id":"j","tenant_id":"demo","to":"+5511999990011"}`, "j", "demo", "+5511999990011"},
		{"case variant is not the key", `{"job_id":"j","Tenant_ID":"other","to":"+5511999990011"}`, "j", "", "+5511999990011"},
		{"to twice", `{"job_id":"j","tenant_id":"demo","to":"+5511999990011","to":"+5511999990012"}`, "j", "demo", ""},
		{"To beside to", `{"job_id":"j","tenant_id":"demo","To":"+5511999990012","to":"+5511999990011"}`, "j", "demo", ""},
		{"not an object", `[1]`, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, tid, _, to, _ := Peek([]byte(tt.body))
			if id != tt.jobID || tid != tt.tenantID || to != tt.to {
				t.Errorf("Peek(%s) = %q, %q, %q; want %q, %q, %q", tt.body, id, tid, to, tt.jobID, tt.tenantID, tt.to)
			}
		})
	}
}

func TestIsS3Link(t *testing.T) {
	for link, want := range map[string]bool{
		"s3://b/k": true, "S3://b/k": true, "s3:/b/k": false, "https://b/k": false, "s3:": false, "": false, " s3://b/k": false,
	} {
		if got := IsS3Link(link); got != want {
			t.Errorf("IsS3Link(%q) = %v, want %v", link, got, want)
		}
	}
}

// TestRecipientForms: a job names its recipient by phone number (to) or by
// business-scoped user id (recipient); the request carries it in Meta's
// field for that form, and the FIFO group names it either way, within
// SQS's 128 characters.
func TestRecipientForms(t *testing.T) {
	long := "US." + strings.Repeat("7", 128)
	tests := []struct {
		name          string
		to, recipient string
		wantTo        string
		wantRecipient string
		wantGroup     string
	}{
		{"phone number", "+5511999990001", "", "+5511999990001", "", "demo:100000000000001:5511999990001"},
		{"business-scoped user id", "", "US.13491208655302741918", "", "US.13491208655302741918", "demo:100000000000001:US.13491208655302741918"},
		{"parent business-scoped user id", "", "US.ENT.11815799212886844830", "", "US.ENT.11815799212886844830", "demo:100000000000001:US.ENT.11815799212886844830"},
		{"long business-scoped user id", "", long, "", long, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := Job{JobID: "j1", TenantID: "demo", PhoneNumberID: "100000000000001", To: tt.to, Recipient: tt.recipient,
				Type: TypeText, Text: &Text{Body: "hi"}}
			if err := Validate(j); err != nil {
				t.Fatal(err)
			}
			r, err := Build(j)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(r)
			var body map[string]any
			_ = json.Unmarshal(b, &body)
			if got, _ := body["to"].(string); got != tt.wantTo {
				t.Errorf("to = %q, want %q (%s)", got, tt.wantTo, b)
			}
			if got, _ := body["recipient"].(string); got != tt.wantRecipient {
				t.Errorf("recipient = %q, want %q (%s)", got, tt.wantRecipient, b)
			}
			g := j.GroupID()
			if tt.wantGroup != "" && g != tt.wantGroup {
				t.Errorf("group = %q, want %q", g, tt.wantGroup)
			}
			if len(g) > 128 {
				t.Errorf("group %q has %d characters, over SQS's 128", g, len(g))
			}
			other := j
			other.Recipient = tt.recipient + "8"
			if tt.recipient != "" && other.GroupID() == g {
				t.Errorf("two recipients share group %q", g)
			}
		})
	}
}

func TestTrafficLane(t *testing.T) {
	cases := []struct {
		name string
		job  Job
		want string
	}{
		{"template defaults to bulk", Job{Type: TypeTemplate}, LaneBulk},
		{"text defaults to interactive", Job{Type: TypeText}, LaneInteractive},
		{"read receipt defaults to interactive", Job{Type: TypeRead}, LaneInteractive},
		{"template named interactive", Job{Type: TypeTemplate, Lane: LaneInteractive}, LaneInteractive},
		{"text named bulk", Job{Type: TypeText, Lane: LaneBulk}, LaneBulk},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.job.TrafficLane(); got != c.want {
				t.Errorf("TrafficLane() = %q, want %q", got, c.want)
			}
		})
	}
}
