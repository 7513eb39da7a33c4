package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/sender"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// TestRunWithoutAWS covers what wacloudctl answers before any AWS call:
// exit codes, where help and errors go, and command groups.
func TestRunWithoutAWS(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     []string // each must appear
		stderr     []string
		quietOut   bool // nothing on stdout
		quietErr   bool // nothing on stderr
		errorLines int  // lines on stderr starting "wacloudctl" (0: not checked)
	}{
		{name: "no command is a usage error", args: nil, code: 2, stderr: []string{"Commands:", "a command is needed"}, quietOut: true},
		{name: "help goes to stdout", args: []string{"help"}, code: 0, stdout: []string{"Commands:", "tenant add"}, quietErr: true},
		{name: "--help goes to stdout", args: []string{"--help"}, code: 0, stdout: []string{"Commands:"}, quietErr: true},
		{name: "--version", args: []string{"--version"}, code: 0, stdout: []string{"wacloudctl "}, quietErr: true},
		{name: "version", args: []string{"version"}, code: 0, stdout: []string{"wacloudctl "}, quietErr: true},
		{name: "a group alone lists its subcommands", args: []string{"tenant"}, code: 2,
			stderr: []string{"tenant add", "tenant rotate", "wacloudctl tenant: a subcommand is needed"}, quietOut: true},
		{name: "a group with flags only", args: []string{"dlq", "--yes"}, code: 2, stderr: []string{"dlq redrive", "a subcommand is needed"}, quietOut: true},
		{name: "an unknown subcommand of a group", args: []string{"tenant", "nope"}, code: 2,
			stderr: []string{"tenant list", `unknown subcommand "nope"`}, quietOut: true},
		{name: "an unknown command", args: []string{"nope"}, code: 2, stderr: []string{`unknown command "nope"`}, quietOut: true},
		{name: "subcommand help goes to stdout", args: []string{"message", "show", "--help"}, code: 0,
			stdout: []string{"usage: wacloudctl message show", "-wamid"}, quietErr: true},
		{name: "an unknown flag is said once, then the usage", args: []string{"tenant", "list", "--nope"}, code: 2,
			stderr: []string{"wacloudctl tenant list: flag provided but not defined: -nope", "usage: wacloudctl tenant list"}, quietOut: true, errorLines: 1},
		{name: "a usage error carries no class words", args: []string{"message", "show"}, code: 2,
			stderr: []string{"wacloudctl message show: give exactly one of --wamid and --job"}, quietOut: true, errorLines: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			m := Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
			if code := m.Run(context.Background(), tt.args); code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
			for _, want := range tt.stdout {
				if !strings.Contains(out.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, out.String())
				}
			}
			for _, want := range tt.stderr {
				if !strings.Contains(errb.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, errb.String())
				}
			}
			if tt.quietOut && out.Len() > 0 {
				t.Errorf("stdout = %q, want nothing", out.String())
			}
			if tt.quietErr && errb.Len() > 0 {
				t.Errorf("stderr = %q, want nothing", errb.String())
			}
			if tt.errorLines > 0 {
				if n := strings.Count(errb.String(), "\nwacloudctl ") + strings.Count(errb.String()[:min(len(errb.String()), 11)], "wacloudctl "); n != tt.errorLines {
					t.Errorf("%d error lines, want %d:\n%s", n, tt.errorLines, errb.String())
				}
			}
			for _, leak := range []string{"usage: invalid", "invalid: ", "permanent: ", "retry: "} {
				if strings.Contains(errb.String(), leak) {
					t.Errorf("stderr shows an internal class %q: %s", leak, errb.String())
				}
			}
		})
	}
}

