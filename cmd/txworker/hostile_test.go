package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/platform/platformtest"
)

// hostileDir is the corpus of bad commands (see its README.md).
const hostileDir = "../../testdata/hostile"

// corpusFile is one command of the corpus: the subject's action token is
// the file name up to the first dot, or the whole suffix after
// "txworker.cmd." given in a sidecar {name without .json}.subject file;
// a sidecar .headers file ("Name: value" lines) gives headers to publish
// with, replacing the default Nats-Msg-Id.
type corpusFile struct {
	name, action string
	body         []byte
	headers      nats.Header // nil: no sidecar
}

func readCorpus(t *testing.T, dir string) []corpusFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus in %s (%v)", dir, err)
	}
	var out []corpusFile
	for _, p := range paths {
		body, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(p)
		action, _, _ := strings.Cut(name, ".")
		base := strings.TrimSuffix(p, ".json")
		if sub, err := os.ReadFile(base + ".subject"); err == nil {
			action = strings.TrimRight(string(sub), "\n")
		}
		f := corpusFile{name: name, action: action, body: body}
		if raw, err := os.ReadFile(base + ".headers"); err == nil {
			f.headers = nats.Header{}
			for _, line := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
				k, v, ok := strings.Cut(line, ": ")
				if !ok {
					t.Fatalf("%s.headers: line %q is not \"Name: value\"", base, line)
				}
				f.headers.Add(k, v)
			}
		}
		out = append(out, f)
	}
	return out
}

