package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/event/eventtest"
	"github.com/tucanlink/wacloud/shared/queue"
)

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// A simulated inbound image ends as an S3 object with the same bytes, and
// the core receives message.media_ready after the message event, in the
// same FIFO group.
func TestInboundImageEndToEnd(t *testing.T) {
	e := newTestEnv(t)
	content := randomBytes(t, 200<<10)
	o := e.createMedia(t, graphsim.MediaSpec{PhoneNumberID: numberA, MimeType: "image/jpeg", Content: content})
	const wamid = "wamid.HBgNNTUxMTk5OTk5MDAwMBUCABIYFDNBMDFGQzE2RjE4MjA2QTY0RjFEAA=="

	// What the inbound function does: the message event with the media
	// pending, then the media job.
	msg := event.Event{
		SchemaVersion: event.SchemaVersion, EventID: event.ID("message.received", wamid), Type: event.TypeMessageReceived,
		TenantID: tenantA, PhoneNumberID: numberA, OccurredAt: "2025-06-08T11:59:00Z",
		Contact: &event.Contact{WaID: contact, Name: "Ana"},
		Message: &event.Message{ID: wamid, Kind: "image"},
	}
	m, err := queue.EventMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := (queue.Publisher{API: e.sqs}).Publish(e.ctx, e.coreQ, m); err != nil {
		t.Fatal(err)
	}
	e.enqueue(t, imageJob(o, wamid, KindImage))

	if e.deliver(t) {
		t.Fatal("media job failed")
	}

	wantKey := "tenants/acme/media/2025/06/08/wamid.HBgNNTUxMTk5OTk5MDAwMBUCABIYFDNBMDFGQzE2RjE4MjA2QTY0RjFEAA==.jpg"
	if got := e.object(t, wantKey); !bytes.Equal(got, content) {
		t.Fatalf("stored object differs: %d bytes, want %d", len(got), len(content))
	}
	head, err := e.s3.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(wantKey)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(head.ContentType), "image/jpeg"; got != want {
		t.Errorf("content type = %q, want %q", got, want)
	}
	if got, want := head.Metadata["sha256"], o.SHA256; got != want {
		t.Errorf("sha256 metadata = %q, want %q", got, want)
	}
	if got, want := string(head.ServerSideEncryption), "AES256"; got != want {
		t.Errorf("server-side encryption = %q, want %q", got, want)
	}

	evs := e.coreEvents(t)
	if len(evs) != 2 {
		t.Fatalf("got %d core events, want 2", len(evs))
	}
	if evs[0].Type != event.TypeMessageReceived || evs[1].Type != event.TypeMediaReady {
		t.Fatalf("core events in order %s, %s; want message.received then message.media_ready", evs[0].Type, evs[1].Type)
	}
	ready := evs[1]
	if ready.Group != evs[0].Group || ready.Group != "acme:"+numberA+":"+contact {
		t.Errorf("media_ready group %q, message group %q", ready.Group, evs[0].Group)
	}
	if got, want := ready.EventID, event.MediaEventID(event.TypeMediaReady, tenantA, numberA, wamid, o.ID); got != want {
		t.Errorf("event_id = %q, want %q", got, want)
	}
	eventtest.ValidateJSON(t, ready.Raw)
	mr := ready.Media
	if mr.Bucket != e.bucket || mr.Key != wantKey || mr.Size != int64(len(content)) || mr.SHA256 != o.SHA256 ||
		mr.MimeType != "image/jpeg" || mr.MessageID != wamid || mr.MediaID != o.ID || mr.Kind != KindImage {
		t.Errorf("media result = %+v", mr)
	}
	// sha256_hex is one encoding in both events: the message event decodes
	// Meta's base64, the media event carries the hex of the stored bytes.
	if mr.SHA256Hex != o.SHA256 || mr.SHA256Hex != event.DigestHex(o.SHA256Base64) {
		t.Errorf("sha256_hex = %q, want %q (the hex of Meta's base64 %q)", mr.SHA256Hex, o.SHA256, o.SHA256Base64)
	}
	exp, err := time.Parse(time.RFC3339, mr.URLExpiresAt)
	if err != nil || time.Until(exp) < DefaultURLTTL-time.Hour || time.Until(exp) > DefaultURLTTL+time.Minute {
		t.Errorf("url_expires_at = %q, want about 7 days from now", mr.URLExpiresAt)
	}
	if got := fetch(t, mr.URL); !bytes.Equal(got, content) {
		t.Error("presigned URL does not serve the stored bytes")
	}
}

