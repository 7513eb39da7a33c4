// Command wacloud-local runs the whole connector on this machine (make
// local): embedded AWS, the webhook behind a local API Gateway, every wired
// function on its queues, the Graph API simulator and a core sink. It
// prints a line containing "ready" once everything accepts requests and
// stops cleanly on Ctrl-C or SIGTERM.
//
// Flags override environment variables, which override the defaults:
//
//	-aws    WACLOUD_LOCAL_AWS_ADDR    embedded AWS (127.0.0.1:4566)
//	-aws-endpoint WACLOUD_LOCAL_AWS_ENDPOINT  an AWS implementation you run (moto_server, LocalStack) instead of the embedded one
//	-aws-backend  WACLOUD_TEST_AWS   embedded implementation: kumo (default) or moto (a moto_server child)
//	-api    WACLOUD_LOCAL_API_ADDR    API Gateway front (127.0.0.1:3000)
//	-graph  WACLOUD_LOCAL_GRAPH_ADDR  Graph API simulator (127.0.0.1:3001)
//	-sink   WACLOUD_LOCAL_SINK_ADDR   core sink (127.0.0.1:3002)
//	-tenants WACLOUD_LOCAL_TENANTS    extra tenants: JSON array or @file.json
//	-log    WACLOUD_LOCAL_LOG         log file (default stderr)
//	-log-level WACLOUD_LOCAL_LOG_LEVEL debug, info, warn, error
//	-metrics WACLOUD_LOCAL_METRICS    file for the functions' EMF metric lines (default: none; with -log-level debug, the log)
//	-pollers WACLOUD_LOCAL_POLLERS    concurrent batches per queue (2)
//	-template                         template.yaml path
//	-poll   WACLOUD_LOCAL_POLL        queue-driven functions polled here: all (default), none, or ids
//	-state  WACLOUD_LOCAL_STATE       state file for -only processes (written once ready)
//	-only NAME                        run one queue-driven function in this process (docs/local.md, "One process per function")
//
// WACLOUD_RETRY_BACKOFF ("base,max", e.g. "1s,4s") replaces the bridge's
// retry backoff, to walk a long core outage through in minutes
// (docs/operations.md).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/shared/crashpoint"
	"github.com/tucanlink/wacloud/shared/logging"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/sender"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "wacloud-local:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("wacloud-local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	awsAddr := fs.String("aws", env("WACLOUD_LOCAL_AWS_ADDR", connector.DefaultAWSAddr), "embedded AWS address (- for a random port only)")
	awsEndpoint := fs.String("aws-endpoint", env("WACLOUD_LOCAL_AWS_ENDPOINT", ""), "use the AWS implementation at this URL (moto_server, LocalStack…) instead of an embedded one")
	awsBackend := fs.String("aws-backend", env(awsemu.EnvBackend, string(awsemu.Kumo)), "embedded AWS implementation: kumo or moto")
	apiAddr := fs.String("api", env("WACLOUD_LOCAL_API_ADDR", connector.DefaultAPIAddr), "API Gateway front address")
	graphAddr := fs.String("graph", env("WACLOUD_LOCAL_GRAPH_ADDR", connector.DefaultGraphAddr), "Graph API simulator address")
	sinkAddr := fs.String("sink", env("WACLOUD_LOCAL_SINK_ADDR", connector.DefaultSinkAddr), "core sink address")
	tenants := fs.String("tenants", env("WACLOUD_LOCAL_TENANTS", ""), "extra tenants: JSON array or @file.json")
	logPath := fs.String("log", env("WACLOUD_LOCAL_LOG", ""), "write logs to this file instead of stderr")
	level := fs.String("log-level", env("WACLOUD_LOCAL_LOG_LEVEL", "info"), "debug, info, warn or error")
	metricsPath := fs.String("metrics", env("WACLOUD_LOCAL_METRICS", ""), "write the functions' EMF metric lines to this file (default: dropped, or in the log at -log-level debug)")
	pollers := fs.String("pollers", env("WACLOUD_LOCAL_POLLERS", "2"), "concurrent batches per queue")
	tmpl := fs.String("template", "", "template.yaml path (default: found from the working directory)")
	poll := fs.String("poll", env("WACLOUD_LOCAL_POLL", "all"), "queue-driven functions polled in this process: all, none, or logical ids (comma-separated)")
	statePath := fs.String("state", env("WACLOUD_LOCAL_STATE", ""), "state file: written once ready; with -only, read")
	only := fs.String("only", "", "run only this queue-driven function (sender, bridge, … or its logical id) against the connector of -state")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *only != "" {
		return runOnly(ctx, *only, *statePath, getenv, *level, *pollers, *logPath, stderr)
	}
	o := connector.Options{AWSAddr: *awsAddr, AWSEndpoint: *awsEndpoint, AWSBackend: awsemu.Backend(*awsBackend), APIAddr: *apiAddr, GraphAddr: *graphAddr, SinkAddr: *sinkAddr, Template: *tmpl, Log: stderr}
	// Local-run switches the functions read from their environment.
	for _, k := range []string{queue.EnvBackoff} {
		if v := getenv(k); v != "" {
			if o.Env == nil {
				o.Env = map[string]string{}
			}
			o.Env[k] = v
		}
	}
	var err error
	if o.Tenants, err = connector.ParseTenants(*tenants); err != nil {
		return err
	}
	if err := o.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	if o.Pollers, err = strconv.Atoi(*pollers); err != nil || o.Pollers < 1 {
		return fmt.Errorf("-pollers: want a positive number, got %q", *pollers)
	}
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open log file: %w", err)
		}
		defer f.Close()
		o.Log = f
	}
	// Metric lines are for CloudWatch, not for a person reading the log.
	switch {
	case *metricsPath != "":
		f, err := os.OpenFile(*metricsPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open metrics file: %w", err)
		}
		defer f.Close()
		o.Metrics = f
	case o.LogLevel > slog.LevelDebug:
		o.Metrics = io.Discard
	}
	switch *poll {
	case "all":
	case "none":
		o.Poll = []string{}
	default:
		o.Poll = strings.Split(*poll, ",")
	}
	o.StatePath = *statePath
	slog.SetDefault(logging.NewWriter(o.Log, "", o.LogLevel))
	return connector.Run(ctx, o, stdout)
}

