package graphsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// profileCall sends a Graph request with a bearer token and decodes the answer.
func profileCall(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %v: %s", method, url, err, raw)
	}
	return resp.StatusCode, out
}

func errCode(body map[string]any) float64 {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return c
}

func TestBusinessProfile(t *testing.T) {
	sim := New(Config{BaseURL: "http://sim", Numbers: []Number{{PhoneNumberID: "111", AccessToken: "tok-a"}, {PhoneNumberID: "222", AccessToken: "tok-b"}}})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	profile := srv.URL + "/v23.0/111/whatsapp_business_profile"
	tests := []struct {
		name, token, body string
		status            int
		code              float64
	}{
		{"update", "Bearer tok-a", `{"messaging_product":"whatsapp","about":"Open 9-18","email":"hi@example.com","websites":["https://example.com"],"vertical":"RETAIL"}`, 200, 0},
		{"about over 139", "Bearer tok-a", `{"messaging_product":"whatsapp","about":"` + strings.Repeat("a", 140) + `"}`, 400, 100},
		{"description over 512", "Bearer tok-a", `{"messaging_product":"whatsapp","description":"` + strings.Repeat("d", 513) + `"}`, 400, 100},
		{"three websites", "Bearer tok-a", `{"messaging_product":"whatsapp","websites":["https://a.example","https://b.example","https://c.example"]}`, 400, 100},
		{"website not http", "Bearer tok-a", `{"messaging_product":"whatsapp","websites":["ftp://a.example"]}`, 400, 100},
		{"bad email", "Bearer tok-a", `{"messaging_product":"whatsapp","email":"not an email"}`, 400, 100},
		{"unknown vertical", "Bearer tok-a", `{"messaging_product":"whatsapp","vertical":"SHOP"}`, 400, 100},
		{"no messaging_product", "Bearer tok-a", `{"about":"x"}`, 400, 100},
		{"unknown handle", "Bearer tok-a", `{"messaging_product":"whatsapp","profile_picture_handle":"4::nope"}`, 400, 100},
		{"another number's token", "Bearer tok-b", `{"messaging_product":"whatsapp","about":"x"}`, 401, 190},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := profileCall(t, http.MethodPost, profile, tt.token, tt.body)
			if status != tt.status || errCode(body) != tt.code {
				t.Errorf("%d %v, want %d code %v", status, body, tt.status, tt.code)
			}
		})
	}
	status, body := profileCall(t, http.MethodGet, profile+"?fields=about,email,websites,vertical", "Bearer tok-a", "")
	got, _ := json.Marshal(body)
	if want := `{"data":[{"business_profile":{"about":"Open 9-18","email":"hi@example.com","vertical":"RETAIL","websites":["https://example.com"]}}]}`; status != 200 || string(got) != want {
		t.Errorf("GET %d %s, want %s (refused updates change nothing)", status, got, want)
	}
}

func TestResumableUploadGivesAProfilePictureHandle(t *testing.T) {
	sim := New(Config{BaseURL: "http://sim", Numbers: []Number{{PhoneNumberID: "111", AccessToken: "tok-a"}}})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	if status, body := profileCall(t, http.MethodPost, srv.URL+"/v23.0/"+DefaultAppID+"/uploads?file_length=4&file_type=image/gif", "OAuth tok-a", ""); status != 400 || errCode(body) != 100 {
		t.Errorf("gif: %d %v, want 400 code 100", status, body)
	}
	if status, body := profileCall(t, http.MethodPost, srv.URL+"/v23.0/"+DefaultAppID+"/uploads?file_length=4&file_type=image/png", "OAuth nope", ""); status != 401 || errCode(body) != 190 {
		t.Errorf("unknown token: %d %v, want 401 code 190", status, body)
	}
	_, open := profileCall(t, http.MethodPost, srv.URL+"/v23.0/"+DefaultAppID+"/uploads?file_length=4&file_type=image/png", "OAuth tok-a", "")
	id, _ := open["id"].(string)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v23.0/"+id, strings.NewReader("\x89PNG"))
	req.Header.Set("Authorization", "OAuth tok-a")
	req.Header.Set("file_offset", "0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var up struct {
		H string `json:"h"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&up)
	resp.Body.Close()
	if data, ok := sim.UploadedFile(up.H); !ok || string(data) != "\x89PNG" {
		t.Fatalf("upload %s answered handle %q; file %q", id, up.H, data)
	}
	status, body := profileCall(t, http.MethodPost, srv.URL+"/v23.0/111/whatsapp_business_profile", "Bearer tok-a",
		`{"messaging_product":"whatsapp","profile_picture_handle":"`+up.H+`"}`)
	if status != 200 {
		t.Fatalf("profile with the handle: %d %v", status, body)
	}
	_, body = profileCall(t, http.MethodGet, srv.URL+"/v23.0/111/whatsapp_business_profile?fields=profile_picture_url", "Bearer tok-a", "")
	if got, _ := json.Marshal(body); !strings.Contains(string(got), `"profile_picture_url":"http://sim/_sim/profile_pictures/`) {
		t.Errorf("profile after the picture: %s", got)
	}
}

