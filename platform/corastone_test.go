package platform

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const testPID = "2159457f-0167-4e93-a969-9cf0db05e0bf"

func mustParse(t testing.TB, action, params string) *Request {
	t.Helper()
	r, problems := mustAction(t, action).Parse([]byte(params))
	if problems != nil {
		t.Fatalf("%s: %q", action, problems)
	}
	return r
}

func TestExecuteEachAction(t *testing.T) {
	signer := `"signer":{"email":"jdoe@example.com","name":"John Doe"}`
	tests := []struct {
		action, params, path, query, body string
	}{
		{"cancel-offering", `{"securityId":"USS3JKS01I00"}`, "/external/v1/security-admin/cancel", "",
			`{"processId":"` + testPID + `","securityId":"USS3JKS01I00"}`},
		{"revert-to-active", `{` + signer + `,"securityId":"USS3JKS01I00"}`, "/external/v1/security-admin/revert-completed-to-active", "",
			`{"processId":"` + testPID + `",` + signer + `,"securityId":"USS3JKS01I00"}`},
		{"remove-service-provider", `{"transactionData":{"securityId":"USS3JKS01I00",` + signer + `},"orgId":"US9QIMA"}`, "/external/v1/service-providers/remove", "",
			`{"processId":"` + testPID + `","transactionData":{"securityId":"USS3JKS01I00",` + signer + `},"orgId":"US9QIMA"}`},
		{"reject-asset", `{"assetId":"ord/7781?x#y%z","isAssetCorrelationId":true,"assetCorrelationOrgId":"US9QI","transactionData":{"securityId":"USS3JKS01I00"},"extraData":{"externalId":"1"}}`,
			"/external/v1/primary/asset/ord%2F7781%3Fx%23y%25z/reject", "assetCorrelationOrgId=US9QI&isAssetCorrelationId=true",
			`{"processId":"` + testPID + `","transactionData":{"securityId":"USS3JKS01I00"},"rejectReason":{"extraData":{"externalId":"1"}}}`},
	}
	f := newFakeCorastone(t)
	var seen sync.Map
	f.setAPI(func(w http.ResponseWriter, r *http.Request, body []byte) {
		seen.Store(r.URL.EscapedPath(), r.URL.RawPath)
		if strings.Contains(r.URL.Path, "/primary/asset/") {
			writeJSON(w, 200, `{"processId":"`+testPID+`","orchestrationId":"`+testPID+`","assetId":"US9QIMAOAS1Q"}`)
			return
		}
		acceptAction(w, r, body)
	})
	obs := &observed{}
	c := newTestCorastone(t, f.config(), obs)
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			acc, err := c.Execute(context.Background(), mustParse(t, tt.action, tt.params), testPID)
			if err != nil {
				t.Fatal(err)
			}
			if acc.ProcessID != testPID || acc.OrchestrationID != testPID {
				t.Errorf("accepted %+v", acc)
			}
			reqs := f.apiRequests()
			got := reqs[len(reqs)-1]
			if got.Method != "PUT" || got.EscapedPath != tt.path || got.RawQuery != tt.query || string(got.Body) != tt.body {
				t.Errorf("sent %s %s?%s %s", got.Method, got.EscapedPath, got.RawQuery, got.Body)
			}
			if tt.action == "reject-asset" {
				raw, _ := seen.Load(tt.path)
				if raw != tt.path || got.Path != "/external/v1/primary/asset/ord/7781?x#y%z/reject" || acc.AssetID != "US9QIMAOAS1Q" {
					t.Errorf("asset path: raw %v, decoded %q, accepted %+v", raw, got.Path, acc)
				}
				if got.Query.Get("isAssetCorrelationId") != "true" || got.Query.Get("assetCorrelationOrgId") != "US9QI" {
					t.Errorf("query %v", got.Query)
				}
			}
		})
	}
	for _, r := range f.requests() {
		if r.UserAgent != testUA {
			t.Errorf("%s %s without User-Agent: %q", r.Method, r.Path, r.UserAgent)
		}
	}
	if f.tokenCount() != 1 {
		t.Errorf("%d token fetches, want 1 (cached)", f.tokenCount())
	}
	wantScope := "cancelOffering manageServiceProviders readTransactionData rejectSubscription revertCompletedToActive"
	if f.scopes[0] != wantScope || strings.Join(c.Scopes(), " ") != wantScope {
		t.Errorf("scope %q, Scopes %q", f.scopes[0], c.Scopes())
	}
	requests, codes, fetches := obs.snapshot()
	if want := []string{"corastone token 200", "corastone cancel-offering 200", "corastone revert-to-active 200",
		"corastone remove-service-provider 200", "corastone reject-asset 200"}; !slices.Equal(requests, want) || len(codes) != 0 || !slices.Equal(fetches, []bool{true}) {
		t.Errorf("observed %q %q %v", requests, codes, fetches)
	}
}

