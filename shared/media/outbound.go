package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// ErrOutsideTenant is wrapped by Resolve when a reference points outside the
// job's tenant prefix or data bucket.
var ErrOutsideTenant = errors.New("media reference outside the tenant's prefix")

// SourceAPI is the part of the S3 client OutboundResolver uses.
type SourceAPI interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// CacheAPI is the part of the DynamoDB client OutboundResolver uses.
type CacheAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Outbound defaults.
const (
	// DefaultLinkTTL is the life of a presigned link given to Meta. Meta
	// fetches the link while it processes the send, within seconds.
	DefaultLinkTTL = time.Hour
	// UploadedIDTTL is how long an uploaded media id is reused: Meta keeps
	// uploads 30 days; a day's margin keeps a cached id from expiring
	// between the cache read and Meta's use of it.
	UploadedIDTTL = 29 * 24 * time.Hour
	// LargeDocument is the size from which a document is uploaded rather
	// than linked.
	LargeDocument = 5 * mb
)

// OutboundResolver turns an outbound job's s3://bucket/key media reference
// into a Graph send's media object: a presigned link or an uploaded media
// id. It is safe for concurrent use.
//
// Choice per kind:
//   - image, audio, video: presigned link. At most 16 MB, fetched by Meta
//     once while it handles the send; no upload round trip, no bytes through
//     the function.
//   - document: link up to LargeDocument, upload above. Meta's link fetcher
//     has a bounded download time, and a failure only comes back later as a
//     131053 status; an upload fails (or succeeds) synchronously, and the id
//     is reused for 30 days (large files such as catalogues are typically
//     sent to many contacts).
//   - sticker: upload. Stickers are tiny, Meta validates them strictly (WebP,
//     size), and the same few stickers are sent again and again, so the
//     cached id makes every later send free.
//
// Uploaded ids are cached in the state table under
// mediaid#{phone_number_id}#{bucket}/{key}#{etag}: a changed object (new
// ETag) is uploaded again, and an id is never used by another number.
type OutboundResolver struct {
	S3         SourceAPI
	Presign    Presigner
	Cache      CacheAPI
	Graph      *graph.Client
	Bucket     string // DATA_BUCKET: the only bucket references may use
	StateTable string
	LinkTTL    time.Duration
	Now        func() time.Time
	Log        *slog.Logger
}

// Resolve returns either a media id (uploaded) or a link (presigned) for the
// object at s3URI. Errors: a reference outside tenants/{tenantID}/ of the
// data bucket, a missing object or one over Meta's size limit are
// fault.Permanent (ErrOutsideTenant for the first); S3 and DynamoDB outages
// are fault.Retry; upload failures carry the Graph error's class.
func (o *OutboundResolver) Resolve(ctx context.Context, tenantID, phoneNumberID, accessToken, kind, s3URI string) (mediaID, link string, err error) {
	bucket, key, err := o.ParseRef(tenantID, s3URI)
	if err != nil {
		return "", "", err
	}
	limit, ok := Limit(kind)
	if !ok {
		return "", "", fault.Invalidf("resolve media: unknown kind %q", kind)
	}
	head, err := o.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		if isNotFound(err) {
			return "", "", fault.Permanentf("resolve media s3://%s/%s: object not found", bucket, key)
		}
		return "", "", fault.Retryable(fmt.Errorf("resolve media s3://%s/%s: %w", bucket, key, err))
	}
	size := aws.ToInt64(head.ContentLength)
	if size > limit {
		return "", "", fault.Permanentf("resolve media s3://%s/%s: %s of %d bytes exceeds Meta's limit of %d", bucket, key, kind, size, limit)
	}
	if kind == KindSticker && size > LimitStickerStatic {
		animated, err := o.stickerAnimated(ctx, bucket, key)
		if err != nil {
			return "", "", err
		}
		if !animated {
			return "", "", fault.Permanentf("resolve media s3://%s/%s: static sticker of %d bytes exceeds Meta's limit of %d", bucket, key, size, LimitStickerStatic)
		}
	}

	if !uploadKind(kind, size) {
		req, err := o.Presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)},
			s3.WithPresignExpires(o.linkTTL()))
		if err != nil {
			return "", "", fault.Retryable(fmt.Errorf("resolve media s3://%s/%s: presign: %w", bucket, key, err))
		}
		return "", req.URL, nil
	}

	etag := strings.Trim(aws.ToString(head.ETag), `"`)
	pk := "mediaid#" + phoneNumberID + "#" + bucket + "/" + key + "#" + etag
	if id, err := o.cached(ctx, pk, tenantID); err != nil || id != "" {
		return id, "", err
	}
	obj, err := o.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), IfMatch: head.ETag})
	if err != nil {
		return "", "", fault.Retryable(fmt.Errorf("resolve media s3://%s/%s: read: %w", bucket, key, err))
	}
	defer obj.Body.Close()
	mimeType := aws.ToString(head.ContentType)
	if mimeType == "" || mimeType == "binary/octet-stream" || mimeType == "application/octet-stream" {
		if t := mime.TypeByExtension(path.Ext(key)); t != "" {
			mimeType = t
		}
	}
	// Never send more than we checked with HeadObject.
	id, err := o.Graph.UploadMedia(ctx, accessToken, phoneNumberID, mimeType, path.Base(key), io.LimitReader(obj.Body, limit))
	if err != nil {
		return "", "", fmt.Errorf("resolve media s3://%s/%s: upload: %w", bucket, key, err)
	}
	o.remember(ctx, pk, tenantID, id)
	return id, "", nil
}

