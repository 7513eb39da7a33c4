package fault

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestClassOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Class
		code string
	}{
		{"unclassified is retry", errors.New("boom"), Retry, ""},
		{"context deadline unclassified", context.DeadlineExceeded, Retry, ""},
		{"invalid", Invalidf("bad %s", "to"), Invalid, ""},
		{"permanent wrapped by operation", fmt.Errorf("send: %w", PermanentErr(errors.New("x"))), Permanent, ""},
		{"code kept through wrapping", fmt.Errorf("send: %w", WithCode(Permanent, "131026", errors.New("undeliverable"))), Permanent, "131026"},
		{"outermost class wins", InvalidErr(fmt.Errorf("op: %w", Retryable(errors.New("x")))), Invalid, ""},
		{"inner code found under outer class", InvalidErr(WithCode(Retry, "130429", errors.New("x"))), Invalid, "130429"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClassOf(tt.err); got != tt.want {
				t.Errorf("ClassOf(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if got := CodeOf(tt.err); got != tt.code {
				t.Errorf("CodeOf(%v) = %q, want %q", tt.err, got, tt.code)
			}
		})
	}
}

func TestNilStaysNil(t *testing.T) {
	if Retryable(nil) != nil || PermanentErr(nil) != nil || InvalidErr(nil) != nil {
		t.Fatal("wrapping nil must give nil")
	}
}
