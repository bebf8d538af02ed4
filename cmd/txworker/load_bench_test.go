package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/txworker/txworker/internal/app"
	"github.com/txworker/txworker/internal/load"
	"github.com/txworker/txworker/internal/rig"
	"github.com/txworker/txworker/platform/platformtest"
)

// The benchmarks here run the load scenarios with the worker inside the
// test process (app.Start, as `txworker sandbox` does), so that
//
//	go test ./cmd/txworker -run '^$' -bench 'Load/intake' -benchtime 20000x -cpuprofile cpu.out
//
// profiles the worker together with the NATS server, the simulator and
// the collector it shares the machine with; `go tool pprof -focus` on the
// project's packages separates them. `txworker load` measures the worker
// as its own process instead; these exist for pprof.

// inProcessWorker starts a rig and one in-process service with the rig's
// worker environment plus extra.
func inProcessWorker(b *testing.B, ctx context.Context, sim platformtest.Config, extra map[string]string) (*rig.Rig, *rig.Collector) {
	b.Helper()
	r, err := rig.Start(ctx, rig.Config{Binary: "/nonexistent", Sim: sim})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.Close)
	envMap := map[string]string{}
	for _, kv := range r.Env(extra) {
		k, v, _ := strings.Cut(kv, "=")
		envMap[k] = v
	}
	cfg, err := resolve(register(newFlagSet("bench", io.Discard), func(k string) string { return envMap[k] }))
	if err != nil {
		b.Fatal(err)
	}
	s, err := app.Start(ctx, cfg, app.Options{Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Shutdown(10 * time.Second) })
	if err := s.WaitReady(ctx, 30*time.Second); err != nil {
		b.Fatal(err)
	}
	col, err := r.Collect(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(col.Stop)
	return r, col
}

// BenchmarkLoad publishes b.N Corastone commands at once. intake: until
// every one is accepted (orchestrations last 10 minutes, so only tracking's
// first polls run meanwhile); burst: until every one has ended
// (orchestrations settle in 1–20 s); sync: b.N Journey Manager cancels.
func BenchmarkLoad(b *testing.B) {
	if testing.Short() {
		b.Skip("runs NATS, the simulator and the worker")
	}
	oneStep := func(lo, hi time.Duration) platformtest.Config {
		return platformtest.Config{AutoCreate: true, LogSize: -1, StepDuration: [2]time.Duration{lo, hi},
			Steps: [2]int{1, 1}, Queued: [2]time.Duration{0, -1}}
	}
	cases := []struct {
		name    string
		sim     platformtest.Config
		actions []string
		intake  bool
	}{
		{"intake", oneStep(10*time.Minute, 10*time.Minute), rig.CorastoneActions(), true},
		{"burst", oneStep(time.Second, 20*time.Second), rig.CorastoneActions(), false},
		{"sync", platformtest.Config{AutoCreate: true, LogSize: -1}, []string{"cancel-txn"}, false},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			// A fixed poll interval, as in the burst figures of BENCHMARKS.md.
			r, col := inProcessWorker(b, ctx, tc.sim, map[string]string{"TXWORKER_CONCURRENCY": benchConcurrency(),
				"TXWORKER_POLL_INTERVAL": "2s", "TXWORKER_POLL_MAX_INTERVAL": "2s"})
			b.ResetTimer()
			start := time.Now()
			if err := load.Burst(ctx, r, col, tc.actions, b.N); err != nil {
				b.Fatal(err)
			}
			wait := col.WaitEnded
			if tc.intake {
				wait = col.WaitAccepted
			}
			if err := wait(ctx, b.N); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commands/s")
		})
	}
}

// benchConcurrency is TXWORKER_CONCURRENCY for the in-process benchmarks:
// $TXWORKER_BENCH_CONCURRENCY, default 256.
func benchConcurrency() string {
	if v := os.Getenv("TXWORKER_BENCH_CONCURRENCY"); v != "" {
		return v
	}
	return "256"
}
