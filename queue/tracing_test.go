package queue

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

const testTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// With tracing off (no TracerProvider) a publish does no tracing work: no
// allocation, and the trace headers are the command's, verbatim.
func TestSendWithoutTracingCostsNothing(t *testing.T) {
	b := &Bus{}
	tr := Trace{Parent: testTraceparent, State: "congo=t61rcWkgMzE"}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		_, span, got := b.startSend(ctx, "txworker.evt.cancel-offering.accepted", "c1:accepted", tr)
		endSpan(span, nil)
		if got != tr {
			t.Fatalf("trace %+v, want %+v", got, tr)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per publish with tracing off, want 0", allocs)
	}
}

// The send span's context is the message's trace: a child of the span in
// ctx when it is of the command's trace, else of the command's traceparent
// with a link to the span in ctx (a poll batch); the tracestate is kept.
func TestSendSpanParents(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	b := &Bus{cfg: Config{TracerProvider: tp}}
	cmd := Trace{Parent: testTraceparent, State: "congo=t61rcWkgMzE"}
	cmdSC := cmd.SpanContext()
	inTrace, consumer := tp.Tracer("t").Start(trace.ContextWithRemoteSpanContext(context.Background(), cmdSC), "process")
	batchCtx, batch := tp.Tracer("t").Start(context.Background(), "poll")
	cases := []struct {
		name       string
		ctx        context.Context
		wantParent trace.SpanID
		wantLink   trace.SpanID
	}{
		{"worker: under its consumer span", inTrace, consumer.SpanContext().SpanID(), trace.SpanID{}},
		{"poller: under the command's traceparent, linked to the batch", batchCtx, cmdSC.SpanID(), batch.SpanContext().SpanID()},
		{"no span in ctx", context.Background(), cmdSC.SpanID(), trace.SpanID{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, span, got := b.startSend(c.ctx, "txworker.evt.x.succeeded", "c1:succeeded", cmd)
			ro := span.(sdktrace.ReadOnlySpan)
			span.End()
			if ro.Parent().SpanID() != c.wantParent || ro.SpanContext().TraceID() != cmdSC.TraceID() {
				t.Errorf("parent %s in trace %s, want %s in %s", ro.Parent().SpanID(), ro.SpanContext().TraceID(), c.wantParent, cmdSC.TraceID())
			}
			var link trace.SpanID
			if l := ro.Links(); len(l) == 1 {
				link = l[0].SpanContext.SpanID()
			}
			if link != c.wantLink {
				t.Errorf("link %s, want %s", link, c.wantLink)
			}
			want := "00-" + cmdSC.TraceID().String() + "-" + ro.SpanContext().SpanID().String() + "-01"
			if got.Parent != want || got.State != cmd.State {
				t.Errorf("message trace %+v, want %s with the command's tracestate", got, want)
			}
		})
	}
}

// A Trace and its span context convert both ways; an ill-formed
// traceparent gives no span context (it is not continued).
func TestTraceSpanContext(t *testing.T) {
	for _, c := range []struct {
		parent string
		valid  bool
	}{
		{testTraceparent, true},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
		{"", false},
	} {
		sc := Trace{Parent: c.parent}.SpanContext()
		if sc.IsValid() != c.valid {
			t.Errorf("%q: valid %v, want %v", c.parent, sc.IsValid(), c.valid)
			continue
		}
		if c.valid && TraceOf(sc, "").Parent != c.parent {
			t.Errorf("%q: back to %q", c.parent, TraceOf(sc, "").Parent)
		}
	}
}

func BenchmarkStartSend(b *testing.B) {
	tr := Trace{Parent: testTraceparent}
	for _, c := range []struct {
		name string
		tp   trace.TracerProvider
	}{{"off", nil}, {"on", sdktrace.NewTracerProvider()}, {"on-unsampled", sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))}} {
		bus := &Bus{cfg: Config{TracerProvider: c.tp}}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, span, _ := bus.startSend(context.Background(), "txworker.evt.cancel-offering.accepted", "c1:accepted", tr)
				endSpan(span, nil)
			}
		})
	}
}
