package platformtest

import (
	"net/http"
	"strings"
	"testing"
)

func TestActionsAccepted(t *testing.T) {
	tests := []struct {
		name, path string
		body       any
		asset      string // want assetId in the answer
		resource   string
	}{
		{"cancel active restricted", pathCancel, map[string]any{"processId": docPID, "securityId": "USS3JKS02I00"}, "", "USS3JKS02I00"},
		{"cancel completed as service provider", pathCancel, map[string]any{"securityId": "USS3JKS03I00"}, "", "USS3JKS03I00"},
		{"revert (documented body minus duplicate id)", pathRevert, map[string]any{"signer": testSigner(), "processId": docPID, "securityId": "USS3JKS01I00"}, "", "USS3JKS01I00"},
		{"revert by correlation data", pathRevert, map[string]any{"signer": testSigner(),
			"securityCorrelationData": map[string]string{"correlationId": "USS3JKS01I00", "orgId": "US9QIMA"}}, "", "USS3JKS01I00"},
		{"remove service provider (documented body)", pathRemove, map[string]any{"transactionData": txData("USS3JKS01I00"), "orgId": "US9QIMA"}, "", "USS3JKS01I00"},
		{"remove with processId", pathRemove, map[string]any{"processId": docPID, "transactionData": txData("USS3JKS04I00"), "orgId": "US9QIMA"}, "", "USS3JKS04I00"},
		{"reject (documented body)", rejectPath("US9QIMAOAS2Q"), map[string]any{"transactionData": txData("USS3JKS04I00"),
			"rejectReason": map[string]any{"reason": []any{map[string]any{"message": "reject reason", "category": "EC006",
				"documentWithIssues": []any{map[string]any{"document": map[string]any{"fileId": "FILE3JUS03I04"},
					"pages": []any{map[string]any{"pageNumber": 1, "description": "The first page has an invalid signature"}}}}}},
				"extraData": map[string]any{"externalId": "123456789", "some": "Custom Property"}}}, "US9QIMAOAS2Q", "US9QIMAOAS2Q"},
		{"reject on the heading's path", "/external/v1/primary/US9QIMAOAS3Q/reject", map[string]any{"transactionData": txData("USS3JKS05I00")}, "US9QIMAOAS3Q", "US9QIMAOAS3Q"},
		{"reject by escaped correlation id", rejectPath("lot/42?a=1#b%20"), map[string]any{"transactionData": txData("USS3JKS04I00")}, "US9QIMAOAS2Q", "US9QIMAOAS2Q"},
		{"reject by correlation id with org", rejectPath("lot/42?a=1#b%20") + "?isAssetCorrelationId=true&assetCorrelationOrgId=US9QI",
			map[string]any{"transactionData": txData("USS3JKS04I00")}, "US9QIMAOAS2Q", "US9QIMAOAS2Q"},
		{"restrict", pathRestrict, map[string]any{"securityId": "USS3JKS04I00"}, "", "USS3JKS04I00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			status, body := h.put(tc.path, tc.body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			pid, oid, asset := accepted(t, body)
			if pid == "" || pid != oid || !isV4(oid) || asset != tc.asset {
				t.Errorf("answer %s", body)
			}
			if m, ok := tc.body.(map[string]any); ok && m["processId"] != nil && oid != m["processId"] {
				t.Errorf("orchestrationId %s, want the supplied processId", oid)
			}
			v, ok := h.sim.Orchestration(oid)
			if !ok || v.Resource != tc.resource || v.Status != "queued" {
				t.Errorf("orchestration %+v", v)
			}
			wantAccepted := 1
			if tc.path == pathRestrict {
				wantAccepted = 0
			}
			if h.sim.Accepted(pid) != wantAccepted || h.sim.AcceptedTotal() != wantAccepted {
				t.Errorf("accepted %d / %d", h.sim.Accepted(pid), h.sim.AcceptedTotal())
			}
		})
	}
}

