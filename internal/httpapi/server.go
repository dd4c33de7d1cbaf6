// Package httpapi serves the daemon's HTTP/JSON API (docs/api.md) over a Scheduler.
package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/iox"
)

// Limits of the API.
const (
	// MaxWait bounds ?wait= on POST /v1/jobs.
	MaxWait = 5 * time.Minute
	// MaxBatchBody bounds the body of POST /v1/jobs/batch.
	MaxBatchBody = 64 << 20
	// bodySlack is what a single job's body may hold besides its args.
	bodySlack = 64 << 10
)

// Options configure the API.
type Options struct {
	// AuthToken, when set, is required as "Authorization: Bearer <token>" on every /v1 call and
	// on /metrics. /healthz, /readyz and the dashboard page itself are open.
	AuthToken string
	Logger    *slog.Logger
	// Metrics serves /metrics; nil answers 404.
	Metrics http.Handler
	// Dashboard serves GET / and its assets; nil answers 404.
	Dashboard http.Handler
	// EventInterval is how often /v1/events sends coalesced updates (default 250ms).
	EventInterval time.Duration
	// ListenAddr is the address the server listens on (its real port); with AllowedHosts it
	// sets the Host and Origin values accepted (guard.go). Empty turns the Host check off.
	ListenAddr   string
	AllowedHosts []string
	// TLS says the server serves HTTPS: a Host without a port then means port 443.
	TLS bool
	// MaxInFlightBytes caps the request bodies held at once; a request beyond it gets 503
	// "overloaded" with Retry-After (default DefaultMaxInFlightBytes).
	MaxInFlightBytes int64
	// MaxEventStreams caps the open /v1/events streams; one more gets 503 "overloaded"
	// (default DefaultMaxEventStreams).
	MaxEventStreams int
	// Cluster lists the nodes sharing the store for GET /v1/cluster; nil lists this node alone.
	Cluster ClusterFunc
}

// Defaults of Options.
const (
	DefaultMaxInFlightBytes = 256 << 20
	DefaultMaxEventStreams  = 64
)

// API is the HTTP handler of the daemon.
type API struct {
	s       *jobsched.Scheduler
	opt     Options
	log     *slog.Logger
	mux     *routeMux
	handler http.Handler // mux behind the guard
	cfg     jobsched.Config
	body    int64
	hosts   *hostGuard
	limits  limits
}

// New returns the API over s; it fails only on a bad ListenAddr or AllowedHosts entry.
func New(s *jobsched.Scheduler, opt Options) (*API, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.EventInterval == 0 {
		opt.EventInterval = 250 * time.Millisecond
	}
	if opt.MaxInFlightBytes <= 0 {
		opt.MaxInFlightBytes = DefaultMaxInFlightBytes
	}
	if opt.MaxEventStreams <= 0 {
		opt.MaxEventStreams = DefaultMaxEventStreams
	}
	hosts, err := newHostGuard(opt.ListenAddr, opt.AllowedHosts, opt.TLS)
	if err != nil {
		return nil, err
	}
	a := &API{s: s, opt: opt, log: opt.Logger, mux: newRouteMux(), cfg: s.Config(), hosts: hosts,
		limits: limits{maxBytes: opt.MaxInFlightBytes, maxStreams: int64(opt.MaxEventStreams)}}
	a.body = int64(a.cfg.MaxArgsBytes) + bodySlack
	auth := a.requireToken
	a.mux.Handle("POST /v1/jobs", auth(a.enqueue))
	a.mux.Handle("POST /v1/jobs/batch", auth(a.enqueueBatch))
	a.mux.Handle("GET /v1/jobs", auth(a.list))
	a.mux.Handle("GET /v1/jobs/{id}", auth(a.get))
	a.mux.Handle("POST /v1/jobs/{id}/cancel", auth(a.cancel))
	a.mux.Handle("GET /v1/categories", auth(a.categories))
	a.mux.Handle("POST /v1/categories/{name}/pause", auth(a.pause))
	a.mux.Handle("POST /v1/categories/{name}/resume", auth(a.resume))
	a.mux.Handle("GET /v1/tree", auth(a.tree))
	a.mux.Handle("GET /v1/cluster", auth(a.cluster))
	a.mux.Handle("GET /v1/events", auth(a.events))
	a.routeAdmin(auth)
	a.routeCategories(auth)
	a.routeOpenAPI(auth)
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	a.mux.HandleFunc("GET /readyz", a.readyz)
	if opt.Metrics != nil {
		a.mux.Handle("GET /metrics", auth(opt.Metrics.ServeHTTP))
	}
	if opt.Dashboard != nil {
		a.mux.Handle("GET /{$}", opt.Dashboard)
		a.mux.Handle("GET /ui/", opt.Dashboard)
	}
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, a.log, fmt.Errorf("%w: no route %s %s", jobsched.ErrNotFound, r.Method, r.URL.Path), nil)
	})
	a.handler = a.guard(a.mux)
	return a, nil
}

