package queue

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TracerName is the instrumentation scope of the bus's spans.
const TracerName = "github.com/txworker/txworker/queue"

// MessagingSystem is the messaging.system attribute of every span about
// the bus (OpenTelemetry's messaging conventions name no value for NATS).
var MessagingSystem = semconv.MessagingSystemKey.String("nats")

// SpanContext is t's traceparent as a remote span context; it is invalid
// when t has no well-formed traceparent. A tracestate that W3C allows but
// OpenTelemetry cannot parse is left out of it (headers still carry t.State
// as received).
func (t Trace) SpanContext() trace.SpanContext {
	t = t.wellFormed()
	if t.Parent == "" {
		return trace.SpanContext{}
	}
	tid, err1 := trace.TraceIDFromHex(t.Parent[3:35])
	sid, err2 := trace.SpanIDFromHex(t.Parent[36:52])
	if err1 != nil || err2 != nil {
		return trace.SpanContext{}
	}
	var flags trace.TraceFlags
	if fromHex(t.Parent[54])&1 == 1 {
		flags = trace.FlagsSampled
	}
	cfg := trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags, Remote: true}
	if t.State != "" {
		if ts, err := trace.ParseTraceState(t.State); err == nil {
			cfg.TraceState = ts
		}
	}
	return trace.NewSpanContext(cfg)
}

// TraceOf is the trace context of sc in W3C form (version 00) with the
// given tracestate; the empty Trace when sc is invalid.
func TraceOf(sc trace.SpanContext, state string) Trace {
	if !sc.IsValid() {
		return Trace{}
	}
	flags := "00"
	if sc.IsSampled() {
		flags = "01"
	}
	return Trace{Parent: "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + flags, State: state}.wellFormed()
}

// ContextWithTrace returns ctx with t as its remote parent, unless ctx
// already holds a span of t's trace (then ctx, so that spans nest). The
// span ctx held before, if any, is returned as from: a span started in the
// returned context may link to it.
func ContextWithTrace(ctx context.Context, t Trace) (_ context.Context, from trace.SpanContext) {
	sc := t.SpanContext()
	cur := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || cur.IsValid() && cur.TraceID() == sc.TraceID() {
		return ctx, trace.SpanContext{}
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc), cur
}

func fromHex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return 0
}

// tracer is the bus's tracer (Config.TracerProvider is set).
func (b *Bus) tracer() trace.Tracer { return b.cfg.TracerProvider.Tracer(TracerName) }

// startSend starts the producer span of a message published to subject
// under the trace tr (OpenTelemetry messaging conventions: "send
// {destination}"): a child of the span in ctx when that span belongs to
// tr's trace, else a child of tr's traceparent linked to the span in ctx
// (a poll batch). It returns the trace context the message carries: the
// span's own when it is recorded, else tr as given (no tracing: the
// command's trace headers are copied verbatim, SPEC §4).
func (b *Bus) startSend(ctx context.Context, subject, msgID string, tr Trace) (context.Context, trace.Span, Trace) {
	if b.cfg.TracerProvider == nil {
		return ctx, noop.Span{}, tr // tracing off: no work at all
	}
	ctx, from := ContextWithTrace(ctx, tr)
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindProducer)}
	if from.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: from}))
	}
	ctx, span := b.tracer().Start(ctx, "send "+subject, opts...)
	if !span.IsRecording() {
		return ctx, span, tr
	}
	span.SetAttributes(MessagingSystem,
		semconv.MessagingOperationTypeSend,
		semconv.MessagingOperationName("send"),
		semconv.MessagingDestinationName(subject),
		semconv.MessagingMessageID(msgID),
	)
	return ctx, span, TraceOf(span.SpanContext(), tr.State)
}

// endSpan ends span, marking it failed when err is not nil.
func endSpan(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(attribute.String("error.type", errorType(err)))
	}
	span.End()
}

// errorType is the error.type attribute of a failed publish: a class, never
// the message.
func errorType(err error) string {
	switch {
	case errors.Is(err, ErrUnencodable):
		return "unencodable"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "_OTHER"
}
