package poller

import (
	"testing"
	"time"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// testPoller is a Poller for the pure decision functions; rand returns its
// maximum (n-1), so delays are at the top of their jitter range.
func testPoller(cfg Config) *Poller {
	return &Poller{cfg: cfg.withDefaults(), rand: func(n int64) int64 { return max(n-1, 0) }, plat: &scripted{}}
}

func TestBackoff(t *testing.T) {
	cfg := Config{Interval: time.Second, MaxInterval: 10 * time.Second}.withDefaults()
	top := func(n int64) int64 { return n - 1 }
	bottom := func(int64) int64 { return 0 }
	tests := []struct {
		n        int
		lo, high time.Duration
	}{
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{3, 2 * time.Second, 4 * time.Second},
		{4, 4 * time.Second, 8 * time.Second},
		{5, 5 * time.Second, 10 * time.Second},
		{60, 5 * time.Second, 10 * time.Second},
	}
	for _, tt := range tests {
		if got := cfg.backoff(tt.n, bottom); got != tt.lo {
			t.Errorf("backoff(%d) lowest = %s, want %s", tt.n, got, tt.lo)
		}
		if got := cfg.backoff(tt.n, top); got != tt.high {
			t.Errorf("backoff(%d) highest = %s, want %s", tt.n, got, tt.high)
		}
	}
	cfg.Naive = true
	for _, n := range []int{1, 5, 60} {
		if got := cfg.backoff(n, top); got != time.Second {
			t.Errorf("naive backoff(%d) = %s, want the interval", n, got)
		}
	}
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	ended := now.Add(-3 * time.Second)
	p := testPoller(Config{Interval: time.Second, MaxInterval: 8 * time.Second, UnknownLimit: 3})
	track := queue.Track{CommandID: "c1", OrchestrationID: "o1", AcceptedAt: now.Add(-10 * time.Second), Deadline: now.Add(time.Hour)}
	old := track
	old.AcceptedAt = now.Add(-50 * time.Second) // two BackoffAfter periods (20s) old
	orch := func(status string, ts time.Time) platform.Orchestration {
		return platform.Orchestration{OrchestrationID: "o1", Status: status, Timestamp: platform.Timestamp{Time: ts}}
	}
	tests := []struct {
		name     string
		track    queue.Track
		polls    int
		o        platform.Orchestration
		found    bool
		settle   bool
		outcome  string
		status   string
		code     string
		detail   bool
		settled  time.Time
		maxDelay time.Duration
	}{
		{name: "success", polls: 2, o: orch("success", ended), found: true,
			settle: true, outcome: "succeeded", status: "success", settled: ended},
		{name: "success without timestamp settles now", polls: 1, o: orch("success", time.Time{}), found: true,
			settle: true, outcome: "succeeded", status: "success", settled: now},
		{name: "failed", polls: 3, o: orch("failed", ended), found: true,
			settle: true, outcome: "failed", status: "failed", code: CodeOrchestrationFailed, detail: true, settled: ended},
		{name: "dlq", polls: 3, o: orch("dlq", ended), found: true,
			settle: true, outcome: "failed", status: "dlq", code: CodeOrchestrationDLQ, detail: true, settled: ended},
		{name: "running", polls: 1, o: orch("in_progress", time.Time{}), found: true, maxDelay: time.Second},
		{name: "old orchestrations back off", track: old, polls: 3, o: orch("queued", time.Time{}), found: true, maxDelay: 4 * time.Second},
		{name: "deadline caps the delay", track: queue.Track{CommandID: "c1", OrchestrationID: "o1", Deadline: now.Add(1500 * time.Millisecond)},
			polls: 3, o: orch("in_progress", time.Time{}), found: true, maxDelay: 1500 * time.Millisecond},
		{name: "deadline almost due", track: queue.Track{CommandID: "c1", OrchestrationID: "o1", Deadline: now.Add(time.Millisecond)},
			polls: 3, o: orch("in_progress", time.Time{}), found: true, maxDelay: minDelay},
		{name: "deadline passed: last poll", track: queue.Track{CommandID: "c1", OrchestrationID: "o1", Deadline: now},
			polls: 4, o: orch("in_progress", time.Time{}), found: true,
			settle: true, outcome: "timed_out", status: "in_progress", settled: now},
		{name: "ended at the last poll wins over the deadline", track: queue.Track{CommandID: "c1", OrchestrationID: "o1", Deadline: now.Add(-time.Second)},
			polls: 4, o: orch("success", ended), found: true, settle: true, outcome: "succeeded", status: "success", settled: ended},
		{name: "unknown keeps polling", polls: 3, maxDelay: time.Second},
		{name: "unknown past the limit", polls: 4,
			settle: true, outcome: "failed", code: CodeOrchestrationUnknown, settled: now},
		{name: "no deadline", track: queue.Track{CommandID: "c1", OrchestrationID: "o1"}, polls: 30,
			o: orch("in_progress", time.Time{}), found: true, maxDelay: 8 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := track
			if tt.track.CommandID != "" {
				tr = tt.track
			}
			s := p.decide(tr, tt.polls, tt.o, tt.found, now)
			if s.settle != tt.settle {
				t.Fatalf("settle = %v, want %v (step %+v)", s.settle, tt.settle, s)
			}
			if !s.settle {
				if s.delay <= 0 || s.delay > tt.maxDelay {
					t.Errorf("delay = %s, want in (0, %s]", s.delay, tt.maxDelay)
				}
				return
			}
			r := s.result
			if r.Outcome != tt.outcome || r.PlatformStatus != tt.status || s.detail != tt.detail {
				t.Errorf("outcome, status, detail = %q, %q, %v; want %q, %q, %v",
					r.Outcome, r.PlatformStatus, s.detail, tt.outcome, tt.status, tt.detail)
			}
			if code := errCode(r.Error); code != tt.code {
				t.Errorf("error code = %q, want %q", code, tt.code)
			}
			if !r.SettledAt.Equal(tt.settled) {
				t.Errorf("settledAt = %s, want %s", r.SettledAt, tt.settled)
			}
			if r.Polls != tt.polls {
				t.Errorf("polls = %d, want %d", r.Polls, tt.polls)
			}
		})
	}
}

