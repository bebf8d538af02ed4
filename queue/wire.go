package queue

import (
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The messages the worker writes for every command — claims, events
// (SPEC §4), tracking messages — are JSON through
// github.com/go-json-experiment/json. Their wire format is the structs'
// json tags: members in field order, strings tagged omitempty left out when
// empty, numbers, booleans, times and Trace tagged omitzero left out when
// zero, times in RFC 3339 with nanoseconds. TestWireFormat pins the bytes,
// TestWireMatchesEncodingJSON holds them to what encoding/json wrote before.

// encodeOptions: a string with invalid UTF-8 (a command's subject, a problem
// quoting bad input) is written with U+FFFD for its bad bytes, as
// encoding/json wrote it, instead of failing the message.
var encodeOptions = jsontext.AllowInvalidUTF8(true)

// marshal encodes one of the worker's messages. It fails only on a value
// JSON cannot hold, such as a time outside the years 0000–9999; callers wrap
// that in ErrUnencodable.
func marshal(v any) ([]byte, error) { return json.Marshal(v, encodeOptions) }

// DecodeTrack decodes a tracking message into *t; whatever *t held before is
// overwritten. Members match Track's json names exactly; members it does not
// know are ignored (a message from a newer worker). Malformed JSON, a
// duplicate name, invalid UTF-8 and a value of the wrong type or range are
// errors; *t then holds the members decoded before the error.
func DecodeTrack(data []byte, t *Track) error {
	*t = Track{}
	return json.Unmarshal(data, t)
}

// decodeClaim decodes a stored claim with the same rules as DecodeTrack.
func decodeClaim(data []byte, cl *Claim) error {
	*cl = Claim{}
	return json.Unmarshal(data, cl)
}

// decodeEvent decodes an event with the same rules as DecodeTrack.
func decodeEvent(data []byte, ev *Event) error {
	*ev = Event{}
	return json.Unmarshal(data, ev)
}
