package graph

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/tucanlink/wacloud/shared/fault"
)

// Error is a failed Graph API call: Meta's error object, the HTTP status,
// or a transport failure (Transport true: no answer was read).
type Error struct {
	Op         string `json:"-"`
	HTTPStatus int    `json:"-"`
	Transport  bool   `json:"-"`
	// RequestWritten is set on a transport failure once the request had
	// been sent in full: Meta may have acted on it.
	RequestWritten bool `json:"-"`

	Code        int    `json:"code"`
	Subcode     int    `json:"error_subcode,omitempty"`
	Type        string `json:"type,omitempty"`
	Message     string `json:"message"`
	Title       string `json:"error_user_title,omitempty"`
	UserMessage string `json:"error_user_msg,omitempty"`
	IsTransient bool   `json:"is_transient,omitempty"`
	FBTraceID   string `json:"fbtrace_id,omitempty"`
	Data        struct {
		Details string `json:"details,omitempty"`
	} `json:"error_data,omitempty"`
	// Raw is the whole answer, for calls whose failures carry more than
	// the error (a partial block failure lists the users).
	Raw json.RawMessage `json:"-"`
}

func (e *Error) Error() string {
	switch {
	case e.Transport:
		return fmt.Sprintf("graph %s: transport: %s", e.Op, e.Message)
	case e.Code != 0:
		s := fmt.Sprintf("graph %s: HTTP %d: code %d: %s", e.Op, e.HTTPStatus, e.Code, e.Message)
		if e.Data.Details != "" {
			s += ": " + e.Data.Details
		}
		return s
	}
	return fmt.Sprintf("graph %s: HTTP %d: %s", e.Op, e.HTTPStatus, e.Message)
}

// Details returns the most specific human-readable explanation Meta gave.
func (e *Error) Details() string {
	if e.Data.Details != "" {
		return e.Data.Details
	}
	if e.UserMessage != "" {
		return e.UserMessage
	}
	return e.Message
}

// MayHaveActed reports whether Meta may have carried out the request even
// though no usable answer came back: the request was sent and the
// connection failed or timed out, or Meta answered 2xx with a body that
// could not be read. A send that may have been acted on must not be sent
// again.
func (e *Error) MayHaveActed() bool {
	return (e.Transport && e.RequestWritten) || e.HTTPStatus/100 == 2
}

// Unwrap exposes the classification, so fault.ClassOf works on an *Error.
func (e *Error) Unwrap() error {
	return &fault.Error{Class: Classify(e), Code: e.CodeString(), Err: errNoDetail}
}

var errNoDetail = fmt.Errorf("graph error")

// CodeString is Meta's code as a string, or "http_<status>" when Meta gave
// none, or "transport".
func (e *Error) CodeString() string {
	switch {
	case e.Code != 0:
		return strconv.Itoa(e.Code)
	case e.Transport:
		return "transport"
	}
	return "http_" + strconv.Itoa(e.HTTPStatus)
}

// ParseError builds an *Error from a non-2xx Graph answer.
func ParseError(op string, status int, body []byte) *Error {
	var env struct {
		Error *Error `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error != nil {
		env.Error.Op, env.Error.HTTPStatus = op, status
		env.Error.Raw = body
		return env.Error
	}
	msg := string(body)
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return &Error{Op: op, HTTPStatus: status, Message: msg}
}

// Error codes the connector treats specially.
const (
	CodeInvalidToken  = 190
	CodeThroughput    = 130429
	CodePairRateLimit = 131056
	CodeWindowClosed  = 131047
	CodeSpamRateLimit = 131048
	// CodeMarketingLimit is Meta's per-user marketing template limit ("Meta
	// chose not to deliver"): not retried; Meta asks for 24 hours first.
	CodeMarketingLimit = 131049
	CodeMediaDownload  = 131052
)

// Classify decides whether a Graph failure is worth retrying. It keys on
// Meta's code (see META_RULES.md), then on is_transient, then on the HTTP
// status.
func Classify(e *Error) fault.Class {
	if e.Transport {
		return fault.Retry
	}
	if c, ok := knownCodes(e.Code); ok {
		return c
	}
	if e.IsTransient {
		return fault.Retry
	}
	switch {
	case e.HTTPStatus == 429, e.HTTPStatus >= 500:
		return fault.Retry
	case e.HTTPStatus >= 400:
		return fault.Permanent
	}
	return fault.Retry
}

// retryCodes and permanentCodes are the Meta codes Classify decides by
// (see META_RULES.md); 132000–132016 (template errors) are permanent too.
var (
	retryCodes = map[int]bool{
		CodeThroughput: true, CodePairRateLimit: true, 131000: true, 131016: true, 4: true, 80007: true, 2: true,
		1: true, 17: true, 32: true, 613: true, 131057: true, 133004: true,
	}
	permanentCodes = map[int]bool{
		100: true, CodeInvalidToken: true, 131026: true, CodeWindowClosed: true, CodeSpamRateLimit: true, CodeMarketingLimit: true, 131051: true,
		CodeMediaDownload: true, 131053: true, 368: true, 200: true, 10: true, 3: true,
		132068: true, 132069: true, 131008: true, 131009: true, 131021: true, 131031: true,
	}
)

// knownCodes classifies a code Classify knows by itself.
func knownCodes(code int) (fault.Class, bool) {
	switch {
	case retryCodes[code]:
		return fault.Retry, true
	case permanentCodes[code], code >= 132000 && code <= 132016:
		return fault.Permanent, true
	}
	return 0, false
}
