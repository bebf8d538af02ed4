package platformtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// acceptN starts n cancel orchestrations on fresh securities and returns their ids.
func acceptN(t *testing.T, h *harness, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		status, body := h.put(pathCancel, map[string]any{"securityId": fmt.Sprintf("AUTO%08d", i)})
		if status != 200 {
			t.Fatalf("cancel: %d %s", status, body)
		}
		_, oid, _ := accepted(t, body)
		ids = append(ids, oid)
	}
	return ids
}

func uuids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = uuid.NewString()
	}
	return out
}

func TestOrchestrationsQuery(t *testing.T) {
	h := newHarness(t, Config{AutoCreate: true})
	ids := acceptN(t, h, 3)
	h.clock.Advance(3 * time.Second) // all three succeed
	_, body := h.put(pathRevert, map[string]any{"signer": testSigner(), "securityId": "USS3JKS01I00"})
	_, running, _ := accepted(t, body)
	tests := []struct {
		name, query string
		status      int
		want        []string // orchestration ids in order
	}{
		{"by ids, unknown absent, creation order", "orchestrationIdsFilter=" + strings.Join([]string{ids[2], uuid.NewString(), ids[0]}, ","), 200, []string{ids[0], ids[2]}},
		{"upper-case id", "orchestrationIdsFilter=" + strings.ToUpper(ids[1]), 200, []string{ids[1]}},
		{"50 ids", "orchestrationIdsFilter=" + strings.Join(append(uuids(49), ids[1]), ","), 200, []string{ids[1]}},
		{"all, paged", "pageSize=2&offset=1", 200, []string{ids[1], ids[2]}},
		{"status filter", "orchestrationStatusFilter=queued,in_progress", 200, []string{running}},
		{"source filter", "sourceTransactionIdsFilter=" + ids[0], 200, []string{ids[0]}},
		{"51 ids", "orchestrationIdsFilter=" + strings.Join(uuids(51), ","), 400, nil},
		{"not a UUID", "orchestrationIdsFilter=abc", 400, nil},
		{"empty id", "orchestrationIdsFilter=" + ids[0] + ",", 400, nil},
		{"pageSize 51", "pageSize=51", 400, nil},
		{"pageSize 0", "pageSize=0", 400, nil},
		{"negative offset", "offset=-1", 400, nil},
		{"unknown status", "orchestrationStatusFilter=pending", 400, nil},
		{"six statuses", "orchestrationStatusFilter=queued,queued,queued,queued,queued,queued", 400, nil},
		{"processIdsFilter is not a parameter here", "processIdsFilter=" + ids[0], 400, nil},
		{"repeated parameter", "pageSize=1&pageSize=2", 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := h.get(pathOrchs + "?" + tc.query)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if status != 200 {
				if code(t, body) != "GN0002" {
					t.Errorf("code: %s", body)
				}
				return
			}
			var got []struct{ OrchestrationID string }
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, o := range got {
				gotIDs = append(gotIDs, o.OrchestrationID)
			}
			if strings.Join(gotIDs, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", gotIDs, tc.want)
			}
		})
	}
	t.Run("empty result is an empty array", func(t *testing.T) {
		if _, body := h.get(pathOrchs + "?orchestrationIdsFilter=" + uuid.NewString()); string(body) != "[]" {
			t.Errorf("body %s", body)
		}
	})
	t.Run("scope", func(t *testing.T) {
		tok := h.fetchToken("txworker", "sandbox-secret", "cancelOffering")
		resp, body := h.do(http.MethodGet, pathOrchs, nil, http.Header{"Authorization": {"Bearer " + tok}})
		if resp.StatusCode != 403 || code(t, body) != "AU0002" {
			t.Errorf("%d %s", resp.StatusCode, body)
		}
	})
}

func TestTransactionsQuery(t *testing.T) {
	h := newHarness(t, Config{})
	_, body := h.put(rejectPath("US9QIMAOAS2Q"), map[string]any{"processId": docPID, "transactionData": txData("USS3JKS04I00")})
	_, oid, _ := accepted(t, body)
	v, _ := h.sim.Orchestration(oid)
	second := v.Steps[1].ProcessID
	h.clock.Advance(2500 * time.Millisecond) // first step done, second running
	type tx struct {
		ProcessID, OrchestrationID, GrantedByProcessID, Status, Type, Method, OrgID string
		Timestamp                                                                   any
		BlockchainDetails                                                           *struct {
			BlockNumber   int
			TransactionID string
			ChannelName   string
		}
		Details struct{ SecurityIDs, AssetIDs []string }
	}
	tests := []struct {
		name, query string
		status      int
		want        []string // processIds
	}{
		{"by orchestration", "orchestrationIdsFilter=" + oid, 200, []string{docPID, second}},
		{"by later step", "processIdsFilter=" + second, 200, []string{second}},
		{"by both", "processIdsFilter=" + docPID + "&orchestrationIdsFilter=" + oid, 200, []string{docPID}},
		{"by status", "transactionStatusFilter=in_progress&orgIdsFilter=US9QI", 200, []string{second}},
		{"by method", "transactionMethodFilter=rejectAsset", 200, []string{docPID}},
		{"unknown ids", "processIdsFilter=" + uuid.NewString(), 200, nil},
		{"11 orchestration ids", "orchestrationIdsFilter=" + strings.Join(uuids(11), ","), 400, nil},
		{"51 process ids", "processIdsFilter=" + strings.Join(uuids(51), ","), 400, nil},
		{"unknown status", "transactionStatusFilter=dlq", 400, nil},
		{"bad channel", "channelName=" + strings.Repeat("x", 21), 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := h.get(pathTxs + "?" + tc.query)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if status != 200 {
				return
			}
			var got []tx
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			var pids []string
			for _, x := range got {
				pids = append(pids, x.ProcessID)
				if x.OrchestrationID != oid || x.OrgID != "US9QI" || x.Type == "" || x.Method == "" || x.Timestamp == nil ||
					x.Details.SecurityIDs[0] != "USS3JKS04I00" || x.Details.AssetIDs[0] != "US9QIMAOAS2Q" {
					t.Errorf("entry %+v", x)
				}
				if (x.Status == "success") != (x.BlockchainDetails != nil) {
					t.Errorf("blockchainDetails %+v for %s", x.BlockchainDetails, x.Status)
				}
			}
			if strings.Join(pids, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", pids, tc.want)
			}
		})
	}
}
