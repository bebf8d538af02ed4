package platform_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/txworker/txworker/platform"
)

// Hostile platform answers: whatever a platform (or something pretending
// to be it) sends back, a client call ends within its request timeout with
// an *platform.Error, reads at most the size cap, and never follows a
// redirect off the configured host.

const (
	hostileUA      = "txworker-hostile-test/1"
	hostileTimeout = 300 * time.Millisecond
	hostileCap     = 64 << 10
	// hostileBound is how long any one hostile call may take: the request
	// timeout plus generous room for a loaded CI machine.
	hostileBound = 5 * time.Second
)

// hostilePlatform is an httptest server with a working token endpoint
// (client "c" / secret "s") and an API handler each case supplies, plus an
// "evil" server on another port that must never be reached.
type hostilePlatform struct {
	srv      *httptest.Server
	evil     *httptest.Server
	evilHits atomic.Int64
	apiHits  atomic.Int64
	api      atomic.Pointer[http.HandlerFunc]
	token    atomic.Pointer[http.HandlerFunc]
}

func newHostilePlatform(t testing.TB) *hostilePlatform {
	t.Helper()
	h := &hostilePlatform{}
	h.evil = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.evilHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"evil","token_type":"Bearer","processId":"x","orchestrationId":"x"}`)
	}))
	t.Cleanup(h.evil.Close)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the request body first: only then does net/http notice a
		// client that hangs up, and cancel r.Context().
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/oauth2/token" {
			if f := h.token.Load(); f != nil {
				(*f)(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"tok","token_type":"Bearer","expires_in":3600}`)
			return
		}
		h.apiHits.Add(1)
		if f := h.api.Load(); f != nil {
			(*f)(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hostilePlatform) setAPI(f http.HandlerFunc)   { h.api.Store(&f) }
func (h *hostilePlatform) setToken(f http.HandlerFunc) { h.token.Store(&f) }

func (h *hostilePlatform) corastone(t testing.TB, maxBody int64) *platform.Corastone {
	t.Helper()
	c, err := platform.NewCorastone(platform.CorastoneConfig{
		BaseURL: h.srv.URL, ClientID: "c", ClientSecret: "s", UserAgent: hostileUA,
		Actions:        []string{"cancel-offering", "revert-to-active", "remove-service-provider", "reject-asset"},
		RequestTimeout: hostileTimeout, MaxBodyBytes: maxBody,
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (h *hostilePlatform) jm(t testing.TB) *platform.JM {
	t.Helper()
	j, err := platform.NewJM(platform.JMConfig{
		BaseURL: h.srv.URL, Username: "u", Password: "p", UserAgent: hostileUA,
		RequestTimeout: hostileTimeout, MaxBodyBytes: hostileCap,
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// endless writes chunk until the client goes away.
func endless(status int, contentType string, chunk []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
}

// trickle sends a promising start, then one byte every 20ms, forever.
func trickle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, `[{"orchestrationId":"`)
	w.(http.Flusher).Flush()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
			if _, err := w.Write([]byte("a")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}
}

// silent never answers.
func silent(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// gigantic is syntactically promising JSON many times the size cap.
func gigantic(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, "[")
	item := `{"orchestrationId":"` + strings.Repeat("x", 1000) + `","status":"success"},`
	for i := 0; i < 5000 && r.Context().Err() == nil; i++ { // ≈ 5 MB
		if _, err := io.WriteString(w, item); err != nil {
			return
		}
	}
	io.WriteString(w, `{}]`)
}

func respond(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// redirectTo answers every request with a redirect to base + the same path.
func redirectTo(status int, base func() string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, base()+r.URL.RequestURI(), status)
	}
}

// headerBomb sends response headers above net/http's client limit (10 MB).
func headerBomb(w http.ResponseWriter, _ *http.Request) {
	v := strings.Repeat("x", 64<<10)
	for i := 0; i < 170; i++ {
		w.Header().Add(fmt.Sprintf("X-Bomb-%d", i), v)
	}
	w.WriteHeader(http.StatusOK)
}

// endlessPages answers every list request with a full page of
// orchestrations nobody asked for, whatever the offset.
func endlessPages(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i < 50; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"orchestrationId":"other-%s-%d","status":"success","processIds":[]}`, r.URL.Query().Get("offset"), i)
	}
	b.WriteString("]")
	respond(http.StatusOK, "application/json", b.String())(w, r)
}

var (
	wantedIDs = []string{"2159457f-0167-4e93-a969-9cf0db05e0bf", "3159457f-0167-4e93-a969-9cf0db05e0bf"}
	cancelReq = mustParse("cancel-offering", `{"securityId":"USS3JKS01I00"}`)
	jmReq     = mustParse("cancel-txn", `{"submitKey":"15d071280b92c867f86975b9cd2e8765"}`)
)

func mustParse(action, params string) *platform.Request {
	a, _ := platform.LookupAction(action)
	r, problems := a.Parse([]byte(params))
	if problems != nil {
		panic(fmt.Sprint(action, problems))
	}
	return r
}

// call is one client operation against a hostile platform.
type call struct {
	name string
	do   func(ctx context.Context, h *hostilePlatform, t *testing.T) error
}

func calls(maxBody int64) []call {
	return []call{
		{"orchestrations", func(ctx context.Context, h *hostilePlatform, t *testing.T) error {
			_, err := h.corastone(t, maxBody).Orchestrations(ctx, wantedIDs)
			return err
		}},
		{"find process", func(ctx context.Context, h *hostilePlatform, t *testing.T) error {
			_, _, err := h.corastone(t, maxBody).FindProcess(ctx, wantedIDs[0])
			return err
		}},
		{"execute", func(ctx context.Context, h *hostilePlatform, t *testing.T) error {
			_, err := h.corastone(t, maxBody).Execute(ctx, cancelReq, wantedIDs[0])
			return err
		}},
		{"jm cancel", func(ctx context.Context, h *hostilePlatform, t *testing.T) error {
			_, err := h.jm(t).Cancel(ctx, jmReq)
			return err
		}},
	}
}

func TestHostileAnswers(t *testing.T) {
	tests := []struct {
		name    string
		api     func(h *hostilePlatform) http.HandlerFunc
		maxBody int64
		verdict platform.Verdict // 0: any
		code    string           // "" : any
		// jmOK: a complete 200 answer to Journey Manager's cancel is success.
		// None is: a 200 that is not the documented JSON is not believed
		// (SPEC §5), and the look-up that would confirm it gets the same
		// answer.
		jmOK bool
	}{
		{"endless 200 body", func(*hostilePlatform) http.HandlerFunc {
			return endless(200, "application/json", []byte(`[[[[[[[[[[[[[[[[`))
		}, hostileCap, platform.Transient, platform.CodeMalformedResponse, false},
		{"endless 500 body", func(*hostilePlatform) http.HandlerFunc {
			return endless(500, "text/plain", []byte("error error IS0012 error "))
		}, hostileCap, platform.Transient, "", false},
		{"slow trickle", func(*hostilePlatform) http.HandlerFunc { return trickle }, hostileCap, platform.Transient, "", false},
		{"no answer at all", func(*hostilePlatform) http.HandlerFunc { return silent }, hostileCap, platform.Transient, "", false},
		{"gigantic JSON over the default cap", func(*hostilePlatform) http.HandlerFunc { return gigantic }, 0, platform.Transient, platform.CodeMalformedResponse, false},
		{"HTML with 200", func(*hostilePlatform) http.HandlerFunc {
			return respond(200, "text/html", "<html><body>Please log in</body></html>")
		}, hostileCap, platform.Transient, platform.CodeMalformedResponse, false},
		{"JSON of the wrong shape", func(*hostilePlatform) http.HandlerFunc {
			return respond(200, "application/json", `{"orchestrations":"none","result":7}`)
		}, hostileCap, platform.Transient, platform.CodeMalformedResponse, false},
		{"JSON labelled as an image", func(*hostilePlatform) http.HandlerFunc {
			return respond(200, "image/png", "\x89PNG\r\n\x1a\n\x00\x00")
		}, hostileCap, platform.Transient, platform.CodeMalformedResponse, false},
		{"HTML error page from a proxy", func(*hostilePlatform) http.HandlerFunc {
			return respond(502, "text/html", "<html><h1>502 Bad Gateway</h1></html>")
		}, hostileCap, platform.Transient, "", false},
		{"header bomb", func(*hostilePlatform) http.HandlerFunc { return headerBomb }, hostileCap, platform.Transient, "", false},
		{"302 to another host", func(h *hostilePlatform) http.HandlerFunc {
			return redirectTo(http.StatusFound, func() string { return h.evil.URL })
		}, hostileCap, platform.Permanent, "", false},
		{"307 to another host (would resend the body)", func(h *hostilePlatform) http.HandlerFunc {
			return redirectTo(http.StatusTemporaryRedirect, func() string { return h.evil.URL })
		}, hostileCap, platform.Permanent, "", false},
		{"308 to another host", func(h *hostilePlatform) http.HandlerFunc {
			return redirectTo(http.StatusPermanentRedirect, func() string { return h.evil.URL })
		}, hostileCap, platform.Permanent, "", false},
		{"301 to https on the same host name", func(h *hostilePlatform) http.HandlerFunc {
			return redirectTo(http.StatusMovedPermanently, func() string { return strings.Replace(h.srv.URL, "http:", "https:", 1) })
		}, hostileCap, platform.Permanent, "", false},
		{"redirect loop on the same host", func(h *hostilePlatform) http.HandlerFunc {
			return redirectTo(http.StatusTemporaryRedirect, func() string { return h.srv.URL })
		}, hostileCap, platform.Permanent, "", false},
	}
	for _, tc := range tests {
		for _, c := range calls(tc.maxBody) {
			t.Run(tc.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				h := newHostilePlatform(t)
				h.setAPI(tc.api(h))
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				start := time.Now()
				err := c.do(ctx, h, t)
				elapsed := time.Since(start)
				if tc.jmOK && c.name == "jm cancel" {
					if err != nil {
						t.Errorf("a complete 200 answer to cancel: %v", err)
					}
				} else {
					checkHostileError(t, err, tc.verdict, tc.code)
				}
				if elapsed > hostileBound {
					t.Errorf("took %s; the request timeout is %s", elapsed, hostileTimeout)
				}
				if n := h.evilHits.Load(); n != 0 {
					t.Errorf("the other host received %d requests", n)
				}
				if strings.Contains(tc.name, "loop") && h.apiHits.Load() > 8 {
					t.Errorf("followed a redirect loop %d times", h.apiHits.Load())
				}
			})
		}
	}
}

// A full page of orchestrations nobody asked for, at every offset: paging
// is bounded (100 pages) and ends in an *Error.
func TestHostileEndlessPages(t *testing.T) {
	h := newHostilePlatform(t)
	h.setAPI(endlessPages)
	start := time.Now()
	// A full first page of ids not asked for: the filter is ignored, noticed on that page (SPEC §5).
	orchs, err := h.corastone(t, hostileCap).Orchestrations(context.Background(), wantedIDs)
	if err != nil || len(orchs) != 0 {
		t.Errorf("got %v, %v; want nothing and no error", orchs, err)
	}
	if n := h.apiHits.Load(); n != 1 {
		t.Errorf("%d list requests for one call, want 1", n)
	}
	if elapsed := time.Since(start); elapsed > 2*hostileBound {
		t.Errorf("took %s", elapsed)
	}
}

// The token endpoint redirecting elsewhere must not take the client
// credentials there.
func TestHostileTokenRedirect(t *testing.T) {
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			h := newHostilePlatform(t)
			h.setToken(redirectTo(status, func() string { return h.evil.URL }))
			err := h.corastone(t, hostileCap).Token(context.Background())
			checkHostileError(t, err, 0, "")
			if n := h.evilHits.Load(); n != 0 {
				t.Fatalf("the other host received %d token requests", n)
			}
			if n := h.apiHits.Load(); n != 0 {
				t.Fatalf("%d API requests without a token", n)
			}
		})
	}
}

// Token endpoint answers that never end or trickle are bounded too.
func TestHostileTokenAnswers(t *testing.T) {
	for name, f := range map[string]http.HandlerFunc{
		"endless":  endless(200, "application/json", []byte(`{"access_token":"`)),
		"trickle":  trickle,
		"silent":   silent,
		"gigantic": gigantic,
		"html":     respond(200, "text/html", "<html>login</html>"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHostilePlatform(t)
			h.setToken(f)
			start := time.Now()
			_, err := h.corastone(t, hostileCap).Execute(context.Background(), cancelReq, wantedIDs[0])
			checkHostileError(t, err, 0, "")
			if elapsed := time.Since(start); elapsed > hostileBound {
				t.Errorf("took %s", elapsed)
			}
			if n := h.apiHits.Load(); n != 0 {
				t.Errorf("%d API requests without a token", n)
			}
		})
	}
}

func checkHostileError(t *testing.T, err error, verdict platform.Verdict, code string) {
	t.Helper()
	var pe *platform.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %T %v, want *platform.Error", err, err)
	}
	if verdict != 0 && pe.Verdict != verdict {
		t.Errorf("verdict %v, want %v (%v)", pe.Verdict, verdict, pe)
	}
	if code != "" && pe.Code != code {
		t.Errorf("code %q, want %q (%v)", pe.Code, code, pe)
	}
	if len(pe.Body) > 256 || len(pe.Message) > 512 || len(pe.Error()) > 4<<10 {
		t.Errorf("error not bounded: body %d, message %d, text %d bytes", len(pe.Body), len(pe.Message), len(pe.Error()))
	}
}

// FuzzOrchestrationsResponse serves arbitrary bytes as the 200 answer of
// both Transactions API endpoints, through a real HTTP server, and asks
// for orchestrations, transactions and a processId. Whatever the body, the
// client must not panic, must fail only with an *platform.Error, and must
// return only what was asked for, each once.
func FuzzOrchestrationsResponse(f *testing.F) {
	for _, s := range []string{
		`[{"orchestrationId":"2159457f-0167-4e93-a969-9cf0db05e0bf","status":"in_progress","startDate":"2024-09-12T00:00:00.000Z",` +
			`"timestamp":null,"createdDate":1726099200000,"processIds":["2159457f-0167-4e93-a969-9cf0db05e0bf"],` +
			`"sourceTransactionId":"2159457f-0167-4e93-a969-9cf0db05e0bf","currentStep":0}]`,
		`[{"processId":"2159457f-0167-4e93-a969-9cf0db05e0bf","orchestrationId":"2159457f-0167-4e93-a969-9cf0db05e0bf",` +
			`"status":"success","type":"chaincode","method":"cancelOffering","orgId":"US9QI","timestamp":"1726099200000"}]`,
		`[]`, `{}`, `null`, ``, `[null]`, `[1,"a",true]`, `[{"orchestrationId":""}]`, `[{"orchestrationId":7}]`,
		`[{"orchestrationId":"2159457f-0167-4e93-a969-9cf0db05e0bf","timestamp":"not a time"}]`,
		`[{"orchestrationId":"2159457f-0167-4e93-a969-9cf0db05e0bf","currentStep":1e400}]`,
		`[{"orchestrationId":"2159457f-0167-4e93-a969-9cf0db05e0bf","startDate":-99999999999999999999}]`,
		"[{\"orchestrationId\":\"\xff\xfe\"}]", `<html>`, `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`,
	} {
		f.Add([]byte(s))
	}
	var body atomic.Pointer[[]byte]
	h := newHostilePlatform(f)
	h.setAPI(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if b := body.Load(); b != nil {
			w.Write(*b)
		}
	})
	c := h.corastone(f, hostileCap)
	want := map[string]bool{wantedIDs[0]: true, wantedIDs[1]: true}
	f.Fuzz(func(t *testing.T, b []byte) {
		body.Store(&b)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		orchs, err := c.Orchestrations(ctx, wantedIDs)
		checkFuzzError(t, err)
		seen := map[string]bool{}
		for _, o := range orchs {
			if !want[o.OrchestrationID] || seen[o.OrchestrationID] {
				t.Fatalf("orchestration %q returned (asked for %v, seen %v)", o.OrchestrationID, wantedIDs, seen)
			}
			seen[o.OrchestrationID] = true
			_ = o.Terminal()
		}
		txs, err := c.Transactions(ctx, platform.TransactionFilter{ProcessIDs: wantedIDs, OrchestrationIDs: wantedIDs[:1]})
		checkFuzzError(t, err)
		if len(txs) > 2*len(wantedIDs)*100*50 {
			t.Fatalf("%d transactions", len(txs))
		}
		_, _, err = c.FindProcess(ctx, wantedIDs[0])
		checkFuzzError(t, err)
	})
}

func checkFuzzError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var pe *platform.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %T %v, want *platform.Error", err, err)
	}
	if pe.Verdict < platform.Permanent || pe.Verdict > platform.Auth || len(pe.Body) > 256 {
		t.Fatalf("error %+v", pe)
	}
}
