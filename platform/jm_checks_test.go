package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCancelChecksAnswer: a cancel 200 is believed when it says Abandoned for the submitKey sent,
// or when a look-up confirms it; never because of its status alone (SPEC §5).
func TestCancelChecksAnswer(t *testing.T) {
	const key = "15d071280b92c867f86975b9cd2e8765"
	queryAbandoned := `{"fetchLimit":1,"fetchOffset":0,"result":[{"submitKey":"` + key + `","formStatus":"Abandoned"}]}`
	querySaved := `{"fetchLimit":1,"fetchOffset":0,"result":[{"submitKey":"` + key + `","formStatus":"Saved"}]}`
	html := `<html><body><form action="/login">Please log in</form></body></html>`
	tests := []struct {
		name    string
		cancel  string // the cancel's 200 body
		query   string // the look-up's 200 body; "" : not expected
		status  string
		ok      bool
		queries int
	}{
		{"simulator answer", `{"submitKey":"` + key + `","formStatus":"Abandoned"}`, "", "Abandoned", true, 0},
		{"Open UX answer", `{"formStatus":"Abandoned"}`, "", "Abandoned", true, 0},
		{"casing", `{"formStatus":"ABANDONED"}`, "", "Abandoned", true, 0},
		{"other formStatus", `{"formStatus":"Saved"}`, "", "", false, 0},
		{"other submitKey", `{"submitKey":"other","formStatus":"Abandoned"}`, "", "", false, 0},
		{"empty, confirmed", ``, queryAbandoned, "Abandoned", true, 1},
		{"empty object, confirmed", `{}`, queryAbandoned, "Abandoned", true, 1},
		{"empty, not abandoned", ``, querySaved, "Saved", false, 1},
		{"HTML login page, look-up HTML too", html, html, "", false, 1},
		{"HTML login page, confirmed", html, queryAbandoned, "Abandoned", true, 1},
		{"other JSON", `{"status":"ok"}`, querySaved, "Saved", false, 1},
		{"JSON array", `[]`, html, "", false, 1},
		{"formStatus not a string", `{"formStatus":7}`, html, "", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			queries := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				if r.URL.Path == jmQueryPath {
					mu.Lock()
					queries++
					mu.Unlock()
					writeJSON(w, 200, tt.query)
					return
				}
				writeJSON(w, 200, tt.cancel)
			}))
			t.Cleanup(srv.Close)
			j, err := NewJM(JMConfig{BaseURL: srv.URL, Username: "u", Password: "pw-1234", UserAgent: testUA}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			status, err := j.Cancel(context.Background(), cancelReq(t, key))
			mu.Lock()
			defer mu.Unlock()
			if queries != tt.queries {
				t.Errorf("%d look-ups, want %d", queries, tt.queries)
			}
			if status != tt.status {
				t.Errorf("status %q, want %q", status, tt.status)
			}
			if tt.ok {
				if err != nil {
					t.Errorf("got %v, want believed", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeMalformedResponse || e.Verdict != Transient || e.Endpoint != "cancel-txn" {
				t.Fatalf("got %v, want a Transient MALFORMED_RESPONSE of cancel-txn", err)
			}
			if e.Body != excerpt([]byte(tt.cancel), maxBodyExcerpt) || !strings.Contains(e.Message, cleanText(e.Body, 40)) {
				t.Errorf("body %q message %q", e.Body, e.Message)
			}
		})
	}
}

// TestCookieJarBounded: 9 answers setting 40 cookies each leave a Cookie header of at most
// MaxJMCookies cookies and MaxJMCookieBytes bytes, the session and XSRF cookies kept.
func TestCookieJarBounded(t *testing.T) {
	var mu sync.Mutex
	var sent []string
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		n++
		round := n
		sent = append(sent, r.Header.Get("Cookie"))
		mu.Unlock()
		if x, err := r.Cookie("XSRF-TOKEN"); err == nil && r.Header.Get("X-XSRF-TOKEN") != x.Value {
			writeJSON(w, 403, `{"error":"csrf"}`)
			return
		}
		for i := range 40 {
			http.SetCookie(w, &http.Cookie{Name: fmt.Sprintf("junk-%d-%d", round, i), Value: strings.Repeat("v", 400), Path: "/"})
		}
		if round == 5 { // the session starts late, when the jar is already full
			http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "session-1", Path: "/", HttpOnly: true})
			http.SetCookie(w, &http.Cookie{Name: "XSRF-TOKEN", Value: "xsrf-1", Path: "/"})
		}
		writeJSON(w, 200, `{"formStatus":"Abandoned"}`)
	}))
	t.Cleanup(srv.Close)
	j, err := NewJM(JMConfig{BaseURL: srv.URL, Username: "u", Password: "pw-1234", UserAgent: testUA}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := j.Cancel(context.Background(), cancelReq(t, "k")); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, h := range sent {
		cookies := strings.Split(h, "; ")
		if h == "" {
			cookies = nil
		}
		if len(h) > MaxJMCookieBytes || len(cookies) > MaxJMCookies {
			t.Errorf("request %d: Cookie header of %d bytes, %d cookies", i+1, len(h), len(cookies))
		}
		if i >= 5 && (!strings.Contains(h, "JSESSIONID=session-1") || !strings.Contains(h, "XSRF-TOKEN=xsrf-1")) {
			t.Errorf("request %d lost the session cookies: %.80s…", i+1, h)
		}
	}
	if last := sent[len(sent)-1]; len(last) < MaxJMCookieBytes/2 {
		t.Errorf("the jar keeps other cookies too, up to its bound: last header %d bytes", len(last))
	}
}

