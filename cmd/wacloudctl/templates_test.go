package main

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	if want := "15 template(s) listed by Meta"; !strings.Contains(out, want) {
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
	if len(names) != 14 || slices.Contains(names, "2023_april_promo") {
		t.Errorf("APPROVED templates %v, want the 14 approved samples", names)
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

// TestTemplatesCreateAndDelete: the commands run the API's template code:
// Meta's rules first, then Meta and the catalog.
func TestTemplatesCreateAndDelete(t *testing.T) {
	e := newEnv(t)
	acme, pn, waba := uniq("acme"), uniqDigits(), uniqDigits()
	sim := graphsim.New(graphsim.Config{Numbers: []graphsim.Number{{PhoneNumberID: pn, WABAID: waba, AccessToken: "acme-token"}}})
	t.Cleanup(sim.Close)
	g := httptest.NewServer(sim)
	t.Cleanup(g.Close)
	e.mustRun("", "tenant", "add", "--id", acme, "--phone-number-id", pn, "--waba-id", waba, "--access-token", "acme-token")
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `{"name":"order_shipped","language":"en_US","category":"UTILITY","components":[
		{"type":"BODY","text":"Hi {{1}}, your order {{2}} is on its way.","example":{"body_text":[["Maria","#1042"]]}}]}`)
	bad := write("bad.json", `{"name":"Order Shipped","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"Hi {{2}}"}]}`)

	code, _, errb := e.run("", "templates", "create", "--tenant", acme, "--file", bad, "--graph-url", g.URL)
	if code != 1 || !strings.Contains(errb, "invalid_template") || !strings.Contains(errb, "name") || !strings.Contains(errb, "{{1}}") {
		t.Errorf("create of a broken template: exit %d %q, want 1 listing both problems", code, errb)
	}
	if n := sim.TemplateStats().Refused; n != 0 {
		t.Errorf("a broken template reached Meta (%d refusals)", n)
	}
	var created catalog.Template
	if err := json.Unmarshal([]byte(e.mustRun("", "templates", "create", "--tenant", acme, "--file", good, "--graph-url", g.URL)), &created); err != nil {
		t.Fatal(err)
	}
	if created.Status != "PENDING" || len(sim.Templates(waba)) != 1 || sim.Templates(waba)[0].ID != created.ID {
		t.Errorf("created %+v; Meta holds %+v", created, sim.Templates(waba))
	}
	if table := e.mustRun("", "templates", "list", "--tenant", acme); !strings.Contains(table, "order_shipped") {
		t.Errorf("the catalog does not list the created template:\n%s", table)
	}
	e.mustRun("", "templates", "delete", "--tenant", acme, "--name", "order_shipped", "--graph-url", g.URL)
	if len(sim.Templates(waba)) != 0 {
		t.Errorf("Meta still holds %+v", sim.Templates(waba))
	}
	if code, _, errb := e.run("", "templates", "delete", "--tenant", acme, "--name", "order_shipped", "--graph-url", g.URL); code != 1 || !strings.Contains(errb, "template_not_found") {
		t.Errorf("second delete: exit %d %q", code, errb)
	}
	for _, args := range [][]string{{"templates", "create", "--tenant", acme}, {"templates", "delete", "--tenant", acme}} {
		if code, _, _ := e.run("", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