// ServeHTTP implements http.Handler. A panic in a handler becomes a 500, never a crash.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			a.log.Error("api panic", slog.Any("panic", p), slog.String("path", r.URL.Path))
			writeError(w, a.log, fmt.Errorf("internal error"), nil)
		}
	}()
	a.handler.ServeHTTP(w, r)
}

func (a *API) requireToken(h http.HandlerFunc) http.Handler {
	if a.opt.AuthToken == "" {
		return h
	}
	want := []byte("Bearer " + a.opt.AuthToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="jobsched"`)
			writeJSON(w, http.StatusUnauthorized, ErrorBody{Error: ErrorDetail{Code: CodeUnauthorized,
				Message: "missing or wrong bearer token (Authorization: Bearer <token>)"}})
			return
		}
		h(w, r)
	})
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	if !a.s.Ready() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// readBody reads a bounded body, once the in-flight budget has room for it; release gives the
// room back (call it when the body and what was decoded from it are no longer needed).
func (a *API) readBody(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, release func(), err error) {
	if r.ContentLength > limit {
		return nil, func() {}, fmt.Errorf("request body of %d bytes, over %d: %w", r.ContentLength, limit,
			&http.MaxBytesError{Limit: limit})
	}
	n := limit // a body of unknown length may take up to the limit
	if r.ContentLength >= 0 {
		n = r.ContentLength
	}
	release, err = a.limits.takeBytes(n)
	if err != nil {
		return nil, release, err
	}
	b, err := iox.ReadAll(http.MaxBytesReader(w, r.Body, limit), r.ContentLength)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, release, fmt.Errorf("request body over %d bytes: %w", limit, err)
		}
		return nil, release, &jobsched.InvalidError{Field: "body", Reason: err.Error()}
	}
	return b, release, nil
}

func (a *API) enqueue(w http.ResponseWriter, r *http.Request) {
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > MaxWait {
			writeError(w, a.log, &jobsched.InvalidError{Field: "wait", Reason: fmt.Sprintf("want a duration from 1ms to %s, got %q", MaxWait, v)}, nil)
			return
		}
		wait = d
	}
	body, release, err := a.readBody(w, r, a.body)
	defer release()
	if err != nil {
		writeError(w, a.log, err, nil)
		return
	}
	spec, err := decodeSpec(body, "")
	if err != nil {
		writeError(w, a.log, err, nil)
		return
	}
	ectx := traced(r)
	if wait > 0 {
		// The job may start before its enqueue is acknowledged (docs/durability.md): a caller
		// that leaves meanwhile must still find waitFor with the job's id, to cancel it.
		ectx = context.WithoutCancel(ectx)
	}
	job, err := a.s.Enqueue(ectx, spec)
	if err != nil {
		writeError(w, a.log, err, job)
		return
	}
	if wait == 0 {
		writeJob(w, http.StatusCreated, job)
		return
	}
	a.waitFor(w, r, job, wait)
}

// waitFor answers with the finished job, or with the job as it is (202) when wait runs out. If
// the caller leaves first, the job is cancelled: nobody wants its result any more.
func (a *API) waitFor(w http.ResponseWriter, r *http.Request, job *jobsched.Job, wait time.Duration) {
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	done, err := a.s.Wait(ctx, job.ID)
	switch {
	case err == nil:
		writeJob(w, http.StatusCreated, done)
	case r.Context().Err() != nil:
		// The client disconnected: cancel on a context of our own, the request's is done.
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
		defer ccancel()
		if _, err := a.s.Cancel(cctx, job.ID); err != nil && !errors.Is(err, jobsched.ErrFinished) {
			a.log.Warn("cancel job of a departed caller", slog.String("job", job.ID), slog.Any("err", err))
		}
	case errors.Is(err, ctx.Err()):
		cur, gerr := a.s.Get(r.Context(), job.ID)
		if gerr != nil {
			writeError(w, a.log, gerr, nil)
			return
		}
		writeJob(w, http.StatusAccepted, cur)
	default:
		writeError(w, a.log, err, nil)
	}
}

// BatchRequest is the body of POST /v1/jobs/batch.
type BatchRequest struct {
	Jobs []json.RawMessage `json:"jobs"`
}

// JobList is the answer of GET /v1/jobs and POST /v1/jobs/batch.
type JobList struct {
	Jobs       []*jobsched.Job `json:"jobs"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

func (a *API) enqueueBatch(w http.ResponseWriter, r *http.Request) {
	idsOnly, err := batchFields(r)
	if err != nil {
		writeError(w, a.log, err, nil)
		return
	}
	body, release, err := a.readBody(w, r, MaxBatchBody)
	defer release()
	if err != nil {
		writeError(w, a.log, err, nil)
		return
	}
	specs, err := decodeBatch(body, a.cfg.MaxBatch)
	if err != nil {
		writeError(w, a.log, err, nil)
		return
	}
	jobs, err := a.s.EnqueueBatch(traced(r), specs)
	if err != nil {
		writeError(w, a.log, err, nil)
		return
	}
	if idsOnly {
		writeJobIDs(w, http.StatusCreated, jobs)
		return
	}
	writeJobList(w, http.StatusCreated, JobList{Jobs: jobs})
}

// batchFields reads the query of POST /v1/jobs/batch: ?fields=id answers the jobs with their
// ids alone, {"jobs":[{"id":"..."},...]}, in order (a client that keeps only the ids saves the
// daemon writing, and itself reading, the rest).
func batchFields(r *http.Request) (idsOnly bool, err error) {
	if r.URL.RawQuery == "" {
		return false, nil
	}
	q := r.URL.Query()
	for _, k := range slices.Sorted(maps.Keys(q)) { // the same error for the same query
		switch v := q[k]; {
		case k != "fields":
			return false, &jobsched.InvalidError{Field: k, Reason: "unknown query parameter"}
		case len(v) != 1 || v[0] != "id":
			return false, &jobsched.InvalidError{Field: "fields", Reason: fmt.Sprintf(`want "id" (the jobs of the answer with their ids alone), got %q`, strings.Join(v, ","))}
		}
	}
	return true, nil
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	job, err := a.s.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, a.log, err, nil)
		return
	}
	writeJob(w, http.StatusOK, job)
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "category", "kind", "state", "limit", "cursor":
		default:
			writeError(w, a.log, &jobsched.InvalidError{Field: k, Reason: "unknown query parameter"}, nil)
			return
		}
	}
	opt := jobsched.ListOptions{Category: q.Get("category"), Kind: q.Get("kind"), State: jobsched.State(q.Get("state")), Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, a.log, &jobsched.InvalidError{Field: "limit", Reason: fmt.Sprintf("want a positive integer, got %q", v)}, nil)
			return
		}
		opt.Limit = n
	}
	jobs, next, err := a.s.List(r.Context(), opt)
	if err != nil {
		writeError(w, a.log, err, nil)
		return
	}
	if jobs == nil {
		jobs = []*jobsched.Job{}
	}
	writeJobList(w, http.StatusOK, JobList{Jobs: jobs, NextCursor: next})
}

