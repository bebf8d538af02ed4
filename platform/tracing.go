package platform

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TracedObserver is an Observer that also takes the span context of the
// request (the command's or the poll batch's): a sampled one becomes the
// exemplar of the latency observation. An Observer that implements it gets
// ObserveRequestTraced in place of ObserveRequest.
type TracedObserver interface {
	ObserveRequestTraced(sc trace.SpanContext, platform, endpoint string, status int, elapsed time.Duration)
}

// observeRequest reports one request to obs, with its span context when
// obs takes it.
func observeRequest(ctx context.Context, obs Observer, platform, endpoint string, status int, elapsed time.Duration) {
	if to, ok := obs.(TracedObserver); ok {
		to.ObserveRequestTraced(trace.SpanContextFromContext(ctx), platform, endpoint, status, elapsed)
		return
	}
	obs.ObserveRequest(platform, endpoint, status, elapsed)
}

// traced wraps the wire transport in OpenTelemetry's HTTP client
// instrumentation: one client span per request (token fetches included),
// a child of the span in the request's context, named "{method}
// {endpoint}" and carrying the HTTP semantic conventions' attributes
// (method, url.full, server.address, status code, error.type); the W3C
// traceparent goes out on the request. Neither bodies nor headers are
// recorded, and url.full has no credentials (the base URL may hold none,
// and otelhttp redacts user info). A nil tp leaves rt as it is: no spans,
// no cost.
func traced(rt http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
	if tp == nil {
		return rt
	}
	return otelhttp.NewTransport(rt,
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()), // the platform metrics are txworker's own
		otelhttp.WithPropagators(propagation.TraceContext{}),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if e, _ := r.Context().Value(endpointKey).(string); e != "" {
				return r.Method + " " + e
			}
			return r.Method
		}),
	)
}
