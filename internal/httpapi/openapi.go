package httpapi

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3.1 document of the API, served at GET /v1/openapi.json. A test checks
// it against the routes the server registers, both ways.
//
//go:embed openapi.json
var OpenAPI []byte

// routeMux is the server's ServeMux, remembering the patterns registered on it so the OpenAPI
// test can compare them with the document.
type routeMux struct {
	*http.ServeMux
	patterns []string
}

func newRouteMux() *routeMux { return &routeMux{ServeMux: http.NewServeMux()} }

// Handle registers h for pattern and remembers the pattern.
func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

// HandleFunc registers f for pattern and remembers the pattern.
func (m *routeMux) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(f))
}

// Routes returns the patterns registered on the API, in order ("GET /v1/jobs/{id}").
func (a *API) Routes() []string { return append([]string(nil), a.mux.patterns...) }

// routeOpenAPI registers GET /v1/openapi.json.
func (a *API) routeOpenAPI(auth func(http.HandlerFunc) http.Handler) {
	a.mux.Handle("GET /v1/openapi.json", auth(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(OpenAPI) // the client may have gone; nothing to do about it
	}))
}
