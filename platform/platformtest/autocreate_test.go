package platformtest

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestAutoCreate(t *testing.T) {
	h := newHarness(t, Config{AutoCreate: true})
	corr := map[string]string{"correlationId": "fund/7", "orgId": "ZZ001"}
	tests := []struct {
		name, path string
		body       any
		check      func(t *testing.T, h *harness, oid string)
	}{
		{"cancel", pathCancel, map[string]any{"securityId": "NEWSEC000001"}, func(t *testing.T, h *harness, _ string) {
			if sec, _ := h.sim.Security("NEWSEC000001"); sec.Status != StatusCancelled {
				t.Errorf("security %+v", sec)
			}
		}},
		{"revert", pathRevert, map[string]any{"signer": testSigner(), "securityId": "NEWSEC000002"}, func(t *testing.T, h *harness, _ string) {
			if sec, _ := h.sim.Security("NEWSEC000002"); sec.Status != StatusActive {
				t.Errorf("security %+v", sec)
			}
		}},
		{"revert by correlation", pathRevert, map[string]any{"signer": testSigner(), "securityCorrelationData": corr}, func(t *testing.T, h *harness, oid string) {
			v, _ := h.sim.Orchestration(oid)
			if sec, ok := h.sim.Security(v.Resource); !ok || sec.Correlations[0].CorrelationID != "fund/7" {
				t.Errorf("security %+v", sec)
			}
		}},
		{"remove", pathRemove, map[string]any{"transactionData": txData("NEWSEC000003"), "orgId": "NEWORG"}, func(t *testing.T, h *harness, _ string) {
			if sec, _ := h.sim.Security("NEWSEC000003"); len(sec.FormerServiceProviders) != 1 {
				t.Errorf("security %+v", sec)
			}
		}},
		{"reject platform id", rejectPath("NEWASSET0001"), map[string]any{"transactionData": txData("NEWSEC000004")}, func(t *testing.T, h *harness, _ string) {
			if a, _ := h.sim.Asset("NEWASSET0001"); a.Status != AssetRejected || a.SecurityID != "NEWSEC000004" {
				t.Errorf("asset %+v", a)
			}
		}},
		{"reject correlation id", rejectPath("order 1/2?#%x"), map[string]any{"transactionData": txData("NEWSEC000005")}, func(t *testing.T, h *harness, oid string) {
			v, _ := h.sim.Orchestration(oid)
			if a, _ := h.sim.Asset(v.Resource); a.Correlation.CorrelationID != "order 1/2?#%x" || a.Status != AssetRejected {
				t.Errorf("asset %+v", a)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := h.put(tc.path, tc.body)
			if status != http.StatusOK {
				t.Fatalf("%d %s", status, body)
			}
			_, oid, _ := accepted(t, body)
			h.clock.Advance(3 * time.Second)
			tc.check(t, h, oid)
		})
	}
	t.Run("existing entities are not changed", func(t *testing.T) {
		status, body := h.put(pathCancel, map[string]any{"securityId": "USS3JKS01I00"})
		if status != 409 || code(t, body) != "IS0010" {
			t.Errorf("%d %s", status, body)
		}
	})
	t.Run("jm", func(t *testing.T) {
		key := uuid.NewString()
		resp, body := h.do(http.MethodPost, pathJMCancel, map[string]any{"params": map[string]any{"submitKey": key}}, basicJM())
		if txn, _ := h.sim.Txn(key); resp.StatusCode != 200 || txn.FormStatus != FormAbandoned {
			t.Errorf("%d %s %+v", resp.StatusCode, body, txn)
		}
	})
}

func TestRequestLog(t *testing.T) {
	h := newHarness(t, Config{LogSize: 3})
	h.token()
	for range 3 {
		h.get(pathOrchs)
	}
	h.put(rejectPath("a/b"), map[string]any{})
	resp, _ := h.do(http.MethodGet, "/nowhere", nil, http.Header{"User-Agent": {""}})
	if resp.StatusCode != 403 {
		t.Fatalf("no User-Agent: %d", resp.StatusCode)
	}
	reqs := h.sim.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests kept, want 3", len(reqs))
	}
	first, last := reqs[0], reqs[2]
	if first.Endpoint != "orchestrations" || first.UserAgent != testUA || first.Status != 200 ||
		last.Path != "/nowhere" || last.Status != 403 || last.UserAgent != "" {
		t.Errorf("log %+v", reqs)
	}
	if reqs[1].Path != "/external/v1/primary/asset/a%2Fb/reject" || reqs[1].Endpoint != "reject-asset" {
		t.Errorf("escaped path %+v", reqs[1])
	}
	for prefix, want := range map[string]int{"/oauth2/token": 1, pathOrchs: 3, "/external/": 4, "/external/v1/primary/asset/a%2Fb": 1, "": 6} {
		if got := h.sim.Count("", prefix); got != want {
			t.Errorf("Count(%q) = %d, want %d", prefix, got, want)
		}
	}
	if h.sim.Count(http.MethodPost, pathOrchs) != 0 {
		t.Error("Count ignores the method")
	}
	h.sim.Reset()
	if len(h.sim.Requests()) != 0 || h.sim.Count("", "") != 0 {
		t.Error("Reset kept the log")
	}
}
