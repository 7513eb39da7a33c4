package graph

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/shared/fault"
)

func serveFile(t *testing.T, status int, file string) *httptest.Server {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSendMessageAnswers(t *testing.T) {
	tests := []struct {
		file    string
		wamid   string
		success bool
	}{
		{"send_message_success.json", "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA", false},
		{"send_message_success_message_status_accepted.json", "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA", false},
		{"send_message_success_nodejs_sdk.json", "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA", false},
		{"send_message_success_placeholder_ids.json", "wamid.gBGGSFcCNEOPAgkO_KJ55r4w_ww", false},
		{"send_typing_indicator_read_receipt_success.json", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			srv := serveFile(t, 200, tt.file)
			c := &Client{BaseURL: srv.URL}
			res, err := c.SendMessage(context.Background(), "tok", "100000000000001", map[string]string{"messaging_product": "whatsapp"})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.WAMID(); got != tt.wamid {
				t.Errorf("WAMID = %q, want %q", got, tt.wamid)
			}
			if res.Success != tt.success {
				t.Errorf("Success = %v, want %v", res.Success, tt.success)
			}
		})
	}
}

func TestSendMessageRequest(t *testing.T) {
	var gotPath, gotAuth, gotType string
	var gotBody map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth, gotType = r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type")
		_ = json.NewDecoder(r.Body).Decode(&gotBody)
		_, _ = io.WriteString(w, `{"messages":[{"id":"wamid.X"}]}`)
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, Version: "v24.0"}
	if _, err := c.SendMessage(context.Background(), "secret-token", "100000000000001", map[string]string{"to": "1"}); err != nil {
		t.Fatal(err)
	}
	if gotPath != "/v24.0/100000000000001/messages" {
		t.Errorf("path = %q", gotPath)
	}
	if gotAuth != "Bearer secret-token" || gotType != "application/json" || gotBody["to"] != "1" {
		t.Errorf("auth %q, content type %q, body %v", gotAuth, gotType, gotBody)
	}
}

func TestSendMessageErrors(t *testing.T) {
	t.Run("Meta error answer", func(t *testing.T) {
		srv := serveFile(t, 400, "error_130429_rate_limit_metadocs.json")
		c := &Client{BaseURL: srv.URL}
		_, err := c.SendMessage(context.Background(), "tok", "100", nil)
		ge, ok := AsError(err)
		if !ok || ge.Code != CodeThroughput || fault.ClassOf(err) != fault.Retry || ge.MayHaveActed() {
			t.Errorf("err = %v, want a retryable 130429 that Meta did not act on", err)
		}
	})
	t.Run("2xx without a message id", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"messaging_product":"whatsapp"}`)
		}))
		defer srv.Close()
		_, err := (&Client{BaseURL: srv.URL}).SendMessage(context.Background(), "tok", "100", nil)
		ge, ok := AsError(err)
		if !ok || !ge.MayHaveActed() {
			t.Errorf("err = %v, want an error Meta may have acted on", err)
		}
	})
	t.Run("timeout after the request was sent", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.ReadAll(r.Body)
			<-release
		}))
		defer srv.Close()
		defer close(release)
		c := &Client{BaseURL: srv.URL, HTTP: &http.Client{Timeout: 200 * time.Millisecond}}
		_, err := c.SendMessage(context.Background(), "secret-token", "100", map[string]string{"a": "b"})
		ge, ok := AsError(err)
		if !ok || !ge.Transport || !ge.MayHaveActed() {
			t.Fatalf("err = %v, want a transport error Meta may have acted on", err)
		}
		if strings.Contains(err.Error(), "secret-token") {
			t.Error("error text contains the token")
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		_, err = (&Client{BaseURL: "http://" + addr}).SendMessage(context.Background(), "tok", "100", nil)
		ge, ok := AsError(err)
		if !ok || !ge.Transport || ge.MayHaveActed() || fault.ClassOf(err) != fault.Retry {
			t.Errorf("err = %v, want a retryable transport error that never reached Meta", err)
		}
	})
	t.Run("path injection", func(t *testing.T) {
		_, err := (&Client{BaseURL: "http://127.0.0.1:1"}).SendMessage(context.Background(), "tok", "100/../me", nil)
		if fault.ClassOf(err) != fault.Invalid {
			t.Errorf("err = %v, want invalid", err)
		}
		var ge *Error
		if errors.As(err, &ge) {
			t.Error("no request should have been made")
		}
	})
}
