package platform

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeJM is a hand-written Journey Manager double: Basic or bearer auth, a session cookie, Spring's
// CSRF cookie (XSRF-TOKEN → X-XSRF-TOKEN required on POST), cancel and query.
type fakeJM struct {
	srv   *httptest.Server
	oauth *fakeCorastone // token endpoint for bearer mode

	mu       sync.Mutex
	txns     map[string]string // submitKey → formStatus
	reqs     []recorded
	headers  []http.Header
	csrf     bool
	sessions int
	queryFn  func(w http.ResponseWriter) bool
}

func newFakeJM(t *testing.T, csrf bool) *fakeJM {
	t.Helper()
	f := &fakeJM{csrf: csrf, txns: map[string]string{
		"15d071280b92c867f86975b9cd2e8765": "Saved",
		"completed-key":                    "Completed",
		"abandoned-key":                    "abandoned", // casing varies
	}}
	f.oauth = newFakeCorastone(t)
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeJM) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, recorded{Method: r.Method, Path: r.URL.Path, UserAgent: r.UserAgent(), Auth: r.Header.Get("Authorization"), Body: body})
	f.headers = append(f.headers, r.Header.Clone())
	user, pass, basic := r.BasicAuth()
	f.oauth.mu.Lock()
	bearer := f.oauth.valid[r.Header.Get("Authorization")]
	f.oauth.mu.Unlock()
	if !(basic && user == "jm-user" && pass == "jm-pass") && !bearer {
		w.WriteHeader(401)
		return
	}
	if _, err := r.Cookie("JSESSIONID"); err != nil {
		f.sessions++
		http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "s" + itoa(f.sessions), Path: "/", HttpOnly: true})
	}
	if f.csrf {
		c, err := r.Cookie("XSRF-TOKEN")
		if err != nil || r.Header.Get("X-XSRF-TOKEN") != c.Value {
			http.SetCookie(w, &http.Cookie{Name: "XSRF-TOKEN", Value: "xsrf-1", Path: "/"})
			writeJSON(w, 403, `{"status":403,"error":"Forbidden","message":"Invalid CSRF token"}`)
			return
		}
	}
	var in struct {
		Params struct {
			SubmitKey string `json:"submitKey"`
		} `json:"params"`
		Filters []struct {
			Params []string `json:"params"`
		} `json:"filters"`
	}
	if r.Method != http.MethodPost || json.Unmarshal(body, &in) != nil {
		writeJSON(w, 400, `{"error":"badRequest"}`)
		return
	}
	switch r.URL.Path {
	case "/workspaces/secure/api/v1/txn/cancel":
		status, ok := f.txns[in.Params.SubmitKey]
		switch {
		case in.Params.SubmitKey == "":
			writeJSON(w, 400, `{"error":"submitKeyNotSpecified","message":"submitKey not specified"}`)
		case !ok:
			writeJSON(w, 400, `{"error":"txnNotFound","message":"The transaction specified by the submitKey was not found."}`)
		case strings.EqualFold(status, "Completed") || strings.EqualFold(status, "Abandoned"):
			writeJSON(w, 400, `{"error":"txnAlreadyFinished","message":"The transaction has already been finished (Completed or Abandoned)."}`)
		default:
			f.txns[in.Params.SubmitKey] = "Abandoned"
			writeJSON(w, 200, `{"submitKey":"`+in.Params.SubmitKey+`","formStatus":"Abandoned"}`) // the simulator's answer
		}
	case jmQueryPath:
		if f.queryFn != nil && f.queryFn(w) {
			return
		}
		key := ""
		if len(in.Filters) == 1 && len(in.Filters[0].Params) == 1 {
			key = in.Filters[0].Params[0]
		}
		rows := "[]"
		if status, ok := f.txns[key]; ok {
			rows = `[{"submitKey":"` + key + `","formStatus":"` + status + `","trackingCode":"ZT73VWL"}]`
		}
		writeJSON(w, 200, `{"fetchLimit":1,"fetchOffset":0,"durationMs":3,"result":`+rows+`}`)
	default:
		writeJSON(w, 404, `{}`)
	}
}

func (f *fakeJM) requests() ([]recorded, []http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...), append([]http.Header(nil), f.headers...)
}

