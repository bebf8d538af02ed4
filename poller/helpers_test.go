package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/metrics"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// env is an embedded NATS server with the txworker streams, and the test's
// own connection to it (claims, tracking messages, events).
type env struct {
	url string
	bus *queue.Bus
	nc  *nats.Conn // the test's own connection
	js  jetstream.JetStream
	// evCons reads the events stream; evs are the events read so far.
	evCons jetstream.Consumer
	evs    []queue.Event
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return envAt(t, natstest.Start(t, natstest.Options{}).URL())
}

// envAt is an env on the server at url.
func envAt(t *testing.T, url string) *env {
	t.Helper()
	return envOn(t, url, connect(t, url))
}

// envOn is an env on the server at url whose bus is bus.
func envOn(t *testing.T, url string, bus *queue.Bus) *env {
	t.Helper()
	nc, js := natstest.Connect(t, url)
	return &env{url: url, bus: bus, nc: nc, js: js}
}

// connect opens and provisions a bus: one per poller instance ("replica").
func connect(t *testing.T, url string) *queue.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := queue.Connect(ctx, queue.Config{URL: url, Provision: true}, testLogger(t))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = b.Drain() })
	if err := b.Provision(ctx); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return b
}

// testLogger logs warnings and errors to the test log (everything with
// POLLER_TEST_DEBUG=1).
func testLogger(t *testing.T) *zap.Logger {
	level := zap.WarnLevel
	if os.Getenv("POLLER_TEST_DEBUG") != "" {
		level = zap.DebugLevel
	}
	return zaptest.NewLogger(t, zaptest.Level(level))
}

// track stores an accepted claim and publishes its tracking message with the
// claim's revision, as the worker does after the platform accepted an action.
func (e *env) track(t *testing.T, commandID, orchestrationID string, deadline time.Time) {
	t.Helper()
	e.trackWith(t, commandID, orchestrationID, deadline, nil)
}

// trackWith is track with a hook between storing the claim and publishing
// the tracking message.
func (e *env) trackWith(t *testing.T, commandID, orchestrationID string, deadline time.Time, between func(*queue.Claim, *queue.Track)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := time.Now()
	tr := queue.Track{CommandID: commandID, Action: "revert-to-active", ProcessID: orchestrationID,
		OrchestrationID: orchestrationID, Resource: "USS3JKS01I00",
		ReceivedAt: now, AcceptedAt: now, Deadline: deadline, Attempts: 1, Lookups: 1, StreamSeq: 42}
	cl, _, err := e.bus.Claims().Create(ctx, claimFromTrack(tr))
	if err != nil {
		t.Fatalf("create claim %s: %v", commandID, err)
	}
	tr.ClaimRevision = cl.Revision
	if between != nil {
		between(cl, &tr)
	}
	if err := e.bus.PublishTrack(ctx, tr); err != nil {
		t.Fatalf("publish track %s: %v", commandID, err)
	}
}

// events returns every event on the events stream so far, in stream order.
// It reads through one ordered consumer; a read that fails (say, while the
// server restarts) returns what has been read.
func (e *env) events(t *testing.T) []queue.Event {
	t.Helper()
	if e.evCons == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		js := e.js
		name, err := js.StreamNameBySubject(ctx, e.bus.Prefix()+".evt.>")
		if err != nil {
			t.Fatalf("events stream: %v", err)
		}
		if e.evCons, err = js.OrderedConsumer(ctx, name, jetstream.OrderedConsumerConfig{}); err != nil {
			t.Fatalf("events consumer: %v", err)
		}
	}
	for {
		batch, err := e.evCons.FetchNoWait(1000)
		if err != nil {
			return e.evs
		}
		got := 0
		for msg := range batch.Messages() {
			var ev queue.Event
			if err := json.Unmarshal(msg.Data(), &ev); err != nil {
				t.Fatalf("decode event: %v", err)
			}
			e.evs = append(e.evs, ev)
			got++
		}
		if got == 0 {
			return e.evs
		}
	}
}

// waitEnded waits until n commands have a terminal event and returns them by
// commandId. It fails the test on a command with two terminal events.
func (e *env) waitEnded(t *testing.T, n int, within time.Duration) map[string]queue.Event {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ended := map[string]queue.Event{}
		for _, ev := range e.events(t) {
			if !queue.Terminal(ev.Data.Outcome) {
				continue
			}
			if prev, dup := ended[ev.Data.CommandID]; dup {
				t.Fatalf("command %s ended twice: %s and %s", ev.Data.CommandID, prev.ID, ev.ID)
			}
			ended[ev.Data.CommandID] = ev
		}
		if len(ended) >= n {
			return ended
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d commands ended within %s", len(ended), n, within)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not synchronising
	}
}

// waitFor polls cond until it holds or within has passed.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not synchronising
	}
}

// startPoller runs a Poller until the returned stop (also a cleanup) is
// called; stop waits for Run to return.
func startPoller(t *testing.T, cfg Config, bus *queue.Bus, plat Platform) (p *Poller, stop func()) {
	t.Helper()
	return startPollerWith(t, cfg, bus, plat, nil)
}

// startPollerWith is startPoller with metrics.
func startPollerWith(t *testing.T, cfg Config, bus *queue.Bus, plat Platform, m *metrics.Metrics) (p *Poller, stop func()) {
	t.Helper()
	p = New(cfg, bus, bus.Claims(), plat, testLogger(t), m)
	return p, runUntilStopped(t, p)
}

