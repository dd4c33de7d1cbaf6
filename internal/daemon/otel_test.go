package daemon

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is a real OTLP/HTTP traces endpoint: it decodes the protobuf requests the
// exporter posts and keeps their spans with their resource's service.name.
type otlpReceiver struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want POST /v1/traces application/x-protobuf", http.StatusBadRequest)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.add(&req)
	resp, err := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp) // the exporter reports a failed write itself
}

// add keeps the spans of an export request.
func (o *otlpReceiver) add(req *coltracepb.ExportTraceServiceRequest) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				o.services = append(o.services, a.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
}

// grpcReceiver is the OTLP/gRPC trace service over an otlpReceiver.
type grpcReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	o *otlpReceiver
}

// Export implements the OTLP trace service.
func (g grpcReceiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	g.o.add(req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (o *otlpReceiver) named(name string) []*tracepb.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range o.spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// The daemon with an otel section exports its spans to an OTLP/HTTP receiver; a job enqueued
// over the API with a traceparent header joins the caller's trace.
func TestDaemonExportsSpansOverOTLPHTTP(t *testing.T) {
	recv := &otlpReceiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()

	cfg := Defaults()
	cfg.Listen, cfg.Data = "127.0.0.1:0", t.TempDir()
	cfg.OTel = OTelConfig{Endpoint: srv.URL, ServiceName: "jobsched-test"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := Start(ctx, cfg, Options{})
	require.NoError(t, err)
	stopped := false
	defer func() {
		if !stopped {
			require.NoError(t, d.Shutdown(ctx))
		}
	}()

	const traceID, parentID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+d.Addr()+"/v1/jobs", strings.NewReader(`{"kind":"sleep","args":{"ms":1}}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var job jobsched.Job
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&job))
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Contains(t, job.TraceParent, traceID)
	done, err := d.Scheduler().Wait(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, jobsched.StateSucceeded, done.State)
	require.NoError(t, d.Shutdown(ctx)) // flushes the spans
	stopped = true

	enq, att := recv.named("jobsched.enqueue"), recv.named("jobsched.attempt")
	require.Len(t, enq, 1)
	require.Len(t, att, 1)
	require.Equal(t, traceID, hex.EncodeToString(enq[0].TraceId))
	require.Equal(t, parentID, hex.EncodeToString(enq[0].ParentSpanId), "the enqueue is the caller's child")
	require.Equal(t, traceID, hex.EncodeToString(att[0].TraceId))
	require.Equal(t, enq[0].SpanId, att[0].ParentSpanId, "the attempt is the enqueue's child")
	recv.mu.Lock()
	require.Contains(t, recv.services, "jobsched-test")
	recv.mu.Unlock()
}

// With protocol grpc the spans go to an OTLP/gRPC receiver.
func TestDaemonExportsSpansOverOTLPGRPC(t *testing.T) {
	recv := &otlpReceiver{}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gs := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(gs, grpcReceiver{o: recv})
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	defer func() {
		gs.Stop()
		require.NoError(t, <-served)
	}()

	cfg := Defaults()
	cfg.Listen, cfg.Data = "127.0.0.1:0", t.TempDir()
	cfg.OTel = OTelConfig{Endpoint: "http://" + lis.Addr().String(), Protocol: "grpc"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := Start(ctx, cfg, Options{})
	require.NoError(t, err)
	j, err := d.Scheduler().Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Args: []byte(`{"ms":1}`)})
	if err == nil {
		_, err = d.Scheduler().Wait(ctx, j.ID)
	}
	require.NoError(t, errors.Join(err, d.Shutdown(ctx)))
	enq, att := recv.named("jobsched.enqueue"), recv.named("jobsched.attempt")
	require.Len(t, enq, 1)
	require.Len(t, att, 1)
	require.Equal(t, enq[0].TraceId, att[0].TraceId)
	require.Equal(t, enq[0].SpanId, att[0].ParentSpanId)
	recv.mu.Lock()
	require.Contains(t, recv.services, "jobsched", "the default service name")
	recv.mu.Unlock()
}

// Tracing is off by default: no provider, so no exporter and no goroutine.
func TestOTelOffByDefault(t *testing.T) {
	tp, err := startTracing(context.Background(), Defaults().OTel, nil)
	require.NoError(t, err)
	require.Nil(t, tp)
	sc, err := Config{Data: "x"}.SchedulerConfig()
	require.NoError(t, err)
	require.Nil(t, sc.TracerProvider)
}

// A bad otel section is refused, the error naming the key.
func TestOTelConfigErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ yaml, field string }{
		{"otel: {protocol: udp}", "otel.protocol"},
		{"otel: {endpoint: 'collector:4318'}", "otel.endpoint"},
		{"otel: {endpoint: 'ftp://collector'}", "otel.endpoint"},
		{"otel: {sample_ratio: 1.5}", "otel.sample_ratio"},
		{"otel: {sample_ratio: -0.1}", "otel.sample_ratio"},
	} {
		c, err := Load(strings.NewReader(tc.yaml), "test.yaml")
		require.NoError(t, err, tc.yaml)
		_, err = c.SchedulerConfig()
		var inv *jobsched.InvalidError
		require.ErrorAs(t, err, &inv, tc.yaml)
		require.Equal(t, tc.field, inv.Field, tc.yaml)
	}
	c, err := Load(strings.NewReader("otel: {endpoint: 'http://collector:4318', protocol: grpc, service_name: jobs, sample_ratio: 0.25}"), "test.yaml")
	require.NoError(t, err)
	_, err = c.SchedulerConfig()
	require.NoError(t, err)
	require.Equal(t, OTelConfig{Endpoint: "http://collector:4318", Protocol: "grpc", ServiceName: "jobs", SampleRatio: &[]float64{0.25}[0]}, c.OTel)
	_, err = Load(strings.NewReader("otel: {endpoit: x}"), "test.yaml")
	require.ErrorContains(t, err, "endpoit", "an unknown key is refused")
}

// enabled: true with no endpoint in the file takes the standard OTEL_* variables.
func TestOTelTakesTheStandardVariables(t *testing.T) {
	recv := &otlpReceiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL) // the exporter adds /v1/traces
	t.Setenv("OTEL_SERVICE_NAME", "from-env")

	cfg := Defaults()
	cfg.Listen, cfg.Data = "127.0.0.1:0", t.TempDir()
	cfg.OTel = OTelConfig{Enabled: true}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := Start(ctx, cfg, Options{})
	require.NoError(t, err)
	j, err := d.Scheduler().Enqueue(ctx, jobsched.JobSpec{Kind: "sleep", Args: []byte(`{"ms":1}`)})
	if err == nil {
		_, err = d.Scheduler().Wait(ctx, j.ID)
	}
	require.NoError(t, errors.Join(err, d.Shutdown(ctx)))
	require.Len(t, recv.named("jobsched.attempt"), 1)
	recv.mu.Lock()
	require.Contains(t, recv.services, "from-env")
	recv.mu.Unlock()
}
