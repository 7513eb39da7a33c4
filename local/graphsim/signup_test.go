package graphsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// signupCall makes one Graph call and decodes the answer.
func signupCall(t *testing.T, method, u, token, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, u, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v", method, u, err)
	}
	return resp.StatusCode, out
}

// graphCode returns an error answer's code and subcode.
func graphCode(out map[string]any) (int, int) {
	e := obj(out["error"])
	code, _ := e["code"].(float64)
	sub, _ := e["error_subcode"].(float64)
	return int(code), int(sub)
}

func TestCodeExchange(t *testing.T) {
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	sim := New(Config{AppSecret: "app-secret", Now: func() time.Time { return now }})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	su, err := sim.AddSignup(Signup{WABAID: "104996122399160", PhoneNumberID: "106540352242922"})
	if err != nil {
		t.Fatal(err)
	}
	exchange := func(clientID, secret, code string) string {
		return srv.URL + "/v23.0/oauth/access_token?" + url.Values{"client_id": {clientID}, "client_secret": {secret}, "code": {code}}.Encode()
	}
	tests := []struct {
		name          string
		url           string
		status        int
		code, subcode int
	}{
		{"unknown app", exchange("999", "app-secret", su.Code), 400, 101, 0},
		{"wrong client secret", exchange(DefaultAppID, "nope", su.Code), 400, 1, 0},
		{"unknown code", exchange(DefaultAppID, "app-secret", "AQnotacode"), 400, 100, 36007},
		{"first exchange", exchange(DefaultAppID, "app-secret", su.Code), 200, 0, 0},
		{"code used twice", exchange(DefaultAppID, "app-secret", su.Code), 400, 100, 36009},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := signupCall(t, http.MethodGet, tt.url, "", "")
			if status != tt.status {
				t.Fatalf("status = %d, want %d (%v)", status, tt.status, out)
			}
			if tt.code != 0 {
				if c, sc := graphCode(out); c != tt.code || sc != tt.subcode {
					t.Errorf("error = %d/%d, want %d/%d (%v)", c, sc, tt.code, tt.subcode, out)
				}
				return
			}
			token, _ := out["access_token"].(string)
			if token == "" || out["token_type"] != "bearer" {
				t.Fatalf("answer %v, want access_token and token_type bearer", out)
			}
			if ti, ok := sim.Token(token); !ok || !slices.Equal(ti.WABAIDs, []string{su.WABAID}) {
				t.Errorf("token info = %+v, want WABA %s", ti, su.WABAID)
			}
		})
	}
}

