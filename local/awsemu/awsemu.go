// Package awsemu runs the embedded AWS emulator (github.com/sivchari/kumo)
// in-process and builds aws-sdk-go-v2 configuration pointed at it. It exists
// for the local connector and for tests; no function imports it.
//
// Every request goes through a small front that fills in what kumo leaves
// out of SQS answers (see sqsfix.go), so that consumers see the same
// message attributes as on AWS.
package awsemu

import (
	"context"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/sivchari/kumo"
)

// Region is the region every local client uses.
const Region = "us-east-1"

// Emulator is a running kumo server.
type Emulator struct {
	// URL is the endpoint every AWS client should use.
	URL string

	srv     *kumo.Server
	handler http.Handler
	fronts  []*http.Server
}

// Start runs kumo on a random loopback port.
func Start() *Emulator {
	srv := kumo.NewServer()
	target, err := url.Parse(srv.URL)
	if err != nil {
		// kumo's URL comes from httptest and always parses.
		panic("awsemu: kumo URL: " + err.Error())
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
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
	e := &Emulator{srv: srv, handler: newSQSFix().wrap(proxy)}
	if err := e.serve("127.0.0.1:0"); err != nil {
		panic("awsemu: listen on loopback: " + err.Error())
	}
	return e
}

// StartTest runs kumo for the length of a test.
func StartTest(tb testing.TB) *Emulator {
	tb.Helper()
	e := Start()
	tb.Cleanup(e.Close)
	return e
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
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(e.URL),
		HTTPClient:   &http.Client{Timeout: 60 * time.Second},
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
	e.srv.Close()
}
