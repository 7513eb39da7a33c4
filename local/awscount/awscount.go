// Package awscount counts the requests that reach an AWS endpoint, by
// service and operation, for tests and benchmarks that bound what a code
// path costs in billed calls. It fronts the endpoint with a reverse proxy:
// point the clients at Front.URL instead.
package awscount

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Front is a counting reverse proxy to an AWS endpoint. It is safe for
// concurrent use.
type Front struct {
	// URL is the front's endpoint.
	URL string

	srv    *http.Server
	mu     sync.Mutex
	counts map[string]int
}

// Start fronts endpoint (http://host:port) on a random loopback port.
func Start(endpoint string) (*Front, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &Front{URL: "http://" + ln.Addr().String(), counts: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(u)
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := Operation(r)
		f.mu.Lock()
		f.counts[op]++
		f.mu.Unlock()
		proxy.ServeHTTP(w, r)
	})}
	go f.srv.Serve(ln)
	return f, nil
}

// Config returns cfg with its clients pointed at the front.
func (f *Front) Config(cfg aws.Config) aws.Config {
	cfg = cfg.Copy()
	cfg.BaseEndpoint = aws.String(f.URL)
	return cfg
}

// Operation names an AWS request as "Service.Operation": the JSON
// protocols' X-Amz-Target (DynamoDB_20120810.GetItem → DynamoDB.GetItem),
// the query protocol's Action, or "S3.<method>".
func Operation(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		svc, op, _ := strings.Cut(t, ".")
		svc, _, _ = strings.Cut(svc, "_")
		return svc + "." + op
	}
	if a := r.URL.Query().Get("Action"); a != "" {
		return "SQS." + a
	}
	return "S3." + r.Method
}

// Count returns the requests counted for op ("DynamoDB.GetItem"), or for
// every operation when op is "".
func (f *Front) Count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if op != "" {
		return f.counts[op]
	}
	n := 0
	for _, c := range f.counts {
		n += c
	}
	return n
}

// Counts returns the counts by operation, and their names sorted.
func (f *Front) Counts() (map[string]int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.counts))
	names := make([]string, 0, len(f.counts))
	for k, v := range f.counts {
		out[k] = v
		names = append(names, k)
	}
	sort.Strings(names)
	return out, names
}

// Reset sets every count to zero.
func (f *Front) Reset() {
	f.mu.Lock()
	f.counts = map[string]int{}
	f.mu.Unlock()
}

// Close stops the front.
func (f *Front) Close() { _ = f.srv.Close() }