func TestActionErrors(t *testing.T) {
	h := newHarness(t, Config{})
	revert := func(sec string) map[string]any { return map[string]any{"signer": testSigner(), "securityId": sec} }
	remove := func(sec, org string) map[string]any {
		return map[string]any{"transactionData": txData(sec), "orgId": org}
	}
	reject := func(sec string) map[string]any { return map[string]any{"transactionData": txData(sec)} }
	tests := []struct {
		name, path string
		body       any
		ctype      string
		status     int
		code       string
		message    string
	}{
		{"invalid JSON", pathCancel, `{"securityId":`, "", 400, "GN0002", ""},
		{"trailing data", pathCancel, `{"securityId":"USS3JKS02I00"} {}`, "", 400, "GN0002", ""},
		{"unknown field", pathCancel, map[string]any{"securityId": "USS3JKS02I00", "reason": "x"}, "", 400, "GN0002", ""},
		{"unknown nested field", pathRevert, map[string]any{"signer": map[string]string{"email": "a", "phone": "1"}, "securityId": "USS3JKS01I00"}, "", 400, "GN0002", ""},
		{"both identifiers", pathRevert, map[string]any{"signer": testSigner(), "securityId": "USS3JKS01I00",
			"securityCorrelationData": map[string]string{"correlationId": "USS3JKS01I00", "orgId": "US9QIMA"}}, "", 400, "GN0002", "not both"},
		{"neither identifier", pathCancel, map[string]any{"processId": docPID}, "", 400, "GN0002", ""},
		{"processId not v4", pathCancel, map[string]any{"processId": "2159457f-0167-1e93-a969-9cf0db05e0bf", "securityId": "USS3JKS02I00"}, "", 400, "GN0002", "v4"},
		{"processId not a UUID", pathCancel, map[string]any{"processId": "ord-1", "securityId": "USS3JKS02I00"}, "", 400, "GN0002", ""},
		{"revert without signer", pathRevert, map[string]any{"securityId": "USS3JKS01I00"}, "", 400, "GN0002", "signer"},
		{"remove without orgId", pathRemove, map[string]any{"transactionData": txData("USS3JKS01I00")}, "", 400, "GN0002", "orgId"},
		{"remove without transactionData", pathRemove, map[string]any{"orgId": "US9QIMA"}, "", 400, "GN0002", "transactionData"},
		{"reject without transactionData", rejectPath("US9QIMAOAS2Q"), map[string]any{}, "", 400, "GN0002", ""},
		{"reject with a bad query flag", rejectPath("US9QIMAOAS2Q") + "?isAssetCorrelationId=yes", reject("USS3JKS04I00"), "", 400, "GN0002", ""},
		{"wrong content type", pathCancel, `{"securityId":"USS3JKS02I00"}`, "text/plain", 400, "GN0002", ""},
		{"unknown security", pathCancel, map[string]any{"securityId": "USS3JKS99I99"}, "", 404, "IS0009", ""},
		{"unknown correlation", pathRevert, map[string]any{"signer": testSigner(), "securityCorrelationData": map[string]string{"correlationId": "nope", "orgId": "US9QI"}}, "", 404, "IS0009", ""},
		{"cancel not restricted", pathCancel, map[string]any{"securityId": "USS3JKS01I00"}, "", 409, "IS0010", "not restricted"},
		{"cancel cancelled", pathCancel, map[string]any{"securityId": "USS3JKS10I00"}, "", 409, "IS0012",
			"Security 'USS3JKS10I00' is in invalid state for the current action. Current status: 'cancelled'. Required status: 'active,completed'"},
		{"cancel without role", pathCancel, map[string]any{"securityId": "USS3JKS11I00"}, "", 403, "IS0099", "Required roles: 'issuer,service_provider'"},
		{"revert completed", pathRevert, revert("USS3JKS06I00"), "", 409, "IS0012", "Required status: 'approved_revert_to_active'"},
		{"revert restricted", pathRevert, revert("USS3JKS07I00"), "", 409, "IS0013", ""},
		{"revert investor", pathRevert, revert("USS3JKS08I00"), "", 403, "IS0099", "current roles: 'investor'"},
		{"revert contingent", pathRevert, revert("USS3JKS09I00"), "", 409, "IS0031", "contingent"},
		{"remove unknown org", pathRemove, remove("USS3JKS01I00", "ZZ999"), "", 404, "OG0001", ""},
		{"remove never assigned", pathRemove, remove("USS3JKS01I00", "US9QIPO"), "", 409, "SP0004", "Organization 'US9QIPO' is not assigned to offering 'USS3JKS01I00'"},
		{"remove already unassigned", pathRemove, remove("USS3JKS01I00", "US9QIFA"), "", 409, "SP0005", "already unassigned"},
		{"remove restricted", pathRemove, remove("USS3JKS02I00", "US9QIMA"), "", 409, "IS0013", ""},
		{"remove not owner", pathRemove, remove("USS3JKS03I00", "US9QIMA"), "", 403, "IS0099", ""},
		{"reject security not active", rejectPath("US9QIMAOAS1Q"), reject("USS3JKS01I00"), "", 409, "IS0012", ""},
		{"reject settled asset", rejectPath("US9QIMAOAS4Q"), reject("USS3JKS04I00"), "", 409, "AS0005",
			"Asset 'US9QIMAOAS4Q' is in invalid state for the current action. Current status: 'settled'."},
		{"reject restricted", rejectPath("US9QIMAOAS5Q"), reject("USS3JKS02I00"), "", 409, "IS0013", ""},
		{"reject not issuer", rejectPath("US9QIMAOAS6Q"), reject("USS3JKS03I00"), "", 403, "IS0099", ""},
		{"reject unknown asset", rejectPath("US9QIMAOAS9Q"), reject("USS3JKS04I00"), "", 404, "IS0009", "Asset"},
		{"reject unknown correlation id", rejectPath("no/such?lot"), reject("USS3JKS04I00"), "", 404, "IS0009", ""},
		{"reject asset of another security", rejectPath("US9QIMAOAS3Q"), reject("USS3JKS04I00"), "", 400, "GN0002", ""},
		{"restrict restricted", pathRestrict, map[string]any{"securityId": "USS3JKS02I00"}, "", 409, "IS0013", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := h.bearer()
			if tc.ctype != "" {
				hdr.Set("Content-Type", tc.ctype)
			}
			resp, body := h.do(http.MethodPut, tc.path, tc.body, hdr)
			if resp.StatusCode != tc.status || code(t, body) != tc.code {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, tc.status, tc.code)
			}
			if !strings.Contains(string(body), tc.message) {
				t.Errorf("message %s lacks %q", body, tc.message)
			}
		})
	}
	if n := h.sim.AcceptedTotal(); n != 0 || h.sim.OrchestrationCount() != 0 {
		t.Errorf("refused requests were accepted: %d", n)
	}
}

func TestRoutes(t *testing.T) {
	h := newHarness(t, Config{})
	tests := []struct {
		method, path string
		status       int
	}{
		{http.MethodPut, "/external/v1/security-admin/nope", 404},
		{http.MethodPut, "/external/v1/primary/asset/a/b/reject", 404},
		{http.MethodPut, "/external/v1/primary/asset//reject", 404},
		{http.MethodGet, pathCancel, 405},
		{http.MethodPost, pathOrchs, 405},
		{http.MethodGet, pathJMCancel, 405},
		{http.MethodPost, "/workspaces/secure/api/v1/txn/nope", 404},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, body := h.do(tc.method, tc.path, nil, h.bearer())
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
		})
	}
}
