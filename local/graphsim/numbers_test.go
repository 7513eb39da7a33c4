package graphsim

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestSimNumbers: a number added with POST /_sim/numbers answers
// GET /{phone-number-id} for its own token only, as Meta does.
func TestSimNumbers(t *testing.T) {
	srv, _ := newTestSim(t)
	post := func(body string) int {
		t.Helper()
		resp, err := http.Post(srv.URL+"/_sim/numbers", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	get := func(id, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v23.0/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("100000000000042", "acme-token"); code == http.StatusOK {
		t.Fatalf("an unknown number answered 200")
	}
	tests := []struct {
		name string
		body string
		want int
	}{
		{"a new number", `{"phone_number_id":"100000000000042","waba_id":"200000000000042","access_token":"acme-token"}`, 200},
		{"the same again", `{"phone_number_id":"100000000000042","waba_id":"200000000000042","access_token":"acme-token"}`, 200},
		{"the same id with another token", `{"phone_number_id":"100000000000042","waba_id":"200000000000042","access_token":"other"}`, 409},
		{"a non-numeric id", `{"phone_number_id":"abc","waba_id":"200000000000042","access_token":"t"}`, 400},
		{"no token", `{"phone_number_id":"100000000000043","waba_id":"200000000000042"}`, 400},
		{"an unknown key", `{"phone_number_id":"100000000000043","waba_id":"200000000000042","access_token":"t","x":1}`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := post(tt.body); got != tt.want {
				t.Errorf("POST /_sim/numbers = %d, want %d", got, tt.want)
			}
		})
	}
	if code, body := get("100000000000042", "acme-token"); code != http.StatusOK || !strings.Contains(body, `"id":"100000000000042"`) {
		t.Errorf("GET with its token = %d %s", code, body)
	}
	if code, body := get("100000000000042", "tok"); code == http.StatusOK || !strings.Contains(body, `"code":`) {
		t.Errorf("GET with another number's token = %d %s, want Meta's error", code, body)
	}
}