func (a *API) cancel(w http.ResponseWriter, r *http.Request) {
	job, err := a.s.Cancel(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, a.log, err, job)
		return
	}
	writeJob(w, http.StatusOK, job)
}

// CategoryList is the answer of GET /v1/categories.
type CategoryList struct {
	Categories []CategoryJSON `json:"categories"`
}

// CategoryJSON is one category in the API.
type CategoryJSON struct {
	Name       string  `json:"name"`
	Priority   int     `json:"priority"`
	MinWorkers int     `json:"min_workers"`
	MaxWorkers int     `json:"max_workers"`
	QueueLimit int     `json:"queue_limit"`
	RateLimit  float64 `json:"rate_limit"`
	RateBurst  int     `json:"rate_burst"`
	// FairnessWeights: the category's weights by fairness_key (omitted when none is set).
	FairnessWeights map[string]int         `json:"fairness_weights,omitempty"`
	Paused          bool                   `json:"paused"`
	Pending         int                    `json:"pending"`
	Queued          int                    `json:"queued"`
	Scheduled       int                    `json:"scheduled"`
	Retrying        int                    `json:"retrying"`
	Running         int                    `json:"running"`
	Workers         WorkersJSON            `json:"workers"`
	Counters        map[jobsched.State]int `json:"counters"`
	Resizes         int                    `json:"resizes"`
}

