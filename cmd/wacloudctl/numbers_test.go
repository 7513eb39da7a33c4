package main

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/local/graphsim"
)

func TestNumbersList(t *testing.T) {
	e := newEnv(t)
	acme, pn1, pn2, waba := uniq("acme"), uniqDigits(), uniqDigits(), uniqDigits()
	sim := graphsim.New(graphsim.Config{Numbers: []graphsim.Number{
		{PhoneNumberID: pn1, WABAID: waba, DisplayPhoneNumber: "15550001001", AccessToken: "acme-token"},
		{PhoneNumberID: pn2, WABAID: waba, DisplayPhoneNumber: "15550001002", AccessToken: "acme-token"},
	}})
	t.Cleanup(sim.Close)
	sim.SetNumberStatus(pn2, func(s *graphsim.NumberStatus) { s.QualityRating, s.MessagingLimitTier = "RED", "TIER_250" })
	g := httptest.NewServer(sim)
	t.Cleanup(g.Close)
	e.mustRun("", "tenant", "add", "--id", acme, "--phone-number-id", pn1, "--phone-number-id", pn2, "--waba-id", waba, "--access-token", "acme-token")

	var got struct {
		Data []struct {
			PhoneNumberID      string `json:"phone_number_id"`
			QualityRating      string `json:"quality_rating"`
			MessagingLimitTier string `json:"messaging_limit_tier"`
			VerifiedName       string `json:"verified_name"`
		} `json:"data"`
	}
	out := e.mustRun("", "numbers", "list", "--tenant", acme, "--graph-url", g.URL, "--json")
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var summary []string
	for _, d := range got.Data {
		summary = append(summary, d.PhoneNumberID+" "+d.QualityRating+" "+d.MessagingLimitTier+" "+d.VerifiedName)
	}
	// The tier is the business portfolio's: both numbers of the WABA report it.
	want := []string{pn1 + " GREEN TIER_250 Simulated business " + pn1, pn2 + " RED TIER_250 Simulated business " + pn2}
	if strings.Join(summary, "\n") != strings.Join(want, "\n") {
		t.Errorf("numbers list --json:\n%s\nwant\n%s", strings.Join(summary, "\n"), strings.Join(want, "\n"))
	}
	noSecrets(t, []string{out}, "acme-token")
	table := e.mustRun("", "numbers", "list", "--tenant", acme, "--graph-url", g.URL)
	if !strings.Contains(table, "QUALITY") || !strings.Contains(table, pn2) || !strings.Contains(table, "TIER_250") {
		t.Errorf("numbers list:\n%s", table)
	}
	if code, _, _ := e.run("", "numbers", "list"); code != 2 {
		t.Errorf("numbers list without --tenant: exit %d, want 2", code)
	}
	if code, _, errb := e.run("", "numbers", "list", "--tenant", uniq("ghost"), "--graph-url", g.URL); code != 1 || !strings.Contains(errb, "tenant_not_found") {
		t.Errorf("numbers list of an unknown tenant: exit %d %q, want 1 with tenant_not_found", code, errb)
	}
}
