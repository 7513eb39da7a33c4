package media

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// Registry is the part of tenant.Registry the media function uses.
type Registry interface {
	Tenant(ctx context.Context, id string) (tenant.Tenant, error)
	Number(ctx context.Context, phoneNumberID string) (tenant.Number, error)
}

// Vault is the part of tenant.Vault the media function uses. Credentials
// errors never contain secret values.
type Vault interface {
	Credentials(ctx context.Context, secretID string) (tenant.Credentials, error)
	Invalidate(secretID string)
}

// ObjectAPI is the part of the S3 client the media function uses: the
// uploader's calls plus HeadObject (idempotency) and DeleteObject (cleanup).
type ObjectAPI interface {
	manager.UploadAPIClient
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// Presigner signs GET URLs; *s3.PresignClient satisfies it.
type Presigner interface {
	PresignGetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

// Defaults of the media function.
const (
	// DefaultURLTTL is how long the presigned GET URL in media_ready is
	// valid: 7 days, the most SigV4 allows. It is also cut short by the
	// expiry of the credentials that sign it (see Handler.URLTTL).
	DefaultURLTTL = 7 * 24 * time.Hour
	maxURLTTL     = 7 * 24 * time.Hour
	// DefaultMaxAttempts is the receive count at which a transiently failing
	// job is reported as media_failed (retryable) instead of retried; it
	// stays below MediaQueue's maxReceiveCount (8) so that the core hears
	// about it before the message would go to the DLQ.
	DefaultMaxAttempts = 6
	// DefaultPartSize bounds memory: the uploader holds Concurrency+1 parts.
	DefaultPartSize    = manager.MinUploadPartSize // 5 MiB
	DefaultConcurrency = 2
)

// Handler is the media function: one queue.MediaJob per SQS record.
type Handler struct {
	Registry Registry
	Vault    Vault
	Graph    *graph.Client
	S3       ObjectAPI
	Presign  Presigner
	SQS      queue.ConsumeAPI

	Bucket        string
	CoreEventsURL string
	QueueURL      string
	DLQURL        string

	// URLTTL is the lifetime of presigned URLs (default and maximum 7 days).
	// A URL signed with temporary credentials (a Lambda role) stops working
	// when they expire; Credentials, when set, lets the event state the
	// earlier of the two.
	URLTTL      time.Duration
	Credentials aws.CredentialsProvider

	MaxAttempts int
	PartSize    int64
	Concurrency int
	Backoff     queue.Backoff

	Now     func() time.Time
	Log     *slog.Logger
	Metrics *metrics.Recorder
}

// Handle processes an SQS batch of media jobs.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	c := queue.Consumer{
		API: h.SQS, QueueURL: h.QueueURL, DLQURL: h.DLQURL, Backoff: h.backoff(), Log: h.log(),
		Handle: h.handleRecord,
	}
	return c.Run(ctx, ev)
}

// failure is an outcome the core is told about as message.media_failed.
type failure struct {
	reason string
	code   string
	err    error
}

func (f *failure) Error() string { return f.reason + ": " + f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func fail(reason, code string, err error) error {
	return &failure{reason: reason, code: code, err: err}
}

func (h *Handler) handleRecord(ctx context.Context, rec events.SQSMessage) error {
	var job queue.MediaJob
	if err := json.Unmarshal([]byte(rec.Body), &job); err != nil {
		return fault.Invalidf("decode media job: %v", err)
	}
	if err := validateJob(job); err != nil {
		return err
	}
	log := h.log().With("tenant_id", job.TenantID, "phone_number_id", job.PhoneNumberID,
		"wamid", job.MessageID, "media_id", job.MediaID, "job_id", rec.MessageId)
	attempt, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])

	start := h.now()
	res, downloaded, err := h.store(ctx, job, rec)
	if err == nil {
		if err := h.publish(ctx, job, event.TypeMediaReady, res); err != nil {
			return err
		}
		log.InfoContext(ctx, "media ready", "key", res.Key, "size", res.Size, "downloaded", downloaded,
			"duration_ms", h.now().Sub(start).Milliseconds())
		h.Metrics.Count("MediaReady", 1)
		if downloaded {
			h.Metrics.Emit("MediaBytes", float64(res.Size), metrics.Bytes)
		}
		return nil
	}

	var f *failure
	isFailure := errors.As(err, &f)
	class := fault.ClassOf(err)
	switch {
	case isFailure && class == fault.Permanent:
		// Meta will never serve this file; the core must know, retrying is pointless.
	case class == fault.Retry && attempt >= h.maxAttempts():
		if !isFailure {
			f = &failure{reason: event.FailureUnavailable, code: fault.CodeOf(err), err: err}
		}
		log.WarnContext(ctx, "media retries exhausted", "attempt", attempt, "error", err.Error())
	default:
		return err // retried with backoff, or dead-lettered with its reason
	}
	res = event.MediaResult{
		MessageID: job.MessageID, MediaID: job.MediaID, Kind: job.Kind,
		Reason: f.reason, Code: f.code, Detail: f.err.Error(), Retryable: class == fault.Retry,
	}
	if err := h.publish(ctx, job, event.TypeMediaFailed, res); err != nil {
		return err
	}
	log.WarnContext(ctx, "media failed", "reason", f.reason, "code", f.code, "retryable", res.Retryable, "error", err.Error())
	h.Metrics.Count("MediaFailed", 1, "Reason", f.reason)
	return nil
}

