package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/platform/platformtest"
	"github.com/txworker/txworker/queue"
)

// noRelease is a HintStore whose holder dies: it never gives the lease up.
type noRelease struct{ HintStore }

func (noRelease) ReleaseLease(context.Context, string) error { return nil }

// hintReplica is one replica's poller and tailer in hints mode.
type hintReplica struct {
	owner string
	stop  func()
}

func startHintReplica(t *testing.T, url, owner string, cs *platform.Corastone, dies bool) *hintReplica {
	t.Helper()
	bus := connect(t, url)
	p := New(Config{Source: "test", Interval: 50 * time.Millisecond, MaxInterval: 500 * time.Millisecond}, bus, bus.Claims(), cs, testLogger(t), nil)
	p.EnableHints(bus.Hints())
	var store HintStore = bus.Hints()
	if dies {
		store = noRelease{store}
	}
	tl := NewTailer(HintConfig{Owner: owner, Source: "test", Interval: 100 * time.Millisecond, Lease: time.Second,
		Overlap: 500 * time.Millisecond}, store, bus.Claims(), bus, cs, cs, testLogger(t), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = p.Run(ctx); done <- struct{}{} }()
	go func() { _ = tl.Run(ctx); done <- struct{}{} }()
	r := &hintReplica{owner: owner}
	var once sync.Once
	r.stop = func() { once.Do(func() { cancel(); <-done; <-done }) }
	t.Cleanup(func() { r.stop() })
	return r
}

// leaseHolder reads the owner of hint.lease ("" if none).
func (e *env) leaseHolder(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := e.js.KeyValue(ctx, e.bus.StateBucket())
	if err != nil {
		t.Fatal(err)
	}
	ent, err := kv.Get(ctx, "hint.lease")
	if err != nil {
		return ""
	}
	var l struct {
		Owner string    `json:"owner"`
		Until time.Time `json:"until"`
	}
	if err := json.Unmarshal(ent.Value(), &l); err != nil || time.Now().After(l.Until) {
		return ""
	}
	return l.Owner
}

// acceptTracked has the simulator accept n actions and hands each to
// tracking as the worker does in hints mode: index, claim, tracking message.
func (e *env) acceptTracked(t *testing.T, cs *platform.Corastone, prefix string, n int) {
	t.Helper()
	for i := range n {
		id := accept(t, cs, fmt.Sprintf("USS3%s%04dI00", prefix, i))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := e.bus.Hints().IndexOrchestration(ctx, id, "cmd-"+id); err != nil {
			t.Fatal(err)
		}
		cancel()
		e.track(t, "cmd-"+id, id, time.Now().Add(time.Minute))
	}
}

// TestHintsEndEveryCommandOnceDespiteFaultyEntries: a share of the
// Sequencer's entries dropped, late (some beyond the overlap), duplicated
// and out of order; two replicas in hints mode; the tailing one dies
// without giving the lease up: every command ends exactly once, with the
// outcome the platform shows, and the other replica takes the lease over.
func TestHintsEndEveryCommandOnceDespiteFaultyEntries(t *testing.T) {
	sim, cs := startSimWith(t, platformtest.Config{
		StepDuration: [2]time.Duration{100 * time.Millisecond, 400 * time.Millisecond}, Steps: [2]int{1, 3},
		FailRate: 0.2, DLQRate: 0.1,
		SequencerDrop: 0.2, SequencerDelay: 0.3, SequencerLate: 700 * time.Millisecond,
		SequencerDuplicate: 0.2, SequencerReorder: 0.3,
	})
	e := newEnv(t)
	first := startHintReplica(t, e.url, "r1", cs, true)
	waitFor(t, 10*time.Second, "r1 to hold the lease", func() bool { return e.leaseHolder(t) == "r1" })
	startHintReplica(t, e.url, "r2", cs, false)

	const n = 40
	e.acceptTracked(t, cs, "A", n)
	e.waitEnded(t, n, 30*time.Second)

	// The tailing replica dies; the other takes over within the lease.
	first.stop()
	waitFor(t, 10*time.Second, "r2 to take the lease over", func() bool { return e.leaseHolder(t) == "r2" })
	e.acceptTracked(t, cs, "B", n)
	ended := e.waitEnded(t, 2*n, 30*time.Second)
	if len(ended) != 2*n {
		t.Fatalf("%d commands ended, want %d", len(ended), 2*n)
	}
	for cmd, ev := range ended {
		o, _ := sim.Orchestration(ev.Data.OrchestrationID)
		want := map[string]string{"success": queue.OutcomeSucceeded, "failed": queue.OutcomeFailed, "dlq": queue.OutcomeFailed}[o.Outcome]
		if ev.Data.Outcome != want {
			t.Errorf("%s ended %s, the platform says %s", cmd, ev.Data.Outcome, o.Outcome)
		}
	}
	if sim.Count("GET", "/external/v1/sequencer") == 0 {
		t.Error("the Sequencer was never read")
	}
}

// startSimWith is startSim with the Sequencer enabled on the client.
func startSimWith(t *testing.T, cfg platformtest.Config) (*platformtest.Simulator, *platform.Corastone) {
	t.Helper()
	return startSimClient(t, cfg, true)
}
