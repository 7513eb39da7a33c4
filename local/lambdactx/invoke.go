package lambdactx

import (
	"context"
	"fmt"
)

// Invoke calls h with in, turning a panic or the context's deadline into an
// error as the Lambda runtime does.
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
	select {
	case r := <-done:
		return r.out, r.err
	case <-ctx.Done():
		var zero Out
		return zero, fmt.Errorf("function timed out: %w", ctx.Err())
	}
}