func validateJob(job queue.MediaJob) error {
	switch {
	case !tenant.ValidID(job.TenantID):
		return fault.Invalidf("media job: invalid tenant_id %q", job.TenantID)
	case job.PhoneNumberID == "", job.MessageID == "", job.MediaID == "":
		return fault.Invalidf("media job: phone_number_id, message_id and media_id are required")
	}
	if _, ok := Limit(job.Kind); !ok {
		return fault.Invalidf("media job: unknown kind %q", job.Kind)
	}
	return nil
}

// store makes sure the job's file is in S3 and returns where. downloaded is
// false when an earlier delivery had already stored it.
func (h *Handler) store(ctx context.Context, job queue.MediaJob, rec events.SQSMessage) (res event.MediaResult, downloaded bool, err error) {
	t, err := h.Registry.Tenant(ctx, job.TenantID)
	if err != nil {
		if errors.Is(err, tenant.ErrNotFound) {
			return res, false, fault.PermanentErr(fmt.Errorf("media job: %w", err))
		}
		return res, false, err
	}
	n, err := h.Registry.Number(ctx, job.PhoneNumberID)
	if err != nil {
		if errors.Is(err, tenant.ErrNotFound) {
			return res, false, fault.PermanentErr(fmt.Errorf("media job: %w", err))
		}
		return res, false, err
	}
	if n.TenantID != job.TenantID {
		// Never use one tenant's token for another tenant's number.
		return res, false, fault.Permanentf("media job: phone number %s does not belong to tenant %s", job.PhoneNumberID, job.TenantID)
	}

	day := jobTime(job, rec, h.now())
	webhookDigest := ParseDigest(job.SHA256)
	if job.MimeType != "" {
		key := ObjectKey(job.TenantID, day, job.MessageID, Extension(job.MimeType, job.Filename))
		if res, ok, err := h.existing(ctx, job, key, webhookDigest); err != nil || ok {
			return res, false, err
		}
	}

	creds, err := h.Vault.Credentials(ctx, t.SecretID)
	if err != nil {
		return res, false, fmt.Errorf("media %s: credentials: %w", job.MediaID, err)
	}
	info, err := h.Graph.MediaInfo(ctx, creds.AccessToken, job.MediaID)
	if err != nil {
		return res, false, h.graphFailure(err, t.SecretID, "look up media "+job.MediaID)
	}
	mimeType := job.MimeType
	if mimeType == "" {
		mimeType = info.MimeType
	}
	limit, _ := Limit(job.Kind)
	if int64(info.FileSize) > limit {
		return res, false, fail(event.FailureTooLarge, "size_limit", fault.Permanentf("%s of %d bytes exceeds Meta's limit of %d", job.Kind, info.FileSize, limit))
	}
	digest := ParseDigest(info.SHA256)
	if digest == nil {
		digest = webhookDigest
	}
	key := ObjectKey(job.TenantID, day, job.MessageID, Extension(mimeType, job.Filename))
	if job.MimeType == "" {
		if res, ok, err := h.existing(ctx, job, key, digest); err != nil || ok {
			return res, false, err
		}
	}

	body, size, err := h.Graph.Download(ctx, creds.AccessToken, info.URL)
	if err != nil {
		return res, false, h.downloadFailure(err, t.SecretID)
	}
	defer body.Close()
	if size > limit {
		return res, false, fail(event.FailureTooLarge, "size_limit", fault.Permanentf("%s download of %d bytes exceeds Meta's limit of %d", job.Kind, size, limit))
	}
	v := newVerifyingReader(body, job.Kind, limit, int64(info.FileSize), digest)
	meta := map[string]string{"media-id": job.MediaID, "kind": job.Kind}
	if digest != nil {
		// The object completes only if the bytes match, so this is also the
		// stored file's hash; redeliveries compare against it.
		meta["sha256"] = hex.EncodeToString(digest)
	}
	// The sender chose the declared type and the file name: the object is
	// served from presigned URLs with a type from the allow-list and always
	// as an attachment, so nothing it holds renders in the reader's browser.
	// The declared type is kept in metadata for the event.
	meta["mime-type"] = url.PathEscape(mimeType) // S3 metadata must be ASCII
	in := &s3.PutObjectInput{
		Bucket:               aws.String(h.Bucket),
		Key:                  aws.String(key),
		Body:                 v,
		ContentType:          aws.String(StoredContentType(mimeType)),
		ContentDisposition:   aws.String(ContentDisposition(job.Filename, path.Base(key))),
		ServerSideEncryption: s3types.ServerSideEncryptionAes256,
		Metadata:             meta,
	}
	if job.Filename != "" {
		meta["filename"] = url.PathEscape(job.Filename)
	}
	up := manager.NewUploader(h.S3, func(u *manager.Uploader) {
		u.PartSize = h.partSize()
		u.Concurrency = h.concurrency()
	})
	if _, err := up.Upload(ctx, in); err != nil {
		return res, false, uploadFailure(job, err)
	}
	if !v.verified {
		// The uploader completed without the reader reaching a verified end;
		// never leave an unverified object behind.
		_, _ = h.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(h.Bucket), Key: aws.String(key)})
		return res, false, fault.Retryable(fmt.Errorf("store media %s: upload ended before the body was verified", job.MediaID))
	}
	if digest == nil {
		// Nothing to check against, and no sha256 metadata: a redelivery
		// downloads again (and overwrites with the same bytes).
		h.log().WarnContext(ctx, "media stored without a sha256 from Meta to check", "tenant_id", job.TenantID, "wamid", job.MessageID)
	}
	res = event.MediaResult{
		MessageID: job.MessageID, MediaID: job.MediaID, Kind: job.Kind,
		Bucket: h.Bucket, Key: key, Size: v.n, SHA256: v.SHA256(), MimeType: mimeType, Filename: job.Filename,
	}
	if err := h.sign(ctx, &res); err != nil {
		return res, true, err
	}
	return res, true, nil
}

