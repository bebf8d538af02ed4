package poller

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/txworker/txworker/queue"
)

// TracerName is the instrumentation scope of the poller's spans.
const TracerName = "github.com/txworker/txworker/poller"

// startBatch starts the span of one poll batch: a Transactions API request
// about up to BatchSize orchestrations and the tracking messages waiting for
// its answer, processed as a batch (OpenTelemetry messaging conventions:
// a consumer span linked to the trace of every message it carries, here
// the trace of each command). Its platform requests are its children; each
// terminal event it publishes is a span of its command's trace, linked back
// to it (queue.Bus.PublishEvent). Without a tracer provider nothing is done.
func (p *Poller) startBatch(ctx context.Context, r request) (context.Context, trace.Span) {
	tp := p.cfg.TracerProvider
	if tp == nil {
		return ctx, noop.Span{}
	}
	links := make([]trace.Link, 0, len(r.items))
	for _, it := range r.items {
		if sc := it.track.Trace.SpanContext(); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{
				semconv.MessagingMessageID(it.track.CommandID),
			}})
		}
	}
	ctx, span := tp.Tracer(TracerName).Start(ctx, "poll orchestrations", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithNewRoot(), trace.WithLinks(links...))
	if span.IsRecording() {
		span.SetAttributes(queue.MessagingSystem,
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingOperationName("poll"),
			semconv.MessagingBatchMessageCount(len(r.items)),
			attribute.Int("txworker.orchestrations", len(r.ids)),
		)
	}
	return ctx, span
}

// exemplar is the span context a latency observation carries as its
// exemplar: the command's trace when tracing is on, else none (no parsing).
func (p *Poller) exemplar(t queue.Trace) trace.SpanContext {
	if p.cfg.TracerProvider == nil {
		return trace.SpanContext{}
	}
	return t.SpanContext()
}