func TestMessage(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"usage error", usageErr("--tenant is required"), "--tenant is required"},
		{"invalid", fault.Invalidf("invalid outbound job: to is required"), "invalid outbound job: to is required"},
		{"wrapped permanent", fmt.Errorf("read job demo/j1: %w", fault.Permanentf("decode: bad")), "read job demo/j1: decode: bad"},
		{"retry with a code", fmt.Errorf("send: %w", fault.WithCode(fault.Retry, "503", errors.New("service unavailable"))), "send: code 503: service unavailable"},
		{"words inside a message stay", errors.New("the token is invalid: expired"), "the token is invalid: expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := message(tt.err); got != tt.want {
				t.Errorf("message = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProgress(t *testing.T) {
	for _, terminal := range []bool{false, true} {
		var errb bytes.Buffer
		a := &app{Main: Main{Stderr: &errb, Terminal: func(io.Writer) bool { return terminal }}}
		p := a.progress("redriving")
		p.Update(3, 3)
		p.Done()
		got := errb.String()
		if terminal && got != "\rredriving: 3/3 (100%)\033[K\n" {
			t.Errorf("terminal: %q", got)
		}
		if !terminal && got != "" {
			t.Errorf("not a terminal, yet printed %q", got)
		}
	}
}

// TestEndpointAndStack: a local --endpoint-url wins over WACLOUD_STACK
// (exported for a deployed stack); an explicit --stack the endpoint does
// not have says what to do; an unreachable endpoint is said once.
func TestEndpointAndStack(t *testing.T) {
	e := newEnv(t)
	e.vars = map[string]string{"WACLOUD_STACK": "wacloud", "AWS_REGION": "us-east-1"}
	defer func() { e.vars = nil }()
	if code, out, errb := e.run("", "tenant", "list"); code != 0 {
		t.Errorf("WACLOUD_STACK with a local endpoint: exit %d\n%s%s", code, out, errb)
	}
	code, _, errb := e.run("", "tenant", "list", "--stack", "wacloud")
	if code != 1 || !strings.Contains(errb, "leave --stack out and unset WACLOUD_STACK") {
		t.Errorf("--stack the endpoint lacks: exit %d, stderr %q", code, errb)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	code, _, errb = e.run("", "tenant", "list", "--endpoint-url", closed)
	if code != 1 || strings.Count(errb, "connection refused") != 1 || !strings.Contains(errb, "cannot reach AWS") || strings.Count(errb, "\n") != 1 {
		t.Errorf("unreachable endpoint: exit %d, stderr %q; want one line saying it cannot be reached", code, errb)
	}
}

// TestMessageShowFailedJob: a job Meta never accepted has no message
// record; message show --job tells what became of it from the job record.
func TestMessageShowFailedJob(t *testing.T) {
	e := newEnv(t)
	if err := e.registry().Put(e.ctx, tenant.Tenant{ID: "demo", SecretID: "wacloud/tenants/demo"},
		[]tenant.Number{{PhoneNumberID: "100000000000001", WABAID: "200000000000001"}}); err != nil {
		t.Fatal(err)
	}
	jobs := &sender.JobStore{API: dynamodb.NewFromConfig(e.emu.Config()), Table: e.st.Names.Ref["StateTable"]}
	jobID := uniq("job")
	claim, _, err := jobs.Claim(e.ctx, sender.JobRecord{JobID: jobID, TenantID: "demo", PhoneNumberID: "100000000000001", To: "5511999990001", Type: "text"})
	if err != nil {
		t.Fatal(err)
	}
	if err := jobs.MarkFailed(e.ctx, sender.JobRef{TenantID: "demo", JobID: jobID}, claim,
		sender.Failure{Reason: "window_closed", Details: "the customer's 24-hour window is closed: send a template"}, 1); err != nil {
		t.Fatal(err)
	}
	out := e.mustRun("", "message", "show", "--tenant", "demo", "--job", jobID)
	for _, want := range []string{jobID, "job state", "failed", "window_closed", "24-hour window", "retryable"} {
		if !strings.Contains(out, want) {
			t.Errorf("message show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "5511999990001") {
		t.Errorf("message show prints the recipient's number from the job record:\n%s", out)
	}
	out = e.mustRun("", "message", "show", "--tenant", "demo", "--job", jobID, "--json")
	if !strings.Contains(out, `"reason": "window_closed"`) && !strings.Contains(out, `"reason":"window_closed"`) {
		t.Errorf("--json lacks the reason:\n%s", out)
	}
	code, _, errb := e.run("", "message", "show", "--tenant", "demo", "--job", "never-"+jobID)
	if code != 1 || !strings.Contains(errb, "has no job") {
		t.Errorf("unknown job: exit %d, stderr %q", code, errb)
	}
}

// TestCredentialsKeyError: a misspelled key in the credentials JSON is
// named (keys are not secret); the values never appear.
func TestCredentialsKeyError(t *testing.T) {
	var out, errb bytes.Buffer
	m := Main{Stdin: strings.NewReader(`{"acess_token":"EAAG-secret-value"}`), Stdout: &out, Stderr: &errb}
	code := m.Run(context.Background(), []string{"tenant", "add", "--id", "acme", "--phone-number-id", "1", "--waba-id", "2", "--credentials-stdin"})
	if code != 2 || !strings.Contains(errb.String(), `unknown key "acess_token"`) || !strings.Contains(errb.String(), "access_token") {
		t.Errorf("exit %d, stderr %q; want the unknown key named", code, errb.String())
	}
	noSecrets(t, []string{out.String(), errb.String()}, "EAAG-secret-value")
}
