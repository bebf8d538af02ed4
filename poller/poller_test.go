package poller

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/txworker/txworker/metrics"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// fast is a configuration for tests: short intervals and fetch window.
var fast = Config{Interval: 50 * time.Millisecond, MaxInterval: 200 * time.Millisecond, FetchWait: 50 * time.Millisecond}

func TestTerminalPaths(t *testing.T) {
	e := newEnv(t)
	fake := newFake()
	fake.add("ok", &fakeOrch{final: "success", after: 2})
	fake.add("bad", &fakeOrch{final: "failed", after: 1, failAt: 1})
	fake.add("dead", &fakeOrch{final: "dlq", failAt: 0})
	fake.add("slow", &fakeOrch{})
	deadline := time.Now().Add(700 * time.Millisecond)
	for _, id := range []string{"ok", "bad", "dead", "ghost"} {
		e.track(t, "cmd-"+id, id, time.Now().Add(time.Hour))
	}
	e.track(t, "cmd-slow", "slow", deadline)

	cfg := fast
	cfg.UnknownLimit = 3
	startPoller(t, cfg, e.bus, fake)
	ended := e.waitEnded(t, 5, 15*time.Second)

	tests := []struct {
		id, outcome, status, code, failedPID string
		polls                                int
	}{
		{"ok", "succeeded", "success", "", "", 3},
		{"bad", "failed", "failed", CodeOrchestrationFailed, "bad-2", 2},
		{"dead", "failed", "dlq", CodeOrchestrationDLQ, "dead", 1},
		{"slow", "timed_out", "in_progress", "", "", 0},
		{"ghost", "failed", "", CodeOrchestrationUnknown, "", 4},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			ev, ok := ended["cmd-"+tt.id]
			if !ok {
				t.Fatal("no terminal event")
			}
			d := ev.Data
			if d.Outcome != tt.outcome || d.PlatformStatus != tt.status || errCode(d.Error) != tt.code || d.FailedProcessID != tt.failedPID {
				t.Errorf("event data outcome=%q status=%q code=%q failedProcessId=%q; want %q %q %q %q",
					d.Outcome, d.PlatformStatus, errCode(d.Error), d.FailedProcessID, tt.outcome, tt.status, tt.code, tt.failedPID)
			}
			if tt.polls > 0 && d.Polls != tt.polls {
				t.Errorf("polls = %d, want %d", d.Polls, tt.polls)
			}
			if d.OrchestrationID != tt.id || d.Action != "revert-to-active" || ev.Subject != "USS3JKS01I00" {
				t.Errorf("event ids: orchestration %q action %q subject %q", d.OrchestrationID, d.Action, ev.Subject)
			}
			if d.SettledAt == nil {
				t.Error("settledAt missing")
			}
		})
	}
	if d, want := ended["cmd-ok"].Data, fake.endedAt("ok"); !d.SettledAt.Equal(want) {
		t.Errorf("settledAt = %s, want the orchestration's timestamp %s", d.SettledAt, want)
	}
	if f := ended["cmd-bad"].Data.FailedStatus; f != "" && f != "failed" {
		t.Errorf("failedStatus = %q", f)
	}

	// The deadline: polls before it, exactly one (the last) after it.
	var before, after int
	for _, c := range fake.callsTo("orchestrations") {
		if slices.Contains(c.ids, "slow") {
			if c.at.Before(deadline) {
				before++
			} else {
				after++
			}
		}
	}
	if before == 0 || after != 1 {
		t.Errorf("slow polled %d times before its deadline and %d after, want some and exactly 1", before, after)
	}
	for _, c := range fake.callsTo("transactions") {
		if len(c.ids) > 10 {
			t.Errorf("transactions request with %d orchestrationIds", len(c.ids))
		}
	}
}

