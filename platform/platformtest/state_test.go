package platformtest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestStateSeeding(t *testing.T) {
	h := newHarness(t, Config{})
	h.sim.AddOrg("NEWSP")
	h.sim.AddSecurity(Security{ID: "MYSEC0000001", Status: StatusActive, Roles: []string{"issuer"},
		ServiceProviders: []string{"NEWSP"}, Correlations: []Correlation{{CorrelationID: "c-1", OrgID: "US9QI"}}})
	h.sim.AddAsset(Asset{ID: "MYASSET00001", SecurityID: "MYSEC0000001", Status: AssetModified})
	if !h.sim.Restrict("MYSEC0000001", true) || h.sim.Restrict("NOSUCH", true) {
		t.Fatal("Restrict reports the wrong existence")
	}
	status, body := h.put(pathCancel, map[string]any{"securityCorrelationData": map[string]string{"correlationId": "c-1", "orgId": "US9QI"}})
	if status != 200 {
		t.Fatalf("cancel by correlation: %d %s", status, body)
	}
	h.sim.Restrict("MYSEC0000001", false)
	status, body = h.put(rejectPath("MYASSET00001"), map[string]any{"transactionData": txData("MYSEC0000001")})
	if status != 200 {
		t.Fatalf("reject: %d %s", status, body)
	}
	status, body = h.put(pathRemove, map[string]any{"transactionData": txData("MYSEC0000001"), "orgId": "NEWSP"})
	if status != 200 {
		t.Fatalf("remove: %d %s", status, body)
	}
	// Replacing a security drops its old correlation ids.
	h.sim.AddSecurity(Security{ID: "MYSEC0000001", Status: StatusActive, Restricted: true, Roles: []string{"issuer"}})
	status, body = h.put(pathCancel, map[string]any{"securityCorrelationData": map[string]string{"correlationId": "c-1", "orgId": "US9QI"}})
	if status != 404 {
		t.Errorf("old correlation id still resolves: %d %s", status, body)
	}
	sec, _ := h.sim.Security("MYSEC0000001")
	sec.Roles[0] = "mutated"
	if again, _ := h.sim.Security("MYSEC0000001"); again.Roles[0] != "issuer" {
		t.Error("Security returned shared state")
	}
	if _, ok := h.sim.Asset("nope"); ok {
		t.Error("unknown asset found")
	}
	h.sim.Reset()
	if _, ok := h.sim.Security("MYSEC0000001"); ok || h.sim.OrchestrationCount() != 0 {
		t.Error("Reset kept state")
	}
	if _, ok := h.sim.Security("USS3JKS01I00"); !ok {
		t.Error("Reset lost the fixtures")
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"plain", `q"uo\te`, "ctl\x00\x1f\n\r\t", "ünï ☃", "bad\xffutf8", "lot/42?a=1#b%20"} {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%q → %s: %v", s, got, err)
			continue
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q → %q, want %q", s, back, wantBack)
		}
	}
}

func TestEncodedCommasAndPlanForms(t *testing.T) {
	forms := []string{FormEpochMillis, FormDate, FormEpochMillisSt, FormRFC3339}
	n := 0
	h := newHarness(t, Config{AutoCreate: true, Plan: func(action, pid, res string) *Plan {
		n++
		return &Plan{Steps: []time.Duration{time.Second}, TimestampForm: forms[n-1]}
	}})
	var ids []string
	for i := range forms {
		_, body := h.put(pathCancel, map[string]any{"securityId": fmt.Sprintf("ENC%09d", i)})
		_, oid, _ := accepted(t, body)
		ids = append(ids, oid)
	}
	q := url.Values{"orchestrationIdsFilter": {strings.Join(ids, ",")}, "pageSize": {"50"}}.Encode() // commas as %2C
	status, body := h.get(pathOrchs + "?" + q)
	var got []struct{ OrchestrationID string }
	if err := json.Unmarshal(body, &got); status != 200 || err != nil || len(got) != 4 {
		t.Fatalf("%d %s", status, body)
	}
	for i, id := range ids {
		if v, _ := h.sim.Orchestration(id); v.Form != forms[i] {
			t.Errorf("form %s, want %s", v.Form, forms[i])
		}
	}
}

func TestCountFolding(t *testing.T) {
	sim := &Simulator{}
	l := &sim.log
	l.reset(10)
	for i := range maxCountKeys + 10 {
		path := fmt.Sprintf("/external/v1/primary/asset/A%d/reject", i)
		l.add(&Request{Method: "PUT", Path: path}, epReject)
	}
	l.add(&Request{Method: "GET", Path: "/unknown/deep/path/1"}, epNone)
	l.add(&Request{Method: "GET", Path: "/unknown/deep/path/2"}, epNone)
	if got := sim.Count("PUT", "/external/v1/primary/asset/"); got != maxCountKeys+10 {
		t.Errorf("Count = %d", got)
	}
	if got := sim.Count("GET", "/unknown/deep/"); got != 2 {
		t.Errorf("folded unknown paths: Count = %d", got)
	}
	if n := l.cur.Load().keys.Load(); n > maxCountKeys+2 {
		t.Errorf("%d counter keys", n)
	}
}
