package awsemu

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"time"
)

// motoProcess is a moto_server child process on a loopback port.
type motoProcess struct {
	url  string
	cmd  *exec.Cmd
	out  *syncBuffer
	once sync.Once
	done chan struct{}
}

// startMoto starts moto_server on a free loopback port and waits until it
// answers. moto_server must be on PATH (the machine image ships moto 5;
// .ci/run checks for it).
func startMoto() (*motoProcess, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("awsemu: %s=moto but moto_server is not on PATH (install moto 5: pip install 'moto[server]')", EnvBackend)
	}
	// Port 0: moto binds a port of the kernel's choosing and prints it.
	// Picking a free port here and handing it over would race with the
	// other test binaries go test runs in parallel: two of them could be
	// given the same port, the second moto would fail to bind, and its test
	// would go on against the first binary's moto until that one ends.
	p := &motoProcess{out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", "0")
	p.cmd.Env = append(os.Environ(),
		// ARNs moto builds carry the same account as the template's
		// resolved ARNs (redrive policies, event source ARNs).
		"MOTO_ACCOUNT_ID="+Account,
		"AWS_DEFAULT_REGION="+Region,
	)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	// The child dies with the test binary, even when that is killed.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("awsemu: start moto_server: %w", err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	if err := p.wait(30 * time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// listening matches the line werkzeug prints once moto's socket is bound.
var listening = regexp.MustCompile(`Running on (http://127\.0\.0\.1:[0-9]+)`)

// wait reads the port moto bound from its output, then polls moto's
// management API until it answers.
func (p *motoProcess) wait(limit time.Duration) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("awsemu: moto_server exited: %s", p.out.String())
		default:
		}
		if p.url == "" {
			if m := listening.FindStringSubmatch(p.out.String()); m != nil {
				p.url = m[1]
			}
		}
		if p.url != "" {
			resp, err := c.Get(p.url + "/moto-api/")
			if err == nil {
				resp.Body.Close()
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("awsemu: moto_server did not answer within " + limit.String() + ": " + p.out.String())
}

func (p *motoProcess) stop() {
	p.once.Do(func() {
		if p.cmd.Process != nil {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		}
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
	})
}

// syncBuffer keeps the last few KiB a child process wrote, for errors.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - 8<<10; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
