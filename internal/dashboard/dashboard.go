// Package dashboard serves the daemon's live dashboard: one page and its script and style,
// embedded in the binary (no CDN, no build step). It reads the API like any client: the tree
// and the categories from the event stream (/v1/events); it browses jobs (jobs.js), retries,
// cancels and deletes them, draws a job's parents and children (dag.js), charts the last hour
// (charts.js), edits categories (categories.js), stacks the other nodes' trees on a shared store
// (cluster.js), and it enqueues test jobs.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed assets
var assets embed.FS

// Handler serves GET / (the page) and GET /ui/* (its assets).
func Handler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded folder is part of the binary
	}
	files := http.StripPrefix("/ui/", http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.URL.Path == "/" {
			http.ServeFileFS(w, r, sub, "index.html")
			return
		}
		files.ServeHTTP(w, r)
	})
}
