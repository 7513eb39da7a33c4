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
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/stack"
)

// RIEModule is the emulator installed with `go install` when none is found.
const (
	RIEModule  = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	RIEVersion = "v0.0.0-20261030222936-bef5c4ba774d"
	localAWS   = "127.0.0.1:4566"
)

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
	rie := fs.String("rie", os.Getenv("AWS_LAMBDA_RIE"), "aws-lambda-rie binary (default: PATH, GOPATH/bin, or installed with go install)")
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
	if err := build(ctx, root, dir, bootstrap, stderr); err != nil {
		return err
	}
	rieBin, err := findRIE(ctx, *rie, stderr)
	if err != nil {
		return err
	}

	env, cleanup, err := environment(ctx, root, id, *awsMode, stderr)
	if err != nil {
		return err
	}
	defer cleanup()

	out, err := invoke(ctx, rieBin, bootstrap, work, env, event, stderr)
	if err != nil {
		return err
	}
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

// build compiles the function as the Makefile's build targets do, but for
// the host's architecture so it runs here.
func build(ctx context.Context, root, dir, out string, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, "./functions/"+dir)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH, "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build functions/%s: %w", dir, err)
	}
	return nil
}

// findRIE returns the emulator binary: the flag, PATH, GOPATH/bin, the user
// cache, or a fresh `go install` into the user cache.
func findRIE(ctx context.Context, flagPath string, stderr io.Writer) (string, error) {
	if flagPath != "" {
		return flagPath, nil
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	var candidates []string
	if out, err := exec.CommandContext(ctx, "go", "env", "GOPATH").Output(); err == nil {
		for _, p := range filepath.SplitList(strings.TrimSpace(string(out))) {
			candidates = append(candidates, filepath.Join(p, "bin", "aws-lambda-rie"))
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	cacheBin := filepath.Join(cache, "wacloud", "bin")
	candidates = append(candidates, filepath.Join(cacheBin, "aws-lambda-rie"))
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c, nil
		}
	}
	logf(stderr, "installing %s@%s into %s", RIEModule, RIEVersion, cacheBin)
	cmd := exec.CommandContext(ctx, "go", "install", RIEModule+"@"+RIEVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+cacheBin, "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("install the Runtime Interface Emulator (go install %s@%s): %w", RIEModule, RIEVersion, err)
	}
	return filepath.Join(cacheBin, "aws-lambda-rie"), nil
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
	f, ok := st.Functions[id]
	if !ok {
		cleanup()
		return nil, nil, fmt.Errorf("%s is not in template.yaml", id)
	}
	env := map[string]string{
		"AWS_ENDPOINT_URL":   awsURL,
		"AWS_REGION":         awsemu.Region,
		"AWS_DEFAULT_REGION": awsemu.Region,
		"AWS_ACCESS_KEY_ID":  "local", "AWS_SECRET_ACCESS_KEY": "local",
		"S3_USE_PATH_STYLE":           "true",
		"AWS_LAMBDA_FUNCTION_NAME":    id,
		"AWS_LAMBDA_FUNCTION_TIMEOUT": strconv.Itoa(f.Timeout),
		"AWS_LAMBDA_LOG_FORMAT":       "JSON",
		"AWS_LAMBDA_LOG_LEVEL":        "INFO",
	}
	if ms, ok := tmpl.Resources[id].Properties["MemorySize"]; ok {
		env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = fmt.Sprint(ms)
	}
	for k, v := range f.Env {
		env[k] = v
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

// invoke runs the bootstrap under the emulator, posts event once and
// returns the response body.
func invoke(ctx context.Context, rieBin, bootstrap, dir string, env map[string]string, event []byte, stderr io.Writer) ([]byte, error) {
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	runtimeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(rieBin, "--runtime-interface-emulator-address", apiAddr, "--runtime-api-address", runtimeAddr, bootstrap)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	// Its own process group, so the bootstrap it starts stops with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", rieBin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}()

	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", apiAddr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("the emulator exited before accepting the invocation: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the emulator did not listen on %s within 15s", apiAddr)
		}
		time.Sleep(50 * time.Millisecond)
	}

	timeout, _ := strconv.Atoi(env["AWS_LAMBDA_FUNCTION_TIMEOUT"])
	ictx, cancel := context.WithTimeout(ctx, time.Duration(max(timeout, 3)+30)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ictx, http.MethodPost, "http://"+apiAddr+"/2015-03-31/functions/function/invocations", bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the emulator answered %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("the function returned nothing (did it fail to start? see its log above)")
	}
	return body, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func logf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "invoke: "+format+"\n", args...)
}