func TestScopesOnlyEnabledActions(t *testing.T) {
	f := newFakeCorastone(t)
	cfg := f.config()
	cfg.Actions = []string{"revert-to-active", "revert-to-active"}
	c := newTestCorastone(t, cfg, nil)
	if err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.scopes[0] != "readTransactionData revertCompletedToActive" {
		t.Errorf("scope %q", f.scopes[0])
	}
	_, err := c.Execute(context.Background(), mustParse(t, "cancel-offering", `{"securityId":"S"}`), testPID)
	var e *Error
	if !errors.As(err, &e) || e.Verdict != Permanent || len(f.apiRequests()) != 0 {
		t.Errorf("disabled action: %v", err)
	}
}

func TestExecuteRefusesWithoutSending(t *testing.T) {
	f := newFakeCorastone(t)
	c := newTestCorastone(t, f.config(), nil)
	for name, call := range map[string]func() error{
		"nil request": func() error { _, err := c.Execute(context.Background(), nil, testPID); return err },
		"jm request": func() error {
			_, err := c.Execute(context.Background(), mustParse(t, "cancel-txn", `{"submitKey":"k"}`), testPID)
			return err
		},
		"no processId": func() error {
			_, err := c.Execute(context.Background(), mustParse(t, "cancel-offering", `{"securityId":"S"}`), "")
			return err
		},
	} {
		var e *Error
		if err := call(); !errors.As(err, &e) || e.Verdict != Permanent {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestOmitProcessIDAndPathOverride(t *testing.T) {
	f := newFakeCorastone(t)
	f.setAPI(acceptAction)
	cfg := f.config()
	cfg.OmitProcessID = map[string]bool{"reject-asset": true}
	cfg.Paths = map[string]string{"reject-asset": "/external/v1/primary/{assetId}/reject"}
	c := newTestCorastone(t, cfg, nil)
	acc, err := c.Execute(context.Background(), mustParse(t, "reject-asset", `{"assetId":"a b","transactionData":{"securityId":"S"}}`), testPID)
	if err != nil {
		t.Fatal(err)
	}
	got := f.apiRequests()[0]
	if got.EscapedPath != "/external/v1/primary/a%20b/reject" || string(got.Body) != `{"transactionData":{"securityId":"S"}}` || acc.OrchestrationID != "generated-0000" {
		t.Errorf("sent %s %s → %+v", got.EscapedPath, got.Body, acc)
	}
}

func TestExecuteErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		header  map[string]string
		body    string
		code    string
		verdict Verdict
		retry   time.Duration
	}{
		{"IS0012", 409, nil, `{"errorDetails":[{"code":"IS0012","message":"Security 'S' is in invalid state"}]}`, "IS0012", Permanent, 0},
		{"GN0002", 400, nil, `{"errorDetails":[{"code":"GN0002"}]}`, "GN0002", Permanent, 0},
		{"AU0002 scope", 403, nil, `{"errorDetails":[{"code":"AU0002","message":"You do not have access to this scope: cancelOffering"}]}`, "AU0002", Permanent, 0},
		{"AU0003", 401, nil, `{"errorDetails":[{"code":"AU0003"}]}`, "AU0003", Permanent, 0},
		{"IS0009", 404, nil, `{"errorDetails":[{"code":"IS0009"}]}`, "IS0009", Permanent, 0},
		{"429", 429, map[string]string{"Retry-After": "3"}, ``, "", Transient, 3 * time.Second},
		{"503 date", 503, map[string]string{"Retry-After": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, ``, "", Transient, DefaultMaxRetryAfter}, // capped (SPEC §6)
		{"500", 500, nil, `oops`, "", Transient, 0},
		{"502", 502, nil, ``, "", Transient, 0},
		{"malformed html", 200, nil, `<html>hello</html>`, CodeMalformedResponse, Transient, 0},
		{"malformed type", 200, nil, `{"processId":1,"orchestrationId":2}`, CodeMalformedResponse, Transient, 0},
		{"malformed missing id", 200, nil, `{"processId":"p"}`, CodeMalformedResponse, Transient, 0},
		{"malformed array", 200, nil, `[]`, CodeMalformedResponse, Transient, 0},
		{"malformed empty", 204, nil, ``, CodeMalformedResponse, Transient, 0},
		{"too large", 200, nil, `{"processId":"p","orchestrationId":"o","pad":"` + strings.Repeat("x", 300) + `"}`, CodeMalformedResponse, Transient, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCorastone(t)
			f.setAPI(func(w http.ResponseWriter, r *http.Request, body []byte) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				writeJSON(w, tt.status, tt.body)
			})
			cfg := f.config()
			cfg.MaxBodyBytes = 256
			obs := &observed{}
			c := newTestCorastone(t, cfg, obs)
			_, err := c.Execute(context.Background(), mustParse(t, "cancel-offering", `{"securityId":"S"}`), testPID)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v", err, err)
			}
			if e.Code != tt.code || e.Verdict != tt.verdict || e.HTTPStatus != tt.status || e.Endpoint != "cancel-offering" ||
				e.Platform != PlatformCorastone || (e.RetryAfter-tt.retry).Abs() > 2*time.Second || (tt.retry == 0) != (e.RetryAfter == 0) {
				t.Errorf("got %+v", e)
			}
			if tt.code == CodeMalformedResponse && (e.Body != excerpt([]byte(tt.body), 256) || e.Message == "" ||
				!strings.Contains(e.Message, cleanText(e.Body, 64)) || !strings.Contains(err.Error(), cleanText(e.Body, 64))) {
				t.Errorf("malformed body %q message %q", e.Body, e.Message)
			}
			_, codes, _ := obs.snapshot()
			if tt.code != "" && !slices.Equal(codes, []string{"corastone " + tt.code}) {
				t.Errorf("observed codes %q", codes)
			}
			if n := len(f.apiRequests()); n != 1 {
				t.Errorf("%d attempts, want 1", n)
			}
		})
	}
}

