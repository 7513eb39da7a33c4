package connector

import (
	"context"
	"log/slog"

	"github.com/tucanlink/wacloud/local/lambdactx"
)

// functionHandler adds the invoked function's name to records logged with
// an invocation context, unless the logger already names it.
type functionHandler struct {
	inner slog.Handler
	named bool
}

func (h functionHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h functionHandler) Handle(ctx context.Context, r slog.Record) error {
	if !h.named {
		if name := lambdactx.Function(ctx); name != "" {
			r.AddAttrs(slog.String("function", lambdactx.ShortName(name)))
		}
	}
	return h.inner.Handle(ctx, r)
}

func (h functionHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	named := h.named
	for _, a := range attrs {
		if a.Key == "function" {
			named = true
		}
	}
	return functionHandler{inner: h.inner.WithAttrs(attrs), named: named}
}

func (h functionHandler) WithGroup(name string) slog.Handler {
	return functionHandler{inner: h.inner.WithGroup(name), named: h.named}
}
