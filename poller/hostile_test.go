package poller

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/txworker/txworker/metrics"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// refuseInvalidIDs makes the fake answer like platform.Corastone: a request
// carrying an id it cannot send is refused as a whole.
func refuseInvalidIDs(c call) error {
	for _, id := range c.ids {
		if err := platform.ValidID(id); err != nil {
			return &platform.Error{Platform: platform.PlatformCorastone, Endpoint: "orchestrations",
				Verdict: platform.Permanent, Message: "invalid id: " + err.Error()}
		}
	}
	return nil
}

// TestInvalidOrchestrationIDDoesNotPoisonBatch: one tracking message whose
// orchestrationId the Transactions API cannot be asked about, in a batch of
// 50, ends failed INVALID_ORCHESTRATION_ID alone; it never enters a request,
// the 49 others are polled and settled normally, and the poller never
// pauses.
func TestInvalidOrchestrationIDDoesNotPoisonBatch(t *testing.T) {
	tests := []struct {
		name, id, problem string
	}{
		{"comma", "a,b", "a comma"},
		{"control character", "a\x01b", "control character"},
		{"new line", "a\nb", "control character"},
		{"white space", "a b", "white space"},
		{"too long", strings.Repeat("x", 129), "longer than 128"},
		{"empty", "", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			fake := newFake()
			fake.fault = refuseInvalidIDs
			for i := range 49 {
				id := fmt.Sprintf("orch-%02d", i)
				fake.add(id, &fakeOrch{final: "success"})
				e.track(t, "cmd-"+id, id, time.Now().Add(time.Hour))
				if i == 20 {
					e.track(t, "cmd-bad", tt.id, time.Now().Add(time.Hour))
				}
			}
			reg := prometheus.NewRegistry()
			startPollerWith(t, fast, e.bus, fake, metrics.New(reg))
			ended := e.waitEnded(t, 50, 15*time.Second)
			for id, ev := range ended {
				d := ev.Data
				if id == "cmd-bad" {
					if d.Outcome != queue.OutcomeFailed || errCode(d.Error) != CodeInvalidOrchestrationID ||
						!strings.Contains(d.Error.Message, tt.problem) {
						t.Errorf("bad: %+v error %+v, want failed %s naming %q", d, d.Error, CodeInvalidOrchestrationID, tt.problem)
					}
					continue
				}
				if d.Outcome != queue.OutcomeSucceeded || d.Polls != 1 {
					t.Errorf("%s: outcome %s after %d polls, want succeeded after 1", id, d.Outcome, d.Polls)
				}
			}
			for _, c := range fake.callsTo("orchestrations") {
				if slices.Contains(c.ids, tt.id) {
					t.Errorf("a request carried the invalid id: %q", c.ids)
				}
			}
			if got := metricValue(t, reg, "txworker_retries_total", map[string]string{"stage": "poll"}); got != 0 {
				t.Errorf("poll retries %v: the poller paused", got)
			}
		})
	}
}

// TestUnreadableElementAffectsOnlyItsCommand: in a page of 10, element 3
// cannot be read. The other 9 settle at their first poll and the poller
// never pauses; the bad one is polled again and, unreadable every time,
// ends failed MALFORMED_RESPONSE with the element's first bytes after
// unreadableTries answers in a row; unreadable once, it ends normally.
func TestUnreadableElementAffectsOnlyItsCommand(t *testing.T) {
	tests := []struct {
		name       string
		unreadable int
		outcome    string
		code       string
		polls      int // requests carrying the bad one's id
	}{
		{"always", -1, queue.OutcomeFailed, CodeMalformedResponse, unreadableTries},
		{"once", 1, queue.OutcomeSucceeded, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			fake := newFake()
			for i := range 10 {
				id := fmt.Sprintf("orch-%02d", i)
				o := &fakeOrch{final: "success"}
				if i == 3 {
					o.unreadable = tt.unreadable
				}
				fake.add(id, o)
				e.track(t, "cmd-"+id, id, time.Now().Add(time.Hour))
			}
			reg := prometheus.NewRegistry()
			startPollerWith(t, fast, e.bus, fake, metrics.New(reg))
			ended := e.waitEnded(t, 10, 15*time.Second)
			for id, ev := range ended {
				d := ev.Data
				if id != "cmd-orch-03" {
					if d.Outcome != queue.OutcomeSucceeded || d.Polls != 1 {
						t.Errorf("%s: %s after %d polls, want succeeded after 1", id, d.Outcome, d.Polls)
					}
					continue
				}
				if d.Outcome != tt.outcome || errCode(d.Error) != tt.code {
					t.Errorf("bad one: %s %+v, want %s %q", d.Outcome, d.Error, tt.outcome, tt.code)
				}
				if tt.code != "" && (!strings.Contains(d.Error.Message, `"timestamp":"99999-01-01T00:00:00Z"`) || d.Error.HTTPStatus != 200) {
					t.Errorf("error %+v: want the element's bytes and the answer's status", d.Error)
				}
			}
			n := 0
			for _, c := range fake.callsTo("orchestrations") {
				if slices.Contains(c.ids, "orch-03") {
					n++
				}
			}
			if n != tt.polls {
				t.Errorf("orch-03 asked about %d times, want %d", n, tt.polls)
			}
			if got := metricValue(t, reg, "txworker_retries_total", map[string]string{"stage": "poll"}); got != 0 {
				t.Errorf("poll retries %v: the poller paused", got)
			}
		})
	}
}

