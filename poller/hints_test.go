package poller

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// memHints is an in-memory HintStore: the lease, the cursor (with a
// revision check) and the index, as queue.Hints keeps them.
type memHints struct {
	mu        sync.Mutex
	owner     string
	until     time.Time
	cursor    queue.HintCursor
	rev       uint64
	index     map[string]string
	noRelease bool // a replica that dies does not give the lease up
	lookupErr error
}

func newMemHints() *memHints { return &memHints{index: map[string]string{}} }

func (h *memHints) AcquireLease(_ context.Context, owner string, ttl time.Duration, now time.Time) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.owner != "" && h.owner != owner && now.Before(h.until) {
		return false, nil
	}
	h.owner, h.until = owner, now.Add(ttl)
	return true, nil
}

func (h *memHints) ReleaseLease(_ context.Context, owner string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.owner == owner && !h.noRelease {
		h.owner = ""
	}
	return nil
}

func (h *memHints) holder() string { h.mu.Lock(); defer h.mu.Unlock(); return h.owner }

func (h *memHints) Cursor(context.Context) (queue.HintCursor, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.cursor
	c.Seen = slices.Clone(c.Seen)
	c.Revision = h.rev
	return c, nil
}

func (h *memHints) SaveCursor(_ context.Context, c *queue.HintCursor) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.Revision != h.rev {
		return queue.ErrConflict
	}
	h.rev++
	h.cursor = *c
	h.cursor.Seen = slices.Clone(c.Seen)
	c.Revision = h.rev
	return nil
}

func (h *memHints) at() time.Time { h.mu.Lock(); defer h.mu.Unlock(); return h.cursor.At }

func (h *memHints) LookupOrchestration(_ context.Context, id string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lookupErr != nil {
		return "", h.lookupErr
	}
	cmd, ok := h.index[id]
	if !ok {
		return "", queue.ErrNotFound
	}
	return cmd, nil
}

func (h *memHints) UnindexOrchestration(_ context.Context, id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.index, id)
	return nil
}

// fakeSequencer answers pages of its entries in the given order, filtered
// by the query's dates, and counts the calls.
type fakeSequencer struct {
	mu      sync.Mutex
	entries []platform.SequenceEntry
	calls   int
	records int // records answered, over all calls
	err     error
}

func (s *fakeSequencer) Sequence(_ context.Context, q platform.SequenceQuery) (platform.SequencePage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return platform.SequencePage{}, s.err
	}
	var in []platform.SequenceEntry
	for _, e := range s.entries {
		if (q.From.IsZero() || !e.Timestamp.Before(q.From)) && (q.To.IsZero() || !e.Timestamp.After(q.To)) {
			in = append(in, e)
		}
	}
	lo := min(q.Offset, len(in))
	hi := min(lo+q.PageSize, len(in))
	s.records += hi - lo
	return platform.SequencePage{Entries: in[lo:hi], Records: hi - lo}, nil
}

func (s *fakeSequencer) add(es ...platform.SequenceEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries = append(s.entries, es...)
}

func txEntry(orch, status string, at time.Time) platform.SequenceEntry {
	return platform.SequenceEntry{Kind: platform.EntryTransaction, ProcessID: orch, OrchestrationID: orch, Status: status, Timestamp: at}
}

// tailerEnv is a Tailer over fakes, with tracked commands cmd-{orch}.
type tailerEnv struct {
	t     *Tailer
	store *memHints
	seq   *fakeSequencer
	bus   *fakeBus
	plat  *fakePlatform
	clock time.Time
}

