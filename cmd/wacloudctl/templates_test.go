package main

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/catalog"
)

func TestTemplatesCommands(t *testing.T) {
	e := newEnv(t)
	acme, pn, waba := uniq("acme"), uniqDigits(), uniqDigits()
	sim := graphsim.New(graphsim.Config{Numbers: []graphsim.Number{{PhoneNumberID: pn, WABAID: waba, AccessToken: "acme-token"}},
		Templates: graphsim.SampleTemplates(waba)})
	t.Cleanup(sim.Close)
	g := httptest.NewServer(sim)
	t.Cleanup(g.Close)
	e.mustRun("", "tenant", "add", "--id", acme, "--phone-number-id", pn, "--waba-id", waba, "--access-token", "acme-token")

	out := e.mustRun("", "templates", "sync", "--tenant", acme, "--graph-url", g.URL)
	if want := "8 template(s) listed by Meta"; !strings.Contains(out, want) {
		t.Errorf("sync said %q, want %q", out, want)
	}
	noSecrets(t, []string{out}, "acme-token")

	var listed []catalog.Template
	if err := json.Unmarshal([]byte(e.mustRun("", "templates", "list", "--tenant", acme, "--status", "APPROVED", "--json")), &listed); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tp := range listed {
		names = append(names, tp.Name)
		if tp.SyncedAt == "" || len(tp.Components) == 0 {
			t.Errorf("%s listed without synced_at or components: %+v", tp.Name, tp)
		}
	}
	if len(names) != 7 || slices.Contains(names, "2023_april_promo") {
		t.Errorf("APPROVED templates %v, want the 7 approved samples", names)
	}
	table := e.mustRun("", "templates", "list", "--tenant", acme, "--name", "2023_april_promo")
	if !strings.Contains(table, "2023_april_promo") || !strings.Contains(table, "PAUSED") || strings.Contains(table, "hello_world") {
		t.Errorf("list --name 2023_april_promo:\n%s", table)
	}

	for _, args := range [][]string{{"templates", "sync"}, {"templates", "list"}} {
		if code, _, _ := e.run("", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errb := e.run("", "templates", "sync", "--tenant", acme, "--graph-url", g.URL+"/nowhere"); code != 1 || errb == "" {
		t.Errorf("sync against a broken Graph URL: exit %d %q, want 1 with an error", code, errb)
	}
}