// TestBatchingTwoPollers: 500 orchestrations, two replicas sharing one
// NATS; every command ends exactly once and the requests number at most a
// fifth of the orchestrations.
func TestBatchingTwoPollers(t *testing.T) {
	const n = 500
	e := newEnv(t)
	fake := newFake()
	for i := range n {
		id := fmt.Sprintf("orch-%03d", i)
		fake.add(id, &fakeOrch{final: "success", after: i % 4})
		e.track(t, "cmd-"+id, id, time.Now().Add(time.Hour))
	}
	cfg := Config{Interval: 200 * time.Millisecond, MaxInterval: time.Second}
	startPoller(t, cfg, connect(t, e.url), fake)
	startPoller(t, cfg, connect(t, e.url), fake)
	ended := e.waitEnded(t, n, 30*time.Second)
	if len(ended) != n {
		t.Fatalf("%d commands ended, want %d", len(ended), n)
	}
	calls := fake.callsTo("orchestrations")
	ids := 0
	for _, c := range calls {
		if len(c.ids) > MaxBatchSize {
			t.Errorf("request with %d ids", len(c.ids))
		}
		ids += len(c.ids)
	}
	t.Logf("%d orchestrations: %d requests, %d ids polled (%.1f per request)", n, len(calls), ids, float64(ids)/float64(len(calls)))
	if len(calls) > n/5 {
		t.Errorf("%d poll requests for %d orchestrations, want at most %d", len(calls), n, n/5)
	}
}

// TestRetryAfterPausesWholePoller: while the platform answers 429 with
// Retry-After: 2, no request follows a 429 within two seconds, and the
// pause does not count as polls.
func TestRetryAfterPausesWholePoller(t *testing.T) {
	e := newEnv(t)
	fake := newFake()
	const n = 120 // three requests per cycle
	for i := range n {
		id := fmt.Sprintf("orch-%03d", i)
		fake.add(id, &fakeOrch{final: "success"})
		e.track(t, "cmd-"+id, id, time.Now().Add(time.Hour))
	}
	var first time.Time
	fake.fault = func(c call) error {
		if first.IsZero() {
			first = c.at
		}
		if c.at.Sub(first) < 2500*time.Millisecond {
			return &platform.Error{Platform: platform.PlatformCorastone, Endpoint: "orchestrations", HTTPStatus: 429,
				Verdict: platform.Transient, RetryAfter: 2 * time.Second, Message: "too many requests"}
		}
		return nil
	}
	cfg := fast
	cfg.Parallel = 1
	cfg.MaxInterval = 5 * time.Second // holds the messages through a 2s pause
	reg := prometheus.NewRegistry()
	startPollerWith(t, cfg, e.bus, fake, metrics.New(reg))
	ended := e.waitEnded(t, n, 20*time.Second)

	calls := fake.callsTo("orchestrations")
	limited := 0
	for i, c := range calls {
		if c.at.Sub(first) >= 2500*time.Millisecond {
			continue
		}
		limited++
		if i+1 < len(calls) && calls[i+1].at.Sub(c.at) < 2*time.Second {
			t.Errorf("request %d came %s after a 429 with Retry-After: 2", i+1, calls[i+1].at.Sub(c.at))
		}
	}
	if limited < 2 {
		t.Errorf("%d requests answered 429, want at least 2", limited)
	}
	for id, ev := range ended {
		if ev.Data.Polls != 1 {
			t.Errorf("%s: polls = %d, want 1 (a pause is not a poll)", id, ev.Data.Polls)
		}
	}
	want := map[string]float64{
		"txworker_polls_total":             float64(len(calls)),
		"txworker_commands_terminal_total": n,
		"txworker_events_published_total":  n,
		"txworker_platform_paused":         0,
	}
	for name, v := range want {
		if got := metricValue(t, reg, name, map[string]string{"platform": "corastone", "outcome": "succeeded"}); got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	if got := metricValue(t, reg, "txworker_retries_total", map[string]string{"stage": "poll"}); got != float64(limited) {
		t.Errorf("poll retries = %v, want %d", got, limited)
	}
}

// TestPermanentFaultKeepsTracking: a 403 on the poll is retried after
// MaxInterval; tracking is not dropped.
func TestPermanentFaultKeepsTracking(t *testing.T) {
	e := newEnv(t)
	fake := newFake()
	fake.add("o1", &fakeOrch{final: "success"})
	e.track(t, "cmd-1", "o1", time.Now().Add(time.Hour))
	faults := 0
	fake.fault = func(call) error {
		if faults++; faults <= 2 {
			return &platform.Error{Platform: platform.PlatformCorastone, Endpoint: "orchestrations", HTTPStatus: 403,
				Code: "AU0002", Verdict: platform.Permanent, Message: "You do not have access to this scope: readTransactionData"}
		}
		return nil
	}
	cfg := fast
	cfg.MaxInterval = 300 * time.Millisecond
	startPoller(t, cfg, e.bus, fake)
	ended := e.waitEnded(t, 1, 10*time.Second)
	if o := ended["cmd-1"].Data.Outcome; o != "succeeded" {
		t.Errorf("outcome = %q, want succeeded", o)
	}
	calls := fake.callsTo("orchestrations")
	for i := 1; i < len(calls) && i <= 2; i++ {
		if gap := calls[i].at.Sub(calls[i-1].at); gap < cfg.MaxInterval {
			t.Errorf("retry %d after %s, want at least MaxInterval %s", i, gap, cfg.MaxInterval)
		}
	}
}

// TestShutdownHandsBack: messages in hand at shutdown reach another replica
// at once, not after a back-off: both while paused and with requests in flight.
func TestShutdownHandsBack(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fakePlatform)
	}{
		{"paused by a 429", func(f *fakePlatform) {
			f.fault = func(call) error {
				return &platform.Error{Platform: platform.PlatformCorastone, Endpoint: "orchestrations", HTTPStatus: 429,
					Verdict: platform.Transient, RetryAfter: 20 * time.Second} // held: below MaxInterval
			}
		}},
		{"request in flight", func(f *fakePlatform) { f.hold = make(chan struct{}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 20
			e := newEnv(t)
			stuck, good := newFake(), newFake()
			tt.setup(stuck)
			for i := range n {
				id := fmt.Sprintf("orch-%02d", i)
				stuck.add(id, &fakeOrch{final: "success"})
				good.add(id, &fakeOrch{final: "success"})
				e.track(t, "cmd-"+id, id, time.Now().Add(time.Hour))
			}
			cfg := Config{Interval: 30 * time.Second, FetchWait: 50 * time.Millisecond}
			_, stopA := startPoller(t, cfg, connect(t, e.url), stuck)
			waitFor(t, 5*time.Second, "replica A polls", func() bool { return len(stuck.callsTo("orchestrations")) > 0 })
			stopped := time.Now()
			stopA()
			startPoller(t, cfg, connect(t, e.url), good)
			e.waitEnded(t, n, 10*time.Second)
			if took := time.Since(stopped); took > shutdownGrace+3*time.Second {
				t.Errorf("replica B finished %s after A stopped, want well under MaxInterval", took)
			}
		})
	}
}

