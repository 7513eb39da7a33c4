// Package awsemu runs the AWS implementation the local connector and the
// tests talk to, and builds aws-sdk-go-v2 configuration pointed at it. It
// exists for the local connector and for tests; no function imports it.
//
// Two implementations stand in for AWS, because one is not the truth:
//
//   - kumo (github.com/sivchari/kumo), embedded in the process: the default.
//     Every request goes through a small front that fills in what kumo
//     leaves out of SQS answers (see sqsfix.go), so that consumers see the
//     same message attributes as on AWS, and that refuses the DynamoDB
//     requests and S3 uploads AWS refuses (see ddbstrict.go, s3strict.go),
//     and that rewrites the DynamoDB expressions kumo misreads into ones
//     it reads as AWS would (see ddbfix.go).
//   - moto (moto_server, moto 5), started as a child process per emulator,
//     so every emulator starts empty, as kumo's does. moto checks what kumo
//     lets through (DynamoDB reserved words among them).
//
// Both sit behind a front that keeps SQS FIFO order per message group
// (sqsorder.go), which neither keeps through redelivery, keeps the FIFO
// 5-minute deduplication window after a message is deleted (sqsdedup.go),
// which neither keeps, and numbers moto's FIFO messages in send order
// (moto draws sequence numbers at random).
//
// WACLOUD_TEST_AWS selects the implementation ("kumo", the default, or
// "moto"); see Start. Where the two differ from each other or from AWS,
// docs/local.md lists the gaps.
package awsemu

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/sivchari/kumo"
)

// Region is the region every local client uses.
const Region = "us-east-1"

// Account is the account id the emulators put in ARNs.
const Account = "000000000000"

// EnvBackend names the environment variable that selects the AWS
// implementation of Start.
const EnvBackend = "WACLOUD_TEST_AWS"

// Backend names an AWS implementation.
type Backend string

const (
	// Kumo is the embedded emulator, github.com/sivchari/kumo.
	Kumo Backend = "kumo"
	// Moto is moto_server (moto 5), run as a child process.
	Moto Backend = "moto"
	// Remote is an endpoint somebody else runs (moto_server, LocalStack…).
	Remote Backend = "remote"
)

// BackendFromEnv reads WACLOUD_TEST_AWS: empty or "kumo" selects kumo,
// "moto" selects moto_server.
func BackendFromEnv() (Backend, error) {
	switch v := os.Getenv(EnvBackend); v {
	case "", string(Kumo):
		return Kumo, nil
	case string(Moto):
		return Moto, nil
	default:
		return "", fmt.Errorf("awsemu: %s=%q: want kumo or moto", EnvBackend, v)
	}
}

// Emulator is a running AWS implementation behind a loopback front.
type Emulator struct {
	// URL is the endpoint every AWS client should use.
	URL string
	// Backend says which implementation answers.
	Backend Backend

	kumo    *kumo.Server
	moto    *motoProcess
	sqsFix  *sqsFix // nil on a Connect front
	handler http.Handler
	fronts  []*http.Server
}

// Start runs the implementation WACLOUD_TEST_AWS selects on a random
// loopback port. It panics when that implementation cannot start (moto
// selected but moto_server missing, for one): a test run that asked for
// moto must never quietly run on kumo.
func Start() *Emulator {
	b, err := BackendFromEnv()
	if err != nil {
		panic(err.Error())
	}
	e, err := StartBackend(b)
	if err != nil {
		panic(err.Error())
	}
	return e
}

// StartBackend runs the implementation b on a random loopback port.
func StartBackend(b Backend) (*Emulator, error) {
	switch b {
	case Kumo:
		srv := kumo.NewServer()
		fix := newSQSFix()
		e, err := front(srv.URL, Kumo, func(h http.Handler) http.Handler {
			return strictSQS(fix.wrap(strictDynamoDB(fixDynamoDB(strictS3(keepS3Headers(h))))))
		})
		if err != nil {
			srv.Close()
			return nil, err
		}
		e.kumo, e.sqsFix = srv, fix
		return e, nil
	case Moto:
		p, err := startMoto()
		if err != nil {
			return nil, err
		}
		fix := newMotoFix()
		e, err := front(p.url, Moto, func(h http.Handler) http.Handler { return strictSQS(fix.wrap(serialDynamoDB(h))) })
		if err != nil {
			p.stop()
			return nil, err
		}
		e.moto, e.sqsFix = p, fix
		return e, nil
	default:
		return nil, fmt.Errorf("awsemu: unknown backend %q", b)
	}
}