func TestSessionJar(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	u, _ := url.Parse("https://jm.example/workspaces/secure/api/v1/txn/cancel")
	other, _ := url.Parse("https://other.example/workspaces/secure/api/v1/txn/cancel")
	plain, _ := url.Parse("http://jm.example/workspaces/secure/api/v1/txn/cancel")
	root, _ := url.Parse("https://jm.example/")
	names := func(cs []*http.Cookie) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name+"="+c.Value)
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		name string
		set  []*http.Cookie
		at   *url.URL
		want string
	}{
		{"host only", []*http.Cookie{{Name: "a", Value: "1"}}, other, ""},
		{"default path", []*http.Cookie{{Name: "a", Value: "1"}}, u, "a=1"},
		{"default path not at root", []*http.Cookie{{Name: "a", Value: "1"}}, root, ""},
		{"path prefix", []*http.Cookie{{Name: "a", Value: "1", Path: "/workspaces"}}, u, "a=1"},
		{"path not a segment prefix", []*http.Cookie{{Name: "a", Value: "1", Path: "/work"}}, u, ""},
		{"longest path first", []*http.Cookie{{Name: "a", Value: "1", Path: "/"}, {Name: "b", Value: "2", Path: "/workspaces/"}}, u, "b=2 a=1"},
		{"replaced", []*http.Cookie{{Name: "a", Value: "1", Path: "/"}, {Name: "a", Value: "2", Path: "/"}}, u, "a=2"},
		{"deleted by Max-Age", []*http.Cookie{{Name: "a", Value: "1", Path: "/"}, {Name: "a", Value: "", Path: "/", MaxAge: -1}}, u, ""},
		{"expired", []*http.Cookie{{Name: "a", Value: "1", Path: "/", Expires: now.Add(-time.Second)}}, u, ""},
		{"not yet expired", []*http.Cookie{{Name: "a", Value: "1", Path: "/", Expires: now.Add(time.Hour)}}, u, "a=1"},
		{"secure over http", []*http.Cookie{{Name: "a", Value: "1", Path: "/", Secure: true}}, plain, ""},
		{"domain of the host", []*http.Cookie{{Name: "a", Value: "1", Path: "/", Domain: "example"}}, u, "a=1"},
		{"foreign domain", []*http.Cookie{{Name: "a", Value: "1", Path: "/", Domain: "evil.example"}}, u, ""},
		{"too large alone", []*http.Cookie{{Name: "a", Value: strings.Repeat("x", MaxJMCookieBytes), Path: "/"}}, u, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := newSessionJar()
			j.now = func() time.Time { return now }
			j.SetCookies(u, tt.set)
			if got := names(j.Cookies(tt.at)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("count bound, session cookies preferred", func(t *testing.T) {
		j := newSessionJar()
		var many []*http.Cookie
		for i := range 2 * MaxJMCookies {
			many = append(many, &http.Cookie{Name: fmt.Sprint("c", i), Value: "v", Path: "/"})
		}
		j.SetCookies(u, many)
		j.SetCookies(u, []*http.Cookie{{Name: "JSESSIONID", Value: "s", Path: "/"}, {Name: "XSRF-TOKEN", Value: "x", Path: "/"}})
		got := j.Cookies(u)
		if len(got) != MaxJMCookies || !strings.Contains(names(got), "JSESSIONID=s") || j.xsrf(u) != "x" {
			t.Errorf("%d cookies: %.100s", len(got), names(got))
		}
		j.reset()
		if len(j.Cookies(u)) != 0 {
			t.Error("reset kept cookies")
		}
	})
}
