package awsemu

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// s3Strict refuses, as S3 does, an upload (PutObject, UploadPart) whose
// body does not match a checksum it declares, Content-MD5 or one of the
// SDK's flexible checksums (x-amz-checksum-crc32, -crc32c, -sha1,
// -sha256): kumo (v0.33) stores the body whatever the checksum says.
// Streaming (aws-chunked) uploads carry their checksum in a trailer and
// pass unchecked; so do the checksum types Go's library lacks (crc64nvme).
type s3Strict struct {
	next http.Handler
}

func strictS3(next http.Handler) http.Handler {
	return &s3Strict{next: next}
}

// s3Checksums are the flexible checksums S3 checks, by header, with the
// name S3's messages give each.
var s3Checksums = []struct {
	header, name string
	hash         func() hash.Hash
}{
	{"X-Amz-Checksum-Crc32", "CRC32", func() hash.Hash { return crc32.NewIEEE() }},
	{"X-Amz-Checksum-Crc32c", "CRC32C", func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }},
	{"X-Amz-Checksum-Sha1", "SHA1", sha1.New},
	{"X-Amz-Checksum-Sha256", "SHA256", sha256.New},
}

func (s *s3Strict) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.checked(r) {
		s.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read request", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if code, msg := verifyChecksums(r.Header, body); code != "" {
		writeS3Error(w, code, msg)
		return
	}
	s.next.ServeHTTP(w, r)
}

// checked tells whether r is an upload with a checksum to verify. Every
// PUT the front sees is S3's: the JSON services are all POSTs.
func (s *s3Strict) checked(r *http.Request) bool {
	if r.Method != http.MethodPut || r.Header.Get("X-Amz-Target") != "" || r.Header.Get("X-Amz-Copy-Source") != "" {
		return false
	}
	if strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") || strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") {
		return false
	}
	if r.Header.Get("Content-Md5") != "" {
		return true
	}
	for _, c := range s3Checksums {
		if r.Header.Get(c.header) != "" {
			return true
		}
	}
	return false
}

// verifyChecksums returns S3's error code and message for the first
// checksum of h that body does not match, or "".
func verifyChecksums(h http.Header, body []byte) (code, msg string) {
	if v := h.Get("Content-Md5"); v != "" {
		want, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(want) != md5.Size {
			return "InvalidDigest", "The Content-MD5 you specified was invalid."
		}
		got := md5.Sum(body) //nolint:gosec // S3's Content-MD5 is MD5
		if !bytes.Equal(got[:], want) {
			return "BadDigest", "The Content-MD5 you specified did not match what we received."
		}
	}
	for _, c := range s3Checksums {
		v := h.Get(c.header)
		if v == "" {
			continue
		}
		sum := c.hash()
		sum.Write(body)
		got := sum.Sum(nil)
		want, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(want) != len(got) {
			return "InvalidRequest", "Value for " + strings.ToLower(c.header) + " header is invalid."
		}
		if !bytes.Equal(got, want) {
			return "BadDigest", "The " + c.name + " you specified did not match the calculated checksum."
		}
	}
	return "", ""
}

// writeS3Error answers with S3's XML error document.
func writeS3Error(w http.ResponseWriter, code, msg string) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<Error><Code>")
	b.WriteString(code)
	b.WriteString("</Code><Message>")
	b.WriteString(msg)
	b.WriteString("</Message></Error>")
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(b.Bytes())
}
