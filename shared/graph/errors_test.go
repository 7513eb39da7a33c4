package graph

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/tucanlink/wacloud/shared/fault"
)

// loadError reads a reference error: a full Graph answer ({"error": {...}})
// through ParseError, or an inner error object (as webhooks carry it).
func loadError(t *testing.T, file string, status int) *Error {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		t.Fatal(err)
	}
	if _, full := probe["error"]; full {
		return ParseError("POST /100/messages", status, raw)
	}
	var e Error
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	e.HTTPStatus = status
	return &e
}

func TestClassifyReferenceErrors(t *testing.T) {
	tests := []struct {
		file   string
		status int // the HTTP status Meta answers it with
		code   int
		want   fault.Class
	}{
		{"error_100_invalid_parameter_spec.json", 400, 100, fault.Permanent},
		{"error_100_object_not_found.json", 400, 100, fault.Permanent},
		// The Java SDK's test serves this body with HTTP 500; the code wins.
		{"error_130429_rate_limit.json", 500, 130429, fault.Retry},
		{"error_130429_rate_limit_metadocs.json", 400, 130429, fault.Retry},
		{"error_131047_reengagement_inner.json", 400, 131047, fault.Permanent},
		{"error_131053_media_upload_inner.json", 400, 131053, fault.Permanent},
		{"error_132000_template_not_found_spec.json", 404, 132000, fault.Permanent},
		// Not in the code tables; is_transient false and HTTP 400: permanent.
		{"error_136024_request_code.json", 400, 136024, fault.Permanent},
		{"error_190_expired_token_inner.json", 401, 190, fault.Permanent},
		{"error_190_invalid_token.json", 401, 190, fault.Permanent},
		{"error_190_invalid_token_subcode_463_spec.json", 401, 190, fault.Permanent},
		{"error_200_permission_spec.json", 403, 200, fault.Permanent},
		{"error_2_server_error_spec.json", 500, 2, fault.Retry},
		{"error_4_app_rate_limit_spec.json", 429, 4, fault.Retry},
	}
	files, _ := filepath.Glob("testdata/error_*.json")
	if len(files) != len(tests) {
		t.Errorf("%d reference error files, %d cases: every file needs a case", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			e := loadError(t, tt.file, tt.status)
			if e.Code != tt.code {
				t.Errorf("code = %d, want %d", e.Code, tt.code)
			}
			if got := Classify(e); got != tt.want {
				t.Errorf("Classify(%s) = %v, want %v", tt.file, got, tt.want)
			}
			if got := fault.ClassOf(e); got != tt.want {
				t.Errorf("fault.ClassOf = %v, want %v (Unwrap must carry the class)", got, tt.want)
			}
			if e.MayHaveActed() {
				t.Error("an error answer must not count as possibly acted on")
			}
		})
	}
}

// TestClassifyCodes covers META_RULES.md's lists code by code, whatever the
// HTTP status, plus the fallbacks.
func TestClassifyCodes(t *testing.T) {
	retry := []int{130429, 131056, 131000, 131016, 4, 80007, 2, 131057, 133004}
	permanent := []int{131026, 131047, 131048, 131049, 100, 132000, 132001, 132005, 132012, 132015, 132016, 132068, 132069,
		131051, 131052, 131053, 368, 200, 190}
	for _, code := range retry {
		if got := Classify(&Error{Code: code, HTTPStatus: 400}); got != fault.Retry {
			t.Errorf("code %d = %v, want retry", code, got)
		}
	}
	for _, code := range permanent {
		if got := Classify(&Error{Code: code, HTTPStatus: 500}); got != fault.Permanent {
			t.Errorf("code %d = %v, want permanent", code, got)
		}
	}
	fallbacks := []struct {
		name string
		e    Error
		want fault.Class
	}{
		{"unknown code, is_transient", Error{Code: 999999, IsTransient: true, HTTPStatus: 400}, fault.Retry},
		{"unknown code, HTTP 503", Error{Code: 999999, HTTPStatus: 503}, fault.Retry},
		{"unknown code, HTTP 400", Error{Code: 999999, HTTPStatus: 400}, fault.Permanent},
		{"no body, HTTP 502", Error{HTTPStatus: 502}, fault.Retry},
		{"no body, HTTP 429", Error{HTTPStatus: 429}, fault.Retry},
		{"timeout", Error{Transport: true}, fault.Retry},
	}
	for _, tt := range fallbacks {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(&tt.e); got != tt.want {
				t.Errorf("Classify(%+v) = %v, want %v", tt.e, got, tt.want)
			}
		})
	}
}

func TestDetailsPrefersErrorData(t *testing.T) {
	e := loadError(t, "error_130429_rate_limit_metadocs.json", 400)
	if got, want := e.Details(), "Cloud API message throughput has been reached."; got != want {
		t.Errorf("Details = %q, want %q", got, want)
	}
	e = loadError(t, "error_200_permission_spec.json", 403)
	if got, want := e.Details(), "Your app doesn't have permission to access this resource"; got != want {
		t.Errorf("Details = %q, want %q", got, want)
	}
}
