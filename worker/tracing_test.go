package worker

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/txworker/txworker/queue"
)

const testTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// Without a TracerProvider a delivery does no tracing work (no allocation)
// and its claim and events carry the command's trace as received.
func TestProcessSpanWithoutTracingCostsNothing(t *testing.T) {
	r := newRig(t, Config{})
	m := r.msg("cancel-offering", `{"commandId":"c1","params":{"securityId":"USS3JKS01I00"}}`)
	m.hdr.Set(queue.TraceParentHeader, testTraceparent)
	meta, _ := m.Metadata()
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		_, span, tr := r.w.startProcess(ctx, m, meta, "cancel-offering")
		span.End()
		if tr.Parent != testTraceparent {
			t.Fatalf("trace %+v", tr)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per delivery with tracing off, want 0", allocs)
	}
}

// The consumer span continues a well-formed traceparent; without one (or
// with an ill-formed one) it starts a trace, which the command then carries.
func TestProcessSpanParent(t *testing.T) {
	for _, c := range []struct {
		name, traceparent string
		continued         bool
	}{
		{"well-formed", testTraceparent, true},
		{"ill-formed", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", false},
		{"none", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			r := newRig(t, Config{TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))})
			m := r.msg("cancel-offering", `{"commandId":"c1","params":{"securityId":"USS3JKS01I00"}}`)
			if c.traceparent != "" {
				m.hdr.Set(queue.TraceParentHeader, c.traceparent)
			}
			meta, _ := m.Metadata()
			_, span, tr := r.w.startProcess(context.Background(), m, meta, "cancel-offering")
			span.End()
			got := rec.Ended()[0]
			if c.continued != got.Parent().IsValid() {
				t.Fatalf("parent %v, want continued %v", got.Parent(), c.continued)
			}
			want := c.traceparent
			if !c.continued {
				want = queue.TraceOf(got.SpanContext(), "").Parent
			}
			if tr.Parent != want {
				t.Errorf("command trace %q, want %q", tr.Parent, want)
			}
		})
	}
}
