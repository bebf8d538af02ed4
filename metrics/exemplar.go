package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
)

// TraceIDLabel is the exemplar label that holds a trace id (Grafana's
// default for the exemplar → trace link).
const TraceIDLabel = "trace_id"

// TerminalTraced is Terminal with the command's trace: when sc is a sampled
// span context, the latency observation carries its trace id as an
// exemplar, so that a Grafana panel jumps from the histogram to the trace.
func (m *Metrics) TerminalTraced(sc trace.SpanContext, action, outcome string, sinceReceived time.Duration) {
	if m == nil {
		return
	}
	a, o := m.actions.or(action, ActionUnknown), m.outcomes.or(outcome, Other)
	m.terminal.WithLabelValues(a, o).Inc()
	observe(m.duration.WithLabelValues(a, o), seconds(sinceReceived), sc)
}

// ObserveRequestTraced is ObserveRequest with the request's span context:
// a sampled one becomes the latency observation's exemplar. It implements
// the platform client's optional TracedObserver.
func (m *Metrics) ObserveRequestTraced(sc trace.SpanContext, platform, endpoint string, status int, elapsed time.Duration) {
	if m == nil {
		return
	}
	p, e := m.platforms.or(platform, Other), m.endpoints.or(endpoint, Other)
	m.requests.WithLabelValues(p, e, statusCode(status)).Inc()
	observe(m.requestDuration.WithLabelValues(p, e), seconds(elapsed), sc)
}

// observe records v, with sc's trace id as the exemplar when sc is sampled
// (an unsampled trace is never exported: its id would lead nowhere).
func observe(o prometheus.Observer, v float64, sc trace.SpanContext) {
	if sc.IsValid() && sc.IsSampled() {
		if eo, ok := o.(prometheus.ExemplarObserver); ok {
			eo.ObserveWithExemplar(v, prometheus.Labels{TraceIDLabel: sc.TraceID().String()})
			return
		}
	}
	o.Observe(v)
}
