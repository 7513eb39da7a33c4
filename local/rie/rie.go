// Package rie runs a function's real bootstrap binary the way Lambda does,
// without Docker: under the AWS Lambda Runtime Interface Emulator
// (aws-lambda-rie), one process per invocation round. It is used by
// make invoke (local/invoke) and make bench-cold (local/bench/cold); code
// that runs in Lambda never imports it.
package rie

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Module and Version name the emulator installed with `go install` when
// none is found.
const (
	Module  = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	Version = "v0.0.0-20261030222936-bef5c4ba774d"
)

// Find returns the emulator binary: flagPath, PATH, GOPATH/bin, the user
// cache, or a fresh `go install` into the user cache.
func Find(ctx context.Context, flagPath string, stderr io.Writer) (string, error) {
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
	fmt.Fprintf(stderr, "installing %s@%s into %s\n", Module, Version, cacheBin)
	cmd := exec.CommandContext(ctx, "go", "install", Module+"@"+Version)
	cmd.Env = append(os.Environ(), "GOBIN="+cacheBin, "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("install the Runtime Interface Emulator (go install %s@%s): %w", Module, Version, err)
	}
	return filepath.Join(cacheBin, "aws-lambda-rie"), nil
}

// Build compiles the main package pkg (./functions/webhook) in root as
// the Makefile's build targets do (-tags lambda.norpc -trimpath, static),
// for linux/goarch so that it runs here. stripped adds -ldflags='-s -w'
// as make build does.
func Build(ctx context.Context, root, pkg, goarch, out string, stripped bool, stderr io.Writer) error {
	args := []string{"build", "-tags", "lambda.norpc", "-trimpath"}
	if stripped {
		args = append(args, "-ldflags=-s -w")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "-o", out, pkg)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s: %w", pkg, err)
	}
	return nil
}

// Result is one invocation's answer.
type Result struct {
	Body []byte
	// FirstResponse runs from the invocation request (the emulator
	// listening, the bootstrap not yet started: the emulator starts it on
	// the first invocation) to the response: the process start, the
	// function's init and its first event, as a cold start.
	FirstResponse time.Duration
	// Sent is when the invocation request was sent: the start of
	// FirstResponse.
	Sent time.Time
}

// Invoke starts the emulator with bootstrap in dir and env (and nothing
// else of this process's environment but PATH, HOME and TMPDIR), posts
// event once, and stops both.
func Invoke(ctx context.Context, rieBin, bootstrap, dir string, env map[string]string, event []byte, stderr io.Writer) (Result, error) {
	apiAddr, err := freeAddr()
	if err != nil {
		return Result{}, err
	}
	runtimeAddr, err := freeAddr()
	if err != nil {
		return Result{}, err
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
		return Result{}, fmt.Errorf("start %s: %w", rieBin, err)
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
			return Result{}, fmt.Errorf("the emulator exited before accepting the invocation: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			return Result{}, fmt.Errorf("the emulator did not listen on %s within 15s", apiAddr)
		}
		time.Sleep(20 * time.Millisecond)
	}

	timeout, _ := strconv.Atoi(env["AWS_LAMBDA_FUNCTION_TIMEOUT"])
	ictx, cancel := context.WithTimeout(ctx, time.Duration(max(timeout, 3)+30)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ictx, http.MethodPost, "http://"+apiAddr+"/2015-03-31/functions/function/invocations", bytes.NewReader(event))
	if err != nil {
		return Result{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	// A connection of its own: no pooled one, so each cold start pays the
	// same dial.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil {
		return Result{}, fmt.Errorf("read the response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Result{}, fmt.Errorf("the emulator answered %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return Result{}, errors.New("the function returned nothing (did it fail to start? see its log above)")
	}
	return Result{Body: body, FirstResponse: took, Sent: start}, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
