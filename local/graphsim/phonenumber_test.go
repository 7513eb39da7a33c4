package graphsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

func TestPhoneNumberLookup(t *testing.T) {
	sim := New(Config{Numbers: []Number{
		{PhoneNumberID: "111", DisplayPhoneNumber: "15550001111", AccessToken: "tok-a"},
		{PhoneNumberID: "222", DisplayPhoneNumber: "15550002222", AccessToken: "tok-b", Throughput: 1000},
	}})
	srv := httptest.NewServer(sim)
	defer srv.Close()

	tests := []struct {
		name      string
		id, token string
		status    int
		code      int
		level     string
	}{
		{"own token", "111", "tok-a", 200, 0, "STANDARD"},
		{"upgraded number", "222", "tok-b", 200, 0, "HIGH"},
		{"another number's token", "111", "tok-b", 401, 190, ""},
		{"no token", "111", "", 401, 190, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v23.0/"+tt.id, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			var body struct {
				ID         string `json:"id"`
				Display    string `json:"display_phone_number"`
				Throughput struct {
					Level string `json:"level"`
				} `json:"throughput"`
				Error struct {
					Code int `json:"code"`
				} `json:"error"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if tt.code != 0 {
				if body.Error.Code != tt.code {
					t.Errorf("error code = %d, want %d", body.Error.Code, tt.code)
				}
				return
			}
			if body.ID != tt.id || body.Throughput.Level != tt.level || body.Display == "" {
				t.Errorf("got %+v, want id %s level %s", body, tt.id, tt.level)
			}
		})
	}
}

func TestPhoneNumberFields(t *testing.T) {
	sim := New(Config{Numbers: []Number{{PhoneNumberID: "111", DisplayPhoneNumber: "15550001111", AccessToken: "tok-a"}}})
	sim.SetNumberStatus("111", func(s *NumberStatus) { s.QualityRating, s.MessagingLimitTier = "YELLOW", "TIER_10K" })
	srv := httptest.NewServer(sim)
	defer srv.Close()
	tests := []struct {
		name, fields string
		status       int
		want         map[string]any
	}{
		{"asked fields and the id only", "quality_rating,messaging_limit_tier", 200,
			map[string]any{"id": "111", "quality_rating": "YELLOW", "messaging_limit_tier": "TIER_10K"}},
		{"name review and onboarding", "name_status,last_onboarded_time,verified_name", 200,
			map[string]any{"id": "111", "name_status": "APPROVED", "last_onboarded_time": "2026-01-15T09:30:00+0000", "verified_name": "Simulated business 111"}},
		{"unknown field is Meta's 100", "quality_score", 400, map[string]any{"error": map[string]any{
			"message": "(#100) Tried accessing nonexisting field (quality_score) on node type (WhatsAppBusinessPhoneNumber)",
			"type":    "OAuthException", "code": float64(100), "fbtrace_id": "AsimTrace100"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v23.0/111?fields="+tt.fields, nil)
			req.Header.Set("Authorization", "Bearer tok-a")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%d %v, want %d %v", resp.StatusCode, got, tt.status, tt.want)
			}
		})
	}
}
