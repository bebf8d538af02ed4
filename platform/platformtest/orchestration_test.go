package platformtest

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestOrchestrationLifecycle(t *testing.T) {
	h := newHarness(t, Config{}) // fixedPlan: queued 1s, steps 1s + 1s
	status, body := h.put(pathRevert, map[string]any{"signer": testSigner(), "processId": docPID, "securityId": "USS3JKS01I00"})
	if status != 200 {
		t.Fatalf("revert: %d %s", status, body)
	}
	steps := []struct {
		at      time.Duration // since acceptance
		status  string
		current float64
		done    bool
	}{
		{0, "queued", 0, false},
		{1500 * time.Millisecond, "in_progress", 0, false},
		{2500 * time.Millisecond, "in_progress", 1, false},
		{3 * time.Second, "success", 1, true},
	}
	var elapsed time.Duration
	for _, st := range steps {
		h.clock.Advance(st.at - elapsed)
		elapsed = st.at
		got := h.orchestrations(docPID)
		if len(got) != 1 {
			t.Fatalf("at %v: %d orchestrations", st.at, len(got))
		}
		o := got[0]
		_, hasTS := o["timestamp"]
		if o["status"] != st.status || o["currentStep"] != st.current || hasTS != st.done {
			t.Errorf("at %v: %v", st.at, o)
		}
		pids, _ := o["processIds"].([]any)
		if len(pids) != 2 || pids[0] != docPID || !isV4(fmt.Sprint(pids[1])) || o["sourceTransactionId"] != docPID {
			t.Errorf("at %v: ids %v", st.at, o)
		}
		if sec, _ := h.sim.Security("USS3JKS01I00"); (sec.Status == StatusActive) != st.done {
			t.Errorf("at %v: security status %s", st.at, sec.Status)
		}
	}
	v, _ := h.sim.Orchestration(docPID)
	if !v.Terminal() || v.Outcome != "success" || len(v.Steps) != 2 || v.Steps[1].Status != "success" {
		t.Errorf("view %+v", v)
	}
}

func TestFailedOrchestration(t *testing.T) {
	tests := []struct {
		outcome      string
		failedStatus string
	}{{OutcomeFailed, "failed"}, {OutcomeDLQ, "timed_out"}}
	for _, tc := range tests {
		t.Run(tc.outcome, func(t *testing.T) {
			plan := func(string, string, string) *Plan {
				return &Plan{Steps: []time.Duration{time.Second, time.Second, time.Second}, Outcome: tc.outcome, FailStep: 1}
			}
			h := newHarness(t, Config{Plan: plan})
			_, body := h.put(pathCancel, map[string]any{"securityId": "USS3JKS02I00"})
			_, oid, _ := accepted(t, body)
			h.clock.Advance(1500 * time.Millisecond)
			if got := stepStatuses(t, h, oid); got != "success,in_progress,queued" {
				t.Errorf("running: %s", got)
			}
			h.clock.Advance(time.Second)
			if got := stepStatuses(t, h, oid); got != "success,"+tc.failedStatus+",failed" {
				t.Errorf("ended: %s", got)
			}
			o := h.orchestrations(oid)[0]
			if o["status"] != tc.outcome || o["currentStep"] != float64(1) || o["timestamp"] == nil {
				t.Errorf("orchestration %v", o)
			}
			if sec, _ := h.sim.Security("USS3JKS02I00"); sec.Status != StatusActive {
				t.Errorf("a %s orchestration changed the security: %s", tc.outcome, sec.Status)
			}
		})
	}
}

func stepStatuses(t *testing.T, h *harness, oid string) string {
	t.Helper()
	status, body := h.get(pathTxs + "?orchestrationIdsFilter=" + oid)
	if status != 200 {
		t.Fatalf("transactions: %d %s", status, body)
	}
	var txs []struct{ Status string }
	if err := json.Unmarshal(body, &txs); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tx := range txs {
		out = append(out, tx.Status)
	}
	return strings.Join(out, ",")
}

func TestTimestampForms(t *testing.T) {
	h := newHarness(t, Config{AutoCreate: true, Plan: func(string, string, string) *Plan { return &Plan{} }})
	var ids []string
	for _, sec := range []string{"NEW000000001", "NEW000000002", "NEW000000003", "NEW000000004"} {
		_, body := h.put(pathCancel, map[string]any{"securityId": sec})
		_, oid, _ := accepted(t, body)
		ids = append(ids, oid)
	}
	h.clock.Advance(time.Millisecond)
	status, body := h.get(pathOrchs + "?orchestrationIdsFilter=" + strings.Join(ids, ","))
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var got []map[string]json.RawMessage
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	now := h.clock.Now().UTC()
	want := []string{
		`"` + now.Add(-time.Millisecond).Format("2006-01-02T15:04:05.000Z") + `"`,
		`"` + now.Format(time.DateOnly) + `"`,
		fmt.Sprint(now.Add(-time.Millisecond).UnixMilli()),
		`"` + fmt.Sprint(now.Add(-time.Millisecond).UnixMilli()) + `"`,
	}
	for i, o := range got {
		for _, f := range []string{"startDate", "createdDate", "timestamp"} {
			if string(o[f]) != want[i] {
				t.Errorf("orchestration %d %s = %s, want %s", i, f, o[f], want[i])
			}
		}
	}
}

