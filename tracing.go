package jobsched

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Tracing (Config.TracerProvider): a span for each enqueue call and one for each attempt. The
// enqueue span's context is stored with its jobs (persistence.Job.TraceParent, W3C
// traceparent), and each attempt's span is its child, so the spans a handler starts from its ctx
// join the enqueuer's trace, also in another process or after a restart. Without a provider
// (s.tracer nil) none of this runs: no span, no allocation, nothing stored.

// tracerName names the spans' instrumentation scope.
const tracerName = "github.com/jobsched/jobsched"

// Span names and attribute keys.
const (
	spanEnqueue = "jobsched.enqueue"
	spanAttempt = "jobsched.attempt"

	attrJobID       = attribute.Key("jobsched.job.id")
	attrKind        = attribute.Key("jobsched.job.kind")
	attrCategory    = attribute.Key("jobsched.category")
	attrAttempt     = attribute.Key("jobsched.attempt")
	attrMaxAttempts = attribute.Key("jobsched.max_attempts")
	attrBatch       = attribute.Key("jobsched.batch_size")
	attrOutcome     = attribute.Key("jobsched.outcome")
)

// traceContext is the propagator of the stored trace parent.
var traceContext = propagation.TraceContext{}

// newTracer is cfg's tracer, or nil when tracing is off.
func newTracer(cfg Config) trace.Tracer {
	if cfg.TracerProvider == nil {
		return nil
	}
	return cfg.TracerProvider.Tracer(tracerName)
}

// traceEnqueue starts the span of an enqueue call (nil when tracing is off) and stamps each job
// with its trace parent. The caller ends it with endSpan.
func (s *Scheduler) traceEnqueue(ctx context.Context, jobs []*Job) (context.Context, trace.Span) {
	if s.tracer == nil {
		return ctx, nil
	}
	attrs := []attribute.KeyValue{attrBatch.Int(len(jobs))}
	if len(jobs) == 1 {
		j := jobs[0]
		attrs = append(attrs, attrJobID.String(j.ID), attrKind.String(j.Kind), attrCategory.String(j.Category))
	}
	ctx, span := s.tracer.Start(ctx, spanEnqueue, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))
	if tp := traceParent(ctx); tp != "" {
		for _, j := range jobs {
			j.TraceParent = tp
		}
	}
	return ctx, span
}

// traceParent is ctx's span context as a W3C traceparent, or "" when it has none.
func traceParent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	traceContext.Inject(ctx, c)
	return c["traceparent"]
}

// traceAttempt starts the span of an attempt (nil when tracing is off), the child of the job's
// stored trace parent (a root span when it has none).
func (s *Scheduler) traceAttempt(ctx context.Context, j *Job) (context.Context, trace.Span) {
	if s.tracer == nil {
		return ctx, nil
	}
	if j.TraceParent != "" {
		ctx = traceContext.Extract(ctx, propagation.MapCarrier{"traceparent": j.TraceParent})
	}
	return s.tracer.Start(ctx, spanAttempt, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
		attrJobID.String(j.ID), attrKind.String(j.Kind), attrCategory.String(j.Category),
		attrAttempt.Int(j.Attempt), attrMaxAttempts.Int(j.MaxAttempts)))
}

// endAttemptSpan ends an attempt's span with its outcome; a nil span is tracing off.
func endAttemptSpan(span trace.Span, out outcome) {
	if span == nil {
		return
	}
	var what string
	switch {
	case out.result != nil && out.err == "":
		what = "succeeded"
	case out.cancelled:
		what = "cancelled"
	case out.shutdown:
		what = "shutdown"
	case out.panicked:
		what = "panicked"
	default:
		what = "failed"
	}
	span.SetAttributes(attrOutcome.String(what))
	if out.err != "" && !out.cancelled && !out.shutdown {
		span.SetStatus(codes.Error, out.err)
	}
	span.End()
}

// endSpan ends a span with err's status; a nil span is tracing off.
func endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
