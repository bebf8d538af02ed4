package poller

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// takeoverAckWait is the tracking consumer's ack wait in these tests: short,
// with keep-alives (a third of it) well apart under -race on a busy machine.
const takeoverAckWait = 2 * time.Second

// connectAck opens and provisions a bus whose tracking consumer has the
// given ack wait (every replica provisions the same, as in the service).
func connectAck(t *testing.T, url string, ackWait time.Duration) *queue.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := queue.Connect(ctx, queue.Config{URL: url, Provision: true, TrackingAckWait: ackWait}, testLogger(t))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = b.Drain() })
	if err := b.Provision(ctx); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return b
}

// killableBus is a replica's bus whose tracking consumer lives on a
// connection of its own: closing it is what a SIGKILL does to the replica's
// tracking messages (no ack, no nak, no InProgress ever again).
type killableBus struct {
	*queue.Bus
	nc   *nats.Conn
	cons jetstream.Consumer
}

func (b *killableBus) Tracking() jetstream.Consumer { return b.cons }

func killable(t *testing.T, url string) *killableBus {
	t.Helper()
	b := connectAck(t, url, takeoverAckWait)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info := b.Tracking().CachedInfo()
	cons, err := js.Consumer(ctx, info.Stream, info.Name)
	if err != nil {
		t.Fatal(err)
	}
	return &killableBus{Bus: b, nc: nc, cons: cons}
}

// startOn runs a Poller over any bus until the returned stop (also a
// cleanup) is called; stop waits for Run to return.
func startOn(t *testing.T, cfg Config, bus Bus, claims Claims, plat Platform) (stop func()) {
	t.Helper()
	return runUntilStopped(t, New(cfg, bus, claims, plat, testLogger(t), nil))
}

// trackingState is the tracking consumer's pending counts as the server has
// them: not yet delivered, delivered and not acknowledged, redelivered.
func trackingState(t *testing.T, b *queue.Bus) (pending, ackPending, redelivered int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := b.Tracking().Info(ctx)
	if err != nil {
		return -1, -1, -1
	}
	return int(info.NumPending), info.NumAckPending, info.NumRedelivered
}

// trackN tracks n orchestrations known to every fake as ending in success.
func trackN(t *testing.T, e *env, n int, fakes ...*fakePlatform) {
	t.Helper()
	for i := range n {
		id := fmt.Sprintf("orch-%02d", i)
		for _, f := range fakes {
			f.add(id, &fakeOrch{final: "success"})
		}
		e.track(t, "cmd-"+id, id, time.Now().Add(time.Hour))
	}
}

// TestTakeoverWithinAckWait: replica A takes every tracking message and is
// then killed mid-request (its connection cut: no ack, no nak); replica B,
// already running, resumes all of A's orchestrations within about one
// tracking ack wait (issue 17 §2), not after the former fixed 60s.
func TestTakeoverWithinAckWait(t *testing.T) {
	const n = 20
	url := natstest.Start(t, natstest.Options{}).URL()
	e := envOn(t, url, connectAck(t, url, takeoverAckWait))
	stuck, good := newFake(), newFake()
	stuck.hold = make(chan struct{}) // A's request never returns
	trackN(t, e, n, stuck, good)

	a := killable(t, url)
	cfg := Config{Interval: 100 * time.Millisecond, MaxInterval: time.Second, FetchWait: 50 * time.Millisecond}
	stopA := startOn(t, cfg, a, a.Claims(), stuck)
	waitFor(t, 10*time.Second, "replica A holds every message, mid-request", func() bool {
		pending, inHand, _ := trackingState(t, e.bus)
		return len(stuck.callsTo("orchestrations")) > 0 && pending == 0 && inHand == n
	})
	startPoller(t, cfg, connectAck(t, url, takeoverAckWait), good)

	a.nc.Close() // SIGKILL
	killed := time.Now()
	const slack = 5 * time.Second // B's fetch wait, its polls, settles, a loaded machine
	ended := e.waitEnded(t, n, takeoverAckWait+slack)
	t.Logf("replica B ended A's %d orchestrations %s after A was killed (tracking ack wait %s)",
		n, time.Since(killed).Round(time.Millisecond), takeoverAckWait)
	for id, ev := range ended {
		if ev.Data.Outcome != queue.OutcomeSucceeded {
			t.Errorf("%s: outcome %q, want succeeded", id, ev.Data.Outcome)
		}
	}
	stopA()
}

