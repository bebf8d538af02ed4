package platformtest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	revert := map[string]any{"signer": testSigner(), "processId": docPID, "securityId": "USS3JKS01I00"}
	tests := []struct {
		name     string
		faults   Faults
		status   int // 0: connection closed without an answer
		fault    string
		accepted int
		check    func(t *testing.T, resp *http.Response, body []byte)
	}{
		{"error", Faults{ErrorRate: 1}, 5, "error", 0, nil},
		{"rate limit", Faults{RateLimitRate: 1, RetryAfter: 1500 * time.Millisecond}, 429, "rate-limit", 0,
			func(t *testing.T, resp *http.Response, _ []byte) {
				if ra := resp.Header.Get("Retry-After"); ra != "2" {
					t.Errorf("Retry-After %q", ra)
				}
			}},
		{"drop", Faults{DropRate: 1}, 0, "drop", 0, nil},
		{"drop after accept", Faults{DropAfterAcceptRate: 1}, 0, "drop-after-accept", 1, nil},
		{"malformed", Faults{MalformedRate: 1}, 200, "malformed", 1,
			func(t *testing.T, _ *http.Response, body []byte) {
				var a struct{ ProcessID, OrchestrationID string }
				if json.Unmarshal(body, &a) == nil && a.OrchestrationID != "" {
					t.Errorf("well-formed body %s", body)
				}
			}},
		{"revoke", Faults{RevokeRate: 1}, 401, "revoke", 0, nil},
		{"only elsewhere", Faults{ErrorRate: 1, Only: "token,transactions,jm"}, 200, "", 1, nil},
		{"only here", Faults{ErrorRate: 1, Only: "revert-to-active"}, 5, "error", 0, nil},
		{"only actions", Faults{ErrorRate: 1, Only: " actions "}, 5, "error", 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			hdr := h.bearer() // fetched before the faults are set
			h.sim.SetFaults(tc.faults)
			body, _ := json.Marshal(revert)
			req, _ := http.NewRequest(http.MethodPut, h.sim.URL()+pathRevert, strings.NewReader(string(body)))
			req.Header = hdr
			req.Header.Set("User-Agent", testUA)
			req.Header.Set("Content-Type", "application/json")
			resp, err := h.hc.Do(req)
			status := 0
			var answer []byte
			if err == nil {
				status = resp.StatusCode
				answer, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			switch {
			case tc.status == 5 && (status < 500 || status > 504):
				t.Errorf("status %d, want 5xx", status)
			case tc.status != 5 && status != tc.status:
				t.Errorf("status %d (%v), want %d", status, err, tc.status)
			}
			if tc.check != nil && resp != nil {
				tc.check(t, resp, answer)
			}
			if got := h.sim.Accepted(docPID); got != tc.accepted {
				t.Errorf("accepted %d, want %d", got, tc.accepted)
			}
			reqs := h.sim.Requests()
			last := reqs[len(reqs)-1]
			if last.Fault != tc.fault || (tc.status == 0) != (last.Status == 0) {
				t.Errorf("logged %+v", last)
			}
			// Faults never corrupt state: once they stop, the same request is answered consistently.
			h.sim.SetFaults(Faults{})
			h.tok = ""
			status2, again := h.put(pathRevert, revert)
			if status2 != 200 || h.sim.Accepted(docPID) != 1 || h.sim.OrchestrationCount() != 1 {
				t.Errorf("after faults: %d %s, accepted %d", status2, again, h.sim.Accepted(docPID))
			}
		})
	}
}

func TestFaultRatesAndLatency(t *testing.T) {
	h := newHarness(t, Config{Faults: Faults{ErrorRate: 0.5, Latency: 20 * time.Millisecond, LatencyJitter: 10 * time.Millisecond, Only: "transactions"}})
	start := time.Now()
	failed := 0
	const n = 40
	for range n {
		status, _ := h.get(pathOrchs)
		if status >= 500 {
			failed++
		}
	}
	if elapsed := time.Since(start); elapsed < n*20*time.Millisecond {
		t.Errorf("%d requests took %v: latency not applied", n, elapsed)
	}
	if failed < 5 || failed > 35 {
		t.Errorf("%d of %d requests failed with ErrorRate 0.5", failed, n)
	}
	if h.sim.Faults().ErrorRate != 0.5 {
		t.Errorf("Faults() = %+v", h.sim.Faults())
	}
}

func TestMalformedOnJMCancelStillCancels(t *testing.T) {
	h := newHarness(t, Config{Faults: Faults{MalformedRate: 1, Only: "cancel-txn"}})
	resp, _ := h.do(http.MethodPost, pathJMCancel, map[string]any{"params": map[string]any{"submitKey": "15d071280b92c867f86975b9cd2e8765"}}, basicJM())
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if txn, _ := h.sim.Txn("15d071280b92c867f86975b9cd2e8765"); txn.FormStatus != FormAbandoned {
		t.Errorf("a JM 200 must mean Abandoned, got %s", txn.FormStatus)
	}
	// An error answer is never turned into a malformed 200.
	resp, body := h.do(http.MethodPost, pathJMCancel, map[string]any{"params": map[string]any{"submitKey": "nope"}}, basicJM())
	if resp.StatusCode != 400 || jmKey(t, body) != "txnNotFound" {
		t.Errorf("unknown txn: %d %s", resp.StatusCode, body)
	}
}

func TestInjected500OnJM(t *testing.T) {
	h := newHarness(t, Config{Seed: 5})
	h.sim.SetFaults(Faults{ErrorRate: 1, Only: "jm"})
	for range 20 {
		resp, body := h.do(http.MethodPost, pathJMQuery, map[string]any{}, basicJM())
		if resp.StatusCode == 500 {
			if jmKey(t, body) != "internalError" {
				t.Errorf("JM 500 body %s", body)
			}
			return
		}
	}
	t.Error("no 500 in 20 injected errors")
}
