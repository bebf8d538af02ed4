package load

import (
	"fmt"
	"strconv"

	"github.com/txworker/txworker/internal/telemetry"
)

// spanReceiver is the in-process OTLP/HTTP receiver of `load -traces`.
type spanReceiver struct{ *telemetry.Receiver }

func startSpanReceiver() (*spanReceiver, error) {
	r, err := telemetry.StartReceiver(false)
	if err != nil {
		return nil, err
	}
	return &spanReceiver{r}, nil
}

// env is what points the workers at the receiver, sampling ratio of the
// root spans (the load's commands carry no traceparent).
func (r *spanReceiver) env(ratio float64) map[string]string {
	return map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": r.URL(),
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		"OTEL_TRACES_SAMPLER":         "parentbased_traceidratio",
		"OTEL_TRACES_SAMPLER_ARG":     strconv.FormatFloat(ratio, 'g', -1, 64),
		"OTEL_SERVICE_NAME":           "txworker-load",
	}
}

func (r *spanReceiver) describe(ratio float64) string {
	spans, requests, bytes := r.Stats()
	s := fmt.Sprintf("traces exported at %g sampling: %d spans in %d OTLP/HTTP requests (%.1f MB) to an in-process receiver",
		ratio, spans, requests, float64(bytes)/1e6)
	if b := len(r.Faults()); b > 0 {
		s += fmt.Sprintf("; %d malformed exports", b)
	}
	return s
}

func (r *spanReceiver) close() { r.Close() }