func TestNoAnswer(t *testing.T) {
	block := make(chan struct{})
	f := newFakeCorastone(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request, body []byte) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(block) })
	cfg := f.config()
	cfg.RequestTimeout = 100 * time.Millisecond
	obs := &observed{}
	c := newTestCorastone(t, cfg, obs)
	_, err := c.Execute(context.Background(), mustParse(t, "cancel-offering", `{"securityId":"S"}`), testPID)
	var e *Error
	if !errors.As(err, &e) || e.HTTPStatus != 0 || e.Verdict != Transient || !errors.Is(err, context.DeadlineExceeded) || e.Message != "timed out" {
		t.Fatalf("timeout: %#v", err)
	}
	requests, _, _ := obs.snapshot()
	if !slices.Equal(requests, []string{"corastone token 200", "corastone cancel-offering 0"}) {
		t.Errorf("observed %q", requests)
	}

	// Connection refused.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	cfg.BaseURL = dead.URL
	_, err = newTestCorastone(t, cfg, nil).Orchestrations(context.Background(), []string{"o"})
	if !errors.As(err, &e) || e.HTTPStatus != 0 || e.Verdict != Transient || e.Endpoint != "token" {
		t.Errorf("refused: %#v", err)
	}
}

func TestRedirectsNotFollowedOffHost(t *testing.T) {
	other := newFakeCorastone(t)
	other.setAPI(acceptAction)
	f := newFakeCorastone(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.URL.Path == "/same" {
			writeJSON(w, 200, `[]`)
			return
		}
		if r.Method == http.MethodGet {
			http.Redirect(w, r, "/same", http.StatusTemporaryRedirect)
			return
		}
		http.Redirect(w, r, other.srv.URL+r.URL.Path, http.StatusTemporaryRedirect)
	})
	c := newTestCorastone(t, f.config(), nil)
	_, err := c.Execute(context.Background(), mustParse(t, "cancel-offering", `{"securityId":"S"}`), testPID)
	var e *Error
	if !errors.As(err, &e) || e.HTTPStatus != 307 || e.Verdict != Permanent {
		t.Errorf("off-host redirect: %v", err)
	}
	if n := len(other.requests()); n != 0 {
		t.Errorf("other host got %d requests", n)
	}
	// A same-host redirect of a GET is followed (with the token kept).
	if _, err := c.Orchestrations(context.Background(), []string{"o"}); err != nil {
		t.Errorf("same-host redirect: %v", err)
	}
}

func TestRateCap(t *testing.T) {
	f := newFakeCorastone(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request, body []byte) { writeJSON(w, 200, `[]`) })
	cfg := f.config()
	cfg.RPS = 10 // burst 10
	c := newTestCorastone(t, cfg, nil)
	start := time.Now()
	for range 13 {
		if _, err := c.Orchestrations(context.Background(), []string{"o"}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("13 requests at 10/s took %v", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	before := len(f.apiRequests())
	_, err := c.Orchestrations(ctx, []string{"o"})
	var e *Error
	if !errors.As(err, &e) || e.Verdict != Transient || len(f.apiRequests()) != before {
		t.Errorf("wait beyond deadline: %v", err)
	}
}

func TestCorastoneConfigValidate(t *testing.T) {
	good := CorastoneConfig{BaseURL: "https://integration-api.us9qi.cdev.idevit.us", ClientID: "id", ClientSecret: "secret", UserAgent: "ua",
		Actions: []string{"cancel-offering"}, Paths: map[string]string{"reject-asset": "/external/v1/primary/{assetId}/reject"}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := CorastoneConfig{BaseURL: "ftp://user:pw@host", TokenURL: "https://h/t?x=1", Actions: []string{"cancel-txn", "nope"},
		Paths: map[string]string{"reject-asset": "/x", "cancel-offering": "/y/{assetId}"}, OmitProcessID: map[string]bool{"x": true},
		RPS: -1, RequestTimeout: -1, MaxBodyBytes: -1, MaxIdleConns: -1}
	err := bad.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"base url", "token url", "client id", "client secret", `"cancel-txn" is not a Corastone action`, `"nope"`,
		"paths: reject-asset", "paths: cancel-offering", "omit processId", "user agent", "rps", "request timeout", "max body bytes", "max idle connections"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "pw") {
		t.Error("credentials echoed")
	}
	if _, err := NewCorastone(bad, nil, nil); err == nil {
		t.Error("NewCorastone accepted a bad config")
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
