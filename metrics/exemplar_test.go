package metrics_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/txworker/txworker/metrics"
)

// The latency histograms carry the trace id of a sampled command as an
// exemplar, served on /metrics in the OpenMetrics format when the scraper
// asks for it; an unsampled or missing trace adds none.
func TestLatencyExemplarsCarryTheTraceID(t *testing.T) {
	sampled := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, TraceFlags: trace.FlagsSampled})
	unsampled := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, SpanID: trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}})
	cases := []struct {
		name    string
		observe func(m *metrics.Metrics)
		metric  string
		want    string // exemplar trace id; "" none
	}{
		{"command, sampled", func(m *metrics.Metrics) {
			m.TerminalTraced(sampled, "cancel-offering", "succeeded", 3*time.Second)
		}, "txworker_command_duration_seconds_bucket", sampled.TraceID().String()},
		{"command, unsampled", func(m *metrics.Metrics) {
			m.TerminalTraced(unsampled, "cancel-offering", "succeeded", 3*time.Second)
		}, "txworker_command_duration_seconds_bucket", ""},
		{"command, no trace", func(m *metrics.Metrics) { m.Terminal("cancel-offering", "succeeded", 3*time.Second) },
			"txworker_command_duration_seconds_bucket", ""},
		{"request, sampled", func(m *metrics.Metrics) {
			m.ObserveRequestTraced(sampled, "corastone", "cancel-offering", 200, 40*time.Millisecond)
		}, "txworker_platform_request_duration_seconds_bucket", sampled.TraceID().String()},
		{"request, unsampled", func(m *metrics.Metrics) {
			m.ObserveRequestTraced(unsampled, "corastone", "cancel-offering", 200, 40*time.Millisecond)
		}, "txworker_platform_request_duration_seconds_bucket", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := metrics.NewRegistry()
			m := metrics.New(reg)
			c.observe(m)
			srv := startServer(t, reg, nil, nil)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+srv.Addr()+"/metrics", nil)
			req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0; charset=utf-8")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
				t.Fatalf("content type %q: OpenMetrics not negotiated", ct)
			}
			var got []string
			for line := range strings.SplitSeq(string(body), "\n") {
				if strings.HasPrefix(line, c.metric) && strings.Contains(line, " # {") {
					got = append(got, line)
				}
			}
			switch {
			case c.want == "" && len(got) > 0:
				t.Errorf("exemplar without a sampled trace: %v", got)
			case c.want != "" && (len(got) != 1 || !strings.Contains(got[0], `# {trace_id="`+c.want+`"}`)):
				t.Errorf("exemplars %v, want one with trace_id %s", got, c.want)
			}
		})
	}
}
