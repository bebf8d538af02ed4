package platformtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"
)

type seqTx struct {
	Transaction *struct {
		ProcessID, OrchestrationID, Status, Timestamp string
	} `json:"transaction"`
	Orchestration *struct {
		OrchestrationID, Status, Timestamp string
	} `json:"orchestration"`
}

// sequence GETs the Sequencer with q and decodes the entries as "kind status timestamp".
func (h *harness) sequence(q url.Values) (int, []string) {
	h.t.Helper()
	status, body := h.get(sequencerPath + "?" + q.Encode())
	if status != http.StatusOK {
		return status, nil
	}
	var page struct{ Sequence []seqTx }
	if err := json.Unmarshal(body, &page); err != nil {
		h.t.Fatalf("sequencer body %s: %v", body, err)
	}
	var out []string
	for _, e := range page.Sequence {
		switch {
		case e.Transaction != nil:
			out = append(out, "tx "+e.Transaction.Status+" "+e.Transaction.Timestamp)
		case e.Orchestration != nil:
			out = append(out, "orch "+e.Orchestration.Status+" "+e.Orchestration.Timestamp)
		default:
			h.t.Fatalf("entry of neither kind in %s", body)
		}
	}
	return http.StatusOK, out
}

func TestSequencerEntries(t *testing.T) {
	h := newHarness(t, Config{})
	status, body := h.put(pathRevert, map[string]any{"signer": testSigner(), "processId": docPID, "securityId": "USS3JKS01I00"})
	if status != http.StatusOK {
		t.Fatalf("revert: %d %s", status, body)
	}
	h.clock.Advance(1500 * time.Millisecond) // queued 1s, step 1 running
	_, got := h.sequence(url.Values{})
	if want := []string{"tx in_progress 2024-09-12T10:00:01.000Z"}; !slices.Equal(got, want) {
		t.Fatalf("mid-run entries %q, want %q", got, want)
	}
	h.clock.Advance(2 * time.Second)
	_, got = h.sequence(url.Values{})
	all := []string{
		"tx in_progress 2024-09-12T10:00:01.000Z",
		"tx success 2024-09-12T10:00:02.000Z",
		"tx in_progress 2024-09-12T10:00:02.000Z",
		"tx success 2024-09-12T10:00:03.000Z",
		"orch success 2024-09-12T10:00:03.000Z",
	}
	if !slices.Equal(got, all) {
		t.Fatalf("entries\n got %q\nwant %q", got, all)
	}
	for _, tc := range []struct {
		name string
		q    url.Values
		want []string
	}{
		{"fromDate", url.Values{"fromDate": {"2024-09-12T10:00:02.000Z"}}, all[1:]},
		{"toDate", url.Values{"toDate": {"2024-09-12T10:00:02.000Z"}}, all[:3]},
		{"epoch ms", url.Values{"fromDate": {"1726135203000"}}, all[3:]},
		{"paging", url.Values{"pageSize": {"2"}, "offset": {"2"}}, all[2:4]},
		{"past the end", url.Values{"offset": {"5"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, got := h.sequence(tc.q); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	for _, q := range []url.Values{{"pageSize": {"101"}}, {"pageSize": {"0"}}, {"fromDate": {"yesterday"}}, {"other": {"1"}}} {
		if status, _ := h.sequence(q); status != http.StatusBadRequest {
			t.Errorf("query %v: status %d, want 400", q, status)
		}
	}
	// Without readSequencer: 403 AU0002.
	tok := h.fetchToken("txworker", "sandbox-secret", scopeRead)
	resp, b := h.do(http.MethodGet, sequencerPath, nil, http.Header{"Authorization": {"Bearer " + tok}})
	if resp.StatusCode != http.StatusForbidden || code(t, b) != "AU0002" {
		t.Errorf("without the scope: %d %s, want 403 AU0002", resp.StatusCode, b)
	}
	if n := h.sim.Count("GET", sequencerPath); n == 0 {
		t.Error("Sequencer requests not counted under their path")
	}
}

func TestSequencerFailedSteps(t *testing.T) {
	h := newHarness(t, Config{Plan: func(string, string, string) *Plan {
		return &Plan{Steps: []time.Duration{time.Second, time.Second, time.Second}, Outcome: OutcomeDLQ, FailStep: 1}
	}})
	if status, body := h.put(pathRevert, map[string]any{"signer": testSigner(), "processId": docPID, "securityId": "USS3JKS01I00"}); status != http.StatusOK {
		t.Fatalf("revert: %d %s", status, body)
	}
	h.clock.Advance(time.Minute)
	_, got := h.sequence(url.Values{})
	want := []string{
		"tx in_progress 2024-09-12T10:00:00.000Z",
		"tx success 2024-09-12T10:00:01.000Z",
		"tx in_progress 2024-09-12T10:00:01.000Z",
		"tx timed_out 2024-09-12T10:00:02.000Z",
		"tx failed 2024-09-12T10:00:02.000Z",
		"orch dlq 2024-09-12T10:00:02.000Z",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("entries\n got %q\nwant %q", got, want)
	}
}

func TestSequencerFaults(t *testing.T) {
	base := []string{
		"tx in_progress 2024-09-12T10:00:01.000Z",
		"tx success 2024-09-12T10:00:02.000Z",
		"tx in_progress 2024-09-12T10:00:02.000Z",
		"tx success 2024-09-12T10:00:03.000Z",
		"orch success 2024-09-12T10:00:03.000Z",
	}
	for _, tc := range []struct {
		name  string
		cfg   Config
		at    time.Duration // after acceptance
		check func(t *testing.T, got []string)
	}{
		{"drop all", Config{SequencerDrop: 1}, time.Minute, func(t *testing.T, got []string) {
			if len(got) != 0 {
				t.Errorf("dropped entries published: %q", got)
			}
		}},
		{"duplicate all", Config{SequencerDuplicate: 1}, time.Minute, func(t *testing.T, got []string) {
			var want []string
			for _, e := range base {
				want = append(want, e, e)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %q, want each entry twice", got)
			}
		}},
		{"delay all, not yet published", Config{SequencerDelay: 1, SequencerLate: 5 * time.Second}, 4 * time.Second, func(t *testing.T, got []string) {
			if len(got) != 0 {
				t.Errorf("late entries published early: %q", got)
			}
		}},
		{"delay all, published late with their own timestamps", Config{SequencerDelay: 1, SequencerLate: 5 * time.Second}, 9 * time.Second, func(t *testing.T, got []string) {
			if !slices.Equal(got, base) {
				t.Errorf("got %q, want %q", got, base)
			}
		}},
		{"reorder all", Config{SequencerReorder: 1}, time.Minute, func(t *testing.T, got []string) {
			if slices.Equal(got, base) || !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(base))) {
				t.Errorf("got %q, want the same entries out of order", got)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.cfg)
			if status, body := h.put(pathRevert, map[string]any{"signer": testSigner(), "processId": docPID, "securityId": "USS3JKS01I00"}); status != http.StatusOK {
				t.Fatalf("revert: %d %s", status, body)
			}
			h.clock.Advance(tc.at)
			_, got := h.sequence(url.Values{})
			tc.check(t, got)
			_, again := h.sequence(url.Values{})
			if !slices.Equal(got, again) {
				t.Errorf("two reads disagree: %q then %q", got, again)
			}
		})
	}
}
