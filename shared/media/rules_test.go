package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"
)

func TestExtension(t *testing.T) {
	tests := []struct {
		mime, filename, want string
	}{
		{"image/jpeg", "", ".jpg"},
		{"image/png", "", ".png"},
		{"image/webp", "", ".webp"},
		{"video/mp4", "", ".mp4"},
		{"video/3gpp", "", ".3gp"},
		{"audio/ogg; codecs=opus", "", ".ogg"},
		{"audio/mpeg", "", ".mp3"},
		{"audio/amr", "", ".amr"},
		{"audio/aac", "", ".aac"},
		{"audio/mp4", "", ".m4a"},
		{"application/pdf", "filename.pdf", ".pdf"},
		{"APPLICATION/PDF", "", ".pdf"},
		{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "", ".docx"},
		{"text/plain", "", ".txt"},
		{"application/x-unknown", "report.KEY", ".key"},
		{"application/x-unknown", "weird.ex/t", ".bin"},
		{"application/x-unknown", "", ".bin"},
		{"", "", ".bin"},
		// Types never stored as declared still name their file.
		{"text/html", "", ".html"},
		{"text/html; charset=utf-8", "page.htm", ".html"},
		{"image/svg+xml", "", ".svg"},
		{"application/xhtml+xml", "", ".xhtml"},
		// The mime package lists a type's extensions sorted (".ehtml" came
		// first for text/html): the one named after the subtype wins.
		{"application/wctest", "", ".wctest"},
	}
	for _, ext := range []string{".aaa", ".wctest"} {
		if err := mime.AddExtensionType(ext, "application/wctest"); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range tests {
		t.Run(tt.mime+"|"+tt.filename, func(t *testing.T) {
			if got := Extension(tt.mime, tt.filename); got != tt.want {
				t.Errorf("Extension(%q, %q) = %q, want %q", tt.mime, tt.filename, got, tt.want)
			}
		})
	}
}

func TestStoredContentType(t *testing.T) {
	tests := []struct{ declared, want string }{
		{"image/jpeg", "image/jpeg"},
		{"IMAGE/PNG", "image/png"},
		{"audio/ogg; codecs=opus", "audio/ogg"},
		{"application/pdf", "application/pdf"},
		{"text/plain", "text/plain"},
		{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"text/html", OctetStream},
		{"text/html; charset=utf-8", OctetStream},
		{"image/svg+xml", OctetStream},
		{"application/xhtml+xml", OctetStream},
		{"text/xml", OctetStream},
		{"application/javascript", OctetStream},
		{"multipart/x-mixed-replace", OctetStream},
		{"application/x-unknown", OctetStream},
		{"not a type", OctetStream},
		{"", OctetStream},
	}
	for _, tt := range tests {
		t.Run(tt.declared, func(t *testing.T) {
			if got := StoredContentType(tt.declared); got != tt.want {
				t.Errorf("StoredContentType(%q) = %q, want %q", tt.declared, got, tt.want)
			}
		})
	}
}

func TestContentDisposition(t *testing.T) {
	tests := []struct{ name, filename, fallback, want string }{
		{"plain name", "invoice.pdf", "k.pdf", `attachment; filename="invoice.pdf"; filename*=UTF-8''invoice.pdf`},
		{"no name: the object's", "", "wamid.HBg-_=.html", `attachment; filename="wamid.HBg-_=.html"; filename*=UTF-8''wamid.HBg-_%3D.html`},
		{"unicode and quotes", `Relatório "final".pdf`, "k.pdf", `attachment; filename="Relat_rio _final_.pdf"; filename*=UTF-8''Relat%C3%B3rio%20%22final%22.pdf`},
		{"directories dropped", `../../etc/passwd`, "k.bin", `attachment; filename="passwd"; filename*=UTF-8''passwd`},
		{"windows directories dropped", `C:\\Users\\a\\run.bat`, "k.bin", `attachment; filename="run.bat"; filename*=UTF-8''run.bat`},
		{"header injection", "a.pdf\r\nX-Injected: 1", "k.pdf", `attachment; filename="a.pdfX-Injected: 1"; filename*=UTF-8''a.pdfX-Injected%3A%201`},
		{"parameter injection", `x"; filename=evil.html`, "k.pdf", `attachment; filename="x_; filename=evil.html"; filename*=UTF-8''x%22%3B%20filename%3Devil.html`},
		{"only dots", "..", "k.txt", `attachment; filename="k.txt"; filename*=UTF-8''k.txt`},
		{"nothing at all", "", "", "attachment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ContentDisposition(tt.filename, tt.fallback); got != tt.want {
				t.Errorf("ContentDisposition(%q, %q) =\n %s\nwant\n %s", tt.filename, tt.fallback, got, tt.want)
			}
		})
	}
	long := strings.Repeat("é", 150) + ".pdf"
	if got := safeFilename(long); len(got) > 200 || !utf8.ValidString(got) {
		t.Errorf("safeFilename of %d bytes = %d bytes, valid UTF-8 %v; want at most 200, valid", len(long), len(got), utf8.ValidString(got))
	}
}

