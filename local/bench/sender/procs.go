package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/sivchari/kumo"

	"github.com/tucanlink/wacloud/local/graphsim"
)

// child is one process of the benchmark, started from this same binary
// with -role: the AWS emulator, the Graph API simulator or a sender
// instance. A child ends when its standard input closes, so none outlives
// the benchmark.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startChild runs this program with args and env added to the current
// environment.
func startChild(name string, args []string, env []string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &child{name: name, cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}, nil
}

// line reads the next line the child printed.
func (c *child) line() (string, error) {
	s, err := c.out.ReadString('\n')
	if err != nil && s == "" {
		return "", fmt.Errorf("%s: %w", c.name, err)
	}
	return strings.TrimSpace(s), nil
}

// stop closes the child's input (which ends a server role) and waits.
func (c *child) stop() error {
	c.stdin.Close()
	if err := c.cmd.Wait(); err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	return nil
}

// startServer starts a server role and returns the address it printed.
// gogc is its garbage collector's target (GOGC).
func startServer(name string, gogc int, args ...string) (*child, string, error) {
	c, err := startChild(name, args, []string{"GOGC=" + strconv.Itoa(gogc)})
	if err != nil {
		return nil, "", err
	}
	url, err := c.line()
	if err != nil {
		_ = c.stop()
		return nil, "", err
	}
	return c, url, nil
}

// instanceProcess runs a sender instance in a process of its own and
// reads the report it prints last.
func instanceProcess(name string, args, env []string) (workerReport, error) {
	var rep workerReport
	c, err := startChild(name, args, env)
	if err != nil {
		return rep, err
	}
	line, err := c.line()
	if err == nil {
		err = json.Unmarshal([]byte(line), &rep)
	}
	if werr := c.stop(); werr != nil {
		err = werr
	}
	if err != nil {
		return rep, fmt.Errorf("%s: %w", name, err)
	}
	return rep, nil
}

// serveAWS is the -role aws process: kumo on a loopback port.
func serveAWS() {
	srv := kumo.NewServer()
	defer srv.Close()
	fmt.Println(srv.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// serveGraph is the -role graph process: the Graph API simulator with one
// business number, status webhooks off.
func serveGraph(limit int) {
	sim := graphsim.New(graphsim.Config{Numbers: []graphsim.Number{{PhoneNumberID: number, AccessToken: token, Throughput: limit}}})
	defer sim.Close()
	_ = sim.SetStatusConfig(graphsim.StatusConfig{Disabled: true})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	fmt.Println(srv.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// profile starts a CPU profile into path, if set, and returns its stop.
func profile(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-sender: cpu profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		fmt.Fprintln(os.Stderr, "bench-sender: cpu profile:", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
