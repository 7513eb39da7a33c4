// Package apigw is a local stand-in for an API Gateway HTTP API: it routes
// requests by the routes the template declares, checks bearer tokens on
// routes with a JWT authorizer (JWTAuthorizer) and invokes the function
// with the same events.APIGatewayV2HTTPRequest (payload format 2.0) Lambda
// would receive, claims included, then writes the function's response. It
// exists only for the local connector.
package apigw

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/local/lambdactx"
)

// Handler is a function's handler for HTTP API events.
type Handler func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Route sends requests matching Method and Path to a function. Path may hold
// parameters ({tenant_id}) and end in a greedy one ({proxy+}); Method may be
// ANY.
type Route struct {
	Method   string
	Path     string
	Function string
	Timeout  time.Duration // default 30 s, API Gateway's integration limit
	Handler  Handler
	// Auth, when set, is the route's JWT authorizer: a request without a
	// valid token is answered 401 before the function is invoked.
	Auth *JWTAuthorizer
}

// MaxBody is API Gateway's payload limit.
const MaxBody = 10 << 20

// Server serves routes. It is safe for concurrent use.
type Server struct {
	routes []Route
	log    *slog.Logger
}

// New builds a server over routes. log may be nil.
func New(routes []Route, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{routes: routes, log: log}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, params, ok := s.match(r.Method, r.URL.Path)
	if !ok {
		writeMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > MaxBody {
		writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	req := Request(r, body, rt.Method+" "+rt.Path, params)
	if rt.Auth != nil {
		claims, err := rt.Auth.Authorize(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			s.log.InfoContext(r.Context(), "token refused", "route", req.RouteKey, "reason", err.Error())
			w.Header().Set("www-authenticate", fmt.Sprintf(`Bearer scope="" error="invalid_token" error_description=%q`, err.Error()))
			writeMessage(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
		req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
		}
	}
	timeout := rt.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(lambdactx.New(context.WithoutCancel(r.Context()), rt.Function), timeout)
	defer cancel()
	resp, err := lambdactx.Invoke(ctx, rt.Handler, req)
	if err != nil {
		s.log.ErrorContext(ctx, "function failed", "function", rt.Function, "route", req.RouteKey, "error", err.Error())
		if errors.Is(err, context.DeadlineExceeded) {
			writeMessage(w, http.StatusGatewayTimeout, "Service Unavailable")
			return
		}
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	if err := Write(w, resp); err != nil {
		s.log.ErrorContext(ctx, "bad function response", "function", rt.Function, "error", err.Error())
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
	}
}

func (s *Server) match(method, path string) (Route, map[string]string, bool) {
	var fallback *Route
	var fallbackParams map[string]string
	for i := range s.routes {
		rt := s.routes[i]
		params, ok := matchPath(rt.Path, path)
		if !ok {
			continue
		}
		if strings.EqualFold(rt.Method, method) {
			return rt, params, true
		}
		if strings.EqualFold(rt.Method, "ANY") && fallback == nil {
			fallback, fallbackParams = &s.routes[i], params
		}
	}
	if fallback != nil {
		return *fallback, fallbackParams, true
	}
	return Route{}, nil, false
}

// matchPath matches path against a route template such as
// /webhook/{tenant_id} or /files/{proxy+}.
func matchPath(tmpl, path string) (map[string]string, bool) {
	ts := strings.Split(strings.Trim(tmpl, "/"), "/")
	ps := strings.Split(strings.Trim(path, "/"), "/")
	params := map[string]string{}
	for i, t := range ts {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "+}") {
			rest := strings.Join(ps[min(i, len(ps)):], "/")
			if rest == "" {
				return nil, false
			}
			params[t[1:len(t)-2]] = rest
			return params, true
		}
		if i >= len(ps) {
			return nil, false
		}
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			if ps[i] == "" {
				return nil, false
			}
			params[t[1:len(t)-1]] = ps[i]
			continue
		}
		if t != ps[i] {
			return nil, false
		}
	}
	if len(ps) != len(ts) {
		return nil, false
	}
	if len(params) == 0 {
		params = nil
	}
	return params, true
}

// Request builds the payload-format-2.0 event API Gateway sends for r.
func Request(r *http.Request, body []byte, routeKey string, params map[string]string) events.APIGatewayV2HTTPRequest {
	now := time.Now()
	headers := map[string]string{}
	var cookies []string
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lk] = strings.Join(vs, ",")
	}
	if r.Host != "" {
		headers["host"] = r.Host
	}
	if r.ContentLength >= 0 && len(body) > 0 {
		headers["content-length"] = fmt.Sprint(len(body))
	}
	var query map[string]string
	if r.URL.RawQuery != "" {
		if q, err := url.ParseQuery(r.URL.RawQuery); err == nil && len(q) > 0 {
			query = map[string]string{}
			for k, vs := range q {
				query[k] = strings.Join(vs, ",")
			}
		}
	}
	sourceIP := r.RemoteAddr
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		sourceIP = h
	}
	requestID := lambdactx.RequestID()
	req := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    lambdactx.Account,
			Stage:        "$default",
			RequestID:    requestID,
			APIID:        "local",
			DomainName:   r.Host,
			DomainPrefix: strings.Split(r.Host, ".")[0],
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if isBinary(r.Header.Get("Content-Type")) || !utf8.Valid(body) {
			req.Body = base64.StdEncoding.EncodeToString(body)
			req.IsBase64Encoded = true
		} else {
			req.Body = string(body)
		}
	}
	return req
}

// isBinary reports whether API Gateway would base64-encode a body of this
// content type; text, JSON, XML and form bodies are passed as text.
func isBinary(contentType string) bool {
	if contentType == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return true
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "application/xml", strings.HasSuffix(mt, "+xml"),
		mt == "application/javascript", mt == "application/x-www-form-urlencoded",
		mt == "application/graphql":
		return false
	}
	return true
}

// Write writes a function's response the way API Gateway does.
func Write(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) error {
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			return fmt.Errorf("decode base64 response body: %w", err)
		}
		body = b
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

func writeMessage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"message":%q}`, msg)
}
