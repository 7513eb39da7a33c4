package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func TestEmitEMF(t *testing.T) {
	var buf bytes.Buffer
	r := &Recorder{Out: &buf, Function: "webhook", Now: func() time.Time { return time.UnixMilli(1700000000000) }}
	r.Count("WebhooksRejected", 1, "Reason", "signature")

	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v: %s", err, buf.String())
	}
	if got := doc["WebhooksRejected"]; got != 1.0 {
		t.Errorf("value = %v, want 1", got)
	}
	aws := doc["_aws"].(map[string]any)
	cw := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if cw["Namespace"] != Namespace {
		t.Errorf("namespace = %v", cw["Namespace"])
	}
	dims := cw["Dimensions"].([]any)[0].([]any)
	if len(dims) != 2 || dims[0] != "Function" || dims[1] != "Reason" {
		t.Errorf("dimensions = %v", dims)
	}
	if doc["Reason"] != "signature" || doc["Function"] != "webhook" {
		t.Errorf("dimension values missing: %v", doc)
	}
	if aws["Timestamp"] != 1700000000000.0 {
		t.Errorf("timestamp = %v", aws["Timestamp"])
	}
}

func TestNilRecorderIsSilent(t *testing.T) {
	var r *Recorder
	r.Count("x", 1) // must not panic
}

func TestBoundedCapsDistinctValues(t *testing.T) {
	b := &Bounded{Limit: 2}
	tests := []struct{ in, want string }{
		{"tenant-a", "tenant-a"},
		{"tenant-b", "tenant-b"},
		{"tenant-c", Other}, // third distinct value: over the limit
		{"tenant-a", "tenant-a"},
		{"tenant-b", "tenant-b"},
		{"", Other},
		{"tenant-d", Other},
	}
	for _, tt := range tests {
		if got := b.Value(tt.in); got != tt.want {
			t.Errorf("Value(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBoundedZeroValueUsesDefaultLimit(t *testing.T) {
	var b Bounded
	for i := range DefaultLimit {
		if got := b.Value(fmt.Sprint("t", i)); got == Other {
			t.Fatalf("value %d of %d became %q", i+1, DefaultLimit, got)
		}
	}
	if got := b.Value("one-more"); got != Other {
		t.Errorf("value %d = %q, want %q", DefaultLimit+1, got, Other)
	}
}
