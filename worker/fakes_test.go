package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/txworker/txworker/metrics"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// Hand-written fakes of the bus, the claim store, the message and the
// platforms, for unit tests of whole-command handling without NATS.

const testPrefix = "txworker"

// fakeStreamCreated is the commands stream's creation time in these tests.
var fakeStreamCreated = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeClock is the worker's clock in these tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fakeBus is the bus and the claim store: claims are kept encoded (as
// encoding/json writes them, so an unencodable value fails as it would on
// the bus), events are deduplicated by id as the stream does.
type fakeBus struct {
	mu     sync.Mutex
	claims map[string][]byte
	revs   map[string]uint64
	rev    uint64
	pids   map[string]string
	events []queue.Event
	subs   []string // subject of each stored event
	ids    map[string]bool
	tracks []queue.Track

	// Fault hooks; nil: no fault.
	createErr  func(cl *queue.Claim) error
	updateErr  func(cl *queue.Claim) error
	publishErr func(ev queue.Event) error
	trackErr   func(t queue.Track) error
}

func newFakeBus() *fakeBus {
	return &fakeBus{claims: map[string][]byte{}, revs: map[string]uint64{}, pids: map[string]string{}, ids: map[string]bool{}}
}

var (
	_ Bus    = (*fakeBus)(nil)
	_ Claims = (*fakeBus)(nil)
)

func (b *fakeBus) Prefix() string             { return testPrefix }
func (b *fakeBus) CommandsCreated() time.Time { return fakeStreamCreated }
func (b *fakeBus) RefreshCommandsCreated(context.Context) (time.Time, error) {
	return fakeStreamCreated, nil
}
func (b *fakeBus) Commands() jetstream.Consumer                    { return nil }
func (b *fakeBus) CommandsPending(context.Context) (uint64, error) { return 0, nil }
func (b *fakeBus) eventSubject(action, outcome string) string {
	return testPrefix + ".evt." + action + "." + outcome
}
func (b *fakeBus) encode(cl *queue.Claim) ([]byte, error) {
	data, err := json.Marshal(cl)
	if err != nil {
		return nil, fmt.Errorf("fake claims: %w: %w", queue.ErrUnencodable, err)
	}
	return data, nil
}

