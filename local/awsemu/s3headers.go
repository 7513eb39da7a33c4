package awsemu

import (
	"net/http"
)

// keptDisposition is the user metadata entry the front keeps an upload's
// Content-Disposition in.
const keptDisposition = "X-Amz-Meta-Awsemu-Content-Disposition"

// s3Headers keeps the Content-Disposition of an upload (PutObject,
// CreateMultipartUpload), which kumo (v0.33) drops while S3 stores it and
// serves it on GetObject, HeadObject and presigned GETs: the front carries
// it in a user metadata entry of its own and turns it back into the header
// on the way out.
type s3Headers struct {
	next http.Handler
}

func keepS3Headers(next http.Handler) http.Handler { return &s3Headers{next: next} }

func (s *s3Headers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") == "" {
		upload := r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") == "" ||
			r.Method == http.MethodPost && r.URL.Query().Has("uploads")
		if v := r.Header.Get("Content-Disposition"); upload && v != "" {
			r.Header.Set(keptDisposition, v)
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			w = &dispositionWriter{ResponseWriter: w}
		}
	}
	s.next.ServeHTTP(w, r)
}

// dispositionWriter turns the kept entry back into Content-Disposition
// (unless a response-content-disposition override set one) before the
// headers go out.
type dispositionWriter struct {
	http.ResponseWriter
	done bool
}

func (d *dispositionWriter) restore() {
	if d.done {
		return
	}
	d.done = true
	h := d.Header()
	if v := h.Get(keptDisposition); v != "" {
		if h.Get("Content-Disposition") == "" {
			h.Set("Content-Disposition", v)
		}
		h.Del(keptDisposition)
	}
}

func (d *dispositionWriter) WriteHeader(code int) {
	d.restore()
	d.ResponseWriter.WriteHeader(code)
}

func (d *dispositionWriter) Write(b []byte) (int, error) {
	d.restore()
	return d.ResponseWriter.Write(b)
}

func (d *dispositionWriter) Flush() {
	d.restore()
	if f, ok := d.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
