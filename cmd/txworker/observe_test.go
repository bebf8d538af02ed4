package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/txworker/txworker/platform/platformtest"
)

// scrape returns the value of every sample on /metrics by series.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// The counters on /metrics move as the events do.
func TestMetricsFollowEvents(t *testing.T) {
	e := newTestEnv(t, platformtest.Config{})
	addr, _, _ := e.startWorker(nil)
	e.watch()
	before := scrape(t, addr)
	e.publish("cancel-txn", `{"commandId":"m-1","params":{"submitKey":"15d071280b92c867f86975b9cd2e8765"}}`, "")
	e.publish("cancel-offering", `{"commandId":"m-2","params":{"securityId":"USS3JKS02I00"}}`, "")
	e.publish("cancel-offering", `{"commandId":"m-3","params":{}}`, "")
	for _, id := range []string{"m-1", "m-2", "m-3"} {
		e.terminal(id, waitLong)
	}
	want := map[string]float64{
		`txworker_commands_received_total{action="cancel-txn"}`:                            1,
		`txworker_commands_received_total{action="cancel-offering"}`:                       2,
		`txworker_commands_terminal_total{action="cancel-txn",outcome="succeeded"}`:        1,
		`txworker_commands_terminal_total{action="cancel-offering",outcome="succeeded"}`:   1,
		`txworker_commands_terminal_total{action="cancel-offering",outcome="rejected"}`:    1,
		`txworker_commands_rejected_total{reason="invalid_params"}`:                        1,
		`txworker_events_published_total{outcome="accepted"}`:                              1,
		`txworker_events_published_total{outcome="succeeded"}`:                             2,
		`txworker_command_duration_seconds_count{action="cancel-txn",outcome="succeeded"}`: 1,
	}
	// Counters move just after the event is stored: scrape until they did.
	var after map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; {
		after = scrape(t, addr)
		settled := true
		for series, delta := range want {
			settled = settled && after[series]-before[series] == delta
		}
		if settled || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling an HTTP endpoint
	}
	for series, delta := range want {
		if got := after[series] - before[series]; got != delta {
			t.Errorf("%s moved by %v, want %v", series, got, delta)
		}
	}
	for _, series := range []string{`txworker_polls_total`, `txworker_ready`} {
		if after[series] < 1 {
			t.Errorf("%s = %v, want at least 1", series, after[series])
		}
	}
	moved := false
	for series, v := range after {
		if strings.HasPrefix(series, `txworker_platform_requests_total{`) && strings.Contains(series, `endpoint="cancel-offering"`) && v > before[series] {
			moved = true
		}
	}
	if !moved {
		t.Error("no platform request counted for cancel-offering")
	}
}

var idFields = []string{"command_id", "process_id", "orchestration_id"}

// Every log line about a command carries its correlation fields, and the
// logs hold no signer e-mail address.
func TestLogsCarryCorrelationFields(t *testing.T) {
	e := newTestEnv(t, platformtest.Config{})
	_, logs, stop := e.startWorker(nil)
	e.watch()
	e.publish("revert-to-active", `{"commandId":"log-1","params":{"securityId":"USS3JKS01I00","signer":{"email":"signer.secret@example.com","name":"S"}}}`, "")
	e.publish("revert-to-active", `{"commandId":"log-2","params":{"securityId":"USS3JKS06I00","signer":{"email":"signer.secret@example.com","name":"S"}}}`, "")
	e.terminal("log-1", waitLong)
	e.terminal("log-2", waitLong)
	stop()
	text := logs.String()
	if strings.Contains(text, "signer.secret@example.com") {
		t.Error("a signer's e-mail address was logged")
	}
	lines := 0
	for _, line := range strings.Split(text, "\n") {
		if !strings.Contains(line, `"command_id"`) {
			continue
		}
		lines++
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if key := repeatedKey(line); key != "" {
			t.Errorf("field %q twice in one line (log readers keep one of them): %s", key, line)
		}
		if rec["action"] == nil {
			t.Errorf("line without action: %s", line)
		}
		if msg, _ := rec["msg"].(string); strings.Contains(msg, "accepted") || strings.Contains(msg, "settled") {
			if rec["process_id"] == nil {
				t.Errorf("line without process_id: %s", line)
			}
		}
	}
	if lines < 4 {
		t.Errorf("only %d log lines about commands:\n%s", lines, text)
	}
	if !regexp.MustCompile(`"logger":"txworker\.(worker|poller)`).MatchString(text) {
		t.Error("no named component logger")
	}
}

// SIGTERM: /readyz turns 503 at once, the platform call in flight
// finishes, run returns within the budget.
func TestGracefulShutdownFinishesInFlightWork(t *testing.T) {
	e := newTestEnv(t, platformtest.Config{})
	proxy := newHoldingProxy(t, e.sim.URL(), "/external/v1/security-admin/cancel")
	addr, logs, stop := e.startWorker(map[string]string{"TXWORKER_PLATFORM_URL": proxy.srv.URL, "TXWORKER_REQUEST_TIMEOUT": "20s"})
	e.watch()
	e.publish("cancel-offering", `{"commandId":"grace-1","params":{"securityId":"USS3JKS02I00"}}`, "")
	select {
	case <-proxy.answered:
	case <-time.After(waitLong):
		t.Fatalf("platform not called:\n%s", logs.String())
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	waitHTTP(t, "http://"+addr+"/readyz", http.StatusServiceUnavailable, 10*time.Second)
	close(proxy.release)
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after the in-flight call finished")
	}
	e.waitFor(waitLong, "the accepted event of the in-flight call", func() bool {
		return len(e.events["grace-1:accepted"]) == 1
	})
}

// A scrape of a running worker passes `promtool check metrics` (CI
// provides promtool through $PROMTOOL; elsewhere the test is skipped).
func TestScrapePassesPromtool(t *testing.T) {
	promtool := os.Getenv("PROMTOOL")
	if promtool == "" {
		var err error
		if promtool, err = exec.LookPath("promtool"); err != nil {
			t.Skip("no promtool: set PROMTOOL (.ci/run does)")
		}
	}
	e := newTestEnv(t, platformtest.Config{})
	addr, _, _ := e.startWorker(nil)
	e.watch()
	e.publish("cancel-offering", `{"commandId":"p-1","params":{"securityId":"USS3JKS02I00"}}`, "")
	e.terminal("p-1", waitLong)
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// repeatedKey returns a top-level key that occurs twice in the JSON object
// line, or "".
func repeatedKey(line string) string {
	dec := json.NewDecoder(strings.NewReader(line))
	if _, err := dec.Token(); err != nil {
		return ""
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := tok.(string)
		if seen[key] {
			return key
		}
		seen[key] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return ""
		}
	}
	return ""
}
