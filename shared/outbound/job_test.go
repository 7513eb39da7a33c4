package outbound

import (
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
