package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

func TestQueueBusSatisfiesTheInterfaces(t *testing.T) {
	var (
		_ Bus    = (*queue.Bus)(nil)
		_ Claims = (*queue.Claims)(nil)
	)
}

func transient(status int, retryAfter time.Duration) error {
	return &platform.Error{Platform: platform.PlatformCorastone, Endpoint: "cancel-offering", HTTPStatus: status,
		Message: fmt.Sprintf("http %d", status), Verdict: platform.Transient, RetryAfter: retryAfter}
}

func permanent(status int, code string) error {
	return &platform.Error{Platform: platform.PlatformCorastone, Endpoint: "cancel-offering", HTTPStatus: status, Code: code,
		Message: "refused", Verdict: platform.Permanent}
}

// TestHandleCommand covers every branch of one command's handling over
// fakes: where its claim stands, what the platform answers.
func TestHandleCommand(t *testing.T) {
	const id = "cmd-1"
	type want struct {
		disposition string   // of the last delivery
		outcomes    []string // events of the command, in order
		code        string   // error code of the last event
		executes    int
		finds       int
		tracked     bool
	}
	tests := []struct {
		name       string
		action     string
		body       string
		claim      func(now time.Time) *queue.Claim // stored before the first delivery
		cs         func(n int, pid string) (platform.Accepted, error)
		find       func(pid string) (string, bool, error)
		jm         func(n int) (string, error)
		deliveries int // run at most this many (default 1)
		want       want
	}{
		{name: "new claim, accepted", body: offering(id, ""),
			want: want{disposition: "ack", outcomes: []string{"accepted"}, executes: 1, tracked: true}},
		{name: "claim calling, look-up finds the process", body: offering(id, ""),
			claim: func(now time.Time) *queue.Claim {
				return &queue.Claim{CommandID: id, Action: "cancel-offering", ProcessID: pidA, State: queue.StateCalling,
					Attempts: 1, Owner: "gone", LeaseUntil: now.Add(-time.Second), StreamSeq: 1, ReceivedAt: now, Deadline: now.Add(time.Hour)}
			},
			find: func(string) (string, bool, error) { return "orch-1", true, nil },
			want: want{disposition: "ack", outcomes: []string{"accepted"}, executes: 0, finds: 1, tracked: true}},
		{name: "claim calling, look-up does not find it: sent", body: offering(id, ""),
			claim: func(now time.Time) *queue.Claim {
				return &queue.Claim{CommandID: id, Action: "cancel-offering", ProcessID: pidA, State: queue.StateCalling,
					Attempts: 1, Owner: "gone", LeaseUntil: now.Add(-time.Second), StreamSeq: 1, ReceivedAt: now, Deadline: now.Add(time.Hour)}
			},
			want: want{disposition: "ack", outcomes: []string{"accepted"}, executes: 1, finds: 1, tracked: true}},
		{name: "claim calling under another delivery's lease: waits", body: offering(id, ""),
			claim: func(now time.Time) *queue.Claim {
				return &queue.Claim{CommandID: id, Action: "cancel-offering", ProcessID: pidA, State: queue.StateCalling,
					Attempts: 1, Owner: "other", LeaseUntil: now.Add(time.Minute), StreamSeq: 1, ReceivedAt: now, Deadline: now.Add(time.Hour)}
			},
			want: want{disposition: "nak"}},
		{name: "claim accepted: handed to tracking again", body: offering(id, ""),
			claim: func(now time.Time) *queue.Claim {
				return &queue.Claim{CommandID: id, Action: "cancel-offering", ProcessID: pidA, State: queue.StateAccepted,
					OrchestrationID: "orch-1", Attempts: 1, StreamSeq: 1, ReceivedAt: now, AcceptedAt: now, Deadline: now.Add(time.Hour)}
			},
			want: want{disposition: "ack", outcomes: []string{"accepted"}, tracked: true}},
		{name: "claim terminal and published: nothing new", body: offering(id, ""),
			claim: func(now time.Time) *queue.Claim {
				return &queue.Claim{CommandID: id, Action: "cancel-offering", ProcessID: pidA, State: queue.StateTerminal,
					Outcome: "succeeded", Published: true, StreamSeq: 1, ReceivedAt: now, SettledAt: now}
			},
			want: want{disposition: "term"}},
		{name: "claim terminal, not yet published: its event", body: offering(id, ""),
			claim: func(now time.Time) *queue.Claim {
				return &queue.Claim{CommandID: id, Action: "cancel-offering", ProcessID: pidA, State: queue.StateTerminal,
					Outcome: "failed", Error: &queue.ErrorInfo{Code: "IS0012"}, StreamSeq: 1, ReceivedAt: now, SettledAt: now}
			},
			want: want{disposition: "term", outcomes: []string{"failed"}, code: "IS0012"}},
		{name: "transient fault: re-scheduled", body: offering(id, ""),
			cs:   func(int, string) (platform.Accepted, error) { return platform.Accepted{}, transient(503, 0) },
			want: want{disposition: "nak", executes: 1}},
		{name: "transient then success", body: offering(id, ""), deliveries: 5,
			cs: func(n int, pid string) (platform.Accepted, error) {
				if n == 1 {
					return platform.Accepted{}, transient(429, 0)
				}
				return platform.Accepted{OrchestrationID: "orch-" + pid}, nil
			},
			want: want{disposition: "ack", outcomes: []string{"accepted"}, executes: 2, tracked: true}},
		{name: "permanent fault: failed with the code", body: offering(id, ""),
			cs:   func(int, string) (platform.Accepted, error) { return platform.Accepted{}, permanent(409, "IS0012") },
			want: want{disposition: "term", outcomes: []string{"failed"}, code: "IS0012", executes: 1}},
		{name: "retry budget spent", body: offering(id, ""), deliveries: 50,
			cs:   func(int, string) (platform.Accepted, error) { return platform.Accepted{}, transient(503, 0) },
			want: want{disposition: "term", outcomes: []string{"failed"}, code: CodeRetriesExhausted, executes: 3, finds: 3}}, // a look-up before each resend and before giving up
		{name: "deadline passed: timed out, nothing sent", body: offering(id, `,"deadline":"2026-03-01T11:00:00Z"`),
			want: want{disposition: "term", outcomes: []string{"timed_out"}, code: CodeDeadlineExceeded}},
		{name: "cancel-txn succeeds", action: "cancel-txn", body: `{"commandId":"cmd-1","params":{"submitKey":"k1"}}`,
			want: want{disposition: "term", outcomes: []string{"succeeded"}}},
		{name: "JM txnAlreadyFinished, Abandoned: succeeded", action: "cancel-txn", body: `{"commandId":"cmd-1","params":{"submitKey":"k1"}}`,
			jm:   func(int) (string, error) { return "Abandoned", nil }, // platform.JM resolves it by a Query
			want: want{disposition: "term", outcomes: []string{"succeeded"}}},
		{name: "JM txnAlreadyFinished, Completed: failed with the code", action: "cancel-txn", body: `{"commandId":"cmd-1","params":{"submitKey":"k1"}}`,
			jm: func(int) (string, error) {
				return "Completed", &platform.Error{Platform: platform.JourneyManager, Endpoint: "cancel-txn", HTTPStatus: 400,
					Code: "txnAlreadyFinished", Verdict: platform.Permanent}
			},
			want: want{disposition: "term", outcomes: []string{"failed"}, code: "txnAlreadyFinished"}},
		{name: "invalid command: rejected, nothing sent", body: `{"commandId":"cmd-1","params":{}}`,
			want: want{disposition: "term", outcomes: []string{"rejected"}, code: CodeInvalidCommand}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, Config{MaxAttempts: 3, RetryBase: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond})
			r.cs.answer, r.cs.find, r.jm.answer = tt.cs, tt.find, tt.jm
			if tt.claim != nil {
				r.bus.put(t, *tt.claim(r.clock.Now()))
			}
			action := tt.action
			if action == "" {
				action = "cancel-offering"
			}
			m := r.msg(action, tt.body)
			got, _ := r.run(m, max(tt.deliveries, 1))
			if got != tt.want.disposition {
				t.Errorf("disposition %s, want %s", got, tt.want.disposition)
			}
			evs := r.bus.eventsOf(id)
			var outcomes []string
			for _, ev := range evs {
				outcomes = append(outcomes, ev.Data.Outcome)
			}
			if strings.Join(outcomes, ",") != strings.Join(tt.want.outcomes, ",") {
				t.Errorf("events %q, want %q", outcomes, tt.want.outcomes)
			}
			if tt.want.code != "" && len(evs) > 0 {
				if e := evs[len(evs)-1].Data.Error; e == nil || e.Code != tt.want.code {
					t.Errorf("last event's error %+v, want code %s", e, tt.want.code)
				}
			}
			if n := r.cs.executed(); n != tt.want.executes {
				t.Errorf("%d Corastone calls, want %d", n, tt.want.executes)
			}
			if tt.want.finds != 0 && r.cs.finds != tt.want.finds {
				t.Errorf("%d look-ups, want %d", r.cs.finds, tt.want.finds)
			}
			if got := len(r.bus.tracks) == 1; got != tt.want.tracked {
				t.Errorf("tracked %v, want %v (%d tracking messages)", got, tt.want.tracked, len(r.bus.tracks))
			}
		})
	}
}

