package poller

import (
	"fmt"
	"testing"
	"time"

	"github.com/txworker/txworker/internal/natstest"
)

// TestNATSRestart: the server stops for a moment mid-run and comes back with
// the same store; every command still ends, exactly once.
func TestNATSRestart(t *testing.T) {
	ns := natstest.Start(t, natstest.Options{})
	url := ns.URL()
	// A restarted server keeps a NakWithDelay'd message's original delivery
	// time, so messages re-scheduled shortly before the restart come back
	// only after the ack wait: a short one keeps the test quick.
	e := envOn(t, url, connectAck(t, url, 2*time.Second))
	replica := connectAck(t, url, 2*time.Second)
	fake := newFake()
	const n = 50
	for i := range n {
		id := fmt.Sprintf("orch-%02d", i)
		fake.add(id, &fakeOrch{final: "success", after: 3 + i%5})
		e.track(t, "cmd-"+id, id, time.Now().Add(time.Hour))
	}
	startPoller(t, fast, replica, fake)
	waitFor(t, 5*time.Second, "polling under way", func() bool { return len(fake.callsTo("orchestrations")) >= 3 })
	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	ended := e.waitEnded(t, n, 30*time.Second)
	for id, ev := range ended {
		if ev.Data.Outcome != "succeeded" {
			t.Errorf("%s: outcome %q", id, ev.Data.Outcome)
		}
	}
}
