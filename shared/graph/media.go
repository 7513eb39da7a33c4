package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tucanlink/wacloud/shared/fault"
)

// MediaInfo is Meta's answer to GET /{media-id}.
type MediaInfo struct {
	ID               string   `json:"id"`
	URL              string   `json:"url"` // download URL; needs the bearer token, expires after 5 minutes
	MimeType         string   `json:"mime_type"`
	SHA256           string   `json:"sha256"` // hex here; the webhook gives base64
	FileSize         FileSize `json:"file_size"`
	MessagingProduct string   `json:"messaging_product"`
}

// FileSize is a byte count that Meta sends as a JSON number or as a decimal
// string, depending on the API version and endpoint.
type FileSize int64

// UnmarshalJSON accepts 103632, "303833", "" and null.
func (s *FileSize) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*s = 0
		return nil
	}
	txt := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &txt); err != nil {
			return fmt.Errorf("file_size: %w", err)
		}
		txt = strings.TrimSpace(txt)
		if txt == "" {
			*s = 0
			return nil
		}
	}
	n, err := strconv.ParseInt(txt, 10, 64)
	if err != nil {
		// A number written as 1.5e6 or 1024.0 is still a whole byte count.
		f, ferr := strconv.ParseFloat(txt, 64)
		if ferr != nil || f != float64(int64(f)) {
			return fmt.Errorf("file_size %q is not a whole number", txt)
		}
		n = int64(f)
	}
	if n < 0 {
		return fmt.Errorf("file_size %d is negative", n)
	}
	*s = FileSize(n)
	return nil
}

// MediaInfo resolves a media id to its download URL, type, hash and size.
// Each call returns a fresh URL.
func (c *Client) MediaInfo(ctx context.Context, token, mediaID string) (MediaInfo, error) {
	if !validID(mediaID) {
		return MediaInfo{}, fault.Invalidf("get media: invalid media id %q", truncate(mediaID, 64))
	}
	var info MediaInfo
	if err := c.DoJSON(ctx, token, http.MethodGet, "/"+mediaID, nil, &info); err != nil {
		return MediaInfo{}, err
	}
	if info.URL == "" {
		return MediaInfo{}, &Error{Op: "GET /" + mediaID, HTTPStatus: http.StatusOK, Message: "answer has no url"}
	}
	return info, nil
}

// DefaultMediaHosts are the domains Meta serves media downloads from: the
// URL GET /{media-id} answers is on lookaside.fbsbx.com, and Meta's CDN is
// fbcdn.net. A host matches a domain when it is the domain or one of its
// subdomains.
var DefaultMediaHosts = []string{"fbsbx.com", "fbcdn.net"}

// maxMediaRedirects bounds the redirects a download follows.
const maxMediaRedirects = 5

var errTooManyRedirects = fmt.Errorf("more than %d redirects", maxMediaRedirects)

// Download opens a media URL returned by MediaInfo, sending the bearer
// token. The caller reads and closes body; size is the Content-Length, or -1.
// A non-2xx answer is an *Error (Meta's code when the body is a Graph error,
// else the HTTP status).
//
// The tenant's token goes only to Meta's media hosts (c.MediaHosts, default
// DefaultMediaHosts) over HTTPS, or to the configured Graph host itself
// (which has the token anyway; the local simulator serves plain HTTP). Any
// other URL, or a redirect to one, is refused (Permanent) before a request
// is made to it. Go's client would carry the Authorization header on a
// redirect to the same host on another port or scheme (https to http) and to
// any subdomain, so every hop is checked, not only the first.
func (c *Client) Download(ctx context.Context, token, rawURL string) (body io.ReadCloser, size int64, err error) {
	const op = "GET media download"
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, 0, fault.PermanentErr(fmt.Errorf("%s: unusable url", op))
	}
	if err := c.checkMediaURL(u); err != nil {
		return nil, 0, fault.PermanentErr(fmt.Errorf("%s: %w", op, err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, 0, fault.PermanentErr(fmt.Errorf("%s: %w", op, err))
	}
	req.Header.Set("Authorization", "Bearer "+token)
	// Meta's CDN answers some clients with an HTML page unless asked for bytes.
	req.Header.Set("Accept", "*/*")
	start := time.Now()
	resp, err := c.mediaHTTP().Do(req)
	if err != nil {
		err = downloadError(op, token, err)
		c.record(start, err)
		return nil, 0, err
	}
	if resp.StatusCode/100 != 2 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		ge := ParseError(op, resp.StatusCode, raw)
		c.record(start, ge)
		return nil, 0, ge
	}
	c.record(start, nil)
	return resp.Body, resp.ContentLength, nil
}

// downloadError classifies a failed download request: a refused redirect
// is permanent, anything else a transport failure.
func downloadError(op, token string, err error) error {
	var refused *refusedHostError
	if errors.As(err, &refused) {
		return fault.PermanentErr(fmt.Errorf("%s: %w", op, refused))
	}
	if errors.Is(err, errTooManyRedirects) {
		return fault.PermanentErr(fmt.Errorf("%s: %w", op, errTooManyRedirects))
	}
	return &Error{Op: op, Message: scrub(err.Error(), token), Transport: true}
}

