package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/tucanlink/wacloud/local/apispec"
	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/coresink"
	"github.com/tucanlink/wacloud/shared/outbound"
)

// apiToken asks the local issuer (the core sink) for an access token, as
// the core asks its identity provider: client credentials, the client
// authenticated by HTTP Basic. scope "" asks for every tenant.
func apiToken(t *testing.T, h *connector.Handle, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	req, _ := http.NewRequest(http.MethodPost, h.SinkURL+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(coresink.ClientID, coresink.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn <= 0 {
		t.Fatalf("POST /oauth/token: %d %+v %v", resp.StatusCode, tok, err)
	}
	return tok.AccessToken
}

// apiCall is one call to the management API through the local API
// Gateway front. token "" sends no Authorization header.
type apiCall struct {
	Method, Path, Token string
	Body                any // marshalled as JSON unless a string or nil
	Header              map[string]string
}

type apiResult struct {
	Status int
	Header http.Header
	Body   []byte
}

func (c apiCall) do(t *testing.T, h *connector.Handle) apiResult {
	t.Helper()
	var body io.Reader
	switch b := c.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		body = bytes.NewReader(mustJSON(b))
	}
	req, err := http.NewRequest(c.Method, h.APIURL+c.Path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for k, v := range c.Header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	// Every answer must be one api/openapi.yaml describes, and every
	// request the API accepted one it describes as valid.
	var sent []byte
	if body != nil {
		sent, _ = io.ReadAll(bodyOf(c.Body))
	}
	if err := openAPI(t).Check(req, sent, resp.StatusCode/100 == 2, resp.StatusCode, resp.Header, b); err != nil {
		t.Error(err)
	}
	return apiResult{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func bodyOf(v any) io.Reader {
	if s, ok := v.(string); ok {
		return strings.NewReader(s)
	}
	return bytes.NewReader(mustJSON(v))
}

var (
	specOnce sync.Once
	spec     *apispec.Spec
	specErr  error
)

// openAPI is api/openapi.yaml, loaded once.
func openAPI(t *testing.T) *apispec.Spec {
	t.Helper()
	specOnce.Do(func() { spec, specErr = apispec.Load("../../api/openapi.yaml") })
	if specErr != nil {
		t.Fatal(specErr)
	}
	return spec
}

// apiErrorOf reads the management API's error shape.
func apiErrorOf(t *testing.T, r apiResult) (code string, details []string) {
	t.Helper()
	var body struct {
		Error *struct {
			Code    string   `json:"code"`
			Message string   `json:"message"`
			Details []string `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || body.Error == nil || body.Error.Code == "" || body.Error.Message == "" || body.Error.Details == nil {
		t.Fatalf("%d %s is not {\"error\":{\"code\",\"message\",\"details\"}}: %v", r.Status, r.Body, err)
	}
	return body.Error.Code, body.Error.Details
}

// postJobAPI hands a job to POST /v1/tenants/{tenant_id}/messages with a
// token for every tenant, in the queue's form (tenant_id included).
func postJobAPI(t *testing.T, h *connector.Handle, j outbound.Job) {
	t.Helper()
	r := apiCall{Method: "POST", Path: "/v1/tenants/" + j.TenantID + "/messages", Token: apiToken(t, h, ""), Body: j}.do(t, h)
	var acc struct {
		JobID string `json:"job_id"`
	}
	if err := json.Unmarshal(r.Body, &acc); r.Status != http.StatusAccepted || err != nil || acc.JobID != j.JobID {
		t.Fatalf("POST messages: %d %s, want 202 with job_id %s", r.Status, r.Body, j.JobID)
	}
}

// TestManagementAPIRefusesWithoutItsToken: the /v1 routes answer 401
// without a valid token (API Gateway's answer: the function never runs),
// 403 for a tenant the token does not name; the webhook stays open.
func TestManagementAPIRefusesWithoutItsToken(t *testing.T) {
	h := startOutbound(t)
	path := "/v1/tenants/" + connector.DemoTenantID + "/messages"
	job := textJob(newJobID("api-refused"), newContact(), "never sent")
	job.TenantID = ""
	acmeOnly := apiToken(t, h, "tenant:"+acme.ID)

	for _, tt := range []struct{ name, token string }{
		{"no token", ""},
		{"not a JWT", "not-a-token"},
		{"token with its signature cut", acmeOnly[:strings.LastIndexByte(acmeOnly, '.')+1]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := apiCall{Method: "POST", Path: path, Token: tt.token, Body: job}.do(t, h)
			if r.Status != http.StatusUnauthorized || string(r.Body) != `{"message":"Unauthorized"}` {
				t.Errorf("%d %s, want API Gateway's 401", r.Status, r.Body)
			}
		})
	}
	t.Run("token for another tenant", func(t *testing.T) {
		r := apiCall{Method: "POST", Path: path, Token: acmeOnly, Body: job}.do(t, h)
		if code, _ := apiErrorOf(t, r); r.Status != http.StatusForbidden || code != "forbidden_tenant" {
			t.Errorf("%d %s, want 403 forbidden_tenant", r.Status, r.Body)
		}
	})
	t.Run("the webhook needs no token", func(t *testing.T) {
		resp, err := http.Get(h.APIURL + "/webhook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("webhook verification with a wrong verify token: %d, want the webhook's own 403", resp.StatusCode)
		}
	})
}

// TestManagementAPIRefusesInvalidJobs: the API answers 400 with the
// reasons the sender would give.
func TestManagementAPIRefusesInvalidJobs(t *testing.T) {
	h := startOutbound(t)
	token := apiToken(t, h, "")
	path := "/v1/tenants/" + connector.DemoTenantID + "/messages"
	id := newJobID("api-invalid")
	tests := []struct {
		name, body, code string
		detail           string // one of the details contains it
	}{
		{"recipient not E.164", `{"job_id":"` + id + `","to":"12","type":"text","text":{"body":"x"}}`, "invalid_job", "is not an E.164 number"},
		{"a key in another case", `{"job_id":"` + id + `","to":"+5511999990001","type":"text","text":{"body":"x"},"To":"+5511999990002"}`, "invalid_job", `"To"`},
		{"another tenant in the body", `{"job_id":"` + id + `","tenant_id":"acme","to":"+5511999990001","type":"text","text":{"body":"x"}}`, "tenant_mismatch", "tenant_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := apiCall{Method: "POST", Path: path, Token: token, Body: tt.body}.do(t, h)
			code, details := apiErrorOf(t, r)
			if r.Status != http.StatusBadRequest || code != tt.code || !strings.Contains(strings.Join(details, "\n"), tt.detail) {
				t.Errorf("%d %s, want 400 %s naming %s", r.Status, r.Body, tt.code, tt.detail)
			}
		})
	}
}

// TestMediaUploadThroughTheAPISends: the core asks for an upload URL,
// PUTs the file to it, and sends a job naming the s3_uri through the API;
// Meta (the simulator) fetches the file and the job is accepted.
func TestMediaUploadThroughTheAPISends(t *testing.T) {
	h := startOutbound(t)
	token := apiToken(t, h, "tenant:"+connector.DemoTenantID)
	photo := []byte("\xff\xd8\xff\xe0 a jpeg the core uploaded")
	r := apiCall{Method: "POST", Path: "/v1/tenants/" + connector.DemoTenantID + "/media-uploads", Token: token,
		Body: map[string]any{"kind": "image", "content_type": "image/jpeg", "content_length": len(photo)}}.do(t, h)
	if r.Status != http.StatusOK {
		t.Fatalf("POST media-uploads: %d %s", r.Status, r.Body)
	}
	var up struct {
		URL       string            `json:"url"`
		Method    string            `json:"method"`
		Headers   map[string]string `json:"headers"`
		S3URI     string            `json:"s3_uri"`
		ExpiresAt string            `json:"expires_at"`
	}
	if err := json.Unmarshal(r.Body, &up); err != nil || up.URL == "" || up.ExpiresAt == "" || !strings.HasPrefix(up.S3URI, "s3://") {
		t.Fatalf("answer %s: want url, s3_uri and expires_at (%v)", r.Body, err)
	}
	req, _ := http.NewRequest(up.Method, up.URL, bytes.NewReader(photo))
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

	contact := newContact()
	openWindow(t, h, contact)
	fetched := h.Sim.MessageStats().LinksFetched
	j := outbound.Job{JobID: newJobID("api-upload"), TenantID: connector.DemoTenantID, PhoneNumberID: connector.DemoPhoneNumberID,
		To: "+" + contact, Type: "image", ClientRef: "crm-upload", Image: &outbound.Media{Link: up.S3URI, Caption: "your receipt"}}
	postJobAPI(t, h, j)
	res := awaitResult(t, h, j.JobID)
	if res.Type != "outbound.accepted" {
		t.Fatalf("result %s %+v, want outbound.accepted", res.Type, res.Outbound)
	}
	if got := h.Sim.MessageStats().LinksFetched - fetched; got != 1 {
		t.Errorf("the simulator fetched %d links, want 1 (the uploaded photo)", got)
	}
}

// TestOpenAPIServed: make local serves api/openapi.yaml and the schemas it
// refers to, where its relative references resolve.
func TestOpenAPIServed(t *testing.T) {
	h := start(t)
	for path, file := range map[string]string{
		"/openapi.yaml":                    "../../api/openapi.yaml",
		"/schema/event.schema.json":        "../../schema/event.schema.json",
		"/schema/outbound-job.schema.json": "../../schema/outbound-job.schema.json",
	} {
		resp, err := http.Get(h.APIURL + path)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
			t.Errorf("GET %s: %d, %d bytes; want %s (%d bytes)", path, resp.StatusCode, len(got), file, len(want))
		}
	}
	resp, err := http.Get(h.APIURL + "/schema/..%2Ftemplate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /schema/..%%2Ftemplate.yaml: %d, want 404", resp.StatusCode)
	}
}
