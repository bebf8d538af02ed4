package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/txworker/txworker/platform/platformtest"
)

// jmCancelPath is the simulator's Journey Manager cancel endpoint.
const jmCancelPath = "/workspaces/secure/api/v1/txn/cancel"

// outageProxy stands in front of the simulator. While down it answers
// every request but the token endpoint's with 503 from a "load balancer"
// and counts them.
type outageProxy struct {
	srv      *httptest.Server
	down     atomic.Bool
	mu       sync.Mutex
	refused  map[string]int // endpoint path → 503s answered
	refusals atomic.Int64
}

func newOutageProxy(t *testing.T, target string) *outageProxy {
	t.Helper()
	o := &outageProxy{refused: map[string]int{}}
	rp := proxyTo(t, target)
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.down.Load() && r.URL.Path != "/oauth2/token" {
			_, _ = io.Copy(io.Discard, r.Body)
			o.refusals.Add(1)
			o.mu.Lock()
			o.refused[r.URL.Path]++
			o.mu.Unlock()
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "<html><body><h1>503 Service Unavailable</h1></body></html>")
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

// An endless outage of both platforms ends every command in one "failed"
// event after a bounded number of platform calls; the worker pauses calls
// after consecutive faults (metric and log line), and the platform client
// holds every request to an API that answered 503 (1 s, doubling), so no
// budget burns faster than those holds; once the platform is back,
// commands succeed again.
func TestOutageEndsInFailedWithBoundedCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the worker's 30s pauses")
	}
	const (
		maxAttempts = 2
		pauseFor    = 30 * time.Second // worker.Config.PauseFor default
	)
	e := newTestEnv(t, platformtest.Config{})
	proxy := newOutageProxy(t, e.sim.URL())
	addr, logs, _ := e.startWorker(map[string]string{
		"TXWORKER_PLATFORM_URL":    proxy.srv.URL,
		"TXWORKER_JM_URL":          proxy.srv.URL,
		"TXWORKER_MAX_ATTEMPTS":    fmt.Sprint(maxAttempts),
		"TXWORKER_REQUEST_TIMEOUT": "2s",
	})
	e.watch()
	proxy.down.Store(true)
	start := time.Now()

	var corastone, jm []string
	for i := range 5 {
		id := fmt.Sprintf("outage-cs-%d", i)
		e.publish("cancel-offering", fmt.Sprintf(`{"commandId":%q,"params":{"securityId":"USS3JKS02I00"}}`, id), "")
		corastone = append(corastone, id)
		id = fmt.Sprintf("outage-jm-%d", i)
		e.publish("cancel-txn", fmt.Sprintf(`{"commandId":%q,"params":{"submitKey":"15d071280b92c867f86975b9cd2e8765"}}`, id), "")
		jm = append(jm, id)
	}

	// Both platforms' pauses open, with a metric and a log line.
	pausedSeen := map[string]bool{}
	deadline := time.Now().Add(waitLong)
	for len(pausedSeen) < 2 {
		m := httpText(t, "http://"+addr+"/metrics")
		for _, p := range []string{"corastone", "jm"} {
			if strings.Contains(m, `txworker_platform_paused{platform="`+p+`",stage="action"} 1`) {
				pausedSeen[p] = true
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pause metric never 1 for both platforms (seen %v)", pausedSeen)
		}
		time.Sleep(100 * time.Millisecond) // polling /metrics
	}
	if !strings.Contains(logs.String(), "platform keeps failing; pausing calls") {
		t.Errorf("no log line announces the pause")
	}

	all := append(append([]string(nil), corastone...), jm...)
	var firstEnd time.Time
	for _, id := range all {
		ev := e.terminal(id, 4*time.Minute)
		if firstEnd.IsZero() || ev.Time.Before(firstEnd) {
			firstEnd = ev.Time
		}
		d := ev.Data
		if d.Outcome != "failed" || d.Error == nil {
			t.Errorf("%s: outcome %s error %+v, want failed", id, d.Outcome, d.Error)
			continue
		}
		if d.Error.Code != "RETRIES_EXHAUSTED" || d.Error.HTTPStatus != http.StatusServiceUnavailable {
			t.Errorf("%s: error %+v, want RETRIES_EXHAUSTED after http 503", id, d.Error)
		}
		if d.Attempts > maxAttempts {
			t.Errorf("%s: %d attempts, budget %d", id, d.Attempts, maxAttempts)
		}
		if n := e.terminalCount(id); n != 1 {
			t.Errorf("%s: %d terminal events", id, n)
		}
		if n := e.count(id + ":accepted"); n != 0 {
			t.Errorf("%s: accepted during an outage", id)
		}
	}
	// The Corastone commands' retries after the first pause are look-ups
	// (was the action taken?); they count as faults too, so the pause
	// opens again instead of letting every command spend its budget.
	pauses := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "platform keeps failing; pausing calls") && strings.Contains(line, `"platform":"corastone"`) {
			pauses++
		}
	}
	if pauses < 2 {
		t.Errorf("the Corastone pause opened %d times, want at least 2 (actions, then look-ups)", pauses)
	}
	// A command's second attempt waits at least out the client's first hold
	// of that API (1 s after the first 503; a request the client held sent
	// nothing and spent nothing of the budget), so no command gives up
	// within it. The breaker's 30 s pause holds back the commands that had
	// not spent their budget when it opened.
	if waited := firstEnd.Sub(start); waited < time.Second {
		t.Errorf("the first command gave up %s into the outage: the client's hold (1s) did not hold the retries back", waited)
	}
	if last := time.Since(start); last < pauseFor*9/10 {
		t.Errorf("every command gave up within %s: the pause (%s) held none back", last, pauseFor)
	}

	// Bounded calls: a Corastone command makes at most 1 action call, a
	// look-up (≤ 2 requests) per retry and a last look-up before it gives
	// up; a Journey Manager command at most maxAttempts calls.
	perCorastone, perJM := 1+2*maxAttempts+2, maxAttempts
	limit := int64(len(corastone)*perCorastone + len(jm)*perJM)
	if n := proxy.refusals.Load(); n > limit || n < int64(len(all)) {
		proxy.mu.Lock()
		t.Errorf("%d requests during the outage (%v), want between %d and %d", n, proxy.refused, len(all), limit)
		proxy.mu.Unlock()
	}
	t.Logf("outage: %d requests refused for %d commands; first gave up after %s, all after %s",
		proxy.refusals.Load(), len(all), firstEnd.Sub(start).Round(time.Second), time.Since(start).Round(time.Second))
	if n := e.sim.AcceptedTotal() + e.sim.CancelledTotal(); n != 0 {
		t.Errorf("%d actions reached the platform during the outage", n)
	}

	// The platform is back: calls resume (after the pause) and succeed.
	proxy.down.Store(false)
	e.publish("cancel-txn", `{"commandId":"after-outage","params":{"submitKey":"45d071280b92c867f86975b9cd2e8765"}}`, "")
	if ev := e.terminal("after-outage", 2*time.Minute); ev.Data.Outcome != "succeeded" {
		t.Errorf("after the outage: %s %+v", ev.Data.Outcome, ev.Data.Error)
	}
}

