package connector

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"

	"github.com/tucanlink/wacloud/local/apidocs"
)

// schemaName is a JSON Schema file of schema/ (no path elements).
var schemaName = regexp.MustCompile(`^[a-z0-9-]+\.schema\.json$`)

// withDocs serves the management API's OpenAPI document beside the API
// front: GET /openapi.yaml (api/openapi.yaml) and GET /schema/{file} (the
// JSON Schemas it refers to as ../schema/{file}, which resolve there from
// /openapi.yaml), and its reference page GET /docs (Redoc, vendored in
// local/apidocs). Files are read on each request, so an edit shows at
// once. Everything else goes to the API front.
func withDocs(api http.Handler, repo string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", api)
	apidocs.Register(mux)
	mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		serveFile(w, filepath.Join(repo, "api", "openapi.yaml"), "application/yaml")
	})
	mux.HandleFunc("GET /schema/{file}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if !schemaName.MatchString(name) {
			http.NotFound(w, r)
			return
		}
		serveFile(w, filepath.Join(repo, "schema", name), "application/schema+json")
	})
	return mux
}

func serveFile(w http.ResponseWriter, path, contentType string) {
	b, err := os.ReadFile(path)
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}
