package graph

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestDefaultClientKeepsABatchsConnections: a batch's sends go out at
// once; the next batch's must find those connections idle instead of
// opening new ones (a TCP and TLS handshake to Meta delays a send past
// its pacing slot).
func TestDefaultClientKeepsABatchsConnections(t *testing.T) {
	const concurrent, rounds = 10, 3
	var opened atomic.Int64
	var mu sync.Mutex
	arrived, release := 0, make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hold each request until the whole round has arrived, so the
		// round really holds concurrent connections.
		mu.Lock()
		arrived++
		if arrived == concurrent {
			close(release)
		}
		ch := release
		mu.Unlock()
		<-ch
		_, _ = w.Write([]byte(`{"success":true}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := &Client{BaseURL: srv.URL}
	for round := 0; round < rounds; round++ {
		mu.Lock()
		arrived, release = 0, make(chan struct{})
		mu.Unlock()
		var wg sync.WaitGroup
		for i := 0; i < concurrent; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var out struct{ Success bool }
				if err := c.DoJSON(context.Background(), "tok", http.MethodGet, "/100", nil, &out); err != nil || !out.Success {
					t.Errorf("round %d: %v %+v", round, err, out)
				}
			}()
		}
		wg.Wait()
	}
	if n := opened.Load(); n != concurrent {
		t.Errorf("%d rounds of %d concurrent requests opened %d connections, want %d (one per concurrent request, kept)", rounds, concurrent, n, concurrent)
	}
}
