// Package awsemu runs the embedded AWS emulator (github.com/sivchari/kumo)
// in-process and builds aws-sdk-go-v2 configuration pointed at it. It exists
// for the local connector and for tests; no function imports it.
package awsemu

import (
	"context"
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

	srv      *kumo.Server
	frontend *http.Server
}

// Start runs kumo on a random loopback port.
func Start() *Emulator {
	srv := kumo.NewServer()
	return &Emulator{URL: srv.URL, srv: srv}
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
	target, err := url.Parse(e.srv.URL)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	e.frontend = &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go e.frontend.Serve(ln)
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

// Close stops the emulator and its fixed-address front, if any.
func (e *Emulator) Close() {
	if e.frontend != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = e.frontend.Shutdown(ctx)
	}
	e.srv.Close()
}
