package worker

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// The message times decode sees in these tests.
var (
	testReceived = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	testCreated  = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	testLimits   = limits{maxBytes: 64 << 10, maxAhead: DefaultMaxDeadlineAhead}
)

// testInput is a message on txworker.cmd.{action} received at testReceived
// from a stream created at testCreated.
func testInput(action string, body []byte, hdr nats.Header, seq uint64) input {
	return input{action: action, token: action, body: body, hdr: hdr, seq: seq,
		received: testReceived, created: testCreated}
}

func TestDecode(t *testing.T) {
	const limit = 64 << 10
	hdr := nats.Header{}
	withID := nats.Header{nats.MsgIdHdr: []string{"from-header"}}
	msgID := func(id string) nats.Header { return nats.Header{nats.MsgIdHdr: []string{id}} }
	derived42 := derivedID(testCreated, 42)
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000) // deeper than encoding/json's 10000, under 64 KiB
	deepest := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	tests := []struct {
		name, action, body string
		hdr                nats.Header
		reason, id         string
		mentions           []string
	}{
		{name: "valid with everything", action: "cancel-offering",
			body: `{"commandId":"c1","processId":"2159457f-0167-4e93-a969-9cf0db05e0bf","deadline":"2026-11-21T12:00:00Z","params":{"securityId":"S"}}`,
			hdr:  hdr, id: "c1"},
		{name: "id from the header", action: "cancel-txn", body: `{"params":{"submitKey":"k"}}`, hdr: withID, id: "from-header"},
		{name: "id derived from the stream", action: "cancel-txn", body: `{"params":{"submitKey":"k"}}`, hdr: hdr, id: derived42},
		{name: "a producer's numeric id is not a derived one", action: "cancel-txn", body: `{"commandId":"42","params":{"submitKey":"k"}}`, hdr: hdr, id: "42"},
		{name: "not JSON", action: "cancel-txn", body: `{"commandId":`, hdr: withID, reason: reasonMalformed, id: "from-header", mentions: []string{"JSON"}},
		{name: "an array", action: "cancel-txn", body: `[1]`, hdr: hdr, reason: reasonMalformed, id: derived42},
		{name: "unknown envelope field and bad deadline, both named", action: "cancel-txn",
			body: `{"commandId":"c2","extra":1,"deadline":"tomorrow","params":{"submitKey":"k"}}`, hdr: hdr,
			reason: reasonInvalidEnvelope, id: "c2", mentions: []string{`"extra"`, "deadline"}},
		{name: "v1 processId", action: "cancel-txn",
			body: `{"processId":"8a1c3b2e-2f3a-11ef-9a5d-0242ac120002","params":{"submitKey":"k"}}`, hdr: hdr,
			reason: reasonInvalidEnvelope, mentions: []string{"v4"}},
		{name: "processId not a UUID", action: "cancel-txn", body: `{"processId":"nope","params":{"submitKey":"k"}}`, hdr: hdr,
			reason: reasonInvalidEnvelope, mentions: []string{"not a UUID"}},
		{name: "commandId too long", action: "cancel-txn", body: `{"commandId":"` + strings.Repeat("x", 129) + `","params":{"submitKey":"k"}}`, hdr: hdr,
			reason: reasonInvalidEnvelope, id: derived42, mentions: []string{"129 characters"}},
		{name: "commandId with a control character", action: "cancel-txn", body: `{"commandId":"a\u0007b","params":{"submitKey":"k"}}`, hdr: hdr,
			reason: reasonInvalidEnvelope, mentions: []string{"non-printable"}},
		{name: "unknown action", action: "explode", body: `{"params":{}}`, hdr: hdr, reason: reasonUnknownAction, mentions: []string{"explode"}},
		{name: "params problems", action: "cancel-offering", body: `{"params":{"securityId":"S","securityCorrelationData":{"correlationId":"x"}}}`, hdr: hdr,
			reason: reasonInvalidParams},
		{name: "too large, still named", action: "cancel-txn", body: `{"commandId":"big","params":{"reason":"` + strings.Repeat("r", limit) + `"}}`, hdr: hdr,
			reason: reasonTooLarge, id: "big", mentions: []string{"limit"}},

		// SPEC §3: the "_" prefix is reserved for derived ids.
		{name: "commandId starting with _", action: "cancel-txn", body: `{"commandId":"_seq.1.42","params":{"submitKey":"k"}}`, hdr: withID,
			reason: reasonInvalidEnvelope, id: "from-header", mentions: []string{`commandId: starts with "_"`, "reserved"}},
		{name: "Nats-Msg-Id starting with _", action: "cancel-txn", body: `{"params":{"submitKey":"k"}}`, hdr: msgID("_seq.0.42"),
			reason: reasonInvalidEnvelope, id: derived42, mentions: []string{`Nats-Msg-Id header: starts with "_"`}},
		{name: "Nats-Msg-Id too long", action: "cancel-txn", body: `{"params":{"submitKey":"k"}}`, hdr: msgID(strings.Repeat("m", 129)),
			reason: reasonInvalidEnvelope, id: derived42, mentions: []string{"Nats-Msg-Id header: 129 characters"}},
		{name: "Nats-Msg-Id with a control character", action: "cancel-txn", body: `{"params":{"submitKey":"k"}}`, hdr: msgID("a\x01b"),
			reason: reasonInvalidEnvelope, id: derived42, mentions: []string{"Nats-Msg-Id header: contains a non-printable"}},
		{name: "a Nats-Msg-Id not used is not checked", action: "cancel-txn", body: `{"commandId":"own","params":{"submitKey":"k"}}`, hdr: msgID("_x"),
			id: "own"},

		// SPEC §3: deadline bounds.
		{name: "deadline after 9999 in UTC", action: "cancel-txn", body: `{"commandId":"d1","deadline":"9999-12-31T23:59:59-23:59","params":{"submitKey":"k"}}`,
			hdr: hdr, reason: reasonInvalidEnvelope, id: "d1", mentions: []string{"deadline:", "UTC year 10000", "0001 to 9999"}},
		{name: "deadline before 0001 in UTC", action: "cancel-txn", body: `{"commandId":"d2","deadline":"0001-01-01T00:00:00+23:59","params":{"submitKey":"k"}}`,
			hdr: hdr, reason: reasonInvalidEnvelope, id: "d2", mentions: []string{"deadline:", "UTC year 0"}},
		{name: "deadline in year 0000", action: "cancel-txn", body: `{"commandId":"d3","deadline":"0000-06-01T00:00:00Z","params":{"submitKey":"k"}}`,
			hdr: hdr, reason: reasonInvalidEnvelope, mentions: []string{"deadline:"}},
		{name: "deadline beyond the state's lifetime", action: "cancel-txn", body: `{"commandId":"d4","deadline":"2026-11-26T12:00:01Z","params":{"submitKey":"k"}}`,
			hdr: hdr, reason: reasonInvalidEnvelope, id: "d4", mentions: []string{"deadline:", "more than 6 days after"}},
		{name: "deadline far beyond the state's lifetime", action: "cancel-txn", body: `{"commandId":"d5","deadline":"9999-12-31T23:59:59Z","params":{"submitKey":"k"}}`,
			hdr: hdr, reason: reasonInvalidEnvelope, mentions: []string{"more than 6 days after"}},
		{name: "deadline at the state's lifetime", action: "cancel-txn", body: `{"commandId":"d6","deadline":"2026-11-26T12:00:00Z","params":{"submitKey":"k"}}`,
			hdr: hdr, id: "d6"},
		{name: "deadline in the first UTC instant of 0001", action: "cancel-txn", body: `{"commandId":"d7","deadline":"0001-01-01T23:59:00+23:59","params":{"submitKey":"k"}}`,
			hdr: hdr, id: "d7"},
		{name: "deadline in the past", action: "cancel-txn", body: `{"commandId":"d8","deadline":"2020-01-01T00:00:00Z","params":{"submitKey":"k"}}`,
			hdr: hdr, id: "d8"},

		// Too deep to decode: still named by its own commandId.
		{name: "too deep, commandId first", action: "cancel-txn", body: `{"commandId":"x","params":` + deep + `}`, hdr: withID,
			reason: reasonMalformed, id: "x", mentions: []string{"exceeded max depth"}},
		{name: "too deep, commandId after the deep member", action: "cancel-txn", body: `{"params":{"a":` + deep + `},"commandId":"after"}`, hdr: withID,
			reason: reasonMalformed, id: "after"},
		{name: "too deep, escaped member name", action: "cancel-txn", body: `{"command\u0049d":"esc","params":` + deep + `}`, hdr: withID,
			reason: reasonMalformed, id: "esc"},
		{name: "too deep, reserved commandId", action: "cancel-txn", body: `{"commandId":"_x","params":` + deep + `}`, hdr: withID,
			reason: reasonMalformed, id: "from-header"},
		{name: "too deep, no commandId", action: "cancel-txn", body: `{"params":` + deep + `}`, hdr: hdr,
			reason: reasonMalformed, id: derived42},
		{name: "too deep and truncated", action: "cancel-txn", body: `{"commandId":"t","params":` + deep[:1000], hdr: withID,
			reason: reasonMalformed, id: "t"},
		{name: "too large and too deep, still named", action: "cancel-txn", body: `{"commandId":"x","params":` + deepest + `}`, hdr: withID,
			reason: reasonTooLarge, id: "x"},
		{name: "too large, reserved commandId", action: "cancel-txn", body: `{"commandId":"_big","params":{"reason":"` + strings.Repeat("r", limit) + `"}}`, hdr: hdr,
			reason: reasonTooLarge, id: derived42},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := decode(testInput(tc.action, []byte(tc.body), tc.hdr, 42), testLimits)
			if p.reason != tc.reason {
				t.Fatalf("reason %q, want %q (problems %q)", p.reason, tc.reason, p.problems)
			}
			if (len(p.problems) > 0) != (tc.reason != "") {
				t.Errorf("problems %q with reason %q", p.problems, p.reason)
			}
			if tc.id != "" && p.commandID != tc.id {
				t.Errorf("commandId %q, want %q", p.commandID, tc.id)
			}
			if p.derived != strings.HasPrefix(p.commandID, derivedIDPrefix) {
				t.Errorf("commandId %q, derived %v", p.commandID, p.derived)
			}
			all := strings.Join(p.problems, "; ")
			for _, m := range tc.mentions {
				if !strings.Contains(all, m) {
					t.Errorf("problems %q do not mention %q", all, m)
				}
			}
			if tc.reason == "" && (p.request == nil || p.request.Resource == "") {
				t.Errorf("valid command without request or resource")
			}
		})
	}
}

