package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/internal/sandbox"
	"github.com/txworker/txworker/platform/platformtest"
	"github.com/txworker/txworker/queue"
)

// Distinctive secret values: if any of them (or a token the simulator
// issued, a session cookie, or a signer's e-mail address) shows up in an
// output, it leaked.
const (
	leakClientID       = "txworker-leakcheck"
	leakClientSecret   = "CS-7f9a1c-corastone-client-secret"
	leakJMUser         = "jm-leakcheck"
	leakJMPassword     = "JMPW-9b2e44-journey-manager-password"
	leakJMClientID     = "jm-oauth-leakcheck"
	leakJMClientSecret = "JMCS-3d81aa-journey-manager-client-secret"
	leakNATSToken      = "NATSTOK-e1d35f-nats-auth-token"
	leakSignerEmail    = "signer.leakcheck@example.com"
	leakSignerEmail2   = "second.signer.leakcheck@example.org"
)

// credentialTap sits between the worker and the simulator and remembers
// every credential that crossed it: bearer tokens issued by the token
// endpoint, Authorization headers and session cookies.
type credentialTap struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string]bool
}

func newCredentialTap(t *testing.T, target string) *credentialTap {
	t.Helper()
	c := &credentialTap{got: map[string]bool{}}
	rp := proxyTo(t, target)
	rp.ErrorLog = log.New(io.Discard, "", 0) // dropped connections are part of the scenario
	rp.ModifyResponse = func(resp *http.Response) error {
		for _, ck := range resp.Cookies() {
			c.add(ck.Value)
		}
		if resp.Request.URL.Path != "/oauth2/token" {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal(body, &tok) == nil {
			c.add(tok.AccessToken)
		}
		return nil
	}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			_, cred, _ := strings.Cut(a, " ")
			c.add(cred) // the bearer token, or base64(user:password)
		}
		for _, ck := range r.Cookies() {
			c.add(ck.Value)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *credentialTap) add(v string) {
	if len(v) < 8 { // too short to be a credential worth looking for
		return
	}
	c.mu.Lock()
	c.got[v] = true
	c.mu.Unlock()
}

func (c *credentialTap) values() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for v := range c.got {
		out = append(out, v)
	}
	return out
}

// startTokenNATS starts a JetStream server that requires token.
func startTokenNATS(t *testing.T, token string) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true, Authorization: token,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	return s.ClientURL()
}

// runResult is one in-process `txworker run`.
type runResult struct {
	addr string
	logs *syncBuffer
	stop func() error // cancels run and returns its error
}

// startRun calls run("run") with env and waits for /readyz.
func startRun(t *testing.T, env func(string) string) runResult {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run"}, env, logs) }()
	var addr string
	deadline := time.Now().Add(30 * time.Second)
	for addr == "" {
		if m := httpAddrRE.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("run ended early: %v\n%s", err, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("worker did not start:\n%s", logs.String())
		}
	}
	waitHTTP(t, "http://"+addr+"/readyz", http.StatusOK, 30*time.Second)
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = fmt.Errorf("run did not return 30s after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() {
		_ = stop()
		if t.Failed() {
			t.Logf("the worker's log (last 300 lines):\n%s", lastLines(logs.String(), 300))
		}
	})
	return runResult{addr: addr, logs: logs, stop: stop}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "")
}

