package lambdactx

import (
	"context"
	"errors"
	"fmt"
)

// ErrTimedOut is wrapped by Invoke's error when the invocation outran its
// deadline.
var ErrTimedOut = errors.New("function timed out")

// Invoke calls h with in, turning a panic or the context's deadline into an
// error as the Lambda runtime does. A result that comes after the deadline
// does not count, as on Lambda: the invocation has failed whatever the
// handler returns. Lambda also stops the handler there; in one process a
// goroutine cannot be stopped, so the caller hears of it (an error wrapping
// ErrTimedOut) and decides: the local connector's one-function processes
// exit, as Lambda discards the execution environment after a timeout.
func Invoke[In, Out any](ctx context.Context, h func(context.Context, In) (Out, error), in In) (Out, error) {
	type result struct {
		out Out
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("handler panicked: %v", p)}
			}
		}()
		o, e := h(ctx, in)
		done <- result{o, e}
	}()
	var zero Out
	select {
	case r := <-done:
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return zero, fmt.Errorf("%w: its result came after the deadline", ErrTimedOut)
		}
		return r.out, r.err
	case <-ctx.Done():
		return zero, fmt.Errorf("%w: %w", ErrTimedOut, ctx.Err())
	}
}
