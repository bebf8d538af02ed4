package worker

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

func TestDecode(t *testing.T) {
	const limit = 64 << 10
	hdr := nats.Header{}
	withID := nats.Header{nats.MsgIdHdr: []string{"from-header"}}
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
		{name: "id from the sequence", action: "cancel-txn", body: `{"params":{"submitKey":"k"}}`, hdr: hdr, id: "42"},
		{name: "not JSON", action: "cancel-txn", body: `{"commandId":`, hdr: withID, reason: reasonMalformed, id: "from-header", mentions: []string{"JSON"}},
		{name: "an array", action: "cancel-txn", body: `[1]`, hdr: hdr, reason: reasonMalformed, id: "42"},
		{name: "unknown envelope field and bad deadline, both named", action: "cancel-txn",
			body: `{"commandId":"c2","extra":1,"deadline":"tomorrow","params":{"submitKey":"k"}}`, hdr: hdr,
			reason: reasonInvalidEnvelope, id: "c2", mentions: []string{`"extra"`, "deadline"}},
		{name: "v1 processId", action: "cancel-txn",
			body: `{"processId":"8a1c3b2e-2f3a-11ef-9a5d-0242ac120002","params":{"submitKey":"k"}}`, hdr: hdr,
			reason: reasonInvalidEnvelope, mentions: []string{"v4"}},
		{name: "processId not a UUID", action: "cancel-txn", body: `{"processId":"nope","params":{"submitKey":"k"}}`, hdr: hdr,
			reason: reasonInvalidEnvelope, mentions: []string{"not a UUID"}},
		{name: "commandId too long", action: "cancel-txn", body: `{"commandId":"` + strings.Repeat("x", 129) + `","params":{"submitKey":"k"}}`, hdr: hdr,
			reason: reasonInvalidEnvelope, id: "42", mentions: []string{"129 characters"}},
		{name: "commandId with a control character", action: "cancel-txn", body: `{"commandId":"a\u0007b","params":{"submitKey":"k"}}`, hdr: hdr,
			reason: reasonInvalidEnvelope, mentions: []string{"non-printable"}},
		{name: "unknown action", action: "explode", body: `{"params":{}}`, hdr: hdr, reason: reasonUnknownAction, mentions: []string{"explode"}},
		{name: "params problems", action: "cancel-offering", body: `{"params":{"securityId":"S","securityCorrelationData":{"correlationId":"x"}}}`, hdr: hdr,
			reason: reasonInvalidParams},
		{name: "too large, still named", action: "cancel-txn", body: `{"commandId":"big","params":{"reason":"` + strings.Repeat("r", limit) + `"}}`, hdr: hdr,
			reason: reasonTooLarge, id: "big", mentions: []string{"limit"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := decode(tc.action, []byte(tc.body), tc.hdr, 42, limit)
			if p.reason != tc.reason {
				t.Fatalf("reason %q, want %q (problems %q)", p.reason, tc.reason, p.problems)
			}
			if (len(p.problems) > 0) != (tc.reason != "") {
				t.Errorf("problems %q with reason %q", p.problems, p.reason)
			}
			if tc.id != "" && p.commandID != tc.id {
				t.Errorf("commandId %q, want %q", p.commandID, tc.id)
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

func TestBackoffBounds(t *testing.T) {
	for attempt := 1; attempt < 20; attempt++ {
		for i := 0; i < 100; i++ {
			d := backoff(attempt, 100, 1000)
			ceil := int64(100) << min(attempt-1, 10)
			if d < 10 || int64(d) > min(ceil, 1000) {
				t.Fatalf("backoff(%d) = %d out of bounds", attempt, d)
			}
		}
	}
}