// Connect fronts an AWS endpoint that runs elsewhere (moto_server,
// LocalStack or another emulator started by the user). Nothing is started
// or stopped but the front.
func Connect(endpoint string) (*Emulator, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("awsemu: endpoint %q: want a URL such as http://127.0.0.1:5000", endpoint)
	}
	return front(endpoint, Remote, nil)
}

// StartTest runs the implementation WACLOUD_TEST_AWS selects for the
// length of a test.
func StartTest(tb testing.TB) *Emulator {
	tb.Helper()
	b, err := BackendFromEnv()
	if err != nil {
		tb.Fatal(err)
	}
	e, err := StartBackend(b)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(e.Close)
	return e
}

// front serves a reverse proxy to target on a random loopback port; wrap,
// when set, wraps the proxy.
func front(target string, b Backend, wrap func(http.Handler) http.Handler) (*Emulator, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("awsemu: backend URL %q: %w", target, err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.Transport = &http.Transport{
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		// A client that gave up (a long poll cancelled at shutdown) is
		// not an error worth a log line.
		if r.Context().Err() == nil {
			log.Printf("awsemu: %s %s: %v", r.Method, r.URL.Path, err)
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	var h http.Handler = proxy
	if wrap != nil {
		h = wrap(h)
	}
	e := &Emulator{Backend: b, handler: h}
	if err := e.serve("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("awsemu: listen on loopback: %w", err)
	}
	return e, nil
}

// Listen makes the emulator reachable at addr (for example 127.0.0.1:4566)
// as well, so the aws CLI and other programs can use a fixed endpoint, and
// makes URL that address.
func (e *Emulator) Listen(addr string) error {
	return e.serve(addr)
}

func (e *Emulator) serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s := &http.Server{Handler: e.handler, ReadHeaderTimeout: 10 * time.Second}
	e.fronts = append(e.fronts, s)
	go s.Serve(ln)
	e.URL = "http://" + ln.Addr().String()
	return nil
}

// Config returns an aws.Config with static credentials whose clients all
// talk to the emulator. S3 clients additionally need path-style addressing
// (S3Options).
func (e *Emulator) Config() aws.Config {
	return EndpointConfig(e.URL)
}

// EndpointConfig is the configuration of a client of the emulator (its
// front, with its fixes) listening at url, from another process.
//
// Its HTTP client is the SDK's default, as a function's in Lambda: no
// limit on a whole request, so a streamed S3 body (a campaign's audience,
// read for as long as the campaign runs) is never cut, and up to 10 idle
// connections kept per host, so functions running side by side reuse
// their connections to the emulator (http.DefaultTransport keeps 2 and
// dials again for most requests). A 60 s limit on whole requests would
// cut a local campaign's audience stream every minute and make its run
// hand over each time, which Lambda never does.
func EndpointConfig(url string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(url),
		HTTPClient:   awshttp.NewBuildableClient(),
	}
}

// Elapse moves the front's clock d ahead, for a test whose own clock
// jumps (days later, a job id is reused): the FIFO deduplication ids sent
// more than five minutes before the new time are forgotten, as SQS
// forgets them. Only what the front keeps ages; the emulator's own clocks
// (visibility timeouts, retention) do not move. It does nothing on a
// front from Connect.
func (e *Emulator) Elapse(d time.Duration) {
	if e.sqsFix != nil {
		e.sqsFix.dedup.elapse(d)
	}
}

// Close stops the emulator and its fronts.
func (e *Emulator) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range e.fronts {
		// Long polls would hold Shutdown for up to 20 s: close them.
		if err := s.Shutdown(ctx); err != nil {
			_ = s.Close()
		}
	}
	if e.kumo != nil {
		e.kumo.Close()
	}
	if e.moto != nil {
		e.moto.stop()
	}
}