func TestIdempotentProcessID(t *testing.T) {
	for _, noDedupe := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoDedupe=%v", noDedupe), func(t *testing.T) {
			h := newHarness(t, Config{NoDedupe: noDedupe})
			body := map[string]any{"signer": testSigner(), "processId": docPID, "securityId": "USS3JKS01I00"}
			_, first := h.put(pathRevert, body)
			status, again := h.put(pathRevert, body)
			if status != 200 || string(again) != string(first) {
				t.Fatalf("repeat: %d %s, first %s", status, again, first)
			}
			want := 1
			if noDedupe {
				want = 2
			}
			if h.sim.Accepted(docPID) != want || h.sim.MaxAcceptedPerProcess() != want || h.sim.OrchestrationCount() != 1 {
				t.Errorf("accepted %d, max %d, orchestrations %d", h.sim.Accepted(docPID), h.sim.MaxAcceptedPerProcess(), h.sim.OrchestrationCount())
			}
			h.clock.Advance(time.Minute) // the revert succeeded: the security is active now
			status, third := h.put(pathRevert, body)
			if noDedupe {
				if status != 409 || code(t, third) != "IS0012" {
					t.Errorf("after success without dedupe: %d %s", status, third)
				}
				return
			}
			if status != 200 || string(third) != string(first) || h.sim.Repeats(docPID) != 2 || h.sim.Accepted(docPID) != 1 {
				t.Errorf("after success: %d %s, repeats %d", status, third, h.sim.Repeats(docPID))
			}
		})
	}
}

func TestEffects(t *testing.T) {
	h := newHarness(t, Config{})
	for _, r := range []struct {
		path string
		body any
	}{
		{pathCancel, map[string]any{"securityId": "USS3JKS02I00"}},
		{pathRemove, map[string]any{"transactionData": txData("USS3JKS01I00"), "orgId": "US9QIMA"}},
		{rejectPath("US9QIMAOAS2Q"), map[string]any{"transactionData": txData("USS3JKS04I00")}},
		{pathRestrict, map[string]any{"securityId": "USS3JKS04I00"}},
	} {
		if status, body := h.put(r.path, r.body); status != 200 {
			t.Fatalf("%s: %d %s", r.path, status, body)
		}
	}
	if sec, _ := h.sim.Security("USS3JKS04I00"); sec.Restricted {
		t.Fatal("restricted before the orchestration succeeded")
	}
	h.clock.Advance(3 * time.Second)
	sec2, _ := h.sim.Security("USS3JKS02I00")
	sec1, _ := h.sim.Security("USS3JKS01I00")
	sec4, _ := h.sim.Security("USS3JKS04I00")
	asset, _ := h.sim.Asset("US9QIMAOAS2Q")
	if sec2.Status != StatusCancelled || len(sec1.ServiceProviders) != 0 || len(sec1.FormerServiceProviders) != 2 ||
		asset.Status != AssetRejected || !sec4.Restricted {
		t.Errorf("effects: %+v %+v %+v %+v", sec2, sec1, asset, sec4)
	}
	// Later actions see the effects.
	status, body := h.put(pathRemove, map[string]any{"transactionData": txData("USS3JKS01I00"), "orgId": "US9QIMA"})
	if status != 409 || code(t, body) != "SP0005" {
		t.Errorf("second removal: %d %s", status, body)
	}
	if status, body = h.put(pathCancel, map[string]any{"securityId": "USS3JKS04I00"}); status != 200 {
		t.Errorf("cancel after restrict: %d %s", status, body)
	}
}

func TestRandomPlansSettle(t *testing.T) {
	c := newClock()
	sim := New(Config{Now: c.Now, Seed: 7, AutoCreate: true, FailRate: 0.2, DLQRate: 0.1})
	t.Cleanup(sim.Close)
	var ids []string
	sim.mu.Lock()
	for i := range 300 {
		ids = append(ids, sim.newOrch(epCancel, "", fmt.Sprintf("SEC%d", i), "", defaultOrg, c.Now().UnixNano()).id)
	}
	sim.mu.Unlock()
	c.Advance(3*time.Second + 200*time.Millisecond) // at most queued 200ms + 3 steps of 1s
	seen := map[string]int{}
	for _, id := range ids {
		v, ok := sim.Orchestration(id)
		if !ok || !v.Terminal() || len(v.Steps) < 1 || len(v.Steps) > 3 {
			t.Fatalf("orchestration %+v", v)
		}
		seen[v.Status]++
	}
	if seen["success"] == 0 || seen["failed"] == 0 || seen["dlq"] == 0 {
		t.Errorf("outcomes %v", seen)
	}
}

func TestManyOrchestrationsAreCheap(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100k orchestrations")
	}
	c := newClock()
	sim := New(Config{Now: c.Now, Seed: 3})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	sim.mu.Lock()
	for i := range 100_000 {
		sim.newOrch(epCancel, "", "USS3JKS02I00", "", defaultOrg, c.Now().UnixNano()+int64(i))
	}
	sim.mu.Unlock()
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (after.HeapAlloc - before.HeapAlloc) / 100_000
	t.Logf("%d bytes per orchestration", per)
	if per > 1024 {
		t.Errorf("%d bytes per orchestration", per)
	}
	runtime.KeepAlive(sim)
}