func TestTransientFaultBacksOffAndRecordsTheFault(t *testing.T) {
	r := newRig(t, Config{RetryBase: time.Second, RetryMax: time.Minute})
	r.cs.answer = func(int, string) (platform.Accepted, error) {
		return platform.Accepted{}, transient(429, 7*time.Second)
	}
	m := r.msg("cancel-offering", offering("c", ""))
	what, d := r.deliver(m)
	if what != "nak" || d < 7*time.Second {
		t.Errorf("%s after %s, want a nak honouring Retry-After 7s", what, d)
	}
	if cl := r.bus.claim("c"); cl == nil || cl.Error == nil || cl.Error.HTTPStatus != 429 || cl.Attempts != 1 {
		t.Errorf("claim %+v: want the 429 recorded after 1 attempt", cl)
	}
}

func TestFingerprint(t *testing.T) {
	fp := func(action, body string) string {
		p := decode(testInput(action, []byte(body), nats.Header{}, 1), limits{maxBytes: 64 << 10})
		return fingerprint(action, []byte(body), p.envelope)
	}
	base := fp("cancel-offering", `{"commandId":"c","params":{"securityId":"A"}}`)
	if len(base) != 16 {
		t.Fatalf("fingerprint %q: want 16 hex digits", base)
	}
	tests := []struct {
		name, action, body string
		same               bool
	}{
		{"whitespace", "cancel-offering", " {\n\"commandId\" : \"c\", \"params\": { \"securityId\" : \"A\" } }", true},
		{"another commandId", "cancel-offering", `{"commandId":"d","params":{"securityId":"A"}}`, true},
		{"an escaped spelling", "cancel-offering", `{"commandId":"c","params":{"securityId":"A"},"processId":null}`, false},
		{"other params", "cancel-offering", `{"commandId":"c","params":{"securityId":"B"}}`, false},
		{"other action", "reject-asset", `{"commandId":"c","params":{"securityId":"A"}}`, false},
		{"a processId", "cancel-offering", `{"commandId":"c","processId":"` + pidA + `","params":{"securityId":"A"}}`, false},
		{"a deadline", "cancel-offering", `{"commandId":"c","deadline":"2026-11-21T12:00:00Z","params":{"securityId":"A"}}`, false},
		{"not an object", "cancel-offering", `[1]`, false},
	}
	for _, tt := range tests {
		if got := fp(tt.action, tt.body) == base; got != tt.same {
			t.Errorf("%s: same fingerprint %v, want %v", tt.name, got, tt.same)
		}
	}
	// params absent, null and {} are one command; two deadlines spelled alike are one.
	if fp("cancel-txn", `{"params":null}`) != fp("cancel-txn", `{}`) || fp("cancel-txn", `{"params":{}}`) != fp("cancel-txn", `{}`) {
		t.Error("absent, null and empty params differ")
	}
	if fp("x", "not json") == fp("x", "not json!") {
		t.Error("two unreadable bodies share a fingerprint")
	}
}