// existing returns the stored object's result when an earlier delivery of
// the job already stored it with a matching sha256. Objects only exist once
// verified, so a present sha256 metadata entry means a complete file.
func (h *Handler) existing(ctx context.Context, job queue.MediaJob, key string, want []byte) (event.MediaResult, bool, error) {
	out, err := h.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(h.Bucket), Key: aws.String(key)})
	if err != nil {
		if isNotFound(err) {
			return event.MediaResult{}, false, nil
		}
		return event.MediaResult{}, false, fault.Retryable(fmt.Errorf("head %s: %w", key, err))
	}
	stored := ParseDigest(out.Metadata["sha256"])
	if stored == nil || (want != nil && hex.EncodeToString(stored) != hex.EncodeToString(want)) {
		return event.MediaResult{}, false, nil
	}
	filename := job.Filename
	if f, err := url.PathUnescape(out.Metadata["filename"]); err == nil && f != "" {
		filename = f
	}
	mimeType := aws.ToString(out.ContentType)
	if m, err := url.PathUnescape(out.Metadata["mime-type"]); err == nil && m != "" {
		mimeType = m
	}
	res := event.MediaResult{
		MessageID: job.MessageID, MediaID: job.MediaID, Kind: job.Kind,
		Bucket: h.Bucket, Key: key, Size: aws.ToInt64(out.ContentLength), SHA256: hex.EncodeToString(stored),
		MimeType: mimeType, Filename: filename,
	}
	if err := h.sign(ctx, &res); err != nil {
		return res, false, err
	}
	return res, true, nil
}