// leakScenario is every action, successes, platform refusals, a rejected
// command, a revoked token and transient faults.
func leakScenario(jmBearer bool) []struct{ id, action, body string } {
	sig := `"signer":{"email":"` + leakSignerEmail + `","name":"Leak Check"}`
	sig2 := `"signer":{"email":"` + leakSignerEmail2 + `","name":"Second Signer"}`
	type c = struct{ id, action, body string }
	if jmBearer {
		return []c{
			{"leak2-jm-ok", "cancel-txn", `{"params":{"submitKey":"45d071280b92c867f86975b9cd2e8765","reason":"leak check"}}`},
			{"leak2-jm-abandoned", "cancel-txn", `{"params":{"submitKey":"35d071280b92c867f86975b9cd2e8765"}}`},
			{"leak2-jm-unknown", "cancel-txn", `{"params":{"submitKey":"f5d071280b92c867f86975b9cd2e8765"}}`},
			{"leak2-rejected", "revert-to-active", `{"params":{"securityId":"USS3JKS06I00",` + sig2 + `,"password":"` + leakJMPassword + `"}}`},
		}
	}
	return []c{
		{"leak-cancel", "cancel-offering", `{"params":{"securityId":"USS3JKS02I00"}}`},
		{"leak-revert", "revert-to-active", `{"params":{"securityId":"USS3JKS01I00",` + sig + `}}`},
		{"leak-remove", "remove-service-provider", `{"params":{"transactionData":{"securityId":"USS3JKS04I00",` + sig2 + `},"orgId":"US9QIMA"}}`},
		{"leak-reject", "reject-asset", `{"params":{"assetId":"US9QIMAOAS3Q","transactionData":{"securityId":"USS3JKS05I00",` + sig + `},` +
			`"rejectReason":{"reason":[{"message":"leak check","category":"EC006"}]}}}`},
		{"leak-revert-refused", "revert-to-active", `{"params":{"securityId":"USS3JKS06I00",` + sig + `}}`},
		{"leak-remove-refused", "remove-service-provider", `{"params":{"transactionData":{"securityId":"USS3JKS03I00",` + sig2 + `},"orgId":"US9QIMA"}}`},
		{"leak-cancel-refused", "cancel-offering", `{"params":{"securityId":"USS3JKS06I00"}}`},
		{"leak-jm-ok", "cancel-txn", `{"params":{"submitKey":"15d071280b92c867f86975b9cd2e8765","reason":"leak check"}}`},
		{"leak-jm-finished", "cancel-txn", `{"params":{"submitKey":"25d071280b92c867f86975b9cd2e8765"}}`},
		{"leak-rejected", "revert-to-active", `{"params":{"securityId":"USS3JKS01I00",` + sig + `,"clientSecret":"` + leakClientSecret + `"}}`},
	}
}

