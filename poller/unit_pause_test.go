package poller

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// TestFaultPause checks the pause after a Transactions API fault: the
// back-off of consecutive faults while the client holds nothing, the
// client's hold and no pause of the poller's own while it holds the API (a
// Retry-After: its cap and jitter are the client's, see platform's
// TestGateHold), MaxInterval after a permanent refusal of the poll, none
// after a permanent refusal of the failing-step look-up. Jitter is at its
// top (a quarter of the pause, taken off when adding it would pass
// MaxPause).
func TestFaultPause(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	cfg := Config{Source: "test", Interval: time.Second, MaxInterval: 8 * time.Second, MaxPause: 10 * time.Second}
	tests := []struct {
		name   string
		stage  string
		faults []error       // in a row; the pause is checked after the last
		held   time.Duration // the client holds the API (a Retry-After) for that long
		again  bool
		pause  time.Duration
	}{
		{"first transient fault", "poll", []error{transient(502, 0)}, 0, true, 1250 * time.Millisecond},
		{"second in a row doubles", "poll", []error{transient(502, 0), transient(504, 0)}, 0, true, 2500 * time.Millisecond},
		{"third in a row", "poll", []error{transient(502, 0), transient(502, 0), transient(502, 0)}, 0, true, 5 * time.Second},
		{"no answer at all backs off too", "poll", []error{errors.New("connection refused")}, 0, true, 1250 * time.Millisecond},
		{"429 with Retry-After: the client's hold, no pause of its own", "poll", []error{transient(429, 3*time.Second)}, 3 * time.Second, true, 3 * time.Second},
		{"503 held by the client: its back-off", "poll", []error{transient(503, 0), transient(503, 0)}, 2 * time.Second, true, 2 * time.Second},
		{"permanent refusal of the poll: MaxInterval", "poll", []error{permanent(403, "AU0002")}, 0, true, 10 * time.Second},
		{"permanent refusal of the look-up: given up, no pause", "detail", []error{permanent(403, "AU0002")}, 0, false, 0},
		{"transient fault of the look-up", "detail", []error{transient(502, 0)}, 0, true, 1250 * time.Millisecond},
		{"the look-up held by the client", "detail", []error{transient(429, 7*time.Second)}, 7 * time.Second, true, 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plat := &scripted{}
			p := unitPoller(t, cfg, newFakeBus(), plat)
			p.now = func() time.Time { return t0 }
			if tt.held > 0 {
				plat.holdFor(tt.held, transient(429, tt.held))
			}
			var again bool
			for _, err := range tt.faults {
				again = p.fault(context.Background(), tt.stage, err, 1)
			}
			if again != tt.again {
				t.Errorf("poll again = %v, want %v", again, tt.again)
			}
			if tt.held > 0 {
				// The client's hold runs on the wall clock: a little of it has passed.
				if own := p.gate.remaining(t0); own != 0 {
					t.Errorf("own pause %s while the client holds the API, want none", own)
				}
				if got := p.pause(t0); got > tt.pause || got < tt.pause-time.Second {
					t.Errorf("pause %s, want the client's hold %s", got, tt.pause)
				}
				if !p.gate.probing() {
					t.Error("not probing after a fault")
				}
				return
			}
			if got := p.pause(t0); got != tt.pause || got > cfg.MaxPause {
				t.Errorf("pause %s, want %s (at most MaxPause %s)", got, tt.pause, cfg.MaxPause)
			}
		})
	}
}

// TestPausedByRetryAfter: a 429 whose Retry-After outlasts MaxInterval
// leaves the command tracked: its message is re-scheduled, not past
// MaxInterval, and nothing is settled.
func TestPausedByRetryAfter(t *testing.T) {
	now := time.Now()
	bus := newFakeBus()
	plat := &scripted{orchs: func(int, []string) ([]platform.Orchestration, error) { return nil, transient(429, time.Hour) }}
	cfg := unitConfig()
	plat.capped = cfg.MaxPause // the service sets both from TXWORKER_MAX_RETRY_AFTER
	p := unitPoller(t, cfg, bus, plat)
	p.now = func() time.Time { return now }
	msg := newMsg(t, queue.Track{CommandID: "c1", OrchestrationID: "o1", AcceptedAt: now, Deadline: now.Add(time.Hour), ClaimRevision: 3}, 1)
	p.cycle(context.Background(), []jetstream.Msg{msg})

	acks, naks, _ := msg.state()
	if len(bus.settled()) != 0 || acks != 0 {
		t.Fatalf("settled (%d acks), want tracked on", acks)
	}
	if len(naks) != 1 || naks[0] <= 0 || naks[0] > cfg.MaxInterval {
		t.Errorf("re-scheduled %v, want once within (0, MaxInterval %s]", naks, cfg.MaxInterval)
	}
	if got := p.pause(now); got <= 0 || got > cfg.MaxPause {
		t.Errorf("pause %s, want within (0, MaxPause %s]", got, cfg.MaxPause)
	}
	if n, _ := plat.calls(); n != 1 {
		t.Errorf("%d polls, want 1", n)
	}
}