// A document larger than a part goes through a multipart upload; the
// stored bytes still hash to Meta's sha256, and the file name is kept.
func TestLargeDocumentMultipart(t *testing.T) {
	e := newTestEnv(t)
	o := e.createMedia(t, graphsim.MediaSpec{PhoneNumberID: numberA, MimeType: "application/pdf", Filename: "Relatório anual.pdf", Size: 12<<20 + 7})
	e.enqueue(t, imageJob(o, "wamid.DOC1", KindDocument))
	if e.deliver(t) {
		t.Fatal("media job failed")
	}
	key := "tenants/acme/media/2025/06/08/wamid.DOC1.pdf"
	sum := sha256.Sum256(e.object(t, key))
	if got := hex.EncodeToString(sum[:]); got != o.SHA256 {
		t.Errorf("stored sha256 = %s, want %s", got, o.SHA256)
	}
	head, err := e.s3.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := head.Metadata["filename"], "Relat%C3%B3rio%20anual.pdf"; got != want {
		t.Errorf("filename metadata = %q, want %q", got, want)
	}
	evs := e.coreEvents(t)
	if len(evs) != 1 || evs[0].Media.Filename != "Relatório anual.pdf" || evs[0].Media.Size != 12<<20+7 {
		t.Fatalf("events = %+v", evs)
	}
}

// Whatever type and name the sender declared, the object is served from its
// presigned URL as an attachment with a type from the allow-list: a page or
// an SVG declared as such never renders (and runs its script) inline. The
// event keeps the declared type, on a redelivery too.
func TestStoredAsAttachmentWithSafeType(t *testing.T) {
	e := newTestEnv(t)
	page := []byte("<html><body><script>alert(document.cookie)</script></body></html>")
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
	tests := []struct {
		name, mime, filename string
		content              []byte
		kind, wamid          string
		wantKey, wantType    string
		wantDisposition      string
	}{
		{"html document without a name", "text/html", "", page, KindDocument, "wamid.HTML1",
			"tenants/acme/media/2025/06/08/wamid.HTML1.html", "application/octet-stream",
			`attachment; filename="wamid.HTML1.html"; filename*=UTF-8''wamid.HTML1.html`},
		{"html document named .pdf", "text/html; charset=utf-8", "invoice.pdf", page, KindDocument, "wamid.HTML2",
			"tenants/acme/media/2025/06/08/wamid.HTML2.html", "application/octet-stream",
			`attachment; filename="invoice.pdf"; filename*=UTF-8''invoice.pdf`},
		{"svg document", "image/svg+xml", "logo.svg", svg, KindDocument, "wamid.SVG1",
			"tenants/acme/media/2025/06/08/wamid.SVG1.svg", "application/octet-stream",
			`attachment; filename="logo.svg"; filename*=UTF-8''logo.svg`},
		{"pdf with a path for a name", "application/pdf", "../../x/Relatório.pdf", []byte("%PDF-1.4 test"), KindDocument, "wamid.PDF1",
			"tenants/acme/media/2025/06/08/wamid.PDF1.pdf", "application/pdf",
			`attachment; filename="Relat_rio.pdf"; filename*=UTF-8''Relat%C3%B3rio.pdf`},
		{"image", "image/jpeg", "", randomBytes(t, 2048), KindImage, "wamid.IMG1",
			"tenants/acme/media/2025/06/08/wamid.IMG1.jpg", "image/jpeg",
			`attachment; filename="wamid.IMG1.jpg"; filename*=UTF-8''wamid.IMG1.jpg`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := e.createMedia(t, graphsim.MediaSpec{PhoneNumberID: numberA, MimeType: tt.mime, Filename: tt.filename, Content: tt.content})
			job := imageJob(o, tt.wamid, tt.kind)
			for delivery := 1; delivery <= 2; delivery++ {
				e.enqueue(t, job)
				if e.deliver(t) {
					t.Fatalf("delivery %d failed", delivery)
				}
				head, err := e.s3.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(tt.wantKey)})
				if err != nil {
					t.Fatalf("head %s: %v", tt.wantKey, err)
				}
				if got := aws.ToString(head.ContentType); got != tt.wantType {
					t.Errorf("stored content type = %q, want %q", got, tt.wantType)
				}
				if got := aws.ToString(head.ContentDisposition); got != tt.wantDisposition {
					t.Errorf("stored content disposition = %q, want %q", got, tt.wantDisposition)
				}
				for _, ev := range e.coreEvents(t) {
					if ev.Media.MimeType != tt.mime || ev.Media.Key != tt.wantKey {
						t.Errorf("delivery %d: event media type %q key %q, want the declared %q and %q", delivery, ev.Media.MimeType, ev.Media.Key, tt.mime, tt.wantKey)
					}
					resp, err := http.Get(ev.Media.URL)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					if got := resp.Header.Get("Content-Type"); got != tt.wantType {
						t.Errorf("presigned URL serves Content-Type %q, want %q", got, tt.wantType)
					}
					if got := resp.Header.Get("Content-Disposition"); got != tt.wantDisposition {
						t.Errorf("presigned URL serves Content-Disposition %q, want %q", got, tt.wantDisposition)
					}
				}
			}
		})
	}
}