// scriptedFault is one answer a scriptedProxy gives instead of the
// platform's: an HTTP status (with Retry-After seconds) or, with status 0,
// a connection closed without an answer.
type scriptedFault struct {
	status     int
	retryAfter int
}

// scriptedProxy answers the first requests to a path with scripted
// faults, then passes requests on to the simulator; it records when each
// request to a scripted path arrived.
type scriptedProxy struct {
	srv    *httptest.Server
	mu     sync.Mutex
	script map[string][]scriptedFault
	times  map[string][]time.Time
}

func newScriptedProxy(t *testing.T, target string, script map[string][]scriptedFault) *scriptedProxy {
	t.Helper()
	p := &scriptedProxy{script: script, times: map[string][]time.Time{}}
	rp := proxyTo(t, target)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		var f *scriptedFault
		if queue, ok := p.script[r.URL.Path]; ok {
			p.times[r.URL.Path] = append(p.times[r.URL.Path], time.Now())
			if len(queue) > 0 {
				f = &queue[0]
				p.script[r.URL.Path] = queue[1:]
			}
		}
		p.mu.Unlock()
		if f == nil {
			rp.ServeHTTP(w, r)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		if f.status == 0 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		if f.retryAfter > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(f.retryAfter))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.status)
		io.WriteString(w, `{"errorDetails":[{"message":"scripted fault"}]}`)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *scriptedProxy) requestTimes(path string) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.times[path]...)
}

