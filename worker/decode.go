package worker

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
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
	derived   bool // commandID is derived from the stream (SPEC §3: _seq.…)
	processID string
	deadline  time.Time
	action    platform.Action
	request   *platform.Request
	problems  []string
	reason    string // first rejection reason; "" when valid
	// envelope is the envelope as given, for the fingerprint; nil when the
	// body is not a readable JSON object.
	envelope *queue.Command
}

func (p *parsed) reject(reason string, problem string) {
	if p.reason == "" {
		p.reason = reason
	}
	p.problems = append(p.problems, problem)
}

// input is one command message as decode reads it.
type input struct {
	action   string // actionToken's answer: an action token or queue.ActionUnknown
	token    string // what stands where the action token should (for the problem text)
	subject  string // the message's subject
	body     []byte
	hdr      nats.Header
	seq      uint64    // the message's stream sequence
	received time.Time // the message's stream timestamp
	created  time.Time // the commands stream's creation time (Bus.CommandsCreated)
}

// limits bound what a command may carry.
type limits struct {
	maxBytes int           // body size (SPEC §3: 64 KiB)
	maxAhead time.Duration // how far after its receipt a deadline may lie; 0: no bound
}

// derivedIDPrefix starts every derived commandId; producer ids may not
// start with "_" (SPEC §3).
const derivedIDPrefix = "_seq."

// derivedID is the commandId of a message with no id of its own:
// _seq.{created unix ns}.{sequence}, unique across re-creations of the stream.
func derivedID(created time.Time, seq uint64) string {
	var ns int64
	if !created.IsZero() {
		ns = created.UnixNano()
	}
	return derivedIDPrefix + strconv.FormatInt(ns, 10) + "." + strconv.FormatUint(seq, 10)
}

// actionToken maps a command subject to the checked action token it stands
// for: one of the action tokens when the subject is exactly
// {prefix}.cmd.{action}, else queue.ActionUnknown. rest is what follows
// "{prefix}.cmd." (the whole subject when it does not start with it). It is
// the only place where a subject becomes an action; event subjects and
// claims are built from its answer only (SPEC §4).
func actionToken(prefix, subject string) (action, rest string) {
	rest, ok := strings.CutPrefix(subject, prefix+".cmd.")
	if !ok {
		return queue.ActionUnknown, subject
	}
	if a, known := platform.LookupAction(rest); known {
		return a.Name, rest
	}
	return queue.ActionUnknown, rest
}

