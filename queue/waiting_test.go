package queue_test

import (
	"strings"
	"testing"
	"time"

	"github.com/txworker/txworker/queue"
)

// Waiting names what each kind of command waits for.
func TestWaiting(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	succeeded := []queue.Event{{ID: "c:accepted", Data: queue.EventData{Outcome: "accepted"}}, {ID: "c:succeeded", Data: queue.EventData{Outcome: "succeeded"}}}
	tests := []struct {
		name   string
		cl     queue.Claim
		events []queue.Event
		p      queue.PlatformView
		want   []string
	}{
		{"terminal, event found", queue.Claim{State: queue.StateTerminal, Outcome: "succeeded", Published: true}, succeeded, queue.PlatformView{},
			[]string{"nothing: terminal (succeeded), event published"}},
		{"terminal, event gone", queue.Claim{State: queue.StateTerminal, Outcome: "failed", Published: true}, nil, queue.PlatformView{},
			[]string{"nothing: terminal (failed)", "no longer on the events stream"}},
		{"terminal, not published", queue.Claim{State: queue.StateTerminal, Outcome: "failed", SettledAt: now}, nil, queue.PlatformView{},
			[]string{"waiting for: the failed event to be published"}},
		{"received, leased", queue.Claim{State: queue.StateReceived, Owner: "w-1", LeaseUntil: now.Add(time.Minute)}, nil, queue.PlatformView{},
			[]string{"waiting for: the worker holding the claim", "owner w-1", "in 1m0s"}},
		{"calling, leased", queue.Claim{State: queue.StateCalling, Owner: "w-2", LeaseUntil: now.Add(20 * time.Second)}, nil, queue.PlatformView{},
			[]string{"waiting for: the claim's lease to expire (owner w-2", "in 20s"}},
		{"calling, transient fault", queue.Claim{State: queue.StateCalling, Attempts: 3, Error: &queue.ErrorInfo{HTTPStatus: 503, Message: "busy"}}, nil,
			queue.PlatformView{Asked: true}, []string{"waiting for: a retry after a transient fault (attempt 3: http 503 busy", "the platform has no trace of its processId"}},
		{"calling, platform took it", queue.Claim{State: queue.StateCalling, Attempts: 1}, nil, queue.PlatformView{Asked: true, Found: true, ID: "0xo", Status: "in_progress"},
			[]string{"waiting for: a redelivery", "orchestration 0xo (status in_progress): the next delivery adopts it"}},
		{"accepted, not asked", queue.Claim{State: queue.StateAccepted, OrchestrationID: "0xo", Polls: 4}, nil, queue.PlatformView{},
			[]string{"waiting for: the orchestration 0xo to end (polled 4 times)"}},
		{"accepted, running", queue.Claim{State: queue.StateAccepted, OrchestrationID: "0xo"}, nil, queue.PlatformView{Asked: true, Found: true, Status: "in_progress", StepsDone: 3, Steps: 5},
			[]string{"waiting for: the orchestration 0xo to end (status in_progress, 3 of 5 steps done)"}},
		{"accepted, ended on the platform", queue.Claim{State: queue.StateAccepted, OrchestrationID: "0xo"}, nil, queue.PlatformView{Asked: true, Found: true, Terminal: true, Status: "success", StepsDone: 2, Steps: 2},
			[]string{"waiting for: the poller to see that the orchestration 0xo ended (status success, 2 of 2"}},
		{"accepted, unknown to the platform", queue.Claim{State: queue.StateAccepted, OrchestrationID: "0xo"}, nil, queue.PlatformView{Asked: true},
			[]string{"which the platform does not list"}},
		{"accepted, look-up failed, past deadline", queue.Claim{State: queue.StateAccepted, OrchestrationID: "0xo", Deadline: now.Add(-time.Minute)}, nil,
			queue.PlatformView{Asked: true, Err: "corastone orchestrations: no answer"}, []string{"platform look-up failed: corastone orchestrations: no answer", "deadline passed at 2026-03-01T11:59:00Z"}},
		{"foreign state", queue.Claim{State: "paused"}, nil, queue.PlatformView{}, []string{`claim state "paused"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := queue.Waiting(&tc.cl, tc.events, tc.p, now)
			if strings.Contains(got, "\n") {
				t.Errorf("%q is more than one line", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
		})
	}
}
