package poller

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// unitConfig polls every millisecond, so that the re-polls of a cycle (an
// unreadable answer, the end of a short pause) take no time to speak of.
func unitConfig() Config {
	return Config{Source: "test", Interval: time.Millisecond, MaxInterval: time.Second, UnknownLimit: 3,
		MaxPause: 10 * time.Second, BatchSize: 10, Parallel: 2}
}

// orch answers the orchestration of every id with status (steps id-1, id-2).
func orch(status string) func(int, []string) ([]platform.Orchestration, error) {
	return func(_ int, ids []string) ([]platform.Orchestration, error) {
		var out []platform.Orchestration
		for _, id := range ids {
			out = append(out, platform.Orchestration{OrchestrationID: id, Status: status, ProcessIDs: []string{id + "-1", id + "-2"}})
		}
		return out, nil
	}
}

// TestCycleDecisions works one tracking message through a cycle over fakes
// and checks what becomes of it: settled (outcome, code, failing step) and
// acknowledged, or re-scheduled.
func TestCycleDecisions(t *testing.T) {
	now := time.Now()
	live := now.Add(time.Hour)
	tests := []struct {
		name      string
		orchID    string
		deadline  time.Time
		delivered uint64
		orchs     func(int, []string) ([]platform.Orchestration, error)
		txs       func(int, []string) ([]platform.Transaction, error)

		outcome    string // "" : not settled, re-scheduled once
		status     string
		code       string
		failedStep string
		maxDelay   time.Duration // when re-scheduled
		orchCalls  int
		txCalls    int
	}{
		{name: "running: not due, polled again later", orchID: "o1", deadline: live, delivered: 1, orchs: orch("in_progress"),
			maxDelay: dueTick, orchCalls: 1},
		{name: "success", orchID: "o1", deadline: live, delivered: 2, orchs: orch("success"),
			outcome: queue.OutcomeSucceeded, status: "success", orchCalls: 1},
		{name: "failed, failing step found", orchID: "o1", deadline: live, delivered: 2, orchs: orch("failed"),
			txs: func(int, []string) ([]platform.Transaction, error) {
				return []platform.Transaction{
					{ProcessID: "o1-2", OrchestrationID: "o1", Status: "failed"},
					{ProcessID: "o1-1", OrchestrationID: "o1", Status: "timed_out"},
				}, nil
			},
			outcome: queue.OutcomeFailed, status: "failed", code: CodeOrchestrationFailed, failedStep: "o1-1", orchCalls: 1, txCalls: 1},
		{name: "dlq, failing step not found", orchID: "o1", deadline: live, delivered: 2, orchs: orch("dlq"),
			txs: func(int, []string) ([]platform.Transaction, error) {
				return []platform.Transaction{{ProcessID: "o1-1", OrchestrationID: "o1", Status: "success"}}, nil
			},
			outcome: queue.OutcomeFailed, status: "dlq", code: CodeOrchestrationDLQ, orchCalls: 1, txCalls: 1},
		{name: "failed, look-up refused: settled without the step", orchID: "o1", deadline: live, delivered: 2, orchs: orch("failed"),
			txs:     func(int, []string) ([]platform.Transaction, error) { return nil, permanent(403, "AU0002") },
			outcome: queue.OutcomeFailed, status: "failed", code: CodeOrchestrationFailed, orchCalls: 1, txCalls: 1},
		{name: "failed, look-up faulty detailTries times: settled without the step", orchID: "o1", deadline: live, delivered: 2,
			orchs:   orch("failed"),
			txs:     func(int, []string) ([]platform.Transaction, error) { return nil, transient(503, 0) },
			outcome: queue.OutcomeFailed, status: "failed", code: CodeOrchestrationFailed, orchCalls: detailTries, txCalls: detailTries},
		{name: "not found within the unknown limit: polled again", orchID: "o1", deadline: live, delivered: 3,
			maxDelay: dueTick, orchCalls: 1},
		{name: "not found beyond the unknown limit", orchID: "o1", deadline: live, delivered: 4,
			outcome: queue.OutcomeFailed, code: CodeOrchestrationUnknown, orchCalls: 1},
		{name: "deadline passed: one last poll, then timed_out", orchID: "o1", deadline: now.Add(-time.Second), delivered: 5,
			orchs: orch("in_progress"), outcome: queue.OutcomeTimedOut, status: "in_progress", orchCalls: 1},
		{name: "deadline passed, the last poll finds it ended", orchID: "o1", deadline: now.Add(-time.Second), delivered: 5,
			orchs: orch("success"), outcome: queue.OutcomeSucceeded, status: "success", orchCalls: 1},
		{name: "unreadable element 3 times in a row", orchID: "o1", deadline: live, delivered: 1,
			orchs: func(int, []string) ([]platform.Orchestration, error) {
				return []platform.Orchestration{unreadableElement("o1")}, nil
			},
			outcome: queue.OutcomeFailed, code: CodeMalformedResponse, orchCalls: unreadableTries},
		{name: "unreadable element twice, then readable", orchID: "o1", deadline: live, delivered: 1,
			orchs: func(n int, ids []string) ([]platform.Orchestration, error) {
				if n < unreadableTries-1 {
					return []platform.Orchestration{unreadableElement("o1")}, nil
				}
				return orch("success")(n, ids)
			},
			outcome: queue.OutcomeSucceeded, status: "success", orchCalls: unreadableTries},
		{name: "invalid orchestrationId: never polled", orchID: "o1,o2", deadline: live, delivered: 1, orchs: orch("success"),
			outcome: queue.OutcomeFailed, code: CodeInvalidOrchestrationID},
		{name: "transient fault: backed off, then polled again", orchID: "o1", deadline: live, delivered: 1,
			orchs: func(n int, ids []string) ([]platform.Orchestration, error) {
				if n == 0 {
					return nil, transient(503, 0)
				}
				return orch("success")(n, ids)
			},
			outcome: queue.OutcomeSucceeded, status: "success", orchCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := newFakeBus()
			plat := &scripted{orchs: tt.orchs, txs: tt.txs}
			p := unitPoller(t, unitConfig(), bus, plat)
			tr := queue.Track{CommandID: "c1", Action: "revert-to-active", ProcessID: "p1", OrchestrationID: tt.orchID,
				ReceivedAt: now, AcceptedAt: now, Deadline: tt.deadline, ClaimRevision: 7}
			msg := newMsg(t, tr, tt.delivered)
			p.cycle(context.Background(), []jetstream.Msg{msg})

			acks, naks, terms := msg.state()
			settles := bus.settled()
			if terms != 0 {
				t.Errorf("terminated %d times", terms)
			}
			if orchCalls, txCalls := plat.calls(); orchCalls != tt.orchCalls || txCalls != tt.txCalls {
				t.Errorf("platform calls: %d orchestrations, %d transactions; want %d, %d", orchCalls, txCalls, tt.orchCalls, tt.txCalls)
			}
			if tt.outcome == "" {
				if len(settles) != 0 || acks != 0 {
					t.Fatalf("settled %v (acks %d), want re-scheduled", settles, acks)
				}
				if len(naks) != 1 || naks[0] <= 0 || naks[0] > tt.maxDelay {
					t.Fatalf("re-scheduled %v, want once within (0, %s]", naks, tt.maxDelay)
				}
				return
			}
			if len(settles) != 1 || acks != 1 || len(naks) != 0 {
				t.Fatalf("settles %d, acks %d, naks %v; want settled and acknowledged once", len(settles), acks, naks)
			}
			s := settles[0]
			if s.cl.Revision != tr.ClaimRevision || s.cl.CommandID != "c1" {
				t.Errorf("settled claim %+v, want the claim rebuilt at revision %d", s.cl, tr.ClaimRevision)
			}
			r := s.r
			if r.Outcome != tt.outcome || r.PlatformStatus != tt.status || r.FailedProcessID != tt.failedStep {
				t.Errorf("result %s / %q / step %q, want %s / %q / step %q", r.Outcome, r.PlatformStatus, r.FailedProcessID,
					tt.outcome, tt.status, tt.failedStep)
			}
			code := ""
			if r.Error != nil {
				code = r.Error.Code
			}
			if code != tt.code {
				t.Errorf("error %+v, want code %q", r.Error, tt.code)
			}
			if tt.failedStep != "" && !strings.Contains(r.Error.Message, tt.failedStep) {
				t.Errorf("message %q does not name the failing step %s", r.Error.Message, tt.failedStep)
			}
			if r.Polls != int(tt.delivered) && tt.code != CodeInvalidOrchestrationID {
				t.Errorf("polls %d, want %d", r.Polls, tt.delivered)
			}
		})
	}
}
