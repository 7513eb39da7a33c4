package graph

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// AppID is the id of the Meta app the token was issued for (GET /app).
// Errors are *Error.
func (c *Client) AppID(ctx context.Context, token string) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	if err := c.DoJSON(ctx, token, "GET", "/app?fields=id", nil, &out); err != nil {
		return "", fmt.Errorf("read the token's app: %w", err)
	}
	if out.ID == "" {
		return "", fmt.Errorf("read the token's app: %w", &Error{HTTPStatus: 200, Message: "answer has no id", Op: "GET /app"})
	}
	return out.ID, nil
}

// UploadFile sends a file through Meta's Resumable Upload API (POST
// /{app-id}/uploads opens a session, POST /upload:{id} sends the bytes
// from offset 0) and returns its handle, which a business profile takes
// as profile_picture_handle. Errors are *Error.
func (c *Client) UploadFile(ctx context.Context, token, appID, name, contentType string, data []byte) (string, error) {
	q := url.Values{"file_name": {name}, "file_length": {strconv.Itoa(len(data))}, "file_type": {contentType}}
	var session struct {
		ID string `json:"id"`
	}
	if err := c.DoJSON(ctx, token, "POST", "/"+url.PathEscape(appID)+"/uploads?"+q.Encode(), nil, &session); err != nil {
		return "", fmt.Errorf("open an upload session: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL("/"+session.ID), bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("upload %s: %w", session.ID, err)
	}
	req.Header.Set("file_offset", "0")
	var out struct {
		H string `json:"h"`
	}
	if err := c.Do(req, token, &out); err != nil {
		return "", fmt.Errorf("upload %s: %w", session.ID, err)
	}
	if out.H == "" {
		return "", fmt.Errorf("upload %s: %w", session.ID, &Error{HTTPStatus: 200, Message: "answer has no handle", Op: "POST /upload"})
	}
	return out.H, nil
}
