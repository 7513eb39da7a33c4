package manage_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tucanlink/wacloud/shared/manage"
)

const (
	getProfileRoute    = "GET /v1/tenants/{tenant_id}/phone-numbers/{phone_number_id}/profile"
	updateProfileRoute = "POST /v1/tenants/{tenant_id}/phone-numbers/{phone_number_id}/profile"
	listBlockedRoute   = "GET /v1/tenants/{tenant_id}/phone-numbers/{phone_number_id}/blocked-users"
	blockRoute         = "POST /v1/tenants/{tenant_id}/phone-numbers/{phone_number_id}/blocked-users"
	unblockRoute       = "DELETE /v1/tenants/{tenant_id}/phone-numbers/{phone_number_id}/blocked-users"
)

func number(id string) map[string]string { return map[string]string{"phone_number_id": id} }

func TestProfileRoutes(t *testing.T) {
	m := newMetaAPI(t)
	status, body := m.call(t, updateProfileRoute, "demo", "tenant:demo", number(demoNumber), nil,
		`{"about":"Aberto 9-18h","address":"Rua A, 1","description":"Loja","email":"oi@example.com","websites":["https://example.com","http://example.org/loja"],"vertical":"RETAIL"}`)
	if status != http.StatusOK {
		t.Fatalf("update: %d %s", status, body)
	}
	want := manage.Profile{About: "Aberto 9-18h", Address: "Rua A, 1", Description: "Loja", Email: "oi@example.com",
		Websites: []string{"https://example.com", "http://example.org/loja"}, Vertical: "RETAIL"}
	for _, step := range []struct {
		name   string
		status int
		body   []byte
	}{{"update answers the new profile", status, body}, {"get", 0, nil}} {
		if step.body == nil {
			step.status, step.body = m.call(t, getProfileRoute, "demo", "tenant:demo", number(demoNumber), nil, "")
		}
		var got manage.Profile
		if err := json.Unmarshal(step.body, &got); err != nil || step.status != 200 {
			t.Fatalf("%s: %d %s", step.name, step.status, step.body)
		}
		if got.About != want.About || got.Email != want.Email || got.Vertical != want.Vertical || !slices.Equal(got.Websites, want.Websites) ||
			got.Address != want.Address || got.Description != want.Description {
			t.Errorf("%s: %+v, want %+v", step.name, got, want)
		}
	}
	// Another number's profile is untouched.
	_, other := m.call(t, getProfileRoute, "demo", "tenant:demo", number(demoNumber2), nil, "")
	if strings.Contains(string(other), "Aberto") {
		t.Errorf("number %s got the profile of %s: %s", demoNumber2, demoNumber, other)
	}
}

func TestProfileRefusals(t *testing.T) {
	m := newMetaAPI(t)
	tests := []struct {
		name     string
		route    string
		tenant   string
		number   string
		body     string
		want     int
		wantCode string
		details  int
	}{
		{"about over 139", updateProfileRoute, "demo", demoNumber, `{"about":"` + strings.Repeat("á", 140) + `"}`, 400, manage.CodeInvalidProfile, 1},
		{"empty about", updateProfileRoute, "demo", demoNumber, `{"about":""}`, 400, manage.CodeInvalidProfile, 1},
		{"every rule at once", updateProfileRoute, "demo", demoNumber,
			`{"description":"` + strings.Repeat("d", 513) + `","address":"` + strings.Repeat("a", 257) + `","email":"not mail",` +
				`"websites":["https://a.example","ftp://b.example","https://c.example"],"vertical":"SHOP"}`, 400, manage.CodeInvalidProfile, 6},
		{"long email", updateProfileRoute, "demo", demoNumber, `{"email":"` + strings.Repeat("e", 120) + `@example.com"}`, 400, manage.CodeInvalidProfile, 1},
		{"nothing to change", updateProfileRoute, "demo", demoNumber, `{}`, 400, manage.CodeInvalidProfile, 1},
		{"unknown key", updateProfileRoute, "demo", demoNumber, `{"about":"x","phone":"1"}`, 400, manage.CodeInvalidJSON, 1},
		{"profile picture in another bucket", updateProfileRoute, "demo", demoNumber, `{"profile_picture":"s3://elsewhere/tenants/demo/outbound/p.jpg"}`, 400, manage.CodeInvalidProfile, 1},
		{"another tenant's picture", updateProfileRoute, "demo", demoNumber, `{"profile_picture":"s3://BUCKET/tenants/acme/outbound/p.jpg"}`, 400, manage.CodeInvalidProfile, 1},
		{"picture outside outbound/", updateProfileRoute, "demo", demoNumber, `{"profile_picture":"s3://BUCKET/tenants/demo/outbound/../inbound/p.jpg"}`, 400, manage.CodeInvalidProfile, 1},
		{"picture never uploaded", updateProfileRoute, "demo", demoNumber, `{"profile_picture":"s3://BUCKET/tenants/demo/outbound/missing.jpg"}`, 400, manage.CodeInvalidProfile, 1},
		{"picture not an image", updateProfileRoute, "demo", demoNumber, `{"profile_picture":"s3://BUCKET/tenants/demo/outbound/doc.pdf"}`, 400, manage.CodeInvalidProfile, 1},
		{"another tenant's number", getProfileRoute, "acme", demoNumber, "", 404, manage.CodePhoneNumberNotFound, 0},
		{"another tenant's number, update", updateProfileRoute, "acme", demoNumber, `{"about":"x"}`, 404, manage.CodePhoneNumberNotFound, 0},
		{"unknown number", getProfileRoute, "demo", "100000000000099", "", 404, manage.CodePhoneNumberNotFound, 0},
		{"not a phone number id", getProfileRoute, "demo", "abc", "", 400, manage.CodeInvalidPhoneNumberID, 0},
		{"Meta refuses the token", getProfileRoute, "broken", brokenNumber, "", 502, manage.CodeMetaRefused, 1},
	}
	m.put(t, "tenants/demo/outbound/doc.pdf", "application/pdf", "%PDF-1.4")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request(tt.route, tt.tenant, ptr("tenant:"+tt.tenant), strings.ReplaceAll(tt.body, "BUCKET", m.bucket))
			req.PathParameters["phone_number_id"] = tt.number
			resp := serve(t, m.h, req, false)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.want, resp.Body)
			}
			if e := apiError(t, resp); e.Code != tt.wantCode || len(e.Details) != tt.details {
				t.Errorf("error %+v, want code %s with %d details", e, tt.wantCode, tt.details)
			}
		})
	}
}