func (f *fakeJM) basicConfig() JMConfig {
	return JMConfig{BaseURL: f.srv.URL, Username: "jm-user", Password: "jm-pass", UserAgent: testUA}
}

func (f *fakeJM) bearerConfig() JMConfig {
	return JMConfig{BaseURL: f.srv.URL, TokenURL: f.oauth.srv.URL + "/oauth2/token", ClientID: testClient, ClientSecret: testSecret, UserAgent: testUA}
}

func newTestJM(t *testing.T, cfg JMConfig, obs Observer) *JM {
	t.Helper()
	j, err := NewJM(cfg, nil, obs)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func cancelReq(t *testing.T, key string) *Request {
	return mustParse(t, "cancel-txn", `{"submitKey":"`+key+`","reason":"Job application will be completed in branch","milestones":"Application Status: Staff Cancelled"}`)
}

func TestJMCancel(t *testing.T) {
	for _, mode := range []string{"basic", "bearer"} {
		t.Run(mode, func(t *testing.T) {
			f := newFakeJM(t, true)
			cfg := f.basicConfig()
			if mode == "bearer" {
				cfg = f.bearerConfig()
			}
			obs := &observed{}
			j := newTestJM(t, cfg, obs)
			ctx := context.Background()
			tests := []struct {
				key, status, code string
			}{
				{"15d071280b92c867f86975b9cd2e8765", "Abandoned", ""},
				{"15d071280b92c867f86975b9cd2e8765", "Abandoned", ""}, // again: txnAlreadyFinished, query says Abandoned
				{"abandoned-key", "Abandoned", ""},
				{"completed-key", "Completed", "txnAlreadyFinished"},
				{"unknown-key", "", "txnNotFound"},
			}
			for _, tt := range tests {
				status, err := j.Cancel(ctx, cancelReq(t, tt.key))
				var e *Error
				if status != tt.status || (tt.code == "") != (err == nil) || err != nil && (!errors.As(err, &e) || e.Code != tt.code || e.Verdict != Permanent || e.Platform != JourneyManager) {
					t.Errorf("Cancel(%s) = %q, %v; want %q, %q", tt.key, status, err, tt.status, tt.code)
				}
			}
			reqs, headers := f.requests()
			if reqs[0].Path != "/workspaces/secure/api/v1/txn/cancel" || string(reqs[0].Body) !=
				`{"params":{"submitKey":"15d071280b92c867f86975b9cd2e8765","reason":"Job application will be completed in branch","milestones":"Application Status: Staff Cancelled"}}` {
				t.Errorf("first request %s %s", reqs[0].Path, reqs[0].Body)
			}
			// First POST: refused for CSRF, retried with the cookie echoed as the header.
			if headers[0].Get("X-XSRF-TOKEN") != "" || headers[1].Get("X-XSRF-TOKEN") != "xsrf-1" || !strings.Contains(headers[1].Get("Cookie"), "JSESSIONID=s1") {
				t.Errorf("csrf/session: %v / %v", headers[0], headers[1])
			}
			var query recorded
			for _, r := range reqs {
				if r.UserAgent != testUA {
					t.Errorf("no User-Agent on %s", r.Path)
				}
				if r.Path == jmQueryPath {
					query = r
				}
				if mode == "basic" && !strings.HasPrefix(r.Auth, "Basic ") || mode == "bearer" && r.Auth != "Bearer tok-1" {
					t.Errorf("auth %q", r.Auth)
				}
			}
			if string(query.Body) != `{"fetchLimit":1,"fetchOffset":0,"filters":[{"criteria":["submitKey = {0}"],"params":["completed-key"],"operator":"AND"}]}` {
				t.Errorf("query body %s", query.Body)
			}
			if mode == "bearer" {
				for _, r := range f.oauth.requests() {
					if r.UserAgent != testUA {
						t.Error("token request without User-Agent")
					}
				}
			}
			_, codes, _ := obs.snapshot()
			if !strings.Contains(strings.Join(codes, ","), "jm txnAlreadyFinished") {
				t.Errorf("codes %q", codes)
			}
		})
	}
}

func TestJMQuery(t *testing.T) {
	f := newFakeJM(t, false)
	j := newTestJM(t, f.basicConfig(), nil)
	txn, err := j.Query(context.Background(), "completed-key")
	if err != nil || txn != (Txn{SubmitKey: "completed-key", FormStatus: "Completed"}) {
		t.Errorf("%+v %v", txn, err)
	}
	for _, bad := range []string{"", "a\x00b"} {
		var e *Error
		if _, err := j.Query(context.Background(), bad); !errors.As(err, &e) || e.Verdict != Permanent {
			t.Errorf("key %q: %v", bad, err)
		}
	}
	tests := []struct {
		name, body string
		code       string
	}{
		{"no result", `{"fetchLimit":1}`, CodeMalformedResponse},
		{"array", `[]`, CodeMalformedResponse},
		{"no status", `{"result":[{"submitKey":"completed-key"}]}`, CodeMalformedResponse},
		{"other key only", `{"result":[{"submitKey":"other","formStatus":"Saved"}]}`, "txnNotFound"},
		{"status without key", `{"result":[{"formStatus":"Saved"}]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.mu.Lock()
			f.queryFn = func(w http.ResponseWriter) bool { writeJSON(w, 200, tt.body); return true }
			f.mu.Unlock()
			_, err := j.Query(context.Background(), "completed-key")
			var e *Error
			if tt.code == "" && err != nil || tt.code != "" && (!errors.As(err, &e) || e.Code != tt.code) {
				t.Errorf("got %v", err)
			}
		})
	}
}

func TestJMAuthRetry(t *testing.T) {
	f := newFakeJM(t, false)
	j := newTestJM(t, f.bearerConfig(), nil)
	ctx := context.Background()
	if _, err := j.Cancel(ctx, cancelReq(t, "15d071280b92c867f86975b9cd2e8765")); err != nil {
		t.Fatal(err)
	}
	f.oauth.revokeAll()
	if _, err := j.Query(ctx, "completed-key"); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if f.oauth.tokenCount() != 2 {
		t.Errorf("%d token fetches", f.oauth.tokenCount())
	}
	// Wrong Basic credentials: one retry, then Permanent.
	cfg := f.basicConfig()
	cfg.Password = "wrong"
	_, err := newTestJM(t, cfg, nil).Cancel(ctx, cancelReq(t, "completed-key"))
	var e *Error
	if !errors.As(err, &e) || e.HTTPStatus != 401 || e.Verdict != Permanent {
		t.Errorf("bad password: %v", err)
	}
}

func TestJMRefusesCorastoneRequests(t *testing.T) {
	f := newFakeJM(t, false)
	j := newTestJM(t, f.basicConfig(), nil)
	_, err := j.Cancel(context.Background(), mustParse(t, "cancel-offering", `{"securityId":"S"}`))
	var e *Error
	if !errors.As(err, &e) || e.Verdict != Permanent {
		t.Errorf("got %v", err)
	}
	if reqs, _ := f.requests(); len(reqs) != 0 {
		t.Error("sent")
	}
}

func TestJMConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  JMConfig
		want string
	}{
		{"basic", JMConfig{BaseURL: "https://jm", Username: "u", Password: "p", UserAgent: "ua"}, ""},
		{"bearer", JMConfig{BaseURL: "https://jm", TokenURL: "https://idp/token", ClientID: "c", ClientSecret: "s", UserAgent: "ua"}, ""},
		{"both", JMConfig{BaseURL: "https://jm", Username: "u", Password: "p", ClientID: "c", UserAgent: "ua"}, "not both"},
		{"half basic", JMConfig{BaseURL: "https://jm", Username: "u", UserAgent: "ua"}, "both username and password"},
		{"half bearer", JMConfig{BaseURL: "https://jm", ClientID: "c", UserAgent: "ua"}, "token url, client id and client secret"},
		{"none", JMConfig{BaseURL: "https://jm", UserAgent: "ua"}, "credentials are required"},
		{"url and ua", JMConfig{BaseURL: "jm", Username: "u", Password: "p"}, "base url"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	if err := (JMConfig{BaseURL: "jm", Username: "u", Password: "p"}).Validate(); err == nil || !strings.Contains(err.Error(), "user agent") {
		t.Errorf("every problem: %v", err)
	}
}
