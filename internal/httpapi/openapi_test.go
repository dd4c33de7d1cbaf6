package httpapi

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/apitest"
	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi/datamodel"
	"github.com/stretchr/testify/require"
)

// documented reads the document with libopenapi (a full 3.1 model build: every $ref must
// resolve) and returns its operations as "METHOD /path".
func documented(t *testing.T) []string {
	t.Helper()
	// Its errors come back from BuildV3Model; its log would only repeat them.
	doc, err := libopenapi.NewDocumentWithConfiguration(OpenAPI, &datamodel.DocumentConfiguration{
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.Equal(t, "3.1.0", doc.GetVersion())
	model, err := doc.BuildV3Model()
	require.NoError(t, err, "the document builds without errors")
	var ops []string
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().KeysFromOldest() {
			ops = append(ops, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(ops)
	return ops
}

// served turns the API's mux patterns into the document's form: the dashboard's "GET /{$}" is
// "GET /", its asset tree "GET /ui/" is "GET /ui/{asset}", and the catch-all "/" (the 404 of
// unknown routes) is no route.
func served(a *API) []string {
	var out []string
	for _, p := range a.Routes() {
		switch p {
		case "/":
			continue
		case "GET /{$}":
			p = "GET /"
		case "GET /ui/":
			p = "GET /ui/{asset}"
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func testAPI(t *testing.T) *API {
	t.Helper()
	s := apitest.Scheduler(t, jobsched.Config{Workers: 1})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	a, err := New(s, Options{Metrics: ok, Dashboard: ok, EventInterval: time.Hour})
	require.NoError(t, err)
	return a
}

func TestOpenAPIDocumentsEveryRouteAndOnlyThem(t *testing.T) {
	a := testAPI(t)
	require.Equal(t, served(a), documented(t), "the routes served and the operations documented")

	// Each documented operation reaches a handler of its own: not the catch-all 404, not 405.
	for _, op := range documented(t) {
		method, path, _ := strings.Cut(op, " ")
		path = strings.NewReplacer("{id}", "no-such-job", "{name}", "default", "{asset}", "app.js").Replace(path)
		ctx, cancel := context.WithCancel(context.Background())
		if path == "/v1/events" {
			cancel() // a stream: it answers, then ends with the request
		}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, path, strings.NewReader(`{"category":"default"}`)).WithContext(ctx)
		req.Header.Set("Content-Type", "application/json")
		a.ServeHTTP(rec, req)
		cancel()
		require.NotContains(t, []int{http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType, http.StatusForbidden}, rec.Code,
			"%s: %s", op, rec.Body)
		require.NotContains(t, rec.Body.String(), "no route", op)
	}
}

func TestOpenAPIServedAsJSON(t *testing.T) {
	a := testAPI(t)
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/openapi.json", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.Equal(t, OpenAPI, rec.Body.Bytes())
	var doc struct {
		OpenAPI string `json:"openapi"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
}

// The document's error codes are exactly the Code constants of this package.
func TestOpenAPIErrorCodesAreTheAPIs(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	require.NoError(t, err)
	var consts []string
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && strings.HasPrefix(name.Name, "Code") && lit.Kind == token.STRING {
						v, err := strconv.Unquote(lit.Value)
						require.NoError(t, err)
						consts = append(consts, v)
					}
				}
			}
		}
	}
	var doc struct {
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Enum []string `json:"enum"`
								} `json:"code"`
							} `json:"properties"`
						} `json:"error"`
					} `json:"properties"`
				} `json:"Error"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(OpenAPI, &doc))
	require.NotEmpty(t, consts)
	require.ElementsMatch(t, consts, doc.Components.Schemas.Error.Properties.Error.Properties.Code.Enum)
}

// The query parameters of POST /v1/jobs/{id}/retry are documented as the handler reads them.
func TestOpenAPIDocumentsTheRetryParameters(t *testing.T) {
	var doc struct {
		Paths map[string]struct {
			Post struct {
				Parameters []struct {
					Name, In string
					Schema   struct{ Type string }
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(OpenAPI, &doc))
	params := doc.Paths["/v1/jobs/{id}/retry"].Post.Parameters
	require.Len(t, params, 1)
	require.Equal(t, "dependents", params[0].Name)
	require.Equal(t, "query", params[0].In)
	require.Equal(t, "boolean", params[0].Schema.Type)
}