// Transient faults (429 with Retry-After, 502, 503, 504, a dropped
// connection) are retried with back-off, Retry-After honoured, and the
// action still takes effect exactly once; 500 gets its smaller budget;
// a permanent refusal fails at once with the platform's code.
func TestRetriesHonourRetryAfterAndBudgets(t *testing.T) {
	const (
		cancelPath = "/external/v1/security-admin/cancel"
		revertPath = "/external/v1/security-admin/revert-completed-to-active"
		removePath = "/external/v1/service-providers/remove"
	)
	e := newTestEnv(t, platformtest.Config{})
	proxy := newScriptedProxy(t, e.sim.URL(), map[string][]scriptedFault{
		cancelPath:   {{429, 2}, {503, 0}, {0, 0}},
		revertPath:   {{500, 0}, {500, 0}, {500, 0}, {500, 0}},
		removePath:   {}, // passes: the simulator refuses (SP0004)
		jmCancelPath: {{429, 1}, {502, 0}, {504, 0}},
	})
	// A 1s request timeout makes the lease of an ambiguous call (a
	// dropped connection, 502, 504, 500: the request may still be in
	// flight) 3×1s+2s+5s = 10s: the next delivery waits it out before it
	// looks the processId up. 429 and 503 release it at once.
	_, logs, _ := e.startWorker(map[string]string{"TXWORKER_PLATFORM_URL": proxy.srv.URL, "TXWORKER_JM_URL": proxy.srv.URL,
		"TXWORKER_REQUEST_TIMEOUT": "1s"})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", logs.String())
		}
	})
	e.watch()
	// One command at a time: faults of several commands in a row would
	// open the worker's pause (5 consecutive faults) and slow the test.
	pid := "7d1c2a4e-1b2c-4d3e-8f40-5a6b7c8d9e0f"
	t.Run("transient faults are retried, Retry-After honoured, one action", func(t *testing.T) {
		e.publish("cancel-offering", `{"commandId":"retry-transient","processId":"`+pid+`","params":{"securityId":"USS3JKS02I00"}}`, "")
		ev := e.terminal("retry-transient", 2*time.Minute)
		if ev.Data.Outcome != "succeeded" || ev.Data.Attempts != 4 {
			t.Fatalf("outcome %s after %d attempts (%+v), want succeeded after 4", ev.Data.Outcome, ev.Data.Attempts, ev.Data.Error)
		}
		if n := e.sim.Accepted(pid); n != 1 {
			t.Errorf("accepted %d times", n)
		}
		times := proxy.requestTimes(cancelPath)
		if len(times) != 4 {
			t.Fatalf("%d action requests, want 4", len(times))
		}
		if gap := times[1].Sub(times[0]); gap < 2*time.Second || gap > 8*time.Second {
			t.Errorf("retried %s after a 429 with Retry-After: 2; want 2s plus the look-up, not a lease", gap)
		}
		for i := 2; i < len(times); i++ {
			if gap := times[i].Sub(times[i-1]); gap < 50*time.Millisecond {
				t.Errorf("retry %d came %s after the fault: no back-off", i, gap)
			}
		}
	})
	t.Run("500 has a smaller budget", func(t *testing.T) {
		e.publish("revert-to-active", `{"commandId":"retry-500","params":{"securityId":"USS3JKS01I00","signer":{"email":"r@example.com","name":"R"}}}`, "")
		ev := e.terminal("retry-500", 2*time.Minute)
		if ev.Data.Outcome != "failed" || ev.Data.Error == nil || ev.Data.Error.HTTPStatus != 500 || ev.Data.Attempts != 3 {
			t.Fatalf("outcome %s attempts %d error %+v, want failed after 3 attempts with http 500", ev.Data.Outcome, ev.Data.Attempts, ev.Data.Error)
		}
		if n := len(proxy.requestTimes(revertPath)); n != 3 {
			t.Errorf("%d action requests, want 3", n)
		}
	})
	t.Run("permanent refusal fails at once with its code", func(t *testing.T) {
		e.publish("remove-service-provider", `{"commandId":"retry-permanent","params":{"transactionData":{"securityId":"USS3JKS01I00"},"orgId":"US9QIPO"}}`, "")
		ev := e.terminal("retry-permanent", waitLong)
		if ev.Data.Outcome != "failed" || ev.Data.Error == nil || ev.Data.Error.Code != "SP0004" || ev.Data.Attempts != 1 {
			t.Fatalf("outcome %s attempts %d error %+v, want failed SP0004 after 1 attempt", ev.Data.Outcome, ev.Data.Attempts, ev.Data.Error)
		}
		if n := len(proxy.requestTimes(removePath)); n != 1 {
			t.Errorf("%d action requests, want 1", n)
		}
	})
	t.Run("journey manager transient faults", func(t *testing.T) {
		e.publish("cancel-txn", `{"commandId":"retry-jm","params":{"submitKey":"55d071280b92c867f86975b9cd2e8765"}}`, "")
		ev := e.terminal("retry-jm", 2*time.Minute)
		if ev.Data.Outcome != "succeeded" || ev.Data.Attempts != 4 {
			t.Fatalf("outcome %s after %d attempts (%+v)", ev.Data.Outcome, ev.Data.Attempts, ev.Data.Error)
		}
		times := proxy.requestTimes(jmCancelPath)
		if len(times) != 4 || times[1].Sub(times[0]) < time.Second {
			t.Errorf("requests at %v: want 4, the second at least 1s (Retry-After) after the first", times)
		}
		if n := e.sim.Cancelled("55d071280b92c867f86975b9cd2e8765"); n != 1 {
			t.Errorf("cancelled %d times", n)
		}
	})
}