// TestDifferentCommandUnderAUsedID: SPEC §3/§4, one commandId, one command.
func TestDifferentCommandUnderAUsedID(t *testing.T) {
	const id = "ord-1"
	first := offering(id, "")
	tests := []struct {
		name        string
		firstAction string
		firstBody   string
		action      string
		body        string
		oldClaim    bool // the first claim was written before fingerprints
		duplicate   bool // a duplicate event is expected
	}{
		{"same command re-published", "cancel-offering", first, "cancel-offering", first, false, false},
		{"same command, other whitespace", "cancel-offering", first, "cancel-offering", " " + strings.ReplaceAll(first, ",", " , "), false, false},
		{"other params", "cancel-offering", first, "cancel-offering", `{"commandId":"ord-1","params":{"securityId":"OTHER"}}`, false, true},
		{"other processId", "cancel-offering", first, "cancel-offering", offering(id, `,"processId":"`+pidB+`"`), false, true},
		{"other deadline", "cancel-offering", first, "cancel-offering", offering(id, `,"deadline":"2026-03-01T13:00:00Z"`), false, true},
		{"other action", "cancel-offering", first, "revert-to-active",
			`{"commandId":"ord-1","params":{"securityId":"USS3JKS01I00","signer":{"email":"a@example.com","name":"A"}}}`, false, true},
		{"an unknown action's subject", "cancel-offering", first, "drop.table", first, false, true},
		{"rejected, then corrected under the same id", "cancel-offering", `{"commandId":"ord-1","params":{}}`, "cancel-offering", first, false, true},
		{"claim written before fingerprints", "cancel-offering", first, "cancel-offering", `{"commandId":"ord-1","params":{"securityId":"OTHER"}}`, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, Config{})
			m1 := r.msg(tt.firstAction, tt.firstBody)
			r.run(m1, 3)
			if tt.oldClaim {
				cl := r.bus.claim(id)
				cl.Fingerprint = ""
				r.bus.put(t, *cl)
			}
			before := len(r.bus.eventsOf(id))
			calls := r.cs.executed()
			firstFP := r.bus.claim(id).Fingerprint
			m2 := r.msg(tt.action, tt.body)
			for range 2 { // and a redelivery of it: one event, counted once
				if what, _ := r.deliver(m2); what != "ack" {
					t.Fatalf("second command: %s, want ack", what)
				}
			}
			if r.cs.executed() != calls {
				t.Error("the second command was sent to the platform")
			}
			evs := r.bus.eventsOf(id)[before:]
			if !tt.duplicate {
				if len(evs) != 0 {
					t.Errorf("events %+v, want none", evs)
				}
				return
			}
			if len(evs) != 1 {
				t.Fatalf("%d new events, want one duplicate event", len(evs))
			}
			ev := evs[0]
			fp := fingerprint(tt.action, m2.data, decode(testInput(tt.action, m2.data, nil, 2), limits{maxBytes: 64 << 10}).envelope)
			act := safeAction(tt.action)
			if ev.Data.Outcome != "duplicate" || ev.ID != id+":duplicate:"+fp || ev.Type != "txworker."+act+".duplicate" {
				t.Errorf("event id %q type %q outcome %q, want %s:duplicate:%s", ev.ID, ev.Type, ev.Data.Outcome, id, fp)
			}
			if sub := r.bus.subs[len(r.bus.subs)-1]; sub != "txworker.evt."+act+".duplicate" {
				t.Errorf("subject %q", sub)
			}
			e := ev.Data.Error
			if e == nil || e.Code != CodeDuplicateCommandID || !strings.Contains(e.Message, fp) || !strings.Contains(e.Message, firstFP) ||
				!strings.Contains(e.Message, "terminal") && !strings.Contains(e.Message, "accepted") {
				t.Errorf("error %+v: want %s naming both fingerprints (%s, %s) and the first command's state", e, CodeDuplicateCommandID, fp, firstFP)
			}
			if got := r.counter("txworker_duplicates_dropped_total", `kind="different"`); got != 1 {
				t.Errorf("duplicates_dropped_total{kind=different} = %v, want 1", got)
			}
			if got := r.counter("txworker_events_published_total", `outcome="duplicate"`); got != 1 {
				t.Errorf("events_published_total{outcome=duplicate} = %v, want 1", got)
			}
			// The first command's outcome stands.
			if cl := r.bus.claim(id); cl.Fingerprint != firstFP {
				t.Errorf("the claim's fingerprint changed to %s", cl.Fingerprint)
			}
		})
	}
}