func (h *Handler) sign(ctx context.Context, res *event.MediaResult) error {
	ttl := h.urlTTL()
	req, err := h.Presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(res.Bucket), Key: aws.String(res.Key)},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return fault.Retryable(fmt.Errorf("presign %s: %w", res.Key, err))
	}
	expires := h.now().Add(ttl)
	if h.Credentials != nil {
		if c, err := h.Credentials.Retrieve(ctx); err == nil && c.CanExpire && c.Expires.Before(expires) {
			expires = c.Expires
		}
	}
	res.URL = req.URL
	res.URLExpiresAt = expires.UTC().Format(time.RFC3339)
	return nil
}

func (h *Handler) publish(ctx context.Context, job queue.MediaJob, typ string, res event.MediaResult) error {
	res.SHA256Hex = event.DigestHex(res.SHA256)
	ev := event.Event{
		SchemaVersion: event.SchemaVersion,
		EventID:       event.MediaEventID(typ, job.TenantID, job.PhoneNumberID, job.MessageID, job.MediaID),
		Type:          typ,
		TenantID:      job.TenantID,
		PhoneNumberID: job.PhoneNumberID,
		WABAID:        job.WABAID,
		OccurredAt:    h.now().UTC().Format(time.RFC3339),
		Media:         &res,
	}
	if id := job.ContactWaID; id != "" {
		// Same contact as the message event, so the same FIFO group. The
		// inbound function puts the business-scoped user id here when Meta
		// gave no phone number; either yields the same OrderKey.
		if strings.Trim(id, "0123456789") == "" {
			ev.Contact = &event.Contact{WaID: id}
		} else {
			ev.Contact = &event.Contact{UserID: id}
		}
	}
	m, err := queue.EventMessage(ev)
	if err != nil {
		return fault.PermanentErr(err)
	}
	if err := (queue.Publisher{API: h.SQS}).Publish(ctx, h.CoreEventsURL, m); err != nil {
		return fault.Retryable(fmt.Errorf("report %s for %s: %w", typ, job.MessageID, err))
	}
	return nil
}

// graphFailure classifies a failed GET /{media-id}.
func (h *Handler) graphFailure(err error, secretID, op string) error {
	ge, ok := graph.AsError(err)
	if !ok {
		return fmt.Errorf("%s: %w", op, err)
	}
	code := ge.CodeString()
	switch {
	case ge.Code == graph.CodeInvalidToken || ge.HTTPStatus == http.StatusUnauthorized:
		// The tenant may have rotated its token: read the secret again next time.
		h.Vault.Invalidate(secretID)
		return fail(event.FailureUnauthorized, code, fault.Retryable(fmt.Errorf("%s: %w", op, err)))
	case ge.Code == graph.CodeMediaDownload:
		return fail(event.FailureDownload, code, fault.PermanentErr(fmt.Errorf("%s: %w", op, err)))
	case ge.HTTPStatus == http.StatusNotFound, ge.Code == 100 && (ge.Subcode == 33 || ge.HTTPStatus < 500):
		// Unknown, deleted or expired media id (webhook ids live 7 days).
		return fail(event.FailureNotFound, code, fault.PermanentErr(fmt.Errorf("%s: %w", op, err)))
	case graph.Classify(ge) == fault.Retry:
		return fail(event.FailureUnavailable, code, fault.Retryable(fmt.Errorf("%s: %w", op, err)))
	}
	return fail(event.FailureDownload, code, fault.PermanentErr(fmt.Errorf("%s: %w", op, err)))
}

// downloadFailure classifies a failed download. Every status is retried:
// the URL was fresh a moment ago, so a 403/404 most likely means it expired
// (or a CDN hiccup), and the next attempt asks Meta for a new one. If the
// media is really gone, that lookup says so.
func (h *Handler) downloadFailure(err error, secretID string) error {
	ge, ok := graph.AsError(err)
	if !ok {
		return fail(event.FailureDownload, "", fmt.Errorf("download media: %w", err))
	}
	if ge.Code == graph.CodeInvalidToken || ge.HTTPStatus == http.StatusUnauthorized {
		h.Vault.Invalidate(secretID)
	}
	return fail(event.FailureDownload, ge.CodeString(), fault.Retryable(fmt.Errorf("download media: %w", err)))
}

