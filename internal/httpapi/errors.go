package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/jobsched/jobsched"
)

// Error codes of the API's error object.
const (
	CodeInvalid      = "invalid_argument"
	CodeNotFound     = "not_found"
	CodeDuplicate    = "duplicate"
	CodeFinished     = "finished"
	CodeTooLarge     = "too_large"
	CodeQueueFull    = "queue_full"
	CodeUnavailable  = "unavailable"
	CodeUnauthorized = "unauthorized"
	CodeInternal     = "internal"
	CodeDiskFull     = "disk_full"
)

// ErrorBody is the JSON of every error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
	// Job is the existing job of a duplicate, or the finished job of a refused cancel.
	Job *jobsched.Job `json:"job,omitempty"`
}

// ErrorDetail says what went wrong; Field names the bad field of invalid_argument and too_large.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// RetryAfterSeconds is the Retry-After of a 429.
const RetryAfterSeconds = "1"

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client may have gone; nothing to do about it
}

func writeError(w http.ResponseWriter, log *slog.Logger, err error, job *jobsched.Job) {
	status, body := classify(err)
	body.Job = job
	if status == http.StatusTooManyRequests || errors.Is(err, errOverloaded) {
		w.Header().Set("Retry-After", RetryAfterSeconds)
	}
	if status == http.StatusInternalServerError {
		log.Error("api", slog.Any("err", err))
	}
	writeJSON(w, status, body)
}

func classify(err error) (int, ErrorBody) {
	var inv *jobsched.InvalidError
	var tooBig *http.MaxBytesError
	e := func(code, field string) ErrorBody {
		return ErrorBody{Error: ErrorDetail{Code: code, Message: err.Error(), Field: field}}
	}
	switch {
	case errors.Is(err, errOverloaded):
		return http.StatusServiceUnavailable, e(CodeOverloaded, "")
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, e(CodeTooLarge, "body")
	case errors.As(err, &inv) && errors.Is(err, jobsched.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, e(CodeTooLarge, inv.Field)
	case errors.As(err, &inv):
		return http.StatusBadRequest, e(CodeInvalid, inv.Field)
	case errors.Is(err, jobsched.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, e(CodeTooLarge, "")
	case errors.Is(err, jobsched.ErrNotFound):
		return http.StatusNotFound, e(CodeNotFound, "")
	case errors.Is(err, jobsched.ErrDuplicate):
		return http.StatusConflict, e(CodeDuplicate, "unique_key")
	case errors.Is(err, jobsched.ErrFinished):
		return http.StatusConflict, e(CodeFinished, "")
	case errors.Is(err, jobsched.ErrDiskFull):
		return http.StatusInsufficientStorage, e(CodeDiskFull, "")
	case errors.Is(err, jobsched.ErrQueueFull):
		return http.StatusTooManyRequests, e(CodeQueueFull, "category")
	case errors.Is(err, jobsched.ErrClosed), errors.Is(err, jobsched.ErrNotStarted), errors.Is(err, jobsched.ErrStopped),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, e(CodeUnavailable, "")
	default:
		return http.StatusInternalServerError, e(CodeInternal, "")
	}
}
