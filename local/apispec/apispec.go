// Package apispec holds the management API to its OpenAPI document,
// api/openapi.yaml: Load reads it with the JSON Schemas it refers to
// (schema/*.json), and Check validates one request and its answer against
// it, so a test that calls the API through Check cannot pass while the
// document and the code disagree. It exists only to test; no function
// imports it.
package apispec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi/datamodel"
)

// Spec is a loaded OpenAPI document. It is safe for concurrent use.
type Spec struct {
	mu sync.Mutex
	v  validator.Validator
}

// Load reads the OpenAPI document at path; relative references resolve
// from its directory.
func Load(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	doc, err := libopenapi.NewDocumentWithConfiguration(b, &datamodel.DocumentConfiguration{
		BasePath: filepath.Dir(abs), SpecFilePath: filepath.Base(abs), AllowFileReferences: true,
	})
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return nil, fmt.Errorf("build a validator for %s: %w", path, errors.Join(errs...))
	}
	return &Spec{v: v}, nil
}

// Document checks the document itself against the OpenAPI 3.1 schema.
func (s *Spec) Document() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok, errs := s.v.ValidateDocument()
	if ok {
		return nil
	}
	return describe("the document", errs)
}

// Check validates a response (status, header, body) to req, whose body
// was reqBody; and req itself when checkRequest is set (a test sending a
// request the API must refuse leaves it unset: only the answer has to
// match the document then).
func (s *Spec) Check(req *http.Request, reqBody []byte, checkRequest bool, status int, header http.Header, body []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fresh := func() *http.Request {
		r := req.Clone(req.Context())
		r.Body = io.NopCloser(bytes.NewReader(reqBody))
		r.ContentLength = int64(len(reqBody))
		return r
	}
	var errs []error
	if checkRequest {
		if ok, ves := s.v.ValidateHttpRequest(fresh()); !ok {
			errs = append(errs, describe("the request "+req.Method+" "+req.URL.Path, ves))
		}
	}
	resp := &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)), Request: fresh()}
	if ok, ves := s.v.ValidateHttpResponse(fresh(), resp); !ok {
		errs = append(errs, describe(fmt.Sprintf("the answer %d to %s %s", status, req.Method, req.URL.Path), ves))
	}
	return errors.Join(errs...)
}

func describe[E interface{ Error() string }](what string, errs []E) error {
	var lines []string
	for _, e := range errs {
		lines = append(lines, "  "+e.Error())
	}
	return fmt.Errorf("%s does not match api/openapi.yaml:\n%s", what, strings.Join(lines, "\n"))
}