// TestFaultyReplicaDoesNotHoard: a replica refused by the platform hands
// its messages back after MaxInterval and then probes with one message at a
// time, so a healthy replica ends every command.
func TestFaultyReplicaDoesNotHoard(t *testing.T) {
	const n = 200
	e := newEnv(t)
	refused, good := newFake(), newFake()
	refused.fault = func(call) error {
		return &platform.Error{Platform: platform.PlatformCorastone, Endpoint: "orchestrations", HTTPStatus: 403,
			Code: "AU0002", Verdict: platform.Permanent}
	}
	for i := range n {
		id := fmt.Sprintf("orch-%03d", i)
		refused.add(id, &fakeOrch{final: "success"})
		good.add(id, &fakeOrch{final: "success"})
		e.track(t, "cmd-"+id, id, time.Now().Add(time.Hour))
	}
	cfg := Config{Interval: 100 * time.Millisecond, MaxInterval: time.Second, FetchWait: 50 * time.Millisecond}
	startPoller(t, cfg, connect(t, e.url), refused)
	waitFor(t, 5*time.Second, "the refused replica polls", func() bool { return len(refused.callsTo("orchestrations")) > 0 })
	startPoller(t, cfg, connect(t, e.url), good)
	e.waitEnded(t, n, 15*time.Second)
	calls := refused.callsTo("orchestrations")
	for i, c := range calls {
		if i >= 4 && len(c.ids) > 1 { // the first fetch's requests, then probes
			t.Errorf("refused replica probed with %d ids", len(c.ids))
		}
	}
}

