package media

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"path"
	"slices"
	"strings"
	"time"
)

// Media kinds, as in webhook messages and send requests.
const (
	KindImage    = "image"
	KindVideo    = "video"
	KindAudio    = "audio"
	KindDocument = "document"
	KindSticker  = "sticker"
)

// Meta's size limits (META_RULES.md, "Media").
const (
	mb = 1 << 20
	kb = 1 << 10

	LimitImage           = 5 * mb
	LimitAudio           = 16 * mb
	LimitVideo           = 16 * mb
	LimitDocument        = 100 * mb
	LimitStickerStatic   = 100 * kb
	LimitStickerAnimated = 500 * kb
)

// Limit returns Meta's maximum size in bytes for kind, and false for an
// unknown kind. For stickers it is the animated limit; a static sticker is
// held to LimitStickerStatic once its header shows it is not animated.
func Limit(kind string) (int64, bool) {
	switch kind {
	case KindImage:
		return LimitImage, true
	case KindAudio:
		return LimitAudio, true
	case KindVideo:
		return LimitVideo, true
	case KindDocument:
		return LimitDocument, true
	case KindSticker:
		return LimitStickerAnimated, true
	}
	return 0, false
}

// webpAnimated reports whether head (the first bytes of a file) is an
// extended WebP with the animation flag set. Animated stickers are VP8X
// files with bit 1 of the flags byte set.
func webpAnimated(head []byte) bool {
	return len(head) >= 21 && string(head[0:4]) == "RIFF" && string(head[8:12]) == "WEBP" &&
		string(head[12:16]) == "VP8X" && head[20]&0x02 != 0
}

// extensions maps the MIME types WhatsApp carries to file extensions. They
// are also the types an object is stored with as declared (see
// StoredContentType): none of them is a page or script a browser runs. The
// mime package's own table depends on the host's mime.types, so it is only
// a fallback.
var extensions = map[string]string{
	"image/jpeg":                    ".jpg",
	"image/png":                     ".png",
	"image/webp":                    ".webp",
	"image/gif":                     ".gif",
	"video/mp4":                     ".mp4",
	"video/3gpp":                    ".3gp",
	"audio/aac":                     ".aac",
	"audio/amr":                     ".amr",
	"audio/mpeg":                    ".mp3",
	"audio/mp3":                     ".mp3",
	"audio/mp4":                     ".m4a",
	"audio/ogg":                     ".ogg",
	"audio/opus":                    ".opus",
	"text/plain":                    ".txt",
	"text/csv":                      ".csv",
	"application/pdf":               ".pdf",
	"application/zip":               ".zip",
	"application/msword":            ".doc",
	"application/vnd.ms-excel":      ".xls",
	"application/vnd.ms-powerpoint": ".ppt",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   ".docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         ".xlsx",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
}

// otherExtensions names types a sender may declare for a document that are
// never stored as declared (a browser would render or run them), so that
// the key still says what the file is.
var otherExtensions = map[string]string{
	"text/html":              ".html",
	"application/xhtml+xml":  ".xhtml",
	"image/svg+xml":          ".svg",
	"text/xml":               ".xml",
	"application/xml":        ".xml",
	"text/javascript":        ".js",
	"application/javascript": ".js",
	"application/json":       ".json",
}

// OctetStream is the content type of every object whose declared type is
// not on the allow-list.
const OctetStream = "application/octet-stream"

// StoredContentType is the Content-Type an inbound file is stored and served
// with: its declared type (without parameters) when it is one WhatsApp
// carries, else application/octet-stream. A sender declares any type it
// likes; text/html or image/svg+xml served as declared from a presigned URL
// would run the sender's script in the reader's browser.
func StoredContentType(mimeType string) string {
	mt := baseType(mimeType)
	if _, ok := extensions[mt]; ok {
		return mt
	}
	return OctetStream
}

func baseType(mimeType string) string {
	mt, _, err := mime.ParseMediaType(mimeType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(mimeType))
	}
	return mt
}

// Extension returns the object key extension for a MIME type (parameters
// such as "; codecs=opus" ignored). When the type is unknown, a document's
// own extension is kept if it is short and plain; otherwise the mime
// package's extension for the type (the one named after its subtype when
// there is one: ".html", not ".ehtml", the first in its sorted list), else
// ".bin".
func Extension(mimeType, filename string) string {
	mt := baseType(mimeType)
	if ext, ok := extensions[mt]; ok {
		return ext
	}
	if ext, ok := otherExtensions[mt]; ok {
		return ext
	}
	if ext := strings.ToLower(path.Ext(filename)); plainExt(ext) {
		return ext
	}
	exts, _ := mime.ExtensionsByType(mt)
	if _, sub, ok := strings.Cut(mt, "/"); ok && slices.Contains(exts, "."+sub) && plainExt("."+sub) {
		return "." + sub
	}
	for _, ext := range exts {
		if plainExt(ext) {
			return ext
		}
	}
	return ".bin"
}

func plainExt(ext string) bool {
	if len(ext) < 2 || len(ext) > 9 || ext[0] != '.' {
		return false
	}
	for _, r := range ext[1:] {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// ObjectKey is where an inbound media file is stored:
// tenants/{tenant_id}/media/{yyyy}/{mm}/{dd}/{wamid}{ext}, dated by the
// message's time in UTC.
func ObjectKey(tenantID string, at time.Time, wamid, ext string) string {
	return fmt.Sprintf("tenants/%s/media/%s/%s%s", tenantID, at.UTC().Format("2006/01/02"), keySafe(wamid), ext)
}

// TenantPrefix is the key prefix every object of a tenant lives under.
func TenantPrefix(tenantID string) string { return "tenants/" + tenantID + "/" }

// keySafe makes a wamid usable as one key segment. Wamids are base64, whose
// "/" would split the key: "+" and "/" become "-" and "_" (as in base64url,
// so distinct ids stay distinct); anything else unusual becomes ~XX.
func keySafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '=':
			b.WriteByte(c)
		case c == '+':
			b.WriteByte('-')
		case c == '/':
			b.WriteByte('_')
		default:
			fmt.Fprintf(&b, "~%02X", c)
		}
	}
	return b.String()
}

// ParseDigest decodes a sha256 as Meta writes it: hex in the Graph API
// answer, base64 in webhooks. It returns nil when s is not a 32-byte digest
// in any of these forms (Meta's spec examples use placeholders).
func ParseDigest(s string) []byte {
	s = strings.TrimSpace(s)
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil {
			return b
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b
		}
	}
	return nil
}
