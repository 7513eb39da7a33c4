package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tucanlink/wacloud/shared/fault"
)

// DefaultVersion is the Graph API version used when none is configured.
const DefaultVersion = "v23.0"

// DefaultBaseURL is Meta's Graph API host.
const DefaultBaseURL = "https://graph.facebook.com"

// Doer sends HTTP requests; *http.Client satisfies it.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client calls the Graph API. It is safe for concurrent use.
type Client struct {
	BaseURL string // default DefaultBaseURL
	Version string // default DefaultVersion
	HTTP    Doer   // default a client with a 20-second timeout
	// MediaHosts are the domains (and their subdomains) media downloads may
	// send the token to over HTTPS; default DefaultMediaHosts.
	MediaHosts []string
	// Metrics, when set, records every call's latency and failures
	// (GraphLatency, GraphErrors by MetricCode).
	Metrics Recorder
}

var defaultHTTP = NewHTTPClient()

// NewHTTPClient is the client every function calls Meta with (each
// Lambda instance its own connection pool): a 20-second timeout, and 32
// idle connections kept per host. Go's default keeps 2, so a function
// calling Meta for a batch's records at once closed the others after each
// request and paid a new TCP and TLS handshake for the next, which for
// the sender delayed a send past its pacing slot.
func NewHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 20 * time.Second,
			MaxIdleConns:          64,
			MaxIdleConnsPerHost:   32,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		},
	}
}

// URL returns the versioned Graph URL of path (which starts with "/").
func (c *Client) URL(path string) string {
	base := strings.TrimRight(c.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	v := c.Version
	if v == "" {
		v = DefaultVersion
	}
	return base + "/" + v + path
}

func (c *Client) http() Doer {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// DoJSON sends a request with an optional JSON body and decodes a JSON
// answer into out (when out is not nil). A non-2xx answer becomes an *Error.
func (c *Client) DoJSON(ctx context.Context, token, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fault.InvalidErr(fmt.Errorf("%s %s: encode body: %w", method, path, err))
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL(path), body)
	if err != nil {
		return fault.InvalidErr(fmt.Errorf("%s %s: %w", method, path, err))
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.Do(req, token, out)
}

// Do sends req with the bearer token and decodes a JSON answer into out.
func (c *Client) Do(req *http.Request, token string, out any) error {
	start := time.Now()
	err := c.do(req, token, out)
	c.record(start, err)
	return err
}

func (c *Client) do(req *http.Request, token string, out any) error {
	op := req.Method + " " + req.URL.Path
	req.Header.Set("Authorization", "Bearer "+token)
	// Whether the request left this process decides, after a transport
	// error, if Meta may have acted on it (see Error.MayHaveActed).
	var written atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { written.Store(true) },
	}))
	resp, err := c.http().Do(req)
	if err != nil {
		// Transport errors and timeouts: Meta may or may not have acted.
		return &Error{HTTPStatus: 0, Message: scrub(err.Error(), token), Transport: true, RequestWritten: written.Load(), Op: op}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return &Error{HTTPStatus: resp.StatusCode, Message: "read response: " + err.Error(), Transport: true, RequestWritten: true, Op: op}
	}
	if resp.StatusCode/100 != 2 {
		return ParseError(op, resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &Error{HTTPStatus: resp.StatusCode, Message: "decode response: " + err.Error(), Op: op}
	}
	return nil
}

// scrub removes the token from s, in case a transport error echoes a URL or header.
func scrub(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, "[redacted]")
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var ge *Error
	ok := errors.As(err, &ge)
	return ge, ok
}
