package worker

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// fuzzAnswer is the platform's answer to the nth call, chosen by a byte.
func fuzzAnswer(script []byte, n int) (kind byte, arg byte) {
	if n-1 >= len(script) {
		return 0, 0
	}
	b := script[n-1]
	return b % 8, b / 8
}

// FuzzHandleCommand drives whole-command handling over the fakes: a fuzzed
// subject token, body, Nats-Msg-Id and traceparent, delivery count, bus
// fault and platform answers (success, transient, Retry-After, no answer,
// permanent, 500, panic), redelivering the message while it is
// re-scheduled. Whatever the input:
//
//   - within a bounded number of deliveries the command reaches exactly one
//     terminal event and is terminated, or is handed to tracking with
//     exactly one accepted event and acknowledged;
//   - every event subject is {prefix}.evt.{action}.{outcome} with a checked
//     action token (one of the five or "unknown") and a known outcome;
//   - an invalid command makes no platform call, and no command is taken
//     by the platform twice;
//   - one more delivery afterwards (a lost acknowledgement) publishes
//     nothing new.
func FuzzHandleCommand(f *testing.F) {
	seeds := []struct {
		action, body string
		script       []byte
	}{
		{"cancel-offering", `{"commandId":"c1","params":{"securityId":"USS3JKS01I00"}}`, nil},
		{"cancel-offering", `{"commandId":"c1","params":{"securityId":"USS3JKS01I00"}}`, []byte{1, 2 + 8*20, 3, 0}},
		{"cancel-offering", `{"commandId":"c1","deadline":"2026-03-01T12:00:05Z","params":{"securityId":"A"}}`, []byte{2 + 8*15}},
		{"cancel-offering", `{"commandId":"c1","deadline":"9999-12-31T23:59:59-23:59","params":{"securityId":"A"}}`, nil},
		{"revert-to-active", `{"processId":"2159457f-0167-4e93-a969-9cf0db05e0bf","params":{"securityId":"A","signer":{"email":"a@example.com","name":"A"}}}`, []byte{4}},
		{"cancel-txn", `{"params":{"submitKey":"k"}}`, []byte{1, 1, 5}},
		{"cancel-txn", `{"params":{"submitKey":"k"}}`, []byte{6, 6, 6, 6}},
		{"cancel-offering", `{"params":{"securityId":"A"}}`, []byte{7, 7, 7, 7, 7, 7}},
		{"*", `{"params":{}}`, nil},
		{"cancel-offering.succeeded", `{"params":{"securityId":"A"}}`, nil},
		{"", ``, nil},
	}
	for i, s := range seeds {
		f.Add(s.action, []byte(s.body), "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", uint8(0), uint8(i%5), s.script)
	}
	if files, _ := filepath.Glob(filepath.Join("..", "testdata", "hostile", "*.json")); len(files) > 0 {
		for _, name := range files {
			body, err := os.ReadFile(name)
			if err != nil || len(body) > 8<<10 {
				continue
			}
			action, _, _ := strings.Cut(filepath.Base(name), ".")
			f.Add(action, body, "hostile-"+filepath.Base(name), "garbage!!", uint8(1), uint8(0), []byte{0})
		}
	}
	const maxDeliveries = 120
	f.Fuzz(func(t *testing.T, action string, body []byte, msgID, traceparent string, delivered, fault uint8, script []byte) {
		r := newRig(t, Config{MaxAttempts: 4, Max500Attempts: 2, RetryBase: 50 * time.Millisecond, RetryMax: 2 * time.Second,
			CallTimeout: time.Second, MaxPoisonDeliveries: 3, PauseAfter: 3, PauseFor: 5 * time.Second})
		if len(script) > 32 {
			script = script[:32]
		}
		answer := func(n int) (byte, time.Duration) {
			kind, arg := fuzzAnswer(script, n)
			if kind == 7 {
				panic("fuzzed panic in the platform client")
			}
			return kind, time.Duration(arg) * time.Second
		}
		csErr := func(kind byte, ra time.Duration) error {
			switch kind {
			case 1:
				return transient(503, 0)
			case 2:
				return transient(429, ra)
			case 3:
				return transient(0, 0)
			case 4:
				return permanent(409, "IS0012")
			case 5:
				return permanent(400, "GN0002")
			case 6:
				return transient(500, 0)
			}
			return nil
		}
		succeeded := 0
		r.cs.answer = func(n int, pid string) (platform.Accepted, error) {
			kind, ra := answer(n)
			if err := csErr(kind, ra); err != nil {
				return platform.Accepted{}, err
			}
			succeeded++
			return platform.Accepted{OrchestrationID: "orch-" + pid}, nil
		}
		r.jm.answer = func(n int) (string, error) {
			kind, ra := answer(n)
			switch kind {
			case 4:
				return "Completed", &platform.Error{Platform: platform.JourneyManager, Endpoint: "cancel-txn", HTTPStatus: 400,
					Code: "txnAlreadyFinished", Verdict: platform.Permanent}
			case 0:
				succeeded++
				return "Abandoned", nil
			}
			return "", csErr(kind, ra)
		}
		creates := 0
		switch fault % 5 {
		case 1: // the first claims time out
			r.bus.createErr = func(*queue.Claim) error {
				if creates++; creates <= 3 {
					return fmt.Errorf("create claim: %w", nats.ErrTimeout)
				}
				return nil
			}
		case 2: // no claim can ever be written
			r.bus.createErr = func(*queue.Claim) error { return fmt.Errorf("create claim: %w: x", queue.ErrUnencodable) }
		case 3: // the accepted event cannot be stored
			r.bus.publishErr = func(ev queue.Event) error {
				if ev.Data.Outcome == "accepted" {
					return fmt.Errorf("publish: %w", nats.ErrMaxPayload)
				}
				return nil
			}
		}

		m := r.msg("x", "")
		m.subject = testPrefix + ".cmd." + action
		m.data = body
		if msgID != "" {
			m.hdr.Set(nats.MsgIdHdr, msgID)
		}
		if traceparent != "" {
			m.hdr.Set("traceparent", traceparent)
		}
		m.meta.NumDelivered = uint64(delivered % 16)
		valid := decode(r.w.inputOf(m, &m.meta), limits{maxBytes: r.w.cfg.MaxCommandBytes, maxAhead: r.w.cfg.MaxDeadlineAhead}).reason == ""

		what, n := r.run(m, maxDeliveries)
		if what == "nak" {
			t.Fatalf("still re-scheduled after %d deliveries", n)
		}
		check := func(when string) {
			t.Helper()
			var terminal, accepted int
			for i, ev := range r.bus.events {
				sub := r.bus.subs[i]
				tokens := strings.Split(sub, ".")
				if len(tokens) != 4 || tokens[0] != testPrefix || tokens[1] != "evt" ||
					safeAction(tokens[2]) != tokens[2] || tokens[3] != ev.Data.Outcome {
					t.Fatalf("%s: event subject %q", when, sub)
				}
				switch {
				case queue.Terminal(ev.Data.Outcome):
					terminal++
				case ev.Data.Outcome == queue.OutcomeAccepted:
					accepted++
				default:
					t.Fatalf("%s: event outcome %q", when, ev.Data.Outcome)
				}
			}
			switch {
			case terminal == 1 && what == "term":
			case terminal == 0 && accepted == 1 && what == "ack" && len(r.bus.tracks) == 1:
			default:
				t.Fatalf("%s: %s after %d deliveries with %d terminal and %d accepted events, %d tracking messages",
					when, what, n, terminal, accepted, len(r.bus.tracks))
			}
		}
		check("after the command")
		if !valid && (r.cs.executed() != 0 || r.jm.calls != 0) {
			t.Fatalf("an invalid command made %d Corastone and %d JM calls", r.cs.executed(), r.jm.calls)
		}
		if succeeded > 1 {
			t.Fatalf("the platform took the command %d times", succeeded)
		}
		events := len(r.bus.events)
		what, _ = r.deliver(m)
		if what == "nak" {
			r.run(m, maxDeliveries)
		}
		if len(r.bus.events) != events {
			t.Fatalf("a redelivery after the end published %d more events", len(r.bus.events)-events)
		}
	})
}
