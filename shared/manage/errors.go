package manage

import (
	"encoding/json"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

// Error is what every failed request answers, as
// {"error":{"code","message","details"}}. Code is stable and
// machine-readable; Message is for people; Details lists the individual
// problems (for a job: each rule it breaks), never internal error text.
type Error struct {
	Status  int      `json:"-"`
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []string `json:"details"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Error codes shared by every route; a route may add its own.
const (
	CodeUnauthorized     = "unauthorized"      // no claims: the route is not behind the authorizer
	CodeForbiddenTenant  = "forbidden_tenant"  // the token does not name the path's tenant
	CodeInvalidTenant    = "invalid_tenant_id" // the path's tenant id is not a tenant id
	CodeNotFound         = "not_found"         // no such route
	CodeInvalidJSON      = "invalid_json"      // the body is not the JSON the route takes
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeTooLarge         = "payload_too_large"
	CodeUnavailable      = "temporarily_unavailable" // an AWS call failed; retry
	CodeInternal         = "internal_error"
)

func errorf(status int, code, message string, details ...string) *Error {
	if details == nil {
		details = []string{}
	}
	return &Error{Status: status, Code: code, Message: message, Details: details}
}

// unavailable is the answer to a failed dependency: the caller may retry
// (routes that change something are idempotent).
func unavailable() *Error {
	return errorf(http.StatusServiceUnavailable, CodeUnavailable, "the request could not be completed now; retry it")
}

// Response is what a route answers: Status and a body marshalled as JSON.
type Response struct {
	Status int
	Body   any
}

func respond(r Response) events.APIGatewayV2HTTPResponse {
	b, err := json.Marshal(r.Body)
	if err != nil {
		return failure(errorf(http.StatusInternalServerError, CodeInternal, "the response could not be encoded"))
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: r.Status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(b),
	}
}

func failure(e *Error) events.APIGatewayV2HTTPResponse {
	if e.Details == nil {
		e.Details = []string{}
	}
	return respond(Response{Status: e.Status, Body: map[string]*Error{"error": e}})
}
