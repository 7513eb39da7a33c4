package outbound

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// placeholders of Meta's examples and the concrete values both sides use.
var placeholders = strings.NewReplacer(
	"{{Recipient-Phone-Number}}", "16505551234",
	"{{Recipient-WA-Phone-Number}}", "16505551234",
	"{{Flow-ID}}", "1187349582342095",
	"{{Flow-Name}}", "appointment_booking",
	// Send Multi Product Message leaves its header type a placeholder; a
	// multi-product header is text.
	"<HEADER_TYPE>", "text",
	"<MSGID_OF_PREV_MSG>", "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA",
	"<MSGID_OF_MSG_YOU_ARE_REPLYING_TO>", "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA",
	"<AUDIO_OBJECT_ID>", "1227829768162607",
	"<IMAGE_OBJECT_ID>", "1227829768162607",
	"<DOCUMENT_OBJECT_ID>", "1227829768162607",
	"<VIDEO_OBJECT_ID>", "1227829768162607",
	"<MEDIA_OBJECT_ID>", "1227829768162607",
	// "Send Sample Issue Resolution Template" gives text parameters as
	// booleans; the spec's own TextParameter makes text a string, and so
	// does the job contract.
	`"text": true`, `"text": "true"`,
	`"text": false`, `"text": "false"`,
)

var placeholderLink = regexp.MustCompile(`<?http\(s\)://([a-z-]+)>?`)

func loadExample(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := placeholders.Replace(string(raw))
	s = placeholderLink.ReplaceAllString(s, "https://media.example.com/$1")
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// jobFor wraps an example's content in a job, as the core would write it:
// the content object is Meta's, copied as is.
func jobFor(t *testing.T, ex map[string]any) []byte {
	t.Helper()
	job := map[string]any{"job_id": "job-1", "tenant_id": "demo", "phone_number_id": "100000000000001", "client_ref": "crm-1"}
	if st, ok := ex["status"]; ok && st == "read" {
		job["to"] = "16505551234"
		kind := "read"
		if _, typing := ex["typing_indicator"]; typing {
			kind = "typing"
		}
		job["type"] = kind
		job[kind] = map[string]any{"message_id": ex["message_id"]}
	} else {
		typ, _ := ex["type"].(string)
		if typ == "" {
			for _, k := range Types {
				if _, ok := ex[k]; ok {
					typ = k
				}
			}
		}
		job["to"], job["type"], job[typ] = ex["to"], typ, ex[typ]
		if ctx, ok := ex["context"].(map[string]any); ok {
			job["reply_to"] = ctx["message_id"]
		}
	}
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBuildMatchesSpecExamples builds a job from each of Meta's sendMessage
// request examples and compares the body with the example. Where an example
// leaves out recipient_type or type (both required by the spec's
// BaseMessageProperties), the expectation gets them filled in, since the
// builder always sends them.
func TestBuildMatchesSpecExamples(t *testing.T) {
	files, err := filepath.Glob("testdata/spec/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			want := loadExample(t, f)
			body := jobFor(t, want)
			job, err := Decode(body)
			if err != nil {
				t.Fatalf("Decode(%s): %v", body, err)
			}
			if err := Validate(job); err != nil {
				t.Fatalf("Validate(%s): %v", body, err)
			}
			req, err := Build(job)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if _, receipt := want["status"]; !receipt {
				if _, ok := want["recipient_type"]; !ok {
					want["recipient_type"] = "individual"
				}
				if _, ok := want["type"]; !ok {
					want["type"] = job.Type
				}
			}
			b, _ := json.Marshal(req)
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				wb, _ := json.Marshal(want)
				t.Errorf("body mismatch\n got: %s\nwant: %s", b, wb)
			}
		})
	}
}