// runUntilStopped runs p until the returned stop (also a cleanup) is
// called; stop waits for Run to return.
func runUntilStopped(t *testing.T, p *Poller) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	t.Cleanup(stop)
	return stop
}

// metricValue returns the sum of the counters or gauges name{labels…} in
// reg; labels a metric does not have are ignored.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue metric
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// fakePlatform is a scripted Transactions API. An orchestration is
// in_progress until it has been polled `after` times, then it ends with
// `final` (never, when final is ""). Every call is recorded.
type fakePlatform struct {
	mu    sync.Mutex
	orchs map[string]*fakeOrch
	calls []call
	// fault, when set, answers a call with an error instead (nil: answer).
	// It is called with mu held.
	fault func(c call) error
	// hold, when set, makes calls wait until it is closed or ctx ends.
	hold       chan struct{}
	clientHold // a fault with a Retry-After holds the API, as the client does
}

type fakeOrch struct {
	final   string   // success | failed | dlq | "" (runs for ever)
	after   int      // polls answered in_progress before it ends
	steps   []string // processIds in execution order
	failAt  int      // index of the failing step when final is failed/dlq
	polls   int
	endedAt time.Time
	// unreadable answers the first that many polls with an element that
	// cannot be read (-1: every poll).
	unreadable int
}

// unreadableElement is the element the fake answers for an unreadable
// orchestration, as platform.Corastone reports it.
func unreadableElement(id string) platform.Orchestration {
	body := `{"orchestrationId":"` + id + `","status":"success","timestamp":"99999-01-01T00:00:00Z"}`
	return platform.Orchestration{OrchestrationID: id, Unreadable: &platform.Error{Platform: platform.PlatformCorastone,
		Endpoint: "orchestrations", HTTPStatus: 200, Code: platform.CodeMalformedResponse, Verdict: platform.Transient,
		Message: "answer is not the documented JSON: element: timestamp out of range", Body: body}}
}

type call struct {
	endpoint string // "orchestrations" | "transactions"
	ids      []string
	at       time.Time
}

func newFake() *fakePlatform { return &fakePlatform{orchs: map[string]*fakeOrch{}} }

func (f *fakePlatform) add(id string, o *fakeOrch) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o.steps == nil {
		o.steps = []string{id, id + "-2", id + "-3"}
	}
	f.orchs[id] = o
}

func (f *fakePlatform) record(ctx context.Context, c call) error {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	hold := f.hold
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fault != nil {
		err := f.fault(c)
		f.after(err)
		return err
	}
	return nil
}

// Orchestrations answers the known ids among ids.
func (f *fakePlatform) Orchestrations(ctx context.Context, ids []string) ([]platform.Orchestration, error) {
	if err := f.record(ctx, call{"orchestrations", slices.Clone(ids), time.Now()}); err != nil {
		return nil, err
	}
	if len(ids) > MaxBatchSize {
		return nil, &platform.Error{Platform: platform.PlatformCorastone, Endpoint: "orchestrations", HTTPStatus: 400,
			Code: "GN0002", Verdict: platform.Permanent, Message: fmt.Sprintf("%d ids", len(ids))}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []platform.Orchestration
	for _, id := range ids {
		o, ok := f.orchs[id]
		if !ok {
			continue
		}
		o.polls++
		if o.unreadable < 0 || o.polls <= o.unreadable {
			out = append(out, unreadableElement(id))
			continue
		}
		po := platform.Orchestration{OrchestrationID: id, Status: "in_progress", ProcessIDs: o.steps,
			SourceTransactionID: o.steps[0]}
		if o.final != "" && o.polls > o.after {
			if o.endedAt.IsZero() {
				o.endedAt = time.Now().Add(-time.Second).UTC().Truncate(time.Millisecond)
			}
			po.Status, po.Timestamp = o.final, platform.Timestamp{Time: o.endedAt}
		}
		out = append(out, po)
	}
	return out, nil
}

// Transactions answers the steps of the filtered orchestrations, last step
// first (so that answer order is not execution order).
func (f *fakePlatform) Transactions(ctx context.Context, flt platform.TransactionFilter) ([]platform.Transaction, error) {
	if err := f.record(ctx, call{"transactions", slices.Clone(flt.OrchestrationIDs), time.Now()}); err != nil {
		return nil, err
	}
	if len(flt.OrchestrationIDs) > 10 {
		return nil, errors.New("fake: more than 10 orchestrationIds")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []platform.Transaction
	for _, id := range flt.OrchestrationIDs {
		o, ok := f.orchs[id]
		if !ok {
			continue
		}
		for i := len(o.steps) - 1; i >= 0; i-- {
			status := "success"
			if o.final != "success" && i >= o.failAt {
				status = "failed"
			}
			out = append(out, platform.Transaction{ProcessID: o.steps[i], OrchestrationID: id, Status: status})
		}
	}
	return out, nil
}

// callsTo returns the recorded calls to endpoint.
func (f *fakePlatform) callsTo(endpoint string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if c.endpoint == endpoint {
			out = append(out, c)
		}
	}
	return out
}

// endedAt is when the fake says orchestration id ended (zero: not yet).
func (f *fakePlatform) endedAt(id string) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.orchs[id].endedAt
}

// fakeMsg is a jetstream.Msg that counts InProgress calls.
type fakeMsg struct {
	jetstream.Msg // nil: any other method panics
	inProgress    atomic.Int32
}

func (m *fakeMsg) InProgress() error { m.inProgress.Add(1); return nil }
