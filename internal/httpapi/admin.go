package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/jobsched/jobsched"
)

// Error codes of the job admin routes.
const (
	CodeNotRetryable = "not_retryable"
	CodeNotFinished  = "not_finished"
)

// maxFilterBody bounds the body of the bulk routes: a filter is three short strings.
const maxFilterBody = 64 << 10

// CountBody is the answer of the bulk routes POST /v1/jobs/retry and POST /v1/jobs/cancel.
type CountBody struct {
	Count int `json:"count"`
}

// routeAdmin registers the job admin routes: retry, delete, and the bulk retry and cancel.
func (a *API) routeAdmin(auth func(http.HandlerFunc) http.Handler) {
	a.mux.Handle("POST /v1/jobs/{id}/retry", auth(a.retry))
	a.mux.Handle("DELETE /v1/jobs/{id}", auth(a.deleteJob))
	a.mux.Handle("POST /v1/jobs/retry", auth(a.retryWhere))
	a.mux.Handle("POST /v1/jobs/cancel", auth(a.cancelWhere))
}

func (a *API) retry(w http.ResponseWriter, r *http.Request) {
	var opt jobsched.RetryOptions
	if v := r.URL.Query().Get("dependents"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, a.log, &jobsched.InvalidError{Field: "dependents", Reason: fmt.Sprintf("want true or false, got %q", v)}, nil)
			return
		}
		opt.Dependents = b
	}
	job, err := a.s.RetryWith(r.Context(), r.PathValue("id"), opt)
	if errors.Is(err, jobsched.ErrNoDependents) {
		err = &jobsched.InvalidError{Field: "dependents", Reason: err.Error()}
	}
	if err != nil {
		writeAdminError(w, a.log, err, job)
		return
	}
	writeJSON(w, http.StatusOK, job)
}

func (a *API) deleteJob(w http.ResponseWriter, r *http.Request) {
	if err := a.s.Delete(r.Context(), r.PathValue("id")); err != nil {
		writeAdminError(w, a.log, err, nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) retryWhere(w http.ResponseWriter, r *http.Request) {
	a.bulk(w, r, a.s.RetryWhere)
}

func (a *API) cancelWhere(w http.ResponseWriter, r *http.Request) {
	a.bulk(w, r, a.s.CancelWhere)
}

// bulk decodes a filter {"category","kind","state"} (unknown fields refused) and answers with
// the count of jobs the operation changed.
func (a *API) bulk(w http.ResponseWriter, r *http.Request, op func(context.Context, jobsched.Filter) (int, error)) {
	body, release, err := a.readBody(w, r, maxFilterBody)
	defer release()
	if err != nil {
		writeError(w, a.log, err, nil)
		return
	}
	var f jobsched.Filter
	if err := strictUnmarshal(body, &f); err != nil {
		writeError(w, a.log, &jobsched.InvalidError{Field: "body", Reason: cleanJSONError(err)}, nil)
		return
	}
	n, err := op(r.Context(), f)
	if err != nil {
		writeAdminError(w, a.log, err, nil)
		return
	}
	writeJSON(w, http.StatusOK, CountBody{Count: n})
}

// writeAdminError answers the admin routes' own refusals with 409 and their code, and everything
// else as writeError does.
func writeAdminError(w http.ResponseWriter, log *slog.Logger, err error, job *jobsched.Job) {
	code := ""
	switch {
	case errors.Is(err, jobsched.ErrNotRetryable):
		code = CodeNotRetryable
	case errors.Is(err, jobsched.ErrNotFinished):
		code = CodeNotFinished
	default:
		writeError(w, log, err, job)
		return
	}
	writeJSON(w, http.StatusConflict, ErrorBody{Error: ErrorDetail{Code: code, Message: err.Error()}, Job: job})
}