// A full scenario — every action, refusals, a rejection, revoked tokens,
// transient faults, Journey Manager with HTTP Basic and then with an OAuth2
// bearer, NATS with token auth — and no output carries a secret, a token
// the simulator issued, a session cookie or a signer's e-mail address:
// debug logs, run's errors, every event (headers too), /metrics, `status`
// and `submit` output, and every span exported over OTLP (names,
// attributes, events, links, status). The one exception is documented behaviour: a
// rejected event carries the raw command (data.rawCommand), which is what
// the upstream sent, signer included.
func TestSecretsNeverLeak(t *testing.T) {
	sim, err := platformtest.Start(platformtest.Config{
		Clients: map[string]platformtest.Client{
			leakClientID:   {Secret: leakClientSecret, Scopes: platformtest.AllScopes(), OrgID: "US9QI"},
			leakJMClientID: {Secret: leakJMClientSecret, OrgID: "US9QI"},
		},
		JMUsers:      map[string]string{leakJMUser: leakJMPassword},
		StepDuration: [2]time.Duration{50 * time.Millisecond, 150 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	tap := newCredentialTap(t, sim.URL())
	natsURL := startTokenNATS(t, leakNATSToken)
	if _, err := nats.Connect(natsURL); err == nil {
		t.Fatal("the NATS server accepts clients without the token")
	}
	nc, err := nats.Connect(natsURL, nats.Token(leakNATSToken), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, natsURL: natsURL, sim: sim, nc: nc, js: js, events: map[string][]queue.Event{}, cond: make(chan struct{})}

	spans := startSpanSink(t)
	common := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": spans.URL(), // every span exported, checked below
		"OTEL_TRACES_SAMPLER":         "always_on",
		"TXWORKER_NATS_TOKEN":         leakNATSToken,
		"TXWORKER_PLATFORM_URL":       tap.srv.URL,
		"TXWORKER_CLIENT_ID":          leakClientID,
		"TXWORKER_CLIENT_SECRET":      leakClientSecret,
		"TXWORKER_JM_URL":             tap.srv.URL,
		"TXWORKER_MAX_ATTEMPTS":       "20",
		"TXWORKER_REQUEST_TIMEOUT":    "2s",
	}
	basic := merge(common, map[string]string{"TXWORKER_JM_USERNAME": leakJMUser, "TXWORKER_JM_PASSWORD": leakJMPassword})
	bearer := merge(common, map[string]string{"TXWORKER_JM_USERNAME": "", "TXWORKER_JM_PASSWORD": "",
		"TXWORKER_JM_TOKEN_URL": tap.srv.URL + "/oauth2/token", "TXWORKER_JM_CLIENT_ID": leakJMClientID,
		"TXWORKER_JM_CLIENT_SECRET": leakJMClientSecret})

	var outputs []output
	for i, cfg := range []map[string]string{basic, bearer} {
		w := startRun(t, e.env(cfg))
		if i == 0 {
			e.watch()
		}
		scenario := leakScenario(i == 1)
		for j, c := range scenario {
			switch j {
			case 1: // every token issued so far is refused from now on: AU0001 / 401, then a new one
				sim.RevokeTokens()
			case 2: // transient faults for one command: retried, logged
				sim.SetFaults(platformtest.Faults{ErrorRate: 0.2, DropRate: 0.1, RevokeRate: 0.2})
			}
			e.publish(c.action, c.body, c.id)
			if j == 2 {
				// The faults last while the command is handled, for 20 s at
				// most: long enough for retries, look-ups and a pause to be
				// logged. Left on until it ends, they once failed six look-ups
				// in a row; with the pause and a 52 s back-off the command
				// needed more than the two minutes below.
				e.endsWithin(c.id, 20*time.Second)
				sim.SetFaults(platformtest.Faults{})
			}
			e.terminal(c.id, 2*time.Minute)
		}
		sim.SetFaults(platformtest.Faults{})
		for _, c := range scenario {
			if n := e.terminalCount(c.id); n != 1 {
				t.Errorf("%s: %d terminal events", c.id, n)
			}
		}
		outputs = append(outputs, output{fmt.Sprintf("/metrics of run %d", i+1), httpText(t, "http://"+w.addr+"/metrics")})
		clientEnv := envOf(map[string]string{"TXWORKER_NATS_URL": natsURL, "TXWORKER_NATS_TOKEN": leakNATSToken})
		for _, c := range scenario {
			var out bytes.Buffer
			err := run(context.Background(), []string{"status", c.id}, clientEnv, &out)
			if err != nil {
				t.Errorf("status %s: %v", c.id, err)
			}
			outputs = append(outputs, output{"status " + c.id, out.String() + errText(err)})
		}
		for _, c := range scenario { // asks the platform through the tap, reads the events
			var out bytes.Buffer
			err := run(context.Background(), []string{"status", c.id, "-platform"}, e.env(cfg), &out)
			if err != nil {
				t.Errorf("status %s -platform: %v", c.id, err)
			}
			outputs = append(outputs, output{"status -platform " + c.id, out.String() + errText(err)})
		}
		for _, o := range []string{"table", "json"} {
			var out bytes.Buffer
			err := run(context.Background(), []string{"list", "-state", "terminal", "-o", o}, clientEnv, &out)
			outputs = append(outputs, output{"list -o " + o, out.String() + errText(err)})
		}
		if i == 0 {
			outputs = append(outputs, submitOutputs(t, clientEnv)...)
		}
		err := w.stop()
		outputs = append(outputs, output{fmt.Sprintf("run %d's error", i+1), errText(err)},
			output{fmt.Sprintf("debug log of run %d", i+1), w.logs.String()})
		if err != nil {
			t.Errorf("run %d returned %v", i+1, err)
		}
		if !strings.Contains(w.logs.String(), `"level":"debug"`) {
			t.Errorf("run %d logged nothing at debug level: the check would be weak", i+1)
		}
	}
	outputs = append(outputs, rawEvents(t, js)...)
	spanText, n := spans.text()
	if n < 50 {
		t.Errorf("only %d spans exported: the check of the spans would be weak", n)
	}
	outputs = append(outputs, output{"exported spans", spanText})

	creds := tap.values()
	if len(creds) < 5 {
		t.Fatalf("only %d credentials seen on the wire: the tap is not in the path", len(creds))
	}
	secrets := append([]string{leakClientSecret, leakJMPassword, leakJMClientSecret, leakNATSToken,
		base64.StdEncoding.EncodeToString([]byte(leakJMUser + ":" + leakJMPassword))}, creds...)
	checkNoLeak(t, outputs, secrets, []string{leakSignerEmail, leakSignerEmail2})
}

func merge(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// output is one thing a person or a system downstream gets to see.
type output struct{ what, text string }

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// submitOutputs runs `submit` (with and without -wait) for a command with a
// signer, and `submit`/`status` with a wrong NATS token.
func submitOutputs(t *testing.T, env func(string) string) []output {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	body := `{"commandId":"leak-submit","params":{"securityId":"USS3JKS07I00","signer":{"email":"` + leakSignerEmail + `","name":"S"}}}`
	var out bytes.Buffer
	err := run(ctx, []string{"submit", "-wait", "revert-to-active", writeCommand(t, body)}, env, &out)
	if exitCode(err) != 1 || !strings.Contains(out.String(), "IS0013") {
		t.Errorf("submit -wait: %v\n%s", err, out.String())
	}
	outs := []output{{"submit -wait", out.String() + errText(err)}}
	out.Reset()
	err = run(ctx, []string{"submit", "revert-to-active", writeCommand(t, body)}, env, &out)
	outs = append(outs, output{"submit", out.String() + errText(err)})
	wrong := func(k string) string {
		if k == "TXWORKER_NATS_TOKEN" {
			return leakNATSToken + "-wrong"
		}
		return env(k)
	}
	for _, args := range [][]string{{"status", "leak-submit"}, {"submit", "cancel-offering", writeCommand(t, `{}`)}} {
		out.Reset()
		short, stop := context.WithTimeout(ctx, 3*time.Second)
		err = run(short, args, wrong, &out)
		stop()
		if err == nil {
			t.Errorf("%v with a wrong NATS token succeeded", args)
		}
		outs = append(outs, output{args[0] + " with a wrong NATS token", out.String() + errText(err)})
	}
	return outs
}

// rawEvents returns every message of the events stream, headers and body,
// as stored.
func rawEvents(t *testing.T, js jetstream.JetStream) []output {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, "TXWORKER_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	st := s.CachedInfo().State
	if st.Msgs == 0 {
		t.Fatal("no events")
	}
	var out []output
	for seq := st.FirstSeq; seq <= st.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("event %d: %v", seq, err)
		}
		var ev queue.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatalf("event %d: %v", seq, err)
		}
		// A rejected event carries the raw command by design (SPEC §4):
		// look at everything else.
		raw := ev.Data.RawCommand + ev.Data.RawCommandBase64
		ev.Data.RawCommand, ev.Data.RawCommandBase64 = "", ""
		rest, _ := json.Marshal(ev)
		out = append(out, output{fmt.Sprintf("event %s (%s)", ev.ID, m.Subject), fmt.Sprint(m.Header) + string(rest)})
		if raw != "" && ev.Data.Outcome != "rejected" {
			t.Errorf("event %s carries the raw command", ev.ID)
		}
	}
	return out
}

