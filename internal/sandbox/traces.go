package sandbox

import (
	"fmt"
	"io"

	"go.opentelemetry.io/otel/trace"

	"github.com/txworker/txworker/internal/telemetry"
	"github.com/txworker/txworker/queue"
)

// commandTrace is the trace a command's events carry.
type commandTrace struct {
	commandID string
	traceID   trace.TraceID
}

// noteTrace records the trace of commandID's event (traceparent) unless the
// command's trace is known already.
func noteTrace(traces []commandTrace, commandID, traceparent string) []commandTrace {
	sc := queue.Trace{Parent: traceparent}.SpanContext()
	if !sc.IsValid() {
		return traces
	}
	for _, t := range traces {
		if t.commandID == commandID {
			return traces
		}
	}
	return append(traces, commandTrace{commandID, sc.TraceID()})
}

// printTraces prints each command's trace as a tree; with no commands
// given, every trace that has a worker's consumer span.
func printTraces(out io.Writer, rec *telemetry.Recorder, traces []commandTrace) {
	if traces == nil {
		seen := map[trace.TraceID]bool{}
		for _, s := range rec.Spans() {
			id := s.SpanContext().TraceID()
			if s.SpanKind() == trace.SpanKindConsumer && !s.Parent().IsValid() && !seen[id] && len(s.Links()) == 0 {
				seen[id] = true
				traces = append(traces, commandTrace{"", id})
			}
		}
	}
	fmt.Fprintf(out, "\ntraces (%d):\n", len(traces))
	for _, t := range traces {
		fmt.Fprintln(out)
		if t.commandID != "" {
			fmt.Fprintf(out, "command %s ", t.commandID)
		}
		rec.WriteTree(out, t.traceID)
	}
}