func TestBlockUsers(t *testing.T) {
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	sim := New(Config{BaseURL: "http://sim", Now: func() time.Time { return now }, Numbers: []Number{{PhoneNumberID: "111", AccessToken: "tok-a"}}})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	for _, u := range []string{"5511999990001", "5511999990002", "5511999990003"} {
		sim.OpenWindow("111", u, now.Add(-time.Hour))
	}
	sim.OpenWindow("111", "5511999990009", now.Add(-25*time.Hour))
	blocks := srv.URL + "/v23.0/111/block_users"
	status, body := profileCall(t, http.MethodPost, blocks, "Bearer tok-a",
		`{"messaging_product":"whatsapp","block_users":[{"user":"+5511999990001"},{"user":"+5511999990009"},{"user":"5511999990002"}]}`)
	got, _ := json.Marshal(body["block_users"])
	if want := `{"added_users":[{"input":"+5511999990001","wa_id":"5511999990001"},{"input":"5511999990002","wa_id":"5511999990002"}],` +
		`"failed_users":[{"errors":[{"code":139100,"error_data":{"details":"Blocking is only allowed for users who have messaged the business in the last 24 hours"},"message":"Failed to block/unblock this user"}],"input":"+5511999990009"}]}`; status != 400 || errCode(body) != 139100 || string(got) != want {
		t.Errorf("partial block: %d %s\nwant 400 139100 %s", status, got, want)
	}
	if status, body := profileCall(t, http.MethodPost, blocks, "Bearer tok-a", `{"messaging_product":"whatsapp","block_users":[{"user":"+5511999990003"}]}`); status != 200 {
		t.Errorf("block: %d %v", status, body)
	}
	var pages [][]string
	next := blocks + "?limit=2"
	for next != "" {
		_, body := profileCall(t, http.MethodGet, strings.Replace(next, "http://sim", srv.URL, 1), "Bearer tok-a", "")
		var page []string
		for _, d := range body["data"].([]any) {
			page = append(page, d.(map[string]any)["wa_id"].(string))
		}
		pages = append(pages, page)
		next, _ = body["paging"].(map[string]any)["next"].(string)
	}
	if got, want := pagesString(pages), "[5511999990001 5511999990002] [5511999990003]"; got != want {
		t.Errorf("pages %s, want %s", got, want)
	}
	status, body = profileCall(t, http.MethodDelete, blocks, "Bearer tok-a", `{"messaging_product":"whatsapp","block_users":[{"user":"+5511999990001"}]}`)
	got, _ = json.Marshal(body["block_users"])
	if want := `{"removed_users":[{"input":"+5511999990001","wa_id":"5511999990001"}]}`; status != 200 || string(got) != want {
		t.Errorf("unblock: %d %s, want %s", status, got, want)
	}
	if got := sim.Blocked("111"); strings.Join(got, ",") != "5511999990002,5511999990003" {
		t.Errorf("blocked %v", got)
	}
	if status, body := profileCall(t, http.MethodPost, blocks, "Bearer tok-a", `{"messaging_product":"whatsapp","block_users":[]}`); status != 400 || errCode(body) != 100 {
		t.Errorf("empty list: %d %v", status, body)
	}
}

func pagesString(pages [][]string) string {
	var parts []string
	for _, p := range pages {
		parts = append(parts, "["+strings.Join(p, " ")+"]")
	}
	return strings.Join(parts, " ")
}