// TestHeldBatchNotRedelivered: a batch held longer than the tracking ack
// wait — by a slow request, by a Retry-After pause, or waiting for a free
// cycle — is kept alive with InProgress: no message is redelivered to the
// other replica meanwhile, and each command ends exactly once.
func TestHeldBatchNotRedelivered(t *testing.T) {
	const window = 3 * takeoverAckWait // how long the batch is held
	tests := []struct {
		name  string
		n     int
		cfg   func(*Config)
		setup func(f *fakePlatform) (release func())
	}{
		{name: "request in flight", n: 20, setup: func(f *fakePlatform) func() {
			f.hold = make(chan struct{})
			return sync.OnceFunc(func() { close(f.hold) })
		}},
		{name: "Retry-After pause", n: 20, setup: func(f *fakePlatform) func() {
			first := true
			f.fault = func(call) error {
				if !first {
					return nil
				}
				first = false
				return &platform.Error{Platform: platform.PlatformCorastone, Endpoint: "orchestrations", HTTPStatus: 429,
					Verdict: platform.Transient, RetryAfter: window + takeoverAckWait} // ends by itself
			}
			return func() {}
		}},
		// One message per fetch: three cycles block on their request and
		// the fourth batch waits in dispatch for a free cycle.
		{name: "waiting for a cycle", n: maxCycles + 1, cfg: func(c *Config) { c.FetchMax = 1 }, setup: func(f *fakePlatform) func() {
			f.hold = make(chan struct{})
			return sync.OnceFunc(func() { close(f.hold) })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := natstest.Start(t, natstest.Options{}).URL()
			e := envOn(t, url, connectAck(t, url, takeoverAckWait))
			slow, other := newFake(), newFake()
			release := tt.setup(slow)
			defer release()
			trackN(t, e, tt.n, slow, other)
			cfg := Config{Interval: 100 * time.Millisecond, MaxInterval: time.Minute, FetchWait: 50 * time.Millisecond}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			startPoller(t, cfg, connectAck(t, url, takeoverAckWait), slow)
			waitFor(t, 10*time.Second, "replica A holds every message", func() bool {
				pending, inHand, _ := trackingState(t, e.bus)
				return len(slow.callsTo("orchestrations")) > 0 && pending == 0 && inHand == tt.n
			})
			held := time.Now()
			startPoller(t, cfg, connectAck(t, url, takeoverAckWait), other)
			time.Sleep(window) // the property under test: three ack waits pass with the batch in hand
			if _, _, redelivered := trackingState(t, e.bus); redelivered != 0 {
				t.Errorf("%d messages redelivered while A held them for %s", redelivered, time.Since(held).Round(time.Millisecond))
			}
			if calls := other.callsTo("orchestrations"); len(calls) != 0 {
				t.Errorf("replica B polled %d times while A held every message: A's keep-alive lapsed", len(calls))
			}
			release()
			e.waitEnded(t, tt.n, 2*window)
		})
	}
}

// TestKeepAliveFollowsAckWait: a tracking consumer updated while the poller
// runs (another replica provisions a new TXWORKER_TRACKING_ACK_WAIT) gets
// keep-alives at its new pace.
func TestKeepAliveFollowsAckWait(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	p, _ := startPoller(t, fast, connectAck(t, url, time.Minute), newFake())
	waitFor(t, 10*time.Second, "the poller reads the ack wait", func() bool { return p.currentAckWait() == time.Minute })
	connectAck(t, url, takeoverAckWait)
	waitFor(t, trackedEvery+10*time.Second, "the poller sees the new ack wait", func() bool {
		return p.currentAckWait() == takeoverAckWait && p.keepAliveEvery() == takeoverAckWait/3
	})
}

// TestDispatchKeepsWaitingBatchAlive: a batch waiting for a free cycle gets
// InProgress every third of the ack wait, and is handed back on shutdown.
func TestDispatchKeepsWaitingBatchAlive(t *testing.T) {
	p := testPoller(Config{})
	p.ackWait, p.now = 30*time.Millisecond, time.Now
	msg := newMsg(t, queue.Track{CommandID: "c1", OrchestrationID: "o1"}, 1)
	cycles := make(chan struct{}, maxCycles)
	for range maxCycles {
		cycles <- struct{}{} // every cycle busy
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	done := make(chan struct{})
	go func() { defer close(done); p.dispatch(ctx, &wg, cycles, []jetstream.Msg{msg}) }()
	waitFor(t, 5*time.Second, "three InProgress while waiting", func() bool {
		msg.mu.Lock()
		defer msg.mu.Unlock()
		return msg.inProgress >= 3
	})
	cancel()
	<-done
	if acks, naks, _ := msg.state(); acks != 0 || len(naks) != 1 || naks[0] != handBackDelay {
		t.Errorf("after shutdown: %d acks, naks %v; want handed back once after %s", acks, naks, handBackDelay)
	}
}
