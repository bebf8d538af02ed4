package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/internal/sandbox"
	"github.com/txworker/txworker/platform/platformtest"
	"github.com/txworker/txworker/queue"
)

// syncBuffer is an io.Writer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testEnv is one end-to-end set-up: an embedded NATS, the simulator, and a
// view of every event stored on the events stream.
type testEnv struct {
	t           *testing.T
	natsURL     string
	restartNATS func()
	stopNATS    func()
	sim         *platformtest.Simulator
	nc          *nats.Conn
	js          jetstream.JetStream

	mu     sync.Mutex
	events map[string][]queue.Event // by event id, in arrival order
	cond   chan struct{}
}

func newTestEnv(t *testing.T, simCfg platformtest.Config) *testEnv {
	t.Helper()
	ns := natstest.Start(t, natstest.Options{})
	url := ns.URL()
	restart := func() {
		t.Helper()
		if err := ns.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	stop := ns.Stop
	if simCfg.StepDuration == [2]time.Duration{} {
		simCfg.StepDuration = [2]time.Duration{50 * time.Millisecond, 150 * time.Millisecond}
	}
	sim, err := platformtest.Start(simCfg)
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	t.Cleanup(sim.Close)
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, natsURL: url, restartNATS: restart, stopNATS: stop, sim: sim, nc: nc, js: js,
		events: map[string][]queue.Event{}, cond: make(chan struct{})}
}

// env returns the configuration of a worker of this set-up, plus extra.
func (e *testEnv) env(extra map[string]string) func(string) string {
	base := map[string]string{
		"TXWORKER_NATS_URL":            e.natsURL,
		"TXWORKER_PLATFORM_URL":        e.sim.URL(),
		"TXWORKER_CLIENT_ID":           sandbox.ClientID,
		"TXWORKER_CLIENT_SECRET":       sandbox.ClientSecret,
		"TXWORKER_JM_URL":              e.sim.URL(),
		"TXWORKER_JM_USERNAME":         sandbox.JMUser,
		"TXWORKER_JM_PASSWORD":         sandbox.JMPassword,
		"TXWORKER_ALLOW_INSECURE_HTTP": "true",
		"TXWORKER_HTTP_ADDR":           "127.0.0.1:0",
		"TXWORKER_POLL_INTERVAL":       "100ms",
		"TXWORKER_POLL_MAX_INTERVAL":   "500ms",
		"TXWORKER_SHUTDOWN_TIMEOUT":    "10s",
		"TXWORKER_PLATFORM_RPS":        "0",
		"TXWORKER_LOG_LEVEL":           "debug",
	}
	for k, v := range extra {
		base[k] = v
	}
	return func(k string) string { return base[k] }
}

var httpAddrRE = regexp.MustCompile(`"http_addr":"([^"]+)"`)

// startWorker calls run("run") in-process and waits for /readyz. The
// returned stop cancels it (as SIGTERM would) and waits for run to return.
func (e *testEnv) startWorker(extra map[string]string) (addr string, logs *syncBuffer, stop func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run"}, e.env(extra), logs) }()
	deadline := time.Now().Add(20 * time.Second)
	for addr == "" {
		if m := httpAddrRE.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case err := <-done:
			e.t.Fatalf("run ended early: %v\n%s", err, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			e.t.Fatalf("worker did not start:\n%s", logs.String())
		}
	}
	waitHTTP(e.t, "http://"+addr+"/readyz", http.StatusOK, 20*time.Second)
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					e.t.Errorf("run returned %v", err)
				}
			case <-time.After(30 * time.Second):
				e.t.Errorf("run did not return 30s after cancel")
			}
		})
	}
	e.t.Cleanup(stop)
	return addr, logs, stop
}

// proxyTo returns a reverse proxy to target (the simulator) for tests that
// sit between the worker and the platform.
func proxyTo(t *testing.T, target string) *httputil.ReverseProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	return httputil.NewSingleHostReverseProxy(u)
}