// A corrupted or truncated body is an error, never a stored file, and the
// retry (the fault gone) stores the right bytes.
func TestBadBodyStoresNothing(t *testing.T) {
	tests := []struct {
		name string
		size int64
		kind string
	}{
		{"corrupt single part", 1 << 20, "corrupt"},
		{"corrupt multipart", 11 << 20, "corrupt"},
		{"truncated single part", 1 << 20, "truncate"},
		{"truncated multipart", 11 << 20, "truncate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			o := e.createMedia(t, graphsim.MediaSpec{PhoneNumberID: numberA, MimeType: "video/mp4", Size: tt.size})
			e.sim.SetMediaFaults(o.ID, graphsim.MediaFault{Target: "download", Kind: tt.kind, Times: 1})
			e.enqueue(t, imageJob(o, "wamid.BAD", KindVideo))

			if !e.deliver(t) {
				t.Fatal("bad body accepted")
			}
			e.noObjects(t, tenantA)
			if evs := e.coreEvents(t); len(evs) != 0 {
				t.Fatalf("core got %s for a bad body", evs[0].Type)
			}

			if e.deliver(t) {
				t.Fatal("retry failed")
			}
			want := simContent(t, e.sim, o.ID)
			if got := e.object(t, "tenants/acme/media/2025/06/08/wamid.BAD.mp4"); !bytes.Equal(got, want) {
				t.Error("stored bytes differ after the retry")
			}
			if evs := e.coreEvents(t); len(evs) != 1 || evs[0].Type != event.TypeMediaReady {
				t.Errorf("events after retry = %v", evs)
			}
		})
	}
}

// The first attempt's URL expires before it is used; the retry asks Meta
// for a fresh one and succeeds.
func TestURLExpiresBetweenRetries(t *testing.T) {
	e := newTestEnv(t)
	o := e.createMedia(t, graphsim.MediaSpec{PhoneNumberID: numberA, MimeType: "audio/ogg; codecs=opus", Size: 300 << 10})
	var urls []string
	e.h.Graph.HTTP = doerFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasPrefix(r.URL.Path, "/_media/download/") {
			urls = append(urls, r.URL.String())
			if len(urls) == 1 {
				e.clock.Advance(graphsim.DefaultMediaURLTTL + time.Second) // the worker was slow
			}
		}
		return http.DefaultClient.Do(r)
	})
	e.enqueue(t, imageJob(o, "wamid.VOICE", KindAudio))

	if !e.deliver(t) {
		t.Fatal("expired URL accepted")
	}
	if got := e.sim.MediaRefused(o.ID); got != 1 {
		t.Fatalf("refused downloads = %d, want 1 (the expired URL)", got)
	}
	if e.deliver(t) {
		t.Fatal("retry failed")
	}
	if len(urls) != 2 || urls[0] == urls[1] {
		t.Fatalf("download URLs = %v, want two different ones", urls)
	}
	if got := e.sim.MediaDownloads(o.ID); got != 1 {
		t.Errorf("downloads = %d, want 1", got)
	}
	if b := e.object(t, "tenants/acme/media/2025/06/08/wamid.VOICE.ogg"); int64(len(b)) != o.Size {
		t.Errorf("stored %d bytes, want %d", len(b), o.Size)
	}
}