// decode validates a command body per SPEC §3. The commandId falls back to
// the Nats-Msg-Id header and then to an id derived from the stream, so that
// even an undecodable command has an id for its rejected event; a body too
// large or too deep to decode is still named by its own commandId when a
// bounded scan of its top level finds one.
func decode(in input, lim limits) *parsed {
	p := &parsed{}
	fromBody := false // the body's commandId member was read (valid or not)
	defer func() {
		if p.commandID != "" {
			return
		}
		if id := in.hdr.Get(nats.MsgIdHdr); id != "" {
			problem := checkCommandID(id)
			if problem == "" {
				p.commandID = id
				return
			}
			if !fromBody {
				p.reject(reasonInvalidEnvelope, "Nats-Msg-Id header: "+problem)
			}
		}
		p.commandID, p.derived = derivedID(in.created, in.seq), true
	}()

	act, known := platform.LookupAction(in.action)
	if !known {
		problem := fmt.Sprintf("action %q is not one of %s", clip(in.token, 64), actionNames())
		if in.subject != "" {
			problem += fmt.Sprintf(" (subject %q)", clip(in.subject, 128))
		}
		p.reject(reasonUnknownAction, problem)
	}
	p.action = act
	if len(in.body) > lim.maxBytes {
		p.reject(reasonTooLarge, fmt.Sprintf("command is %d bytes; the limit is %d", len(in.body), lim.maxBytes))
		p.commandID, fromBody = scanCommandID(in.body)
		return p
	}
	cmd, problem := decodeEnvelope(in.body)
	if cmd == nil {
		p.reject(reasonMalformed, "command is not a JSON object: "+problem)
		if problem != "null" && !strings.HasPrefix(problem, "found a JSON") {
			p.commandID, fromBody = scanCommandID(in.body)
		}
		return p
	}
	if problem != "" {
		p.reject(reasonInvalidEnvelope, problem)
	}
	for name := range memberNames(cmd.Unknown) {
		p.reject(reasonInvalidEnvelope, fmt.Sprintf("unknown field %q", clip(name, 64)))
	}
	p.envelope = cmd
	if raw := cmd.CommandID; raw != nil {
		fromBody = true
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
	if raw := cmd.ProcessID; raw != nil {
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
	if raw := cmd.Deadline; raw != nil {
		s, problem := stringField(raw)
		if problem == "" {
			p.deadline, problem = checkDeadline(s, in.received, lim.maxAhead)
		}
		if problem != "" {
			p.reject(reasonInvalidEnvelope, "deadline: "+problem)
		}
	}
	params := cmd.Params
	if params == nil || string(params) == "null" {
		params = jsontext.Value("{}")
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

// checkDeadline parses a deadline (SPEC §3): RFC 3339, an instant in UTC
// within the years 0001–9999 (what a claim can store), and no further than
// maxAhead after received (the state's lifetime, so that the claim outlives
// the command). A deadline in the past is valid: the command times out.
func checkDeadline(s string, received time.Time, maxAhead time.Duration) (time.Time, string) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, "not an RFC 3339 time"
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return time.Time{}, fmt.Sprintf("%q lies in the UTC year %d; want 0001 to 9999", clip(s, 64), y)
	}
	if maxAhead > 0 && t.Sub(received) > maxAhead {
		return time.Time{}, fmt.Sprintf("%q is more than %s after the command was received (%s); the command's state is kept no longer",
			clip(s, 64), days(maxAhead), received.UTC().Format(time.RFC3339))
	}
	return t, ""
}

// days writes d in days when it is a whole number of them.
func days(d time.Duration) string {
	const day = 24 * time.Hour
	if d%day == 0 {
		if d == day {
			return "1 day"
		}
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}

// stringField is the value of a member that must be a JSON string.
func stringField(raw jsontext.Value) (string, string) {
	if raw.Kind() != '"' {
		return "", "must be a JSON string"
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", "not valid UTF-8 (invalid bytes or an unpaired surrogate escape)"
	}
	return s, ""
}

// decodeEnvelope reads a command body into a queue.Command with json v2. A body that is not a
// JSON object gives nil and what is wrong ("null", "found a JSON array", a syntax error and its
// byte). A duplicate envelope member, invalid UTF-8 or an unpaired surrogate escape, which json
// v2 refuses, are problems of the member they stand in: the body is then read again allowing
// them (the last of repeated members counts), so that every member is still checked and named;
// the one problem returned is a repeated envelope member's. Problems inside params are the
// action's to name (platform.Action.Parse).
func decodeEnvelope(body []byte) (*queue.Command, string) {
	cmd := new(queue.Command)
	err := json.Unmarshal(body, cmd)
	if err == nil {
		if k := jsontext.Value(body).Kind(); k != '{' {
			return nil, "null"
		}
		return cmd, ""
	}
	var se *jsontext.SyntacticError
	if !errors.As(err, &se) {
		return nil, jsonProblem(err)
	}
	*cmd = queue.Command{}
	if json.Unmarshal(body, cmd, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)) != nil {
		return nil, jsonProblem(err)
	}
	var top []string
	for tok := range se.JSONPointer.Tokens() {
		top = append(top, tok)
	}
	if errors.Is(err, jsontext.ErrDuplicateName) && len(top) == 1 {
		return cmd, fmt.Sprintf("field %q given more than once", clip(top[0], 64))
	}
	return cmd, ""
}

// memberNames yields the member names of the JSON object obj (nil: none).
func memberNames(obj jsontext.Value) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		if obj == nil {
			return
		}
		dec := jsontext.NewDecoder(bytes.NewReader(obj), jsontext.AllowInvalidUTF8(true))
		if _, err := dec.ReadToken(); err != nil {
			return
		}
		for dec.PeekKind() == '"' {
			tok, err := dec.ReadToken()
			if err != nil || !yield(tok.String()) || dec.SkipValue() != nil {
				return
			}
		}
	}
}

// checkCommandID enforces SPEC §3's rules for a commandId or Nats-Msg-Id:
// 1–128 printable characters, not starting with "_" (reserved for derived
// ids).
func checkCommandID(id string) string {
	if !utf8.ValidString(id) {
		return "not valid UTF-8"
	}
	n := utf8.RuneCountInString(id)
	if n < 1 || n > 128 {
		return fmt.Sprintf("%d characters; want 1 to 128", n)
	}
	if strings.HasPrefix(id, "_") {
		return `starts with "_": the "_" prefix is reserved for the ids the worker derives`
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

// jsonProblem says what json v2 found wrong with a body.
func jsonProblem(err error) string {
	var se *jsontext.SyntacticError
	var me *json.SemanticError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d: %s", se.ByteOffset, clip(se.Err.Error(), 120))
	case errors.As(err, &me) && me.JSONKind != 0:
		return "found a JSON " + kindName(me.JSONKind)
	}
	return clip(err.Error(), 120)
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '[':
		return "array"
	case '0':
		return "number"
	case 't', 'f':
		return "bool"
	}
	return k.String()
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
