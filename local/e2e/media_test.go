package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/event"
)

// simInboundMedia makes contact send a media message through
// POST /_sim/inbound; req holds the media fields (type, media or media_id,
// caption, ...). It returns the wamid and the media the simulator serves.
func simInboundMedia(t *testing.T, h *connector.Handle, contact, req string) (string, graphsim.MediaObject) {
	t.Helper()
	body := fmt.Sprintf(`{"phone_number_id":%q,"from":%q,"name":"Ana",%s}`, connector.DemoPhoneNumberID, contact, strings.TrimPrefix(strings.TrimSuffix(req, "}"), "{"))
	var res graphsim.InboundResult
	if err := json.Unmarshal(postJSON(t, h.GraphURL+"/_sim/inbound", body), &res); err != nil {
		t.Fatal(err)
	}
	if res.Media == nil {
		t.Fatalf("POST /_sim/inbound %s names no media", body)
	}
	return res.WAMID, *res.Media
}

// An inbound media message reaches the core right away with its media
// pending, then the file is in the tenant's part of the bucket, byte for
// byte what Meta served, and a media_ready event says where.
func TestInboundMediaEndsInS3(t *testing.T) {
	h := startOutbound(t)
	tests := []struct {
		name string
		// req is the media part of POST /_sim/inbound; "$held" stands for
		// the id of media created beforehand with POST /_sim/media.
		req               string
		kind, mime, ext   string
		caption, filename string
		voice             bool
		held              string // POST /_sim/media body, when req names $held
		wantSize          int64
	}{
		{name: "image generated at a size", req: `{"type":"image","caption":"the receipt","media":{"mime_type":"image/jpeg","size":200000}}`,
			kind: "image", mime: "image/jpeg", ext: ".jpg", caption: "the receipt", wantSize: 200000},
		{name: "document created first, sent by id", req: `{"type":"document","media_id":"$held"}`,
			held: `{"phone_number_id":"` + connector.DemoPhoneNumberID + `","mime_type":"application/pdf","filename":"Orçamento 2026.pdf","content_base64":"JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCnRyYWlsZXIKPDwvUm9vdCAxIDAgUj4+CiUlRU9G"}`,
			kind: "document", mime: "application/pdf", ext: ".pdf", filename: "Orçamento 2026.pdf", wantSize: 81},
		{name: "voice note", req: `{"type":"audio","voice":true,"media":{"mime_type":"audio/ogg","size":30000,"seed":5}}`,
			kind: "audio", mime: "audio/ogg", ext: ".ogg", voice: true, wantSize: 30000},
	}
	s3c := s3.NewFromConfig(h.Emulator.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	bucket := h.Stack.Names.Ref["DataBucket"]
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if tt.held != "" {
				var o graphsim.MediaObject
				if err := json.Unmarshal(postJSON(t, h.GraphURL+"/_sim/media", tt.held), &o); err != nil {
					t.Fatal(err)
				}
				req = strings.ReplaceAll(req, "$held", o.ID)
			}
			contact := newContact()
			wamid, media := simInboundMedia(t, h, contact, req)
			if media.Size != tt.wantSize {
				t.Fatalf("the simulator serves %d bytes, want %d", media.Size, tt.wantSize)
			}

			var evs []event.Event
			eventually(t, "message.media_ready at the core sink", time.Minute, func() bool {
				evs = ofContact(coreEvents(t, h, "?tenant_id=demo"), contact)
				for _, e := range evs {
					if e.Type == event.TypeMediaReady || e.Type == event.TypeMediaFailed {
						return true
					}
				}
				return false
			})
			if len(evs) != 2 || evs[0].Type != event.TypeMessageReceived || evs[1].Type != event.TypeMediaReady {
				t.Fatalf("the contact's events are %v, want message.received then message.media_ready", types(evs))
			}
			if evs[0].OrderKey() != evs[1].OrderKey() {
				t.Errorf("order keys %q and %q differ", evs[0].OrderKey(), evs[1].OrderKey())
			}

			// The message event: the media as Meta described it, pending.
			m := evs[0].Message
			if m == nil || m.ID != wamid || m.Kind != tt.kind || m.Media == nil {
				t.Fatalf("message.received = %+v, want %s %s with media", m, tt.kind, wamid)
			}
			want := event.MediaRef{Kind: tt.kind, ID: media.ID, MimeType: tt.mime, SHA256: media.SHA256Base64, SHA256Hex: media.SHA256,
				Filename: tt.filename, Caption: tt.caption, Voice: tt.voice, Status: event.MediaStatusPending}
			if *m.Media != want {
				t.Errorf("message media = %+v, want %+v", *m.Media, want)
			}

			// The ready event: where the file is, what it is.
			r := evs[1].Media
			prefix := "tenants/" + connector.DemoTenantID + "/media/"
			if r == nil || r.MessageID != wamid || r.MediaID != media.ID || r.Kind != tt.kind || r.Bucket != bucket ||
				!strings.HasPrefix(r.Key, prefix) || !strings.HasSuffix(r.Key, tt.ext) ||
				r.Size != media.Size || r.SHA256 != media.SHA256 || r.MimeType != tt.mime || r.Filename != tt.filename {
				t.Fatalf("media_ready = %+v\nwant bucket %s, key %s…%s, size %d, sha256 %s, %s, filename %q",
					r, bucket, prefix, tt.ext, media.Size, media.SHA256, tt.mime, tt.filename)
			}

			// The object: exactly the bytes the simulator served.
			served, _, ok := h.Sim.MediaContent(media.ID)
			if !ok {
				t.Fatalf("the simulator no longer has %s", media.ID)
			}
			wantBytes, err := io.ReadAll(served)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.Bucket), Key: aws.String(r.Key)})
			if err != nil {
				t.Fatalf("get s3://%s/%s: %v", r.Bucket, r.Key, err)
			}
			got, err := io.ReadAll(obj.Body)
			obj.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, wantBytes) {
				sum := sha256.Sum256(got)
				t.Errorf("stored %d bytes (sha256 %s), the simulator served %d (sha256 %s)", len(got), hex.EncodeToString(sum[:]), len(wantBytes), media.SHA256)
			}
			if ct := aws.ToString(obj.ContentType); ct != tt.mime {
				t.Errorf("content type %q, want %q", ct, tt.mime)
			}

			// The presigned URL the core gets serves the same bytes.
			resp, err := http.Get(r.URL)
			if err != nil {
				t.Fatal(err)
			}
			viaURL, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Equal(viaURL, wantBytes) {
				t.Errorf("GET of the presigned URL = %d, %d bytes; want 200 and the %d bytes", resp.StatusCode, len(viaURL), len(wantBytes))
			}
			if exp, err := time.Parse(time.RFC3339, r.URLExpiresAt); err != nil || !exp.After(time.Now()) {
				t.Errorf("url_expires_at %q is not a future time", r.URLExpiresAt)
			}
		})
	}
	checkContract(t, h)
}

func types(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}