// A redelivered job finds the verified object and does not download again;
// it re-reports media_ready with the same event id.
func TestRedeliveryDoesNotDownloadAgain(t *testing.T) {
	e := newTestEnv(t)
	o := e.createMedia(t, graphsim.MediaSpec{PhoneNumberID: numberA, MimeType: "image/png", Size: 64 << 10})
	job := imageJob(o, "wamid.TWICE", KindImage)
	e.enqueue(t, job)
	if e.deliver(t) {
		t.Fatal("first delivery failed")
	}
	first := e.coreEvents(t)
	e.enqueue(t, job)
	if e.deliver(t) {
		t.Fatal("redelivery failed")
	}
	if got := e.sim.MediaDownloads(o.ID); got != 1 {
		t.Errorf("downloads = %d, want 1", got)
	}
	second := e.coreEvents(t)
	// The FIFO queue may drop the second copy as a duplicate (same event id
	// within 5 minutes); if it is delivered it must describe the same object.
	if len(first) != 1 {
		t.Fatalf("first delivery: %d events", len(first))
	}
	for _, ev := range second {
		if ev.EventID != first[0].EventID || ev.Media.Key != first[0].Media.Key || ev.Media.SHA256 != o.SHA256 {
			t.Errorf("redelivery reported %+v, want the same object as %+v", ev.Media, first[0].Media)
		}
	}
}

// Meta's limits are enforced before downloading (file_size) and while
// streaming; oversized or missing media is reported, not retried.
func TestFailuresReportedToCore(t *testing.T) {
	tests := []struct {
		name          string
		spec          graphsim.MediaSpec
		kind          string
		fault         *graphsim.MediaFault
		mediaID       string // overrides the created id
		wantReason    string
		wantCode      string
		wantDownloads int
	}{
		{"image over 5 MB", graphsim.MediaSpec{MimeType: "image/jpeg", Size: 5<<20 + 1}, KindImage, nil, "", event.FailureTooLarge, "size_limit", 0},
		{"audio over 16 MB", graphsim.MediaSpec{MimeType: "audio/mpeg", Size: 16<<20 + 1}, KindAudio, nil, "", event.FailureTooLarge, "size_limit", 0},
		{"sticker over 500 KB", graphsim.MediaSpec{MimeType: "image/webp", Content: webp(501<<10, true)}, KindSticker, nil, "", event.FailureTooLarge, "size_limit", 0},
		{"static sticker over 100 KB", graphsim.MediaSpec{MimeType: "image/webp", Content: webp(150<<10, false)}, KindSticker, nil, "", event.FailureTooLarge, "size_limit", 1},
		{"unknown media id", graphsim.MediaSpec{MimeType: "image/jpeg", Size: 10}, KindImage, nil, "8899999999999", event.FailureNotFound, "100", 0},
		{"Meta cannot download it (131052)", graphsim.MediaSpec{MimeType: "image/jpeg", Size: 10}, KindImage,
			&graphsim.MediaFault{Target: "info", Kind: "status", Status: 400, Code: 131052}, "", event.FailureDownload, "131052", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			tt.spec.PhoneNumberID = numberA
			o := e.createMedia(t, tt.spec)
			if tt.fault != nil {
				e.sim.SetMediaFaults(o.ID, *tt.fault)
			}
			job := imageJob(o, "wamid.FAIL", tt.kind)
			if tt.mediaID != "" {
				job.MediaID = tt.mediaID
			}
			e.enqueue(t, job)
			if e.deliver(t) {
				t.Fatal("job left for retry; want it reported and finished")
			}
			e.noObjects(t, tenantA)
			if got := e.sim.MediaDownloads(o.ID); got != tt.wantDownloads {
				t.Errorf("downloads = %d, want %d", got, tt.wantDownloads)
			}
			evs := e.coreEvents(t)
			if len(evs) != 1 || evs[0].Type != event.TypeMediaFailed {
				t.Fatalf("core events = %v, want one message.media_failed", evs)
			}
			eventtest.ValidateJSON(t, evs[0].Raw)
			if got := evs[0].Media; got.Reason != tt.wantReason || got.Code != tt.wantCode || got.Retryable {
				t.Errorf("failure = %+v, want reason %s code %s, not retryable", got, tt.wantReason, tt.wantCode)
			}
			if got, want := evs[0].Group, "acme:"+numberA+":"+contact; got != want {
				t.Errorf("group = %q, want %q", got, want)
			}
			if n := e.dlqCount(t); n != 0 {
				t.Errorf("%d messages dead-lettered", n)
			}
		})
	}
}