// runOnly runs one queue-driven function in this process against the
// connector whose state file is at statePath. An invocation that outruns
// the function's timeout ends the process (exit 3), as Lambda discards a
// timed-out execution environment; whoever started it starts it again.
func runOnly(ctx context.Context, name, statePath string, getenv func(string) string, level, pollers, logPath string, stderr io.Writer) error {
	if statePath == "" {
		return fmt.Errorf("-only needs -state: the file the connector (wacloud-local -poll none -state FILE) wrote")
	}
	st, err := connector.ReadState(statePath)
	if err != nil {
		return err
	}
	id, err := st.FunctionID(name)
	if err != nil {
		return err
	}
	o := connector.FunctionOptions{Log: stderr, Env: map[string]string{}, OnTimeout: func() {
		fmt.Fprintf(stderr, "wacloud-local: %s timed out; exiting as Lambda discards the execution environment\n", id)
		os.Exit(3)
	}}
	for _, k := range []string{queue.EnvBackoff, crashpoint.Env, sender.EnvJobLease} {
		if v := getenv(k); v != "" {
			o.Env[k] = v
		}
	}
	if err := o.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	if o.Pollers, err = strconv.Atoi(pollers); err != nil || o.Pollers < 1 {
		return fmt.Errorf("-pollers: want a positive number, got %q", pollers)
	}
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open log file: %w", err)
		}
		defer f.Close()
		o.Log = f
	}
	slog.SetDefault(logging.NewWriter(o.Log, id, o.LogLevel))
	return connector.RunFunction(ctx, st, id, o)
}