// TestProcessIDInUse: SPEC §3, one processId, one command.
func TestProcessIDInUse(t *testing.T) {
	withPID := func(id string) string { return offering(id, `,"processId":"`+pidA+`"`) }
	for _, order := range [][2]string{{"a", "b"}, {"b", "a"}} {
		t.Run(order[0]+" first", func(t *testing.T) {
			r := newRig(t, Config{})
			m1 := r.msg("cancel-offering", withPID(order[0]))
			if what, _ := r.run(m1, 3); what != "ack" {
				t.Fatalf("first: %s", what)
			}
			m2 := r.msg("cancel-offering", withPID(order[1]))
			if what, _ := r.run(m2, 3); what != "term" {
				t.Fatalf("second: %s, want term", what)
			}
			if n := r.cs.executed(); n != 1 {
				t.Errorf("%d platform calls, want 1", n)
			}
			evs := r.bus.eventsOf(order[1])
			if len(evs) != 1 || evs[0].Data.Outcome != "rejected" || evs[0].Data.Error == nil ||
				evs[0].Data.Error.Code != CodeProcessIDInUse || !strings.Contains(evs[0].Data.Error.Message, order[0]) {
				t.Fatalf("second command's events %+v: want one rejected %s", evs, CodeProcessIDInUse)
			}
			// A redelivery of each changes nothing and counts nothing twice.
			m1.meta.NumDelivered = 0
			if what, _ := r.run(m1, 3); what != "ack" {
				t.Errorf("redelivery of the first: %s", what)
			}
			if what, _ := r.run(m2, 3); what != "term" {
				t.Errorf("redelivery of the second: %s", what)
			}
			if n := r.cs.executed(); n != 1 {
				t.Errorf("%d platform calls after redeliveries, want 1", n)
			}
			if got := len(r.bus.eventsOf(order[1])); got != 1 {
				t.Errorf("%d events of the second command, want 1", got)
			}
			if got := r.counter("txworker_commands_rejected_total", `reason="process_id_in_use"`); got != 1 {
				t.Errorf("commands_rejected_total{reason=process_id_in_use} = %v, want 1", got)
			}
		})
	}
	t.Run("generated processIds need no index", func(t *testing.T) {
		r := newRig(t, Config{})
		r.run(r.msg("cancel-offering", offering("a", "")), 3)
		if len(r.bus.pids) != 0 {
			t.Errorf("index %v, want empty", r.bus.pids)
		}
	})
}

