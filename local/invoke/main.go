// Command invoke runs one function's real bootstrap binary the way Lambda
// does, without Docker: under the AWS Lambda Runtime Interface Emulator
// (aws-lambda-rie), with the environment template.yaml gives the function,
// against a local AWS endpoint with the demo tenant seeded. It posts one
// event, prints the function's response on stdout (its logs go to stderr)
// and shuts everything down.
//
//	go run ./local/invoke -fn webhook -event events/webhook/post_text.json
//	make invoke FN=webhook EVENT=events/webhook/post_text.json
//
// The AWS endpoint is a running `make local` at 127.0.0.1:4566 when one
// answers (its pollers then process whatever the function enqueues), or
// else an embedded emulator started for this invocation together with the
// Graph API simulator and the core sink (-aws embedded forces it). Each run
// starts its own emulator process on its own ports and sends it exactly one
// invocation: the RIE does not support overlapping calls.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/rie"
	"github.com/tucanlink/wacloud/local/stack"
)

const localAWS = "127.0.0.1:4566"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fn := fs.String("fn", "", "function: webhook, inbound, bridge, sender, media, status (or its logical id, WebhookFunction, ...)")
	eventPath := fs.String("event", "", "event JSON file, for example events/webhook/post_text.json")
	awsMode := fs.String("aws", "auto", `AWS endpoint: "auto" (a running make local at `+localAWS+`, else embedded), "embedded", or "local"`)
	rieFlag := fs.String("rie", os.Getenv("AWS_LAMBDA_RIE"), "aws-lambda-rie binary (default: PATH, GOPATH/bin, or installed with go install)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: invoke -fn <function> -event <file> [-aws auto|embedded|local] [-rie path]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *fn == "" || *eventPath == "" {
		fs.Usage()
		return errors.New("-fn and -event are required")
	}
	if runtime.GOOS != "linux" {
		return fmt.Errorf("the Runtime Interface Emulator runs on Linux only (this is %s); use `make local` or `sam local invoke`", runtime.GOOS)
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	id, dir, err := function(*fn)
	if err != nil {
		return err
	}
	event, err := os.ReadFile(*eventPath)
	if err != nil {
		return fmt.Errorf("read event: %w", err)
	}
	if !json.Valid(event) {
		return fmt.Errorf("event %s is not JSON", *eventPath)
	}

	work, err := os.MkdirTemp("", "wacloud-invoke-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	logf(stderr, "building functions/%s for linux/%s", dir, runtime.GOARCH)
	bootstrap := filepath.Join(work, "bootstrap")
	// For the host's architecture so it runs here.
	if err := rie.Build(ctx, root, "./functions/"+dir, runtime.GOARCH, bootstrap, false, stderr); err != nil {
		return err
	}
	rieBin, err := rie.Find(ctx, *rieFlag, stderr)
	if err != nil {
		return err
	}

	env, cleanup, err := environment(ctx, root, id, *awsMode, stderr)
	if err != nil {
		return err
	}
	defer cleanup()

	res, err := rie.Invoke(ctx, rieBin, bootstrap, work, env, event, stderr)
	if err != nil {
		return err
	}
	out := res.Body
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") == nil {
		out = pretty.Bytes()
	}
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
}

// function maps "webhook" or "WebhookFunction" to the logical id and the
// directory under functions/.
func function(name string) (id, dir string, err error) {
	known := map[string]string{
		"webhook": "WebhookFunction", "inbound": "InboundFunction", "bridge": "BridgeFunction",
		"sender": "SenderFunction", "media": "MediaFunction", "status": "StatusFunction",
		"api":       "ApiFunction",
		"templates": "TemplatesFunction",
	}
	n := strings.TrimSuffix(strings.ToLower(name), "function")
	if id, ok := known[n]; ok {
		return id, n, nil
	}
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	return "", "", fmt.Errorf("unknown function %q: want one of %s", name, strings.Join(names, ", "))
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "template.yaml")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("template.yaml and go.mod not found here or above; run from the repository")
		}
		dir = parent
	}
}

// environment resolves the function's environment from the template
// against a running make local or an embedded emulator.
func environment(ctx context.Context, root, id, mode string, stderr io.Writer) (map[string]string, func(), error) {
	tmpl, err := stack.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, nil, err
	}
	var (
		awsURL  string
		st      *stack.Stack
		cleanup = func() {}
	)
	useLocal := mode == "local"
	if mode == "auto" {
		useLocal = localRunning(ctx)
	}
	switch {
	case useLocal:
		awsURL = "http://" + localAWS
		emu := &awsemu.Emulator{URL: awsURL}
		// Same stack name and parameters as the local connector: creating
		// what exists already is a no-op, and yields its names.
		st, err = stack.Provision(ctx, emu.Config(), tmpl, stack.Options{Params: map[string]string{
			"CoreUrl": "http://" + connector.DefaultSinkAddr, "GraphApiBaseUrl": "http://" + connector.DefaultGraphAddr,
		}})
		if err != nil {
			return nil, nil, fmt.Errorf("resolve the stack on the running make local: %w", err)
		}
		logf(stderr, "using the running make local at %s", awsURL)
	case mode == "auto" || mode == "embedded":
		h, err := connector.Start(ctx, connector.Options{
			AWSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", GraphAddr: "127.0.0.1:0", SinkAddr: "127.0.0.1:0",
			Template: filepath.Join(root, "template.yaml"), Functions: map[string]connector.Setup{}, Log: io.Discard,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("start the embedded AWS emulator: %w", err)
		}
		awsURL, st = h.AWSURL, h.Stack
		cleanup = func() {
			if n := len(h.Sink.Events()); n > 0 {
				logf(stderr, "the core sink received %d event(s)", n)
			}
			if n := len(h.Sim.Messages()); n > 0 {
				logf(stderr, "the Graph API simulator accepted %d message(s)", n)
			}
			h.Close()
		}
		logf(stderr, "embedded AWS at %s, Graph API simulator at %s, core sink at %s (demo tenant seeded)", h.AWSURL, h.GraphURL, h.SinkURL)
	default:
		return nil, nil, fmt.Errorf("-aws %q: want auto, embedded or local", mode)
	}
	env, err := rie.FunctionEnv(tmpl, st, id, awsURL)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return env, cleanup, nil
}

// localRunning reports whether a make local answers at 127.0.0.1:4566 with
// the stack's queues.
func localRunning(ctx context.Context) bool {
	c, err := net.DialTimeout("tcp", localAWS, 300*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	emu := &awsemu.Emulator{URL: "http://" + localAWS}
	out, err := sqs.NewFromConfig(emu.Config()).ListQueues(cctx, &sqs.ListQueuesInput{})
	if err != nil {
		return false
	}
	for _, u := range out.QueueUrls {
		if strings.HasSuffix(u, "/InboundQueue.fifo") {
			return true
		}
	}
	return false
}

func logf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "invoke: "+format+"\n", args...)
}
