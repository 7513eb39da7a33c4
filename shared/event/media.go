package event

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// MediaResult says where an inbound media file was stored, or why it could
// not be (message.media_ready / message.media_failed).
//
// The message event (message.received) reaches the core first with its
// media marked pending; this result follows in the same ordering group.
type MediaResult struct {
	MessageID string `json:"message_id"` // wamid of the message that carried the media
	MediaID   string `json:"media_id"`
	Kind      string `json:"kind,omitempty"` // image, video, audio, document, sticker

	// Set on message.media_ready.
	Bucket string `json:"bucket,omitempty"`
	Key    string `json:"key,omitempty"` // tenants/{tenant_id}/media/{yyyy}/{mm}/{dd}/{wamid}{ext}
	Size   int64  `json:"size,omitempty"`
	// SHA256 is the lowercase hex SHA-256 of the stored bytes, checked
	// against Meta's. Deprecated: read SHA256Hex (same value); the name
	// sha256 holds base64 in message.received, so it stays only for 1.x.
	SHA256    string `json:"sha256,omitempty"`
	SHA256Hex string `json:"sha256_hex,omitempty"` // lowercase hex, as in message.received's media.sha256_hex
	MimeType  string `json:"mime_type,omitempty"`
	Filename  string `json:"filename,omitempty"` // documents: the sender's file name
	// URL is a presigned GET URL of the object, valid until URLExpiresAt
	// (RFC 3339). Fetch or copy the file before then; afterwards use Bucket
	// and Key with the core's own S3 access.
	URL          string `json:"url,omitempty"`
	URLExpiresAt string `json:"url_expires_at,omitempty"`

	// Set on message.media_failed.
	Reason    string `json:"reason,omitempty"`    // see the Failure* constants
	Code      string `json:"code,omitempty"`      // Meta's error code or HTTP status when there was one
	Detail    string `json:"detail,omitempty"`    // human-readable explanation
	Retryable bool   `json:"retryable,omitempty"` // true when the cause was transient but retries ran out
}

// Reasons of a message.media_failed event.
const (
	FailureTooLarge         = "too_large"         // over Meta's size limit for the media type
	FailureNotFound         = "not_found"         // Meta no longer has the media (ids expire after 7 days)
	FailureDownload         = "download_failed"   // Meta could not serve it (131052) or the download kept failing
	FailureChecksumMismatch = "checksum_mismatch" // the bytes never matched Meta's sha256
	FailureUnauthorized     = "unauthorized"      // the tenant's access token was refused
	FailureUnavailable      = "unavailable"       // Graph API or storage kept failing
)

// DigestHex returns a SHA-256 digest given in base64 (Meta's webhooks, in
// standard or URL alphabet, padded or not) or hex (Meta's media endpoint)
// as lowercase hex, the one encoding of every sha256_hex field. It returns
// "" when s is not a 32-byte digest in either form.
func DigestHex(s string) string {
	s = strings.TrimSpace(s)
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil {
			return hex.EncodeToString(b)
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == sha256.Size {
			return hex.EncodeToString(b)
		}
	}
	return ""
}