// hostileReasons names, for every file of the corpus, a piece of the
// rejected event's error message: the reason must name the problem. A file
// without an entry (or an entry without a file) fails the test.
var hostileReasons = map[string]string{
	"Cancel-Offering.unknown-action-case.json":            `action "Cancel-Offering" is not one of`,
	"any.subject-gt.json":                                 `action ">" is not one of`,
	"any.subject-star.json":                               `action "*" is not one of`,
	"cancel-offering.commandid-underscore.json":           `commandId: starts with "_": the "_" prefix is reserved`,
	"cancel-offering.deadline-after-9999-utc.json":        "deadline: \"9999-12-31T23:59:59-23:59\" lies in the UTC year 10000",
	"cancel-offering.deadline-before-0001-utc.json":       "deadline: \"0001-01-01T00:00:00+23:59\" lies in the UTC year 0",
	"cancel-offering.deadline-beyond-state-lifetime.json": "more than 6 days after the command was received",
	"cancel-offering.deep-nesting-named.json":             "exceeded max depth",
	"cancel-offering.natsmsgid-too-long.json":             "Nats-Msg-Id header: 129 characters",
	"cancel-offering.natsmsgid-underscore.json":           `Nats-Msg-Id header: starts with "_"`,
	"cancel-offering.subject-extra-token.json":            `action "cancel-offering.succeeded" is not one of`,
	"cancel-offering.subject-extra-wildcard.json":         `action "cancel-offering.>" is not one of`,
	"cancel-offering.subject-odd-chars.json":              `action "cancel-off€ring$%~" is not one of`,
	"cancel-offering.too-large-deep-named.json":           "the limit is 65536",
	"cancel-offering.commandid-control-chars.json":        "commandId: contains a non-printable character",
	"cancel-offering.commandid-empty.json":                "commandId: 0 characters",
	"cancel-offering.commandid-invalid-utf8.json":         "commandId: not valid UTF-8",
	"cancel-offering.commandid-lone-surrogate.json":       "commandId: not valid UTF-8",
	"cancel-offering.commandid-number.json":               "commandId: must be a JSON string",
	"cancel-offering.commandid-too-long.json":             "commandId: 129 characters",
	"cancel-offering.comment.json":                        "invalid character '/'",
	"cancel-offering.deadline-no-zone.json":               "deadline: not an RFC 3339 time",
	"cancel-offering.deadline-not-rfc3339.json":           "deadline: not an RFC 3339 time",
	"cancel-offering.deadline-number.json":                "deadline: must be a JSON string",
	"cancel-offering.deep-nesting-envelope.json":          "exceeded max depth",
	"cancel-offering.deep-nesting-params.json":            "nested deeper than 32 levels",
	"cancel-offering.duplicate-envelope-params.json":      `field "params" given more than once`,
	"cancel-offering.duplicate-params-field.json":         "params.securityId: duplicate field",
	"cancel-offering.empty-body.json":                     "syntax error at byte 0: unexpected EOF",
	"cancel-offering.field-name-invalid-utf8.json":        "params: field name is not valid UTF-8",
	"cancel-offering.huge-unknown-field-name.json":        "unknown field",
	"cancel-offering.json-array.json":                     "not a JSON object: found a JSON array",
	"cancel-offering.json-null.json":                      "not a JSON object: null",
	"cancel-offering.json-string.json":                    "not a JSON object: found a JSON string",
	"cancel-offering.many-unknown-fields.json":            "more problems not listed",
	"cancel-offering.not-json.json":                       "invalid character",
	"cancel-offering.nul-between-tokens.json":             `invalid character '\x00' at start of value`,
	"cancel-offering.params-array.json":                   "params: must be an object, not array",
	"cancel-offering.params-missing.json":                 "exactly one of securityId and securityCorrelationData is required",
	"cancel-offering.params-string.json":                  "params: must be an object, not string",
	"cancel-offering.processid-braces.json":               "processId: not a UUID",
	"cancel-offering.processid-empty.json":                "processId: not a UUID",
	"cancel-offering.processid-in-params.json":            "processId belongs in the command envelope",
	"cancel-offering.processid-nil-uuid.json":             "processId: UUID version 0",
	"cancel-offering.processid-no-hyphens.json":           "processId: not a UUID",
	"cancel-offering.processid-not-uuid.json":             "processId: not a UUID",
	"cancel-offering.processid-object.json":               "processId: must be a JSON string",
	"cancel-offering.processid-urn.json":                  "processId: not a UUID",
	"cancel-offering.processid-v1.json":                   "processId: UUID version 1",
	"cancel-offering.processid-v7.json":                   "processId: UUID version 7",
	"cancel-offering.raw-control-char-in-string.json":     "in string (expecting non-control character)",
	"cancel-offering.security-both.json":                  "exactly one of securityId and securityCorrelationData is allowed, not both",
	"cancel-offering.security-neither.json":               "exactly one of securityId and securityCorrelationData is required",
	"cancel-offering.securityid-huge.json":                "params.securityId: longer than 256 characters",
	"cancel-offering.securityid-invalid-utf8.json":        "params.securityId: is not valid UTF-8",
	"cancel-offering.securityid-lone-surrogate.json":      "params.securityId: holds an unpaired surrogate escape",
	"cancel-offering.securityid-newline-escape.json":      "params.securityId: holds control characters",
	"cancel-offering.securityid-nul-escape.json":          "params.securityId: holds control characters",
	"cancel-offering.securityid-null.json":                "params.securityId: must be a string, not null",
	"cancel-offering.securityid-number.json":              "params.securityId: must be a string, not number",
	"cancel-offering.securityid-overlong-utf8.json":       "params.securityId: is not valid UTF-8",
	"cancel-offering.single-quotes.json":                  `invalid character '\'' at start of value`,
	"cancel-offering.too-large.json":                      "the limit is 65536",
	"cancel-offering.trailing-garbage.json":               "after top-level value",
	"cancel-offering.truncated-after-key.json":            "unexpected EOF",
	"cancel-offering.truncated.json":                      "unexpected EOF",
	"cancel-offering.unknown-top-field-case.json":         `unknown field "Params"`,
	"cancel-offering.unknown-top-field.json":              `unknown field "priority"`,
	"cancel-offering.utf8-bom.json":                       `invalid character '\ufeff' at start of value`,
	"cancel-offering.whitespace-only.json":                "unexpected EOF",
	"cancel-txn.submitkey-crlf.json":                      "params.submitKey: holds control characters",
	"cancel-txn.submitkey-empty.json":                     "params.submitKey: must not be empty",
	"cancel-txn.submitkey-missing.json":                   "params.submitKey: required",
	"cancel-txn.submitkey-nul.json":                       "params.submitKey: holds control characters",
	"cancel-txn.submitkey-number.json":                    "params.submitKey: must be a string, not number",
	"cancel-txn.submitkey-too-long.json":                  "params.submitKey: longer than 256 characters",
	"delete-everything.unknown-action.json":               `action "delete-everything" is not one of`,
	"reject-asset.assetid-crlf.json":                      "params.assetId: holds control characters",
	"reject-asset.assetid-dot-dot.json":                   `params.assetId: must not be "." or ".."`,
	"reject-asset.assetid-dot.json":                       `params.assetId: must not be "." or ".."`,
	"reject-asset.assetid-empty.json":                     "params.assetId: must not be empty",
	"reject-asset.assetid-missing.json":                   "params.assetId: required",
	"reject-asset.assetid-nul-traversal.json":             "params.assetId: holds control characters",
	"reject-asset.assetid-number.json":                    "params.assetId: must be a string, not number",
	"reject-asset.assetid-tab.json":                       "params.assetId: holds control characters",
	"reject-asset.assetid-too-long-traversal.json":        "params.assetId: longer than 256 characters",
	"reject-asset.deep-nesting-extradata.json":            "nested deeper than 32 levels",
	"reject-asset.extradata-twice.json":                   "params.extraData: given both here and in rejectReason.extraData",
	"reject-asset.isassetcorrelationid-string.json":       "params.isAssetCorrelationId: must be a boolean, not string",
	"reject-asset.pagenumber-negative.json":               "pageNumber: must be a positive integer",
	"reject-asset.security-both.json":                     "params.transactionData.securityId: exactly one of securityId and securityCorrelationData is allowed, not both",
	"reject-asset.security-neither.json":                  "params.transactionData.securityId: exactly one of securityId and securityCorrelationData is required",
	"remove-service-provider.orgid-missing.json":          "params.orgId: required",
	"remove-service-provider.security-both.json":          "params.transactionData.securityId: exactly one of securityId and securityCorrelationData is allowed, not both",
	"remove-service-provider.security-neither.json":       "params.transactionData.securityId: exactly one of securityId and securityCorrelationData is required",
	"remove-service-provider.unknown-deep-field.json":     "params.transactionData.securityCorrelationData.force: unknown field",
	"revert-to-active.security-both.json":                 "exactly one of securityId and securityCorrelationData is allowed, not both",
	"revert-to-active.security-neither.json":              "exactly one of securityId and securityCorrelationData is required",
	"revert-to-active.signer-array.json":                  "params.signer: must be an object, not array",
	"revert-to-active.signer-email-empty.json":            "params.signer.email: must not be empty",
	"revert-to-active.signer-missing.json":                "params.signer: required",
	"revert-to-active.signer-name-huge-and-unknown.json":  "params.signer.bio: unknown field",
	"revert-to-active.unknown-nested-field.json":          "params.signer.role: unknown field",
}