// WorkersJSON is a category's workers.
type WorkersJSON struct {
	Allocated int `json:"allocated"`
	Busy      int `json:"busy"`
}

func categoryJSON(c jobsched.CategoryInfo) CategoryJSON {
	return CategoryJSON{Name: c.Name, Priority: c.Priority, MinWorkers: c.MinWorkers, MaxWorkers: c.MaxWorkers,
		QueueLimit: c.QueueLimit, RateLimit: c.RateLimit, RateBurst: c.RateBurst, FairnessWeights: c.FairnessWeights, Paused: c.Paused, Pending: c.Counts[jobsched.StatePending], Queued: c.Counts[jobsched.StateQueued],
		Scheduled: c.Counts[jobsched.StateScheduled], Retrying: c.Counts[jobsched.StateRetrying],
		Running: c.Counts[jobsched.StateRunning], Workers: WorkersJSON{Allocated: c.Allocated, Busy: c.Busy},
		Counters: map[jobsched.State]int{jobsched.StateSucceeded: c.Counts[jobsched.StateSucceeded],
			jobsched.StateDead: c.Counts[jobsched.StateDead], jobsched.StateCancelled: c.Counts[jobsched.StateCancelled]},
		Resizes: c.Resizes}
}

func (a *API) categoryList() CategoryList {
	infos := a.s.Categories()
	out := CategoryList{Categories: make([]CategoryJSON, len(infos))}
	for i, c := range infos {
		out.Categories[i] = categoryJSON(c)
	}
	return out
}

func (a *API) categories(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.categoryList())
}

func (a *API) pause(w http.ResponseWriter, r *http.Request)  { a.pauseResume(w, r, true) }
func (a *API) resume(w http.ResponseWriter, r *http.Request) { a.pauseResume(w, r, false) }

func (a *API) pauseResume(w http.ResponseWriter, r *http.Request, pause bool) {
	name := r.PathValue("name")
	var err error
	if pause {
		err = a.s.Pause(name)
	} else {
		err = a.s.Resume(name)
	}
	if err != nil {
		writeError(w, a.log, err, nil)
		return
	}
	for _, c := range a.s.Categories() {
		if c.Name == name {
			writeJSON(w, http.StatusOK, categoryJSON(c))
			return
		}
	}
}

func (a *API) tree(w http.ResponseWriter, r *http.Request) {
	nodes := a.s.Tree()
	if len(nodes) == 0 {
		writeError(w, a.log, jobsched.ErrNotStarted, nil)
		return
	}
	writeJSON(w, http.StatusOK, nodes[0])
}
