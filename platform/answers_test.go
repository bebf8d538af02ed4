package platform_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/txworker/txworker/platform"
)

// answerCase is one file of testdata/hostile/answers (see its README.md).
type answerCase struct {
	Description string            `json:"description"`
	Endpoint    string            `json:"endpoint"` // action | jm-cancel | token
	Status      int               `json:"status"`
	Headers     map[string]string `json:"headers"`
	Body        string            `json:"body"`
	BodyBase64  string            `json:"bodyBase64"`
	Cookies     int               `json:"cookies"` // cookies set by each answer
	Calls       int               `json:"calls"`   // client calls made (default 1)
	Expect      struct {
		Outcome         string   `json:"outcome"` // believed | error
		FormStatus      string   `json:"formStatus"`
		Verdict         string   `json:"verdict"`
		Code            string   `json:"code"`
		HTTPStatus      int      `json:"httpStatus"`
		RetryAfter      string   `json:"retryAfter"`
		BodyExcerpt     bool     `json:"bodyExcerpt"`
		Redacted        bool     `json:"redacted"`
		MaxCookieHeader int      `json:"maxCookieHeader"`
		MaxCookies      int      `json:"maxCookies"`
		KeepCookies     []string `json:"keepCookies"`
	} `json:"expect"`
}

const (
	corpusDir       = "../testdata/hostile/answers"
	corpusPID       = "2159457f-0167-4e93-a969-9cf0db05e0bf"
	corpusClient    = "txworker"
	corpusSecret    = "corpus-s3cret:&="
	corpusJMUser    = "jm-user"
	corpusJMPass    = "jm-corpus-pass"
	corpusSubmitKey = "15d071280b92c867f86975b9cd2e8765"
)

// TestHostileAnswerCorpus serves each action., jm. and token. file of the corpus through httptest
// to the real client and checks the verdict, code, Retry-After, body excerpt, redaction and
// cookie bounds it expects. Whatever a file expects, no configured secret, token or credential
// sent may appear in err.Error(), Message, Body or Code.
func TestHostileAnswerCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(corpusDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		if !strings.HasPrefix(name, "action.") && !strings.HasPrefix(name, "jm.") && !strings.HasPrefix(name, "token.") {
			continue // another client's cases (orchestrations.…)
		}
		n++
		if !strings.Contains(string(readme), "`"+filepath.Base(file)+"`") {
			t.Errorf("%s is not in the corpus README's table", filepath.Base(file))
		}
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var c answerCase
			dec := json.NewDecoder(strings.NewReader(string(raw)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&c); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			runAnswerCase(t, name, c)
		})
	}
	if n < 20 {
		t.Errorf("only %d cases in %s", n, corpusDir)
	}
}

