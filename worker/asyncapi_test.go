package worker

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/nats-io/nats.go"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// The tests below hold asyncapi.yaml (repository root) and the worker to each other: the
// document's channels are the worker's subjects, every example in it is accepted by the worker's
// own checks (decode for commands, queue's event decoding for events, the header checks), and
// every file of testdata/hostile that the worker refuses is refused by the document too — by its
// channels, its header schemas or its payload schemas — except the few classes a JSON Schema
// cannot express (asyncAPISchemaCannotSay). The schemas are read as draft-07 (AsyncAPI 3.0's
// default schema format is a superset of draft-07, and the document keeps to draft-07's
// keywords), with format assertions on.

const asyncAPIPath = "../asyncapi.yaml"

// asyncAPIDoc is the document as JSON values and a compiler for the schemas in it.
type asyncAPIDoc struct {
	root     map[string]any
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
}

const asyncAPIResource = "file:///asyncapi.json"

func loadAsyncAPI(t *testing.T) *asyncAPIDoc {
	t.Helper()
	raw, err := os.ReadFile(asyncAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var y any
	if err := yaml.Unmarshal(raw, &y); err != nil {
		t.Fatalf("asyncapi.yaml: %v", err)
	}
	// Through JSON, so that the values are JSON's (numbers as json.Number).
	b, err := stdjson.Marshal(y)
	if err != nil {
		t.Fatalf("asyncapi.yaml is not JSON-compatible: %v", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	root, _ := doc.(map[string]any)
	if root["asyncapi"] != "3.0.0" {
		t.Fatalf("asyncapi: %v, want 3.0.0", root["asyncapi"])
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	// Only components is a resource: the rest of the document holds no schema of its own (every
	// message points into components) and is not a schema itself.
	if err := c.AddResource(asyncAPIResource, map[string]any{"components": root["components"]}); err != nil {
		t.Fatal(err)
	}
	return &asyncAPIDoc{root: root, compiler: c, schemas: map[string]*jsonschema.Schema{}}
}

// node is the value at a JSON pointer of the document ("#/channels/x").
func (d *asyncAPIDoc) node(t *testing.T, ptr string) any {
	t.Helper()
	var v any = d.root
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "#/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: %q is not in an object", ptr, tok)
		}
		if v, ok = m[tok]; !ok {
			t.Fatalf("%s: no %q", ptr, tok)
		}
	}
	return v
}

// deref follows $ref (within the document) until the value is not a reference.
func (d *asyncAPIDoc) deref(t *testing.T, v any) (any, string) {
	t.Helper()
	ptr := ""
	for range 10 {
		m, ok := v.(map[string]any)
		ref, isRef := m["$ref"].(string)
		if !ok || !isRef {
			return v, ptr
		}
		ptr = ref
		v = d.node(t, ref)
	}
	t.Fatalf("$ref chain too long at %s", ptr)
	return nil, ""
}

// schema compiles the schema at a pointer into components.
func (d *asyncAPIDoc) schema(t *testing.T, ptr string) *jsonschema.Schema {
	t.Helper()
	if s, ok := d.schemas[ptr]; ok {
		return s
	}
	if !strings.HasPrefix(ptr, "#/components/") {
		t.Fatalf("schema %s is not under components", ptr)
	}
	s, err := d.compiler.Compile(asyncAPIResource + ptr)
	if err != nil {
		t.Fatalf("compile %s: %v", ptr, err)
	}
	d.schemas[ptr] = s
	return s
}

// asyncMessage is one message of a channel, resolved.
type asyncMessage struct {
	key      string         // the key in the channel's messages
	ptr      string         // where it is defined (#/components/messages/…)
	def      map[string]any // the message object
	payload  string         // pointer to its payload schema
	headers  string         // pointer to its headers schema (message or trait)
	examples []map[string]any
}

// asyncChannel is one channel, resolved.
type asyncChannel struct {
	key, address string
	params       map[string]map[string]any
	messages     []asyncMessage
}

func (d *asyncAPIDoc) channels(t *testing.T) []asyncChannel {
	t.Helper()
	chans, _ := d.root["channels"].(map[string]any)
	var out []asyncChannel
	for _, key := range sortedKeys(chans) {
		ch, _ := d.deref(t, chans[key])
		cm := ch.(map[string]any)
		c := asyncChannel{key: key, params: map[string]map[string]any{}}
		c.address, _ = cm["address"].(string)
		params, _ := cm["parameters"].(map[string]any)
		for name, p := range params {
			pv, _ := d.deref(t, p)
			c.params[name], _ = pv.(map[string]any)
		}
		msgs, _ := cm["messages"].(map[string]any)
		for _, mk := range sortedKeys(msgs) {
			mv, ptr := d.deref(t, msgs[mk])
			m := asyncMessage{key: mk, ptr: ptr, def: mv.(map[string]any)}
			m.payload = d.schemaPointer(t, m.def["payload"], ptr+"/payload")
			if h, ok := m.def["headers"]; ok {
				m.headers = d.schemaPointer(t, h, ptr+"/headers")
			}
			traits, _ := m.def["traits"].([]any)
			for _, tr := range traits {
				tv, trPtr := d.deref(t, tr)
				if h, ok := tv.(map[string]any)["headers"]; ok && m.headers == "" {
					m.headers = d.schemaPointer(t, h, trPtr+"/headers")
				}
			}
			exs, _ := m.def["examples"].([]any)
			for _, e := range exs {
				m.examples = append(m.examples, e.(map[string]any))
			}
			c.messages = append(c.messages, m)
		}
		out = append(out, c)
	}
	return out
}

// schemaPointer is the pointer of a schema given as a $ref, or at: where it stands.
func (d *asyncAPIDoc) schemaPointer(t *testing.T, v any, at string) string {
	t.Helper()
	if m, ok := v.(map[string]any); ok {
		if ref, ok := m["$ref"].(string); ok && len(m) == 1 {
			return ref
		}
	}
	return at
}

// subjects expands a channel address with the sandbox prefix and every value of each
// parameter's enum (a parameter without one, other than prefix, is a test failure: every
// subject token of the contract is a closed set).
func (c asyncChannel) subjects(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{c.address: {}}
	for name, p := range c.params {
		var values []string
		if name == "prefix" {
			values = []string{queue.DefaultPrefix}
			if p["default"] != queue.DefaultPrefix {
				t.Errorf("channel %s: prefix default %v, want %s", c.key, p["default"], queue.DefaultPrefix)
			}
		} else {
			enum, _ := p["enum"].([]any)
			if len(enum) == 0 {
				t.Fatalf("channel %s: parameter %s has no enum", c.key, name)
			}
			for _, e := range enum {
				values = append(values, e.(string))
			}
		}
		next := map[string]map[string]string{}
		for s, bound := range out {
			if !strings.Contains(s, "{"+name+"}") {
				t.Fatalf("channel %s: parameter %s not in address %s", c.key, name, c.address)
			}
			for _, v := range values {
				b := maps(bound)
				b[name] = v
				next[strings.Replace(s, "{"+name+"}", v, 1)] = b
			}
		}
		out = next
	}
	for s := range out {
		if strings.Contains(s, "{") {
			t.Fatalf("channel %s: address %s has a parameter not declared", c.key, s)
		}
	}
	return out
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// commandChannels maps each subject suffix after "txworker.cmd." to its channel's only message.
func (d *asyncAPIDoc) commandChannels(t *testing.T) map[string]asyncMessage {
	t.Helper()
	out := map[string]asyncMessage{}
	for _, c := range d.channels(t) {
		for subject := range c.subjects(t) {
			rest, ok := strings.CutPrefix(subject, queue.DefaultPrefix+".cmd.")
			if !ok {
				continue
			}
			if len(c.messages) != 1 {
				t.Fatalf("command channel %s has %d messages, want 1 (one action, one command schema)", c.key, len(c.messages))
			}
			out[rest] = c.messages[0]
		}
	}
	return out
}

// exampleJSON is an example's payload as JSON bytes.
func exampleJSON(t *testing.T, ex map[string]any) []byte {
	t.Helper()
	b, err := stdjson.Marshal(ex["payload"])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exampleHeaders(ex map[string]any) nats.Header {
	h := nats.Header{}
	hs, _ := ex["headers"].(map[string]any)
	for k, v := range hs {
		h[k] = []string{fmt.Sprint(v)}
	}
	return h
}

// headerInstance is a message's headers as a schema instance: each header's first value.
func headerInstance(h nats.Header) map[string]any {
	out := map[string]any{}
	for k, v := range h {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

func validJSON(t *testing.T, s *jsonschema.Schema, body []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// TestAsyncAPIChannels: the command channels are exactly the actions' subjects, and the event
// channel's action and outcome parameters are exactly the tokens an event subject may carry.
func TestAsyncAPIChannels(t *testing.T) {
	d := loadAsyncAPI(t)
	cmds := d.commandChannels(t)
	var want []string
	for _, a := range platform.Actions() {
		want = append(want, a.Name)
		if m, ok := cmds[a.Name]; !ok {
			t.Errorf("no channel for %s.cmd.%s", queue.DefaultPrefix, a.Name)
		} else if m.def["name"] != a.Name || len(m.examples) == 0 {
			t.Errorf("channel of %s: message name %v with %d examples, want name %s and examples", a.Name, m.def["name"], len(m.examples), a.Name)
		}
	}
	if got := sortedKeys(cmds); !slices.Equal(got, sorted(want)) {
		t.Errorf("command channels %v, want %v", got, sorted(want))
	}
	outcomes := []string{queue.OutcomeAccepted, queue.OutcomeSucceeded, queue.OutcomeFailed, queue.OutcomeRejected, queue.OutcomeTimedOut, OutcomeDuplicate}
	var events *asyncChannel
	for _, c := range d.channels(t) {
		if strings.Contains(c.address, ".evt.") {
			if events != nil {
				t.Fatalf("two event channels: %s and %s", events.key, c.key)
			}
			events = &c
		}
	}
	if events == nil {
		t.Fatal("no event channel")
	}
	if events.address != "{prefix}.evt.{action}.{outcome}" {
		t.Errorf("event channel address %s", events.address)
	}
	subjects := events.subjects(t)
	for _, a := range append(slices.Clone(queue.ActionTokens), queue.ActionUnknown) {
		for _, o := range outcomes {
			s := queue.DefaultPrefix + ".evt." + a + "." + o
			if _, ok := subjects[s]; !ok {
				t.Errorf("event subject %s is not in the document", s)
			}
		}
	}
	for s, bound := range subjects {
		if err := queue.CheckEventTokens(bound["action"], bound["outcome"]); err != nil {
			t.Errorf("the document's event subject %s: %v", s, err)
		}
	}
	if len(subjects) != (len(queue.ActionTokens)+1)*len(outcomes) {
		t.Errorf("%d event subjects, want %d", len(subjects), (len(queue.ActionTokens)+1)*len(outcomes))
	}
	var names []string
	for _, m := range events.messages {
		names = append(names, fmt.Sprint(m.def["name"]))
	}
	if !slices.Equal(sorted(names), sorted(outcomes)) {
		t.Errorf("event messages %v, want one per outcome %v", names, outcomes)
	}
	// Every operation points at a channel of the document, in the worker's direction.
	ops, _ := d.root["operations"].(map[string]any)
	dirs := map[string]string{}
	for _, k := range sortedKeys(ops) {
		op := ops[k].(map[string]any)
		ch, _ := op["channel"].(map[string]any)["$ref"].(string)
		dirs[strings.TrimPrefix(ch, "#/channels/")] = fmt.Sprint(op["action"])
	}
	for _, c := range d.channels(t) {
		want := "receive"
		if c.key == events.key {
			want = "send"
		}
		if dirs[c.key] != want {
			t.Errorf("channel %s: operation %q, want %q (the worker's side)", c.key, dirs[c.key], want)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestAsyncAPICommandExamples: every command example is valid against its message's schemas and
// accepted by the worker's decode (SPEC §3) on its channel's subject, with its headers.
func TestAsyncAPICommandExamples(t *testing.T) {
	d := loadAsyncAPI(t)
	n := 0
	for action, m := range d.commandChannels(t) {
		payload, headers := d.schema(t, m.payload), d.schema(t, m.headers)
		for i, ex := range m.examples {
			name := fmt.Sprintf("%s/%v", action, ex["name"])
			t.Run(name, func(t *testing.T) {
				n++
				body, hdr := exampleJSON(t, ex), exampleHeaders(ex)
				if err := validJSON(t, payload, body); err != nil {
					t.Errorf("example %d against %s: %v", i, m.payload, err)
				}
				if err := headers.Validate(headerInstance(hdr)); err != nil {
					t.Errorf("example %d headers against %s: %v", i, m.headers, err)
				}
				in := testInput(action, body, hdr, 1)
				in.subject = queue.DefaultPrefix + ".cmd." + action
				in.action, in.token = actionToken(queue.DefaultPrefix, in.subject)
				p := decode(in, testLimits)
				if p.reason != "" {
					t.Fatalf("the worker rejects the example (%s): %q\n%s", p.reason, p.problems, body)
				}
				if id := hdr.Get(nats.MsgIdHdr); id != "" {
					if problem := checkCommandID(id); problem != "" {
						t.Errorf("Nats-Msg-Id %q: %s", id, problem)
					}
				}
				if tp := hdr.Get(queue.TraceParentHeader); tp != "" && !queue.ValidTraceParent(tp) {
					t.Errorf("traceparent %q is not one the worker copies", tp)
				}
				if ts := hdr.Get(queue.TraceStateHeader); ts != "" && !queue.ValidTraceState(ts) {
					t.Errorf("tracestate %q is not one the worker copies", ts)
				}
				if ct := hdr.Get("Content-Type"); ct != "" && ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
			})
		}
	}
	if n < len(platform.Actions()) {
		t.Errorf("%d command examples, want at least one per action", n)
	}
}

// TestAsyncAPIEventExamples: every event example is valid against its message's schemas,
// decodes into queue.Event with json v2 refusing unknown members (so it carries only what the
// worker writes), and is the event NewEvent builds from its data: id, type, CloudEvents
// constants; its headers are those PublishEvent sets.
func TestAsyncAPIEventExamples(t *testing.T) {
	d := loadAsyncAPI(t)
	n := 0
	for _, c := range d.channels(t) {
		if !strings.Contains(c.address, ".evt.") {
			continue
		}
		subjects := c.subjects(t)
		for _, m := range c.messages {
			payload, headers := d.schema(t, m.payload), d.schema(t, m.headers)
			if len(m.examples) == 0 {
				t.Errorf("event message %s has no example", m.key)
			}
			for i, ex := range m.examples {
				t.Run(fmt.Sprintf("%s/%v", m.key, ex["name"]), func(t *testing.T) {
					n++
					body, hdr := exampleJSON(t, ex), exampleHeaders(ex)
					if err := validJSON(t, payload, body); err != nil {
						t.Errorf("example %d against %s: %v", i, m.payload, err)
					}
					if err := headers.Validate(headerInstance(hdr)); err != nil {
						t.Errorf("example %d headers against %s: %v", i, m.headers, err)
					}
					var ev queue.Event
					if err := json.Unmarshal(body, &ev, json.RejectUnknownMembers(true)); err != nil {
						t.Fatalf("queue.Event does not decode the example: %v\n%s", err, body)
					}
					dd := ev.Data
					if dd.Outcome != m.def["name"] {
						t.Errorf("outcome %q in message %v", dd.Outcome, m.def["name"])
					}
					if err := queue.CheckEventTokens(dd.Action, dd.Outcome); err != nil {
						t.Error(err)
					}
					if _, ok := subjects[queue.DefaultPrefix+".evt."+dd.Action+"."+dd.Outcome]; !ok {
						t.Errorf("no channel subject for action %q outcome %q", dd.Action, dd.Outcome)
					}
					want := queue.NewEvent(ev.Source, ev.Subject, dd, ev.Time)
					if dd.Outcome == OutcomeDuplicate {
						fp, ok := strings.CutPrefix(ev.ID, dd.CommandID+":duplicate:")
						if !ok || len(fp) != 16 || strings.Trim(fp, "0123456789abcdef") != "" {
							t.Errorf("duplicate id %q is not {commandId}:duplicate:{16 hex digits}", ev.ID)
						}
						want.ID = ev.ID
					}
					if ev.ID != want.ID || ev.Type != want.Type || ev.SpecVersion != want.SpecVersion ||
						ev.DataContentType != want.DataContentType || !ev.Time.Equal(want.Time) {
						t.Errorf("the example is not the event NewEvent builds:\n got %+v\nwant %+v", ev, want)
					}
					if dd.Action == queue.ActionUnknown && dd.CommandSubject == "" {
						t.Error("an unknown-action event without commandSubject")
					}
					if got := hdr.Get("Content-Type"); got != queue.ContentType {
						t.Errorf("Content-Type %q, want %q", got, queue.ContentType)
					}
					if got := hdr.Get(nats.MsgIdHdr); got != ev.ID {
						t.Errorf("Nats-Msg-Id %q, want the event id %q", got, ev.ID)
					}
					if tp := hdr.Get(queue.TraceParentHeader); tp != "" && !queue.ValidTraceParent(tp) {
						t.Errorf("traceparent %q is not one the worker copies", tp)
					}
					if ts := hdr.Get(queue.TraceStateHeader); ts != "" && !queue.ValidTraceState(ts) {
						t.Errorf("tracestate %q is not one the worker copies", ts)
					}
				})
			}
		}
	}
	if n == 0 {
		t.Fatal("no event examples")
	}
}

// asyncAPISchemaCannotSay lists the files of testdata/hostile that the worker refuses and the
// document's schemas accept, each with the rule the worker applies and why no JSON Schema can
// state it. The document states each rule in prose (info.description, the schemas'
// descriptions). The test fails when a file here becomes invalid against the schema (drop it
// from the list then) or when another file is accepted by the schema.
//
// A further class is not listed file by file: a body that is not an I-JSON text (RFC 7493) —
// not JSON at all, a byte-order mark, a comment, trailing data, invalid UTF-8, an unpaired
// surrogate escape, a member name given twice, or nesting beyond what a JSON parser builds
// (json v2's 10,000 levels). JSON Schema validates a parsed JSON value; such a body never
// becomes one. The document says the body is one I-JSON object; the test checks that json v2,
// the worker's own parser, refuses each such file.
var asyncAPISchemaCannotSay = map[string]string{
	"cancel-offering.deadline-after-9999-utc.json": "the deadline's year taken in UTC: 9999-12-31T23:59:59-23:59 is " +
		"a well-formed date-time whose instant lies in the year 10000; only arithmetic on the offset tells",
	"cancel-offering.deadline-before-0001-utc.json": "the deadline's year taken in UTC: 0001-01-01T00:00:00+23:59 is " +
		"a well-formed date-time whose instant lies in the year 0",
	"cancel-offering.deadline-beyond-state-lifetime.json": "how far ahead of the command's receipt the deadline lies, " +
		"against the deployment's state lifetime: it depends on when the message arrived and on configuration",
	"reject-asset.deep-nesting-extradata.json": "the nesting depth of free-form extraData (at most 32 levels within " +
		"params): JSON Schema has no depth keyword, and extraData has no fixed shape to bound it by",
}

// asyncAPIWorkerReason is, for each file of asyncAPISchemaCannotSay, a piece of the problem the
// worker names, so that the file is refused for that reason and no other.
var asyncAPIWorkerReason = map[string]string{
	"cancel-offering.deadline-after-9999-utc.json":        "UTC year 10000",
	"cancel-offering.deadline-before-0001-utc.json":       "UTC year 0",
	"cancel-offering.deadline-beyond-state-lifetime.json": "after the command was received",
	"reject-asset.deep-nesting-extradata.json":            "nested deeper than 32 levels",
}

// hostileCase is one file of the corpus as the corpus tests publish it.
type hostileCase struct {
	name, subject string
	body          []byte
	hdr           nats.Header
	sidecarHdr    bool
}

func hostileCases(t *testing.T, dir string) []hostileCase {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus in %s (%v)", dir, err)
	}
	var out []hostileCase
	for _, p := range paths {
		body, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(p)
		rest, _, _ := strings.Cut(name, ".")
		base := strings.TrimSuffix(p, ".json")
		if sub, err := os.ReadFile(base + ".subject"); err == nil {
			rest = strings.TrimRight(string(sub), "\n")
		}
		c := hostileCase{name: name, subject: queue.DefaultPrefix + ".cmd." + rest, body: body,
			hdr: nats.Header{nats.MsgIdHdr: []string{"hostile-" + name}}}
		if raw, err := os.ReadFile(base + ".headers"); err == nil {
			c.hdr, c.sidecarHdr = nats.Header{}, true
			for _, line := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
				k, v, ok := strings.Cut(line, ": ")
				if !ok {
					t.Fatalf("%s.headers: line %q is not \"Name: value\"", base, line)
				}
				c.hdr.Add(k, v)
			}
		}
		out = append(out, c)
	}
	return out
}

// documentVerdict says where the document refuses a command: "channel" (no command channel has
// its subject), "headers", "not I-JSON", "schema" (its payload schema), or "" when the document's
// schemas accept it.
func (d *asyncAPIDoc) documentVerdict(t *testing.T, cmds map[string]asyncMessage, c hostileCase) (string, error) {
	t.Helper()
	m, ok := cmds[strings.TrimPrefix(c.subject, queue.DefaultPrefix+".cmd.")]
	if !ok || !strings.HasPrefix(c.subject, queue.DefaultPrefix+".cmd.") {
		return "channel", nil
	}
	if err := d.schema(t, m.headers).Validate(headerInstance(c.hdr)); err != nil {
		return "headers", err
	}
	var v any
	if err := json.Unmarshal(c.body, &v); err != nil {
		return "not I-JSON", err
	}
	if err := validJSON(t, d.schema(t, m.payload), c.body); err != nil {
		return "schema", err
	}
	return "", nil
}

// TestAsyncAPIRefusesHostileCorpus: every file of testdata/hostile is rejected by the worker
// and refused by the document, apart from asyncAPISchemaCannotSay.
func TestAsyncAPIRefusesHostileCorpus(t *testing.T) {
	d := loadAsyncAPI(t)
	cmds := d.commandChannels(t)
	counts := map[string]int{}
	for _, c := range hostileCases(t, filepath.Join("..", "testdata", "hostile")) {
		t.Run(c.name, func(t *testing.T) {
			in := testInput("", c.body, c.hdr, 1)
			in.subject = c.subject
			in.action, in.token = actionToken(queue.DefaultPrefix, c.subject)
			p := decode(in, testLimits)
			if p.reason == "" {
				t.Fatalf("the worker accepts a file of the hostile corpus")
			}
			verdict, err := d.documentVerdict(t, cmds, c)
			counts[verdict]++
			if why, excluded := asyncAPISchemaCannotSay[c.name]; excluded {
				if verdict != "" {
					t.Fatalf("listed as beyond a schema (%s), but the document refuses it (%s: %v): drop it from asyncAPISchemaCannotSay", why, verdict, err)
				}
				if piece := asyncAPIWorkerReason[c.name]; !strings.Contains(joinProblems(p.problems), piece) {
					t.Fatalf("the worker's problems %q do not name %q", p.problems, piece)
				}
				return
			}
			switch verdict {
			case "":
				t.Fatalf("the worker rejects it (%s: %q) but the document's schemas accept it", p.reason, p.problems)
			case "channel":
				if p.reason != reasonUnknownAction {
					t.Errorf("no channel for %q, but the worker's reason is %s", c.subject, p.reason)
				}
			case "headers":
				if !c.sidecarHdr || !strings.Contains(joinProblems(p.problems), "Nats-Msg-Id") {
					t.Errorf("headers refused (%v), but the worker's problems %q are not about Nats-Msg-Id", err, p.problems)
				}
			}
			if c.sidecarHdr && verdict != "headers" {
				t.Errorf("a .headers case refused for %s, not for its headers", verdict)
			}
		})
	}
	t.Logf("refused by: %v; beyond a schema: %d", counts, len(asyncAPISchemaCannotSay))
	if counts[""] != len(asyncAPISchemaCannotSay) {
		t.Errorf("%d files of asyncAPISchemaCannotSay are not in the corpus", len(asyncAPISchemaCannotSay)-counts[""])
	}
}

// TestAsyncAPIAcceptsHostileLookingButValid: the corpus's valid/ files (assetIds with / ? # %,
// Unicode format and separator characters…) are accepted by the worker and by the document, so
// its schemas are not stricter than the worker where that matters most.
func TestAsyncAPIAcceptsHostileLookingButValid(t *testing.T) {
	d := loadAsyncAPI(t)
	cmds := d.commandChannels(t)
	for _, c := range hostileCases(t, filepath.Join("..", "testdata", "hostile", "valid")) {
		t.Run(c.name, func(t *testing.T) {
			in := testInput("", c.body, c.hdr, 1)
			in.subject = c.subject
			in.action, in.token = actionToken(queue.DefaultPrefix, c.subject)
			if p := decode(in, testLimits); p.reason != "" {
				t.Fatalf("the worker rejects it: %q", p.problems)
			}
			if verdict, err := d.documentVerdict(t, cmds, c); verdict != "" {
				t.Fatalf("the document refuses a command the worker accepts (%s): %v", verdict, err)
			}
		})
	}
}
