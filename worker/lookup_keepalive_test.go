package worker

import (
	"errors"
	"testing"
	"time"

	"github.com/txworker/txworker/queue"
)

// TestLookupKeptAlive: a look-up of an unfinished call that takes longer
// than the keep-alive period (a slow platform, a Retry-After the platform
// client waits out) keeps the command message alive with InProgress, as the
// call itself does, so that it is not redelivered to another replica.
func TestLookupKeptAlive(t *testing.T) {
	const id = "cmd-1"
	r := newRig(t, Config{MaxAttempts: 3, KeepAlive: 5 * time.Millisecond})
	now := r.clock.Now()
	r.bus.put(t, queue.Claim{CommandID: id, Action: "cancel-offering", ProcessID: pidA, State: queue.StateCalling,
		Attempts: 1, Owner: "gone", LeaseUntil: now.Add(-time.Second), StreamSeq: 1, ReceivedAt: now, Deadline: now.Add(time.Hour)})
	m := r.msg("cancel-offering", offering(id, ""))
	progress := func() int { m.mu.Lock(); defer m.mu.Unlock(); return m.inProgress }
	r.cs.find = func(string) (string, bool, error) {
		deadline := time.Now().Add(5 * time.Second)
		for progress() < 3 { // the look-up lasts until three keep-alives went out
			if time.Now().After(deadline) {
				return "", false, errors.New("no keep-alive during the look-up")
			}
			time.Sleep(time.Millisecond) // polling a condition
		}
		return "orch-1", true, nil
	}
	if got, _ := r.deliver(m); got != "ack" {
		t.Fatalf("disposition %s, want ack (accepted after the look-up)", got)
	}
	if n := progress(); n < 3 {
		t.Errorf("%d InProgress during the look-up, want at least 3", n)
	}
	if r.cs.finds != 1 || r.cs.executed() != 0 {
		t.Errorf("%d look-ups, %d calls; want 1 look-up, no call", r.cs.finds, r.cs.executed())
	}
}