func TestDebugToken(t *testing.T) {
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	sim := New(Config{AppSecret: "app-secret", Now: func() time.Time { return now },
		Numbers: []Number{{PhoneNumberID: "111", WABAID: "900", AccessToken: "system-token"}}})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	issue := func(su Signup) string {
		su, err := sim.AddSignup(su)
		if err != nil {
			t.Fatal(err)
		}
		_, out := signupCall(t, http.MethodGet, srv.URL+"/v23.0/oauth/access_token?client_id="+DefaultAppID+"&client_secret=app-secret&code="+su.Code, "", "")
		return out["access_token"].(string)
	}
	full := issue(Signup{WABAID: "901", PhoneNumberID: "201"})
	messagingOnly := issue(Signup{WABAID: "902", PhoneNumberID: "202", Scopes: []string{ScopeMessaging}})
	expiring := issue(Signup{WABAID: "903", PhoneNumberID: "203", TokenTTL: "72h"})
	expired := issue(Signup{WABAID: "904", PhoneNumberID: "204"})
	if err := sim.ChangeToken(expired, now.Add(-time.Hour), false); err != nil {
		t.Fatal(err)
	}
	revoked := issue(Signup{WABAID: "905", PhoneNumberID: "205"})
	if err := sim.ChangeToken(revoked, time.Time{}, true); err != nil {
		t.Fatal(err)
	}
	appToken := DefaultAppID + "|app-secret"

	tests := []struct {
		name      string
		caller    string
		input     string
		status    int
		errCode   int // top-level Graph error
		valid     bool
		subcode   float64 // data.error.subcode when invalid
		scopes    []string
		targets   []string
		expiresAt int64
	}{
		{"business token", appToken, full, 200, 0, true, 0, []string{ScopeManagement, ScopeMessaging}, []string{"901"}, 0},
		{"system user token of configured numbers", appToken, "system-token", 200, 0, true, 0, []string{ScopeManagement, ScopeMessaging}, []string{"900"}, 0},
		{"one scope granted", appToken, messagingOnly, 200, 0, true, 0, []string{ScopeMessaging}, []string{"902"}, 0},
		{"token with an expiry", appToken, expiring, 200, 0, true, 0, []string{ScopeManagement, ScopeMessaging}, []string{"903"}, now.Add(72 * time.Hour).Unix()},
		{"expired token", appToken, expired, 200, 0, false, 463, nil, nil, 0},
		{"revoked token", appToken, revoked, 200, 0, false, 460, nil, nil, 0},
		{"unknown token", appToken, "EAAgarbage", 200, 0, false, 0, nil, nil, 0},
		{"caller is not the app", full, full, 400, 190, false, 0, nil, nil, 0},
		{"no input token", appToken, "", 400, 100, false, 0, nil, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := signupCall(t, http.MethodGet, srv.URL+"/v23.0/debug_token?"+url.Values{"input_token": {tt.input}}.Encode(), tt.caller, "")
			if status != tt.status {
				t.Fatalf("status = %d, want %d (%v)", status, tt.status, out)
			}
			if tt.errCode != 0 {
				if c, _ := graphCode(out); c != tt.errCode {
					t.Errorf("error code = %d, want %d", c, tt.errCode)
				}
				return
			}
			data := obj(out["data"])
			if data["is_valid"] != tt.valid {
				t.Fatalf("is_valid = %v, want %v (%v)", data["is_valid"], tt.valid, data)
			}
			if !tt.valid {
				e := obj(data["error"])
				if e["code"] != float64(190) || (tt.subcode != 0 && e["subcode"] != tt.subcode) {
					t.Errorf("data.error = %v, want 190/%v", e, tt.subcode)
				}
				return
			}
			if data["app_id"] != DefaultAppID || data["expires_at"] != float64(tt.expiresAt) {
				t.Errorf("app_id %v expires_at %v, want %s %d", data["app_id"], data["expires_at"], DefaultAppID, tt.expiresAt)
			}
			var scopes []string
			for _, s := range arr(data["scopes"]) {
				scopes = append(scopes, str(s))
			}
			if !slices.Equal(scopes, tt.scopes) {
				t.Errorf("scopes = %v, want %v", scopes, tt.scopes)
			}
			for _, g := range arr(data["granular_scopes"]) {
				var ids []string
				for _, id := range arr(obj(g)["target_ids"]) {
					ids = append(ids, str(id))
				}
				if !slices.Equal(ids, tt.targets) {
					t.Errorf("%v target_ids = %v, want %v", obj(g)["scope"], ids, tt.targets)
				}
			}
		})
	}
}