// TestUndecodableTerminated: a tracking message that cannot be decoded is
// terminated and counted; the others are tracked.
func TestUndecodableTerminated(t *testing.T) {
	e := newEnv(t)
	fake := newFake()
	fake.add("o1", &fakeOrch{final: "success"})
	ctx := context.Background()
	if _, err := e.js.Publish(ctx, e.bus.Prefix()+".track.revert-to-active", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.js.Publish(ctx, e.bus.Prefix()+".track.revert-to-active", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	e.track(t, "cmd-1", "o1", time.Now().Add(time.Hour))
	p, _ := startPoller(t, fast, e.bus, fake)
	e.waitEnded(t, 1, 10*time.Second)
	waitFor(t, 5*time.Second, "two dropped", func() bool { return p.Dropped() == 2 })
	waitFor(t, 5*time.Second, "tracking consumer empty", func() bool {
		info, err := e.bus.Tracking().Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
}

// TestNaive: one id per request, fixed interval.
func TestNaive(t *testing.T) {
	e := newEnv(t)
	fake := newFake()
	for i := range 5 {
		id := fmt.Sprintf("o%d", i)
		fake.add(id, &fakeOrch{final: "success", after: 2})
		e.track(t, "cmd-"+id, id, time.Now().Add(time.Hour))
	}
	cfg := fast
	cfg.Naive = true
	startPoller(t, cfg, e.bus, fake)
	e.waitEnded(t, 5, 10*time.Second)
	calls := fake.callsTo("orchestrations")
	for _, c := range calls {
		if len(c.ids) != 1 {
			t.Errorf("naive request with %d ids", len(c.ids))
		}
	}
	if len(calls) != 15 {
		t.Errorf("%d requests, want 15 (3 polls of 5 orchestrations)", len(calls))
	}
}

// TestKeepAlive: unfinished messages of a long batch get InProgress.
func TestKeepAlive(t *testing.T) {
	p := testPoller(Config{})
	p.ackWait = 30 * time.Millisecond
	busy, done := &fakeMsg{}, &fakeMsg{}
	items := []*item{{msg: busy}, {msg: done}}
	items[1].done.Store(true)
	stop := p.keepAlive(items)
	waitFor(t, 5*time.Second, "two InProgress", func() bool { return busy.inProgress.Load() >= 2 })
	stop()
	if n := done.inProgress.Load(); n != 0 {
		t.Errorf("finished message got %d InProgress", n)
	}
}

// TestSettleFromTrackedRevision: the settle compare-and-sets the claim
// rebuilt from the tracking message; a claim changed since the hand-over, a
// tracking message without the revision and an expired claim still end
// exactly once, with the claim's fields kept.
func TestSettleFromTrackedRevision(t *testing.T) {
	e := newEnv(t)
	fake := newFake()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cases := map[string]func(*queue.Claim, *queue.Track){
		"current": nil,
		"changed": func(cl *queue.Claim, _ *queue.Track) {
			cl.Lookups = 3
			if err := e.bus.Claims().Update(ctx, cl); err != nil {
				t.Fatal(err)
			}
		},
		"old-format": func(_ *queue.Claim, tr *queue.Track) { tr.ClaimRevision = 0 },
		"expired": func(cl *queue.Claim, _ *queue.Track) {
			kv, err := e.js.KeyValue(ctx, "TXWORKER_STATE") // the default prefix's bucket
			if err != nil {
				t.Fatal(err)
			}
			if err := kv.Purge(ctx, base64.RawURLEncoding.EncodeToString([]byte(cl.CommandID))); err != nil {
				t.Fatal(err)
			}
		},
	}
	for id, between := range cases {
		fake.add(id, &fakeOrch{final: "success", after: 1})
		e.trackWith(t, "cmd-"+id, id, time.Now().Add(time.Hour), between)
	}
	// Count the claim reads: a KV Get is a direct-get request whose subject
	// ends with the key.
	var mu sync.Mutex
	reads := map[string]int{}
	sub, err := e.nc.Subscribe("$JS.API.DIRECT.GET.>", func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		for id := range cases {
			if strings.HasSuffix(m.Subject, "."+base64.RawURLEncoding.EncodeToString([]byte("cmd-"+id))) {
				reads[id]++
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	startPoller(t, fast, e.bus, fake)
	ended := e.waitEnded(t, len(cases), 15*time.Second)
	mu.Lock()
	if reads["current"] != 0 || reads["changed"] == 0 || reads["old-format"] == 0 {
		t.Errorf("claim reads %v: want none for the current revision, some for the others", reads)
	}
	mu.Unlock()
	for id := range cases {
		if ev := ended["cmd-"+id]; ev.Data.Outcome != queue.OutcomeSucceeded {
			t.Errorf("%s: event %+v", id, ev.Data)
		}
		cl, err := e.bus.Claims().Get(ctx, "cmd-"+id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		wantLookups := 1
		if id == "changed" {
			wantLookups = 3
		}
		if cl.State != queue.StateTerminal || !cl.Published || cl.Outcome != queue.OutcomeSucceeded ||
			cl.StreamSeq != 42 || cl.Lookups != wantLookups || cl.Attempts != 1 || cl.OrchestrationID != id {
			t.Errorf("%s: stored claim %+v", id, cl)
		}
	}
}
