package queue

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The poller decodes a tracking message for every message it fetches, and
// json.Unmarshal's reflection into Track was ~3 % of the worker's CPU in the
// burst load profile. DecodeTrack reads the shape encodeTrack writes by hand
// (BenchmarkDecodeTrack: ~2 µs and 1 allocation a message against ~10 µs
// and 14) and leaves every other input to encoding/json, so that its result
// is always json.Unmarshal's; TestDecodeTrackMatchesEncodingJSON and
// FuzzDecodeTrack hold it to that. Change Track, encodeTrack and
// decodeTrackFast together.

// DecodeTrack sets *t to what json.Unmarshal(data, t) gives into a zero
// Track and returns the error json.Unmarshal returns; on an error *t holds
// the fields json.Unmarshal decoded all the same. Whatever *t held before
// is overwritten.
//
// The compact objects encodeTrack writes are read without reflection: no
// whitespace, keys exactly Track's json names (each at most once, in any
// order), strings without escapes or control characters, integers without
// fraction or exponent that fit their field, and times that
// time.Time.UnmarshalJSON accepts. Anything else (other keys or key case,
// null, escapes, whitespace, out-of-range numbers, invalid UTF-8, any
// error) is decoded by json.Unmarshal into a zero Track.
func DecodeTrack(data []byte, t *Track) error {
	if decodeTrackFast(data, t) {
		return nil
	}
	var v Track
	err := json.Unmarshal(data, &v)
	*t = v
	return err
}

// decodeTrackFast decodes data into *t and reports true if data has the
// shape DecodeTrack reads itself; otherwise it leaves *t alone.
func decodeTrackFast(data []byte, t *Track) bool {
	// Checked once for all strings: encoding/json replaces invalid UTF-8.
	if !utf8.Valid(data) {
		return false
	}
	// One copy of the message; the string fields are substrings of it
	// (one allocation, where encoding/json makes one per string).
	r := trackReader{b: data, s: string(data)}
	var v Track
	ok := r.object(func(key string) bool {
		switch key {
		case "commandId":
			return r.once(0) && r.str(&v.CommandID)
		case "action":
			return r.once(1) && r.str(&v.Action)
		case "processId":
			return r.once(2) && r.str(&v.ProcessID)
		case "orchestrationId":
			return r.once(3) && r.str(&v.OrchestrationID)
		case "resource":
			return r.once(4) && r.str(&v.Resource)
		case "receivedAt":
			return r.once(5) && r.stamp(&v.ReceivedAt)
		case "acceptedAt":
			return r.once(6) && r.stamp(&v.AcceptedAt)
		case "deadline":
			return r.once(7) && r.stamp(&v.Deadline)
		case "attempts":
			return r.once(8) && r.int(&v.Attempts)
		case "lookups":
			return r.once(9) && r.int(&v.Lookups)
		case "streamSeq":
			return r.once(10) && r.uint(&v.StreamSeq)
		case "trace":
			return r.once(11) && r.trace(&v.Trace)
		case "claimRevision":
			return r.once(12) && r.uint(&v.ClaimRevision)
		}
		return false
	})
	if !ok || r.i != len(r.s) {
		return false
	}
	*t = v
	return true
}

// trackReader reads one message; every method reports false on input it
// does not read, and the message is then left to encoding/json.
type trackReader struct {
	b    []byte // the message
	s    string // the same bytes, copied once
	i    int    // the next byte to read
	seen uint32 // bit n: the member numbered n was read
}

// once marks member n (of Track 0-12, of its Trace 13-14) read, and
// reports false if it was read already: a repeated key is left to
// encoding/json.
func (r *trackReader) once(n uint) bool {
	if r.seen&(1<<n) != 0 {
		return false
	}
	r.seen |= 1 << n
	return true
}

// byte reads c if it is the next byte.
func (r *trackReader) byte(c byte) bool {
	if r.i < len(r.s) && r.s[r.i] == c {
		r.i++
		return true
	}
	return false
}

// object reads an object, calling member for each key once its colon is
// read; member reads the value.
func (r *trackReader) object(member func(key string) bool) bool {
	if !r.byte('{') {
		return false
	}
	if r.byte('}') {
		return true
	}
	for {
		var key string
		if !r.str(&key) || !r.byte(':') || !member(key) {
			return false
		}
		if r.byte('}') {
			return true
		}
		if !r.byte(',') {
			return false
		}
	}
}

// str reads a string without escapes or control characters.
func (r *trackReader) str(v *string) bool {
	if !r.byte('"') {
		return false
	}
	n := strings.IndexByte(r.s[r.i:], '"')
	if n < 0 {
		return false
	}
	val := r.s[r.i : r.i+n]
	for i := range len(val) {
		if c := val[i]; c == '\\' || c < 0x20 {
			return false
		}
	}
	*v = val
	r.i += n + 1
	return true
}

// stamp reads a string into v as encoding/json does: by handing the quoted
// literal to time.Time.UnmarshalJSON.
func (r *trackReader) stamp(v *time.Time) bool {
	start := r.i
	var s string
	return r.str(&s) && v.UnmarshalJSON(r.b[start:r.i]) == nil
}

// integer reads a JSON number with no fraction or exponent: an optional
// minus, then 0 or digits not starting with 0. A fraction or an exponent
// after it is refused by the caller, which expects ',' or '}' next.
func (r *trackReader) integer() (string, bool) {
	start := r.i
	r.byte('-')
	digits := r.i
	for r.i < len(r.s) && '0' <= r.s[r.i] && r.s[r.i] <= '9' {
		r.i++
	}
	if n := r.i - digits; n == 0 || (n > 1 && r.s[digits] == '0') {
		return "", false
	}
	return r.s[start:r.i], true
}

// int reads an integer that fits an int, as strconv.ParseInt reads it.
func (r *trackReader) int(v *int) bool {
	lit, ok := r.integer()
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(lit, 10, strconv.IntSize)
	*v = int(n)
	return err == nil
}

// uint reads a non-negative integer that fits a uint64.
func (r *trackReader) uint(v *uint64) bool {
	lit, ok := r.integer()
	if !ok {
		return false
	}
	n, err := strconv.ParseUint(lit, 10, 64)
	*v = n
	return err == nil
}

// trace reads the trace object.
func (r *trackReader) trace(tr *Trace) bool {
	return r.object(func(key string) bool {
		switch key {
		case "traceparent":
			return r.once(13) && r.str(&tr.Parent)
		case "tracestate":
			return r.once(14) && r.str(&tr.State)
		}
		return false
	})
}