func newTailerEnv(t *testing.T, tracked ...string) *tailerEnv {
	t.Helper()
	e := &tailerEnv{store: newMemHints(), seq: &fakeSequencer{}, bus: newFakeBus(), plat: newFake(),
		clock: time.Date(2024, 9, 12, 10, 0, 0, 0, time.UTC)}
	for _, id := range tracked {
		e.store.index[id] = "cmd-" + id
		e.bus.stored["cmd-"+id] = &queue.Claim{CommandID: "cmd-" + id, Action: "cancel-offering", OrchestrationID: id,
			State: queue.StateAccepted, Revision: 1}
	}
	e.t = NewTailer(HintConfig{Owner: "r1"}, e.store, e.bus.Claims(), e.bus, e.plat, e.seq, testLogger(t), nil)
	e.t.now = func() time.Time { return e.clock }
	if err := e.t.cfgErr; err != nil {
		t.Fatal(err)
	}
	// The cursor starts one minute before the clock.
	e.store.cursor = queue.HintCursor{At: e.clock.Add(-time.Minute)}
	return e
}

func (e *tailerEnv) settlesOf(cmd string) int {
	n := 0
	for _, s := range e.bus.settled() {
		if s.cl.CommandID == cmd {
			n++
		}
	}
	return n
}

func TestAdvanceNeverPassesUnhandled(t *testing.T) {
	t0 := time.Date(2024, 9, 12, 10, 0, 0, 0, time.UTC)
	mk := func(orch string, sec int) keyed {
		e := txEntry(orch, "success", t0.Add(time.Duration(sec)*time.Second))
		return keyed{e, entryKey(e)}
	}
	entries := []keyed{mk("a", 1), mk("b", 2), mk("c", 3), mk("d", 4)}
	readTo := t0.Add(10 * time.Second)
	for _, tc := range []struct {
		name      string
		unhandled []string
		complete  bool
		wantAt    time.Time
		wantSeen  int
	}{
		{"all handled, complete read: to the read's end minus the overlap", nil, true, readTo.Add(-2 * time.Second), 0},
		{"all handled, read cut short: to the last entry", nil, false, t0.Add(4 * time.Second), 3},
		{"the first unhandled: stays", []string{"a"}, true, t0, 0},
		{"the third unhandled: up to the second", []string{"c"}, true, t0.Add(2 * time.Second), 2},
		{"the last unhandled", []string{"d"}, true, t0.Add(3 * time.Second), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			un := map[string]bool{}
			for _, id := range tc.unhandled {
				un[id] = true
			}
			next := advance(queue.HintCursor{At: t0}, entries, un, tc.complete, readTo, 2*time.Second)
			if !next.At.Equal(tc.wantAt) {
				t.Errorf("At = %s, want %s", next.At, tc.wantAt)
			}
			if len(next.Seen) != tc.wantSeen {
				t.Errorf("Seen = %v, want %d keys", next.Seen, tc.wantSeen)
			}
			for _, k := range entries {
				if un[k.e.OrchestrationID] && next.At.After(k.e.Timestamp) {
					t.Errorf("the cursor passed the unhandled entry of %s", k.e.OrchestrationID)
				}
			}
		})
	}
}