// TestSignupToFirstMessage walks a signed-up number from the exchange to
// its first webhook, with Meta's refusals on the way: no webhooks before
// the app is subscribed and the number registered, no sends from an
// unregistered number, PIN rules.
func TestSignupToFirstMessage(t *testing.T) {
	var hooks int
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hooks++ }))
	defer hook.Close()
	sim := New(Config{AppSecret: "app-secret", WebhookURL: hook.URL})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	const waba, pn = "104996122399160", "106540352242922"
	su, err := sim.AddSignup(Signup{WABAID: waba, PhoneNumberID: pn, DisplayPhoneNumber: "15550783881"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := sim.AddSignup(Signup{WABAID: "555", PhoneNumberID: "556"})
	_, out := signupCall(t, http.MethodGet, srv.URL+"/v23.0/oauth/access_token?client_id="+DefaultAppID+"&client_secret=app-secret&code="+su.Code, "", "")
	token := str(out["access_token"])
	_, out = signupCall(t, http.MethodGet, srv.URL+"/v23.0/oauth/access_token?client_id="+DefaultAppID+"&client_secret=app-secret&code="+other.Code, "", "")
	otherToken := str(out["access_token"])
	inbound := `{"phone_number_id":"` + pn + `","from":"5511987654321","type":"text","text":"hello"}`
	send := `{"messaging_product":"whatsapp","to":"5511987654321","type":"text","text":{"body":"hi"}}`

	steps := []struct {
		name          string
		method, path  string
		token, body   string
		status        int
		code, subcode int
		check         func(t *testing.T, out map[string]any)
	}{
		{"numbers list shows the number pending", "GET", "/v23.0/" + waba + "/phone_numbers", token, "", 200, 0, 0, func(t *testing.T, out map[string]any) {
			d := arr(out["data"])
			if len(d) != 1 || obj(d[0])["id"] != pn || obj(d[0])["status"] != "PENDING" || obj(d[0])["display_phone_number"] != "15550783881" {
				t.Errorf("data = %v, want the one pending number", d)
			}
		}},
		{"another business's token cannot list", "GET", "/v23.0/" + waba + "/phone_numbers", otherToken, "", 400, 100, 33, nil},
		{"no webhook before subscribing", "POST", "/_sim/inbound", "", inbound, 409, 0, 0, nil},
		{"another business's token cannot subscribe", "POST", "/v23.0/" + waba + "/subscribed_apps", otherToken, "", 400, 100, 33, nil},
		{"subscribe the app", "POST", "/v23.0/" + waba + "/subscribed_apps", token, "", 200, 0, 0, nil},
		{"no webhook before registering", "POST", "/_sim/inbound", "", inbound, 409, 0, 0, nil},
		{"no send before registering", "POST", "/v23.0/" + pn + "/messages", token, send, 400, 133010, 0, nil},
		{"register without messaging_product", "POST", "/v23.0/" + pn + "/register", token, `{"pin":"123456"}`, 400, 100, 0, nil},
		{"register with a short pin", "POST", "/v23.0/" + pn + "/register", token, `{"messaging_product":"whatsapp","pin":"1234"}`, 400, 100, 0, nil},
		{"register", "POST", "/v23.0/" + pn + "/register", token, `{"messaging_product":"whatsapp","pin":"123456"}`, 200, 0, 0, nil},
		{"register again with the same pin", "POST", "/v23.0/" + pn + "/register", token, `{"messaging_product":"whatsapp","pin":"123456"}`, 200, 0, 0, nil},
		{"register with another pin", "POST", "/v23.0/" + pn + "/register", token, `{"messaging_product":"whatsapp","pin":"654321"}`, 400, 133005, 0, nil},
		{"numbers list shows it connected", "GET", "/v23.0/" + waba + "/phone_numbers", token, "", 200, 0, 0, func(t *testing.T, out map[string]any) {
			if d := arr(out["data"]); len(d) != 1 || obj(d[0])["status"] != "CONNECTED" {
				t.Errorf("data = %v, want it connected", d)
			}
		}},
		{"first message arrives", "POST", "/_sim/inbound", "", inbound, 200, 0, 0, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			status, out := signupCall(t, st.method, srv.URL+st.path, st.token, st.body)
			if status != st.status {
				t.Fatalf("status = %d, want %d (%v)", status, st.status, out)
			}
			if st.code != 0 {
				if c, sc := graphCode(out); c != st.code || sc != st.subcode {
					t.Errorf("error = %d/%d, want %d/%d (%v)", c, sc, st.code, st.subcode, out)
				}
			}
			if st.check != nil {
				st.check(t, out)
			}
		})
	}
	if hooks != 1 {
		t.Errorf("webhooks posted = %d, want 1 (only after subscription and registration)", hooks)
	}
	if !sim.Subscribed(waba) || !sim.Registered(pn) {
		t.Errorf("subscribed %v registered %v, want both", sim.Subscribed(waba), sim.Registered(pn))
	}
}

func TestRevokedTokenRefusedEverywhere(t *testing.T) {
	sim := New(Config{AppSecret: "app-secret"})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	su, _ := sim.AddSignup(Signup{WABAID: "700", PhoneNumberID: "701", Registered: true, PIN: "111111"})
	_, out := signupCall(t, http.MethodGet, srv.URL+"/v23.0/oauth/access_token?client_id="+DefaultAppID+"&client_secret=app-secret&code="+su.Code, "", "")
	token := str(out["access_token"])
	if status, _ := signupCall(t, http.MethodGet, srv.URL+"/v23.0/701", token, ""); status != 200 {
		t.Fatalf("lookup before revocation = %d, want 200", status)
	}
	if err := sim.ChangeToken(token, time.Time{}, true); err != nil {
		t.Fatal(err)
	}
	status, out := signupCall(t, http.MethodGet, srv.URL+"/v23.0/701", token, "")
	if c, _ := graphCode(out); status != 401 || c != 190 {
		t.Errorf("lookup after revocation = %d %v, want 401 code 190", status, out)
	}
}