// Every command of the corpus, published through a running worker, ends
// in exactly one "rejected" event whose message names the problem; nothing
// reaches a platform, nothing panics, and every message is delivered once
// and then leaves the work queue.
func TestHostileCorpus(t *testing.T) {
	files := readCorpus(t, hostileDir)
	for _, f := range files {
		if _, ok := hostileReasons[f.name]; !ok {
			t.Errorf("corpus file %s has no expected reason in hostileReasons", f.name)
		}
	}
	names := map[string]bool{}
	for _, f := range files {
		names[f.name] = true
	}
	for name := range hostileReasons {
		if !names[name] {
			t.Errorf("hostileReasons names %s, which is not in the corpus", name)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	e := newTestEnv(t, platformtest.Config{})
	addr, logs, stop := e.startWorker(nil)
	e.watch()
	ids := map[string]string{} // file → the commandId its event must carry
	for _, f := range files {
		ids[f.name] = e.publishCorpus(f)
	}
	e.waitFor(waitLong, "a terminal event for every corpus file", func() bool {
		for _, f := range files {
			if len(e.events[ids[f.name]+":rejected"]) == 0 {
				return false
			}
		}
		return true
	})
	waitQueueIdle(t, e, len(files))
	subjects := eventSubjects(t, e)

	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			id := ids[f.name]
			if n := e.terminalCount(id); n != 1 {
				t.Errorf("%d terminal events, want exactly 1", n)
			}
			evs := e.eventsOf(id + ":rejected")
			if len(evs) != 1 {
				t.Fatalf("%d rejected events, want 1", len(evs))
			}
			d := evs[0].Data
			if d.Error == nil || d.Error.Code != "INVALID_COMMAND" {
				t.Fatalf("error %+v, want code INVALID_COMMAND", d.Error)
			}
			t.Logf("%.300s", d.Error.Message)
			if want := hostileReasons[f.name]; !strings.Contains(d.Error.Message, want) {
				t.Errorf("message %q does not name the problem %q", d.Error.Message, want)
			}
			if len(d.Problems) == 0 || len(d.Error.Message) > 4<<10 {
				t.Errorf("problems %d, message %d bytes", len(d.Problems), len(d.Error.Message))
			}
			if d.Attempts != 0 || d.OrchestrationID != "" {
				t.Errorf("attempts %d, orchestration %q: a rejected command is never sent", d.Attempts, d.OrchestrationID)
			}
			if n := e.count(id + ":accepted"); n != 0 {
				t.Errorf("%d accepted events", n)
			}
			// SPEC §4: the event's subject and type carry a checked action
			// token, or "unknown" with the command's subject in the data.
			action, subject := "unknown", "txworker.cmd."+f.action
			if _, ok := platform.LookupAction(f.action); ok {
				action = f.action
			}
			wantSubject := "txworker.evt." + action + ".rejected"
			if got := subjects[id+":rejected"]; len(got) != 1 || got[0] != wantSubject {
				t.Errorf("event subjects %q, want exactly [%s]", got, wantSubject)
			}
			if d.Action != action || evs[0].Type != "txworker."+action+".rejected" {
				t.Errorf("action %q type %q, want %q", d.Action, evs[0].Type, action)
			}
			if wantCS := map[bool]string{true: subject}[action == "unknown"]; d.CommandSubject != wantCS {
				t.Errorf("commandSubject %q, want %q", d.CommandSubject, wantCS)
			}
		})
	}

	for _, r := range e.sim.Requests() {
		if r.Endpoint != "token" {
			t.Errorf("platform request %s %s?%s (endpoint %q): a rejected command must never be sent", r.Method, r.Path, r.RawQuery, r.Endpoint)
		}
	}
	metrics := httpText(t, "http://"+addr+"/metrics")
	stop()
	if strings.Contains(logs.String(), "panic") {
		t.Errorf("the worker logged a panic:\n%s", logs.String())
	}
	if got := metricSum(metrics, "txworker_commands_rejected_total"); got != float64(len(files)) {
		t.Errorf("txworker_commands_rejected_total sums to %v, want %d: one per command", got, len(files))
	}
}

