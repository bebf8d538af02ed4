package platformtest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
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
	h := &harness{t: &testing.T{}, sim: sim, hc: hc}
	tok := "Bearer " + h.fetchToken("txworker", "sandbox-secret", "cancelOffering readTransactionData")
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
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			var status int
			if actionEvery > 0 && i%actionEvery == 0 {
				n := seq.Add(1)
				status = benchDo(b, hc, sim, tok, http.MethodPut, pathCancel,
					fmt.Sprintf(`{"processId":%q,"securityId":"B%011d"}`, uuid.NewString(), n))
			} else {
				status = benchDo(b, hc, sim, tok, http.MethodGet, poll, "")
			}
			if status != 200 {
				b.Errorf("status %d", status)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

func benchDo(b *testing.B, hc *http.Client, sim *Simulator, tok, method, path, body string) int {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, sim.URL()+path, rd)
	if err != nil {
		b.Error(err)
		return 0
	}
	req.Header.Set("Authorization", tok)
	req.Header.Set("User-Agent", testUA)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		b.Error(err)
		return 0
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