// Derived ids (SPEC §3) never equal a producer's id and differ between
// two incarnations of the stream.
func TestDerivedID(t *testing.T) {
	a := derivedID(testCreated, 12)
	if a != "_seq.1767323045000000006.12" {
		t.Errorf("derivedID = %q", a)
	}
	if b := derivedID(testCreated.Add(time.Nanosecond), 12); b == a {
		t.Errorf("a re-created stream derives the same id %q", b)
	}
	if checkCommandID(a) == "" {
		t.Errorf("a producer may send the derived id %q", a)
	}
	if n := len(derivedID(time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC), 1<<64-1)); n > 128 {
		t.Errorf("derived id of %d bytes", n)
	}
	if got := derivedID(time.Time{}, 3); got != "_seq.0.3" {
		t.Errorf("derivedID(zero) = %q", got)
	}
}

// actionToken is the one place a subject becomes an action (SPEC §4): one
// of the five action tokens, exactly, or "unknown".
func TestActionToken(t *testing.T) {
	tests := []struct{ subject, action, rest string }{
		{"txworker.cmd.cancel-offering", "cancel-offering", "cancel-offering"},
		{"txworker.cmd.revert-to-active", "revert-to-active", "revert-to-active"},
		{"txworker.cmd.remove-service-provider", "remove-service-provider", "remove-service-provider"},
		{"txworker.cmd.reject-asset", "reject-asset", "reject-asset"},
		{"txworker.cmd.cancel-txn", "cancel-txn", "cancel-txn"},
		{"txworker.cmd.*", "unknown", "*"},
		{"txworker.cmd.>", "unknown", ">"},
		{"txworker.cmd.cancel-offering.succeeded", "unknown", "cancel-offering.succeeded"},
		{"txworker.cmd.cancel-offering.>", "unknown", "cancel-offering.>"},
		{"txworker.cmd.Cancel-Offering", "unknown", "Cancel-Offering"},
		{"txworker.cmd.CANCEL-TXN", "unknown", "CANCEL-TXN"},
		{"txworker.cmd.cancel_offering", "unknown", "cancel_offering"},
		{"txworker.cmd.cancel-offering\x00", "unknown", "cancel-offering\x00"},
		{"txworker.cmd.cancel-offer\xffing", "unknown", "cancel-offer\xffing"},
		{"txworker.cmd.", "unknown", ""},
		{"txworker.cmd..cancel-txn", "unknown", ".cancel-txn"},
		{"txworker.cmd.unknown", "unknown", "unknown"},
		{"txworker.cmd", "unknown", "txworker.cmd"},
		{"other.cmd.cancel-txn", "unknown", "other.cmd.cancel-txn"},
	}
	for _, tc := range tests {
		action, rest := actionToken("txworker", tc.subject)
		if action != tc.action || rest != tc.rest {
			t.Errorf("actionToken(%q) = %q, %q; want %q, %q", tc.subject, action, rest, tc.action, tc.rest)
		}
	}
}

