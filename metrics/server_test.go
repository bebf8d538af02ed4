package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/txworker/txworker/metrics"
)

// startServer starts an ops server on a free loopback port and stops it at cleanup.
func startServer(t *testing.T, g prometheus.Gatherer, live, ready func() error) *metrics.Server {
	t.Helper()
	srv := metrics.NewServer(metrics.ServerConfig{Addr: "127.0.0.1:0"}, g, live, ready, nil)
	if err := srv.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv
}

func do(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func TestServerEndpoints(t *testing.T) {
	var liveErr, readyErr atomic.Pointer[error]
	check := func(p *atomic.Pointer[error]) func() error {
		return func() error {
			if e := p.Load(); e != nil {
				return *e
			}
			return nil
		}
	}
	reg, m := newMetrics(t)
	srv := startServer(t, reg, check(&liveErr), m.ReadyCheck(check(&readyErr)))
	base := "http://" + srv.Addr()
	loopStuck, natsDown := errors.New("poller loop stuck"), errors.New("nats: not connected")

	tests := []struct {
		name       string
		setup      func()
		method     string
		path       string
		wantStatus int
		wantBody   string
	}{
		{"alive", func() {}, http.MethodGet, "/healthz", 200, "ok"},
		{"head alive", func() {}, http.MethodHead, "/healthz", 200, ""},
		{"not alive", func() { liveErr.Store(&loopStuck) }, http.MethodGet, "/healthz", 503, "not alive: poller loop stuck"},
		{"ready", func() { readyErr.Store(nil) }, http.MethodGet, "/readyz", 200, "ok"},
		{"ready gauge up", func() {}, http.MethodGet, "/metrics", 200, "\ntxworker_ready 1\n"},
		{"not ready", func() { readyErr.Store(&natsDown) }, http.MethodGet, "/readyz", 503, "not ready: nats: not connected"},
		{"ready gauge down", func() {}, http.MethodGet, "/metrics", 200, "\ntxworker_ready 0\n"},
		{"metrics", func() {}, http.MethodGet, "/metrics", 200, "# TYPE txworker_commands_terminal_total counter"},
		{"runtime metrics", func() {}, http.MethodGet, "/metrics", 200, "go_goroutines"},
		{"scheduler latencies", func() {}, http.MethodGet, "/metrics", 200, "go_sched_latencies_seconds_bucket{le="},
		{"post refused", func() {}, http.MethodPost, "/metrics", 405, ""},
		{"unknown path", func() {}, http.MethodGet, "/debug/pprof/", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			liveErr.Store(nil)
			tt.setup()
			status, body := do(t, tt.method, base+tt.path)
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d (body %q)", status, tt.wantStatus, body)
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("body %q does not contain %q", body, tt.wantBody)
			}
		})
	}
}

func TestServerDrainingTurnsReadinessOff(t *testing.T) {
	srv := startServer(t, prometheus.NewRegistry(), nil, nil)
	base := "http://" + srv.Addr()
	if status, _ := do(t, http.MethodGet, base+"/readyz"); status != 200 {
		t.Fatalf("before draining: %d, want 200", status)
	}
	srv.SetDraining()
	srv.SetDraining() // idempotent
	for range 2 {
		if status, body := do(t, http.MethodGet, base+"/readyz"); status != 503 || body != "draining\n" {
			t.Errorf("draining: %d %q, want 503 \"draining\\n\"", status, body)
		}
	}
	if status, _ := do(t, http.MethodGet, base+"/healthz"); status != 200 {
		t.Errorf("draining must not affect liveness: %d", status)
	}
}

func TestServerLifecycle(t *testing.T) {
	srv := metrics.NewServer(metrics.ServerConfig{Addr: "127.0.0.1:0"}, prometheus.NewRegistry(), nil, nil, nil)
	if got := srv.Addr(); got != "" {
		t.Errorf("Addr before Start = %q, want empty", got)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown before Start: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	if strings.HasSuffix(addr, ":0") || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("Addr = %q, want the bound loopback port", addr)
	}
	if err := srv.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := (&http.Client{Timeout: time.Second}).Get("http://" + addr + "/healthz"); err == nil {
		t.Error("server still answers after Shutdown")
	}
}

func TestServerConfigValidate(t *testing.T) {
	for addr, ok := range map[string]bool{"": true, ":8080": true, "127.0.0.1:0": true, "[::1]:9090": true, "8080": false, "host": false} {
		if err := (metrics.ServerConfig{Addr: addr}).Validate(); (err == nil) != ok {
			t.Errorf("Validate(%q) = %v, want ok=%v", addr, err, ok)
		}
	}
	if err := metrics.NewServer(metrics.ServerConfig{Addr: "nonsense"}, prometheus.NewRegistry(), nil, nil, nil).Start(); err == nil {
		t.Error("Start with an invalid address succeeded")
	}
}

// promtool returns the path of promtool ($PROMTOOL, else PATH), or skips.
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL"); p != "" {
		return p
	}
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH and $PROMTOOL unset (.ci/deploy-check provides it)")
	}
	return p
}

func TestScrapePassesPromtoolCheckMetrics(t *testing.T) {
	tool := promtool(t)
	reg, m := newMetrics(t)
	exercise(m)
	srv := startServer(t, reg, nil, m.ReadyCheck(nil))
	status, body := do(t, http.MethodGet, "http://"+srv.Addr()+"/metrics")
	if status != 200 {
		t.Fatalf("scrape: %d", status)
	}
	cmd := exec.CommandContext(t.Context(), tool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out.String())
	}
	if s := strings.TrimSpace(out.String()); s != "" {
		t.Errorf("promtool check metrics reported:\n%s", s)
	}
}

// TestServerPprof: /debug/pprof/ is served only when asked for, and never
// the command line.
func TestServerPprof(t *testing.T) {
	reg, _ := newMetrics(t)
	srv := metrics.NewServer(metrics.ServerConfig{Addr: "127.0.0.1:0", Pprof: true}, reg, nil, nil, nil)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	base := "http://" + srv.Addr()
	for _, tt := range []struct {
		path, want string
		status     int
	}{
		{"/debug/pprof/", "goroutine", 200},
		{"/debug/pprof/heap?debug=1", "heap profile", 200},
		{"/debug/pprof/profile?seconds=1", "", 200},
		{"/debug/pprof/trace?seconds=0.1", "", 200},
		{"/debug/pprof/cmdline", "", 404},
		{"/readyz", "ok", 200},
	} {
		status, body := do(t, http.MethodGet, base+tt.path)
		if status != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("%s: status %d, body %.80q; want %d with %q", tt.path, status, body, tt.status, tt.want)
		}
		if tt.status == 200 && len(body) == 0 {
			t.Errorf("%s: empty body", tt.path)
		}
	}
}