func errCode(e *queue.ErrorInfo) string {
	if e == nil {
		return ""
	}
	return e.Code
}

func TestFailedStep(t *testing.T) {
	o := platform.Orchestration{OrchestrationID: "o1", Status: "failed", ProcessIDs: []string{"p1", "p2", "p3"}}
	tx := func(pid, status string) platform.Transaction {
		return platform.Transaction{ProcessID: pid, OrchestrationID: "o1", Status: status}
	}
	tests := []struct {
		name       string
		txs        []platform.Transaction
		pid, state string
	}{
		{"first failed in processIds order, whatever the answer order",
			[]platform.Transaction{tx("p3", "failed"), tx("p1", "success"), tx("p2", "failed")}, "p2", "failed"},
		{"a timed out step before the failed ones",
			[]platform.Transaction{tx("p3", "failed"), tx("p2", "timed_out")}, "p2", "timed_out"},
		{"fallback: failed transaction not in processIds",
			[]platform.Transaction{tx("p1", "success"), tx("px", "failed")}, "px", "failed"},
		{"another orchestration's failure is ignored",
			[]platform.Transaction{{ProcessID: "p2", OrchestrationID: "o2", Status: "failed"}}, "", ""},
		{"none failed", []platform.Transaction{tx("p1", "success")}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pid, state := failedStep(o, tt.txs)
			if pid != tt.pid || state != tt.state {
				t.Fatalf("failedStep = %q, %q; want %q, %q", pid, state, tt.pid, tt.state)
			}
			r := withFailedStep(terminalResult(o, 1, time.Now()), o, tt.txs)
			if r.FailedProcessID != tt.pid || r.FailedStatus != tt.state {
				t.Errorf("result failed step = %q, %q", r.FailedProcessID, r.FailedStatus)
			}
		})
	}
}

func TestPollDelayBacksOffWithAge(t *testing.T) {
	cfg := Config{Interval: time.Second, MaxInterval: 8 * time.Second, BackoffAfter: time.Minute}.withDefaults()
	top := func(n int64) int64 { return n - 1 }
	tests := []struct {
		age  time.Duration
		want time.Duration
	}{
		{0, time.Second},
		{59 * time.Second, time.Second},
		{61 * time.Second, 2 * time.Second},
		{150 * time.Second, 4 * time.Second},
		{10 * time.Minute, 8 * time.Second},
		{1000 * time.Hour, 8 * time.Second},
	}
	bottom := func(int64) int64 { return 0 }
	for _, tt := range tests {
		if got := cfg.pollDelay(tt.age, top); got != tt.want {
			t.Errorf("pollDelay(age %s) highest = %s, want %s", tt.age, got, tt.want)
		}
		if got, want := cfg.pollDelay(tt.age, bottom), tt.want*4/5; got != want {
			t.Errorf("pollDelay(age %s) lowest = %s, want %s (80 %%)", tt.age, got, want)
		}
	}
	cfg.Naive = true
	if got := cfg.pollDelay(time.Hour, bottom); got != time.Second {
		t.Errorf("naive pollDelay = %s, want the interval", got)
	}
}

func TestNextDelayRoundsDueTimes(t *testing.T) {
	for _, naive := range []bool{false, true} {
		p := &Poller{cfg: Config{Interval: 2 * time.Second, Naive: naive}.withDefaults()}
		var r int64
		p.rand = func(n int64) int64 { r = (r*7919 + 104729) % max(n, 1); return r }
		now := time.Date(2026, 11, 21, 10, 0, 0, 123_456_789, time.UTC)
		seen := map[time.Time]bool{}
		for i := range 1000 {
			at := now.Add(time.Duration(i) * 1_234_567)
			d := p.nextDelay(0, time.Time{}, at)
			due := at.Add(d)
			if naive {
				if d != 2*time.Second {
					t.Fatalf("naive delay %s, want the fixed interval", d)
				}
				continue
			}
			if !due.Equal(due.Round(dueTick)) {
				t.Fatalf("due %s is not on a %s tick", due.Format(time.RFC3339Nano), dueTick)
			}
			if d < time.Second-dueTick/2 || d > 2*time.Second+dueTick/2 {
				t.Fatalf("delay %s outside the jitter range ± half a tick", d)
			}
			seen[due] = true
		}
		if !naive && len(seen) > 40 {
			t.Errorf("%d distinct due times for 1000 messages over 1.2 s, want at most 40", len(seen))
		}
	}
	p := testPoller(Config{Interval: 2 * time.Second})
	now := time.Now()
	if d := p.nextDelay(0, now.Add(333*time.Millisecond), now); d != 333*time.Millisecond {
		t.Errorf("delay before a near deadline %s, want exactly the time left", d)
	}
}
