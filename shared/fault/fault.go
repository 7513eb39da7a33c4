// Package fault classifies errors once, where they are understood, so that
// every consumer decides retry or dead-letter from the class alone.
//
// There are three classes:
//   - Retry: transient (throttling, timeouts, 5xx); try again later.
//   - Permanent: the request was understood but can never succeed; report it, do not retry.
//   - Invalid: the input itself is malformed; dead-letter it with the reason, do not retry.
//
// An error that was never classified is treated as Retry: losing work because
// of an unexpected error is worse than trying it again.
package fault

import (
	"errors"
	"fmt"
)

// Class is how an error should be handled.
type Class int

const (
	// Retry means the operation may succeed if tried again later.
	Retry Class = iota
	// Permanent means the operation will never succeed; report it and move on.
	Permanent
	// Invalid means the input is malformed; dead-letter it with the reason.
	Invalid
)

func (c Class) String() string {
	switch c {
	case Retry:
		return "retry"
	case Permanent:
		return "permanent"
	case Invalid:
		return "invalid"
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// Error carries a class and an optional machine-readable code (for example
// a Graph API error code or an HTTP status) alongside the wrapped error.
type Error struct {
	Class Class
	Code  string
	Err   error
}

func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s (%s): %v", e.Class, e.Code, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Class, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable marks err as transient.
func Retryable(err error) error { return wrap(Retry, "", err) }

// PermanentErr marks err as permanent.
func PermanentErr(err error) error { return wrap(Permanent, "", err) }

// InvalidErr marks err as invalid input.
func InvalidErr(err error) error { return wrap(Invalid, "", err) }

// WithCode marks err with a class and a machine-readable code.
func WithCode(c Class, code string, err error) error { return wrap(c, code, err) }

// Invalidf formats a new invalid-input error.
func Invalidf(format string, args ...any) error {
	return wrap(Invalid, "", fmt.Errorf(format, args...))
}

// Permanentf formats a new permanent error.
func Permanentf(format string, args ...any) error {
	return wrap(Permanent, "", fmt.Errorf(format, args...))
}

func wrap(c Class, code string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Class: c, Code: code, Err: err}
}

// ClassOf returns the class of the outermost classified error in err's
// chain, or Retry when none is classified.
func ClassOf(err error) Class {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Class
	}
	return Retry
}

// CodeOf returns the code of the outermost classified error that has one.
func CodeOf(err error) string {
	for err != nil {
		var fe *Error
		if !errors.As(err, &fe) {
			return ""
		}
		if fe.Code != "" {
			return fe.Code
		}
		err = fe.Err
	}
	return ""
}
