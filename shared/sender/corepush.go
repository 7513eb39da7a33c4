package sender

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tucanlink/wacloud/shared/core"
)

// Defaults of CoreBreaker.
const (
	// DefaultPushPause is how long an instance leaves its results to the
	// core events queue after a push failed or was slow.
	DefaultPushPause = 30 * time.Second
	// DefaultSlowPush is the push time above which the core counts as
	// slow: a batch waits for its pushes, so a slow core would hold the
	// sender's instances (a core answering in 100 ms halved the pace of
	// 8 instances at 1000 msg/s: make bench-sender CORE_LATENCY_MS=100),
	// and the bridge's queue is the better way then. The template's
	// SenderCorePushSlowMs sets it.
	DefaultSlowPush = 50 * time.Millisecond
)

// ErrPushPaused is a CoreBreaker's answer while it is open.
var ErrPushPaused = errors.New("pushes to the core paused after a failed or slow one; the result goes on the core events queue")

// CoreBreaker keeps a failing or slow core from slowing the sender: after
// a push that fails, or a second push in a row answered later than Slow,
// it refuses pushes for Pause (ErrPushPaused, at once), so that the
// batches of that time leave their results to the core events queue and
// the bridge instead of waiting for the core. Then it lets pushes through
// again. One slow push alone does not open it: a cold instance's first
// push also reads the core's credentials and opens the connection. It is
// safe for concurrent use; each instance has its own, as each has its own
// view of the core.
type CoreBreaker struct {
	Core  CorePusher
	Pause time.Duration // default DefaultPushPause
	Slow  time.Duration // default DefaultSlowPush
	Now   func() time.Time

	openUntil atomic.Int64 // unix nanoseconds
	slowRun   atomic.Int64 // slow pushes in a row
}

// Push pushes through Core unless the breaker is open.
func (b *CoreBreaker) Push(ctx context.Context, eventID, eventType string, body []byte) error {
	if b.Open() {
		return ErrPushPaused
	}
	start := b.now()
	err := b.Core.Push(ctx, eventID, eventType, body)
	took := b.now().Sub(start)
	slow := b.Slow
	if slow <= 0 {
		slow = DefaultSlowPush
	}
	open := err != nil
	if took > slow {
		open = open || b.slowRun.Add(1) >= 2
	} else if err == nil {
		b.slowRun.Store(0)
	}
	if open {
		pause := b.Pause
		if pause <= 0 {
			pause = DefaultPushPause
		}
		b.slowRun.Store(0)
		b.openUntil.Store(b.now().Add(pause).UnixNano())
	}
	if err != nil {
		return fmt.Errorf("push to the core: %w", err)
	}
	return nil // taken, even if late
}

// Open reports whether pushes are refused now.
func (b *CoreBreaker) Open() bool {
	return b.now().UnixNano() < b.openUntil.Load()
}

// Warm reads the core's credentials ahead of the first push, when Core
// can (core.Client.Warm).
func (b *CoreBreaker) Warm(ctx context.Context) {
	core.Warm(ctx, b.Core)
}

func (b *CoreBreaker) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}
