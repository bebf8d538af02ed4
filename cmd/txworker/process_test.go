package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/txworker/txworker/internal/rig"
	"github.com/txworker/txworker/platform/platformtest"
)

// binary builds the real txworker binary once per test run.
func binary(t *testing.T) string {
	t.Helper()
	return rig.TestBinary(t)
}

func TestMain(m *testing.M) {
	code := m.Run()
	rig.RemoveTestBinary()
	os.Exit(code)
}

// proc is a worker running as its own process.
type proc struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	addr string
	done chan error
}

// startProcess runs `txworker run` as a child process with this set-up's
// configuration and waits for /readyz.
func (e *testEnv) startProcess(extra map[string]string) *proc {
	e.t.Helper()
	bin := binary(e.t)
	get := e.env(extra)
	var env []string
	for _, s := range settings {
		if v := get(envName(s.name)); v != "" {
			env = append(env, envName(s.name)+"="+v)
		}
	}
	sort.Strings(env)
	p := &proc{cmd: exec.Command(bin, "run"), logs: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Env = append(env, "PATH="+os.Getenv("PATH"))
	p.cmd.Stdout = p.logs
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	e.t.Cleanup(p.kill)
	deadline := time.Now().Add(30 * time.Second)
	for p.addr == "" {
		if m := httpAddrRE.FindStringSubmatch(p.logs.String()); m != nil {
			p.addr = m[1]
			break
		}
		select {
		case err := <-p.done:
			e.t.Fatalf("worker process ended early: %v\n%s", err, p.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("worker process did not start:\n%s", p.logs.String())
		}
	}
	waitHTTP(e.t, "http://"+p.addr+"/readyz", http.StatusOK, 30*time.Second)
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// holdingProxy forwards to the simulator; answers to one path are held
// after the platform has answered until release is closed.
type holdingProxy struct {
	srv      *httptest.Server
	path     string
	answered chan struct{}
	release  chan struct{}
	once     sync.Once
}

func newHoldingProxy(t *testing.T, target, path string) *holdingProxy {
	h := &holdingProxy{path: path, answered: make(chan struct{}), release: make(chan struct{})}
	rp := proxyTo(t, target)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != h.path || resp.StatusCode != http.StatusOK {
			return nil
		}
		h.once.Do(func() { close(h.answered) })
		select {
		case <-h.release:
		case <-resp.Request.Context().Done():
		}
		return nil
	}
	h.srv = httptest.NewServer(rp)
	t.Cleanup(h.srv.Close)
	return h
}

// A worker killed after the platform accepted the action but before the
// answer was recorded and the command acknowledged must not send the
// action again when it (or another replica) picks the command up.
func TestProcessKilledBetweenAnswerAndAck(t *testing.T) {
	e := newTestEnv(t, platformtest.Config{})
	proxy := newHoldingProxy(t, e.sim.URL(), "/external/v1/security-admin/cancel")
	cfg := map[string]string{
		"TXWORKER_PLATFORM_URL":    proxy.srv.URL,
		"TXWORKER_ACK_WAIT":        "2s",
		"TXWORKER_REQUEST_TIMEOUT": "1s",
	}
	first := e.startProcess(cfg)
	e.watch()
	pid := uuid.NewString()
	e.publish("cancel-offering", `{"commandId":"kill-1","processId":"`+pid+`","params":{"securityId":"USS3JKS02I00"}}`, "")
	select {
	case <-proxy.answered:
	case <-time.After(waitLong):
		t.Fatalf("the platform never answered:\n%s", first.logs.String())
	}
	first.kill()
	close(proxy.release)
	if n := e.sim.Accepted(pid); n != 1 {
		t.Fatalf("accepted %d times before the restart, want 1", n)
	}
	second := e.startProcess(cfg)
	ev := e.terminal("kill-1", 60*time.Second)
	if ev.Data.Outcome != "succeeded" {
		t.Fatalf("outcome %s (%+v)\n%s", ev.Data.Outcome, ev.Data.Error, second.logs.String())
	}
	if n := e.sim.Accepted(pid); n != 1 {
		t.Errorf("the platform accepted processId %s %d times, want 1", pid, n)
	}
	if n := e.sim.Count("PUT", "/external/v1/security-admin/cancel"); n != 1 {
		t.Errorf("%d action calls reached the platform, want 1", n)
	}
	for _, o := range []string{"accepted", "succeeded"} {
		if n := e.count("kill-1:" + o); n != 1 {
			t.Errorf("%d %s events, want 1", n, o)
		}
	}
}
