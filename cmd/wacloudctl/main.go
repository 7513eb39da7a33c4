// Command wacloudctl operates a wacloud deployment: onboard, list, disable
// and rotate tenants, split secrets from before the sending/webhook-side
// split, show a message's history, inspect and redrive the dead-letter
// queues, list and replay parked payloads, sync and list the template
// catalog, and send a test message. It
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
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
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
	{"message show", "show an outbound message's history by --wamid or --job", messageShow},
	{"dlq list", "list every dead-letter queue, its depth and its messages with their failure reasons (nothing is deleted)", dlqList},
	{"dlq redrive", "move dead-lettered messages (all, or --id) back to their source queue", dlqRedrive},
	{"parked list", "list payloads parked in S3 (unknown number, disabled tenant, oversized body, ...) with their reason and whether they can be replayed", parkedList},
	{"parked replay", "put parked payloads back on the inbound queue (--key, --reason or --all); each is moved to replayed/, and the inbound dedup lets every event through once", parkedReplay},
	{"send-test", "enqueue an outbound text job for a tenant", sendTest},
}

// Run executes the command in args and returns the exit code.
func (m Main) Run(ctx context.Context, args []string) int {
	if m.Getenv == nil {
		m.Getenv = func(string) string { return "" }
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		m.usage(m.Stdout, "")
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
		m.usage(m.Stderr, args[0])
		fmt.Fprintf(m.Stderr, "\nwacloudctl: unknown command %q\n", strings.Join(args, " "))
		return 2
	}
	a := &app{Main: m, cmd: cmd.path, summary: cmd.summary}
	if err := cmd.run(ctx, a, rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(m.Stderr, "wacloudctl %s: %v\n", cmd.path, err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
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
	fmt.Fprintln(w, "  and explicit names: --tenants-table, --messages-table, --secret-prefix, --webhook-secret-prefix,")
	fmt.Fprintln(w, "  --platform-secret, --platform-webhook-secret, --outbound-queue-url")
}

// errUsage marks errors in how the command was called (exit code 2).
var errUsage = errors.New("usage")

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}
