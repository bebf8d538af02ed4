package poller

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/metrics"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// TestHintsModeDefersFirstPoll: in hints mode the first delivery of a
// tracking message sends no request; it is re-scheduled at the backstop
// (never past the deadline), and the poll at the next delivery counts as
// the first.
func TestHintsModeDefersFirstPoll(t *testing.T) {
	now := time.Now()
	backstop := hintsBackstopFactor * unitConfig().MaxInterval
	for _, tc := range []struct {
		name     string
		deadline time.Duration
		want     time.Duration // the re-schedule's delay, within a due tick
	}{
		{"far deadline: at the backstop", time.Hour, backstop},
		{"near deadline: at the deadline", 2 * time.Second, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := newFakeBus()
			bus.stored["c1"] = &queue.Claim{CommandID: "c1", State: queue.StateAccepted}
			plat := &scripted{orchs: orch("success")}
			p := unitPoller(t, unitConfig(), bus, plat)
			p.EnableHints(newMemHints())
			tr := queue.Track{CommandID: "c1", Action: "revert-to-active", OrchestrationID: "o1",
				ReceivedAt: now, AcceptedAt: now, Deadline: now.Add(tc.deadline), ClaimRevision: 7}
			first := newMsg(t, tr, 1)
			p.cycle(context.Background(), []jetstream.Msg{first})
			acks, naks, _ := first.state()
			if orchCalls, _ := plat.calls(); orchCalls != 0 || acks != 0 || bus.gets != 0 {
				t.Fatalf("first delivery: %d requests, %d acks, %d claim reads; want none", orchCalls, acks, bus.gets)
			}
			if len(naks) != 1 || naks[0] > tc.want+dueTick || naks[0] < tc.want*4/5-dueTick {
				t.Fatalf("first delivery re-scheduled %v, want once at about %s", naks, tc.want)
			}
			second := newMsg(t, tr, 2)
			p.cycle(context.Background(), []jetstream.Msg{second})
			if orchCalls, _ := plat.calls(); orchCalls != 1 {
				t.Fatalf("second delivery: %d requests, want 1", orchCalls)
			}
			s := bus.settled()
			if len(s) != 1 || s[0].r.Polls != 1 {
				t.Fatalf("settles %+v, want one, after 1 poll", s)
			}
		})
	}
}

// gatedSequencer holds every page past the first until release is closed
// (or a while has passed, then it records that it was not).
type gatedSequencer struct {
	*fakeSequencer
	release chan struct{}
	early   atomic.Bool
}

func (g *gatedSequencer) Sequence(ctx context.Context, q platform.SequenceQuery) (platform.SequencePage, error) {
	if q.Offset > 0 {
		select {
		case <-g.release:
		case <-time.After(3 * time.Second):
			g.early.Store(true)
		}
	}
	return g.fakeSequencer.Sequence(ctx, q)
}

// TestTailerSettlesFirstWaveWhileReading: the entries of a round's first
// page are settled before the later pages are read (they are the ones
// that waited longest), and the round still handles every entry once.
func TestTailerSettlesFirstWaveWhileReading(t *testing.T) {
	const n = 250 // three pages
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("o-%03d", i))
	}
	e := newTailerEnv(t, ids...)
	g := &gatedSequencer{fakeSequencer: e.seq, release: make(chan struct{})}
	e.t.seq = g
	t0 := e.clock.Add(-30 * time.Second)
	for i, id := range ids {
		e.plat.add(id, &fakeOrch{final: "success"})
		e.seq.add(txEntry(id, "success", t0.Add(time.Duration(i)*time.Millisecond)))
	}
	var once sync.Once
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if e.settlesOf("cmd-o-000") > 0 {
				once.Do(func() { close(g.release) })
				return
			}
			select {
			case <-time.After(time.Millisecond):
			case <-t.Context().Done():
				return
			}
		}
	}()
	e.t.round(t.Context())
	once.Do(func() { close(g.release) })
	<-done
	if g.early.Load() {
		t.Error("later pages were read before the first page's entries were settled")
	}
	for _, id := range ids {
		if got := e.settlesOf("cmd-" + id); got != 1 {
			t.Fatalf("%s settled %d times, want 1", id, got)
		}
	}
	if !e.store.at().After(t0.Add(n * time.Millisecond)) {
		t.Errorf("cursor at %s, want past the last entry", e.store.at())
	}
}

// TestTailerRoundsAtFixedRate: the wait after a round is Interval from the
// round's start, so a round's own length does not add to the next
// entry's delay; a round longer than Interval is followed at once.
func TestTailerRoundsAtFixedRate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		perCall  time.Duration
		wantWait time.Duration
	}{
		{"a 400ms read: 600ms left", 400 * time.Millisecond, 600 * time.Millisecond},
		{"a 1.5s read: at once", 1500 * time.Millisecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTailerEnv(t, "o-1")
			e.plat.add("o-1", &fakeOrch{final: "success"})
			e.seq.add(txEntry("o-1", "success", e.clock.Add(-time.Second)))
			var clock atomic.Int64
			clock.Store(e.clock.UnixNano())
			e.t.now = func() time.Time { return time.Unix(0, clock.Load()) }
			e.t.seq = sequencerFunc(func(ctx context.Context, q platform.SequenceQuery) (platform.SequencePage, error) {
				clock.Add(int64(tc.perCall))
				return e.seq.Sequence(ctx, q)
			})
			if got := e.t.round(t.Context()); got != tc.wantWait {
				t.Errorf("wait %s, want %s", got, tc.wantWait)
			}
			if e.settlesOf("cmd-o-1") != 1 {
				t.Error("the entry was not settled")
			}
		})
	}
}

type sequencerFunc func(context.Context, platform.SequenceQuery) (platform.SequencePage, error)

func (f sequencerFunc) Sequence(ctx context.Context, q platform.SequenceQuery) (platform.SequencePage, error) {
	return f(ctx, q)
}

// TestTailerReportsLag: the replica tailing the Sequencer reports how far
// its cursor is behind now (about the overlap once it keeps up); it
// reports 0 once another holds the lease.
func TestTailerReportsLag(t *testing.T) {
	e := newTailerEnv(t, "o-1")
	reg := metrics.NewRegistry()
	e.t.m = metrics.New(reg)
	e.plat.add("o-1", &fakeOrch{final: "success"})
	e.seq.add(txEntry("o-1", "success", e.clock.Add(-3*time.Second)))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.t.Run(ctx) }()
	lag := func() float64 { return metricValue(t, reg, "txworker_hint_lag_seconds", nil) }
	deadline := time.Now().Add(5 * time.Second)
	for lag() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got, want := lag(), e.t.cfg.Overlap.Seconds(); got != want {
		t.Errorf("lag %vs while tailing, want the overlap %vs (the cursor one minute back moved to the read's end)", got, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	e.store.mu.Lock()
	e.store.owner, e.store.until = "r2", e.clock.Add(time.Hour)
	e.store.mu.Unlock()
	ctx, cancel = context.WithCancel(t.Context())
	go func() { done <- e.t.Run(ctx) }()
	deadline = time.Now().Add(5 * time.Second)
	for lag() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if got := lag(); got != 0 {
		t.Errorf("lag %vs with the lease held by another, want 0", got)
	}
}
