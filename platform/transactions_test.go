package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// listAPI answers the two Transactions API endpoints from fixed data, honouring the filters,
// pageSize and offset, and refusing more ids than documented.
func listAPI(t *testing.T, orchs map[string]string, txs []Transaction) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) {
		q := r.URL.Query()
		size, err1 := strconv.Atoi(q.Get("pageSize"))
		offset, err2 := strconv.Atoi(q.Get("offset"))
		if err1 != nil || err2 != nil || size < 1 || size > 50 || offset < 0 {
			writeJSON(w, 400, `{"errorDetails":[{"code":"GN0002"}]}`)
			return
		}
		var items []any
		switch r.URL.Path {
		case orchestrationsPath:
			ids := strings.Split(q.Get("orchestrationIdsFilter"), ",")
			if len(ids) > 50 {
				writeJSON(w, 400, `{"errorDetails":[{"code":"GN0002"}]}`)
				return
			}
			for _, id := range ids {
				if o, ok := orchs[id]; ok {
					items = append(items, json.RawMessage(o))
				}
			}
		case transactionsPath:
			pids, oids := q.Get("processIdsFilter"), q.Get("orchestrationIdsFilter")
			if len(strings.Split(pids, ",")) > 50 || len(strings.Split(oids, ",")) > 10 || (pids == "") == (oids == "") {
				writeJSON(w, 400, `{"errorDetails":[{"code":"GN0002"}]}`)
				return
			}
			for _, tx := range txs {
				if pids != "" && slices.Contains(strings.Split(pids, ","), tx.ProcessID) ||
					oids != "" && slices.Contains(strings.Split(oids, ","), tx.OrchestrationID) {
					items = append(items, tx)
				}
			}
		default:
			t.Errorf("unexpected path %s", r.URL.Path)
		}
		items = items[min(offset, len(items)):]
		items = items[:min(size, len(items))]
		b, _ := json.Marshal(items)
		if items == nil {
			b = []byte(`[]`)
		}
		writeJSON(w, 200, string(b))
	}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}

func TestOrchestrationsBatching(t *testing.T) {
	all := ids("orch", 120)
	orchs := map[string]string{}
	for i, id := range all {
		orchs[id] = fmt.Sprintf(`{"orchestrationId":%q,"status":"in_progress","startDate":%d,"processIds":[%q],"currentStep":1}`, id, 1726099200000+i, id)
	}
	f := newFakeCorastone(t)
	f.setAPI(listAPI(t, orchs, nil))
	obs := &observed{}
	c := newTestCorastone(t, f.config(), obs)
	query := append(slices.Clone(all), all[0], all[1]) // duplicates are asked for once
	got, err := c.Orchestrations(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 120 || got[0].OrchestrationID != all[0] || got[0].StartDate.UnixMilli() != 1726099200000 {
		t.Errorf("%d orchestrations, first %+v", len(got), got[0])
	}
	reqs := f.apiRequests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, want := range []int{50, 50, 20} {
		q := reqs[i].Query
		if n := len(strings.Split(q.Get("orchestrationIdsFilter"), ",")); n != want || q.Get("pageSize") != "50" || q.Get("offset") != "0" {
			t.Errorf("request %d: %d ids, %s", i, n, reqs[i].RawQuery)
		}
		if !strings.Contains(reqs[i].RawQuery, ",") {
			t.Errorf("ids not comma-separated: %s", reqs[i].RawQuery)
		}
	}
	requests, _, _ := obs.snapshot()
	if requests[1] != "corastone orchestrations 200" {
		t.Errorf("observed %q", requests)
	}

	// Unknown ids are absent; nothing asked, nothing sent.
	got, err = c.Orchestrations(context.Background(), []string{"nope", all[5]})
	if err != nil || len(got) != 1 || got[0].OrchestrationID != all[5] {
		t.Errorf("got %v %v", got, err)
	}
	before := len(f.apiRequests())
	if got, err := c.Orchestrations(context.Background(), nil); err != nil || got != nil || len(f.apiRequests()) != before {
		t.Errorf("empty: %v %v", got, err)
	}
}

func TestOrchestrationsFollowsFullPages(t *testing.T) {
	// The server repeats each orchestration, so 50 ids fill a page without answering all of them.
	f := newFakeCorastone(t)
	want := ids("o", 30)
	f.setAPI(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		var items []string
		for _, id := range want {
			items = append(items, `{"orchestrationId":"`+id+`","status":"queued"}`, `{"orchestrationId":"`+id+`","status":"queued"}`)
		}
		off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		items = items[min(off, len(items)):]
		items = items[:min(50, len(items))]
		writeJSON(w, 200, "["+strings.Join(items, ",")+"]")
	})
	c := newTestCorastone(t, f.config(), nil)
	got, err := c.Orchestrations(context.Background(), want)
	if err != nil || len(got) != 30 {
		t.Fatalf("%d %v", len(got), err)
	}
	var offsets []string
	for _, r := range f.apiRequests() {
		offsets = append(offsets, r.Query.Get("offset"))
	}
	if !slices.Equal(offsets, []string{"0", "50"}) {
		t.Errorf("offsets %q", offsets)
	}
}

