package connector

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// docsServer serves what the local API front serves beside the functions:
// the OpenAPI document, its schemas and the reference page.
func docsServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(withDocs(http.NotFoundHandler(), "../.."))
	t.Cleanup(s.Close)
	return s
}

func get(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestDocsServed: GET /docs is an HTML page and its bundle is the vendored
// Redoc, both with their content types.
func TestDocsServed(t *testing.T) {
	s := docsServer(t)
	bundle, err := os.ReadFile("../apidocs/assets/redoc.standalone.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, contentType string
		body                    []byte // nil: not compared
	}{
		{name: "page", path: "/docs", contentType: "text/html; charset=utf-8"},
		{name: "bundle", path: "/docs/assets/redoc.standalone.js", contentType: "text/javascript; charset=utf-8", body: bundle},
		{name: "document", path: "/openapi.yaml", contentType: "application/yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, got := get(t, s.URL+tc.path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d", tc.path, resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != tc.contentType {
				t.Errorf("GET %s: Content-Type %q, want %q", tc.path, ct, tc.contentType)
			}
			if tc.body != nil && !bytes.Equal(got, tc.body) {
				t.Errorf("GET %s: %d bytes, want the vendored file (%d bytes)", tc.path, len(got), len(tc.body))
			}
		})
	}
	resp, _ := get(t, s.URL+"/docs/assets/redoc.standalone.js.map")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /docs/assets/redoc.standalone.js.map: %d, want 404", resp.StatusCode)
	}
}

// attrURL is an attribute of the page that makes the browser load something.
var attrURL = regexp.MustCompile(`\b(src|href|spec-url|action|srcset)\s*=\s*"([^"]*)"`)

// TestDocsPageLoadsOnlyLocalAssets: everything the page loads comes from
// the API front itself (no CDN) and is there, and its policy forbids
// anything else.
func TestDocsPageLoadsOnlyLocalAssets(t *testing.T) {
	s := docsServer(t)
	resp, page := get(t, s.URL+"/docs")
	refs := attrURL.FindAllStringSubmatch(string(page), -1)
	if len(refs) == 0 {
		t.Fatal("the page loads nothing; want the bundle and the document")
	}
	seen := map[string]bool{}
	for _, m := range refs {
		ref := m[2]
		seen[ref] = true
		if !strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "//") {
			t.Errorf("%s=%q: not a path on the API front", m[1], ref)
			continue
		}
		r, _ := get(t, s.URL+ref)
		if r.StatusCode != http.StatusOK {
			t.Errorf("%s=%q: GET answered %d", m[1], ref, r.StatusCode)
		}
	}
	for _, want := range []string{"/docs/assets/redoc.standalone.js", "/openapi.yaml"} {
		if !seen[want] {
			t.Errorf("the page does not load %s", want)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "script-src 'self';") {
		t.Errorf("Content-Security-Policy %q: want default-src and script-src 'self'", csp)
	}
}

// TestDocsDocumentReferencesResolve: every reference of api/openapi.yaml
// to another file resolves, from /openapi.yaml where the page loads it.
func TestDocsDocumentReferencesResolve(t *testing.T) {
	s := docsServer(t)
	_, doc := get(t, s.URL+"/openapi.yaml")
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		t.Fatal(err)
	}
	refs := map[string]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 && c.Value == "$ref" {
				if ref := n.Content[i+1].Value; !strings.HasPrefix(ref, "#") {
					refs[ref] = true
				}
			}
			walk(c)
		}
	}
	walk(&root)
	if len(refs) == 0 {
		t.Fatal("api/openapi.yaml refers to no other file; want the event and job schemas")
	}
	base, _ := url.Parse(s.URL + "/openapi.yaml")
	for ref := range refs {
		u, err := base.Parse(ref)
		if err != nil {
			t.Errorf("$ref %q: %v", ref, err)
			continue
		}
		u.Fragment = ""
		if u.Host != base.Host {
			t.Errorf("$ref %q: leaves the API front (%s)", ref, u)
			continue
		}
		if r, _ := get(t, u.String()); r.StatusCode != http.StatusOK {
			t.Errorf("$ref %q: GET %s answered %d", ref, u.Path, r.StatusCode)
		}
	}
}

// operations lists the summary and path of every operation of
// api/openapi.yaml, and the summary of every webhook.
func operations(t *testing.T, doc []byte) (summaries, paths []string) {
	t.Helper()
	var d struct {
		Paths    map[string]map[string]any `yaml:"paths"`
		Webhooks map[string]map[string]any `yaml:"webhooks"`
	}
	if err := yaml.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	ops := func(item map[string]any) {
		for _, op := range item {
			if m, ok := op.(map[string]any); ok {
				if s, ok := m["summary"].(string); ok {
					summaries = append(summaries, s)
				}
			}
		}
	}
	for path, item := range d.Paths {
		paths = append(paths, path)
		ops(item)
	}
	for _, item := range d.Webhooks {
		ops(item)
	}
	return summaries, paths
}

// TestDocsPageRendersInChromium opens GET /docs in headless Chromium and
// checks that the rendered page shows every operation of the document
// (Redoc renders nothing when a $ref to schema/ fails to load).
// It runs only when WACLOUD_CHROMIUM names a Chromium binary (make
// check-api-docs does so), as CI machines have none; WACLOUD_DOCS_URL
// checks a running make local (http://127.0.0.1:3000) instead of a test
// server, WACLOUD_DOCS_SCREENSHOT saves a PNG of the page there.
func TestDocsPageRendersInChromium(t *testing.T) {
	chromium := os.Getenv("WACLOUD_CHROMIUM")
	if chromium == "" {
		t.Skip("WACLOUD_CHROMIUM unset: run make check-api-docs")
	}
	base := strings.TrimSuffix(os.Getenv("WACLOUD_DOCS_URL"), "/")
	if base == "" {
		base = docsServer(t).URL
	}
	_, doc := get(t, base+"/openapi.yaml")
	summaries, paths := operations(t, doc)
	if len(summaries) == 0 || len(paths) == 0 {
		t.Fatal("api/openapi.yaml has no operations")
	}

	run := func(args ...string) []byte {
		t.Helper()
		flags := []string{"--headless", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
			"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=20000"}
		if os.Geteuid() == 0 {
			flags = append(flags, "--no-sandbox")
		}
		cmd := exec.Command(chromium, append(append(flags, args...), base+"/docs")...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", chromium, err, stderr.String())
		}
		return out
	}
	dom := string(run("--dump-dom"))
	if strings.Contains(dom, "Something went wrong") || strings.Contains(dom, "Error downloading") {
		t.Errorf("Redoc reports an error rendering the document")
	}
	for _, want := range append(summaries, paths...) {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	if shot := os.Getenv("WACLOUD_DOCS_SCREENSHOT"); shot != "" {
		abs, err := filepath.Abs(shot)
		if err != nil {
			t.Fatal(err)
		}
		run("--screenshot="+abs, "--window-size=1400,1000")
		t.Logf("screenshot: %s", abs)
	}
	t.Logf("rendered %d operations (%d paths) from %s/docs", len(summaries), len(paths), base)
}
