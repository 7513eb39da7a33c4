package main

import (
	"cmp"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"time"
)

// front is a reverse proxy in front of an endpoint (AWS, the Graph API
// simulator, the core sink) that records every request passing through
// it, with when it arrived and when its response was written: the time
// the function waited for that endpoint, which the benchmark separates
// from the time the function spent on its own. It is safe for concurrent
// use. With a latency, every request is answered that much later (counted
// as endpoint time).
type front struct {
	URL string

	srv  *http.Server
	name func(*http.Request) string
	mu   sync.Mutex
	hits []hit
}

// hit is one request a front saw.
type hit struct {
	name       string
	start, end time.Time
}

func startFront(endpoint string, name func(*http.Request) string, latency time.Duration) (*front, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &front{URL: "http://" + ln.Addr().String(), name: name}
	proxy := httputil.NewSingleHostReverseProxy(u)
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if latency > 0 {
			time.Sleep(latency)
		}
		proxy.ServeHTTP(w, r)
		f.mu.Lock()
		f.hits = append(f.hits, hit{name: f.name(r), start: start, end: time.Now()})
		f.mu.Unlock()
	})}
	go f.srv.Serve(ln)
	return f, nil
}

// take returns the requests seen since the last take, and forgets them.
func (f *front) take() []hit {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.hits
	f.hits = nil
	return h
}

func (f *front) close() { _ = f.srv.Close() }

// busy is the time covered by at least one of reqs: requests made
// concurrently count once.
func busy(reqs []request) time.Duration {
	s := slices.Clone(reqs)
	slices.SortFunc(s, func(a, b request) int { return cmp.Compare(a.Start, b.Start) })
	var total, end time.Duration
	for _, r := range s {
		switch {
		case r.Start >= end:
			total += r.End - r.Start
			end = r.End
		case r.End > end:
			total += r.End - end
			end = r.End
		}
	}
	return total
}