// waitHTTP polls url until it answers want.
func waitHTTP(t *testing.T, url string, want int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer %d within %s (last: %v)", url, want, limit, err)
		}
		time.Sleep(20 * time.Millisecond) // polling an HTTP endpoint; nothing to wait on
	}
}

// watch records every event stored on the events stream from now on.
func (e *testEnv) watch() {
	e.t.Helper()
	ctx := context.Background()
	var cons jetstream.Consumer
	var err error
	deadline := time.Now().Add(20 * time.Second)
	for {
		cons, err = e.js.OrderedConsumer(ctx, "TXWORKER_EVENTS", jetstream.OrderedConsumerConfig{})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // the stream appears when a worker provisions it
	}
	if err != nil {
		e.t.Fatalf("watch events: %v", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var ev queue.Event
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			e.t.Errorf("undecodable event on %s: %v", m.Subject(), err)
			return
		}
		e.mu.Lock()
		e.events[ev.ID] = append(e.events[ev.ID], ev)
		close(e.cond)
		e.cond = make(chan struct{})
		e.mu.Unlock()
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cc.Stop)
}

// publish puts one command on the bus.
func (e *testEnv) publish(action, body, msgID string) {
	e.t.Helper()
	m := nats.NewMsg("txworker.cmd." + action)
	m.Data = []byte(body)
	if msgID != "" {
		m.Header.Set(nats.MsgIdHdr, msgID)
	}
	if _, err := e.js.PublishMsg(context.Background(), m); err != nil {
		e.t.Fatalf("publish %s: %v", action, err)
	}
}

// terminal waits for the terminal event of commandID and returns it.
func (e *testEnv) terminal(commandID string, limit time.Duration) queue.Event {
	e.t.Helper()
	var got queue.Event
	e.waitFor(limit, fmt.Sprintf("terminal event of %s", commandID), func() bool {
		var ok bool
		got, ok = e.terminalLocked(commandID)
		return ok
	})
	return got
}

// endsWithin reports whether a terminal event of the command arrives
// within limit; unlike terminal, running out of time is no failure.
func (e *testEnv) endsWithin(commandID string, limit time.Duration) bool {
	return e.await(limit, func() bool {
		_, ok := e.terminalLocked(commandID)
		return ok
	})
}

// terminalLocked returns the command's first terminal event; e.mu is held.
func (e *testEnv) terminalLocked(commandID string) (queue.Event, bool) {
	for _, o := range []string{"succeeded", "failed", "rejected", "timed_out"} {
		if evs := e.events[commandID+":"+o]; len(evs) > 0 {
			return evs[0], true
		}
	}
	return queue.Event{}, false
}

// waitFor waits until cond (called with the events locked) holds.
func (e *testEnv) waitFor(limit time.Duration, what string, cond func() bool) {
	e.t.Helper()
	if !e.await(limit, cond) {
		e.t.Fatalf("timed out after %s waiting for %s", limit, what)
	}
}

// await waits at most limit until cond (called with the events locked)
// holds, and reports whether it did.
func (e *testEnv) await(limit time.Duration, cond func() bool) bool {
	deadline := time.After(limit)
	for {
		e.mu.Lock()
		ok := cond()
		ch := e.cond
		e.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond): // conditions may also depend on the simulator
		case <-deadline:
			return false
		}
	}
}

// eventsOf returns the events stored with this id.
func (e *testEnv) eventsOf(id string) []queue.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]queue.Event(nil), e.events[id]...)
}

// count returns how many events with this id are on the stream.
func (e *testEnv) count(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.events[id])
}

// terminalCount is the number of terminal events of one command.
func (e *testEnv) terminalCount(commandID string) int {
	n := 0
	for _, o := range []string{"succeeded", "failed", "rejected", "timed_out"} {
		n += e.count(commandID + ":" + o)
	}
	return n
}
