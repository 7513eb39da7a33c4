package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOnboardingToFirstMessage: a new company finishes Embedded Signup in
// the simulator (POST /_sim/signup gives the browser's code); the core
// creates the tenant at its identity provider, posts the code to
// POST /v1/onboarding, and the company's first customer message reaches
// the core as message.received for the new tenant. Before the
// onboarding, the simulator refuses messages to the number (not
// subscribed nor registered).
func TestOnboardingToFirstMessage(t *testing.T) {
	h := start(t)
	stamp := time.Now().UnixNano() % 1e9
	waba, pn := fmt.Sprintf("35%013d", stamp), fmt.Sprintf("36%013d", stamp)
	tenantID := fmt.Sprintf("newco-%d", stamp)

	resp, err := http.Post(h.GraphURL+"/_sim/signup", "application/json", strings.NewReader(fmt.Sprintf(`{"waba_id":%q,"phone_number_id":%q}`, waba, pn)))
	if err != nil {
		t.Fatal(err)
	}
	var su struct {
		Code string `json:"code"`
	}
	err = json.NewDecoder(resp.Body).Decode(&su)
	resp.Body.Close()
	if err != nil || su.Code == "" {
		t.Fatalf("POST /_sim/signup: %d %v", resp.StatusCode, err)
	}
	inbound := fmt.Sprintf(`{"phone_number_id":%q,"from":%q,"type":"text","text":"first message"}`, pn, newContact())
	if resp, err := http.Post(h.GraphURL+"/_sim/inbound", "application/json", strings.NewReader(inbound)); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode < 400 {
		t.Fatalf("inbound before onboarding: %d, want it refused", resp.StatusCode)
	}

	body := map[string]string{"code": su.Code, "waba_id": waba, "phone_number_id": pn, "tenant_id": tenantID, "tenant_name": "NewCo"}
	// A token of the seeded tenants may not onboard another.
	if r := (apiCall{Method: http.MethodPost, Path: "/v1/onboarding", Token: apiToken(t, h, "tenant:demo"), Body: body}).do(t, h); r.Status != http.StatusForbidden {
		t.Fatalf("onboarding with another tenant's token: %d %s", r.Status, r.Body)
	}
	// The core created the tenant at its identity provider.
	if resp, err := http.Post(h.SinkURL+"/_core/tenants", "application/json", strings.NewReader(`{"tenant_id":"`+tenantID+`"}`)); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /_core/tenants: %d", resp.StatusCode)
	}
	token := apiToken(t, h, "tenant:"+tenantID)
	r := (apiCall{Method: http.MethodPost, Path: "/v1/onboarding", Token: token, Body: body}).do(t, h)
	if r.Status != http.StatusCreated {
		t.Fatalf("POST /v1/onboarding: %d %s", r.Status, r.Body)
	}
	var st struct {
		ID        string   `json:"id"`
		Status    string   `json:"status"`
		StepsDone []string `json:"steps_done"`
	}
	if err := json.Unmarshal(r.Body, &st); err != nil || st.Status != "completed" || len(st.StepsDone) != 8 {
		t.Fatalf("onboarding %s: %v", r.Body, err)
	}
	// The same request again (the code is spent at Meta by now) is
	// answered from the state.
	if again := (apiCall{Method: http.MethodPost, Path: "/v1/onboarding", Token: token, Body: body}).do(t, h); again.Status != http.StatusOK {
		t.Errorf("repeated POST /v1/onboarding: %d %s", again.Status, again.Body)
	}
	if got := (apiCall{Method: http.MethodGet, Path: "/v1/onboarding/" + st.ID, Token: token}).do(t, h); got.Status != http.StatusOK {
		t.Errorf("GET /v1/onboarding/%s: %d %s", st.ID, got.Status, got.Body)
	}

	wamid := simInboundTo(t, h, pn, newContact(), "first message")
	eventually(t, "the new tenant's first message and account.onboarded at the core", time.Minute, func() bool {
		onboarded := false
		for _, e := range sinkEvents(t, h, "?type=account.onboarded") {
			onboarded = onboarded || e.TenantID == tenantID && e.PhoneNumberID == pn
		}
		evs := withMessage(sinkEvents(t, h, "?type=message.received"), wamid)
		return onboarded && len(evs) == 1 && evs[0].TenantID == tenantID && evs[0].PhoneNumberID == pn
	})
	checkContract(t, h)
}
