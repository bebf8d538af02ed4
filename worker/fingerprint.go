package worker

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/txworker/txworker/platform"
)

// fingerprint identifies a command under its commandId (SPEC §3): the first
// 16 hex digits of the SHA-256 of its action token, its params as compacted
// JSON (whitespace does not matter), and its processId and deadline as given
// ("" when absent). A body whose envelope could not be read is fingerprinted
// whole, so that a corrected command never matches the rejected one.
func fingerprint(action string, body []byte, envelope map[string]json.RawMessage) string {
	h := sha256.New()
	if envelope == nil {
		h.Write([]byte("raw\x00"))
		h.Write([]byte(action))
		h.Write([]byte{0})
		h.Write(body)
	} else {
		h.Write([]byte("cmd\x00"))
		h.Write([]byte(action))
		h.Write([]byte{0})
		var params bytes.Buffer
		if raw, ok := envelope["params"]; ok && json.Compact(&params, raw) != nil {
			params.Reset()
			params.Write(raw)
		}
		if params.Len() == 0 || params.String() == "null" {
			params.Reset()
			params.WriteString("{}")
		}
		h.Write(params.Bytes())
		for _, f := range []string{"processId", "deadline"} {
			h.Write([]byte{0})
			h.Write([]byte(givenString(envelope[f])))
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// givenString is a JSON string's value, or the raw JSON of anything else
// ("" when absent), so that two spellings of one string fingerprint alike.
func givenString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	if s, bad, ok := platform.StringValue(raw); ok && bad == "" {
		return "s" + s
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return "r" + string(raw)
	}
	return "j" + b.String()
}

// safeAction is the action token of an event subject: one of the five
// actions, else "unknown" (SPEC §4: no subject built from unchecked input).
func safeAction(name string) string {
	if _, ok := platform.LookupAction(name); ok {
		return name
	}
	return "unknown"
}
