package platformtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a manual clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2024, 9, 12, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixedPlan is a Plan func: queued 1s, two steps of 1s each, success, RFC 3339 timestamps.
func fixedPlan(string, string, string) *Plan {
	return &Plan{Queued: time.Second, Steps: []time.Duration{time.Second, time.Second}, TimestampForm: FormRFC3339}
}

const testUA = "txworker-test/1.0"

// harness is a started simulator on a manual clock with an HTTP client.
type harness struct {
	t     *testing.T
	sim   *Simulator
	clock *clock
	hc    *http.Client
	tok   string
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, clock: newClock()}
	if cfg.Now == nil {
		cfg.Now = h.clock.Now
	}
	if cfg.Plan == nil {
		cfg.Plan = fixedPlan
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	sim, err := Start(cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(sim.Close)
	h.sim = sim
	h.hc = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	return h
}

// token fetches (once) and returns a token of the default client with all scopes.
func (h *harness) token() string {
	h.t.Helper()
	if h.tok == "" {
		h.tok = h.fetchToken("txworker", "sandbox-secret", strings.Join(AllScopes(), " "))
	}
	return h.tok
}

func (h *harness) fetchToken(id, secret, scope string) string {
	h.t.Helper()
	status, body := h.tokenRequest(id, secret, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}})
	if status != http.StatusOK {
		h.t.Fatalf("token: %d %s", status, body)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		h.t.Fatalf("token body: %v", err)
	}
	return tr.AccessToken
}

func (h *harness) tokenRequest(id, secret string, form url.Values) (int, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.sim.URL()+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", testUA)
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	resp, body := h.send(req)
	return resp.StatusCode, body
}

// do sends a request with the test User-Agent; body is JSON-encoded unless it is a string.
func (h *harness) do(method, path string, body any, hdr http.Header) (*http.Response, []byte) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.sim.URL()+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("User-Agent", testUA)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	return h.send(req)
}

func (h *harness) send(req *http.Request) (*http.Response, []byte) {
	h.t.Helper()
	resp, err := h.hc.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("read body: %v", err)
	}
	return resp, body
}

func (h *harness) bearer() http.Header {
	return http.Header{"Authorization": {"Bearer " + h.token()}}
}

// put sends a Corastone action with the default token.
func (h *harness) put(path string, body any) (int, []byte) {
	h.t.Helper()
	resp, b := h.do(http.MethodPut, path, body, h.bearer())
	return resp.StatusCode, b
}

// get sends a Transactions API request with the default token.
func (h *harness) get(path string) (int, []byte) {
	h.t.Helper()
	resp, b := h.do(http.MethodGet, path, nil, h.bearer())
	return resp.StatusCode, b
}

// orchestrations polls /transactions/orchestrations for ids and decodes the array.
func (h *harness) orchestrations(ids ...string) []map[string]any {
	h.t.Helper()
	status, body := h.get("/external/v1/transactions/orchestrations?orchestrationIdsFilter=" + strings.Join(ids, ","))
	if status != http.StatusOK {
		h.t.Fatalf("orchestrations: %d %s", status, body)
	}
	var out []map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		h.t.Fatalf("orchestrations body %s: %v", body, err)
	}
	return out
}

// code returns the first errorDetails code of a Corastone error body.
func code(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		ErrorDetails []struct {
			Code, Message, Type string
		} `json:"errorDetails"`
	}
	if err := json.Unmarshal(body, &e); err != nil || len(e.ErrorDetails) == 0 {
		t.Fatalf("not an error body: %s", body)
	}
	return e.ErrorDetails[0].Code
}

// accepted decodes an action's 200 answer.
func accepted(t *testing.T, body []byte) (pid, oid, asset string) {
	t.Helper()
	var a struct{ ProcessID, OrchestrationID, AssetID string }
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("accepted body %s: %v", body, err)
	}
	return a.ProcessID, a.OrchestrationID, a.AssetID
}

const (
	pathCancel   = "/external/v1/security-admin/cancel"
	pathRevert   = "/external/v1/security-admin/revert-completed-to-active"
	pathRemove   = "/external/v1/service-providers/remove"
	pathRestrict = "/external/v1/security-admin/restrict"
	pathOrchs    = "/external/v1/transactions/orchestrations"
	pathTxs      = "/external/v1/transactions"
	pathJMCancel = "/workspaces/secure/api/v1/txn/cancel"
	pathJMQuery  = "/workspaces/secure/api/v1/txn/query"
	docPID       = "2159457f-0167-4e93-a969-9cf0db05e0bf"
)

func rejectPath(asset string) string {
	return "/external/v1/primary/asset/" + url.PathEscape(asset) + "/reject"
}

func testSigner() map[string]string {
	return map[string]string{"email": "jane@example.com", "name": "John Doe"}
}

func txData(sec string) map[string]any {
	return map[string]any{"securityId": sec, "signer": testSigner()}
}
