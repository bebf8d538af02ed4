package platformtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTokenEndpoint(t *testing.T) {
	cfg := Config{Clients: map[string]Client{
		"txworker": {Secret: "sandbox-secret", Scopes: AllScopes()},
		"reader":   {Secret: "r", Scopes: []string{"readTransactionData"}},
	}}
	h := newHarness(t, cfg)
	form := func(grant, scope string) url.Values {
		v := url.Values{"scope": {scope}}
		if grant != "" {
			v.Set("grant_type", grant)
		}
		return v
	}
	tests := []struct {
		name, id, secret string
		form             url.Values
		status           int
		errCode          string
		scope            string
	}{
		{"all scopes", "txworker", "sandbox-secret", form("client_credentials", "cancelOffering readTransactionData readTransactionData"), 200, "", "cancelOffering readTransactionData"},
		{"no scope grants all of the client's", "reader", "r", form("client_credentials", ""), 200, "", "readTransactionData"},
		{"no basic auth", "", "", form("client_credentials", "readTransactionData"), 401, "invalid_client", ""},
		{"wrong secret", "txworker", "nope", form("client_credentials", "readTransactionData"), 401, "invalid_client", ""},
		{"unknown client", "ghost", "x", form("client_credentials", "readTransactionData"), 401, "invalid_client", ""},
		{"missing grant type", "txworker", "sandbox-secret", form("", "readTransactionData"), 400, "invalid_request", ""},
		{"wrong grant type", "txworker", "sandbox-secret", form("password", "readTransactionData"), 400, "unsupported_grant_type", ""},
		{"scope the client lacks", "reader", "r", form("client_credentials", "readTransactionData cancelOffering"), 400, "invalid_scope", ""},
		{"unknown scope", "txworker", "sandbox-secret", form("client_credentials", "readEverything"), 400, "invalid_scope", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := h.tokenRequest(tc.id, tc.secret, tc.form)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			var tr struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
				ExpiresIn   int    `json:"expires_in"`
				Scope       string `json:"scope"`
				Error       string `json:"error"`
			}
			if err := json.Unmarshal(body, &tr); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if tr.Error != tc.errCode {
				t.Errorf("error %q, want %q", tr.Error, tc.errCode)
			}
			if tc.status == 200 && (tr.AccessToken == "" || tr.TokenType != "Bearer" || tr.ExpiresIn != 3600 || tr.Scope != tc.scope) {
				t.Errorf("answer %+v", tr)
			}
		})
	}
}

func TestTokenRequiresUserAgentAndPost(t *testing.T) {
	h := newHarness(t, Config{})
	resp, _ := h.do(http.MethodGet, "/oauth2/token", nil, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", resp.StatusCode)
	}
	resp, _ = h.do(http.MethodPost, "/oauth2/token", "grant_type=client_credentials", http.Header{"User-Agent": {""}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("no User-Agent: %d, want 403", resp.StatusCode)
	}
}

func TestBearerChecks(t *testing.T) {
	cfg := Config{Clients: map[string]Client{
		"txworker": {Secret: "sandbox-secret", Scopes: AllScopes()},
		"reader":   {Secret: "r", Scopes: []string{"readTransactionData"}},
	}, TokenTTL: time.Minute}
	h := newHarness(t, cfg)
	body := map[string]string{"securityId": "USS3JKS02I00"}
	tests := []struct {
		name    string
		auth    func() string
		status  int
		code    string
		message string
	}{
		{"missing", func() string { return "" }, 401, "AU0001", ""},
		{"unknown", func() string { return "Bearer nope" }, 401, "AU0001", ""},
		{"expired", func() string {
			tok := h.fetchToken("txworker", "sandbox-secret", "cancelOffering")
			h.clock.Advance(time.Minute)
			return "Bearer " + tok
		}, 401, "AU0001", ""},
		{"revoked", func() string {
			tok := h.fetchToken("txworker", "sandbox-secret", "cancelOffering")
			h.sim.RevokeTokens()
			return "Bearer " + tok
		}, 401, "AU0001", ""},
		{"scope missing", func() string {
			return "Bearer " + h.fetchToken("reader", "r", "readTransactionData")
		}, 403, "AU0002", "You do not have access to this scope: cancelOffering"},
		{"scope not requested", func() string {
			return "Bearer " + h.fetchToken("txworker", "sandbox-secret", "readTransactionData")
		}, 403, "AU0002", "You do not have access to this scope: cancelOffering"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{}
			if a := tc.auth(); a != "" {
				hdr.Set("Authorization", a)
			}
			resp, b := h.do(http.MethodPut, pathCancel, body, hdr)
			if resp.StatusCode != tc.status || code(t, b) != tc.code {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, b, tc.status, tc.code)
			}
			if tc.message != "" && !strings.Contains(string(b), tc.message) {
				t.Errorf("message: %s", b)
			}
			if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate on 401")
			}
		})
	}
	if h.sim.AcceptedTotal() != 0 {
		t.Errorf("accepted %d actions without valid tokens", h.sim.AcceptedTotal())
	}
}