// TestDeadlineEndsCommandsWhateverThePause: while the Transactions API
// answers 429 with Retry-After: 3600 (or 503), commands whose deadline is 2s
// ahead end timed_out within a few seconds, with the last fault in the
// event; none waits for the pause. Both a pause longer than MaxInterval
// (messages handed back, due again at their deadline, swept while paused)
// and a shorter one (messages held in hand) are covered.
func TestDeadlineEndsCommandsWhateverThePause(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter time.Duration
		maxInt     time.Duration
		code       string
	}{
		{"429 Retry-After 3600, handed back", 429, time.Hour, 500 * time.Millisecond, "HTTP_429"},
		{"429 Retry-After 3600, held", 429, time.Hour, time.Minute, "HTTP_429"},
		{"503, handed back", 503, 0, 500 * time.Millisecond, "HTTP_503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 20
			e := newEnv(t)
			fake := newFake()
			fake.fault = func(call) error {
				return &platform.Error{Platform: platform.PlatformCorastone, Endpoint: "orchestrations", HTTPStatus: tt.status,
					Verdict: platform.Transient, RetryAfter: tt.retryAfter, Message: "slow down"}
			}
			deadline := time.Now().Add(2 * time.Second)
			for i := range n {
				id := fmt.Sprintf("orch-%02d", i)
				fake.add(id, &fakeOrch{final: "success"})
				e.track(t, "cmd-"+id, id, deadline)
			}
			e.track(t, "cmd-later", "later", time.Now().Add(time.Hour)) // keeps the poller paused
			cfg := fast
			cfg.MaxInterval = tt.maxInt
			cfg.MaxPause = 40 * time.Second // above the test's wait: the deadline must end them, not the cap
			if tt.status == 503 {
				cfg.Interval = 10 * time.Second // the back-off pauses outlast the deadline
				cfg.MaxInterval = max(tt.maxInt, cfg.Interval)
			}
			startPoller(t, cfg, e.bus, fake)
			ended := e.waitEnded(t, n, 10*time.Second)
			for id, ev := range ended {
				d := ev.Data
				if id == "cmd-later" {
					t.Errorf("cmd-later ended %s", d.Outcome)
					continue
				}
				if d.Outcome != queue.OutcomeTimedOut || errCode(d.Error) != tt.code || d.Error.HTTPStatus != tt.status ||
					!strings.Contains(d.Error.Message, "slow down") {
					t.Errorf("%s: %s %+v, want timed_out with the %d", id, d.Outcome, d.Error, tt.status)
				}
				if d.SettledAt == nil || d.SettledAt.Before(deadline) || d.SettledAt.After(deadline.Add(3*time.Second)) {
					t.Errorf("%s: settled at %v, deadline %v", id, d.SettledAt, deadline)
				}
			}
		})
	}
}

// TestPauseCapped: no pause outlasts MaxPause, jitter included: the
// poller's own (MaxInterval after a permanent refusal, the back-off of
// faults in a row) and, with the client's MaxRetryAfter set from the same
// TXWORKER_MAX_RETRY_AFTER, a Retry-After of an hour (the client caps it:
// platform's TestGateHold; the poller waits that hold out).
func TestPauseCapped(t *testing.T) {
	for _, cap := range []time.Duration{time.Second, 5 * time.Minute} {
		faults := map[string][]error{
			"permanent refusal": {&platform.Error{Platform: platform.PlatformCorastone, Endpoint: "orchestrations",
				HTTPStatus: 403, Code: "AU0002", Verdict: platform.Permanent}},
			"429 Retry-After: 3600": {&platform.Error{Platform: platform.PlatformCorastone, Endpoint: "orchestrations",
				HTTPStatus: 429, Verdict: platform.Transient, RetryAfter: time.Hour}},
		}
		for range 30 {
			faults["502s in a row"] = append(faults["502s in a row"], &platform.Error{Platform: platform.PlatformCorastone,
				Endpoint: "orchestrations", HTTPStatus: 502, Verdict: platform.Transient})
		}
		for name, errs := range faults {
			plat := &scripted{clientHold: clientHold{capped: cap}}
			p := testPoller(Config{MaxPause: cap, MaxInterval: 10 * time.Minute})
			p.plat, p.now, p.log = plat, time.Now, zap.NewNop()
			now := time.Now()
			for _, err := range errs {
				plat.after(err) // what the client does with the answer
				p.fault(t.Context(), metrics.StagePoll, err, 1)
			}
			if got := p.pause(now); got > cap || got < cap*3/4 {
				t.Errorf("MaxPause %s, %s: paused %s", cap, name, got)
			}
		}
	}
	if d := (Config{}).withDefaults().MaxPause; d != 5*time.Minute {
		t.Errorf("default MaxPause %s", d)
	}
}

// The metrics count what the platform client sets aside.
var _ platform.AnswerObserver = (*metrics.Metrics)(nil)

// and show when an API holds its requests (txworker_platform_held).
var _ platform.HoldObserver = (*metrics.Metrics)(nil)

// TestHeldSeriesAreTheClientsAPIs: txworker_platform_held starts with a zero
// series for every API the clients gate (platform.APIsOf), and no other.
func TestHeldSeriesAreTheClientsAPIs(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	var want []string
	for _, p := range []string{platform.PlatformCorastone, platform.JourneyManager} {
		for _, api := range platform.APIsOf(p) {
			want = append(want, p+"/"+api)
			m.ObserveHold(p, api, false)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		if mf.GetName() != "txworker_platform_held" {
			continue
		}
		for _, s := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			got = append(got, labels["platform"]+"/"+labels["api"])
			if s.GetGauge().GetValue() != 0 {
				t.Errorf("%v = %v, want 0", labels, s.GetGauge().GetValue())
			}
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("txworker_platform_held series %v, want %v", got, want)
	}
}
