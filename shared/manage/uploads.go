package manage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tucanlink/wacloud/shared/media"
	"github.com/tucanlink/wacloud/shared/strictjson"
)

// Presigner signs S3 requests for someone else to make, with the
// function's credentials; *s3.PresignClient satisfies it. It makes no
// call to AWS; an error means the request could not be signed.
type Presigner interface {
	PresignPutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

// DefaultUploadTTL is how long an upload URL is valid unless
// UPLOAD_URL_TTL says otherwise.
const DefaultUploadTTL = 15 * time.Minute

// MaxUploadTTL is the longest UPLOAD_URL_TTL (SigV4 presigned URLs last at
// most 7 days; an upload URL is for a file about to be sent).
const MaxUploadTTL = time.Hour

// Codes of the media uploads route.
const (
	CodeInvalidUpload = "invalid_upload" // kind, content type or size not sendable
)

// UploadRequest asks for a URL to upload one file the tenant will send:
// the kind of message it is for, its content type and exact size, which
// the URL is signed for (S3 refuses a PUT with other values).
type UploadRequest struct {
	Kind          string `json:"kind"`
	ContentType   string `json:"content_type"`
	ContentLength int64  `json:"content_length"`
}

// Upload is a presigned S3 PUT and the reference to send it by.
type Upload struct {
	// URL takes one PUT of the file's bytes before ExpiresAt, with
	// exactly Headers.
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
	// S3URI is the reference a job gives as the media's link.
	S3URI     string `json:"s3_uri"`
	ExpiresAt string `json:"expires_at"` // RFC 3339, UTC
}

func (h *Handler) uploadRoutes() []Route {
	return []Route{
		{Method: http.MethodPost, Path: "/v1/tenants/{tenant_id}/media-uploads", Serve: h.createUpload},
	}
}

// createUpload signs a PUT of one file under
// tenants/{tenant_id}/outbound/ in the data bucket, for the content type
// and size given (those Meta accepts for the kind). With an
// Idempotency-Key the object's name comes from it, so a retried request
// names the same object (with a fresh URL); without one it is random.
func (h *Handler) createUpload(ctx context.Context, r *Request) (Response, *Error) {
	var in UploadRequest
	if err := strictjson.Unmarshal(r.Body, &in); err != nil {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidJSON, "the body must be {\"kind\",\"content_type\",\"content_length\"}", problem(err))
	}
	if problems := checkUpload(in); len(problems) > 0 {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidUpload, "the file cannot be sent as WhatsApp media", problems...)
	}
	id, err := objectID(r.Tenant, r.Header("Idempotency-Key"))
	if err != nil {
		r.Log.ErrorContext(ctx, "make an object id", "error", err.Error())
		return Response{}, unavailable()
	}
	contentType := strings.ToLower(strings.TrimSpace(strings.Split(in.ContentType, ";")[0]))
	key := media.TenantPrefix(r.Tenant) + "outbound/" + id + media.Extension(contentType, "")
	ttl := h.uploadTTL()
	req, err := h.Presign.PresignPutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(h.Bucket), Key: aws.String(key),
		ContentType: aws.String(contentType), ContentLength: aws.Int64(in.ContentLength),
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		r.Log.ErrorContext(ctx, "presign upload", "key", key, "error", err.Error())
		return Response{}, unavailable()
	}
	expires := h.now().Add(ttl)
	// A URL signed with temporary credentials dies with them.
	if h.Credentials != nil {
		if c, err := h.Credentials.Retrieve(ctx); err == nil && c.CanExpire && c.Expires.Before(expires) {
			expires = c.Expires
		}
	}
	headers := map[string]string{}
	for k, vs := range req.SignedHeader {
		if !strings.EqualFold(k, "Host") && len(vs) > 0 {
			headers[http.CanonicalHeaderKey(k)] = strings.Join(vs, ",")
		}
	}
	r.Log.InfoContext(ctx, "upload URL signed", "key", key, "kind", in.Kind, "bytes", in.ContentLength)
	return Response{Status: http.StatusOK, Body: Upload{
		URL: req.URL, Method: req.Method, Headers: headers,
		S3URI: "s3://" + h.Bucket + "/" + key, ExpiresAt: expires.UTC().Format(time.RFC3339),
	}}, nil
}

// checkUpload lists what makes a file unsendable: an unknown kind, a
// content type Meta does not take for it, a size of 0 or over Meta's
// limit for the kind.
func checkUpload(in UploadRequest) []string {
	limit, ok := media.Limit(in.Kind)
	if !ok {
		return []string{fmt.Sprintf("kind must be one of %s, %s, %s, %s, %s", media.KindImage, media.KindVideo, media.KindAudio, media.KindDocument, media.KindSticker)}
	}
	var out []string
	if !media.Sendable(in.Kind, in.ContentType) {
		out = append(out, fmt.Sprintf("content_type must be one of %s for %s", strings.Join(media.SendableTypes(in.Kind), ", "), in.Kind))
	}
	switch {
	case in.ContentLength <= 0:
		out = append(out, "content_length must be the file's size in bytes (at least 1)")
	case in.ContentLength > limit:
		out = append(out, fmt.Sprintf("content_length %d is over Meta's limit for %s, %d bytes", in.ContentLength, in.Kind, limit))
	}
	return out
}

// objectID names the object: from the Idempotency-Key (hashed with the
// tenant, so keys of two tenants never meet) or at random.
func objectID(tenantID, idempotencyKey string) (string, error) {
	if idempotencyKey != "" {
		sum := sha256.Sum256([]byte(tenantID + "\x00" + idempotencyKey))
		return hex.EncodeToString(sum[:16]), nil
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func (h *Handler) uploadTTL() time.Duration {
	if h.UploadTTL > 0 {
		return h.UploadTTL
	}
	return DefaultUploadTTL
}
