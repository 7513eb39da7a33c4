package sender

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/shared/window"
)

// memWindows is an in-memory WindowStore counting reads.
type memWindows struct {
	mu    sync.Mutex
	st    map[string]window.State
	reads int
}

func (m *memWindows) Get(_ context.Context, pnid, waID string) (window.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	return m.st[pnid+"#"+waID], nil
}

func (m *memWindows) Close(_ context.Context, pnid, waID string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.st[pnid+"#"+waID]
	st.ClosedAt = at
	m.st[pnid+"#"+waID] = st
	return nil
}

func (m *memWindows) set(waID string, st window.State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st["pn#"+waID] = st
}

func TestWindowCache(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	type step struct {
		at       time.Duration // since t0
		do       func(m *memWindows, c *windowCache)
		wantOpen bool
		wantRead bool // the store was read
	}
	closeIt := func(m *memWindows, c *windowCache) {
		if err := c.Close(context.Background(), "pn", "5511", t0); err != nil {
			t.Fatal(err)
		}
	}
	otherCloses := func(m *memWindows, _ *windowCache) { _ = m.Close(context.Background(), "pn", "5511", t0) }
	writes := func(ago time.Duration) func(m *memWindows, _ *windowCache) {
		return func(m *memWindows, _ *windowCache) {
			m.set("5511", window.State{LastInbound: t0.Add(-ago)})
		}
	}
	tests := []struct {
		name  string
		start window.State
		steps []step
	}{
		{
			name: "open is read once, then trusted until the TTL", start: window.State{LastInbound: t0.Add(-time.Hour)},
			steps: []step{
				{at: 0, wantOpen: true, wantRead: true},
				{at: 30 * time.Second, wantOpen: true},
				{at: time.Minute, wantOpen: true, wantRead: true},
			},
		},
		{
			name: "never trusted past the window's end", start: window.State{LastInbound: t0.Add(-window.Length + 20*time.Second)},
			steps: []step{
				{at: 0, wantOpen: true, wantRead: true},
				{at: 19 * time.Second, wantOpen: true},
				{at: 20 * time.Second, wantOpen: false, wantRead: true},
			},
		},
		{
			name: "closed is never cached", start: window.State{},
			steps: []step{
				{at: 0, wantOpen: false, wantRead: true},
				{at: time.Second, do: writes(0), wantOpen: true, wantRead: true},
			},
		},
		{
			name: "131047 seen here drops the entry", start: window.State{LastInbound: t0.Add(-time.Hour)},
			steps: []step{
				{at: 0, wantOpen: true, wantRead: true},
				{at: time.Second, do: closeIt, wantOpen: false, wantRead: true},
				{at: 2 * time.Second, wantOpen: false, wantRead: true},
			},
		},
		{
			name: "a close by another instance is seen within the TTL", start: window.State{LastInbound: t0.Add(-time.Hour)},
			steps: []step{
				{at: 0, wantOpen: true, wantRead: true},
				{at: time.Second, do: otherCloses, wantOpen: true},
				{at: time.Minute, wantOpen: false, wantRead: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &memWindows{st: map[string]window.State{"pn#5511": tt.start}}
			now := t0
			c := &windowCache{Store: m, TTL: time.Minute, Now: func() time.Time { return now }}
			for i, s := range tt.steps {
				now = t0.Add(s.at)
				if s.do != nil {
					s.do(m, c)
				}
				before := m.reads
				open, err := c.IsOpen(context.Background(), "pn", "5511")
				if err != nil {
					t.Fatal(err)
				}
				if open != s.wantOpen {
					t.Errorf("step %d (+%s): open = %v, want %v", i, s.at, open, s.wantOpen)
				}
				if read := m.reads > before; read != s.wantRead {
					t.Errorf("step %d (+%s): read the store = %v, want %v", i, s.at, read, s.wantRead)
				}
			}
		})
	}
}
