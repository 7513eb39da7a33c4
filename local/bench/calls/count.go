package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// counter is a reverse proxy in front of the AWS endpoint that counts every
// request by service and operation, as AWS bills them.
type counter struct {
	proxy *httputil.ReverseProxy
	mu    sync.Mutex
	n     map[op]int64
	// units are DynamoDB's capacity units by partition key.
	units units
}

type op struct{ service, name string }

func newCounter(target string) (*counter, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("AWS endpoint %q: %w", target, err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.Transport = &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512}
	p.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { w.WriteHeader(http.StatusBadGateway) }
	return &counter{proxy: p, n: map[op]int64{}, units: units{}}, nil
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o := classify(r)
	// On AWS, EventBridge Scheduler fires schedules itself; the local
	// firer's listing of due schedules (GET, which no function makes) is
	// the stand-in's own work, billed to no one: not counted.
	if o != (op{"scheduler", http.MethodGet}) {
		var body []byte
		if o.service == "dynamodb" && r.Body != nil {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		c.mu.Lock()
		c.n[o]++
		if body != nil {
			c.units.add(o.name, body)
		}
		c.mu.Unlock()
	}
	c.proxy.ServeHTTP(w, r)
}

// classify names a request's service and operation: the JSON protocols
// (SQS, DynamoDB, Secrets Manager) carry X-Amz-Target; S3 is named by its
// signing scope and method.
func classify(r *http.Request) op {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		svc, name, _ := strings.Cut(t, ".")
		switch {
		case strings.HasPrefix(svc, "AmazonSQS"):
			svc = "sqs"
		case strings.HasPrefix(svc, "DynamoDB"):
			svc = "dynamodb"
		case strings.HasPrefix(strings.ToLower(svc), "secretsmanager"):
			svc = "secretsmanager"
		}
		return op{svc, name}
	}
	svc := "unknown"
	if a := r.Header.Get("Authorization"); a != "" {
		if _, scope, ok := strings.Cut(a, "Credential="); ok {
			if parts := strings.Split(scope, "/"); len(parts) >= 4 {
				svc = parts[3]
			}
		}
	}
	if svc == "unknown" && r.URL.Path == "/" && r.Method == http.MethodGet {
		return op{"none", "health"}
	}
	if r.Method == http.MethodPost && r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
		// Query protocol: the action is in the form.
		if err := r.ParseForm(); err == nil && r.PostForm.Get("Action") != "" {
			return op{svc, r.PostForm.Get("Action")}
		}
	}
	return op{svc, r.Method}
}

// snapshot copies the counts.
func (c *counter) snapshot() map[op]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[op]int64, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// snapshotUnits copies the capacity units by partition key.
func (c *counter) snapshotUnits() units {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.units.copy()
}

// delta is after minus before, without the zero rows and the emulator's
// health checks.
func delta(before, after map[op]int64) map[op]int64 {
	out := map[op]int64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 && k.service != "none" {
			out[k] = d
		}
	}
	return out
}

func total(m map[op]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// table prints calls by service and operation, and per unit of work.
func table(w io.Writer, title string, m map[op]int64, units int) {
	fmt.Fprintf(w, "\n%s (%d)\n", title, units)
	fmt.Fprintf(w, "  %-16s %-26s %8s %10s\n", "service", "operation", "calls", "per unit")
	keys := make([]op, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].service != keys[j].service {
			return keys[i].service < keys[j].service
		}
		return keys[i].name < keys[j].name
	})
	per := func(n int64) float64 {
		if units == 0 {
			return 0
		}
		return float64(n) / float64(units)
	}
	bySvc := map[string]int64{}
	for _, k := range keys {
		fmt.Fprintf(w, "  %-16s %-26s %8d %10.2f\n", k.service, k.name, m[k], per(m[k]))
		bySvc[k.service] += m[k]
	}
	svcs := make([]string, 0, len(bySvc))
	for s := range bySvc {
		svcs = append(svcs, s)
	}
	sort.Strings(svcs)
	for _, s := range svcs {
		fmt.Fprintf(w, "  %-16s %-26s %8d %10.2f\n", s, "(all)", bySvc[s], per(bySvc[s]))
	}
	fmt.Fprintf(w, "  %-16s %-26s %8d %10.2f\n", "total", "", total(m), per(total(m)))
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