func runAnswerCase(t *testing.T, name string, c answerCase) {
	body := []byte(c.Body)
	if c.BodyBase64 != "" {
		var err error
		if body, err = base64.StdEncoding.DecodeString(c.BodyBase64); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu      sync.Mutex
		sent    []string // Authorization values sent, their credentials, decoded Basic credentials
		cookies []string // Cookie headers received
		answers int
		tokens  int
	)
	secret := corpusSecret
	if strings.HasPrefix(name, "jm.") {
		secret = corpusJMPass
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		defer mu.Unlock()
		auth := r.Header.Get("Authorization")
		_, cred, _ := strings.Cut(auth, " ")
		decoded, _ := base64.StdEncoding.DecodeString(cred)
		sent = append(sent, auth, cred, string(decoded))
		if r.URL.Path == "/oauth2/token" && c.Endpoint != "token" {
			tokens++
			tok := fmt.Sprintf("tok-corpus-%d", tokens)
			sent = append(sent, tok)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"`+tok+`","token_type":"bearer","expires_in":3600}`)
			return
		}
		cookies = append(cookies, r.Header.Get("Cookie"))
		answers++
		for i := range c.Cookies {
			http.SetCookie(w, &http.Cookie{Name: fmt.Sprintf("junk-%d-%d", answers, i), Value: strings.Repeat("v", 400), Path: "/"})
		}
		if c.Cookies > 0 && answers == 5 {
			http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "session-1", Path: "/", HttpOnly: true})
			http.SetCookie(w, &http.Cookie{Name: "XSRF-TOKEN", Value: "xsrf-1", Path: "/"})
		}
		for k, v := range c.Headers {
			w.Header().Set(k, expand(v, auth, cred, string(decoded), secret))
		}
		w.WriteHeader(c.Status)
		w.Write([]byte(expand(string(body), auth, cred, string(decoded), secret)))
	}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var call func() (string, error)
	switch c.Endpoint {
	case "action", "token":
		cs, err := platform.NewCorastone(platform.CorastoneConfig{BaseURL: srv.URL, ClientID: corpusClient, ClientSecret: corpusSecret,
			Actions: []string{"cancel-offering"}, UserAgent: "txworker-corpus/1"}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		req := parseCommand(t, "cancel-offering", `{"securityId":"USS3JKS01I00"}`)
		call = func() (string, error) {
			if c.Endpoint == "token" {
				return "", cs.Token(ctx)
			}
			acc, err := cs.Execute(ctx, req, corpusPID)
			return acc.OrchestrationID, err
		}
	case "jm-cancel":
		j, err := platform.NewJM(platform.JMConfig{BaseURL: srv.URL, Username: corpusJMUser, Password: corpusJMPass,
			UserAgent: "txworker-corpus/1"}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		req := parseCommand(t, "cancel-txn", `{"submitKey":"`+corpusSubmitKey+`"}`)
		call = func() (string, error) { return j.Cancel(ctx, req) }
	default:
		t.Fatalf("unknown endpoint %q", c.Endpoint)
	}

	var (
		got string
		err error
	)
	for range max(c.Calls, 1) {
		got, err = call()
	}
	mu.Lock()
	defer mu.Unlock()
	x := c.Expect
	switch x.Outcome {
	case "believed":
		if err != nil {
			t.Fatalf("got %v, want believed", err)
		}
		if x.FormStatus != "" && got != x.FormStatus {
			t.Errorf("form status %q, want %q", got, x.FormStatus)
		}
	case "error":
		var e *platform.Error
		if !errors.As(err, &e) {
			t.Fatalf("got %q, %v; want an *platform.Error", got, err)
		}
		checkAnswerError(t, x.Verdict, x.Code, x.HTTPStatus, x.RetryAfter, e)
		if x.BodyExcerpt {
			want := "; body empty"
			if len(strings.TrimSpace(string(body))) > 0 {
				want = "; body: "
				if e.Body == "" {
					t.Error("Body empty")
				}
			}
			if !utf8.ValidString(e.Body) || len(e.Body) > 256 || !strings.Contains(e.Message, want) || !strings.Contains(err.Error(), want) {
				t.Errorf("Body %q, Message %q: want valid UTF-8 of at most 256 bytes and %q in the message", e.Body, e.Message, want)
			}
		}
		if x.Redacted && !strings.Contains(e.Body+e.Message, platform.Redacted) {
			t.Errorf("no %s in Body %q, Message %q", platform.Redacted, e.Body, e.Message)
		}
		texts := map[string]string{"Error()": err.Error(), "Message": e.Message, "Body": e.Body, "Code": e.Code}
		for what, text := range texts {
			for _, s := range append([]string{secret, corpusClient + ":" + corpusSecret, corpusJMUser + ":" + corpusJMPass}, sent...) {
				if len(s) >= 4 && strings.Contains(text, s) {
					t.Errorf("%s holds %q: %q", what, s, text)
				}
			}
		}
	default:
		t.Fatalf("unknown outcome %q", x.Outcome)
	}
	sessionFrom := -1
	for i, h := range cookies {
		if strings.Contains(h, "JSESSIONID=") && sessionFrom < 0 {
			sessionFrom = i
		}
		if x.MaxCookieHeader > 0 && len(h) > x.MaxCookieHeader {
			t.Errorf("request %d sent a Cookie header of %d bytes", i+1, len(h))
		}
		if n := strings.Count(h, "=") * min(1, len(h)); x.MaxCookies > 0 && n > x.MaxCookies {
			t.Errorf("request %d sent %d cookies", i+1, n)
		}
	}
	if len(x.KeepCookies) > 0 {
		if sessionFrom < 0 {
			t.Fatal("the session cookie was never sent back")
		}
		for i := sessionFrom; i < len(cookies); i++ {
			for _, k := range x.KeepCookies {
				if !strings.Contains(cookies[i], k+"=") {
					t.Errorf("request %d dropped %s", i+1, k)
				}
			}
		}
	}
}

func checkAnswerError(t *testing.T, verdict, code string, status int, retryAfter string, e *platform.Error) {
	t.Helper()
	if verdict != "" && e.Verdict.String() != verdict {
		t.Errorf("verdict %v, want %s (%v)", e.Verdict, verdict, e)
	}
	if code != "" && e.Code != code {
		t.Errorf("code %q, want %q (%v)", e.Code, code, e)
	}
	if status != 0 && e.HTTPStatus != status {
		t.Errorf("http status %d, want %d", e.HTTPStatus, status)
	}
	if retryAfter != "" {
		d, err := time.ParseDuration(retryAfter)
		if err != nil {
			t.Fatal(err)
		}
		if e.RetryAfter != d {
			t.Errorf("Retry-After %v, want %v", e.RetryAfter, d)
		}
	}
}

// expand fills a case's placeholders: {{authorization}} (the Authorization header received),
// {{credential}} (its part after the scheme), {{decoded}} (that part base64-decoded),
// {{secret}} (the client's configured secret), {{in:D}} (an HTTP-date D from now).
func expand(s, auth, cred, decoded, secret string) string {
	s = strings.NewReplacer("{{authorization}}", auth, "{{credential}}", cred, "{{decoded}}", decoded, "{{secret}}", secret).Replace(s)
	for {
		i := strings.Index(s, "{{in:")
		if i < 0 {
			return s
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return s
		}
		d, _ := time.ParseDuration(s[i+5 : i+j])
		s = s[:i] + time.Now().Add(d).UTC().Format(http.TimeFormat) + s[i+j+2:]
	}
}

func parseCommand(t *testing.T, action, params string) *platform.Request {
	t.Helper()
	a, _ := platform.LookupAction(action)
	r, problems := a.Parse([]byte(params))
	if problems != nil {
		t.Fatal(problems)
	}
	return r
}