// hostileNamedBy gives, for the corpus files whose event is not named by
// the default Nats-Msg-Id hostile-{file}, the commandId it carries;
// derivedName stands for the id derived from the stream (SPEC §3).
var hostileNamedBy = map[string]string{
	"cancel-offering.deep-nesting-named.json":   "hostile-deep-named",
	"cancel-offering.too-large-deep-named.json": "hostile-too-large-named",
	"cancel-offering.natsmsgid-underscore.json": derivedName,
	"cancel-offering.natsmsgid-too-long.json":   derivedName,
}

const derivedName = "(derived)"

// publishCorpus publishes a corpus file (with its sidecar subject and
// headers) and returns the commandId its events must carry.
func (e *testEnv) publishCorpus(f corpusFile) string {
	e.t.Helper()
	m := nats.NewMsg("txworker.cmd." + f.action)
	m.Data = f.body
	if f.headers != nil {
		m.Header = f.headers
	} else {
		m.Header.Set(nats.MsgIdHdr, hostileID(f.name))
	}
	ack, err := e.js.PublishMsg(context.Background(), m)
	if err != nil {
		e.t.Fatalf("publish %s on %s: %v", f.name, m.Subject, err)
	}
	switch id := hostileNamedBy[f.name]; id {
	case "":
		return hostileID(f.name)
	case derivedName:
		return derivedCommandID(e.t, e, ack.Sequence)
	default:
		return id
	}
}

// derivedCommandID is the id SPEC §3 derives for the message at seq on the
// commands stream as it is now: _seq.{created unix ns}.{sequence}.
func derivedCommandID(t *testing.T, e *testEnv, seq uint64) string {
	t.Helper()
	s, err := e.js.Stream(context.Background(), "TXWORKER_COMMANDS")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("_seq.%d.%d", s.CachedInfo().Created.UnixNano(), seq)
}

