package queue_test

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/txworker/txworker/queue"
)

const (
	goodParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	goodState  = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
)

func TestTraceParentWellFormed(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"W3C example", goodParent, true},
		{"not sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true},
		{"future version, exact length", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{"future version with more fields", "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-brings", true},
		{"empty", "", false},
		{"garbage", "garbage!!", false},
		{"upper-case hex", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", false},
		{"upper-case version", "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
		{"version ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
		{"all-zero trace-id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},
		{"all-zero parent-id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false},
		{"trace-id short", "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", false},
		{"trace-id long", "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01", false},
		{"parent-id short", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01", false},
		{"flags one digit", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", false},
		{"version 00 with more", goodParent + "-00", false},
		{"version 00 trailing space", goodParent + " ", false},
		{"future version, no dash after", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", false},
		{"future version, control char after", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-\x01", false},
		{"underscores", "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", false},
		{"not hex", "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", false},
		{"NUL inside", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\x00", false},
		{"newline inside", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba9\n2b7-01", false},
		{"leading space", " " + goodParent, false},
		{"huge", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-" + strings.Repeat("a", 200), false},
		{"non-ASCII", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-é", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := queue.ValidTraceParent(tt.in); got != tt.ok {
				t.Fatalf("ValidTraceParent(%q) = %v, want %v", tt.in, got, tt.ok)
			}
			got := queue.TraceFrom(nats.Header{queue.TraceParentHeader: {tt.in}, queue.TraceStateHeader: {goodState}})
			want := queue.Trace{}
			if tt.ok {
				want = queue.Trace{Parent: tt.in, State: goodState}
			}
			if got != want {
				t.Errorf("TraceFrom = %+v, want %+v", got, want)
			}
			out := nats.Header{}
			queue.Trace{Parent: tt.in, State: goodState}.Apply(out)
			if _, set := out[queue.TraceParentHeader]; set != tt.ok {
				t.Errorf("Apply set traceparent: %v, want %v", set, tt.ok)
			}
		})
	}
}

func TestTraceStateWellFormed(t *testing.T) {
	members := func(n int) string {
		var m []string
		for i := range n {
			m = append(m, "k"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+string(rune('a'+i/26))+"=v")
		}
		return strings.Join(m, ",")
	}
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"W3C example", goodState, true},
		{"empty", "", true},
		{"one member", "a=1", true},
		{"spaces around members", " a=1 ,\tb=2 ", true},
		{"empty members", "a=1,,b=2, ,", true},
		{"multi-tenant key", "tenant1@vendor=x,0t@v=y", true},
		{"key characters", "a_b-c*d/e9=v", true},
		{"value with inner space and punctuation", "a=x y!~:;", true},
		{"32 members", members(32), true},
		{"33 members", members(33), false},
		{"too long", "a=" + strings.Repeat("v", 511), false},
		{"garbage", "garbage!!", false},
		{"no =", "a", false},
		{"empty value", "a=", false},
		{"empty key", "=v", false},
		{"upper-case key", "Rojo=1", false},
		{"key starts with digit", "1a=1", false},
		{"value with =", "a=b=c", false},
		{"value ends in space", "a=b ,c=d", true}, // the space is OWS around the member
		{"value with tab", "a=b\tc", false},
		{"value control char", "a=b\x01", false},
		{"value newline", "a=b\nc=d", false},
		{"value non-ASCII", "a=é", false},
		{"duplicate key", "a=1,a=2", false},
		{"system-id too long", "t@" + strings.Repeat("s", 15) + "=v", false},
		{"system-id starts with digit", "t@1s=v", false},
		{"two @", "t@s@x=v", false},
		{"key too long", strings.Repeat("k", 257) + "=v", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := queue.ValidTraceState(tt.in); got != tt.ok {
				t.Fatalf("ValidTraceState(%q) = %v, want %v", tt.in, got, tt.ok)
			}
			got := queue.TraceFrom(nats.Header{queue.TraceParentHeader: {goodParent}, queue.TraceStateHeader: {tt.in}})
			want := queue.Trace{Parent: goodParent}
			if tt.ok {
				want.State = tt.in
			}
			if got != want {
				t.Errorf("TraceFrom = %+v, want %+v", got, want)
			}
		})
	}
	t.Run("kept only with a valid traceparent", func(t *testing.T) {
		if got := queue.TraceFrom(nats.Header{queue.TraceStateHeader: {goodState}}); got != (queue.Trace{}) {
			t.Errorf("tracestate without traceparent: %+v", got)
		}
		if got := queue.TraceFrom(nats.Header{queue.TraceParentHeader: {"garbage!!"}, queue.TraceStateHeader: {goodState}}); got != (queue.Trace{}) {
			t.Errorf("tracestate with a malformed traceparent: %+v", got)
		}
	})
}