// TestPoisonEndsAfterBoundedDeliveries: SPEC §4, a command the worker
// cannot take through ends in one terminal event; an outage of NATS is
// retried.
func TestPoisonEndsAfterBoundedDeliveries(t *testing.T) {
	const maxPoison = 4
	boom := errors.New("jetstream: something inside broke")
	tests := []struct {
		name       string
		body       string
		setup      func(r *rig)
		deliveries int    // the last delivery, when the command ends
		outcome    string // "" never ends
		code       string
	}{
		{name: "claim never encodes", body: offering("c", ""),
			setup: func(r *rig) {
				r.bus.createErr = func(*queue.Claim) error { return fmt.Errorf("create claim: %w: year outside", queue.ErrUnencodable) }
			},
			deliveries: 1, outcome: "failed", code: CodeInternalError},
		{name: "claim store keeps failing", body: offering("c", ""),
			setup:      func(r *rig) { r.bus.createErr = func(*queue.Claim) error { return boom } },
			deliveries: maxPoison, outcome: "failed", code: CodeInternalError},
		{name: "accepted event cannot be published", body: offering("c", ""),
			setup: func(r *rig) {
				r.bus.publishErr = func(ev queue.Event) error {
					if ev.Data.Outcome == "accepted" {
						return &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamMessageExceedsMaximum, Description: "message size exceeds maximum allowed"}
					}
					return nil
				}
			},
			deliveries: 1, outcome: "failed", code: CodeInternalError},
		{name: "panic in the platform client", body: offering("c", ""),
			setup: func(r *rig) {
				r.cs.answer = func(int, string) (platform.Accepted, error) { panic("nil map in the client") }
			},
			// Deliveries 1, 3 and 5 panic; 2 and 4 wait out the lease of the
			// call that panicked; the first panic at delivery >= 4 ends it.
			deliveries: maxPoison + 1, outcome: "failed", code: CodeInternalError},
		{name: "NATS timeout: retried, never ended", body: offering("c", ""),
			setup: func(r *rig) {
				r.bus.createErr = func(*queue.Claim) error { return fmt.Errorf("create claim: %w", nats.ErrTimeout) }
			},
			deliveries: 30},
		{name: "JetStream unavailable: retried", body: offering("c", ""),
			setup: func(r *rig) {
				r.bus.createErr = func(*queue.Claim) error {
					return &jetstream.APIError{Code: 503, Description: "JetStream system temporarily unavailable"}
				}
			},
			deliveries: 30},
		{name: "context deadline: retried", body: offering("c", ""),
			setup:      func(r *rig) { r.bus.createErr = func(*queue.Claim) error { return context.DeadlineExceeded } },
			deliveries: 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, Config{MaxPoisonDeliveries: maxPoison})
			if tt.setup != nil {
				tt.setup(r)
			}
			m := r.msg("cancel-offering", tt.body)
			what, n := r.run(m, 30)
			evs := r.bus.eventsOf("c")
			var terminal []queue.Event
			for _, ev := range evs {
				if queue.Terminal(ev.Data.Outcome) {
					terminal = append(terminal, ev)
				}
			}
			if tt.outcome == "" {
				if what != "nak" || n != tt.deliveries || len(terminal) != 0 {
					t.Fatalf("%s after %d deliveries with %d terminal events: want re-scheduled for ever, no event", what, n, len(terminal))
				}
				return
			}
			if what != "term" || n != tt.deliveries {
				t.Errorf("%s after %d deliveries, want term after %d", what, n, tt.deliveries)
			}
			if len(terminal) != 1 || terminal[0].Data.Outcome != tt.outcome || terminal[0].Data.Error == nil ||
				terminal[0].Data.Error.Code != tt.code || terminal[0].ID != "c:"+tt.outcome {
				t.Fatalf("terminal events %+v: want one %s %s", terminal, tt.outcome, tt.code)
			}
			if got := r.counter("txworker_internal_errors_total", `kind="poison"`); got != 1 {
				t.Errorf("internal_errors_total{kind=poison} = %v, want 1", got)
			}
			if panics := r.counter("txworker_internal_errors_total", `kind="panic"`); strings.HasPrefix(tt.name, "panic") != (panics > 0) {
				t.Errorf("internal_errors_total{kind=panic} = %v", panics)
			}
		})
	}
}

