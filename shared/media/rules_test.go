package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
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
	}
	for _, tt := range tests {
		t.Run(tt.mime+"|"+tt.filename, func(t *testing.T) {
			if got := Extension(tt.mime, tt.filename); got != tt.want {
				t.Errorf("Extension(%q, %q) = %q, want %q", tt.mime, tt.filename, got, tt.want)
			}
		})
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