// TestTailerCursorHoldsAtFault: an entry whose orchestration could not be
// handled (the Transactions API fails) keeps the cursor before it; once the
// fault is gone it is handled and the cursor moves on.
func TestTailerCursorHoldsAtFault(t *testing.T) {
	e := newTailerEnv(t, "o-a", "o-c")
	e.plat.add("o-a", &fakeOrch{final: "success"})
	e.plat.add("o-c", &fakeOrch{final: "failed", failAt: 1})
	t0 := e.clock.Add(-30 * time.Second)
	e.seq.add(
		txEntry("o-b", "success", t0.Add(1*time.Second)), // another system: skipped
		txEntry("o-a", "in_progress", t0.Add(2*time.Second)),
		txEntry("o-a", "success", t0.Add(3*time.Second)),
		platform.SequenceEntry{Kind: platform.EntryError, Timestamp: t0.Add(4 * time.Second)},
		txEntry("o-c", "failed", t0.Add(5*time.Second)),
	)
	e.plat.fault = func(c call) error {
		return &platform.Error{Platform: "corastone", Endpoint: c.endpoint, HTTPStatus: 503, Verdict: platform.Transient}
	}
	e.t.round(t.Context())
	if at := e.store.at(); !at.Before(t0.Add(3 * time.Second)) {
		t.Fatalf("cursor %s passed the unhandled entry at %s", at, t0.Add(3*time.Second))
	}
	// It stops before the first entry of an orchestration not handled.
	if !e.store.at().Equal(t0.Add(1 * time.Second)) {
		t.Errorf("cursor %s, want the entry before o-a's first %s", e.store.at(), t0.Add(1*time.Second))
	}
	if n := len(e.bus.settled()); n != 0 {
		t.Fatalf("%d settles during the fault", n)
	}
	e.plat.mu.Lock()
	e.plat.fault = nil
	e.plat.mu.Unlock()
	e.t.round(t.Context())
	for _, cmd := range []string{"cmd-o-a", "cmd-o-c"} {
		if n := e.settlesOf(cmd); n != 1 {
			t.Errorf("%s settled %d times, want once", cmd, n)
		}
	}
	if cl := e.bus.stored["cmd-o-c"]; cl.Outcome != queue.OutcomeFailed || cl.FailedProcessID != "o-c-2" {
		t.Errorf("o-c settled %s at step %q, want failed at o-c-2", cl.Outcome, cl.FailedProcessID)
	}
	if want := e.clock.Add(-2 * time.Second); !e.store.at().Equal(want) {
		t.Errorf("cursor %s, want the read's end minus the overlap %s", e.store.at(), want)
	}
	if len(e.store.index) != 0 {
		t.Errorf("index entries left after settling: %v", e.store.index)
	}
	// A further round over the same entries (the overlap) settles nothing again.
	before := len(e.plat.callsTo("orchestrations"))
	e.t.round(t.Context())
	if n := len(e.plat.callsTo("orchestrations")); n != before {
		t.Errorf("re-read entries cost %d more requests", n-before)
	}
}

// TestTailerDuplicatesReorderLate: duplicated and out-of-order entries
// settle each command once; an entry published late, within the overlap,
// is still read; the cursor is resumed from the store by a new tailer.
func TestTailerDuplicatesReorderLate(t *testing.T) {
	ids := []string{"o-1", "o-2", "o-3", "o-4"}
	e := newTailerEnv(t, ids...)
	for _, id := range ids {
		e.plat.add(id, &fakeOrch{final: "success"})
	}
	t0 := e.clock.Add(-10 * time.Second)
	e.seq.add(
		txEntry("o-2", "success", t0.Add(2*time.Second)),
		txEntry("o-1", "success", t0.Add(1*time.Second)), // out of order
		txEntry("o-2", "success", t0.Add(2*time.Second)), // duplicate
		txEntry("o-3", "success", t0.Add(3*time.Second)),
	)
	e.t.round(t.Context())
	// o-4's entry is published late, one second before the cursor.
	e.clock = e.clock.Add(time.Second)
	e.seq.add(txEntry("o-4", "success", e.store.at().Add(-time.Second)))
	// A new tailer (a restart, or a takeover) resumes from the stored cursor.
	e.t = NewTailer(HintConfig{Owner: "r2"}, e.store, e.bus.Claims(), e.bus, e.plat, e.seq, testLogger(t), nil)
	e.t.now = func() time.Time { return e.clock }
	e.t.round(t.Context())
	for _, id := range ids {
		if n := e.settlesOf("cmd-" + id); n != 1 {
			t.Errorf("cmd-%s settled %d times, want once", id, n)
		}
	}
	var orchIDs int
	for _, c := range e.plat.callsTo("orchestrations") {
		orchIDs += len(c.ids)
	}
	if orchIDs != len(ids) {
		t.Errorf("%d ids asked about, want %d (each hinted orchestration once)", orchIDs, len(ids))
	}
}

