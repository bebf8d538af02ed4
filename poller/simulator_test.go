package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/platform/platformtest"
)

// The Corastone client is what the poller is built for.
var _ Platform = (*platform.Corastone)(nil)

// startSim starts the simulator (auto-creating securities) and a real
// Corastone client for it.
func startSim(t *testing.T, cfg platformtest.Config) (*platformtest.Simulator, *platform.Corastone) {
	t.Helper()
	return startSimClient(t, cfg, false)
}

// startSimClient is startSim with the client's Sequencer on or off.
func startSimClient(t *testing.T, cfg platformtest.Config, sequencer bool) (*platformtest.Simulator, *platform.Corastone) {
	t.Helper()
	cfg.AutoCreate = true
	cfg.Seed = 1
	sim, err := platformtest.Start(cfg)
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(sim.Close)
	cs, err := platform.NewCorastone(platform.CorastoneConfig{
		BaseURL: sim.URL(), ClientID: "txworker", ClientSecret: "sandbox-secret",
		Actions: []string{"revert-to-active"}, UserAgent: "txworker-poller-test", Sequencer: sequencer,
	}, testLogger(t), nil)
	if err != nil {
		t.Fatalf("corastone client: %v", err)
	}
	return sim, cs
}

// accept has the platform accept a revert-to-active of securityID and
// returns the orchestrationId.
func accept(t *testing.T, cs *platform.Corastone, securityID string) string {
	t.Helper()
	action, _ := platform.LookupAction("revert-to-active")
	params, _ := json.Marshal(map[string]any{"securityId": securityID,
		"signer": map[string]string{"email": "ops@example.com", "name": "Ops"}})
	req, problems := action.Parse(params)
	if problems != nil {
		t.Fatalf("params: %v", problems)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	acc, err := cs.Execute(ctx, req, uuid.NewString())
	if err != nil {
		t.Fatalf("execute %s: %v", securityID, err)
	}
	return acc.OrchestrationID
}

func TestSimulatorTerminalPaths(t *testing.T) {
	step := 50 * time.Millisecond
	plans := map[string]*platformtest.Plan{
		"SECOK0000001": {Steps: []time.Duration{step, step}},
		"SECFAIL00001": {Steps: []time.Duration{step, step, step}, Outcome: platformtest.OutcomeFailed, FailStep: 1},
		"SECDLQ000001": {Steps: []time.Duration{step}, Outcome: platformtest.OutcomeDLQ},
		"SECSLOW00001": {Steps: []time.Duration{time.Hour}},
	}
	sim, cs := startSim(t, platformtest.Config{Plan: func(_, _, resource string) *platformtest.Plan {
		if p := plans[resource]; p != nil {
			p := *p
			p.TimestampForm = platformtest.FormEpochMillis
			return &p
		}
		return nil
	}})
	e := newEnv(t)
	orch := map[string]string{}
	for sec := range plans {
		orch[sec] = accept(t, cs, sec)
		deadline := time.Now().Add(time.Hour)
		if sec == "SECSLOW00001" {
			deadline = time.Now().Add(800 * time.Millisecond)
		}
		e.track(t, "cmd-"+sec, orch[sec], deadline)
	}
	startPoller(t, fast, e.bus, cs)
	ended := e.waitEnded(t, len(plans), 15*time.Second)

	tests := []struct {
		sec, outcome, status, code string
		failStep                   int // -1: none
	}{
		{"SECOK0000001", "succeeded", "success", "", -1},
		{"SECFAIL00001", "failed", "failed", CodeOrchestrationFailed, 1},
		{"SECDLQ000001", "failed", "dlq", CodeOrchestrationDLQ, 0},
		{"SECSLOW00001", "timed_out", "in_progress", "", -1},
	}
	for _, tt := range tests {
		t.Run(tt.sec, func(t *testing.T) {
			d := ended["cmd-"+tt.sec].Data
			view, ok := sim.Orchestration(orch[tt.sec])
			if !ok {
				t.Fatal("simulator does not know the orchestration")
			}
			if d.Outcome != tt.outcome || d.PlatformStatus != tt.status || errCode(d.Error) != tt.code {
				t.Errorf("outcome=%q status=%q code=%q; want %q %q %q", d.Outcome, d.PlatformStatus, errCode(d.Error), tt.outcome, tt.status, tt.code)
			}
			wantPID := ""
			if tt.failStep >= 0 {
				wantPID = view.Steps[tt.failStep].ProcessID
			}
			if d.FailedProcessID != wantPID {
				t.Errorf("failedProcessId = %q, want %q", d.FailedProcessID, wantPID)
			}
			if !view.EndedAt.IsZero() && d.SettledAt.Sub(view.EndedAt).Abs() > time.Millisecond {
				t.Errorf("settledAt = %s, want the orchestration's end %s", d.SettledAt, view.EndedAt)
			}
			if d.Polls < 1 {
				t.Errorf("polls = %d", d.Polls)
			}
		})
	}
}

// TestSimulatorBatching: 500 orchestrations settling in 0.1–3 s over two
// replicas sharing one NATS: each ends exactly once, and the Transactions
// API requests number at most a fifth of the orchestrations.
func TestSimulatorBatching(t *testing.T) {
	const n = 500
	sim, cs := startSim(t, platformtest.Config{
		StepDuration: [2]time.Duration{100 * time.Millisecond, time.Second}, Steps: [2]int{1, 3},
		FailRate: 0.05, DLQRate: 0.05,
	})
	e := newEnv(t)
	for i := range n {
		sec := fmt.Sprintf("SEC%09d", i)
		e.track(t, "cmd-"+sec, accept(t, cs, sec), time.Now().Add(time.Minute))
	}
	before := sim.Count("GET", "/external/v1/transactions")
	cfg := Config{Interval: 500 * time.Millisecond, MaxInterval: 2 * time.Second}
	startPoller(t, cfg, connect(t, e.url), cs)
	startPoller(t, cfg, connect(t, e.url), cs)
	ended := e.waitEnded(t, n, 60*time.Second)
	requests := sim.Count("GET", "/external/v1/transactions") - before
	outcomes := map[string]int{}
	for _, ev := range ended {
		outcomes[ev.Data.Outcome]++
	}
	t.Logf("%d orchestrations: %d Transactions API requests (%.3f per orchestration), outcomes %v",
		n, requests, float64(requests)/n, outcomes)
	if requests > n/5 {
		t.Errorf("%d Transactions API requests, want at most %d", requests, n/5)
	}
	if outcomes["succeeded"]+outcomes["failed"] != n {
		t.Errorf("outcomes %v: want every orchestration to end succeeded or failed", outcomes)
	}
}

// TestSimulatorRetryAfter: while the simulator answers the Transactions API
// 429 with Retry-After: 2, no poll request arrives before the two seconds
// are over.
func TestSimulatorRetryAfter(t *testing.T) {
	sim, cs := startSim(t, platformtest.Config{StepDuration: [2]time.Duration{50 * time.Millisecond, 200 * time.Millisecond}})
	e := newEnv(t)
	const n = 60
	for i := range n {
		sec := fmt.Sprintf("SEC%09d", i)
		e.track(t, "cmd-"+sec, accept(t, cs, sec), time.Now().Add(time.Minute))
	}
	sim.SetFaults(platformtest.Faults{RateLimitRate: 1, RetryAfter: 2 * time.Second, Only: "transactions"})
	lift := time.AfterFunc(4500*time.Millisecond, func() { sim.SetFaults(platformtest.Faults{}) })
	t.Cleanup(func() { lift.Stop() })
	startPoller(t, fast, e.bus, cs)
	e.waitEnded(t, n, 20*time.Second)

	var polls []platformtest.Request
	for _, r := range sim.Requests() {
		if r.Method == "GET" && strings.HasPrefix(r.Path, "/external/v1/transactions") {
			polls = append(polls, r)
		}
	}
	// Requests arriving within concurrent of a 429 were sent before its
	// answer was known; every later one must wait out the Retry-After.
	const concurrent = 50 * time.Millisecond
	limited := 0
	for _, r := range polls {
		if r.Status != 429 {
			continue
		}
		limited++
		for _, next := range polls {
			if gap := next.Time.Sub(r.Time); gap > concurrent && gap < 2*time.Second {
				t.Errorf("a request came %s after a 429 with Retry-After: 2", gap)
			}
		}
	}
	if limited < 2 {
		t.Errorf("%d requests answered 429, want at least 2", limited)
	}
}

// TestSimulatorRetryAfterWhoeverMeetsIt: the poller and the worker's
// look-ups of a processId share the client, so a 429 with Retry-After: 2 on
// the orchestrations endpoint, met by either while both polls and look-ups
// are due, holds both: no request reaches the Transactions API inside the
// window (those already in flight aside), and both go on after it.
func TestSimulatorRetryAfterWhoeverMeetsIt(t *testing.T) {
	sim, cs := startSim(t, platformtest.Config{StepDuration: [2]time.Duration{3 * time.Second, 4 * time.Second}})
	e := newEnv(t)
	const n = 20
	for i := range n {
		sec := fmt.Sprintf("SEC%09d", i)
		e.track(t, "cmd-"+sec, accept(t, cs, sec), time.Now().Add(time.Minute))
	}
	startPoller(t, fast, e.bus, cs)
	waitFor(t, 5*time.Second, "a poll", func() bool { return len(transactionsAPI(sim, "")) > 0 })

	// The worker's look-ups (crash recovery, after a timed-out action): due
	// all along, one after another.
	lookedUp := uuid.NewString()
	stop := make(chan struct{})
	lookups := make(chan error, 1)
	go func() {
		var last error
		defer func() { lookups <- last }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, _, last = cs.FindProcess(ctx, lookedUp)
			cancel()
		}
	}()
	sim.SetFaults(platformtest.Faults{RateLimitRate: 1, RetryAfter: 2 * time.Second, Only: "orchestrations"})
	waitFor(t, 5*time.Second, "a 429", func() bool {
		for _, r := range transactionsAPI(sim, "") {
			if r.Status == 429 {
				return true
			}
		}
		return false
	})
	sim.SetFaults(platformtest.Faults{})
	e.waitEnded(t, n, 30*time.Second)
	waitFor(t, 10*time.Second, "a look-up after the window", func() bool {
		rs := transactionsAPI(sim, lookedUp)
		return len(rs) > 0 && rs[len(rs)-1].Status == 200
	})
	close(stop)
	if err := <-lookups; err != nil {
		t.Errorf("last look-up: %v", err)
	}

	reqs := transactionsAPI(sim, "")
	const concurrent = 50 * time.Millisecond // sent before the 429's answer was known
	var windows []time.Time
	for _, r := range reqs {
		if r.Status == 429 {
			windows = append(windows, r.Time)
		}
	}
	polls, looks := 0, 0
	for _, r := range reqs {
		for _, w := range windows {
			if gap := r.Time.Sub(w); gap > concurrent && gap < 2*time.Second {
				t.Errorf("a %s request (%s) came %s after a 429 with Retry-After: 2", r.Endpoint, r.RawQuery, gap)
			}
		}
		if r.Status == 200 && r.Time.After(windows[len(windows)-1].Add(2*time.Second)) {
			if strings.Contains(r.RawQuery, lookedUp) {
				looks++
			} else {
				polls++
			}
		}
	}
	if polls == 0 || looks == 0 {
		t.Errorf("after the window: %d polls, %d look-up requests; want both to go on", polls, looks)
	}
}

// transactionsAPI returns the simulator's Transactions API requests, only
// those naming id when it is not "".
func transactionsAPI(sim *platformtest.Simulator, id string) []platformtest.Request {
	var out []platformtest.Request
	for _, r := range sim.Requests() {
		if (r.Endpoint == "orchestrations" || r.Endpoint == "transactions") && (id == "" || strings.Contains(r.RawQuery, id)) {
			out = append(out, r)
		}
	}
	return out
}
