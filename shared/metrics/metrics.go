// Package metrics writes CloudWatch metrics in the Embedded Metric Format:
// one JSON line on stdout per data point, which Lambda's log pipeline turns
// into metrics with no API call. Dimensions are kept few (function and, where
// it matters, tenant) to bound cost.
package metrics

import (
	"encoding/json"
	"io"
	"os"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric.
const Namespace = "wacloud"

// Units.
const (
	Count        = "Count"
	Milliseconds = "Milliseconds"
	Bytes        = "Bytes"
)

// Recorder emits metrics. The zero value writes to stdout. It is safe for
// concurrent use.
type Recorder struct {
	Out      io.Writer
	Function string // the "Function" dimension
	Now      func() time.Time

	mu sync.Mutex
}

// Count adds n to metric name, with optional extra dimensions (key, value pairs).
func (r *Recorder) Count(name string, n float64, dims ...string) {
	r.Emit(name, n, Count, dims...)
}

// Emit writes one data point.
func (r *Recorder) Emit(name string, value float64, unit string, dims ...string) {
	if r == nil {
		return
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	doc := map[string]any{}
	keys := []string{}
	if r.Function != "" {
		doc["Function"] = r.Function
		keys = append(keys, "Function")
	}
	for i := 0; i+1 < len(dims); i += 2 {
		doc[dims[i]] = dims[i+1]
		keys = append(keys, dims[i])
	}
	doc[name] = value
	doc["_aws"] = map[string]any{
		"Timestamp": now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  Namespace,
			"Dimensions": [][]string{keys},
			"Metrics":    []any{map[string]string{"Name": name, "Unit": unit}},
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return
	}
	b = append(b, '\n')
	out := r.Out
	if out == nil {
		out = os.Stdout
	}
	r.mu.Lock()
	_, _ = out.Write(b)
	r.mu.Unlock()
}