// checkNoLeak searches every output for every secret and e-mail address,
// also JSON-escaped (as a log or event would write them).
func checkNoLeak(t *testing.T, outputs []output, secrets, emails []string) {
	t.Helper()
	needles := map[string]string{}
	for _, s := range secrets {
		needles[s] = "a secret or credential"
		q, _ := json.Marshal(s)
		needles[strings.Trim(string(q), `"`)] = "a secret or credential"
	}
	for _, m := range emails {
		needles[m] = "a signer's e-mail address"
		needles[strings.Split(m, "@")[0]] = "a signer's e-mail address (local part)"
	}
	searched := 0
	for _, o := range outputs {
		searched += len(o.text)
		for n, what := range needles {
			if i := strings.Index(o.text, n); i >= 0 {
				lo, hi := max(0, i-120), min(len(o.text), i+len(n)+60)
				t.Errorf("%s contains %s %q:\n…%s…", o.what, what, n, o.text[lo:hi])
			}
		}
	}
	t.Logf("searched %d outputs (%d bytes) for %d needles", len(outputs), searched, len(needles))
}

// A configuration the worker refuses must not repeat a secret: not the
// secrets themselves, and not credentials written into a URL.
func TestConfigErrorsDoNotEchoSecrets(t *testing.T) {
	env := map[string]string{
		"TXWORKER_CLIENT_SECRET":    leakClientSecret,
		"TXWORKER_JM_PASSWORD":      leakJMPassword,
		"TXWORKER_JM_CLIENT_SECRET": leakJMClientSecret,
		"TXWORKER_NATS_TOKEN":       leakNATSToken,
		"TXWORKER_NATS_CREDS":       "/nonexistent/creds", // both token and creds: refused
		"TXWORKER_NATS_URL":         "http://natsuser:" + leakNATSToken + "@127.0.0.1:4222",
		"TXWORKER_PLATFORM_URL":     "http://platformuser:" + leakClientSecret + "@platform.example",
		"TXWORKER_JM_URL":           "http://jmuser:" + leakJMPassword + "@jm.example/%zz",
		"TXWORKER_JM_TOKEN_URL":     "http://jmclient:" + leakJMClientSecret + "@jm.example/token",
		"TXWORKER_CONCURRENCY":      "lots",
		"TXWORKER_LOG_LEVEL":        "debug",
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"run"}, envOf(env), &out)
	if exitCode(err) != 2 {
		t.Fatalf("exit %d (%v), want 2", exitCode(err), err)
	}
	checkNoLeak(t, []output{{"run's error", errText(err)}, {"run's output", out.String()}},
		[]string{leakClientSecret, leakJMPassword, leakJMClientSecret, leakNATSToken}, nil)
	for _, want := range []string{"TXWORKER_CONCURRENCY", "TXWORKER_ALLOW_INSECURE_HTTP", "mutually exclusive"} {
		if !strings.Contains(errText(err), want) {
			t.Errorf("the error does not name %s:\n%v", want, err)
		}
	}

	// A wrong client secret: the worker starts, cannot get a token, says
	// so (without the secret) and is not ready.
	sim, serr := platformtest.Start(platformtest.Config{})
	if serr != nil {
		t.Fatal(serr)
	}
	t.Cleanup(sim.Close)
	natsURL := natstest.Start(t, natstest.Options{}).URL()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run"}, envOf(map[string]string{
			"TXWORKER_NATS_URL": natsURL, "TXWORKER_PLATFORM_URL": sim.URL(), "TXWORKER_ALLOW_INSECURE_HTTP": "true",
			"TXWORKER_CLIENT_ID": sandbox.ClientID, "TXWORKER_CLIENT_SECRET": leakClientSecret,
			"TXWORKER_HTTP_ADDR": "127.0.0.1:0", "TXWORKER_LOG_LEVEL": "debug",
		}), logs)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "first token not obtained yet") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no log line about the refused token:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a log buffer
	}
	cancel()
	err = <-done
	checkNoLeak(t, []output{{"log with a wrong client secret", logs.String()}, {"run's error", errText(err)}},
		[]string{leakClientSecret, base64.StdEncoding.EncodeToString([]byte(sandbox.ClientID + ":" + leakClientSecret))}, nil)
}