// TestDeadlineBoundsEveryRetry: SPEC §3, no action is sent after the
// deadline.
func TestDeadlineBoundsEveryRetry(t *testing.T) {
	deadline := `,"deadline":"2026-03-01T12:00:05Z"` // 5s after the rig's clock
	t.Run("Retry-After past the deadline ends it timed_out with the fault", func(t *testing.T) {
		r := newRig(t, Config{})
		r.cs.answer = func(int, string) (platform.Accepted, error) {
			return platform.Accepted{}, transient(429, 15*time.Second)
		}
		m := r.msg("cancel-offering", offering("c", deadline))
		what, _ := r.run(m, 20)
		if what != "term" || r.cs.executed() != 1 {
			t.Fatalf("%s after %d calls, want term after 1 call", what, r.cs.executed())
		}
		evs := r.bus.eventsOf("c")
		if len(evs) != 1 || evs[0].Data.Outcome != "timed_out" {
			t.Fatalf("events %+v, want one timed_out", evs)
		}
		if e := evs[0].Data.Error; e == nil || e.Code != "HTTP_429" || e.HTTPStatus != 429 || !strings.Contains(e.Message, "http 429") {
			t.Errorf("error %+v: want the last fault (HTTP_429, 429, its message)", e)
		}
		if end := r.clock.Now(); end.After(time.Date(2026, 3, 1, 12, 0, 5, 0, time.UTC)) {
			t.Errorf("ended at %s, after the deadline: the Retry-After was waited out", end)
		}
	})
	t.Run("back-off past the deadline", func(t *testing.T) {
		r := newRig(t, Config{RetryBase: 10 * time.Second, RetryMax: time.Minute})
		r.cs.answer = func(int, string) (platform.Accepted, error) { return platform.Accepted{}, transient(503, 0) }
		what, _ := r.run(r.msg("cancel-offering", offering("c", `,"deadline":"2026-03-01T12:00:00.5Z"`)), 20)
		if evs := r.bus.eventsOf("c"); what != "term" || len(evs) != 1 || evs[0].Data.Outcome != "timed_out" || r.cs.executed() != 1 {
			t.Fatalf("%s, events %+v, %d calls: want timed_out after 1 call", what, evs, r.cs.executed())
		}
		if end := r.clock.Now(); end.After(time.Date(2026, 3, 1, 12, 0, 0, 500e6, time.UTC)) {
			t.Errorf("ended at %s, after the deadline: the back-off was waited out", end)
		}
	})
	for _, found := range []bool{false, true} {
		t.Run(fmt.Sprintf("a call that timed out near the deadline is looked up first (found %v)", found), func(t *testing.T) {
			r := newRig(t, Config{CallTimeout: time.Second})
			r.cs.answer = func(n int, pid string) (platform.Accepted, error) {
				if n == 1 {
					return platform.Accepted{}, transient(0, 0) // no answer: may have reached the platform
				}
				t.Error("sent again")
				return platform.Accepted{}, nil
			}
			r.cs.find = func(string) (string, bool, error) { return "orch-late", found, nil }
			what, _ := r.run(r.msg("cancel-offering", offering("c", deadline)), 20)
			want, wantDisp := "timed_out", "term"
			if found {
				want, wantDisp = "accepted", "ack"
			}
			evs := r.bus.eventsOf("c")
			if what != wantDisp || len(evs) != 1 || evs[0].Data.Outcome != want || r.cs.finds == 0 {
				t.Fatalf("%s, events %+v, %d look-ups: want %s after a look-up", what, evs, r.cs.finds, want)
			}
			if !r.clock.Now().After(time.Date(2026, 3, 1, 12, 0, 5, 0, time.UTC)) && !found {
				t.Errorf("ended at %s, before the lease was over", r.clock.Now())
			}
		})
	}
	t.Run("the call's context ends at the deadline", func(t *testing.T) {
		r := newRig(t, Config{CallTimeout: time.Minute})
		r.run(r.msg("cancel-offering", offering("c", `,"deadline":"2026-03-01T12:00:02Z"`)), 3)
		if len(r.cs.ctxLeft) != 1 || r.cs.ctxLeft[0] > 2*time.Second {
			t.Errorf("call contexts with %v left, want at most the 2s to the deadline", r.cs.ctxLeft)
		}
	})
	t.Run("a platform pause reaching past the deadline", func(t *testing.T) {
		r := newRig(t, Config{PauseAfter: 1, PauseFor: time.Hour})
		r.w.breaker.failure(platform.PlatformCorastone)
		what, n := r.run(r.msg("cancel-offering", offering("c", deadline)), 5)
		if evs := r.bus.eventsOf("c"); what != "term" || len(evs) != 1 || evs[0].Data.Outcome != "timed_out" || r.cs.executed() != 0 {
			t.Fatalf("%s after %d deliveries, events %+v: want timed_out, nothing sent", what, n, evs)
		}
		if r.clock.Now().After(time.Date(2026, 3, 1, 12, 1, 0, 0, time.UTC)) {
			t.Errorf("ended at %s: waited out the pause, not the deadline", r.clock.Now())
		}
	})
}

