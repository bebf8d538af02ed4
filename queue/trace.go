package queue

import (
	"strings"

	"github.com/nats-io/nats.go"
)

// W3C trace context header names, exactly as written (nats.Header is
// case-sensitive).
const (
	TraceParentHeader = "traceparent"
	TraceStateHeader  = "tracestate"
)

// Bounds of the trace headers kept (W3C Trace Context).
const (
	maxTraceParent   = 128 // a version 00 traceparent is 55 characters; later versions may add fields
	maxTraceState    = 512 // W3C: propagate at least 512 characters; more is dropped
	maxStateMembers  = 32
	maxStateKeyLen   = 256
	maxStateValueLen = 256
)

// Trace is the W3C trace context of a command, carried to its events.
type Trace struct {
	Parent string `json:"traceparent,omitempty"`
	State  string `json:"tracestate,omitempty"`
}

// TraceFrom reads the first "traceparent" and "tracestate" values of h, by
// those exact keys only (a "Traceparent" header is not a trace header), and
// keeps only a well-formed trace context (see ValidTraceParent and
// ValidTraceState): a malformed traceparent drops both, a malformed
// tracestate drops itself.
func TraceFrom(h nats.Header) Trace {
	var t Trace
	if v := h[TraceParentHeader]; len(v) > 0 {
		t.Parent = v[0]
	}
	if v := h[TraceStateHeader]; len(v) > 0 {
		t.State = v[0]
	}
	return t.wellFormed()
}

// wellFormed is t without what W3C Trace Context does not allow.
func (t Trace) wellFormed() Trace {
	if !ValidTraceParent(t.Parent) {
		return Trace{}
	}
	if !ValidTraceState(t.State) {
		t.State = ""
	}
	return t
}

// Apply sets the well-formed non-empty fields of t (as TraceFrom keeps them)
// on h under the exact keys "traceparent" and "tracestate". h must not be
// nil.
func (t Trace) Apply(h nats.Header) {
	t = t.wellFormed()
	if t.Parent != "" {
		h[TraceParentHeader] = []string{t.Parent}
	}
	if t.State != "" {
		h[TraceStateHeader] = []string{t.State}
	}
}

// ValidTraceParent reports whether s is a W3C traceparent this worker copies:
// version-traceid-parentid-flags in lower-case hex (2-32-16-2 digits), the
// version not "ff", the trace-id and parent-id not all zeros. Version 00 is
// exactly 55 characters; a later version may go on after a "-" (the fields it
// adds), up to 128 characters in all.
func ValidTraceParent(s string) bool {
	if len(s) < 55 || len(s) > maxTraceParent {
		return false
	}
	version, traceID, parentID, flags := s[0:2], s[3:35], s[36:52], s[53:55]
	switch {
	case s[2] != '-' || s[35] != '-' || s[52] != '-':
		return false
	case !lowerHex(version) || version == "ff" || !lowerHex(traceID) || !lowerHex(parentID) || !lowerHex(flags):
		return false
	case strings.Trim(traceID, "0") == "" || strings.Trim(parentID, "0") == "":
		return false
	case version == "00":
		return len(s) == 55
	}
	return len(s) == 55 || s[55] == '-' && printableASCII(s[56:])
}

// ValidTraceState reports whether s is a W3C tracestate this worker copies:
// at most 512 characters, at most 32 comma-separated list-members (empty ones,
// white space only, are allowed and not counted), each "key=value" with a
// key of the allowed characters (a simple key, or tenant@system), unique, and
// a value of printable ASCII without "," and "=" that does not end in a space.
// The empty string is valid (no tracestate).
func ValidTraceState(s string) bool {
	if len(s) > maxTraceState {
		return false
	}
	members := 0
	seen := map[string]bool{}
	for m := range strings.SplitSeq(s, ",") {
		m = strings.Trim(m, " \t")
		if m == "" {
			continue
		}
		members++
		key, value, ok := strings.Cut(m, "=")
		if !ok || members > maxStateMembers || seen[key] || !validStateKey(key) || !validStateValue(value) {
			return false
		}
		seen[key] = true
	}
	return true
}

// validStateKey: simple-key = lcalpha 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/");
// multi-tenant-key = tenant-id "@" system-id, tenant-id = (lcalpha / DIGIT) 0*240(…),
// system-id = lcalpha 0*13(…).
func validStateKey(k string) bool {
	tenant, system, multi := strings.Cut(k, "@")
	if !multi {
		return len(k) <= maxStateKeyLen && k != "" && isLCAlpha(k[0]) && keyChars(k[1:])
	}
	return tenant != "" && len(tenant) <= 241 && (isLCAlpha(tenant[0]) || isDigit(tenant[0])) && keyChars(tenant[1:]) &&
		system != "" && len(system) <= 14 && isLCAlpha(system[0]) && keyChars(system[1:])
}

// validStateValue: value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr;
// nblk-chr = %x21-2B / %x2D-3C / %x3E-7E.
func validStateValue(v string) bool {
	if v == "" || len(v) > maxStateValueLen || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return false
		}
	}
	return true
}

func keyChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLCAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '*' && c != '/' {
			return false
		}
	}
	return true
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

func isLCAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool   { return c >= '0' && c <= '9' }