func uploadFailure(job queue.MediaJob, err error) error {
	op := fmt.Sprintf("store media %s", job.MediaID)
	switch {
	case errors.Is(err, errTooLarge):
		return fail(event.FailureTooLarge, "size_limit", fault.PermanentErr(fmt.Errorf("%s: %w", op, err)))
	case errors.Is(err, errChecksumMismatch):
		return fail(event.FailureChecksumMismatch, "", fault.Retryable(fmt.Errorf("%s: %w", op, err)))
	case errors.Is(err, errSizeMismatch):
		return fail(event.FailureDownload, "truncated", fault.Retryable(fmt.Errorf("%s: %w", op, err)))
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fail(event.FailureUnavailable, ae.ErrorCode(), fault.Retryable(fmt.Errorf("%s: %w", op, err)))
	}
	// Body read errors (connection cut, unexpected EOF) and the rest.
	return fail(event.FailureDownload, "", fault.Retryable(fmt.Errorf("%s: %w", op, err)))
}

// jobTime dates the object key. It must be the same on every delivery of a
// job, so it comes from the message, else from when the job was queued.
func jobTime(job queue.MediaJob, rec events.SQSMessage, now time.Time) time.Time {
	if t, err := time.Parse(time.RFC3339, job.OccurredAt); err == nil {
		return t
	}
	if ms, err := strconv.ParseInt(rec.Attributes["SentTimestamp"], 10, 64); err == nil && ms > 0 {
		return time.UnixMilli(ms)
	}
	return now
}

// ContentDisposition is the Content-Disposition every inbound object is
// stored with: always an attachment, named by the sender's file name made
// safe (no directories, no control characters, at most 200 bytes), else by
// fallback (the object's own name). RFC 6266: a quoted ASCII name for old
// clients and an RFC 8187 UTF-8 name.
func ContentDisposition(filename, fallback string) string {
	name := safeFilename(filename)
	if name == "" {
		name = safeFilename(fallback)
	}
	if name == "" {
		return "attachment"
	}
	return `attachment; filename="` + asciiFallback(name) + `"; filename*=UTF-8''` + extValue(name)
}

// safeFilename keeps the last path element of name, without control
// characters and leading dots or spaces, cut to 200 bytes on a rune
// boundary.
func safeFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		if r == utf8.RuneError || unicode.IsControl(r) || r == 0x7f {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > 200 {
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimLeft(strings.TrimSpace(b.String()), ". ")
}

func asciiFallback(s string) string {
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

// extValue percent-encodes s as an RFC 8187 value: every byte but
// attr-char (letters, digits and !#$&+-.^_`|~).
func extValue(s string) string {
	const attr = "!#$&+-.^_`|~"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(attr, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func isNotFound(err error) bool {
	var nf *s3types.NotFound
	var nk *s3types.NoSuchKey
	if errors.As(err, &nf) || errors.As(err, &nk) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "NotFound" || ae.ErrorCode() == "NoSuchKey")
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func (h *Handler) urlTTL() time.Duration {
	if h.URLTTL <= 0 || h.URLTTL > maxURLTTL {
		return DefaultURLTTL
	}
	return h.URLTTL
}

func (h *Handler) maxAttempts() int {
	if h.MaxAttempts <= 0 {
		return DefaultMaxAttempts
	}
	return h.MaxAttempts
}

func (h *Handler) partSize() int64 {
	if h.PartSize < manager.MinUploadPartSize {
		return DefaultPartSize
	}
	return h.PartSize
}

func (h *Handler) concurrency() int {
	if h.Concurrency <= 0 {
		return DefaultConcurrency
	}
	return h.Concurrency
}

func (h *Handler) backoff() queue.Backoff {
	if h.Backoff != nil {
		return h.Backoff
	}
	// Meta keeps webhook media for 7 days; spreading six attempts over about
	// half an hour rides out Graph or S3 incidents without hurrying.
	return queue.Exponential(30*time.Second, 15*time.Minute)
}
