// Command wacloudctl operates a wacloud deployment: onboard, list, disable
// and rotate tenants, split secrets from before the sending/webhook-side
// split, show a message's history, inspect and redrive the dead-letter
// queues, list and replay parked payloads, sync and list the template
// catalog, keep suppression lists and opt-out settings, and send a test
// message. It
// works against real AWS (resource names from the CloudFormation stack's
// outputs, --stack) and against the local connector (--endpoint-url
// http://127.0.0.1:4566, local names by default). It never prints
// credentials.
//
//	wacloudctl [command] [subcommand] [flags]
//	wacloudctl help
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}.Run(ctx, os.Args[1:]))
}

// Main holds the process's streams and environment, so tests run the CLI
// in-process.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Terminal tells whether w is a terminal (progress lines); nil: an
	// *os.File that is a character device.
	Terminal func(w io.Writer) bool
}

// command is one leaf command.
type command struct {
	path    string // "tenant add"
	summary string
	run     func(ctx context.Context, a *app, args []string) error
}

var commands = []command{
	{"tenant add", "register a company: its numbers in the registry and its credentials in Secrets Manager", tenantAdd},
	{"onboard", "onboard a company from Meta's Embedded Signup (code, WABA, number): the steps of POST /v1/onboarding, resumed where they stopped when run again", onboardCmd},
	{"tenant list", "list the tenants", tenantList},
	{"tenant disable", "disable a tenant (its webhooks and jobs are refused)", tenantSetStatus("disabled")},
	{"tenant enable", "enable a disabled tenant", tenantSetStatus("active")},
	{"tenant delete", "offboard a tenant: its numbers leave the registry and its secrets are deleted (records and media age out, or --purge)", tenantDelete},
	{"number remove", "take a business number away from its tenant (its queued jobs fail, its webhooks are parked)", numberRemove},
	{"number set", "record a number's throughput (up or down) or that it is shared with the WhatsApp Business app (20/s)", numberSet},
	{"number sync", "record a number's throughput level and WhatsApp Business app use as Meta reports them (Graph, with the tenant's token)", numberSync},
	{"number move", "give business numbers, with their WABA, to another tenant", numberMove},
	{"numbers list", "list a tenant's numbers with what Meta reports now: verified name, quality, messaging tier, throughput (as GET …/phone-numbers)", numbersList},
	{"tenant purge", "delete the stored data (media, message and job records) of a deleted tenant now rather than at the end of its retention", tenantPurge},
	{"tenant rotate", "replace a tenant's credentials (read from stdin or flags, never shown)", tenantRotate},
	{"secrets migrate", "split every combined tenant and platform secret into a sending and a webhook-side secret (--dry-run to preview)", secretsMigrate},
	{"templates sync", "sync a tenant's template catalog from Meta now (Graph, with the tenant's token); the templates function does it on a schedule", templatesSync},
	{"templates list", "list a tenant's template catalog (status, category, quality, synced_at)", templatesList},
	{"templates create", "submit a template to Meta (--file: the API's POST …/templates body), checked against Meta's rules first, and record it in the catalog", templatesCreate},
	{"templates delete", "delete a template at Meta (every language, or --language / --hsm-id) and from the catalog", templatesDelete},
	{"suppressions list", "list a tenant's suppression list (contacts that get no templates or campaigns), with why and when", suppressionsList},
	{"suppressions add", "put a contact on a tenant's suppression list (reason manual)", suppressionsAdd},
	{"suppressions remove", "take a contact off a tenant's suppression list (templates and campaigns reach it again)", suppressionsRemove},
	{"opt-out show", "show a tenant's opt-out settings: stop keywords, confirmation reply, enabled", optOutShow},
	{"opt-out set", "change a tenant's opt-out settings (only the flags given)", optOutSet},
	{"message show", "show an outbound message's history by --wamid or --job", messageShow},
	{"dlq list", "list every dead-letter queue, its depth and its messages with their failure reasons (nothing is deleted)", dlqList},
	{"dlq redrive", "move dead-lettered messages (all, or --id) back to their source queue", dlqRedrive},
	{"parked list", "list payloads parked in S3 (unknown number, disabled tenant, oversized body, ...) with their reason and whether they can be replayed", parkedList},
	{"parked replay", "put parked payloads back on the inbound queue (--key, --reason or --all); each is moved to replayed/, and the inbound dedup lets every event through once", parkedReplay},
	{"send-test", "enqueue an outbound text job for a tenant", sendTest},
}

