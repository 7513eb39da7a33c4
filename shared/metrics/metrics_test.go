package metrics

import (
	"bytes"
	"encoding/json"
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
