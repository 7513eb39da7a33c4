package apigw

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/local/lambdactx"
)

func TestMatchPath(t *testing.T) {
	tests := []struct {
		name, tmpl, path string
		want             map[string]string
		ok               bool
	}{
		{"exact", "/webhook", "/webhook", nil, true},
		{"trailing slash", "/webhook", "/webhook/", nil, true},
		{"param", "/webhook/{tenant_id}", "/webhook/acme", map[string]string{"tenant_id": "acme"}, true},
		{"param missing", "/webhook/{tenant_id}", "/webhook", nil, false},
		{"too long", "/webhook", "/webhook/acme", nil, false},
		{"other path", "/webhook", "/hook", nil, false},
		{"greedy", "/files/{proxy+}", "/files/a/b/c", map[string]string{"proxy": "a/b/c"}, true},
		{"greedy empty", "/files/{proxy+}", "/files", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := matchPath(tt.tmpl, tt.path)
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("matchPath(%q, %q) = %v, %v; want %v, %v", tt.tmpl, tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestServerBuildsLambdaEvent(t *testing.T) {
	binary := []byte{0xff, 0x00, 0xfe, 'x'}
	tests := []struct {
		name        string
		method      string
		target      string
		contentType string
		body        []byte
		wantRoute   string
		wantParams  map[string]string
		wantQuery   map[string]string
		wantBody    string
		wantB64     bool
	}{
		{
			name: "verification GET", method: "GET",
			target:    "/webhook?hub.mode=subscribe&hub.verify_token=t&hub.challenge=42",
			wantRoute: "GET /webhook",
			wantQuery: map[string]string{"hub.mode": "subscribe", "hub.verify_token": "t", "hub.challenge": "42"},
		},
		{
			name: "JSON POST with tenant", method: "POST", target: "/webhook/acme", contentType: "application/json",
			body: []byte(`{"text":"ol\u00e1 \/"}`), wantRoute: "POST /webhook/{tenant_id}",
			wantParams: map[string]string{"tenant_id": "acme"}, wantBody: `{"text":"ol\u00e1 \/"}`,
		},
		{
			name: "invalid UTF-8 is base64", method: "POST", target: "/webhook", contentType: "application/json",
			body: binary, wantRoute: "POST /webhook", wantBody: base64.StdEncoding.EncodeToString(binary), wantB64: true,
		},
		{
			name: "binary content type is base64", method: "POST", target: "/webhook", contentType: "application/octet-stream",
			body: []byte("abc"), wantRoute: "POST /webhook", wantBody: base64.StdEncoding.EncodeToString([]byte("abc")), wantB64: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got events.APIGatewayV2HTTPRequest
			var gotFunction string
			h := func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				got, gotFunction = req, lambdactx.Function(ctx)
				return events.APIGatewayV2HTTPResponse{StatusCode: 201, Headers: map[string]string{"Content-Type": "text/plain"}, Body: "ok"}, nil
			}
			s := New([]Route{
				{Method: "GET", Path: "/webhook", Function: "Fn", Handler: h},
				{Method: "POST", Path: "/webhook", Function: "Fn", Handler: h},
				{Method: "POST", Path: "/webhook/{tenant_id}", Function: "Fn", Handler: h},
			}, nil)
			r := httptest.NewRequest(tt.method, tt.target, bytes.NewReader(tt.body))
			r.Header.Set("User-Agent", "facebookexternalua")
			r.Header.Set("X-Hub-Signature-256", "sha256=00")
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != 201 || w.Body.String() != "ok" || w.Header().Get("Content-Type") != "text/plain" {
				t.Fatalf("response = %d %q %v, want 201 ok text/plain", w.Code, w.Body.String(), w.Header())
			}
			if got.Version != "2.0" || got.RouteKey != tt.wantRoute || got.RequestContext.RouteKey != tt.wantRoute {
				t.Errorf("version/routeKey = %q/%q, want 2.0/%q", got.Version, got.RouteKey, tt.wantRoute)
			}
			if !reflect.DeepEqual(got.PathParameters, tt.wantParams) {
				t.Errorf("pathParameters = %v, want %v", got.PathParameters, tt.wantParams)
			}
			if !reflect.DeepEqual(got.QueryStringParameters, tt.wantQuery) {
				t.Errorf("queryStringParameters = %v, want %v", got.QueryStringParameters, tt.wantQuery)
			}
			if got.Body != tt.wantBody || got.IsBase64Encoded != tt.wantB64 {
				t.Errorf("body = %q (base64 %v), want %q (base64 %v)", got.Body, got.IsBase64Encoded, tt.wantBody, tt.wantB64)
			}
			if got.Headers["x-hub-signature-256"] != "sha256=00" || got.Headers["user-agent"] != "facebookexternalua" {
				t.Errorf("headers not lower-cased: %v", got.Headers)
			}
			if got.RequestContext.HTTP.Method != tt.method || got.RequestContext.HTTP.UserAgent != "facebookexternalua" || got.RequestContext.HTTP.SourceIP == "" {
				t.Errorf("requestContext.http = %+v", got.RequestContext.HTTP)
			}
			if got.RequestContext.RequestID == "" || got.RawPath == "" {
				t.Errorf("requestId %q rawPath %q must be set", got.RequestContext.RequestID, got.RawPath)
			}
			if gotFunction != "Fn" {
				t.Errorf("function in context = %q, want Fn", gotFunction)
			}
		})
	}
}

func TestServerAnswers(t *testing.T) {
	tests := []struct {
		name     string
		handler  Handler
		target   string
		body     []byte
		wantCode int
		wantBody string
	}{
		{"no route", nil, "/nope", nil, 404, `{"message":"Not Found"}`},
		{"base64 response", func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: base64.StdEncoding.EncodeToString([]byte{1, 2}), IsBase64Encoded: true}, nil
		}, "/x", nil, 200, "\x01\x02"},
		{"handler error", func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{}, io.ErrUnexpectedEOF
		}, "/x", nil, 500, `{"message":"Internal Server Error"}`},
		{"handler panic", func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			panic("boom")
		}, "/x", nil, 500, `{"message":"Internal Server Error"}`},
		{"too large", func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
		}, "/x", make([]byte, MaxBody+1), 413, `{"message":"Request Entity Too Large"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New([]Route{{Method: "ANY", Path: "/x", Function: "Fn", Handler: tt.handler}}, nil)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest(http.MethodPost, tt.target, bytes.NewReader(tt.body)))
			if w.Code != tt.wantCode || w.Body.String() != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", w.Code, w.Body.String(), tt.wantCode, tt.wantBody)
			}
		})
	}
}
