package worker

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/txworker/txworker/platform"
)

// held is what the platform client answers a request it holds after a
// Retry-After of its API: not sent, Transient, the 429's status and what is
// left of the hold.
func held(left time.Duration) error {
	return &platform.Error{Platform: platform.PlatformCorastone, Endpoint: "cancel-offering", HTTPStatus: 429,
		Message: fmt.Sprintf("not sent: the actions API holds its requests for %s more after http 429", left),
		Verdict: platform.Transient, RetryAfter: left, Err: platform.ErrHeld}
}

// TestHeldByTheClient: a call or look-up the platform client held (ErrHeld:
// a Retry-After of that API, met by any caller of this replica) is a 429
// that asked nothing of the platform: a hold past the deadline ends the
// command timed_out on time with that fault, and it never counts towards
// the breaker's pause.
func TestHeldByTheClient(t *testing.T) {
	deadline := time.Date(2026, 3, 1, 12, 0, 5, 0, time.UTC) // 5s after the rig's clock
	field := `,"deadline":"2026-03-01T12:00:05Z"`
	t.Run("an action held past the deadline", func(t *testing.T) {
		r := newRig(t, Config{PauseAfter: 1})
		r.cs.answer = func(int, string) (platform.Accepted, error) { return platform.Accepted{}, held(time.Minute) }
		what, _ := r.run(r.msg("cancel-offering", offering("c", field)), 20)
		evs := r.bus.eventsOf("c")
		if what != "term" || len(evs) != 1 || evs[0].Data.Outcome != "timed_out" {
			t.Fatalf("%s, events %+v: want one timed_out", what, evs)
		}
		if e := evs[0].Data.Error; e == nil || e.Code != "HTTP_429" || e.HTTPStatus != 429 || !strings.Contains(e.Message, "not sent") {
			t.Errorf("error %+v: want the held 429", e)
		}
		if end := r.clock.Now(); end.After(deadline) {
			t.Errorf("ended at %s, after the deadline %s", end, deadline)
		}
		if d := r.w.breaker.wait(platform.PlatformCorastone); d != 0 {
			t.Errorf("breaker paused for %s by a call that was never sent", d)
		}
	})
	t.Run("a look-up held", func(t *testing.T) {
		r := newRig(t, Config{PauseAfter: 2, CallTimeout: time.Second})
		r.cs.answer = func(n int, _ string) (platform.Accepted, error) {
			if n == 1 {
				return platform.Accepted{}, transient(0, 0) // no answer: looked up before anything else
			}
			t.Error("sent again")
			return platform.Accepted{}, nil
		}
		r.cs.find = func(string) (string, bool, error) { return "", false, held(time.Minute) }
		what, _ := r.run(r.msg("cancel-offering", offering("c", field)), 20)
		if evs := r.bus.eventsOf("c"); what != "term" || len(evs) != 1 || evs[0].Data.Outcome != "timed_out" || r.cs.finds == 0 {
			t.Fatalf("%s, events %+v, %d look-ups: want timed_out after a look-up", what, evs, r.cs.finds)
		}
		if d := r.w.breaker.wait(platform.PlatformCorastone); d != 0 {
			t.Errorf("breaker paused for %s: a held look-up counted as a fault", d)
		}
	})
}

// TestHeldIsNoAttempt: a request the client held sent nothing, so it spends
// nothing of the retry budget: with a budget of 2, three holds and then an
// answer still end in the platform's answer, not RETRIES_EXHAUSTED.
func TestHeldIsNoAttempt(t *testing.T) {
	r := newRig(t, Config{MaxAttempts: 2})
	r.cs.answer = func(n int, _ string) (platform.Accepted, error) {
		if n <= 3 {
			return platform.Accepted{}, held(time.Second)
		}
		return platform.Accepted{OrchestrationID: "o-1"}, nil
	}
	what, _ := r.run(r.msg("cancel-offering", offering("c", "")), 20)
	evs := r.bus.eventsOf("c")
	if len(evs) != 1 || evs[0].Data.Outcome != "accepted" {
		t.Fatalf("%s, events %+v: want accepted after three holds", what, evs)
	}
	if cl := r.bus.claim("c"); cl == nil || cl.Attempts != 1 {
		t.Errorf("claim %+v: want 1 attempt (the one sent)", cl)
	}
}
