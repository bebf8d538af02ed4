package queue

import "github.com/nats-io/nats.go"

// W3C trace context header names, exactly as written (nats.Header is
// case-sensitive).
const (
	TraceParentHeader = "traceparent"
	TraceStateHeader  = "tracestate"
)

// Limits past which a trace header is treated as invalid and dropped
// (a traceparent is 55 characters; a tracestate at most 32 members).
const (
	maxTraceParent = 128
	maxTraceState  = 1024
)

// Trace is the W3C trace context of a command, carried to its events.
type Trace struct {
	Parent string `json:"traceparent,omitempty"`
	State  string `json:"tracestate,omitempty"`
}

// TraceFrom reads the first "traceparent" and "tracestate" values of h, by
// those exact keys only (a "Traceparent" header is not a trace header).
// A value longer than a sane bound is dropped.
func TraceFrom(h nats.Header) Trace {
	var t Trace
	if v := h[TraceParentHeader]; len(v) > 0 && len(v[0]) <= maxTraceParent {
		t.Parent = v[0]
	}
	if v := h[TraceStateHeader]; len(v) > 0 && len(v[0]) <= maxTraceState {
		t.State = v[0]
	}
	return t
}

// Apply sets the non-empty fields of t on h under the exact keys
// "traceparent" and "tracestate". h must not be nil.
func (t Trace) Apply(h nats.Header) {
	if t.Parent != "" {
		h[TraceParentHeader] = []string{t.Parent}
	}
	if t.State != "" {
		h[TraceStateHeader] = []string{t.State}
	}
}
