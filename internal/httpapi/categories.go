package httpapi

import (
	"errors"
	"net/http"

	"github.com/jobsched/jobsched"
)

// CodeCategoryInUse: DELETE /v1/categories/{name} refused a category that holds unfinished
// jobs, or the default category.
const CodeCategoryInUse = "category_in_use"

// maxCategoryBody bounds the body of PUT /v1/categories/{name}: a handful of numbers.
const maxCategoryBody = 64 << 10

// CategorySettings is the body of PUT /v1/categories/{name}: the settings of an entry of the
// configuration's categories (its name comes from the path). An absent field takes its default.
type CategorySettings struct {
	Priority   int     `json:"priority"`
	MinWorkers *int    `json:"min_workers"`
	MaxWorkers int     `json:"max_workers"`
	QueueLimit int     `json:"queue_limit"`
	RateLimit  float64 `json:"rate_limit"`
	RateBurst  int     `json:"rate_burst"`
	// FairnessWeights: jobs served per round-robin turn, by fairness key (default 1).
	FairnessWeights map[string]int `json:"fairness_weights,omitempty"`
}

// routeCategories registers the routes that change categories at runtime.
func (a *API) routeCategories(auth func(http.HandlerFunc) http.Handler) {
	a.mux.Handle("PUT /v1/categories/{name}", auth(a.putCategory))
	a.mux.Handle("DELETE /v1/categories/{name}", auth(a.deleteCategory))
}

func (a *API) putCategory(w http.ResponseWriter, r *http.Request) {
	body, release, err := a.readBody(w, r, maxCategoryBody)
	defer release()
	if err != nil {
		writeError(w, a.log, err, nil)
		return
	}
	var in CategorySettings
	if err := strictUnmarshal(body, &in); err != nil {
		writeError(w, a.log, &jobsched.InvalidError{Field: "body", Reason: cleanJSONError(err)}, nil)
		return
	}
	c := jobsched.Category{Name: r.PathValue("name"), Priority: in.Priority, MaxWorkers: in.MaxWorkers,
		QueueLimit: in.QueueLimit, RateLimit: in.RateLimit, RateBurst: in.RateBurst, FairnessWeights: in.FairnessWeights}
	if in.MinWorkers != nil {
		c.MinWorkers = jobsched.MinWorkersValue(*in.MinWorkers)
	}
	_, created, err := a.s.PutCategory(r.Context(), c)
	if err != nil {
		writeError(w, a.log, err, nil)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	for _, info := range a.s.Categories() {
		if info.Name == c.Name {
			writeJSON(w, status, categoryJSON(info))
			return
		}
	}
	writeError(w, a.log, jobsched.ErrNotFound, nil) // deleted meanwhile
}

func (a *API) deleteCategory(w http.ResponseWriter, r *http.Request) {
	err := a.s.DeleteCategory(r.Context(), r.PathValue("name"))
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, jobsched.ErrCategoryInUse):
		writeJSON(w, http.StatusConflict, ErrorBody{Error: ErrorDetail{Code: CodeCategoryInUse, Message: err.Error()}})
	default:
		writeError(w, a.log, err, nil)
	}
}
