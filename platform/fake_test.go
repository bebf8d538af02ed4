package platform

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

const (
	testUA     = "txworker-test/1.0"
	testClient = "txworker"
	testSecret = "s3cret:&="
)

// recorded is one request a fake server received.
type recorded struct {
	Method, Path, RawPath, EscapedPath, RawQuery, UserAgent, Auth string
	Query                                                         url.Values
	Body                                                          []byte
}

// fakeCorastone is a hand-written Corastone double: an OAuth2 token endpoint (HTTP Basic client
// authentication, form body) and an API whose handler each test supplies.
type fakeCorastone struct {
	srv *httptest.Server

	mu      sync.Mutex
	reqs    []recorded
	tokens  int             // issued
	valid   map[string]bool // live tokens
	ttl     int             // expires_in; 0: omitted
	scopes  []string        // scope values requested
	tokenFn func(w http.ResponseWriter) bool
	api     func(w http.ResponseWriter, r *http.Request, body []byte)
}

func newFakeCorastone(t *testing.T) *fakeCorastone {
	t.Helper()
	f := &fakeCorastone{valid: map[string]bool{}, ttl: 3600}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCorastone) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, EscapedPath: r.URL.EscapedPath(),
		RawQuery: r.URL.RawQuery, Query: r.URL.Query(), UserAgent: r.UserAgent(), Auth: r.Header.Get("Authorization"), Body: body})
	f.mu.Unlock()
	if r.URL.Path == "/oauth2/token" {
		f.token(w, r, body)
		return
	}
	f.mu.Lock()
	ok := f.valid[r.Header.Get("Authorization")]
	api := f.api
	f.mu.Unlock()
	if !ok {
		writeJSON(w, 401, `{"errorDetails":[{"code":"AU0001","message":"The access token is invalid or missing."}]}`)
		return
	}
	if api == nil {
		writeJSON(w, 404, `{}`)
		return
	}
	api(w, r, body)
}

func (f *fakeCorastone) token(w http.ResponseWriter, r *http.Request, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tokenFn != nil && f.tokenFn(w) {
		return
	}
	id, secret, ok := r.BasicAuth()
	form, err := url.ParseQuery(string(body))
	if !ok || r.Method != http.MethodPost || err != nil || form.Get("grant_type") != "client_credentials" {
		writeJSON(w, 400, `{"error":"invalid_request"}`)
		return
	}
	// oauth2 url-encodes the client id and secret before Basic encoding (RFC 6749 §2.3.1).
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	if id != testClient || secret != testSecret {
		writeJSON(w, 401, `{"error":"invalid_client"}`)
		return
	}
	f.scopes = append(f.scopes, form.Get("scope"))
	f.tokens++
	tok := fmt.Sprintf("tok-%d", f.tokens)
	f.valid["Bearer "+tok] = true
	expires := ""
	if f.ttl > 0 {
		expires = fmt.Sprintf(`,"expires_in":%d`, f.ttl)
	}
	writeJSON(w, 200, `{"access_token":"`+tok+`","token_type":"bearer"`+expires+`}`)
}

// revokeAll makes every issued token invalid (the next API call gets 401 AU0001).
func (f *fakeCorastone) revokeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.valid)
}

func (f *fakeCorastone) setAPI(h func(w http.ResponseWriter, r *http.Request, body []byte)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.api = h
}

func (f *fakeCorastone) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// apiRequests are the requests other than token requests.
func (f *fakeCorastone) apiRequests() []recorded {
	var out []recorded
	for _, r := range f.requests() {
		if r.Path != "/oauth2/token" {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeCorastone) tokenCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokens
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (f *fakeCorastone) config() CorastoneConfig {
	return CorastoneConfig{
		BaseURL:      f.srv.URL,
		ClientID:     testClient,
		ClientSecret: testSecret,
		Actions:      []string{"reject-asset", "cancel-offering", "revert-to-active", "remove-service-provider"},
		UserAgent:    testUA,
	}
}

func newTestCorastone(t *testing.T, cfg CorastoneConfig, obs Observer) *Corastone {
	t.Helper()
	c, err := NewCorastone(cfg, nil, obs)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// observed records what a client reported.
type observed struct {
	mu       sync.Mutex
	requests []string // "platform endpoint status"
	codes    []string
	fetches  []bool
}

func (o *observed) ObserveRequest(platform, endpoint string, status int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests = append(o.requests, fmt.Sprintf("%s %s %d", platform, endpoint, status))
}

func (o *observed) ObserveErrorCode(platform, code string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.codes = append(o.codes, platform+" "+code)
}

func (o *observed) ObserveTokenFetch(platform string, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fetches = append(o.fetches, ok)
}

func (o *observed) snapshot() (requests, codes []string, fetches []bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.requests...), append([]string(nil), o.codes...), append([]bool(nil), o.fetches...)
}

// acceptAction answers an action with its processId as orchestrationId, like the platform.
func acceptAction(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		ProcessID string `json:"processId"`
	}
	_ = json.Unmarshal(body, &in)
	if in.ProcessID == "" {
		in.ProcessID = "generated-0000"
	}
	writeJSON(w, 200, `{"processId":"`+in.ProcessID+`","orchestrationId":"`+in.ProcessID+`"}`)
}