// Run executes the command in args and returns the exit code: 0 done, 1
// failed, 2 called wrongly (usage on stderr). Help asked for goes to
// stdout with exit 0.
func (m Main) Run(ctx context.Context, args []string) int {
	if m.Getenv == nil {
		m.Getenv = func(string) string { return "" }
	}
	switch {
	case len(args) == 0:
		m.usage(m.Stderr, "")
		fmt.Fprintln(m.Stderr, "\nwacloudctl: a command is needed")
		return 2
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help":
		m.usage(m.Stdout, "")
		return 0
	case args[0] == "version" || args[0] == "--version":
		fmt.Fprintln(m.Stdout, "wacloudctl", version())
		return 0
	}
	var cmd *command
	rest := args
	for i := range commands {
		words := strings.Fields(commands[i].path)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == commands[i].path {
			cmd, rest = &commands[i], args[len(words):]
			break
		}
	}
	if cmd == nil {
		if group := groupOf(args); group != "" {
			// "wacloudctl tenant" or "wacloudctl tenant nope": the group's
			// commands, and what was wrong.
			m.usage(m.Stderr, group+" ")
			if len(args) == 1 || strings.HasPrefix(args[1], "-") {
				fmt.Fprintf(m.Stderr, "\nwacloudctl %s: a subcommand is needed\n", group)
			} else {
				fmt.Fprintf(m.Stderr, "\nwacloudctl %s: unknown subcommand %q\n", group, args[1])
			}
			return 2
		}
		m.usage(m.Stderr, "")
		fmt.Fprintf(m.Stderr, "\nwacloudctl: unknown command %q\n", args[0])
		return 2
	}
	a := &app{Main: m, cmd: cmd.path, summary: cmd.summary}
	err := cmd.run(ctx, a, rest)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		a.printUsage(m.Stdout)
		return 0
	case errors.As(err, new(*flagError)):
		// A flag the command does not take, or a bad value: the flag
		// package said which; the usage follows.
		fmt.Fprintf(m.Stderr, "wacloudctl %s: %s\n\n", cmd.path, err)
		a.printUsage(m.Stderr)
		return 2
	}
	fmt.Fprintf(m.Stderr, "wacloudctl %s: %s\n", cmd.path, message(err))
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// groupOf returns the command group args[0] names ("tenant" for "tenant
// add", "tenant list", …), or "" when it names none.
func groupOf(args []string) string {
	for _, c := range commands {
		if words := strings.Fields(c.path); len(words) > 1 && words[0] == args[0] {
			return words[0]
		}
	}
	return ""
}

// version is the module version and VCS revision the binary was built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	switch {
	case rev != "" && (v == "" || v == "(devel)"):
		return rev + modified + " " + bi.GoVersion
	case rev != "":
		return v + " (" + rev + modified + ") " + bi.GoVersion
	}
	return v + " " + bi.GoVersion
}

func (m Main) usage(w io.Writer, prefix string) {
	fmt.Fprintln(w, "wacloudctl operates a wacloud deployment (real AWS or the local connector).")
	fmt.Fprintln(w, "\nCommands:")
	cs := append([]command(nil), commands...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].path < cs[j].path })
	for _, c := range cs {
		if prefix == "" || strings.HasPrefix(c.path, prefix) {
			fmt.Fprintf(w, "  %-16s %s\n", c.path, c.summary)
		}
	}
	fmt.Fprintln(w, "\nRun 'wacloudctl <command> --help' for a command's flags. Every command takes:")
	fmt.Fprintln(w, "  --stack NAME          CloudFormation stack to read resource names from (env WACLOUD_STACK)")
	fmt.Fprintln(w, "  --endpoint-url URL    AWS endpoint, e.g. http://127.0.0.1:4566 for make local (env WACLOUD_ENDPOINT_URL)")
	fmt.Fprintln(w, "  --region REGION       AWS region (env AWS_REGION)")
	fmt.Fprintln(w, "  and explicit names: --tenants-table, --messages-table, --suppressions-table, --secret-prefix, --webhook-secret-prefix,")
	fmt.Fprintln(w, "  --platform-secret, --platform-webhook-secret, --outbound-queue-url")
}

// errUsage marks errors in how the command was called (exit code 2).
var errUsage = errors.New("usage")

// usageError is a usage error; its text is only the advice.
type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == errUsage }

func usageErr(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// faultClass matches the class words shared/fault puts before a message
// ("permanent: ", "retry (503): "): they are for the functions' retry
// decisions, not for a person.
var faultClass = regexp.MustCompile(`(^|: )(?:retry|permanent|invalid)(?: \(([^)]*)\))?: `)

// message is err as a person reads it: without the internal class words
// (a code they carried stays, as "code N: "), and an endpoint that cannot
// be reached said once, without the SDK's retry details.
func message(err error) string {
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) {
		var op *smithy.OperationError
		where := "AWS"
		if errors.As(err, &op) {
			where = "AWS (" + op.ServiceID + " " + op.OperationName + ")"
		}
		var ue *url.Error
		if errors.As(send.Err, &ue) {
			return fmt.Sprintf("cannot reach %s at %s: %v (is the endpoint right, and for --endpoint-url http://127.0.0.1:4566 is make local running?)", where, ue.URL, ue.Err)
		}
		return fmt.Sprintf("cannot reach %s: %v", where, send.Err)
	}
	return faultClass.ReplaceAllStringFunc(err.Error(), func(m string) string {
		sub := faultClass.FindStringSubmatch(m)
		if sub[2] != "" {
			return sub[1] + "code " + sub[2] + ": "
		}
		return sub[1]
	})
}