// ParseRef checks that s3URI is s3://{Bucket}/tenants/{tenantID}/... with a
// plain key (no "..", ".", empty segments, backslashes, percent-encoding or
// control characters) and returns its bucket and key.
func (o *OutboundResolver) ParseRef(tenantID, s3URI string) (bucket, key string, err error) {
	refuse := func(why string) (string, string, error) {
		shown := s3URI
		if len(shown) > 200 {
			shown = shown[:200] + "…"
		}
		return "", "", fault.PermanentErr(fmt.Errorf("resolve media %q for tenant %s: %s: %w", shown, tenantID, why, ErrOutsideTenant))
	}
	if !tenant.ValidID(tenantID) {
		return refuse("invalid tenant id")
	}
	bucket, key, ok := outbound.SplitS3Link(s3URI)
	if !ok {
		return refuse("not an s3:// reference")
	}
	if bucket == "" || key == "" {
		return refuse("no bucket or key")
	}
	if o.Bucket == "" || bucket != o.Bucket {
		return refuse("not the data bucket")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || r == '\\' || r == '%' || r == '?' || r == '#' {
			return refuse("key has a forbidden character")
		}
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return refuse("key has an empty, . or .. segment")
		}
	}
	if !strings.HasPrefix(key, TenantPrefix(tenantID)) || len(key) == len(TenantPrefix(tenantID)) {
		return refuse("key is not under " + TenantPrefix(tenantID))
	}
	return bucket, key, nil
}

// uploadKind says whether media of kind and size is uploaded (true) or
// linked (false). See OutboundResolver.
func uploadKind(kind string, size int64) bool {
	switch kind {
	case KindSticker:
		return true
	case KindDocument:
		return size > LargeDocument
	}
	return false
}

func (o *OutboundResolver) stickerAnimated(ctx context.Context, bucket, key string) (bool, error) {
	out, err := o.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: aws.String("bytes=0-31")})
	if err != nil {
		return false, fault.Retryable(fmt.Errorf("resolve media s3://%s/%s: read header: %w", bucket, key, err))
	}
	defer out.Body.Close()
	head, err := io.ReadAll(io.LimitReader(out.Body, 32))
	if err != nil {
		return false, fault.Retryable(fmt.Errorf("resolve media s3://%s/%s: read header: %w", bucket, key, err))
	}
	return webpAnimated(head), nil
}

func (o *OutboundResolver) cached(ctx context.Context, pk, tenantID string) (string, error) {
	out, err := o.Cache.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(o.StateTable),
		Key:            map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", fault.Retryable(fmt.Errorf("read media id cache: %w", err))
	}
	id, _ := out.Item["media_id"].(*ddbtypes.AttributeValueMemberS)
	owner, _ := out.Item["tenant_id"].(*ddbtypes.AttributeValueMemberS)
	exp, _ := out.Item["expires_at"].(*ddbtypes.AttributeValueMemberN)
	if id == nil || owner == nil || owner.Value != tenantID || exp == nil {
		return "", nil
	}
	// DynamoDB deletes expired items lazily: check the time ourselves.
	if sec, err := strconv.ParseInt(exp.Value, 10, 64); err != nil || !o.now().Before(time.Unix(sec, 0)) {
		return "", nil
	}
	return id.Value, nil
}

// remember caches an uploaded id. A failed write only costs a second upload
// next time, so it does not fail the send.
func (o *OutboundResolver) remember(ctx context.Context, pk, tenantID, mediaID string) {
	_, err := o.Cache.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(o.StateTable),
		Item: map[string]ddbtypes.AttributeValue{
			"pk":         &ddbtypes.AttributeValueMemberS{Value: pk},
			"media_id":   &ddbtypes.AttributeValueMemberS{Value: mediaID},
			"tenant_id":  &ddbtypes.AttributeValueMemberS{Value: tenantID},
			"expires_at": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(o.now().Add(UploadedIDTTL).Unix(), 10)},
		},
	})
	if err != nil {
		log := o.Log
		if log == nil {
			log = slog.Default()
		}
		log.WarnContext(ctx, "could not cache uploaded media id", "tenant_id", tenantID, "media_id", mediaID, "error", err.Error())
	}
}

func (o *OutboundResolver) linkTTL() time.Duration {
	if o.LinkTTL <= 0 || o.LinkTTL > maxURLTTL {
		return DefaultLinkTTL
	}
	return o.LinkTTL
}

func (o *OutboundResolver) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}
