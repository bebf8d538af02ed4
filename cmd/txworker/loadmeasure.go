package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// platformTimer measures the platform's own time per Journey Manager
// cancel: how long the simulator's handler took (its injected latency
// included), summed per submitKey. It wraps the simulator
// (rigConfig.SimMiddleware) in the sync scenario, so that what the worker
// adds can be told apart per command.
type platformTimer struct {
	mu    sync.Mutex
	byKey map[string]time.Duration
}

func newPlatformTimer() *platformTimer {
	return &platformTimer{byKey: map[string]time.Duration{}}
}

func (t *platformTimer) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/workspaces/") {
			h.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var b struct { // the Workspaces Txn API's body: {"params": {"submitKey": …}}
			Params struct {
				SubmitKey string `json:"submitKey"`
			} `json:"params"`
		}
		_ = json.Unmarshal(body, &b)
		start := time.Now()
		h.ServeHTTP(w, r)
		d := time.Since(start)
		if b.Params.SubmitKey == "" {
			return
		}
		t.mu.Lock()
		t.byKey[b.Params.SubmitKey] += d
		t.mu.Unlock()
	})
}

// snapshot returns a copy of the times per submitKey.
func (t *platformTimer) snapshot() map[string]time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]time.Duration, len(t.byKey))
	for k, v := range t.byKey {
		out[k] = v
	}
	return out
}

// holdFigures describe the scale scenario's tracking-only phase: every
// orchestration accepted, none ended yet; the worker does nothing but poll.
type holdFigures struct {
	tracked  int
	window   time.Duration
	txPerSec float64 // Transactions API requests per second
	cpuShare float64 // worker CPU seconds per second
	rigShare float64 // this process's (NATS server, simulator, collector) CPU seconds per second
	rss      uint64  // worker VmHWM at the end of the window
}

// measureHold waits until all count commands are accepted, then measures
// the worker's CPU and poll rate until firstEnd, when the first
// orchestration can end (less a second). It returns nil figures if that
// window is shorter than 5 s.
func measureHold(ctx context.Context, r *rig, col *collector, reps []*replica, count int, firstEnd time.Time) (*holdFigures, error) {
	if err := col.WaitAccepted(ctx, count); err != nil {
		return nil, err
	}
	// Let the first round of polls (intake's back-log) pass before measuring.
	from := time.Now().Add(5 * time.Second)
	until := firstEnd.Add(-time.Second)
	if until.Sub(from) < 5*time.Second {
		return nil, nil
	}
	wait := func(t time.Time) error {
		tm := time.NewTimer(time.Until(t))
		defer tm.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tm.C:
			return nil
		}
	}
	if err := wait(from); err != nil {
		return nil, err
	}
	u0, err := sumUsage(reps)
	if err != nil {
		return nil, err
	}
	self0, _ := procUsage(os.Getpid())
	tx0, t0 := r.Sim.Count("GET", transactionsPrefix), time.Now()
	if err := wait(until); err != nil {
		return nil, err
	}
	u1, err := sumUsage(reps)
	if err != nil {
		return nil, err
	}
	self1, _ := procUsage(os.Getpid())
	tx1, window := r.Sim.Count("GET", transactionsPrefix), time.Since(t0)
	return &holdFigures{tracked: count, window: window, txPerSec: float64(tx1-tx0) / window.Seconds(),
		cpuShare: (u1.CPU - u0.CPU).Seconds() / window.Seconds(), rss: u1.PeakRSS,
		rigShare: (self1.CPU - self0.CPU).Seconds() / window.Seconds()}, nil
}
