package manage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/manage"
	"github.com/tucanlink/wacloud/shared/media"
	"github.com/tucanlink/wacloud/shared/outbound"
)

const uploadsRoute = "POST /v1/tenants/{tenant_id}/media-uploads"

// upload asks for an upload URL and reads the answer.
func upload(t *testing.T, h *manage.Handler, tenantID, body, idempotencyKey string) manage.Upload {
	t.Helper()
	scope := "tenant:" + tenantID
	req := request(uploadsRoute, tenantID, &scope, body)
	if idempotencyKey != "" {
		req.Headers["idempotency-key"] = idempotencyKey
	}
	resp := serve(t, h, req, false)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d %s, want 200", resp.StatusCode, resp.Body)
	}
	var u manage.Upload
	if err := json.Unmarshal([]byte(resp.Body), &u); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestUploadURLTakesTheFile: the URL takes a PUT of the file with the
// headers it names, the object lands under the tenant's outbound prefix
// with its content type, and its s3_uri is a link both the job's
// validation and the sender's media resolver accept for the tenant.
func TestUploadURLTakesTheFile(t *testing.T) {
	emu := awsemu.StartTest(t)
	st := stack.Fresh(t, emu.Config(), stack.Options{StackName: "t-" + stack.TestName(t)})
	fn := st.Functions["ApiFunction"]
	getenv := func(k string) string {
		if k == "S3_USE_PATH_STYLE" {
			return "true"
		}
		return fn.Env[k]
	}
	h, err := manage.Setup(context.Background(), getenv, emu.Config())
	if err != nil {
		t.Fatal(err)
	}
	h.Log, h.Metrics.Out = slog.New(slog.DiscardHandler), io.Discard
	now := time.Now()
	h.Now = func() time.Time { return now }
	bucket := st.Names.Ref["DataBucket"]
	s3c := s3.NewFromConfig(emu.Config(), func(o *s3.Options) { o.UsePathStyle = true })

	files := []struct {
		kind, contentType string
		body              []byte
	}{
		{"image", "image/jpeg", []byte("\xff\xd8\xff\xe0 a small jpeg")},
		{"document", "application/pdf", []byte("%PDF-1.7 a small pdf")},
		{"sticker", "image/webp", []byte("RIFF\x24\x00\x00\x00WEBPVP8 a small sticker")},
	}
	for _, f := range files {
		t.Run(f.kind, func(t *testing.T) {
			body, _ := json.Marshal(manage.UploadRequest{Kind: f.kind, ContentType: f.contentType, ContentLength: int64(len(f.body))})
			u := upload(t, h, "demo", string(body), "")
			if u.Method != http.MethodPut {
				t.Errorf("method %q, want PUT", u.Method)
			}
			if got, want := u.ExpiresAt, now.Add(manage.DefaultUploadTTL).UTC().Format(time.RFC3339); got != want {
				t.Errorf("expires_at %s, want %s", got, want)
			}
			// S3 refuses a PUT whose signed headers differ: the type and
			// size are part of the signature.
			signed := mustURL(t, u.URL).Query().Get("X-Amz-SignedHeaders")
			for _, hdr := range []string{"content-type", "content-length"} {
				if !strings.Contains(signed, hdr) {
					t.Errorf("X-Amz-SignedHeaders %q lacks %s", signed, hdr)
				}
			}
			if u.Headers["Content-Type"] != f.contentType {
				t.Errorf("headers %v, want Content-Type %s", u.Headers, f.contentType)
			}
			req, _ := http.NewRequest(u.Method, u.URL, bytes.NewReader(f.body))
			for k, v := range u.Headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("PUT: %s", resp.Status)
			}
			b, key, ok := outbound.SplitS3Link(u.S3URI)
			if !ok || b != bucket || !strings.HasPrefix(key, "tenants/demo/outbound/") {
				t.Fatalf("s3_uri %s, want s3://%s/tenants/demo/outbound/…", u.S3URI, bucket)
			}
			obj, err := s3c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(obj.Body)
			obj.Body.Close()
			if !bytes.Equal(got, f.body) || aws.ToString(obj.ContentType) != f.contentType {
				t.Errorf("stored %q as %s, want %q as %s", got, aws.ToString(obj.ContentType), f.body, f.contentType)
			}
			if err := outbound.CheckLink(u.S3URI, "demo"); err != nil {
				t.Errorf("the job's validation refuses the link: %v", err)
			}
			r := media.OutboundResolver{Bucket: bucket}
			if _, _, err := r.ParseRef("demo", u.S3URI); err != nil {
				t.Errorf("the sender's resolver refuses the link: %v", err)
			}
		})
	}

	t.Run("an Idempotency-Key names the same object again, per tenant", func(t *testing.T) {
		body := `{"kind":"image","content_type":"image/png","content_length":10}`
		a, b := upload(t, h, "demo", body, "k1"), upload(t, h, "demo", body, "k1")
		other, acme := upload(t, h, "demo", body, "k2"), upload(t, h, "acme", body, "k1")
		name := func(u manage.Upload) string { return u.S3URI[strings.LastIndexByte(u.S3URI, '/')+1:] }
		if a.S3URI != b.S3URI || a.S3URI == other.S3URI || name(a) == name(acme) {
			t.Errorf("k1 %s, k1 again %s, k2 %s, acme k1 %s: want the first two equal, the others apart", a.S3URI, b.S3URI, other.S3URI, acme.S3URI)
		}
		if c, d := upload(t, h, "demo", body, ""), upload(t, h, "demo", body, ""); c.S3URI == d.S3URI {
			t.Errorf("two uploads without a key share %s", c.S3URI)
		}
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUploadRefusesWhatMetaCannotSend(t *testing.T) {
	s3c := s3.New(s3.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")})
	h := &manage.Handler{Presign: s3.NewPresignClient(s3c), Bucket: "b", Log: slog.New(slog.DiscardHandler)}
	scope := "tenant:demo"
	tests := []struct {
		name, body, code, detail string
	}{
		{"unknown kind", `{"kind":"gif","content_type":"image/gif","content_length":10}`, manage.CodeInvalidUpload, "kind must be one of"},
		{"type not for the kind", `{"kind":"image","content_type":"image/webp","content_length":10}`, manage.CodeInvalidUpload, "content_type must be one of image/jpeg, image/png"},
		{"a page declared as a document", `{"kind":"document","content_type":"text/html","content_length":10}`, manage.CodeInvalidUpload, "content_type"},
		{"over Meta's limit", `{"kind":"image","content_type":"image/jpeg","content_length":5242881}`, manage.CodeInvalidUpload, "over Meta's limit"},
		{"empty file", `{"kind":"video","content_type":"video/mp4","content_length":0}`, manage.CodeInvalidUpload, "at least 1"},
		{"unknown key", `{"kind":"image","content_type":"image/jpeg","content_length":10,"acl":"public-read"}`, manage.CodeInvalidJSON, `unknown key "acl"`},
		{"no body", ``, manage.CodeInvalidJSON, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := serve(t, h, request(uploadsRoute, "demo", &scope, tt.body), false)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d %s, want 400", resp.StatusCode, resp.Body)
			}
			e := apiError(t, resp)
			if e.Code != tt.code || !strings.Contains(strings.Join(e.Details, "\n"), tt.detail) {
				t.Errorf("error %+v, want %s naming %q", e, tt.code, tt.detail)
			}
		})
	}
	// At the limit is fine.
	u := upload(t, h, "demo", `{"kind":"image","content_type":"image/jpeg","content_length":5242880}`, "")
	if !strings.HasPrefix(u.S3URI, "s3://b/tenants/demo/outbound/") || !strings.HasSuffix(u.S3URI, ".jpg") {
		t.Errorf("s3_uri %s", u.S3URI)
	}
}

// TestUploadURLExpiresWithItsCredentials: a URL signed with temporary
// credentials stops working when they expire, and expires_at says so.
func TestUploadURLExpiresWithItsCredentials(t *testing.T) {
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name    string
		expires time.Time
		want    time.Time
	}{
		{"credentials outlive the URL", now.Add(time.Hour), now.Add(manage.DefaultUploadTTL)},
		{"credentials expire first", now.Add(5 * time.Minute), now.Add(5 * time.Minute)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "token", CanExpire: true, Expires: tt.expires}, nil
			})
			s3c := s3.New(s3.Options{Region: "us-east-1", Credentials: creds})
			h := &manage.Handler{Presign: s3.NewPresignClient(s3c), Bucket: "b", Credentials: creds, Now: func() time.Time { return now },
				Log: slog.New(slog.DiscardHandler)}
			u := upload(t, h, "demo", `{"kind":"audio","content_type":"audio/ogg","content_length":100}`, "")
			if got := u.ExpiresAt; got != tt.want.Format(time.RFC3339) {
				t.Errorf("expires_at %s, want %s", got, tt.want.Format(time.RFC3339))
			}
		})
	}
}
