package worker

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
)

// FuzzDecodeCommand feeds arbitrary subjects, bodies and Nats-Msg-Id headers
// to decode. Whatever the input, decode must not panic and its answer must be
// coherent:
//
//   - the command always has an id: 1–128 printable characters not starting
//     with "_", or the id derived from the stream (SPEC §3);
//   - a deadline can be stored (UTC years 0001–9999) and lies within the
//     state's lifetime;
//   - a valid command came on exactly an action's subject;
//   - problems are non-empty exactly when a rejection reason is set, and
//     every problem is valid UTF-8 of bounded length;
//   - a valid command has a request for a known action, a processId that is
//     "" or a canonical v4 UUID, a body that is valid UTF-8 (no string was
//     silently repaired) and no repeated envelope field (no two readings).
//
// The hostile corpus under testdata/hostile/ (repository root) seeds it.
func FuzzDecodeCommand(f *testing.F) {
	seeds := []struct{ action, body, msgID string }{
		{"cancel-offering", `{"commandId":"c1","params":{"securityId":"USS3JKS01I00"}}`, ""},
		{"revert-to-active", `{"commandId":"c2","processId":"2159457f-0167-4e93-a969-9cf0db05e0bf","deadline":"2026-11-21T12:00:00Z",` +
			`"params":{"securityCorrelationData":{"correlationId":"USS3JKS01I00","orgId":"US9QIMA"},"signer":{"email":"j@example.com","name":"J"}}}`, ""},
		{"remove-service-provider", `{"params":{"transactionData":{"securityId":"USS3JKS01I00"},"orgId":"US9QIMA"}}`, "msg-1"},
		{"reject-asset", `{"params":{"assetId":"lot/42?a=1#b%20","isAssetCorrelationId":true,"transactionData":{"securityId":"S"}}}`, ""},
		{"cancel-txn", `{"params":{"submitKey":"15d071280b92c867f86975b9cd2e8765","reason":"r"}}`, ""},
		{"cancel-txn", "{\"commandId\":\"\xff\",\"params\":{\"submitKey\":\"k\"}}", ""},
		{"cancel-offering", `{"params":{"securityId":"A"},"params":{"securityId":"B"}}`, ""},
		{"cancel-offering", `{"commandId":"\ud800","params":{"securityId":"A"}}`, ""},
		{"nope", `not json`, "\x00"},
		{"", ``, ""},
		{"cancel-offering", `null`, strings.Repeat("x", 200)},
		{"reject-asset", `{"params":{"assetId":"..","transactionData":{}}}`, ""},
		{"cancel-offering", `{"processId":"c232ab00-9414-11ec-b3c8-9f6bdeced846","params":{"securityId":"A"}}`, ""},
		{"cancel-offering", `{"deadline":"9999-12-31T23:59:59-23:59","params":{"securityId":"A"}}`, ""},
		{"cancel-offering", `{"deadline":"0001-01-01T00:00:00+23:59","params":{"securityId":"A"}}`, ""},
		{"cancel-offering", `{"deadline":"2027-11-21T12:00:00Z","params":{"securityId":"A"}}`, ""},
		{"cancel-offering", `{"commandId":"_seq.1.2","params":{"securityId":"A"}}`, ""},
		{"cancel-offering", `{"params":{"securityId":"A"}}`, "_seq.1.2"},
		{"cancel-offering.succeeded", `{"params":{"securityId":"A"}}`, ""},
		{"*", `{"params":{"securityId":"A"}}`, ""},
		{"cancel-offering", `{"commandId":"deep","params":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, ""},
	}
	for _, s := range seeds {
		f.Add(s.action, []byte(s.body), s.msgID, uint64(7))
	}
	if files, _ := filepath.Glob(filepath.Join("..", "testdata", "hostile", "*.json")); len(files) > 0 {
		for _, name := range files {
			body, err := os.ReadFile(name)
			if err != nil || len(body) > 8<<10 { // the fuzzer mutates small inputs best
				continue
			}
			action, _, _ := strings.Cut(filepath.Base(name), ".")
			f.Add(action, body, "", uint64(1))
		}
	}
	const maxBytes = 64 << 10
	f.Fuzz(func(t *testing.T, action string, body []byte, msgID string, seq uint64) {
		hdr := nats.Header{}
		if msgID != "" {
			hdr.Set(nats.MsgIdHdr, msgID)
		}
		in := testInput(action, body, hdr, seq)
		in.subject = "txworker.cmd." + action
		in.action, in.token = actionToken("txworker", in.subject)
		p := decode(in, limits{maxBytes: maxBytes, maxAhead: DefaultMaxDeadlineAhead})
		if p == nil {
			t.Fatal("decode returned nil")
		}
		if p.derived {
			if p.commandID != derivedID(testCreated, seq) {
				t.Fatalf("derived command id %q for sequence %d", p.commandID, seq)
			}
		} else if problem := checkCommandID(p.commandID); problem != "" {
			t.Fatalf("command id %q: %s", p.commandID, problem)
		}
		if n := len(p.commandID); n > 4*128 {
			t.Fatalf("command id of %d bytes", n)
		}
		// Every time a claim stores must encode (RFC 3339: years 0001–9999)
		// and a deadline must not outlive the claim.
		if !p.deadline.IsZero() {
			if _, err := p.deadline.MarshalText(); err != nil {
				t.Fatalf("deadline %v cannot be stored: %v", p.deadline, err)
			}
			if p.deadline.Sub(in.received) > DefaultMaxDeadlineAhead {
				t.Fatalf("deadline %v lies beyond the state's lifetime", p.deadline)
			}
		}
		if p.reason == "" && (in.action == "unknown" || p.action.Name != in.action) {
			t.Fatalf("valid command on subject %q with action %q", in.subject, p.action.Name)
		}
		if (p.reason == "") != (len(p.problems) == 0) {
			t.Fatalf("reason %q with problems %q", p.reason, p.problems)
		}
		for _, pr := range p.problems {
			if pr == "" || !utf8.ValidString(pr) || len(pr) > 4<<10 {
				t.Fatalf("problem %q", pr)
			}
		}
		if msg := joinProblems(p.problems); !utf8.ValidString(msg) {
			t.Fatalf("joined problems are not UTF-8: %q", msg)
		}
		if p.reason != "" {
			return
		}
		if action != in.action || p.request == nil || p.action.Name != action || p.request.Action.Name != action {
			t.Fatalf("valid command without a request for %q: %+v", action, p)
		}
		if p.processID != "" && checkProcessID(p.processID) != "" {
			t.Fatalf("valid command with processId %q", p.processID)
		}
		if !utf8.Valid(body) {
			t.Fatalf("valid command whose body is not UTF-8: %q", body)
		}
		if k, dup := repeatedKey(body); dup {
			t.Fatalf("valid command repeats envelope field %q: %q", k, body)
		}
		if len(body) > maxBytes {
			t.Fatalf("valid command of %d bytes", len(body))
		}
	})
}

// repeatedKey reports a top-level member name that occurs twice in a JSON
// object.
func repeatedKey(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		k, _ := tok.(string)
		if seen[k] {
			return k, true
		}
		seen[k] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return "", false
		}
	}
	return "", false
}
