package manage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tucanlink/wacloud/shared/media"
	"github.com/tucanlink/wacloud/shared/outbound"
)

// Objects reads a tenant's files from the data bucket (the S3 client).
// Errors are the SDK's: *types.NoSuchKey for a missing object, others
// retryable.
type Objects interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Uploader sends a file through Meta's Resumable Upload API
// (graph.Client). Errors are *graph.Error.
type Uploader interface {
	AppID(ctx context.Context, token string) (string, error)
	UploadFile(ctx context.Context, token, appID, name, contentType string, data []byte) (string, error)
}

// MaxProfilePictureBytes is the largest profile picture taken (Meta's
// image limit).
const MaxProfilePictureBytes = 5 << 20

// pictureTypes are the image types Meta takes as a profile picture.
var pictureTypes = []string{"image/jpeg", "image/png"}

// checkPicture checks that link names an object of the tenant in the
// data bucket, where POST …/media-uploads puts the core's files.
func (h *Handler) checkPicture(tenantID, link string) (string, string) {
	prefix := media.TenantPrefix(tenantID) + "outbound/"
	bucket, key, ok := outbound.SplitS3Link(link)
	if !ok || bucket != h.Bucket || !strings.HasPrefix(key, prefix) || path.Clean(key) != key || len(key) == len(prefix) {
		return "", fmt.Sprintf("profile_picture must be an s3:// object under s3://%s/%s (upload it with POST …/media-uploads, kind image)", h.Bucket, prefix)
	}
	return key, ""
}

// pictureHandle reads the tenant's picture from S3 and uploads it to
// Meta, answering the handle a profile update takes.
func (h *Handler) pictureHandle(ctx context.Context, r *Request, key, token string) (string, *Error) {
	if h.Objects == nil || h.Uploader == nil {
		return "", unavailable()
	}
	obj, err := h.Objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(h.Bucket), Key: aws.String(key)})
	var missing *s3types.NoSuchKey
	switch {
	case errors.As(err, &missing):
		return "", errorf(http.StatusBadRequest, CodeInvalidProfile, "the profile breaks Meta's rules", "profile_picture does not exist (was the upload PUT made?)")
	case err != nil:
		r.Log.ErrorContext(ctx, "read profile picture", "key", key, "error", err.Error())
		return "", unavailable()
	}
	defer obj.Body.Close()
	contentType := strings.ToLower(strings.TrimSpace(strings.Split(aws.ToString(obj.ContentType), ";")[0]))
	if !slices.Contains(pictureTypes, contentType) {
		return "", errorf(http.StatusBadRequest, CodeInvalidProfile, "the profile breaks Meta's rules",
			fmt.Sprintf("profile_picture must be image/jpeg or image/png (it is %q)", contentType))
	}
	if aws.ToInt64(obj.ContentLength) > MaxProfilePictureBytes {
		return "", errorf(http.StatusBadRequest, CodeInvalidProfile, "the profile breaks Meta's rules",
			fmt.Sprintf("profile_picture must be at most %d bytes", MaxProfilePictureBytes))
	}
	data, err := io.ReadAll(io.LimitReader(obj.Body, MaxProfilePictureBytes+1))
	if err != nil {
		r.Log.ErrorContext(ctx, "read profile picture", "key", key, "error", err.Error())
		return "", unavailable()
	}
	if len(data) > MaxProfilePictureBytes {
		return "", errorf(http.StatusBadRequest, CodeInvalidProfile, "the profile breaks Meta's rules",
			fmt.Sprintf("profile_picture must be at most %d bytes", MaxProfilePictureBytes))
	}
	appID, err := h.Uploader.AppID(ctx, token)
	if err != nil {
		return "", metaError(ctx, r.Log, "Meta could not name the tenant token's app", err)
	}
	handle, err := h.Uploader.UploadFile(ctx, token, appID, path.Base(key), contentType, data)
	if err != nil {
		return "", metaError(ctx, r.Log, "Meta refused the profile picture", err)
	}
	return handle, nil
}
