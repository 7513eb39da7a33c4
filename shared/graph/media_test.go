package graph

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/shared/fault"
)

func TestMediaInfoFileSizeNumberOrString(t *testing.T) {
	tests := []struct {
		file string
		want FileSize
	}{
		{"testdata/media_get_url.json", 103632},      // a number
		{"testdata/media_get_url_spec.json", 303833}, // a string
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			var info MediaInfo
			if err := json.Unmarshal(raw, &info); err != nil {
				t.Fatalf("decode %s: %v", tt.file, err)
			}
			if got := info.FileSize; got != tt.want {
				t.Errorf("file_size = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestFileSizeForms(t *testing.T) {
	tests := []struct {
		in      string
		want    FileSize
		wantErr bool
	}{
		{`12`, 12, false},
		{`"12"`, 12, false},
		{`" 12 "`, 12, false},
		{`""`, 0, false},
		{`null`, 0, false},
		{`1024.0`, 1024, false},
		{`"1.5"`, 0, true},
		{`-1`, 0, true},
		{`"abc"`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got FileSize
			err := json.Unmarshal([]byte(tt.in), &got)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Unmarshal(%s) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Unmarshal(%s) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestMediaInfoRejectsPathInjection(t *testing.T) {
	c := &Client{BaseURL: "http://127.0.0.1:1"}
	for _, id := range []string{"", "../123/messages", "1?x=1", "1#a", "1/2"} {
		_, err := c.MediaInfo(context.Background(), "t", id)
		if got, want := fault.ClassOf(err), fault.Invalid; got != want {
			t.Errorf("MediaInfo(%q) class = %v, want %v (err %v)", id, got, want, err)
		}
	}
}

func TestDownloadSendsTokenOnlyOverHTTPSOrToGraphHost(t *testing.T) {
	var gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		io.WriteString(w, "bytes")
	}))
	defer srv.Close()

	c := &Client{BaseURL: "http://graph.example"}
	if _, _, err := c.Download(context.Background(), "secret-token", srv.URL+"/file"); err == nil || fault.ClassOf(err) != fault.Permanent {
		t.Fatalf("Download over plain HTTP to another host: err = %v, want a permanent refusal", err)
	}
	if gotAuth != "" {
		t.Fatalf("token was sent: %q", gotAuth)
	}

	c = &Client{BaseURL: srv.URL}
	body, size, err := c.Download(context.Background(), "secret-token", srv.URL+"/file")
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	b, _ := io.ReadAll(body)
	if string(b) != "bytes" || size != 5 || gotAuth != "Bearer secret-token" {
		t.Errorf("got %q size %d auth %q", b, size, gotAuth)
	}
}

func TestUploadMediaSendsMetasForm(t *testing.T) {
	raw, err := os.ReadFile("testdata/media_upload_success.json")
	if err != nil {
		t.Fatal(err)
	}
	var fields = map[string]string{}
	var fileType, fileName string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v23.0/123/media" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "wrong path or token", http.StatusBadRequest)
			return
		}
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(p)
			fields[p.FormName()] = string(b)
			if p.FormName() == "file" {
				fileType, fileName = p.Header.Get("Content-Type"), p.FileName()
			}
		}
		w.Write(raw)
	}))
	defer srv.Close()

	c := &Client{BaseURL: srv.URL}
	id, err := c.UploadMedia(context.Background(), "tok", "123", "image/webp", "héllo.webp", strings.NewReader("RIFF-data"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := id, "4490709327384033"; got != want {
		t.Errorf("id = %q, want %q", got, want)
	}
	want := map[string]string{"messaging_product": "whatsapp", "type": "image/webp", "file": "RIFF-data"}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("form field %s = %q, want %q", k, fields[k], v)
		}
	}
	if fileType != "image/webp" || fileName != "h_llo.webp" {
		t.Errorf("file part type %q name %q", fileType, fileName)
	}
}

func TestUploadMediaGraphError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"Media upload error","type":"OAuthException","code":131053}}`)
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL}
	_, err := c.UploadMedia(context.Background(), "tok", "123", "image/png", "a.png", strings.NewReader(strings.Repeat("x", 1<<20)))
	ge, ok := AsError(err)
	if !ok || ge.Code != 131053 {
		t.Fatalf("err = %v, want Graph error 131053", err)
	}
	if got, want := fault.ClassOf(err), fault.Permanent; got != want {
		t.Errorf("class = %v, want %v", got, want)
	}
}