func ptr(s string) *string { return &s }

type blockAnswer struct {
	Done []struct {
		Input string `json:"input"`
		WaID  string `json:"wa_id"`
	} `json:"done"`
	Failed []struct {
		Input   string `json:"input"`
		Code    int    `json:"code"`
		Details string `json:"details"`
	} `json:"failed"`
}

func TestBlockedUsersRoutes(t *testing.T) {
	m := newMetaAPI(t)
	now := time.Now()
	for _, u := range []string{"5511999990001", "5511999990002", "5511999990003"} {
		m.sim.OpenWindow(demoNumber, u, now.Add(-time.Hour))
	}
	// Meta blocks only users who wrote in the last 24 hours.
	m.sim.OpenWindow(demoNumber, "5511999990009", now.Add(-48*time.Hour))

	status, body := m.call(t, blockRoute, "demo", "tenant:demo", number(demoNumber), nil,
		`{"users":["+5511999990001","+5511999990009","+5511999990002"]}`)
	var got blockAnswer
	if err := json.Unmarshal(body, &got); err != nil || status != http.StatusOK {
		t.Fatalf("partial block: %d %s", status, body)
	}
	if len(got.Done) != 2 || got.Done[0].WaID != "5511999990001" || got.Done[1].WaID != "5511999990002" ||
		len(got.Failed) != 1 || got.Failed[0].Input != "+5511999990009" || got.Failed[0].Code != 139100 || !strings.Contains(got.Failed[0].Details, "24 hours") {
		t.Errorf("partial block answered %+v", got)
	}
	// Every user refused: Meta's refusal, with its code per user.
	req := request(blockRoute, "demo", ptr("tenant:demo"), `{"users":["+5511999990009"]}`)
	req.PathParameters["phone_number_id"] = demoNumber
	resp := serve(t, m.h, req, false)
	if e := apiError(t, resp); resp.StatusCode != 422 || e.Code != manage.CodeMetaRefused || len(e.Details) != 1 ||
		!strings.HasPrefix(e.Details[0], "+5511999990009: meta error 139100") {
		t.Errorf("all refused: %d %+v", resp.StatusCode, e)
	}
	if status, body := m.call(t, blockRoute, "demo", "tenant:demo", number(demoNumber), nil, `{"users":["+5511999990003"]}`); status != 200 {
		t.Fatalf("block: %d %s", status, body)
	}

	var pages []string
	after := ""
	for range 5 {
		q := map[string]string{"limit": "2"}
		if after != "" {
			q["after"] = after
		}
		status, body := m.call(t, listBlockedRoute, "demo", "tenant:demo", number(demoNumber), q, "")
		var page struct {
			Data []struct {
				WaID string `json:"wa_id"`
			} `json:"data"`
			Paging struct {
				After *string `json:"after"`
			} `json:"paging"`
		}
		if err := json.Unmarshal(body, &page); err != nil || status != 200 {
			t.Fatalf("list: %d %s", status, body)
		}
		var ids []string
		for _, d := range page.Data {
			ids = append(ids, d.WaID)
		}
		pages = append(pages, strings.Join(ids, ","))
		if page.Paging.After == nil {
			break
		}
		after = *page.Paging.After
	}
	if got, want := strings.Join(pages, " | "), "5511999990001,5511999990002 | 5511999990003"; got != want {
		t.Errorf("pages %q, want %q", got, want)
	}

	status, body = m.call(t, unblockRoute, "demo", "tenant:demo", number(demoNumber), nil, `{"users":["+5511999990001"]}`)
	if err := json.Unmarshal(body, &got); err != nil || status != 200 || len(got.Done) != 1 || len(got.Failed) != 0 {
		t.Fatalf("unblock: %d %s", status, body)
	}
	if blocked := m.sim.Blocked(demoNumber); strings.Join(blocked, ",") != "5511999990002,5511999990003" {
		t.Errorf("blocked at Meta: %v", blocked)
	}
	if blocked := m.sim.Blocked(demoNumber2); len(blocked) != 0 {
		t.Errorf("the other number blocked %v", blocked)
	}
}

