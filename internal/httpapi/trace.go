package httpapi

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
)

// traced is r's context with the caller's trace context (the W3C traceparent and tracestate
// headers) in it, so a job enqueued by a traced client joins the client's trace when the
// scheduler traces (jobsched.Config.TracerProvider). Without the header it is r's context.
func traced(r *http.Request) context.Context {
	if r.Header.Get("traceparent") == "" {
		return r.Context()
	}
	return propagation.TraceContext{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
}