// A command on a subject that names no action is rejected, and the
// problem names both the token and the subject.
func TestDecodeUnknownSubject(t *testing.T) {
	for _, subject := range []string{"txworker.cmd.*", "txworker.cmd.>", "txworker.cmd.cancel-offering.succeeded", "txworker.cmd.Cancel-Offering"} {
		in := testInput("", []byte(`{"commandId":"c","params":{"securityId":"S"}}`), nats.Header{}, 1)
		in.subject = subject
		in.action, in.token = actionToken("txworker", subject)
		p := decode(in, testLimits)
		if p.reason != reasonUnknownAction || !strings.Contains(p.problems[0], "is not one of") ||
			!strings.Contains(p.problems[0], subject) {
			t.Errorf("%s: reason %q, problems %q", subject, p.reason, p.problems)
		}
	}
}

// The bounded scan reads top-level members only, whatever the nesting.
func TestScanCommandID(t *testing.T) {
	deep := strings.Repeat(`{"a":[`, 50000) + strings.Repeat(`]}`, 50000)
	tests := []struct {
		body, id string
		found    bool
	}{
		{`{"commandId":"x"}`, "x", true},
		{` { "commandId" : "x" , "b":1}`, "x", true},
		{`{"a":{"commandId":"inner"},"b":"x"}`, "", false},
		{`{"a":"{\"commandId\":\"in-string\"}"}`, "", false},
		{`{"a":` + deep + `,"commandId":"after-deep"}`, "after-deep", true},
		{`{"commandId":"first","commandId":"last"}`, "last", true},
		{`{"commandId":12}`, "", true},
		{`{"commandId":"` + strings.Repeat("y", 129) + `"}`, "", true},
		{`{"commandId":"_reserved"}`, "", true},
		{`{"commandId":"\ud800"}`, "", true},
		{`{"commandId":"a\"b"}`, `a"b`, true},
		{`[{"commandId":"x"}]`, "", false},
		{`{"commandId"`, "", false},
		{`{"commandId":"unterminated`, "", true},
		{`{"a":[1,2,{"b":"]"}],"commandId":"brackets-in-strings"}`, "brackets-in-strings", true},
		{``, "", false},
	}
	for _, tc := range tests {
		id, found := scanCommandID([]byte(tc.body))
		if id != tc.id || found != tc.found {
			t.Errorf("scanCommandID(%.60q) = %q, %v; want %q, %v", tc.body, id, found, tc.id, tc.found)
		}
	}
	// Bytes past scanLimit are not read.
	long := []byte(`{"pad":"` + strings.Repeat("p", scanLimit) + `","commandId":"late"}`)
	if id, _ := scanCommandID(long); id != "" {
		t.Errorf("scan read past its limit: %q", id)
	}
}

func TestMaxDeadlineAheadFor(t *testing.T) {
	day := 24 * time.Hour
	for ttl, want := range map[time.Duration]time.Duration{7 * day: 6 * day, 30 * day: 29 * day, 2 * day: day, 12 * time.Hour: 6 * time.Hour} {
		if got := MaxDeadlineAheadFor(ttl); got != want {
			t.Errorf("MaxDeadlineAheadFor(%s) = %s, want %s", ttl, got, want)
		}
	}
	if err := (Config{SettleTimeout: 2 * day, MaxDeadlineAhead: day}).Validate(); err == nil {
		t.Error("a settle timeout beyond the deadline bound validates")
	}
}

func TestBackoffBounds(t *testing.T) {
	for attempt := 1; attempt < 20; attempt++ {
		for i := 0; i < 100; i++ {
			d := retryDelay(attempt, 100, 1000)
			ceil := int64(100) << min(attempt-1, 10)
			if d < 10 || int64(d) > min(ceil, 1000) {
				t.Fatalf("retryDelay(%d) = %d out of bounds", attempt, d)
			}
		}
	}
}
