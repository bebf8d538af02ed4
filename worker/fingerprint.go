package worker

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// fingerprint identifies a command under its commandId (SPEC §3): the first
// 16 hex digits of the SHA-256 of its action token, its params as compacted
// JSON (whitespace does not matter), and its processId and deadline as given
// ("" when absent). The compaction is encoding/json's, which takes what json
// v2 refuses (a duplicate name, invalid UTF-8), so that the fingerprint of a
// command stays what earlier versions stored in its claim. A body whose envelope could not be read is fingerprinted
// whole, so that a corrected command never matches the rejected one.
func fingerprint(action string, body []byte, envelope *queue.Command) string {
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
		if raw := envelope.Params; raw != nil && json.Compact(&params, raw) != nil {
			params.Reset()
			params.Write(raw)
		}
		if params.Len() == 0 || params.String() == "null" {
			params.Reset()
			params.WriteString("{}")
		}
		h.Write(params.Bytes())
		for _, raw := range []jsontext.Value{envelope.ProcessID, envelope.Deadline} {
			h.Write([]byte{0})
			h.Write([]byte(givenString(raw)))
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// givenString is a JSON string's value, or the raw JSON of anything else
// ("" when absent), so that two spellings of one string fingerprint alike.
func givenString(raw jsontext.Value) string {
	if len(raw) == 0 {
		return ""
	}
	if s, problem := stringField(raw); problem == "" {
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
