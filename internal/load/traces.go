package load

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// spanReceiver is an in-process OTLP/HTTP trace receiver on loopback for
// `load -traces`: it decodes each export (POST /v1/traces, protobuf) and
// counts its spans, so that the workers pay the whole cost of exporting.
type spanReceiver struct {
	srv      *http.Server
	url      string
	spans    atomic.Int64
	requests atomic.Int64
	bytes    atomic.Int64
	bad      atomic.Int64
}

func startSpanReceiver() (*spanReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("span receiver: %w", err)
	}
	r := &spanReceiver{url: "http://" + ln.Addr().String()}
	empty, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	r.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(io.LimitReader(req.Body, 64<<20))
		var msg coltracepb.ExportTraceServiceRequest
		if req.URL.Path != "/v1/traces" || err != nil || proto.Unmarshal(body, &msg) != nil {
			r.bad.Add(1)
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		n := 0
		for _, rs := range msg.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				n += len(ss.GetSpans())
			}
		}
		r.spans.Add(int64(n))
		r.requests.Add(1)
		r.bytes.Add(int64(len(body)))
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(empty)
	})}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// env is what points the workers at the receiver, sampling ratio of the
// root spans (the load's commands carry no traceparent).
func (r *spanReceiver) env(ratio float64) map[string]string {
	return map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": r.url,
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		"OTEL_TRACES_SAMPLER":         "parentbased_traceidratio",
		"OTEL_TRACES_SAMPLER_ARG":     strconv.FormatFloat(ratio, 'g', -1, 64),
		"OTEL_SERVICE_NAME":           "txworker-load",
	}
}

func (r *spanReceiver) describe(ratio float64) string {
	s := fmt.Sprintf("traces exported at %g sampling: %d spans in %d OTLP/HTTP requests (%.1f MB) to an in-process receiver",
		ratio, r.spans.Load(), r.requests.Load(), float64(r.bytes.Load())/1e6)
	if b := r.bad.Load(); b > 0 {
		s += fmt.Sprintf("; %d malformed exports", b)
	}
	return s
}

func (r *spanReceiver) close() { _ = r.srv.Close() }
