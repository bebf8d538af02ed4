package worker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/txworker/txworker/platform"
)

// Rejection reasons, the closed set counted by metrics.
const (
	reasonMalformed       = "malformed"
	reasonTooLarge        = "too_large"
	reasonUnknownAction   = "unknown_action"
	reasonInvalidParams   = "invalid_params"
	reasonInvalidEnvelope = "invalid_envelope"
)

// Worker-side error codes carried in events.
const (
	CodeInvalidCommand   = "INVALID_COMMAND"
	CodeRetriesExhausted = "RETRIES_EXHAUSTED"
	CodeDeadlineExceeded = "DEADLINE_EXCEEDED"
)

// rawKeep is how much of a rejected command travels in its event.
const rawKeep = 4 << 10

// parsed is a command as decoded from one message.
type parsed struct {
	commandID string
	processID string
	deadline  time.Time
	action    platform.Action
	request   *platform.Request
	problems  []string
	reason    string // first rejection reason; "" when valid
	// envelope holds the envelope's known fields as given, for the
	// fingerprint; nil when the body is not a readable JSON object.
	envelope map[string]json.RawMessage
}

func (p *parsed) reject(reason string, problem string) {
	if p.reason == "" {
		p.reason = reason
	}
	p.problems = append(p.problems, problem)
}

var envelopeFields = []string{"commandId", "processId", "deadline", "params"}

// decode validates a command body per SPEC §3. The commandId falls back to
// the Nats-Msg-Id header and then to the stream sequence, so that even an
// undecodable command has an id for its rejected event.
func decode(actionName string, body []byte, hdr nats.Header, seq uint64, maxBytes int) *parsed {
	p := &parsed{}
	defer func() { p.commandID = commandID(p.commandID, hdr, seq) }()

	act, known := platform.LookupAction(actionName)
	if !known {
		p.reject(reasonUnknownAction, fmt.Sprintf("action %q is not one of %s", clip(actionName, 64), actionNames()))
	}
	p.action = act
	if len(body) > maxBytes {
		p.reject(reasonTooLarge, fmt.Sprintf("command is %d bytes; the limit is %d", len(body), maxBytes))
		// Still name the command by its own id when it has one: the
		// stream caps messages at 1 MiB, so this parse is bounded.
		var env struct {
			CommandID string `json:"commandId"`
		}
		if json.Unmarshal(body, &env) == nil && checkCommandID(env.CommandID) == "" {
			p.commandID = env.CommandID
		}
		return p
	}
	if !json.Valid(body) {
		var v any
		p.reject(reasonMalformed, "command is not a JSON object: "+jsonProblem(json.Unmarshal(body, &v)))
		return p
	}
	// One pass over the envelope (platform.Members); the params are read
	// once more, by the action. A repeated field is named, and as with
	// encoding/json the last one counts.
	members, isObject := platform.Members(body)
	if !isObject {
		var fields map[string]json.RawMessage
		p.reject(reasonMalformed, "command is not a JSON object: "+jsonProblem(json.Unmarshal(body, &fields)))
		return p
	}
	fields := make(map[string]json.RawMessage, len(envelopeFields))
	seen := make(map[string]bool, len(members))
	repeated := false
	for _, m := range members {
		known := slices.Contains(envelopeFields, m.Name)
		switch {
		case seen[m.Name] && !repeated:
			repeated = true
			p.reject(reasonInvalidEnvelope, fmt.Sprintf("field %q given more than once", clip(m.Name, 64)))
		case seen[m.Name]:
		case !known:
			p.reject(reasonInvalidEnvelope, fmt.Sprintf("unknown field %q", clip(m.Name, 64)))
		}
		seen[m.Name] = true
		if known {
			fields[m.Name] = m.Value
		}
	}
	p.envelope = fields
	if raw, ok := fields["commandId"]; ok {
		id, problem := stringField(raw)
		if problem == "" {
			problem = checkCommandID(id)
		}
		if problem != "" {
			p.reject(reasonInvalidEnvelope, "commandId: "+problem)
		} else {
			p.commandID = id
		}
	}
	if raw, ok := fields["processId"]; ok {
		id, problem := stringField(raw)
		if problem == "" {
			problem = checkProcessID(id)
		}
		if problem != "" {
			p.reject(reasonInvalidEnvelope, "processId: "+problem)
		} else {
			p.processID = id
		}
	}
	if raw, ok := fields["deadline"]; ok {
		s, problem := stringField(raw)
		if problem == "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				problem = "not an RFC 3339 time"
			}
			p.deadline = t
		}
		if problem != "" {
			p.reject(reasonInvalidEnvelope, "deadline: "+problem)
		}
	}
	params, ok := fields["params"]
	if !ok || bytes.Equal(bytes.TrimSpace(params), []byte("null")) {
		params = json.RawMessage("{}")
	}
	if known {
		req, problems := act.Parse(params)
		for _, pr := range problems {
			p.reject(reasonInvalidParams, pr)
		}
		p.request = req
	}
	return p
}

func commandID(fromBody string, hdr nats.Header, seq uint64) string {
	if fromBody != "" {
		return fromBody
	}
	if id := hdr.Get(nats.MsgIdHdr); id != "" && checkCommandID(id) == "" {
		return id
	}
	return strconv.FormatUint(seq, 10)
}

func stringField(raw json.RawMessage) (string, string) {
	s, bad, ok := platform.StringValue(raw)
	switch {
	case !ok:
		return "", "must be a JSON string"
	case bad != "":
		return "", "not valid UTF-8 (invalid bytes or an unpaired surrogate escape)"
	}
	return s, ""
}

// checkCommandID enforces 1–128 printable characters.
func checkCommandID(id string) string {
	if !utf8.ValidString(id) {
		return "not valid UTF-8"
	}
	n := utf8.RuneCountInString(id)
	if n < 1 || n > 128 {
		return fmt.Sprintf("%d characters; want 1 to 128", n)
	}
	for _, r := range id {
		if !unicode.IsPrint(r) {
			return "contains a non-printable character"
		}
	}
	return ""
}

// checkProcessID enforces a v4 UUID in its canonical 36-character form.
func checkProcessID(id string) string {
	u, err := uuid.Parse(id)
	if err != nil || len(id) != 36 {
		return "not a UUID"
	}
	if u.Version() != 4 || u.Variant() != uuid.RFC4122 {
		return fmt.Sprintf("UUID version %d; the platform requires a v4 UUID", u.Version())
	}
	return ""
}

func jsonProblem(err error) string {
	if err == nil {
		return "null"
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d: %s", se.Offset, clip(se.Error(), 120))
	case errors.As(err, &te):
		return "found a JSON " + te.Value
	}
	return clip(err.Error(), 120)
}

func actionNames() string {
	var names []string
	for _, a := range platform.Actions() {
		names = append(names, a.Name)
	}
	return strings.Join(names, ", ")
}

// clip shortens s for messages, never splitting a rune.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
