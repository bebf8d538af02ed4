package worker

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/txworker/txworker/queue"
)

// TracerName is the instrumentation scope of the worker's spans.
const TracerName = "github.com/txworker/txworker/worker"

// startProcess starts the consumer span of one delivery (OpenTelemetry
// messaging conventions: "process {destination}"), a child of the
// command's well-formed traceparent (SPEC §4), and returns the trace the
// command's claim and events carry: the command's own, or — when it came
// without one and this span is recorded — the span's, so that the poller's
// spans join the trace the worker began. Without a tracer provider nothing
// is done and the command's trace is returned.
func (w *Worker) startProcess(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, action string) (context.Context, trace.Span, queue.Trace) {
	tr := queue.TraceFrom(msg.Headers())
	if w.tracer == nil {
		return ctx, noop.Span{}, tr
	}
	ctx, _ = queue.ContextWithTrace(ctx, tr)
	ctx, span := w.tracer.Start(ctx, "process "+w.bus.Prefix()+".cmd."+action, trace.WithSpanKind(trace.SpanKindConsumer))
	if !span.IsRecording() {
		return ctx, span, tr
	}
	span.SetAttributes(queue.MessagingSystem,
		semconv.MessagingOperationTypeProcess,
		semconv.MessagingOperationName("process"),
		semconv.MessagingDestinationName(msg.Subject()),
		semconv.MessagingMessageBodySize(len(msg.Data())),
		attribute.Int64("txworker.delivery", int64(meta.NumDelivered)),
		attribute.Int64("txworker.stream_seq", int64(meta.Sequence.Stream)),
	)
	if tr.Parent == "" {
		tr = queue.TraceOf(span.SpanContext(), "")
	}
	return ctx, span, tr
}

// annotate adds what decoding found to the consumer span: the command's id
// (messaging.message.id: the commandId, else the Nats-Msg-Id), its action
// and, for an invalid command, the reason.
func annotate(span trace.Span, msg jetstream.Msg, p *parsed, action string) {
	if !span.IsRecording() {
		return
	}
	id := p.commandID
	if id == "" {
		id = msg.Headers().Get(nats.MsgIdHdr)
	}
	span.SetAttributes(semconv.MessagingMessageID(clip(id, 256)), attribute.String("txworker.action", action))
	if p.reason != "" {
		span.SetAttributes(attribute.String("txworker.rejected", p.reason))
	}
}

// exemplar is the span context a latency observation carries as its
// exemplar: the command's trace when tracing is on, else none (no parsing).
func (w *Worker) exemplar(t queue.Trace) trace.SpanContext {
	if w.tracer == nil {
		return trace.SpanContext{}
	}
	return t.SpanContext()
}
