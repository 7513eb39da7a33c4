package sender

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// recordingPusher answers each push with the next of answers (nil when
// they run out) after advancing clock by took, and counts the pushes.
type recordingPusher struct {
	mu      sync.Mutex
	clock   *time.Time
	took    time.Duration
	answers []error
	pushes  int
}

func (p *recordingPusher) Push(ctx context.Context, eventID, eventType string, body []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pushes++
	*p.clock = p.clock.Add(p.took)
	if len(p.answers) == 0 {
		return nil
	}
	err := p.answers[0]
	p.answers = p.answers[1:]
	return err
}

// TestCoreBreaker: a push that fails, or a second push in a row that
// succeeds later than Slow, stops the next pushes from reaching the core
// for Pause; they are refused at once with ErrPushPaused, and pushes go
// through again afterwards.
func TestCoreBreaker(t *testing.T) {
	late := DefaultSlowPush + time.Millisecond
	tests := []struct {
		name      string
		took      []time.Duration // the pushes before the breaker is checked
		answer    error           // the last one's answer
		wantErr   bool
		wantPause bool
	}{
		{"a push answered at once", []time.Duration{time.Millisecond}, nil, false, false},
		{"pushes answered just within Slow", []time.Duration{DefaultSlowPush, DefaultSlowPush}, nil, false, false},
		{"one push taken late (a cold instance's first)", []time.Duration{late}, nil, false, false},
		{"a late push between quick ones", []time.Duration{late, time.Millisecond, late}, nil, false, false},
		{"two pushes in a row taken late", []time.Duration{late, late}, nil, false, true},
		{"a push the core failed", []time.Duration{time.Millisecond}, errors.New("core answered 503"), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1_800_000_000, 0)
			core := &recordingPusher{clock: &now}
			b := &CoreBreaker{Core: core, Now: func() time.Time { return now }}
			var err error
			for i, took := range tt.took {
				core.took = took
				if i == len(tt.took)-1 {
					core.answers = []error{tt.answer}
				}
				err = b.Push(context.Background(), "evt_1", "outbound.accepted", []byte(`{}`))
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("last push: %v, want error %v", err, tt.wantErr)
			}
			core.took = time.Millisecond
			before := core.pushes
			err = b.Push(context.Background(), "evt_2", "outbound.accepted", []byte(`{}`))
			if tt.wantPause {
				if !errors.Is(err, ErrPushPaused) || core.pushes != before || !b.Open() {
					t.Fatalf("second push: %v with %d pushes at the core, open %v; want ErrPushPaused without reaching the core", err, core.pushes, b.Open())
				}
				now = now.Add(DefaultPushPause - time.Millisecond)
				if !b.Open() {
					t.Fatal("the breaker closed before its pause ended")
				}
				now = now.Add(time.Millisecond)
				if b.Open() {
					t.Fatal("the breaker is still open after its pause")
				}
				err = b.Push(context.Background(), "evt_3", "outbound.accepted", []byte(`{}`))
			}
			if err != nil || b.Open() {
				t.Fatalf("push after the pause: %v, open %v; want it through", err, b.Open())
			}
		})
	}
}