// A download that keeps failing is retried, then reported as retryable
// media_failed before the queue's redrive would dead-letter it silently.
func TestRetriesExhausted(t *testing.T) {
	e := newTestEnv(t)
	e.h.MaxAttempts = 3
	o := e.createMedia(t, graphsim.MediaSpec{PhoneNumberID: numberA, MimeType: "image/jpeg", Size: 1000})
	e.sim.SetMediaFaults(o.ID, graphsim.MediaFault{Target: "download", Kind: "status", Status: 503})
	e.enqueue(t, imageJob(o, "wamid.FLAKY", KindImage))

	for attempt := 1; attempt < 3; attempt++ {
		if !e.deliver(t) {
			t.Fatalf("attempt %d finished; want a retry", attempt)
		}
		if evs := e.coreEvents(t); len(evs) != 0 {
			t.Fatalf("attempt %d reported %s", attempt, evs[0].Type)
		}
	}
	if e.deliver(t) {
		t.Fatal("last attempt left for retry")
	}
	evs := e.coreEvents(t)
	if len(evs) != 1 || evs[0].Type != event.TypeMediaFailed {
		t.Fatalf("events = %v, want one media_failed", evs)
	}
	if got := evs[0].Media; got.Reason != event.FailureDownload || got.Code != "http_503" && got.Code != "2" || !got.Retryable {
		t.Errorf("failure = %+v, want download_failed, retryable", got)
	}
}

// A job whose number belongs to another tenant is never run with either
// tenant's token: it is dead-lettered, and nothing reaches the core.
func TestTenantMismatchDeadLettered(t *testing.T) {
	e := newTestEnv(t)
	o := e.createMedia(t, graphsim.MediaSpec{PhoneNumberID: numberA, MimeType: "image/jpeg", Size: 1000})
	var graphCalls int
	e.h.Graph.HTTP = doerFunc(func(r *http.Request) (*http.Response, error) {
		graphCalls++
		return http.DefaultClient.Do(r)
	})
	job := imageJob(o, "wamid.X", KindImage)
	job.TenantID = tenantB // claims tenant B, but the number is A's
	e.enqueue(t, job)
	if e.deliver(t) {
		t.Fatal("record left for retry; want dead-lettered")
	}
	if graphCalls != 0 {
		t.Errorf("%d Graph calls made", graphCalls)
	}
	if n := e.dlqCount(t); n != 1 {
		t.Errorf("DLQ holds %d messages, want 1", n)
	}
	if evs := e.coreEvents(t); len(evs) != 0 {
		t.Errorf("core got %v", evs)
	}
	e.noObjects(t, tenantA)
	e.noObjects(t, tenantB)
}

