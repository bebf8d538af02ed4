package platform

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestValidID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"uuid", testPID, true},
		{"opaque", "orch_2024.09-12~x/y:z", true},
		{"one char", "x", true},
		{"128 ascii", strings.Repeat("a", 128), true},
		{"128 runes of 2 bytes", strings.Repeat("é", 128), true},
		{"not-a-uuid is an id", "not-a-uuid", true},
		{"empty", "", false},
		{"129 chars", strings.Repeat("a", 129), false},
		{"300 chars", strings.Repeat("a", 300), false},
		{"129 runes", strings.Repeat("é", 129), false},
		{"comma", "a,b", false},
		{"leading comma", ",a", false},
		{"space", "a b", false},
		{"tab", "a\tb", false},
		{"newline", "a\nb", false},
		{"CR", "a\rb", false},
		{"NUL", "a\x00b", false},
		{"ESC", "a\x1bb", false},
		{"DEL", "a\x7fb", false},
		{"C1 control", "a\u0085b", false},
		{"NBSP", "a\u00a0b", false},
		{"line separator", "a\u2028b", false},
		{"ideographic space", "a\u3000b", false},
		{"zero width space", "a\u200bb", false},
		{"bidi override", "a\u202eb", false},
		{"BOM", "\ufeffa", false},
		{"replacement character", "a\ufffdb", false},
		{"invalid UTF-8", "a\xffb", false},
		{"lone surrogate bytes", "a\xed\xa0\x80b", false},
		{"overlong", "a\xc0\xafb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidID(tt.id)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidID(%q) = %v, want ok %v", tt.id, err, tt.ok)
			}
			if err != nil && len(tt.id) > 3 && strings.Contains(err.Error(), tt.id) {
				t.Errorf("error %q echoes the id", err)
			}
		})
	}
}

