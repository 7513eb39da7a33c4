// Package apidocs serves the management API's reference page: Redoc's
// standalone bundle, vendored in assets/ by `make api-docs` (see
// SOURCES.md), rendering the OpenAPI document served at /openapi.yaml.
package apidocs

import (
	_ "embed"
	"net/http"
)

//go:embed index.html
var page []byte

//go:embed assets/redoc.standalone.js
var bundle []byte

// Policy keeps the page to its own origin: the bundle, the document and
// its schemas come from the API front, never from a CDN. Redoc injects
// its styles (styled-components) and starts its search index in a blob:
// worker, hence 'unsafe-inline' styles and blob: workers. Redoc's footer
// logo, which it loads from cdn.redoc.ly, is blocked on purpose.
const Policy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// Register adds GET /docs (the page) and GET /docs/assets/redoc.standalone.js
// (the bundle) to mux. The page loads the document from GET /openapi.yaml,
// which the caller serves.
func Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /docs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", Policy)
		serve(w, page, "text/html; charset=utf-8", "no-cache")
	})
	mux.HandleFunc("GET /docs/assets/redoc.standalone.js", func(w http.ResponseWriter, r *http.Request) {
		serve(w, bundle, "text/javascript; charset=utf-8", "public, max-age=3600")
	})
}

func serve(w http.ResponseWriter, b []byte, contentType, cache string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", cache)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}
