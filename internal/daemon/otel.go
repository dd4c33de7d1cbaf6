package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"

	"github.com/jobsched/jobsched"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// OTelConfig is the otel section: OpenTelemetry tracing, off unless endpoint is set or enabled
// is true. The exporter also reads the standard OTEL_EXPORTER_OTLP_* variables (headers,
// timeout, certificates, and the endpoint when the file names none); the file wins over them.
type OTelConfig struct {
	// Enabled turns tracing on with the endpoint of the OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT
	// variables (or the exporter's default, localhost); a set endpoint turns it on by itself.
	Enabled bool `yaml:"enabled"`
	// Endpoint is the OTLP receiver's URL: http://collector:4318 for protocol http (the path
	// /v1/traces is added unless the URL has one), http://collector:4317 for grpc; https:// uses TLS.
	Endpoint string `yaml:"endpoint"`
	// Protocol is "http" (OTLP over HTTP with protobuf, the default) or "grpc".
	Protocol string `yaml:"protocol"`
	// ServiceName is the service.name of the spans (default: OTEL_SERVICE_NAME, else "jobsched").
	ServiceName string `yaml:"service_name"`
	// SampleRatio is the share of the traces started here that are kept, 0 to 1 (default 1); a
	// job enqueued under a trace follows its enqueuer's decision.
	SampleRatio *float64 `yaml:"sample_ratio"`
}

// on reports whether tracing is configured.
func (o OTelConfig) on() bool { return o.Enabled || o.Endpoint != "" }

// check validates the otel section; errors name the key.
func (o OTelConfig) check() error {
	switch o.Protocol {
	case "", "http", "grpc":
	default:
		return &jobsched.InvalidError{Field: "otel.protocol", Reason: fmt.Sprintf("%q must be http or grpc", o.Protocol)}
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &jobsched.InvalidError{Field: "otel.endpoint", Reason: fmt.Sprintf("%q must be an http:// or https:// URL such as http://collector:4318", o.Endpoint)}
		}
	}
	if r := o.SampleRatio; r != nil && (*r < 0 || *r > 1 || *r != *r) {
		return &jobsched.InvalidError{Field: "otel.sample_ratio", Reason: fmt.Sprintf("%v must be between 0 and 1", *r)}
	}
	return nil
}

// startTracing builds the tracer provider of the otel section: nil when tracing is off (no
// exporter, no goroutine). Its Shutdown flushes the spans not yet sent.
func startTracing(ctx context.Context, o OTelConfig, log *slog.Logger) (*sdktrace.TracerProvider, error) {
	if !o.on() {
		return nil, nil
	}
	var (
		exp *otlptrace.Exporter
		err error
	)
	if o.Protocol == "grpc" {
		var opts []otlptracegrpc.Option
		if o.Endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(o.Endpoint))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	} else {
		var opts []otlptracehttp.Option
		if o.Endpoint != "" {
			opts = append(opts, otlptracehttp.WithEndpointURL(endpointURL(o.Endpoint)))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	}
	if err != nil {
		return nil, &jobsched.InvalidError{Field: "otel", Reason: err.Error()}
	}
	name := o.ServiceName
	if name == "" {
		name = os.Getenv("OTEL_SERVICE_NAME")
	}
	if name == "" {
		name = "jobsched"
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", name)))
	if err != nil {
		return nil, fmt.Errorf("otel: resource: %w", err)
	}
	ratio := 1.0
	if o.SampleRatio != nil {
		ratio = *o.SampleRatio
	}
	// The exporter's failures (a collector down) go to the daemon's log, not to stderr.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("otel: export spans", slog.Any("err", err)) }))
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)))), nil
}

// endpointURL adds the OTLP/HTTP traces path to an endpoint URL that has no path.
func endpointURL(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Path != "" && u.Path != "/") {
		return endpoint
	}
	u.Path = "/v1/traces"
	return u.String()
}

// stopTracing flushes and stops a tracer provider (nil: tracing off).
func stopTracing(ctx context.Context, tp *sdktrace.TracerProvider) error {
	if tp == nil {
		return nil
	}
	if err := tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("otel: flush spans: %w", err)
	}
	return nil
}