func TestInvalidJobDeadLettered(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"not JSON", `{"tenant_id":`},
		{"no media id", `{"tenant_id":"acme","phone_number_id":"` + numberA + `","message_id":"wamid.A","kind":"image"}`},
		{"unknown kind", `{"tenant_id":"acme","phone_number_id":"` + numberA + `","message_id":"wamid.A","media_id":"1","kind":"location"}`},
		{"tenant id with a slash", `{"tenant_id":"acme/../other","phone_number_id":"` + numberA + `","message_id":"wamid.A","media_id":"1","kind":"image"}`},
		{"tenant id past the rule's 64 characters", `{"tenant_id":"` + strings.Repeat("t", 65) + `","phone_number_id":"` + numberA + `","message_id":"wamid.A","media_id":"1","kind":"image"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			if err := (queue.Publisher{API: e.sqs}).Publish(e.ctx, e.mediaQ, queue.Message{Body: tt.body}); err != nil {
				t.Fatal(err)
			}
			if e.deliver(t) {
				t.Fatal("record left for retry; want dead-lettered")
			}
			if n := e.dlqCount(t); n != 1 {
				t.Errorf("DLQ holds %d messages, want 1", n)
			}
		})
	}
}

// The presigned URL's stated expiry is cut short by credentials that
// expire sooner (a Lambda role's).
func TestURLExpiryBoundedByCredentials(t *testing.T) {
	e := newTestEnv(t)
	credsExpire := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	e.h.Credentials = aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local", CanExpire: true, Expires: credsExpire}, nil
	})
	o := e.createMedia(t, graphsim.MediaSpec{PhoneNumberID: numberA, MimeType: "image/jpeg", Size: 1000})
	e.enqueue(t, imageJob(o, "wamid.CREDS", KindImage))
	if e.deliver(t) {
		t.Fatal("job failed")
	}
	evs := e.coreEvents(t)
	if len(evs) != 1 {
		t.Fatalf("events = %v", evs)
	}
	if got, want := evs[0].Media.URLExpiresAt, credsExpire.UTC().Format(time.RFC3339); got != want {
		t.Errorf("url_expires_at = %s, want %s", got, want)
	}
}

func TestSetupEnvironment(t *testing.T) {
	base := map[string]string{
		"TENANTS_TABLE": "t", "DATA_BUCKET": "b", "CORE_EVENTS_QUEUE_URL": "c.fifo", "MEDIA_QUEUE_URL": "m", "MEDIA_DLQ_URL": "d",
	}
	tests := []struct {
		name    string
		set     map[string]string
		wantTTL time.Duration
		wantErr bool
	}{
		{"defaults", nil, DefaultURLTTL, false},
		{"ttl as duration", map[string]string{"MEDIA_URL_TTL": "24h"}, 24 * time.Hour, false},
		{"ttl in seconds", map[string]string{"MEDIA_URL_TTL": "3600"}, time.Hour, false},
		{"ttl over 7 days", map[string]string{"MEDIA_URL_TTL": "169h"}, 0, true},
		{"attempts at maxReceiveCount", map[string]string{"MEDIA_MAX_ATTEMPTS": "8"}, 0, true},
		{"missing bucket", map[string]string{"DATA_BUCKET": ""}, 0, true},
		{"media hosts", map[string]string{"GRAPH_MEDIA_HOSTS": "fbsbx.com, media.example"}, DefaultURLTTL, false},
		{"media host with a scheme", map[string]string{"GRAPH_MEDIA_HOSTS": "https://fbsbx.com"}, 0, true},
		{"media host without a dot", map[string]string{"GRAPH_MEDIA_HOSTS": "com"}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if v, ok := tt.set[k]; ok {
					return v
				}
				return base[k]
			}
			h, err := Setup(context.Background(), getenv, aws.Config{Region: "us-east-1"})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Setup error = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && h.URLTTL != tt.wantTTL {
				t.Errorf("URLTTL = %s, want %s", h.URLTTL, tt.wantTTL)
			}
			if want := tt.set["GRAPH_MEDIA_HOSTS"]; err == nil && want != "" && strings.Join(h.Graph.MediaHosts, ", ") != want {
				t.Errorf("MediaHosts = %q, want %q", h.Graph.MediaHosts, want)
			}
		})
	}
}