func TestParseDigest(t *testing.T) {
	sum := sha256.Sum256([]byte("hello"))
	hexSum := hex.EncodeToString(sum[:])
	tests := []struct {
		name string
		in   string
		want []byte
	}{
		{"graph hex", hexSum, sum[:]},
		{"graph hex upper case", strings.ToUpper(hexSum), sum[:]},
		{"webhook base64", base64.StdEncoding.EncodeToString(sum[:]), sum[:]},
		{"base64 without padding", base64.RawStdEncoding.EncodeToString(sum[:]), sum[:]},
		{"base64url", base64.URLEncoding.EncodeToString(sum[:]), sum[:]},
		{"spec placeholder", "<HASH>", nil},
		{"truncated webhook sample", "4654+8g=", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseDigest(tt.in); !bytes.Equal(got, tt.want) {
				t.Errorf("ParseDigest(%q) = %x, want %x", tt.in, got, tt.want)
			}
		})
	}
}

func TestObjectKey(t *testing.T) {
	at := time.Date(2025, 6, 8, 23, 30, 0, 0, time.FixedZone("x", -3*3600)) // 2025-06-09 in UTC
	got := ObjectKey("acme", at, "wamid.HBgL+ab/cd==", ".jpg")
	want := "tenants/acme/media/2025/06/09/wamid.HBgL-ab_cd==.jpg"
	if got != want {
		t.Errorf("ObjectKey = %q, want %q", got, want)
	}
	if a, b := keySafe("a+b"), keySafe("a/b"); a == b {
		t.Errorf("keySafe maps different wamids to %q", a)
	}
	if got := keySafe("x y../"); strings.ContainsAny(got, " /") {
		t.Errorf("keySafe kept unsafe characters: %q", got)
	}
}

func TestLimit(t *testing.T) {
	tests := []struct {
		kind string
		want int64
		ok   bool
	}{
		{KindImage, 5 << 20, true},
		{KindAudio, 16 << 20, true},
		{KindVideo, 16 << 20, true},
		{KindDocument, 100 << 20, true},
		{KindSticker, 500 << 10, true},
		{"location", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			got, ok := Limit(tt.kind)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Limit(%q) = %d, %v; want %d, %v", tt.kind, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// webp returns a WebP file of size bytes, animated or not.
func webp(size int, animated bool) []byte {
	b := make([]byte, size)
	copy(b, "RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00")
	if animated {
		b[20] = 0x02
	}
	return b
}

func TestVerifyingReader(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 10000) // 100 000 bytes
	sum := sha256.Sum256(body)
	corrupt := bytes.Clone(body)
	corrupt[5000] ^= 1
	tests := []struct {
		name     string
		r        io.Reader
		kind     string
		limit    int64
		declared int64
		want     []byte
		wantErr  error
	}{
		{"intact", bytes.NewReader(body), KindDocument, LimitDocument, int64(len(body)), sum[:], nil},
		{"intact without Meta's hash or size", bytes.NewReader(body), KindDocument, LimitDocument, 0, nil, nil},
		{"one flipped byte", bytes.NewReader(corrupt), KindDocument, LimitDocument, int64(len(body)), sum[:], errChecksumMismatch},
		{"truncated", bytes.NewReader(body[:len(body)/2]), KindDocument, LimitDocument, int64(len(body)), sum[:], errSizeMismatch},
		{"truncated, size unknown", bytes.NewReader(body[:len(body)/2]), KindDocument, LimitDocument, 0, sum[:], errChecksumMismatch},
		{"over the limit whatever the header said", bytes.NewReader(body), KindImage, 50000, 1000, nil, errTooLarge},
		{"static sticker over 100 KB", bytes.NewReader(webp(150<<10, false)), KindSticker, LimitStickerAnimated, 0, nil, errTooLarge},
		{"animated sticker of 150 KB", bytes.NewReader(webp(150<<10, true)), KindSticker, LimitStickerAnimated, 0, nil, nil},
		{"animated sticker over 500 KB", bytes.NewReader(webp(501<<10, true)), KindSticker, LimitStickerAnimated, 0, nil, errTooLarge},
		{"connection cut", iotest.ErrReader(io.ErrUnexpectedEOF), KindImage, LimitImage, 10, nil, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifyingReader(iotest.OneByteReader(tt.r), tt.kind, tt.limit, tt.declared, tt.want)
			_, err := io.Copy(io.Discard, v)
			if tt.wantErr == nil {
				if err != nil || !v.verified {
					t.Fatalf("copy error = %v, verified = %v; want a verified end", err, v.verified)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("copy error = %v, want %v", err, tt.wantErr)
			}
			if v.verified {
				t.Error("verified after a failure")
			}
			// The reader keeps failing: an uploader retrying a read never sees io.EOF.
			if _, err := v.Read(make([]byte, 10)); err == nil || err == io.EOF {
				t.Errorf("read after failure = %v, want the failure again", err)
			}
		})
	}
}
