package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/shared/suppression"
)

// TestSuppressionsCommands: add (any form of a number, one entry; the
// first kept), list (each tenant its own), remove, and bad calls.
func TestSuppressionsCommands(t *testing.T) {
	e := newEnv(t)
	acme, other := uniq("acme"), uniq("other")
	steps := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"add", []string{"suppressions", "add", "--tenant", acme, "--contact", "+55 11 99999-8888", "--note", "asked by phone"}, 0, "551199998888 added", ""},
		{"add again as Meta's wa_id", []string{"suppressions", "add", "--tenant", acme, "--contact", "551199998888"}, 0, "already (manual", ""},
		{"add to another tenant", []string{"suppressions", "add", "--tenant", other, "--contact", "US.13491208655302741918"}, 0, "added", ""},
		{"list", []string{"suppressions", "list", "--tenant", acme}, 0, "551199998888  manual", "1 contact(s)"},
		{"remove from another tenant", []string{"suppressions", "remove", "--tenant", other, "--contact", "5511999998888"}, 1, "", "not on tenant"},
		{"remove", []string{"suppressions", "remove", "--tenant", acme, "--contact", "5511999998888"}, 0, "551199998888 removed", ""},
		{"remove again", []string{"suppressions", "remove", "--tenant", acme, "--contact", "551199998888"}, 1, "", "not on tenant"},
		{"list, empty", []string{"suppressions", "list", "--tenant", acme}, 0, "CONTACT", "0 contact(s)"},
		{"add without a contact", []string{"suppressions", "add", "--tenant", acme}, 2, "", "--contact is required"},
		{"add a word", []string{"suppressions", "add", "--tenant", acme, "--contact", "hello"}, 2, "", "--contact must be"},
		{"list without a tenant", []string{"suppressions", "list"}, 2, "", "--tenant is required"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			code, out, errb := e.run("", s.args...)
			if code != s.wantCode || !strings.Contains(out, s.wantStdout) || !strings.Contains(errb, s.wantStderr) {
				t.Errorf("wacloudctl %s: exit %d\nstdout: %s\nstderr: %s\nwant exit %d, stdout with %q, stderr with %q",
					strings.Join(s.args, " "), code, out, errb, s.wantCode, s.wantStdout, s.wantStderr)
			}
		})
	}
	var listed []suppression.Entry
	if err := json.Unmarshal([]byte(e.mustRun("", "suppressions", "list", "--tenant", other, "--json")), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].Contact != "US.13491208655302741918" || listed[0].Reason != suppression.ReasonManual {
		t.Errorf("other's list %+v, want its one manual entry", listed)
	}
}

// TestOptOutCommands: show the defaults, change one setting at a time
// (the others kept), refuse what the API refuses, and go back.
func TestOptOutCommands(t *testing.T) {
	e := newEnv(t)
	acme := uniq("acme")
	e.mustRun("", "tenant", "add", "--id", acme, "--phone-number-id", uniqDigits(), "--waba-id", uniqDigits(), "--access-token", "acme-token")
	steps := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr string
	}{
		{"defaults", []string{"opt-out", "show", "--tenant", acme}, 0, []string{"enabled:  true", "keywords: (defaults) STOP,", "reply:    (default"}, ""},
		{"keywords", []string{"opt-out", "set", "--tenant", acme, "--keywords", "PARE, SAIR ,STOP"}, 0, []string{"keywords: PARE, SAIR, STOP", "reply:    (default"}, ""},
		{"reply, keywords kept", []string{"opt-out", "set", "--tenant", acme, "--reply", "Pronto."}, 0, []string{"keywords: PARE, SAIR, STOP", "reply:    Pronto."}, ""},
		{"disable", []string{"opt-out", "set", "--tenant", acme, "--enabled=false"}, 0, []string{"enabled:  false", "keywords: PARE"}, ""},
		{"shown", []string{"opt-out", "show", "--tenant", acme, "--json"}, 0, []string{`"enabled": false`, `"reply": "Pronto."`}, ""},
		{"a repeated keyword", []string{"opt-out", "set", "--tenant", acme, "--keywords", "stop,STOP!"}, 1, nil, `keywords[1] "STOP!" is keywords[0] again`},
		{"a blank reply", []string{"opt-out", "set", "--tenant", acme, "--reply", "  "}, 1, nil, "reply is only spaces"},
		{"nothing to change", []string{"opt-out", "set", "--tenant", acme}, 2, nil, "nothing to change"},
		{"both keywords flags", []string{"opt-out", "set", "--tenant", acme, "--keywords", "A", "--default-keywords"}, 2, nil, "not both"},
		{"back to the defaults", []string{"opt-out", "set", "--tenant", acme, "--enabled=true", "--default-keywords", "--default-reply"}, 0,
			[]string{"enabled:  true", "keywords: (defaults)", "reply:    (default"}, ""},
		{"a tenant not registered", []string{"opt-out", "show", "--tenant", uniq("nobody")}, 1, nil, "not registered"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			code, out, errb := e.run("", s.args...)
			ok := code == s.wantCode && strings.Contains(errb, s.wantStderr)
			for _, w := range s.wantStdout {
				ok = ok && strings.Contains(out, w)
			}
			if !ok {
				t.Errorf("wacloudctl %s: exit %d\nstdout: %s\nstderr: %s\nwant exit %d, stdout with %q, stderr with %q",
					strings.Join(s.args, " "), code, out, errb, s.wantCode, s.wantStdout, s.wantStderr)
			}
		})
	}
}
