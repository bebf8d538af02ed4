package telemetry

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func semconvString(k, v string) attribute.KeyValue { return attribute.String(k, v) }

// Recorder keeps every ended span in memory: `txworker sandbox -traces`
// prints them as trees.
type Recorder struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan
}

// NewRecorder returns a Provider that samples every span and records it in
// the returned Recorder (synchronously, as it ends).
func NewRecorder(ctx context.Context) (*Provider, *Recorder, error) {
	res, err := resourceFromEnv(ctx, func(string) string { return "" })
	if err != nil {
		return nil, nil, err
	}
	r := &Recorder{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithResource(res),
		sdktrace.WithSpanProcessor(r))
	return &Provider{sdk: tp, desc: "in-process recorder, sampler always_on"}, r, nil
}

// OnStart implements sdktrace.SpanProcessor.
func (r *Recorder) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd implements sdktrace.SpanProcessor.
func (r *Recorder) OnEnd(s sdktrace.ReadOnlySpan) {
	r.mu.Lock()
	r.spans = append(r.spans, s)
	r.mu.Unlock()
}

// Shutdown implements sdktrace.SpanProcessor.
func (r *Recorder) Shutdown(context.Context) error { return nil }

// ForceFlush implements sdktrace.SpanProcessor.
func (r *Recorder) ForceFlush(context.Context) error { return nil }

// Spans returns the spans ended so far.
func (r *Recorder) Spans() []sdktrace.ReadOnlySpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.spans)
}

// shownAttrs are the attributes a printed span shows, in this order.
var shownAttrs = []attribute.Key{
	"messaging.message.id", "messaging.batch.message_count", "txworker.delivery",
	"http.response.status_code", "error.type", "txworker.rejected",
}

// WriteTree prints the trace id's spans as a tree (children under their
// parent, in start order) and, under "linked:", the spans of other traces
// that link to it (poll batches) with their children.
func (r *Recorder) WriteTree(w io.Writer, id trace.TraceID) {
	spans := r.Spans()
	slices.SortStableFunc(spans, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	inTrace := map[trace.SpanID]bool{}
	for _, s := range spans {
		if s.SpanContext().TraceID() == id {
			inTrace[s.SpanContext().SpanID()] = true
		}
	}
	var roots, linked []sdktrace.ReadOnlySpan
	for _, s := range spans {
		sc := s.SpanContext()
		switch {
		case sc.TraceID() == id && inTrace[s.Parent().SpanID()]:
			children[s.Parent().SpanID()] = append(children[s.Parent().SpanID()], s)
		case sc.TraceID() == id:
			roots = append(roots, s)
		case s.Parent().IsValid():
			children[s.Parent().SpanID()] = append(children[s.Parent().SpanID()], s)
		case linksTo(s, id):
			linked = append(linked, s)
		}
	}
	fmt.Fprintf(w, "trace %s\n", id)
	var walk func(s sdktrace.ReadOnlySpan, depth int)
	walk = func(s sdktrace.ReadOnlySpan, depth int) {
		fmt.Fprintf(w, "%s%s\n", strings.Repeat("  ", depth), describe(s))
		for _, c := range children[s.SpanContext().SpanID()] {
			walk(c, depth+1)
		}
	}
	for _, s := range roots {
		walk(s, 1)
	}
	if len(linked) > 0 {
		fmt.Fprintln(w, "  linked:")
		for _, s := range linked {
			walk(s, 2)
		}
	}
}

func linksTo(s sdktrace.ReadOnlySpan, id trace.TraceID) bool {
	for _, l := range s.Links() {
		if l.SpanContext.TraceID() == id {
			return true
		}
	}
	return false
}

// describe is one line of a tree: name, kind, duration, the shown
// attributes, an error status, and "← link" for a span linked to another.
func describe(s sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  [%s %s]", s.Name(), s.SpanKind(), s.EndTime().Sub(s.StartTime()).Round(100*time.Microsecond))
	attrs := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		attrs[kv.Key] = kv.Value
	}
	for _, k := range shownAttrs {
		if v, ok := attrs[k]; ok {
			fmt.Fprintf(&b, " %s=%s", k, v.Emit())
		}
	}
	if s.Status().Code == codes.Error {
		fmt.Fprintf(&b, " ERROR %q", s.Status().Description)
	}
	if len(s.Links()) > 0 && s.Parent().IsValid() {
		fmt.Fprintf(&b, " ← linked to %s", s.Links()[0].SpanContext.SpanID())
	}
	return b.String()
}
