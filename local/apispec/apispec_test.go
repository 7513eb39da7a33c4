package apispec_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/local/apispec"
)

func load(t *testing.T) *apispec.Spec {
	t.Helper()
	s, err := apispec.Load("../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDocumentIsValidOpenAPI31(t *testing.T) {
	if err := load(t).Document(); err != nil {
		t.Fatal(err)
	}
}

// TestCheckBites: answers and requests that break the document are
// reported, so a test calling through Check notices drift.
func TestCheckBites(t *testing.T) {
	s := load(t)
	job := `{"job_id":"j1","tenant_id":"demo","to":"+5511999990001","type":"text","text":{"body":"hi"}}`
	json := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name, path, reqBody string
		checkRequest        bool
		status              int
		body                string
		wantErr             string
	}{
		{"a good call", "/v1/tenants/demo/messages", job, true, 202, `{"job_id":"j1"}`, ""},
		{"an answer with a field the document lacks", "/v1/tenants/demo/messages", job, true, 202, `{"job_id":"j1","queued":true}`, "answer 202"},
		{"an error without details", "/v1/tenants/demo/messages", job, false, 400, `{"error":{"code":"invalid_job","message":"x"}}`, "answer 400"},
		{"a status the document does not list", "/v1/tenants/demo/messages", job, false, 418, `{"error":{"code":"x","message":"x","details":[]}}`, "418"},
		{"a job with an unknown key", "/v1/tenants/demo/messages", strings.Replace(job, `"type"`, `"kind":1,"type"`, 1), true, 202, `{"job_id":"j1"}`, "the request"},
		{"an upload answer without s3_uri", "/v1/tenants/demo/media-uploads", `{"kind":"image","content_type":"image/jpeg","content_length":3}`, true, 200,
			`{"url":"http://x/y","method":"PUT","headers":{},"expires_at":"2026-12-05T08:15:00Z"}`, "answer 200"},
		{"an upload answer", "/v1/tenants/demo/media-uploads", `{"kind":"image","content_type":"image/jpeg","content_length":3}`, true, 200,
			`{"url":"http://x/y","method":"PUT","headers":{"Content-Type":"image/jpeg"},"s3_uri":"s3://b/tenants/demo/outbound/a.jpg","expires_at":"2026-12-05T08:15:00Z"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", "http://127.0.0.1:3000"+tt.path, bytes.NewReader([]byte(tt.reqBody)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer x")
			err := s.Check(req, []byte(tt.reqBody), tt.checkRequest, tt.status, json, []byte(tt.body))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one about %q", err, tt.wantErr)
			}
		})
	}
}
