package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Errors a verifyingReader returns in place of io.EOF (or as soon as a
// limit is crossed), so that the uploader aborts and nothing is stored.
var (
	errTooLarge         = errors.New("media larger than Meta's limit for its type")
	errChecksumMismatch = errors.New("sha256 of the downloaded bytes does not match Meta's")
	errSizeMismatch     = errors.New("downloaded size differs from Meta's file_size")
)

// verifyingReader passes a download through while hashing and counting it.
// It never lets the reader see io.EOF unless the whole body matched the
// expected digest and size: a corrupted or truncated body surfaces as an
// error at the end of the stream, which makes the S3 uploader abort instead
// of completing the object.
type verifyingReader struct {
	r        io.Reader
	kind     string
	limit    int64  // hard cap while streaming
	declared int64  // Meta's file_size, 0 when unknown
	want     []byte // expected sha256, nil when Meta gave none

	h        hash.Hash
	n        int64
	head     []byte // first bytes, to tell animated stickers apart
	err      error
	verified bool
}

func newVerifyingReader(r io.Reader, kind string, limit, declared int64, want []byte) *verifyingReader {
	return &verifyingReader{r: r, kind: kind, limit: limit, declared: declared, want: want, h: sha256.New()}
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	if n > 0 {
		v.h.Write(p[:n])
		if len(v.head) < 32 {
			v.head = append(v.head, p[:min(n, 32-len(v.head))]...)
		}
		v.n += int64(n)
		if v.n > v.limit {
			v.err = fmt.Errorf("%w: more than %d bytes", errTooLarge, v.limit)
			return 0, v.err
		}
	}
	if err == io.EOF {
		if ferr := v.finish(); ferr != nil {
			v.err = ferr
			return n, ferr
		}
		v.verified = true
		v.err = io.EOF
		return n, io.EOF
	}
	if err != nil {
		v.err = fmt.Errorf("read media body: %w", err)
		return n, v.err
	}
	return n, nil
}

func (v *verifyingReader) finish() error {
	if v.kind == KindSticker && v.n > LimitStickerStatic && !webpAnimated(v.head) {
		return fmt.Errorf("%w: static sticker of %d bytes (limit %d)", errTooLarge, v.n, LimitStickerStatic)
	}
	if v.declared > 0 && v.n != v.declared {
		return fmt.Errorf("%w: got %d bytes, Meta said %d", errSizeMismatch, v.n, v.declared)
	}
	if v.want != nil && !bytes.Equal(v.h.Sum(nil), v.want) {
		return fmt.Errorf("%w: got %s, want %s", errChecksumMismatch, v.SHA256(), hex.EncodeToString(v.want))
	}
	return nil
}

// SHA256 is the hex digest of what was read so far.
func (v *verifyingReader) SHA256() string { return hex.EncodeToString(v.h.Sum(nil)) }