// TestSweepWhilePaused: while the poller is paused, fetched messages get no
// request; a deadline that has passed ends its command timed_out with the
// last fault, an invalid orchestrationId fails its command, the others are
// re-scheduled, never past their deadline nor MaxInterval.
func TestSweepWhilePaused(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name  string
		fault error
		code  string
		http  int
	}{
		{"platform error with a code", transient(503, 0), "GN0001", 503},
		{"platform error without a code", &platform.Error{Platform: platform.PlatformCorastone, HTTPStatus: 502, Verdict: platform.Transient}, "HTTP_502", 502},
		{"no HTTP answer", errors.New("dial tcp: connection refused"), CodeNoAnswer, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := newFakeBus()
			plat := &scripted{orchs: orch("success")}
			cfg := unitConfig()
			p := unitPoller(t, cfg, bus, plat)
			p.now = func() time.Time { return now }
			p.gate.pause(now, time.Minute, tt.fault)

			late := newMsg(t, queue.Track{CommandID: "late", OrchestrationID: "o1", Deadline: now.Add(-time.Second), ClaimRevision: 1}, 4)
			soon := newMsg(t, queue.Track{CommandID: "soon", OrchestrationID: "o2", Deadline: now.Add(200 * time.Millisecond), ClaimRevision: 1}, 2)
			later := newMsg(t, queue.Track{CommandID: "later", OrchestrationID: "o3", Deadline: now.Add(time.Hour), ClaimRevision: 1}, 2)
			bad := newMsg(t, queue.Track{CommandID: "bad", OrchestrationID: "", Deadline: now.Add(time.Hour), ClaimRevision: 1}, 1)
			p.sweep(context.Background(), []jetstream.Msg{late, soon, later, bad})

			if n, _ := plat.calls(); n != 0 {
				t.Errorf("%d requests while paused, want none", n)
			}
			byID := map[string]queue.Result{}
			for _, s := range bus.settled() {
				byID[s.cl.CommandID] = s.r
			}
			if len(byID) != 2 {
				t.Fatalf("settled %v, want late and bad", byID)
			}
			r := byID["late"]
			if r.Outcome != queue.OutcomeTimedOut || r.Error == nil || r.Error.Code != tt.code || r.Error.HTTPStatus != tt.http {
				t.Errorf("late: %s %+v, want timed_out with code %s, http %d", r.Outcome, r.Error, tt.code, tt.http)
			}
			if r.Polls != 3 {
				t.Errorf("late: polls %d, want 3 (this delivery made no request)", r.Polls)
			}
			if r := byID["bad"]; r.Outcome != queue.OutcomeFailed || r.Error == nil || r.Error.Code != CodeInvalidOrchestrationID {
				t.Errorf("bad: %s %+v, want failed %s", r.Outcome, r.Error, CodeInvalidOrchestrationID)
			}
			for _, m := range []*unitMsg{late, bad} {
				if acks, naks, _ := m.state(); acks != 1 || len(naks) != 0 {
					t.Errorf("settled message: %d acks, naks %v; want acknowledged", acks, naks)
				}
			}
			for _, c := range []struct {
				m   *unitMsg
				max time.Duration
			}{{soon, 200 * time.Millisecond}, {later, cfg.MaxInterval}} {
				if acks, naks, _ := c.m.state(); acks != 0 || len(naks) != 1 || naks[0] <= 0 || naks[0] > c.max {
					t.Errorf("tracked message: %d acks, naks %v; want re-scheduled within (0, %s]", acks, naks, c.max)
				}
			}
		})
	}
}