// refusedHostError is a media URL (or redirect) the token may not go to.
type refusedHostError struct {
	scheme, host string
	redirect     bool
}

func (e *refusedHostError) Error() string {
	what := "url"
	if e.redirect {
		what = "redirect"
	}
	return fmt.Sprintf("refusing to send the token to %s://%s (%s outside Meta's media hosts)", e.scheme, e.host, what)
}

// checkMediaURL allows u when the token may be sent to it: the Graph host
// itself, or a media host over HTTPS on the default port.
func (c *Client) checkMediaURL(u *url.URL) error {
	if c.sameHost(u) {
		return nil
	}
	if u.Scheme == "https" && (u.Port() == "" || u.Port() == "443") && c.mediaHost(u.Hostname()) {
		return nil
	}
	return &refusedHostError{scheme: u.Scheme, host: u.Host}
}

func (c *Client) mediaHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, d := range c.mediaHosts() {
		d = strings.ToLower(strings.Trim(strings.TrimSpace(d), "."))
		if d != "" && (host == d || strings.HasSuffix(host, "."+d)) {
			return true
		}
	}
	return false
}

func (c *Client) mediaHosts() []string {
	if len(c.MediaHosts) > 0 {
		return c.MediaHosts
	}
	return DefaultMediaHosts
}

// mediaHTTP is streamHTTP with every redirect hop checked like the first
// URL. A Doer that is not an *http.Client is used as it is (it follows no
// redirects the client could check).
func (c *Client) mediaHTTP() Doer {
	d := c.streamHTTP()
	hc, ok := d.(*http.Client)
	if !ok {
		return d
	}
	cp := *hc
	next := hc.CheckRedirect
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > maxMediaRedirects {
			return errTooManyRedirects
		}
		if err := c.checkMediaURL(req.URL); err != nil {
			var r *refusedHostError
			if errors.As(err, &r) {
				r.redirect = true
			}
			return err
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &cp
}

// UploadMedia uploads body to POST /{phone-number-id}/media as Meta's
// multipart form (messaging_product, type, file) and returns the media id.
// The body is streamed, never held in memory.
func (c *Client) UploadMedia(ctx context.Context, token, phoneNumberID, mimeType, filename string, body io.Reader) (string, error) {
	if !validID(phoneNumberID) {
		return "", fault.Invalidf("upload media: invalid phone number id %q", truncate(phoneNumberID, 64))
	}
	if filename == "" {
		filename = "file"
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(writeUploadForm(mw, mimeType, filename, body))
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL("/"+phoneNumberID+"/media"), pr)
	if err != nil {
		pr.Close()
		<-done
		return "", fault.InvalidErr(fmt.Errorf("upload media: %w", err))
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	var out struct {
		ID string `json:"id"`
	}
	err = c.doWith(c.streamHTTP(), req, token, &out)
	// Unblock the writer if the request ended before reading the whole form.
	pr.CloseWithError(io.ErrClosedPipe)
	<-done
	if err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", &Error{Op: "POST /" + phoneNumberID + "/media", HTTPStatus: http.StatusOK, Message: "answer has no id"}
	}
	return out.ID, nil
}

func writeUploadForm(mw *multipart.Writer, mimeType, filename string, body io.Reader) error {
	if err := mw.WriteField("messaging_product", "whatsapp"); err != nil {
		return err
	}
	if err := mw.WriteField("type", mimeType); err != nil {
		return err
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, asciiName(filename)))
	h.Set("Content-Type", mimeType)
	part, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, body); err != nil {
		return fmt.Errorf("read upload body: %w", err)
	}
	return mw.Close()
}

// doWith is Do over a given HTTP client (Do uses c.HTTP, whose default
// timeout is too short for large bodies).
func (c *Client) doWith(h Doer, req *http.Request, token string, out any) error {
	cc := *c
	cc.HTTP = h
	return cc.Do(req, token, out)
}

// streamHTTP is the client for bodies that may take minutes: c.HTTP when
// set, else one without an overall timeout (the caller's context bounds it)
// but with connect and header timeouts.
func (c *Client) streamHTTP() Doer {
	if c.HTTP != nil {
		return c.HTTP
	}
	return streamingHTTP
}

var streamingHTTP = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout:   10 * time.Second,
	ResponseHeaderTimeout: 30 * time.Second,
	IdleConnTimeout:       90 * time.Second,
	MaxIdleConnsPerHost:   4,
}}

func (c *Client) sameHost(u *url.URL) bool {
	base, err := url.Parse(c.BaseURL)
	return err == nil && c.BaseURL != "" && base.Scheme == u.Scheme && base.Host == u.Host
}

// validID accepts Graph object ids (digits, and letters for simulators);
// anything else could change the request path.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// asciiName keeps a filename safe for a quoted header parameter.
func asciiName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			b.WriteByte('_')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
