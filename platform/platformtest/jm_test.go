package platformtest

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"
)

func basicJM() http.Header {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth("jm-user", "jm-pass")
	return r.Header
}

func jmKey(t *testing.T, body []byte) string {
	t.Helper()
	var e struct{ Error, Message string }
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("JM body %s: %v", body, err)
	}
	return e.Error
}

func TestJMCancel(t *testing.T) {
	h := newHarness(t, Config{})
	cancel := func(key string) map[string]any {
		return map[string]any{"params": map[string]any{"submitKey": key, "reason": "Job application will be completed in branch",
			"milestones": "Application Status: Staff Cancelled"}}
	}
	tests := []struct {
		name   string
		body   any
		status int
		key    string
	}{
		{"saved (documented example)", cancel("15d071280b92c867f86975b9cd2e8765"), 200, ""},
		{"opened", map[string]any{"params": map[string]any{"submitKey": "45d071280b92c867f86975b9cd2e8765"}}, 200, ""},
		{"again", cancel("15d071280b92c867f86975b9cd2e8765"), 400, "txnAlreadyFinished"},
		{"completed", cancel("25d071280b92c867f86975b9cd2e8765"), 400, "txnAlreadyFinished"},
		{"abandoned", cancel("35d071280b92c867f86975b9cd2e8765"), 400, "txnAlreadyFinished"},
		{"unknown", cancel("ffffffffffffffffffffffffffffffff"), 400, "txnNotFound"},
		{"no submitKey", map[string]any{"params": map[string]any{"reason": "x"}}, 400, "submitKeyNotSpecified"},
		{"no params", map[string]any{}, 400, "submitKeyNotSpecified"},
		{"unknown top-level attribute", map[string]any{"params": map[string]any{"submitKey": "55d071280b92c867f86975b9cd2e8765"}, "force": true}, 400, "badRequest"},
		{"unknown cancel attribute", map[string]any{"params": map[string]any{"submitKey": "55d071280b92c867f86975b9cd2e8765", "force": true}}, 400, "badRequest"},
		{"wrong type", map[string]any{"params": map[string]any{"submitKey": 5}}, 400, "badRequest"},
		{"not an object", "[]", 400, "badRequest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.do(http.MethodPost, pathJMCancel, tc.body, basicJM())
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.key != "" && jmKey(t, body) != tc.key {
				t.Errorf("error %s, want %s", body, tc.key)
			}
		})
	}
	txn, _ := h.sim.Txn("15d071280b92c867f86975b9cd2e8765")
	if txn.FormStatus != FormAbandoned || txn.Reason == "" || len(txn.Milestones) != 1 ||
		h.sim.Cancelled("15d071280b92c867f86975b9cd2e8765") != 1 || h.sim.CancelledTotal() != 2 {
		t.Errorf("txn %+v, cancels %d", txn, h.sim.CancelledTotal())
	}
	if txn, _ := h.sim.Txn("55d071280b92c867f86975b9cd2e8765"); txn.FormStatus != FormAssigned {
		t.Errorf("refused cancel changed %+v", txn)
	}
}

func TestJMAuthAndXSRF(t *testing.T) {
	h := newHarness(t, Config{})
	body := map[string]any{"params": map[string]any{"submitKey": "15d071280b92c867f86975b9cd2e8765"}}
	query := map[string]any{"filters": []any{map[string]any{"criteria": []string{"submitKey = {0}"}, "params": []string{"nope"}}}}
	for _, tc := range []struct {
		name   string
		hdr    http.Header
		status int
	}{
		{"no credentials", nil, 401},
		{"wrong password", http.Header{"Authorization": {"Basic am0tdXNlcjpub3Bl"}}, 401},
		{"revoked bearer", func() http.Header { hd := h.bearer(); h.sim.RevokeTokens(); h.tok = ""; return hd }(), 401},
		{"bearer", h.bearer(), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := h.do(http.MethodPost, pathJMQuery, query, tc.hdr)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
		})
	}

	jar, _ := cookiejar.New(nil)
	h.hc.Jar = jar
	resp, b := h.do(http.MethodPost, pathJMQuery, query, basicJM())
	var xsrf string
	for _, c := range resp.Cookies() {
		if c.Name == XSRFCookie {
			xsrf = c.Value
		}
	}
	if resp.StatusCode != 200 || xsrf == "" {
		t.Fatalf("first request: %d %s, cookies %v", resp.StatusCode, b, resp.Cookies())
	}
	// With the session cookie, a POST needs the header; credentials are not needed.
	if resp, b = h.do(http.MethodPost, pathJMCancel, body, nil); resp.StatusCode != 403 || jmKey(t, b) != "invalidCsrfToken" {
		t.Fatalf("without header: %d %s", resp.StatusCode, b)
	}
	if resp, b = h.do(http.MethodPost, pathJMCancel, body, http.Header{XSRFHeader: {"wrong"}}); resp.StatusCode != 403 {
		t.Fatalf("wrong header: %d %s", resp.StatusCode, b)
	}
	if resp, b = h.do(http.MethodPost, pathJMCancel, body, http.Header{XSRFHeader: {xsrf}}); resp.StatusCode != 200 {
		t.Fatalf("with header: %d %s", resp.StatusCode, b)
	}
	// An unknown session cookie is ignored: credentials log in again.
	h.hc.Jar = nil
	hdr := basicJM()
	hdr.Set("Cookie", SessionCookie+"=forgotten")
	if resp, b = h.do(http.MethodPost, pathJMQuery, query, hdr); resp.StatusCode != 200 || len(resp.Cookies()) != 2 {
		t.Fatalf("unknown session: %d %s", resp.StatusCode, b)
	}
}

