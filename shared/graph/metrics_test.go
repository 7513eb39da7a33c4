package graph

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/tucanlink/wacloud/shared/metrics"
)

// emfPoint is one EMF line the client's Recorder wrote.
type emfPoint struct {
	name, unit string
	dims       map[string]string
}

func readEMF(t *testing.T, b []byte) []emfPoint {
	t.Helper()
	var pts []emfPoint
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var doc map[string]any
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatalf("EMF line is not JSON: %v: %s", err, sc.Text())
		}
		cw := doc["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
		m := cw["Metrics"].([]any)[0].(map[string]any)
		p := emfPoint{name: m["Name"].(string), unit: m["Unit"].(string), dims: map[string]string{}}
		for _, k := range cw["Dimensions"].([]any)[0].([]any) {
			p.dims[k.(string)] = doc[k.(string)].(string)
		}
		pts = append(pts, p)
	}
	return pts
}

func TestClientRecordsLatencyAndErrorsByCode(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		file     string // answer body from testdata; "" with status 0: the connection is cut
		raw      string // answer body when not from a file
		wantCode string // GraphErrors' Code; "" for no error
	}{
		{name: "accepted", status: 200, file: "send_message_success.json"},
		{name: "known code keeps its value", status: 400, file: "error_100_invalid_parameter_spec.json", wantCode: "100"},
		{name: "throughput", status: 400, file: "error_130429_rate_limit_metadocs.json", wantCode: "130429"},
		{name: "template error range", status: 404, file: "error_132000_template_not_found_spec.json", wantCode: "132000"},
		{name: "code outside the known set is other", status: 400, file: "error_136024_request_code.json", wantCode: "other"},
		{name: "answer without an error object", status: 502, raw: "<html>Bad Gateway</html>", wantCode: "http_5xx"},
		{name: "connection cut", wantCode: "transport"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var srv *httptest.Server
			switch {
			case tt.file != "":
				srv = serveFile(t, tt.status, tt.file)
			case tt.raw != "":
				srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(tt.status)
					_, _ = w.Write([]byte(tt.raw))
				}))
				t.Cleanup(srv.Close)
			default:
				srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					conn, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						conn.Close()
					}
				}))
				t.Cleanup(srv.Close)
			}
			var out bytes.Buffer
			c := &Client{BaseURL: srv.URL, Metrics: &metrics.Recorder{Out: &out, Function: "sender"}}
			_, err := c.SendMessage(context.Background(), "tok", "100000000000001", map[string]string{"messaging_product": "whatsapp"})
			if (err != nil) != (tt.wantCode != "") {
				t.Fatalf("SendMessage error = %v, want an error: %v", err, tt.wantCode != "")
			}
			pts := readEMF(t, out.Bytes())
			var names []string
			for _, p := range pts {
				names = append(names, p.name)
				if p.dims["Function"] != "sender" {
					t.Errorf("%s: Function = %q, want the recorder's", p.name, p.dims["Function"])
				}
			}
			want := []string{MetricLatency}
			if tt.wantCode != "" {
				want = append(want, MetricErrors)
			}
			if !slices.Equal(names, want) {
				t.Fatalf("metrics = %v, want %v", names, want)
			}
			if pts[0].unit != metrics.Milliseconds || len(pts[0].dims) != 1 {
				t.Errorf("%s: unit %s, dimensions %v; want Milliseconds by Function only", MetricLatency, pts[0].unit, pts[0].dims)
			}
			if tt.wantCode != "" {
				if got := pts[1].dims["Code"]; got != tt.wantCode {
					t.Errorf("%s Code = %q, want %q (error: %v)", MetricErrors, got, tt.wantCode, err)
				}
				if got := MetricCode(err); got != tt.wantCode {
					t.Errorf("MetricCode(%v) = %q, want %q", err, got, tt.wantCode)
				}
			}
		})
	}
}

func TestDownloadRecordsMetrics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte("bytes"))
	}))
	defer srv.Close()
	var out bytes.Buffer
	c := &Client{BaseURL: srv.URL, Metrics: &metrics.Recorder{Out: &out, Function: "media"}}
	body, _, err := c.Download(context.Background(), "tok", srv.URL+"/file")
	if err != nil {
		t.Fatal(err)
	}
	body.Close()
	if _, _, err := c.Download(context.Background(), "tok", srv.URL+"/missing"); err == nil {
		t.Fatal("a 404 download succeeded")
	}
	var got []string
	for _, p := range readEMF(t, out.Bytes()) {
		got = append(got, p.name+"{"+p.dims["Code"]+"}")
	}
	want := []string{MetricLatency + "{}", MetricLatency + "{}", MetricErrors + "{http_4xx}"}
	if !slices.Equal(got, want) {
		t.Errorf("metrics = %v, want %v", got, want)
	}
}

func TestNoRecorderNoMetrics(t *testing.T) {
	srv := serveFile(t, 400, "error_100_invalid_parameter_spec.json")
	c := &Client{BaseURL: srv.URL} // Metrics nil: nothing recorded, no panic
	if _, err := c.SendMessage(context.Background(), "tok", "100000000000001", nil); err == nil {
		t.Fatal("want Meta's error")
	}
}