// `run` refuses a plaintext http:// platform, token or JM URL unless
// TXWORKER_ALLOW_INSECURE_HTTP=true, names that setting, and exits 2.
func TestRunRefusesPlaintextHTTP(t *testing.T) {
	base := map[string]string{
		"TXWORKER_PLATFORM_URL": "https://platform.example", "TXWORKER_CLIENT_ID": "id", "TXWORKER_CLIENT_SECRET": "x",
		"TXWORKER_JM_URL": "https://jm.example", "TXWORKER_JM_USERNAME": "u", "TXWORKER_JM_PASSWORD": "p",
	}
	for _, name := range []string{"TXWORKER_PLATFORM_URL", "TXWORKER_TOKEN_URL", "TXWORKER_JM_URL"} {
		t.Run(name, func(t *testing.T) {
			env := merge(base, map[string]string{name: "http://plain.example"})
			var out bytes.Buffer
			err := run(context.Background(), []string{"run"}, envOf(env), &out)
			if exitCode(err) != 2 {
				t.Fatalf("exit %d (%v), want 2", exitCode(err), err)
			}
			if !strings.Contains(errText(err), name) || !strings.Contains(errText(err), "TXWORKER_ALLOW_INSECURE_HTTP=true") {
				t.Errorf("the error does not name %s and the setting that allows it:\n%v", name, err)
			}
			// Allowed explicitly, the URL is no longer a problem: run goes
			// on to connect (and gives up when the context ends).
			env["TXWORKER_ALLOW_INSECURE_HTTP"] = "true"
			env["TXWORKER_NATS_URL"] = "nats://127.0.0.1:1"
			env["TXWORKER_HTTP_ADDR"] = "127.0.0.1:0"
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			err = run(ctx, []string{"run"}, envOf(env), &out)
			if exitCode(err) == 2 {
				t.Errorf("still refused with TXWORKER_ALLOW_INSECURE_HTTP=true: %v", err)
			}
		})
	}
}