func TestTransactionsSplitting(t *testing.T) {
	pids := ids("p", 120)
	oids := ids("o", 25)
	var txs []Transaction
	for i, p := range pids {
		txs = append(txs, Transaction{ProcessID: p, OrchestrationID: oids[i%25], Status: "success", Type: "t", Method: "lifecycle", OrgID: "US9QI"})
	}
	for i := range 60 { // one orchestration with many steps: a second page
		txs = append(txs, Transaction{ProcessID: fmt.Sprintf("big-%02d", i), OrchestrationID: "o-big", Status: "queued"})
	}
	f := newFakeCorastone(t)
	f.setAPI(listAPI(t, nil, txs))
	c := newTestCorastone(t, f.config(), nil)

	got, err := c.Transactions(context.Background(), TransactionFilter{ProcessIDs: pids})
	if err != nil || len(got) != 120 || got[0].OrgID != "US9QI" || got[0].Method != "lifecycle" {
		t.Fatalf("%d %v", len(got), err)
	}
	if n := len(f.apiRequests()); n != 3 {
		t.Errorf("%d requests for 120 process ids, want 3", n)
	}

	before := len(f.apiRequests())
	got, err = c.Transactions(context.Background(), TransactionFilter{OrchestrationIDs: append(slices.Clone(oids), "o-big")})
	if err != nil || len(got) != 180 {
		t.Fatalf("%d %v", len(got), err)
	}
	var sizes []string
	for _, r := range f.apiRequests()[before:] {
		sizes = append(sizes, strconv.Itoa(len(strings.Split(r.Query.Get("orchestrationIdsFilter"), ",")))+"@"+r.Query.Get("offset"))
	}
	// 26 ids → 10, 10, 6. The first two chunks answer exactly 50 (a full page: follow, empty);
	// the last one answers 20+60 (two pages).
	if !slices.Equal(sizes, []string{"10@0", "10@50", "10@0", "10@50", "6@0", "6@50"}) {
		t.Errorf("requests %q", sizes)
	}

	// Both lists: the union, each process once.
	got, err = c.Transactions(context.Background(), TransactionFilter{ProcessIDs: pids[:3], OrchestrationIDs: oids[:1]})
	if err != nil || len(got) != 3+4 {
		t.Errorf("union: %d %v", len(got), err)
	}
}

func TestFindProcess(t *testing.T) {
	orchs := map[string]string{
		"own-pid": `{"orchestrationId":"own-pid","status":"in_progress"}`,
	}
	txs := []Transaction{{ProcessID: "step-1", OrchestrationID: "orch-1", Status: "success"}, {ProcessID: "orphan", Status: "queued"}}
	f := newFakeCorastone(t)
	f.setAPI(listAPI(t, orchs, txs))
	c := newTestCorastone(t, f.config(), nil)
	tests := []struct {
		pid, orch string
		found     bool
	}{
		{"step-1", "orch-1", true},
		{"own-pid", "own-pid", true},
		{"orphan", "", true},
		{"unknown", "", false},
	}
	for _, tt := range tests {
		orch, found, err := c.FindProcess(context.Background(), tt.pid)
		if err != nil || orch != tt.orch || found != tt.found {
			t.Errorf("FindProcess(%s) = %q %v %v", tt.pid, orch, found, err)
		}
	}
}

// TestListMalformedAndInvalid: an answer that is not a JSON array is MALFORMED_RESPONSE as a
// whole. (Elements that cannot be read no longer fail the page, SPEC §5: see
// TestOrchestrationsElementByElement.) Invalid ids are never sent.
func TestListMalformedAndInvalid(t *testing.T) {
	tests := []struct {
		name, body string
	}{
		{"object", `{"result":[]}`},
		{"null", `null`},
		{"truncated array", `[{"orchestrationId":"o","status":"queued"}`},
		{"html", `<html>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCorastone(t)
			f.setAPI(func(w http.ResponseWriter, r *http.Request, _ []byte) { writeJSON(w, 200, tt.body) })
			c := newTestCorastone(t, f.config(), nil)
			_, err := c.Orchestrations(context.Background(), []string{"o"})
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeMalformedResponse || e.Verdict != Transient || e.Endpoint != "orchestrations" || e.Body == "" {
				t.Errorf("got %#v", err)
			}
		})
	}
	f := newFakeCorastone(t)
	c := newTestCorastone(t, f.config(), nil)
	for _, bad := range []string{"", "a,b", "a\nb", "a b", "\xff", strings.Repeat("x", 129)} {
		_, err := c.Transactions(context.Background(), TransactionFilter{ProcessIDs: []string{bad}})
		var e *Error
		if !errors.As(err, &e) || e.Verdict != Permanent {
			t.Errorf("id %q: %v", bad, err)
		}
		if _, err := c.Orchestrations(context.Background(), []string{"fine", bad}); !errors.As(err, &e) || e.Verdict != Permanent {
			t.Errorf("orchestrations id %q: %v", bad, err)
		}
	}
	if len(f.requests()) != 0 {
		t.Error("invalid ids were sent")
	}
}