func TestBuildHandwritten(t *testing.T) {
	tests := []struct {
		name string
		job  string
		want string
	}{
		{
			name: "reaction removed keeps an empty emoji",
			job:  `{"job_id":"j","tenant_id":"demo","to":"+5511999990001","type":"reaction","reaction":{"message_id":"wamid.A","emoji":""}}`,
			want: `{"messaging_product":"whatsapp","recipient_type":"individual","to":"+5511999990001","type":"reaction","reaction":{"message_id":"wamid.A","emoji":""}}`,
		},
		{
			// Meta's interactive CTA URL message documentation; the spec has no example for it.
			name: "call-to-action URL",
			job: `{"job_id":"j","tenant_id":"demo","to":"5511999990001","type":"interactive","interactive":{"type":"cta_url",
				"header":{"type":"text","text":"Available Dates"},"body":{"text":"Tap the button below to see available dates."},
				"footer":{"text":"Dates subject to change."},"action":{"name":"cta_url","parameters":{"display_text":"See Dates","url":"https://www.luckyshrub.com?clickID=kqDGWd24Q5TRwoEQTICY7W1JKoXvaZOXWAS7h1P76s0R7Paec4"}}}}`,
			want: `{"messaging_product":"whatsapp","recipient_type":"individual","to":"5511999990001","type":"interactive","interactive":{"type":"cta_url",
				"header":{"type":"text","text":"Available Dates"},"body":{"text":"Tap the button below to see available dates."},
				"footer":{"text":"Dates subject to change."},"action":{"name":"cta_url","parameters":{"display_text":"See Dates","url":"https://www.luckyshrub.com?clickID=kqDGWd24Q5TRwoEQTICY7W1JKoXvaZOXWAS7h1P76s0R7Paec4"}}}}`,
		},
		{
			name: "mark as read",
			job:  `{"job_id":"j","tenant_id":"demo","to":"5511999990001","type":"read","read":{"message_id":"wamid.B"}}`,
			want: `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.B"}`,
		},
		{
			name: "text with URL preview replying to a message",
			job:  `{"job_id":"j","tenant_id":"demo","to":"5511999990001","type":"text","reply_to":"wamid.C","text":{"body":"see https://example.com","preview_url":true}}`,
			want: `{"messaging_product":"whatsapp","recipient_type":"individual","to":"5511999990001","type":"text","context":{"message_id":"wamid.C"},"text":{"body":"see https://example.com","preview_url":true}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job, err := Decode([]byte(tt.job))
			if err != nil {
				t.Fatal(err)
			}
			if err := Validate(job); err != nil {
				t.Fatal(err)
			}
			req, err := Build(job)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(req)
			var got, want any
			_ = json.Unmarshal(b, &got)
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Build(%s)\n got: %s\nwant: %s", tt.job, b, tt.want)
			}
		})
	}
}

func TestBuildRefusesUnresolvedS3(t *testing.T) {
	job, err := Decode([]byte(`{"job_id":"j","tenant_id":"demo","to":"5511999990001","type":"image","image":{"link":"s3://bucket/tenants/demo/a.jpg"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(job); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(job); err == nil {
		t.Error("Build sent an s3:// reference to Meta")
	}
}

// TestTemplateHeaderMediaResolved decodes template jobs whose header media
// is an s3:// reference, refuses to build them unresolved, and builds them
// once resolved to a media id or a link, keeping the other fields.
func TestTemplateHeaderMediaResolved(t *testing.T) {
	const body = `{"job_id":"j","tenant_id":"demo","to":"5511999990001","type":"template","template":{"name":"invoice","language":{"code":"en_US"},
		"components":[{"type":"header","parameters":[{"type":"document","document":{"link":"s3://data/tenants/demo/inv.pdf","filename":"inv.pdf"}}]},
		{"type":"body","parameters":[{"type":"text","text":"Ana"}]}]}}`
	tests := []struct {
		name     string
		id, link string
		want     string // the header parameter as built
	}{
		{name: "to a media id", id: "1227829768162607",
			want: `{"document":{"filename":"inv.pdf","id":"1227829768162607"},"type":"document"}`},
		{name: "to a presigned link", link: "https://data.s3.amazonaws.com/tenants/demo/inv.pdf?X-Amz-Signature=abc",
			want: `{"document":{"filename":"inv.pdf","link":"https://data.s3.amazonaws.com/tenants/demo/inv.pdf?X-Amz-Signature=abc"},"type":"document"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job, err := Decode([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			if err := Validate(job); err != nil {
				t.Fatal(err)
			}
			if _, err := Build(job); err == nil {
				t.Fatal("Build sent an s3:// template header to Meta")
			}
			refs := job.MediaRefs()
			if len(refs) != 1 || refs[0].Kind != TypeDocument || !refs[0].Media.IsS3() || refs[0].Media.Filename != "inv.pdf" {
				t.Fatalf("media refs %+v", refs)
			}
			refs[0].Resolved(tt.id, tt.link)
			r, err := Build(job)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(r.Template.Components[0].Parameters[0])
			if err != nil {
				t.Fatal(err)
			}
			var gotV, wantV any
			_ = json.Unmarshal(got, &gotV)
			_ = json.Unmarshal([]byte(tt.want), &wantV)
			if !reflect.DeepEqual(gotV, wantV) {
				t.Errorf("header parameter %s, want %s", got, tt.want)
			}
		})
	}
}