func TestJMQuery(t *testing.T) {
	h := newHarness(t, Config{})
	h.sim.AddTxn(Txn{SubmitKey: "old", FormStatus: FormSaved, Created: h.clock.Now().Add(-30 * 24 * time.Hour)})
	filter := func(op string, params []any, criteria ...string) map[string]any {
		f := map[string]any{"criteria": criteria, "params": params}
		if op != "" {
			f["operator"] = op
		}
		return map[string]any{"fetchLimit": 100, "filters": []any{f}}
	}
	tests := []struct {
		name   string
		body   any
		status int
		want   string // submitKey prefixes ("15d…" → "1"), in order
	}{
		{"documented status check", map[string]any{"fetchLimit": 1, "fetchOffset": 0, "filters": []any{map[string]any{
			"criteria": []string{"submitKey = {0}"}, "params": []string{"35d071280b92c867f86975b9cd2e8765"}, "operator": "AND"}}}, 200, "3"},
		{"quoted literal", filter("", nil, "submitKey = '25d071280b92c867f86975b9cd2e8765'"), 200, "2"},
		{"no filters: defaults", map[string]any{}, 200, "1,4,5"},
		{"AND without identity: defaults", filter("AND", nil, "timeRequest > '2000-01-01'"), 200, "1,4,5"},
		{"formStatus criterion: no defaults", filter("", []any{[]string{"Completed", "abandoned"}}, "formStatus in {0}"), 200, "2,3"},
		{"OR: no defaults", filter("OR", nil, "trackingCode = 'ZT73VWM'", "trackingCode = ZT73VWN"), 200, "2,3"},
		{"trackingCode is identity", filter("", nil, "trackingCode = 'ZT73VWN'"), 200, "3"},
		{"list literal", filter("", nil, "formStatus in ['Saved','Opened']"), 200, "1,4,o"},
		{"paging", map[string]any{"fetchLimit": 1, "fetchOffset": 1}, 200, "4"},
		{"unknown attribute", map[string]any{"fetchLimit": 1, "sort": "x"}, 400, ""},
		{"fetchLimit too large", map[string]any{"fetchLimit": 10001}, 400, ""},
		{"unknown criterion attribute", filter("", nil, "colour = 'red'"), 400, ""},
		{"bad operator", filter("XOR", nil, "submitKey = 'x'"), 400, ""},
		{"missing param", filter("", nil, "submitKey = {1}"), 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.do(http.MethodPost, pathJMQuery, tc.body, basicJM())
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status != 200 {
				if jmKey(t, body) != "badRequest" {
					t.Errorf("error %s", body)
				}
				return
			}
			var out struct {
				FetchLimit, FetchOffset *int
				DurationMs              *int64
				Result                  []struct{ SubmitKey, FormStatus, TrackingCode string }
			}
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range out.Result {
				got = append(got, r.SubmitKey[:1])
				if r.FormStatus == "" || (r.SubmitKey != "old" && r.TrackingCode == "") {
					t.Errorf("row %+v", r)
				}
			}
			if strings.Join(got, ",") != tc.want || out.FetchLimit == nil || out.FetchOffset == nil || out.DurationMs == nil {
				t.Errorf("got %v (%s), want %s", got, body, tc.want)
			}
		})
	}
}