func (b *fakeBus) Create(_ context.Context, cl *queue.Claim) (*queue.Claim, bool, error) {
	if b.createErr != nil {
		if err := b.createErr(cl); err != nil {
			return nil, false, err
		}
	}
	data, err := b.encode(cl)
	if err != nil {
		return nil, false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.claims[cl.CommandID]; ok {
		stored, err := b.getLocked(cl.CommandID)
		return stored, false, err
	}
	b.rev++
	b.claims[cl.CommandID], b.revs[cl.CommandID] = data, b.rev
	cl.Revision = b.rev
	return cl, true, nil
}

func (b *fakeBus) Get(_ context.Context, id string) (*queue.Claim, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.getLocked(id)
}

func (b *fakeBus) getLocked(id string) (*queue.Claim, error) {
	data, ok := b.claims[id]
	if !ok {
		return nil, queue.ErrNotFound
	}
	cl := new(queue.Claim)
	if err := json.Unmarshal(data, cl); err != nil {
		return nil, err
	}
	cl.Revision = b.revs[id]
	return cl, nil
}

func (b *fakeBus) Update(_ context.Context, cl *queue.Claim) error {
	if b.updateErr != nil {
		if err := b.updateErr(cl); err != nil {
			return err
		}
	}
	data, err := b.encode(cl)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.revs[cl.CommandID] != cl.Revision {
		return queue.ErrConflict
	}
	b.rev++
	b.claims[cl.CommandID], b.revs[cl.CommandID] = data, b.rev
	cl.Revision = b.rev
	return nil
}

func (b *fakeBus) ReserveProcessID(_ context.Context, processID, commandID string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if owner, ok := b.pids[processID]; ok {
		return owner, nil
	}
	b.pids[processID] = commandID
	return commandID, nil
}

// claim returns the stored claim of id, or nil.
func (b *fakeBus) claim(id string) *queue.Claim {
	cl, _ := b.Get(context.Background(), id)
	return cl
}

// put stores cl as it stands.
func (b *fakeBus) put(t *testing.T, cl queue.Claim) {
	t.Helper()
	data, err := json.Marshal(cl)
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rev++
	b.claims[cl.CommandID], b.revs[cl.CommandID] = data, b.rev
}

func (b *fakeBus) PublishEvent(_ context.Context, ev queue.Event, _ queue.Trace) (bool, error) {
	for _, tok := range []string{ev.Data.Action, ev.Data.Outcome} {
		if tok == "" || strings.ContainsAny(tok, "*> \t\r\n") || strings.Contains(tok, "..") ||
			strings.HasPrefix(tok, ".") || strings.HasSuffix(tok, ".") {
			return false, fmt.Errorf("fake publish: invalid subject token %q: %w", tok, queue.ErrUnencodable)
		}
	}
	if b.publishErr != nil {
		if err := b.publishErr(ev); err != nil {
			return false, err
		}
	}
	if _, err := json.Marshal(ev); err != nil {
		return false, fmt.Errorf("fake publish: %w: %w", queue.ErrUnencodable, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ids[ev.ID] {
		return true, nil
	}
	b.ids[ev.ID] = true
	b.events = append(b.events, ev)
	b.subs = append(b.subs, b.eventSubject(ev.Data.Action, ev.Data.Outcome))
	return false, nil
}

func (b *fakeBus) PublishTrack(_ context.Context, t queue.Track) error {
	if b.trackErr != nil {
		if err := b.trackErr(t); err != nil {
			return err
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, have := range b.tracks {
		if have.CommandID == t.CommandID {
			return nil
		}
	}
	b.tracks = append(b.tracks, t)
	return nil
}

// Settle follows queue.Bus.Settle: first writer wins, the event is
// published from the stored claim, then the claim is marked published.
func (b *fakeBus) Settle(ctx context.Context, source string, cl *queue.Claim, r queue.Result) (*queue.Claim, bool, error) {
	if !queue.Terminal(r.Outcome) {
		return nil, false, fmt.Errorf("settle: outcome %q is not terminal", r.Outcome)
	}
	var cur *queue.Claim
	if cl.Revision != 0 {
		c := *cl
		cur = &c
	}
	for range 10 {
		if cur == nil {
			stored, err := b.Get(ctx, cl.CommandID)
			if errors.Is(err, queue.ErrNotFound) {
				next := terminalWith(*cl, r)
				stored, _, err = b.Create(ctx, &next)
			}
			if err != nil {
				return nil, false, fmt.Errorf("settle: %w", err)
			}
			cur = stored
		}
		if cur.State == queue.StateTerminal {
			break
		}
		next := terminalWith(*cur, r)
		err := b.Update(ctx, &next)
		if err == nil {
			cur = &next
			break
		}
		if !errors.Is(err, queue.ErrConflict) {
			return nil, false, fmt.Errorf("settle: %w", err)
		}
		cur = nil
	}
	if cur == nil || cur.State != queue.StateTerminal {
		return nil, false, errors.New("settle: claim kept changing")
	}
	if cur.Published {
		return cur, false, nil
	}
	dup, err := b.PublishEvent(ctx, queue.EventFromClaim(source, cur), cur.Trace)
	if err != nil {
		return cur, false, fmt.Errorf("settle: %w", err)
	}
	next := *cur
	next.Published = true
	if err := b.Update(ctx, &next); err != nil {
		return cur, !dup, fmt.Errorf("settle: %w", err)
	}
	return &next, !dup, nil
}

func terminalWith(c queue.Claim, r queue.Result) queue.Claim {
	c.State, c.Outcome, c.PlatformStatus, c.Error = queue.StateTerminal, r.Outcome, r.PlatformStatus, r.Error
	c.FailedProcessID, c.FailedStatus = r.FailedProcessID, r.FailedStatus
	c.SettledAt = r.SettledAt.UTC()
	c.Problems, c.RawCommand, c.RawCommandBase64 = r.Problems, r.RawCommand, r.RawCommandBase64
	c.Published, c.LeaseUntil = false, time.Time{}
	return c
}

// eventsOf returns the stored events of a command, in order.
func (b *fakeBus) eventsOf(commandID string) []queue.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []queue.Event
	for _, ev := range b.events {
		if ev.Data.CommandID == commandID {
			out = append(out, ev)
		}
	}
	return out
}

// fakeCS is Corastone: answer decides each Execute (n counts from 1); the
// platform knows a processId once an Execute of it succeeded, or when
// known says so.
type fakeCS struct {
	mu      sync.Mutex
	answer  func(n int, processID string) (platform.Accepted, error)
	find    func(processID string) (string, bool, error)
	calls   int
	finds   int
	taken   map[string]string
	ctxLeft []time.Duration // how long each Execute's context had left
}

func (c *fakeCS) Execute(ctx context.Context, _ *platform.Request, processID string) (platform.Accepted, error) {
	c.mu.Lock()
	c.calls++
	n := c.calls
	if dl, ok := ctx.Deadline(); ok {
		c.ctxLeft = append(c.ctxLeft, time.Until(dl))
	}
	answer := c.answer
	c.mu.Unlock()
	acc := platform.Accepted{OrchestrationID: "orch-" + processID}
	var err error
	if answer != nil {
		acc, err = answer(n, processID)
	}
	if err == nil {
		c.mu.Lock()
		if c.taken == nil {
			c.taken = map[string]string{}
		}
		c.taken[processID] = acc.OrchestrationID
		c.mu.Unlock()
	}
	return acc, err
}

func (c *fakeCS) FindProcess(_ context.Context, processID string) (string, bool, error) {
	c.mu.Lock()
	c.finds++
	find := c.find
	orch, ok := c.taken[processID]
	c.mu.Unlock()
	if find != nil {
		return find(processID)
	}
	return orch, ok, nil
}

func (c *fakeCS) executed() int { c.mu.Lock(); defer c.mu.Unlock(); return c.calls }

// fakeJM is Journey Manager.
type fakeJM struct {
	mu     sync.Mutex
	answer func(n int) (string, error)
	calls  int
}

func (j *fakeJM) Cancel(context.Context, *platform.Request) (string, error) {
	j.mu.Lock()
	j.calls++
	n := j.calls
	j.mu.Unlock()
	if j.answer == nil {
		return "Abandoned", nil
	}
	return j.answer(n)
}

// fakeMsg is one command message; each Handle ends in one disposition.
type fakeMsg struct {
	subject string
	data    []byte
	hdr     nats.Header
	meta    jetstream.MsgMetadata

	mu     sync.Mutex
	last   string        // ack, nak, term ("" before any)
	delay  time.Duration // of the last nak
	counts map[string]int
	// inProgress counts InProgress (not a disposition)
	inProgress int
}

func (m *fakeMsg) Metadata() (*jetstream.MsgMetadata, error) { md := m.meta; return &md, nil }
func (m *fakeMsg) Data() []byte                              { return m.data }
func (m *fakeMsg) Headers() nats.Header                      { return m.hdr }
func (m *fakeMsg) Subject() string                           { return m.subject }
func (m *fakeMsg) Reply() string                             { return "" }
func (m *fakeMsg) Ack() error                                { return m.set("ack", 0) }
func (m *fakeMsg) DoubleAck(context.Context) error           { return m.set("ack", 0) }
func (m *fakeMsg) Nak() error                                { return m.set("nak", 0) }
func (m *fakeMsg) NakWithDelay(d time.Duration) error        { return m.set("nak", d) }
func (m *fakeMsg) InProgress() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inProgress++
	return nil
}
func (m *fakeMsg) Term() error                 { return m.set("term", 0) }
func (m *fakeMsg) TermWithReason(string) error { return m.set("term", 0) }

func (m *fakeMsg) set(what string, d time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counts == nil {
		m.counts = map[string]int{}
	}
	m.counts[what]++
	m.last, m.delay = what, d
	return nil
}

func (m *fakeMsg) disposition() (string, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last, m.delay
}

// rig is a Worker over the fakes.
type rig struct {
	t     testing.TB
	bus   *fakeBus
	cs    *fakeCS
	jm    *fakeJM
	clock *fakeClock
	reg   *prometheus.Registry
	w     *Worker
	seq   uint64
}

func newRig(t testing.TB, cfg Config) *rig {
	t.Helper()
	r := &rig{t: t, bus: newFakeBus(), cs: &fakeCS{}, jm: &fakeJM{},
		clock: &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, reg: prometheus.NewRegistry()}
	w, err := New(cfg, r.bus, r.bus, r.cs, r.jm, nil, metrics.New(r.reg))
	if err != nil {
		t.Fatal(err)
	}
	w.now = r.clock.Now
	r.w = w
	return r
}

// msg publishes a command on {prefix}.cmd.{action} now.
func (r *rig) msg(action, body string) *fakeMsg {
	r.seq++
	return &fakeMsg{subject: testPrefix + ".cmd." + action, data: []byte(body), hdr: nats.Header{},
		meta: jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: r.seq, Consumer: r.seq}, Timestamp: r.clock.Now()}}
}

// deliver hands m to the worker once more and returns its disposition.
func (r *rig) deliver(m *fakeMsg) (string, time.Duration) {
	m.meta.NumDelivered++
	m.mu.Lock()
	m.last = ""
	m.mu.Unlock()
	r.w.Handle(context.Background(), m)
	what, d := m.disposition()
	if what == "" {
		r.t.Fatalf("delivery %d of %s: neither acknowledged, re-scheduled nor terminated", m.meta.NumDelivered, m.subject)
	}
	return what, d
}

// run delivers m while it is re-scheduled, advancing the clock by each
// delay, at most max times; it returns the last disposition and how many
// deliveries were made.
func (r *rig) run(m *fakeMsg, max int) (string, int) {
	for i := 1; ; i++ {
		what, d := r.deliver(m)
		if what != "nak" || i >= max {
			return what, i
		}
		r.clock.Advance(max1(d, time.Millisecond))
	}
}

func max1(d, floor time.Duration) time.Duration { return max(d, floor) }

// counter returns the value of a txworker_* counter series.
func (r *rig) counter(name, labels string) float64 {
	r.t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelString(m) == labels {
				return m.GetCounter().GetValue()
			}
		}
	}
	r.t.Fatalf("%s{%s}: no series", name, labels)
	return 0
}

func labelString(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	return strings.Join(parts, ",")
}

// Bodies used across the tests.
const (
	pidA = "2159457f-0167-4e93-a969-9cf0db05e0bf"
	pidB = "6f1c2e0a-3b4d-4c5e-8f60-718293a4b5c6"
)

func offering(commandID, extra string) string {
	return `{"commandId":"` + commandID + `"` + extra + `,"params":{"securityId":"USS3JKS01I00"}}`
}