func TestOutageOrPoison(t *testing.T) {
	tests := []struct {
		err                   error
		outage, deterministic bool
	}{
		{nats.ErrTimeout, true, false},
		{fmt.Errorf("create claim: %w", nats.ErrNoResponders), true, false},
		{nats.ErrConnectionClosed, true, false},
		{nats.ErrDisconnected, true, false},
		{jetstream.ErrNoHeartbeat, true, false},
		{jetstream.ErrNoStreamResponse, true, false},
		{context.DeadlineExceeded, true, false},
		{&jetstream.APIError{Code: 503, Description: "no suitable peers"}, true, false},
		{&jetstream.APIError{Code: 400, ErrorCode: jsErrCodeStreamNotMatch}, true, false},
		{fmt.Errorf("x: %w: year", queue.ErrUnencodable), false, true},
		{nats.ErrBadSubject, false, true},
		{&jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamMessageExceedsMaximum}, false, true},
		{errors.New("claim kept changing"), false, false},
		{&jetstream.APIError{Code: 500, Description: "?"}, false, false},
	}
	for _, tt := range tests {
		if got := outage(tt.err); got != tt.outage {
			t.Errorf("outage(%v) = %v", tt.err, got)
		}
		if got := deterministic(tt.err); got != tt.deterministic {
			t.Errorf("deterministic(%v) = %v", tt.err, got)
		}
	}
}

// A deadline the claim could not hold is caught before anything is stored:
// one rejected event at the first delivery (the unencodable-claim path above
// is the backstop for any other such value).
func TestDeadlineTheClaimCannotHoldIsRejected(t *testing.T) {
	for _, deadline := range []string{"9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"} {
		t.Run(deadline, func(t *testing.T) {
			r := newRig(t, Config{})
			m := r.msg("cancel-offering", `{"commandId":"c","deadline":"`+deadline+`","params":{"securityId":"USS3JKS01I00"}}`)
			what, n := r.run(m, 30)
			evs := r.bus.eventsOf("c")
			if what != "term" || n != 1 || len(evs) != 1 || evs[0].Data.Outcome != "rejected" ||
				evs[0].Data.Error == nil || evs[0].Data.Error.Code != CodeInvalidCommand {
				t.Fatalf("%s after %d deliveries, events %+v: want one rejected INVALID_COMMAND at once", what, n, evs)
			}
		})
	}
}
