package platformtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkSimulator measures requests per second over loopback with parallel clients: every
// fifth request is an action (cancel-offering of a fresh AutoCreate security with a fresh
// processId), the others poll /transactions/orchestrations with 50 ids.
func BenchmarkSimulator(b *testing.B) {
	for _, tc := range []struct {
		name        string
		actionEvery int
	}{{"mix", 5}, {"poll50", 0}, {"actions", 1}} {
		b.Run(tc.name, func(b *testing.B) { benchSimulator(b, tc.actionEvery) })
	}
}

func benchSimulator(b *testing.B, actionEvery int) {
	sim, err := Start(Config{AutoCreate: true, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sim.Close)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	tok := benchToken(b, hc, sim)
	ids := make([]string, 50)
	for i := range ids {
		ids[i] = uuid.NewString()
		if status := benchDo(b, hc, sim, tok, http.MethodPut, pathCancel,
			fmt.Sprintf(`{"processId":%q,"securityId":"BENCH%07d"}`, ids[i], i)); status != 200 {
			b.Fatalf("seed action: %d", status)
		}
	}
	poll := pathOrchs + "?pageSize=50&offset=0&orchestrationIdsFilter=" + strings.Join(ids, ",")
	var seq atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		pollReq := benchRequest(b, sim, tok, http.MethodGet, poll, "") // a GET without body can be re-sent
		for i := 0; pb.Next(); i++ {
			var status int
			if actionEvery > 0 && i%actionEvery == 0 {
				n := seq.Add(1)
				status = benchSend(b, hc, benchRequest(b, sim, tok, http.MethodPut, pathCancel,
					fmt.Sprintf(`{"processId":%q,"securityId":"B%011d"}`, uuid.NewString(), n)))
			} else {
				status = benchSend(b, hc, pollReq)
			}
			if status != 200 {
				b.Errorf("status %d", status)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	// CPU of client and simulator together per request: 2e6 / this is the rate two otherwise
	// idle cores could sustain, whatever else the machine is running.
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/req")
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchToken(b *testing.B, hc *http.Client, sim *Simulator) string {
	req := benchRequest(b, sim, "", http.MethodPost, "/oauth2/token", "grant_type=client_credentials&scope=cancelOffering+readTransactionData")
	req.SetBasicAuth("txworker", "sandbox-secret")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		b.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return "Bearer " + tr.AccessToken
}

func benchDo(b *testing.B, hc *http.Client, sim *Simulator, tok, method, path, body string) int {
	return benchSend(b, hc, benchRequest(b, sim, tok, method, path, body))
}

func benchRequest(b *testing.B, sim *Simulator, tok, method, path, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, sim.URL()+path, rd)
	if err != nil {
		b.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", tok)
	}
	req.Header.Set("User-Agent", testUA)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func benchSend(b *testing.B, hc *http.Client, req *http.Request) int {
	resp, err := hc.Do(req)
	if err != nil {
		b.Error(err)
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// nopWriter is a minimal http.ResponseWriter for handler-only benchmarks.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkHandlerPoll50 measures the simulator's own cost of one 50-id orchestrations poll,
// without HTTP.
func BenchmarkHandlerPoll50(b *testing.B) {
	c := newClock()
	sim := New(Config{Now: c.Now, Seed: 1, LogSize: 1000})
	tok := "tok"
	sim.tokens[tok] = &token{client: "txworker", org: defaultOrg, scopes: AllScopes(), expires: c.Now().Add(time.Hour).UnixNano()}
	ids := make([]string, 50)
	sim.mu.Lock()
	for i := range ids {
		ids[i] = sim.newOrch(epCancel, "", "USS3JKS02I00", "", defaultOrg, c.Now().UnixNano()).id
	}
	sim.mu.Unlock()
	c.Advance(500 * time.Millisecond)
	serveLoop(b, sim, tok, pathOrchs+"?pageSize=50&offset=0&orchestrationIdsFilter="+strings.Join(ids, "%2C"))
}

// serveLoop measures sim's handling of GET target with token tok, without HTTP.
func serveLoop(b *testing.B, sim *Simulator, tok, target string) {
	req, _ := http.NewRequest(http.MethodGet, "http://sim"+target, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("User-Agent", testUA)
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		sim.ServeHTTP(w, req)
	}
}

// BenchmarkSequencerPage100k measures one Sequencer page of a one-second window while 100,000
// orchestrations are in flight (the scale scenario's shape), without HTTP: it must not grow with
// the orchestrations outside the window.
func BenchmarkSequencerPage100k(b *testing.B) {
	c := newClock()
	sim := New(Config{Now: c.Now, Seed: 1, LogSize: 1000, Plan: func(_, _, _ string) *Plan {
		return &Plan{Steps: []time.Duration{2 * time.Minute}}
	}})
	tok := "tok"
	sim.tokens[tok] = &token{client: "txworker", org: defaultOrg, scopes: AllScopes(), expires: c.Now().Add(time.Hour).UnixNano()}
	start := c.Now()
	sim.mu.Lock()
	for i := range 100_000 {
		sim.newOrch(epCancel, "", "USS3JKS02I00", "", defaultOrg, start.Add(time.Duration(i)*time.Millisecond).UnixNano())
	}
	sim.mu.Unlock()
	c.Advance(3 * time.Minute) // the first 60,000 have ended
	from := start.Add(2*time.Minute + 30*time.Second)
	q := url.Values{"pageSize": {"100"}, "offset": {"0"},
		"fromDate": {from.Format(time.RFC3339Nano)}, "toDate": {from.Add(time.Second).Format(time.RFC3339Nano)}}
	serveLoop(b, sim, tok, sequencerPath+"?"+q.Encode())
}
