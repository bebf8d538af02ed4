package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/txworker/txworker/platform/platformtest"
)

// publishMixed publishes n Corastone commands with fresh ids (the
// simulator creates what they name) and returns their commandIds.
func (e *testEnv) publishMixed(prefix string, n int) []string {
	e.t.Helper()
	ids := make([]string, 0, n)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%s-%04d", prefix, i)
		sec := fmt.Sprintf("U%s%04d", prefix[:3], i)
		var action, params string
		switch i % 4 {
		case 0:
			action, params = "cancel-offering", fmt.Sprintf(`{"securityId":%q}`, sec)
		case 1:
			action, params = "revert-to-active", fmt.Sprintf(`{"securityId":%q,"signer":{"email":"a@example.com","name":"A"}}`, sec)
		case 2:
			action, params = "remove-service-provider", fmt.Sprintf(`{"transactionData":{"securityId":%q},"orgId":"US9QIMA"}`, sec)
		case 3:
			action, params = "reject-asset", fmt.Sprintf(`{"assetId":"%sA","transactionData":{"securityId":%q}}`, sec, sec)
		}
		e.publish(action, fmt.Sprintf(`{"commandId":%q,"params":%s}`, id, params), "")
		ids = append(ids, id)
	}
	return ids
}

// expectAllOnce waits until every command has its terminal event and
// checks each has exactly one, and that no action reached the platform twice.
func (e *testEnv) expectAllOnce(ids []string, limit time.Duration, outcome string) {
	e.t.Helper()
	e.waitFor(limit, fmt.Sprintf("%d terminal events", len(ids)), func() bool {
		for _, id := range ids {
			n := 0
			for _, o := range []string{"succeeded", "failed", "rejected", "timed_out"} {
				n += len(e.events[id+":"+o])
			}
			if n == 0 {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		if n := e.terminalCount(id); n != 1 {
			e.t.Errorf("%s: %d terminal events, want exactly 1", id, n)
		}
		if n := e.count(id + ":accepted"); n != 1 {
			e.t.Errorf("%s: %d accepted events, want 1", id, n)
		}
		if outcome != "" && e.count(id+":"+outcome) != 1 {
			e.t.Errorf("%s: no %s event (%v)", id, outcome, e.eventsOf(id+":failed"))
		}
	}
	if m := e.sim.MaxAcceptedPerProcess(); m > 1 {
		e.t.Errorf("a processId was accepted %d times by the platform", m)
	}
	if got, want := e.sim.AcceptedTotal(), len(ids); got != want {
		e.t.Errorf("platform accepted %d actions for %d commands", got, want)
	}
}

// waitAccepted waits until at least n of the commands are accepted.
func (e *testEnv) waitAccepted(ids []string, n int) {
	e.t.Helper()
	e.waitFor(waitLong, fmt.Sprintf("%d accepted orchestrations", n), func() bool {
		got := 0
		for _, id := range ids {
			got += len(e.events[id+":accepted"])
		}
		return got >= n
	})
}

func trackingSim() platformtest.Config {
	return platformtest.Config{
		AutoCreate:   true,
		StepDuration: [2]time.Duration{500 * time.Millisecond, 2 * time.Second},
		Steps:        [2]int{1, 3},
	}
}

// A worker process killed with SIGKILL while it tracks hundreds of
// orchestrations, then restarted: every command still ends exactly once.
func TestProcessKilledWhileTracking(t *testing.T) {
	e := newTestEnv(t, trackingSim())
	cfg := map[string]string{"TXWORKER_ACK_WAIT": "3s", "TXWORKER_LOG_LEVEL": "info"}
	first := e.startProcess(cfg)
	e.watch()
	ids := e.publishMixed("kil", 300)
	e.waitAccepted(ids, 200)
	first.kill()
	e.startProcess(cfg)
	e.expectAllOnce(ids, 90*time.Second, "succeeded")
}

// The NATS server stopped for a few seconds mid-run and started again on
// the same store: every command ends, none twice.
func TestNATSRestartMidRun(t *testing.T) {
	e := newTestEnv(t, trackingSim())
	e.startWorker(map[string]string{"TXWORKER_ACK_WAIT": "3s", "TXWORKER_LOG_LEVEL": "info"})
	e.watch()
	ids := e.publishMixed("nat", 200)
	e.waitAccepted(ids, 100)
	e.stopNATS()
	time.Sleep(3 * time.Second) // the outage itself, not a synchronisation
	e.restartNATS()
	e.expectAllOnce(ids, 90*time.Second, "succeeded")
}