func TestBlockedUsersRefusals(t *testing.T) {
	m := newMetaAPI(t)
	tests := []struct {
		name     string
		route    string
		tenant   string
		number   string
		body     string
		q        map[string]string
		want     int
		wantCode string
		details  int
	}{
		{"no users", blockRoute, "demo", demoNumber, `{"users":[]}`, nil, 400, manage.CodeInvalidUsers, 1},
		{"not phone numbers", blockRoute, "demo", demoNumber, `{"users":["abc","+55 11 9999"]}`, nil, 400, manage.CodeInvalidUsers, 2},
		{"Meta's shape is not ours", unblockRoute, "demo", demoNumber, `{"block_users":[{"user":"+5511999990001"}]}`, nil, 400, manage.CodeInvalidJSON, 1},
		{"limit over 100", listBlockedRoute, "demo", demoNumber, "", map[string]string{"limit": "500"}, 400, manage.CodeInvalidFilter, 1},
		{"unknown parameter", listBlockedRoute, "demo", demoNumber, "", map[string]string{"before": "x"}, 400, manage.CodeInvalidFilter, 1},
		{"another tenant's number", blockRoute, "acme", demoNumber, `{"users":["+5511999990001"]}`, nil, 404, manage.CodePhoneNumberNotFound, 0},
		{"another tenant's list", listBlockedRoute, "acme", demoNumber, "", nil, 404, manage.CodePhoneNumberNotFound, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request(tt.route, tt.tenant, ptr("tenant:"+tt.tenant), tt.body)
			req.PathParameters["phone_number_id"] = tt.number
			req.QueryStringParameters = tt.q
			resp := serve(t, m.h, req, false)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.want, resp.Body)
			}
			if e := apiError(t, resp); e.Code != tt.wantCode || len(e.Details) != tt.details {
				t.Errorf("error %+v, want code %s with %d details", e, tt.wantCode, tt.details)
			}
		})
	}
	if got := m.sim.Blocked(demoNumber); len(got) != 0 {
		t.Errorf("refused requests blocked %v", got)
	}
}

// put stores a file of the tenant in the data bucket, as an upload URL
// from POST …/media-uploads would.
func (m *metaAPI) put(t *testing.T, key, contentType, body string) {
	t.Helper()
	if _, err := m.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(m.bucket), Key: aws.String(key),
		ContentType: aws.String(contentType), Body: strings.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

func TestProfilePictureGoesThroughMetasResumableUpload(t *testing.T) {
	m := newMetaAPI(t)
	picture := "\xff\xd8\xff\xe0 a tiny jpeg"
	m.put(t, "tenants/demo/outbound/logo.jpg", "image/jpeg", picture)
	status, body := m.call(t, updateProfileRoute, "demo", "tenant:demo", number(demoNumber), nil,
		`{"profile_picture":"s3://`+m.bucket+`/tenants/demo/outbound/logo.jpg","about":"Com logo"}`)
	var got manage.Profile
	if err := json.Unmarshal(body, &got); err != nil || status != http.StatusOK {
		t.Fatalf("update: %d %s", status, body)
	}
	if !strings.Contains(got.ProfilePictureURL, "/_sim/profile_pictures/") || got.About != "Com logo" {
		t.Errorf("profile %+v: no picture from the upload", got)
	}
	handles := m.sim.UploadHandles()
	if len(handles) != 1 {
		t.Fatalf("%d uploads reached Meta, want 1", len(handles))
	}
	if data, _ := m.sim.UploadedFile(handles[0]); string(data) != picture {
		t.Errorf("Meta received %q, want the object's bytes", data)
	}
}