// TestExecuteChecksReply: a 200 whose orchestrationId is not a usable id or whose processId is not
// the one sent is not believed: MALFORMED_RESPONSE, Transient, with the body's first bytes.
func TestExecuteChecksReply(t *testing.T) {
	const other = "7f0e4a55-8f5c-4a43-9d37-33c2b3b8f8a1"
	tests := []struct {
		name  string
		reply string
		omit  bool // OmitProcessID: no processId sent
		ok    bool
	}{
		{"documented", `{"processId":"` + testPID + `","orchestrationId":"` + testPID + `"}`, false, true},
		{"no processId in reply", `{"orchestrationId":"` + testPID + `"}`, false, true},
		{"other orchestrationId", `{"processId":"` + testPID + `","orchestrationId":"orch-1"}`, false, true},
		{"omitted, platform ids", `{"processId":"p-1","orchestrationId":"o-1"}`, true, true},
		{"processId not-a-uuid", `{"processId":"not-a-uuid","orchestrationId":"` + testPID + `"}`, false, false},
		{"another command's processId", `{"processId":"` + other + `","orchestrationId":"` + other + `"}`, false, false},
		{"processId other case", `{"processId":"` + strings.ToUpper(testPID) + `","orchestrationId":"` + testPID + `"}`, false, false},
		{"processId empty string", `{"processId":"","orchestrationId":"` + testPID + `"}`, false, true},
		{"omitted, processId with comma", `{"processId":"a,b","orchestrationId":"o-1"}`, true, false},
		{"orchestrationId comma", `{"processId":"` + testPID + `","orchestrationId":"a,b"}`, false, false},
		{"orchestrationId control char", `{"processId":"` + testPID + `","orchestrationId":"a\u0001b"}`, false, false},
		{"orchestrationId newline", `{"processId":"` + testPID + `","orchestrationId":"a\nb"}`, false, false},
		{"orchestrationId space", `{"processId":"` + testPID + `","orchestrationId":"a b"}`, false, false},
		{"orchestrationId NBSP", `{"processId":"` + testPID + `","orchestrationId":"a\u00a0b"}`, false, false},
		{"orchestrationId zero width", `{"processId":"` + testPID + `","orchestrationId":"a\u200bb"}`, false, false},
		{"orchestrationId 129 chars", `{"processId":"` + testPID + `","orchestrationId":"` + strings.Repeat("o", 129) + `"}`, false, false},
		{"orchestrationId 300 chars", `{"processId":"` + testPID + `","orchestrationId":"` + strings.Repeat("o", 300) + `"}`, false, false},
		{"orchestrationId 128 chars", `{"processId":"` + testPID + `","orchestrationId":"` + strings.Repeat("o", 128) + `"}`, false, true},
		{"orchestrationId invalid UTF-8", "{\"processId\":\"" + testPID + "\",\"orchestrationId\":\"a\xffb\"}", false, false},
		{"orchestrationId lone surrogate", `{"processId":"` + testPID + `","orchestrationId":"a\ud800b"}`, false, false},
		{"orchestrationId empty", `{"processId":"` + testPID + `","orchestrationId":""}`, false, false},
		{"orchestrationId null", `{"processId":"` + testPID + `","orchestrationId":null}`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCorastone(t)
			f.setAPI(func(w http.ResponseWriter, r *http.Request, body []byte) { writeJSON(w, 200, tt.reply) })
			cfg := f.config()
			if tt.omit {
				cfg.OmitProcessID = map[string]bool{"cancel-offering": true}
			}
			c := newTestCorastone(t, cfg, nil)
			acc, err := c.Execute(context.Background(), mustParse(t, "cancel-offering", `{"securityId":"S"}`), testPID)
			if tt.ok {
				if err != nil || acc.OrchestrationID == "" || acc.ProcessID == "" {
					t.Fatalf("got %+v, %v; want believed", acc, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeMalformedResponse || e.Verdict != Transient || e.HTTPStatus != 200 {
				t.Fatalf("got %+v, %v; want a Transient MALFORMED_RESPONSE", acc, err)
			}
			if e.Body != excerpt([]byte(tt.reply), maxBodyExcerpt) || !strings.Contains(e.Message, "; body: {") || !strings.Contains(err.Error(), "body: {") {
				t.Errorf("body %q message %q", e.Body, e.Message)
			}
		})
	}
}

// TestMalformedCarriesBody: every malformed 2xx, whatever makes it so, carries the body's first
// bytes (valid UTF-8, at most 256) in Body and an excerpt of them in Message and Error().
func TestMalformedCarriesBody(t *testing.T) {
	long := `{"processId":` + strings.Repeat(" ", 300) + `1}`
	for name, body := range map[string]string{
		"html":        `<html><body>Please log in</body></html>`,
		"type":        `{"processId":1,"orchestrationId":2}`,
		"array":       `[1,2,3]`,
		"long":        long,
		"non-UTF-8":   "\xff\xfe<html>\x00\x01",
		"bad id":      `{"orchestrationId":"a,b"}`,
		"trailing":    `{"orchestrationId":"o"} x`,
		"empty":       ``,
		"whitespace":  "  \n ",
		"json string": `"ok"`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeCorastone(t)
			f.setAPI(func(w http.ResponseWriter, r *http.Request, _ []byte) { writeJSON(w, 200, body) })
			c := newTestCorastone(t, f.config(), nil)
			_, err := c.Execute(context.Background(), mustParse(t, "cancel-offering", `{"securityId":"S"}`), testPID)
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeMalformedResponse || e.Verdict != Transient {
				t.Fatalf("got %v", err)
			}
			if e.Body != excerpt([]byte(body), maxBodyExcerpt) || len(e.Body) > maxBodyExcerpt {
				t.Errorf("Body %q", e.Body)
			}
			want := "; body: " + cleanText(e.Body, 40)
			if strings.TrimSpace(body) == "" {
				want = "; body empty"
			}
			if !strings.Contains(e.Message, want) || !strings.Contains(err.Error(), want) || len(e.Message) > maxMessage || hasControl(e.Message) {
				t.Errorf("Message %q (Error %q) lacks %q", e.Message, err.Error(), want)
			}
		})
	}
}

// TestRetryAfterCapped: Retry-After in seconds or as an HTTP-date is capped at MaxRetryAfter
// (default 5m), on an action, a JM cancel and a token fetch.
func TestRetryAfterCapped(t *testing.T) {
	day := time.Now().Add(24 * time.Hour).UTC().Format(http.TimeFormat)
	for _, tt := range []struct {
		name  string
		value string
		max   time.Duration
		want  time.Duration
	}{
		{"seconds default", "86400", 0, DefaultMaxRetryAfter},
		{"date default", day, 0, DefaultMaxRetryAfter},
		{"seconds configured", "86400", 90 * time.Second, 90 * time.Second},
		{"date configured", day, time.Hour, time.Hour},
		{"below the cap", "7", 0, 7 * time.Second},
		{"huge", "99999999999999999999", 0, DefaultMaxRetryAfter},
	} {
		t.Run(tt.name, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				var e *Error
				if !errors.As(err, &e) || e.Verdict != Transient || e.RetryAfter != tt.want {
					t.Errorf("%s: got %+v, want RetryAfter %v", what, err, tt.want)
				}
			}
			f := newFakeCorastone(t)
			f.setAPI(func(w http.ResponseWriter, r *http.Request, _ []byte) {
				w.Header().Set("Retry-After", tt.value)
				writeJSON(w, 429, `{}`)
			})
			cfg := f.config()
			cfg.MaxRetryAfter = tt.max
			c := newTestCorastone(t, cfg, nil)
			_, err := c.Execute(context.Background(), mustParse(t, "cancel-offering", `{"securityId":"S"}`), testPID)
			check("action", err)

			tf := newFakeCorastone(t)
			tf.tokenFn = func(w http.ResponseWriter) bool {
				w.Header().Set("Retry-After", tt.value)
				writeJSON(w, 503, `{"error":"temporarily_unavailable"}`)
				return true
			}
			cfg = tf.config()
			cfg.MaxRetryAfter = tt.max
			check("token", newTestCorastone(t, cfg, nil).Token(context.Background()))

			jm := newFakeJM(t, false)
			jcfg := jm.basicConfig()
			jcfg.MaxRetryAfter = tt.max
			jcfg.BaseURL = newRetryAfterServer(t, tt.value)
			j, err := NewJM(jcfg, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = j.Cancel(context.Background(), mustParse(t, "cancel-txn", `{"submitKey":"k"}`))
			check("jm", err)
		})
	}
}

