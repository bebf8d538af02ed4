package poller

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/queue"
)

// TestSettleFirstWriterWins settles an ended orchestration over fakes: a
// claim already terminal keeps its outcome (the poller publishes nothing of
// its own when it is Published), a missing claim is recreated from the
// tracking message, and a bus fault re-schedules the message with the
// back-off instead of acknowledging it.
func TestSettleFirstWriterWins(t *testing.T) {
	now := time.Now()
	terminal := func(published bool) *queue.Claim {
		return &queue.Claim{CommandID: "c1", State: queue.StateTerminal, Outcome: queue.OutcomeSucceeded,
			PlatformStatus: "success", Published: published, Revision: 9}
	}
	tests := []struct {
		name      string
		revision  uint64       // of the tracking message
		stored    *queue.Claim // nil: none
		settleErr error

		settles     int    // Settle calls
		settledRev  uint64 // revision of the claim passed to Settle
		wantOutcome string // of the stored claim afterwards
		acked       bool
	}{
		{name: "revision known: settled at it", revision: 7,
			settles: 1, settledRev: 7, wantOutcome: queue.OutcomeFailed, acked: true},
		{name: "claim terminal and published: nothing settled", revision: 0, stored: terminal(true),
			settles: 0, wantOutcome: queue.OutcomeSucceeded, acked: true},
		{name: "claim terminal, event not yet published: first outcome kept", revision: 0, stored: terminal(false),
			settles: 1, settledRev: 9, wantOutcome: queue.OutcomeSucceeded, acked: true},
		{name: "claim terminal since the hand-over: first outcome kept", revision: 7, stored: terminal(false),
			settles: 1, settledRev: 7, wantOutcome: queue.OutcomeSucceeded, acked: true},
		{name: "claim missing: recreated from the tracking message", revision: 0,
			settles: 1, settledRev: 0, wantOutcome: queue.OutcomeFailed, acked: true},
		{name: "bus unavailable: re-scheduled with the back-off", revision: 7, settleErr: errors.New("nats: timeout"),
			settles: 1, settledRev: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := newFakeBus()
			if tt.stored != nil {
				bus.stored["c1"] = tt.stored
			}
			bus.settleErr = tt.settleErr
			p := unitPoller(t, unitConfig(), bus, &scripted{orchs: orch("failed")})
			msg := newMsg(t, queue.Track{CommandID: "c1", OrchestrationID: "o1", AcceptedAt: now,
				Deadline: now.Add(time.Hour), ClaimRevision: tt.revision}, 2)
			p.cycle(context.Background(), []jetstream.Msg{msg})

			settles := bus.settled()
			if len(settles) != tt.settles {
				t.Fatalf("%d Settle calls, want %d", len(settles), tt.settles)
			}
			if tt.settles > 0 && settles[0].cl.Revision != tt.settledRev {
				t.Errorf("settled at revision %d, want %d", settles[0].cl.Revision, tt.settledRev)
			}
			if tt.wantOutcome != "" {
				if got := bus.stored["c1"]; got == nil || got.Outcome != tt.wantOutcome || !got.Published {
					t.Errorf("stored claim %+v, want %s and published", got, tt.wantOutcome)
				}
			}
			acks, naks, _ := msg.state()
			if tt.acked {
				if acks != 1 || len(naks) != 0 {
					t.Errorf("%d acks, naks %v; want acknowledged once", acks, naks)
				}
				return
			}
			if want := p.cfg.backoff(1, p.rand); acks != 0 || len(naks) != 1 || naks[0] != want {
				t.Errorf("%d acks, naks %v; want re-scheduled after %s", acks, naks, want)
			}
		})
	}
}

// TestCycleMessagesNotWorked: an undecodable message (or one without its
// commandId) is terminated and counted, with no request; at shutdown the
// messages in hand are handed back at once.
func TestCycleMessagesNotWorked(t *testing.T) {
	now := time.Now()
	t.Run("undecodable or without commandId: terminated", func(t *testing.T) {
		plat := &scripted{orchs: orch("success")}
		p := unitPoller(t, unitConfig(), newFakeBus(), plat)
		garbage := &unitMsg{data: []byte("{not json"), delivered: 1}
		noID := newMsg(t, queue.Track{OrchestrationID: "o1"}, 1)
		p.cycle(context.Background(), []jetstream.Msg{garbage, noID})
		for _, m := range []*unitMsg{garbage, noID} {
			if acks, naks, terms := m.state(); terms != 1 || acks != 0 || len(naks) != 0 {
				t.Errorf("terms %d, acks %d, naks %v; want terminated", terms, acks, naks)
			}
		}
		if p.Dropped() != 2 {
			t.Errorf("Dropped() = %d, want 2", p.Dropped())
		}
		if n, _ := plat.calls(); n != 0 {
			t.Errorf("%d requests, want none", n)
		}
	})
	t.Run("shutdown: handed back", func(t *testing.T) {
		bus := newFakeBus()
		plat := &scripted{orchs: orch("success")}
		p := unitPoller(t, unitConfig(), bus, plat)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		msg := newMsg(t, queue.Track{CommandID: "c1", OrchestrationID: "o1", Deadline: now.Add(time.Hour), ClaimRevision: 1}, 1)
		p.cycle(ctx, []jetstream.Msg{msg})
		if acks, naks, _ := msg.state(); acks != 0 || len(naks) != 1 || naks[0] != handBackDelay {
			t.Errorf("acks %d, naks %v; want handed back after %s", acks, naks, handBackDelay)
		}
		if n, _ := plat.calls(); n != 0 || len(bus.settled()) != 0 {
			t.Errorf("%d requests, %d settles after shutdown; want none", n, len(bus.settled()))
		}
	})
}
