package jobsched_test

import (
	"context"
	"fmt"
	"time"

	"github.com/jobsched/jobsched"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// With a TracerProvider, a job runs in its enqueuer's trace: the spans a handler starts from its
// ctx join the trace of the request that enqueued it.
func ExampleConfig_tracerProvider() {
	spans := tracetest.NewSpanRecorder() // in a program: an OTLP exporter (sdktrace.WithBatcher)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() {
		if err := tp.Shutdown(context.Background()); err != nil { // with a batcher: flushes the last spans
			panic(err)
		}
	}()

	s, err := jobsched.New(jobsched.Config{TracerProvider: tp})
	if err != nil {
		panic(err)
	}
	tracer := tp.Tracer("example")
	if err := s.Register("email", func(ctx context.Context, j *jobsched.Job) (any, error) {
		_, span := tracer.Start(ctx, "smtp.send") // a child of the attempt's span
		defer span.End()
		return nil, nil
	}); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		panic(err)
	}
	defer func() {
		if err := s.Close(context.Background()); err != nil {
			panic(err)
		}
	}()

	reqCtx, request := tracer.Start(ctx, "POST /signup")
	j, err := s.Enqueue(reqCtx, jobsched.JobSpec{Kind: "email"})
	if err != nil {
		panic(err)
	}
	request.End()
	if _, err := s.Wait(ctx, j.ID); err != nil {
		panic(err)
	}
	for _, name := range []string{"jobsched.enqueue", "jobsched.attempt", "smtp.send"} {
		fmt.Println(name, "in the request's trace:", inTrace(spans, name, request.SpanContext().TraceID()))
	}
	// Output:
	// jobsched.enqueue in the request's trace: true
	// jobsched.attempt in the request's trace: true
	// smtp.send in the request's trace: true
}

// inTrace reports whether the ended span of that name is in trace id. Every span of a job has
// ended by the time Wait returns: the attempt's ends before its outcome is stored.
func inTrace(rec *tracetest.SpanRecorder, name string, id trace.TraceID) bool {
	for _, s := range rec.Ended() {
		if s.Name() == name {
			return s.SpanContext().TraceID() == id
		}
	}
	return false
}