func newRetryAfterServer(t *testing.T, value string) string {
	t.Helper()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", value)
		writeJSON(w, 503, `{}`)
	})
	return srv
}

func TestMaxRetryAfterValidate(t *testing.T) {
	c := CorastoneConfig{BaseURL: "https://p", ClientID: "c", ClientSecret: "s", UserAgent: "u", MaxRetryAfter: -time.Second}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "max retry-after") {
		t.Errorf("corastone: %v", err)
	}
	j := JMConfig{BaseURL: "https://j", Username: "u", Password: "p", UserAgent: "u", MaxRetryAfter: -time.Second}
	if err := j.Validate(); err == nil || !strings.Contains(err.Error(), "max retry-after") {
		t.Errorf("jm: %v", err)
	}
	c.MaxRetryAfter, j.MaxRetryAfter = 0, time.Minute
	if c.Validate() != nil || j.Validate() != nil {
		t.Errorf("0 and 1m must be valid: %v %v", c.Validate(), j.Validate())
	}
}

// TestPlatformTextRedacted: a platform text that echoes the Authorization header (Basic or
// Bearer), the raw secret or the base64 of id:secret never reaches Message, Body, Code or Error();
// [redacted] stands in its place. Each client knows its own secrets.
func TestPlatformTextRedacted(t *testing.T) {
	basicOf := func(id, secret string) string {
		return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
	}
	rawBasic := func(id, secret string) string { return base64.StdEncoding.EncodeToString([]byte(id + ":" + secret)) }
	type client struct {
		name    string
		call    func(t *testing.T, echo func(r *http.Request) string, status int) error
		secrets []string // must not appear (besides the echoed header's own value)
	}
	echoServer := func(t *testing.T, echo func(r *http.Request) string, status int) string {
		return newServer(t, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, status, echo(r))
		})
	}
	clients := []client{
		{"corastone", func(t *testing.T, echo func(r *http.Request) string, status int) error {
			f := newFakeCorastone(t)
			f.setAPI(func(w http.ResponseWriter, r *http.Request, _ []byte) { writeJSON(w, status, echo(r)) })
			_, err := newTestCorastone(t, f.config(), nil).Execute(context.Background(), mustParse(t, "cancel-offering", `{"securityId":"S"}`), testPID)
			return err
		}, []string{testSecret, basicOf(testClient, testSecret), rawBasic(testClient, testSecret), "tok-1"}},
		{"corastone token", func(t *testing.T, echo func(r *http.Request) string, status int) error {
			cfg := newFakeCorastone(t).config()
			cfg.BaseURL = echoServer(t, echo, status)
			return newTestCorastone(t, cfg, nil).Token(context.Background())
		}, []string{testSecret, basicOf(testClient, testSecret), rawBasic(testClient, testSecret)}},
		{"jm basic", func(t *testing.T, echo func(r *http.Request) string, status int) error {
			cfg := JMConfig{BaseURL: echoServer(t, echo, status), Username: "jm-user", Password: "jm-pass-word", UserAgent: testUA}
			j, err := NewJM(cfg, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = j.Cancel(context.Background(), mustParse(t, "cancel-txn", `{"submitKey":"k"}`))
			return err
		}, []string{"jm-pass-word", rawBasic("jm-user", "jm-pass-word"), "jm-user:jm-pass-word"}},
		{"jm bearer", func(t *testing.T, echo func(r *http.Request) string, status int) error {
			f := newFakeCorastone(t)
			cfg := JMConfig{BaseURL: echoServer(t, echo, status), TokenURL: f.srv.URL + "/oauth2/token", ClientID: testClient,
				ClientSecret: testSecret, UserAgent: testUA}
			j, err := NewJM(cfg, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = j.Cancel(context.Background(), mustParse(t, "cancel-txn", `{"submitKey":"k"}`))
			return err
		}, []string{testSecret, basicOf(testClient, testSecret), "tok-1"}},
	}
	echoes := map[string]func(r *http.Request) string{
		"authorization header": func(r *http.Request) string {
			return `{"code":"GN0002","message":"bad header ` + jsonEscaped(r.Header.Get("Authorization")) + `"}`
		},
		"header in plain text": func(r *http.Request) string {
			return "Rejected. Authorization: " + r.Header.Get("Authorization") + " (GN0002)"
		},
		"credential parts": func(r *http.Request) string {
			scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			decoded, _ := base64.StdEncoding.DecodeString(cred)
			return `{"error":"invalid","message":"scheme ` + scheme + ` credential ` + cred + ` decoded ` + jsonEscaped(string(decoded)) + `"}`
		},
		"the secrets themselves": func(r *http.Request) string {
			return `{"message":"known: ` + jsonEscaped(testSecret) + ` ` + rawBasic(testClient, testSecret) + ` ` + basicOf(testClient, testSecret) +
				` jm-pass-word tok-1 ` + url.QueryEscape(testSecret) + `"}`
		},
		"secret as the code": func(r *http.Request) string { return `{"error":"jm-pass-word","code":"jm-pass-word"}` },
		"long body, header late": func(r *http.Request) string {
			return strings.Repeat("x", 200) + " " + r.Header.Get("Authorization") + " " + testSecret + " jm-pass-word"
		},
		// A secret across the 256th byte: redacted before the excerpt is cut, so no prefix of it
		// remains.
		"secret at the cut": func(r *http.Request) string {
			return strings.Repeat("x", 250) + " " + testSecret + " " + strings.Repeat("x", 250) + " jm-pass-word"
		},
	}
	for _, cl := range clients {
		for ename, echo := range echoes {
			for _, status := range []int{200, 401, 403, 500} {
				t.Run(cl.name+"/"+ename+"/"+strconv.Itoa(status), func(t *testing.T) {
					var sent []string
					err := cl.call(t, func(r *http.Request) string {
						if a := r.Header.Get("Authorization"); a != "" {
							_, cred, _ := strings.Cut(a, " ")
							sent = append(sent, a, cred)
						}
						return echo(r)
					}, status)
					var e *Error
					if !errors.As(err, &e) {
						t.Fatalf("got %v", err)
					}
					tokenOK := cl.name == "corastone token" && status == 200 // oauth2 keeps a 2xx token answer's body
					texts := map[string]string{"Error()": err.Error(), "Message": e.Message, "Body": e.Body, "Code": e.Code}
					if ename == "secret at the cut" && !tokenOK {
						if cut := e.Body[min(len(e.Body), 251):]; cl.name != "jm basic" && (cut == "" || !strings.HasPrefix(Redacted, cut)) {
							t.Errorf("Body ends %q, want the start of %s", cut, Redacted)
						}
					}
					for what, text := range texts {
						for _, s := range append(append([]string(nil), cl.secrets...), sent...) {
							if s != "" && strings.Contains(text, s) {
								t.Errorf("%s holds %q: %q", what, s, text)
							}
						}
					}
					if ename != "secret as the code" && ename != "secret at the cut" && !tokenOK && !strings.Contains(e.Body+e.Message, Redacted) {
						t.Errorf("no %s in Body %q Message %q", Redacted, e.Body, e.Message)
					}
				})
			}
		}
	}
}

func TestScrubberText(t *testing.T) {
	s := newScrubber("id", "p@ss/w0rd", func() []string { return []string{"live-token", ""} }, 0)
	for _, tt := range []struct{ in, want string }{
		{"plain", "plain"},
		{"Authorization: Bearer abc.def-ghi_jkl~+/==, next", "Authorization: Bearer [redacted], next"},
		{"authorization=bearer%20xyz", "authorization=bearer [redacted]"},
		{"got Basic " + base64.StdEncoding.EncodeToString([]byte("alice:wonderland")) + " from alice:wonderland (wonderland)",
			"got Basic [redacted] from [redacted] ([redacted])"},
		{"secret p@ss/w0rd and p%40ss%2Fw0rd and p@ss\\/w0rd", "secret [redacted] and [redacted] and [redacted]"},
		{"token live-token here", "token [redacted] here"},
		{`{"access_token":"abc","token_type":"bearer"}`, `{"access_token":"[redacted]","token_type":"bearer"}`},
		{"grant_type=x&client_secret=zzz&password=yyy", "grant_type=x&client_secret=[redacted]&password=[redacted]"},
	} {
		if got := s.text(tt.in); got != tt.want {
			t.Errorf("text(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := (*scrubber)(nil).text("Bearer abc"); got != "Bearer [redacted]" {
		t.Errorf("nil scrubber: %q", got)
	}
}

// newServer starts an httptest server with h and returns its URL.
func newServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