// TestTailerGivesUpAfterRepeatedFaults: an orchestration that cannot be
// handled round after round stops holding the cursor (the id poller then
// tracks it).
func TestTailerGivesUpAfterRepeatedFaults(t *testing.T) {
	e := newTailerEnv(t, "o-a")
	e.store.lookupErr = errors.New("bucket unavailable")
	t0 := e.clock.Add(-5 * time.Second)
	e.seq.add(txEntry("o-a", "success", t0))
	for range e.t.cfg.GiveUp - 1 {
		e.t.round(t.Context())
		if e.store.at().After(t0) {
			t.Fatal("cursor passed the entry before giving up")
		}
	}
	e.t.round(t.Context())
	if !e.store.at().After(t0) {
		t.Fatal("cursor still held after GiveUp rounds")
	}
}

// TestTailerLeaseTakeover: two tailers share the lease; the holder dies
// (stops without releasing) and the other takes over once the lease expires.
func TestTailerLeaseTakeover(t *testing.T) {
	store := newMemHints()
	seq := &fakeSequencer{}
	bus := newFakeBus()
	cfg := HintConfig{Interval: 20 * time.Millisecond, Lease: 200 * time.Millisecond}
	start := func(owner string) (stop func()) {
		c := cfg
		c.Owner = owner
		tl := NewTailer(c, store, bus.Claims(), bus, newFake(), seq, testLogger(t), nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- tl.Run(ctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	stop1 := start("r1")
	waitFor(t, 5*time.Second, "r1 to hold the lease", func() bool { return store.holder() == "r1" })
	stop2 := start("r2")
	defer stop2()
	store.mu.Lock()
	store.noRelease = true // r1 dies: its lease is not given up
	store.mu.Unlock()
	stop1()
	waitFor(t, 5*time.Second, "r2 to take the lease over", func() bool { return store.holder() == "r2" })
	seq.mu.Lock()
	calls := seq.calls
	seq.mu.Unlock()
	waitFor(t, 5*time.Second, "r2 to read the Sequencer", func() bool {
		seq.mu.Lock()
		defer seq.mu.Unlock()
		return seq.calls > calls
	})
}

// TestHintsModeSchedule: with hints on, every poll waits the backstop
// (hintsBackstopFactor × MaxInterval, 80–100 %) whatever the age.
func TestHintsModeSchedule(t *testing.T) {
	c := Config{Hints: true}.withDefaults()
	for _, age := range []time.Duration{0, time.Second, time.Minute, time.Hour} {
		for _, r := range []func(int64) int64{func(int64) int64 { return 0 }, func(n int64) int64 { return n - 1 }} {
			d := c.pollDelay(age, r)
			max := hintsBackstopFactor * c.MaxInterval
			if d < max-max/5 || d > max {
				t.Errorf("age %s: delay %s, want within 80–100 %% of %s", age, d, max)
			}
		}
	}
}

// TestHintsModeSkipsSettled: with hints on, a tracking message whose
// command a hint has settled already is acknowledged without a request;
// one not settled is polled and re-scheduled at the backstop.
func TestHintsModeSkipsSettled(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name      string
		stored    *queue.Claim
		orchCalls int
		acks      int
	}{
		{"settled by a hint: acked, no request", &queue.Claim{CommandID: "c1", State: queue.StateTerminal, Outcome: queue.OutcomeSucceeded, Published: true}, 0, 1},
		{"accepted: polled, re-scheduled", &queue.Claim{CommandID: "c1", State: queue.StateAccepted}, 1, 0},
		{"claim missing: polled", nil, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := newFakeBus()
			if tc.stored != nil {
				bus.stored["c1"] = tc.stored
			}
			plat := &scripted{orchs: orch("in_progress")}
			p := unitPoller(t, unitConfig(), bus, plat)
			ix := newMemHints()
			p.EnableHints(ix)
			tr := queue.Track{CommandID: "c1", Action: "revert-to-active", OrchestrationID: "o1",
				ReceivedAt: now, AcceptedAt: now, Deadline: now.Add(time.Hour), ClaimRevision: 7}
			msg := newMsg(t, tr, 2)
			p.cycle(context.Background(), []jetstream.Msg{msg})
			acks, naks, _ := msg.state()
			if orchCalls, _ := plat.calls(); orchCalls != tc.orchCalls || acks != tc.acks {
				t.Fatalf("requests %d, acks %d; want %d, %d", orchCalls, acks, tc.orchCalls, tc.acks)
			}
			if tc.acks == 0 {
				backstop := hintsBackstopFactor * unitConfig().MaxInterval
				if len(naks) != 1 || naks[0] < backstop*4/5-dueTick {
					t.Errorf("re-scheduled %v, want once at the backstop (≥ 80 %% of %s)", naks, backstop)
				}
			}
		})
	}
}

// TestHintsModeUnindexesOnSettle: the poller that settles a command in
// hints mode deletes its orchestration's index entry.
func TestHintsModeUnindexesOnSettle(t *testing.T) {
	now := time.Now()
	bus := newFakeBus()
	p := unitPoller(t, unitConfig(), bus, &scripted{orchs: orch("success")})
	ix := newMemHints()
	ix.index["o1"] = "c1"
	p.EnableHints(ix)
	tr := queue.Track{CommandID: "c1", Action: "revert-to-active", OrchestrationID: "o1",
		ReceivedAt: now, AcceptedAt: now, Deadline: now.Add(time.Hour), ClaimRevision: 7}
	p.cycle(context.Background(), []jetstream.Msg{newMsg(t, tr, 2)})
	if len(bus.settled()) != 1 || len(ix.index) != 0 {
		t.Errorf("settles %d, index %v; want settled once and the index entry gone", len(bus.settled()), ix.index)
	}
}

// TestTailerReadsOnlyNewAfterCleanRound: after a clean round the next one
// reads only past the last read (one probe for the overlap, one page),
// unless the probe finds records there that were not read (an entry
// published late within the overlap): then that entry is still handled,
// once.
func TestTailerReadsOnlyNewAfterCleanRound(t *testing.T) {
	for _, tc := range []struct {
		name        string
		late        bool
		wantRecords int
	}{
		{"nothing late: a probe and the new page, only the new entry read", false, 1},
		{"a late entry: the probe (one record), then the whole read again (five)", true, 1 + 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids := []string{"o-1", "o-2", "o-3", "o-late", "o-new"}
			e := newTailerEnv(t, ids...)
			for _, id := range ids {
				e.plat.add(id, &fakeOrch{final: "success"})
			}
			t0 := e.clock.Add(-3 * time.Second)
			e.seq.add(txEntry("o-1", "success", t0), txEntry("o-2", "success", t0.Add(time.Second)),
				txEntry("o-3", "success", t0.Add(2*time.Second)))
			e.t.round(t.Context())
			e.t.round(t.Context()) // the cursor is where a clean round leaves it
			e.clock = e.clock.Add(time.Second)
			e.seq.add(txEntry("o-new", "success", e.clock.Add(-100*time.Millisecond)))
			if tc.late {
				e.seq.add(txEntry("o-late", "success", e.store.at().Add(-time.Second)))
			}
			e.seq.mu.Lock()
			before := e.seq.records
			e.seq.mu.Unlock()
			e.t.round(t.Context())
			e.seq.mu.Lock()
			records := e.seq.records - before
			e.seq.mu.Unlock()
			if records != tc.wantRecords {
				t.Errorf("%d records read, want %d", records, tc.wantRecords)
			}
			want := map[string]int{"cmd-o-1": 1, "cmd-o-2": 1, "cmd-o-3": 1, "cmd-o-new": 1, "cmd-o-late": 0}
			if tc.late {
				want["cmd-o-late"] = 1
			}
			for cmd, n := range want {
				if got := e.settlesOf(cmd); got != n {
					t.Errorf("%s settled %d times, want %d", cmd, got, n)
				}
			}
		})
	}
}