// eventSubjects returns the subjects of every event on the events stream,
// by event id.
func eventSubjects(t *testing.T, e *testEnv) map[string][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	s, err := e.js.Stream(ctx, "TXWORKER_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	n := s.CachedInfo().State.Msgs
	cons, err := e.js.OrderedConsumer(ctx, "TXWORKER_EVENTS", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for got := uint64(0); got < n; {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			got++
			id := m.Headers().Get(nats.MsgIdHdr)
			out[id] = append(out[id], m.Subject())
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d events", got, n)
		}
	}
	return out
}

// metricSum adds up every sample of a metric family in a /metrics text.
func metricSum(text, name string) float64 {
	var sum float64
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// hostileID is the Nats-Msg-Id a corpus file is published with; its
// commands carry no valid commandId of their own, so it names the command.
func hostileID(name string) string { return "hostile-" + name }

// waitQueueIdle waits until the command consumer has nothing pending or
// unacknowledged, then checks that no message was ever redelivered, that
// the work queue is empty and that the events stream holds exactly want
// events (so no handler is still running and none will publish later).
func waitQueueIdle(t *testing.T, e *testEnv, want int) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(waitLong)
	for {
		cons, err := e.js.Consumer(ctx, "TXWORKER_COMMANDS", "worker")
		if err != nil {
			t.Fatal(err)
		}
		info := cons.CachedInfo()
		if info.NumPending == 0 && info.NumAckPending == 0 {
			if info.NumRedelivered != 0 {
				t.Errorf("%d messages redelivered, want 0 (each command handled on its first delivery)", info.NumRedelivered)
			}
			if info.Delivered.Stream == 0 {
				t.Fatalf("consumer delivered nothing")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("command consumer not idle after %s: pending %d, ack pending %d, redelivered %d",
				waitLong, info.NumPending, info.NumAckPending, info.NumRedelivered)
		}
		time.Sleep(50 * time.Millisecond) // polling the server's consumer state
	}
	cmds, err := e.js.Stream(ctx, "TXWORKER_COMMANDS")
	if err != nil {
		t.Fatal(err)
	}
	if n := cmds.CachedInfo().State.Msgs; n != 0 {
		t.Errorf("%d messages left on the command work queue, want 0", n)
	}
	evs, err := e.js.Stream(ctx, "TXWORKER_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	if n := evs.CachedInfo().State.Msgs; want >= 0 && n != uint64(want) {
		t.Errorf("%d events on the stream, want %d", n, want)
	}
}

func httpText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// validCase is a value that looks hostile but is valid per SPEC §3: it is
// sent, escaped so that it stays exactly what it is.
type validCase struct {
	outcome string // terminal outcome
	code    string // error code of a failed outcome
	method  string // the action request the platform must see…
	path    string // …with exactly this escaped path…
	query   string // …and query
}

const (
	rejectURLPrefix = "/external/v1/primary/asset/"
	jmCancelURLPath = "/workspaces/secure/api/v1/txn/cancel"
)

var hostileValid = map[string]validCase{
	"reject-asset.assetid-correlation-special-chars.json": {"succeeded", "", "PUT",
		rejectURLPrefix + "lot%2F42%3Fa=1%23b%2520/reject", "assetCorrelationOrgId=US9QI&isAssetCorrelationId=true"},
	"reject-asset.assetid-traversal.json": {"failed", "IS0009", "PUT",
		rejectURLPrefix + "..%2F..%2Fsecurity-admin%2Fcancel/reject", ""},
	"reject-asset.assetid-percent-encoded-traversal.json": {"failed", "IS0009", "PUT",
		rejectURLPrefix + "%252e%252e%252f%252e%252e/reject", ""},
	"reject-asset.assetid-query-injection.json": {"failed", "IS0009", "PUT",
		rejectURLPrefix + "US9QIMAOAS2Q%3FisAssetCorrelationId=true&assetCorrelationOrgId=US9QIFA/reject", ""},
	"reject-asset.assetid-fragment.json":  {"failed", "IS0009", "PUT", rejectURLPrefix + "US9QIMAOAS2Q%23%2Freject/reject", ""},
	"reject-asset.assetid-backslash.json": {"failed", "IS0009", "PUT", rejectURLPrefix + "..%5C..%5Cadmin/reject", ""},
	"reject-asset.assetid-unicode.json": {"failed", "IS0009", "PUT",
		rejectURLPrefix + "%D0%BB%D0%BE%D1%82%2F42%20%E2%98%83/reject", ""},
	"cancel-txn.submitkey-traversal.json":              {"failed", "txnNotFound", "POST", jmCancelURLPath, ""},
	"cancel-txn.submitkey-query-injection.json":        {"failed", "txnAlreadyFinished", "POST", jmCancelURLPath, ""},
	"cancel-txn.submitkey-url-injection.json":          {"failed", "txnNotFound", "POST", jmCancelURLPath, ""},
	"cancel-txn.submitkey-unicode-line-separator.json": {"failed", "txnNotFound", "POST", jmCancelURLPath, ""},
	"revert-to-active.signer-email-bidi-control.json": {"succeeded", "", "PUT",
		"/external/v1/security-admin/revert-completed-to-active", ""},
}

// Values that look like path traversal or injection but are valid per
// SPEC §3 (an assetId may hold "/", "?", "#", "%"; a submitKey travels in
// a JSON body) are not rejected: each is sent once, escaped as exactly one
// path segment, and reaches no other endpoint.
func TestHostileLookingButValid(t *testing.T) {
	files := readCorpus(t, filepath.Join(hostileDir, "valid"))
	for _, f := range files {
		if _, ok := hostileValid[f.name]; !ok {
			t.Fatalf("valid corpus file %s has no expectation in hostileValid", f.name)
		}
	}
	e := newTestEnv(t, platformtest.Config{})
	// A Completed transaction whose submitKey reads like a query: the
	// txnAlreadyFinished look-up must find it and only it.
	e.sim.AddTxn(platformtest.Txn{SubmitKey: "x' OR formStatus = 'Abandoned", TrackingCode: "ZT73INJ", FormStatus: platformtest.FormCompleted})
	e.startWorker(nil)
	e.watch()
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			want := hostileValid[f.name]
			before := len(e.sim.Requests())
			id := "valid-" + f.name
			e.publish(f.action, string(f.body), id)
			ev := e.terminal(id, waitLong)
			if ev.Data.Outcome != want.outcome {
				t.Fatalf("outcome %s (error %+v), want %s", ev.Data.Outcome, ev.Data.Error, want.outcome)
			}
			if want.code != "" && (ev.Data.Error == nil || ev.Data.Error.Code != want.code) {
				t.Errorf("error %+v, want code %s", ev.Data.Error, want.code)
			}
			if n := e.terminalCount(id); n != 1 {
				t.Errorf("%d terminal events", n)
			}
			var actions []platformtest.Request
			for _, r := range e.sim.Requests()[before:] {
				switch r.Endpoint {
				case "token", "orchestrations", "transactions", "jm-query":
				default:
					actions = append(actions, r)
				}
			}
			if len(actions) != 1 {
				t.Fatalf("%d action requests, want exactly 1: %+v", len(actions), actions)
			}
			r := actions[0]
			if r.Method != want.method || r.Path != want.path || r.RawQuery != want.query {
				t.Errorf("sent %s %s?%s, want %s %s?%s", r.Method, r.Path, r.RawQuery, want.method, want.path, want.query)
			}
			if strings.HasPrefix(want.path, rejectURLPrefix) && strings.Count(r.Path, "/") != strings.Count(rejectURLPrefix+"X/reject", "/") {
				t.Errorf("assetId did not stay one path segment: %s", r.Path)
			}
		})
	}
	if n := e.sim.Cancelled("15d071280b92c867f86975b9cd2e8765") + e.sim.Cancelled("25d071280b92c867f86975b9cd2e8765"); n != 0 {
		t.Errorf("an injected submitKey cancelled a seeded transaction (%d)", n)
	}
	if txn, _ := e.sim.Txn("x' OR formStatus = 'Abandoned"); txn.FormStatus != platformtest.FormCompleted {
		t.Errorf("the Completed transaction is now %s", txn.FormStatus)
	}
	if s, _ := e.sim.Security("USS3JKS01I00"); s.Status == platformtest.StatusCancelled {
		t.Errorf("a traversal in assetId reached cancel-offering")
	}
	if n := e.sim.Count("PUT", "/external/v1/security-admin/cancel"); n != 0 {
		t.Errorf("%d requests reached cancel-offering", n)
	}
}
