package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/txworker/txworker/internal/backoff"
	"github.com/txworker/txworker/internal/rig"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"
)

// platformTimer measures the platform's own time per Journey Manager
// cancel: how long the simulator's handler took (its injected latency
// included), summed per submitKey. It wraps the simulator
// (rig.Config.SimMiddleware) in the sync scenario, so that what the worker
// adds can be told apart per command.
type platformTimer struct {
	mu    sync.Mutex
	byKey map[string]platformTime
}

// platformTime is the simulator's handling of one submitKey's cancels.
type platformTime struct {
	own        time.Duration // handler time, summed over the requests
	first, end time.Time     // the first request's arrival, the last answer
}

func newPlatformTimer() *platformTimer {
	return &platformTimer{byKey: map[string]platformTime{}}
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
		end := time.Now()
		if b.Params.SubmitKey == "" {
			return
		}
		t.mu.Lock()
		pt := t.byKey[b.Params.SubmitKey]
		pt.own += end.Sub(start)
		if pt.first.IsZero() {
			pt.first = start
		}
		pt.end = end
		t.byKey[b.Params.SubmitKey] = pt
		t.mu.Unlock()
	})
}

// snapshot returns a copy of the times per submitKey.
func (t *platformTimer) snapshot() map[string]platformTime {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]platformTime, len(t.byKey))
	for k, v := range t.byKey {
		out[k] = v
	}
	return out
}

// intakeFigures are the CPU spent from the first command published to the
// last one accepted by the worker and by this process (the NATS server, the
// simulator, the driver) — all the machine's work in a load run — and per
// command.
type intakeFigures struct {
	window      time.Duration
	worker, rig time.Duration // CPU time
	perCommand  time.Duration // (worker + rig) ÷ commands
}

// measureIntake waits until all count commands are accepted and returns
// the CPU spent since at (taken at start).
func measureIntake(ctx context.Context, col *rig.Collector, reps []*rig.Replica, count int, at cpuReading, start time.Time) (*intakeFigures, error) {
	if err := col.WaitAccepted(ctx, count); err != nil {
		return nil, err
	}
	now, err := takeUsage(reps)
	if err != nil {
		return nil, err
	}
	f := &intakeFigures{window: time.Since(start), worker: now.workers.CPU - at.workers.CPU, rig: now.self.CPU - at.self.CPU}
	f.perCommand = (f.worker + f.rig) / time.Duration(max(count, 1))
	return f, nil
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
func measureHold(ctx context.Context, r *rig.Rig, col *rig.Collector, reps []*rig.Replica, count int, firstEnd time.Time) (*holdFigures, error) {
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
		if !backoff.Sleep(ctx, time.Until(t)) {
			return ctx.Err()
		}
		return nil
	}
	if err := wait(from); err != nil {
		return nil, err
	}
	u0, err := takeUsage(reps)
	if err != nil {
		return nil, err
	}
	tx0, t0 := r.Sim.Count("GET", transactionsPrefix), time.Now()
	if err := wait(until); err != nil {
		return nil, err
	}
	u1, err := takeUsage(reps)
	if err != nil {
		return nil, err
	}
	tx1, window := r.Sim.Count("GET", transactionsPrefix), time.Since(t0)
	return &holdFigures{tracked: count, window: window, txPerSec: float64(tx1-tx0) / window.Seconds(),
		cpuShare: (u1.workers.CPU - u0.workers.CPU).Seconds() / window.Seconds(), rss: u1.workers.PeakRSS,
		rigShare: (u1.self.CPU - u0.self.CPU).Seconds() / window.Seconds()}, nil
}

// cpuReading is a reading of the worker replicas' resources (summed) and of
// this process's (the NATS server, the simulator, the driver).
type cpuReading struct{ workers, self rig.ProcStats }

func takeUsage(reps []*rig.Replica) (cpuReading, error) {
	w, err := sumUsage(reps)
	if err != nil {
		return cpuReading{}, err
	}
	self, err := rig.ProcUsage(os.Getpid())
	return cpuReading{workers: w, self: self}, err
}

// profiler takes CPU profiles of the first worker replica (through its
// /debug/pprof/, TXWORKER_PPROF) and of this process (the NATS server, the
// simulator and the driver) over the same seconds, and optionally an
// execution trace of the worker, into dir.
type profiler struct {
	dir, prefix string
	seconds     int
	trace       time.Duration
	addr        string

	wg    sync.WaitGroup
	mu    sync.Mutex
	files []string
	errs  []string
}

// start begins the profiles; wait returns the files written and the
// problems met.
func (p *profiler) start(ctx context.Context) {
	get := func(path, file string) {
		defer p.wg.Done()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+path, nil)
		if err == nil {
			var resp *http.Response
			if resp, err = http.DefaultClient.Do(req); err == nil {
				err = saveBody(resp, file)
			}
		}
		p.record(file, err)
	}
	p.wg.Add(2)
	go get(fmt.Sprintf("/debug/pprof/profile?seconds=%d", p.seconds), p.path("worker.cpu.pprof"))
	go func() {
		defer p.wg.Done()
		file := p.path("rig.cpu.pprof")
		p.record(file, profileSelf(ctx, file, time.Duration(p.seconds)*time.Second))
	}()
	if p.trace > 0 {
		p.wg.Add(1)
		go get(fmt.Sprintf("/debug/pprof/trace?seconds=%g", p.trace.Seconds()), p.path("worker.trace"))
	}
}

func (p *profiler) wait() (files, problems []string) {
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.files, p.errs
}

func (p *profiler) path(name string) string {
	return filepath.Join(p.dir, p.prefix+"-"+name)
}

func (p *profiler) record(file string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.errs = append(p.errs, fmt.Sprintf("profile %s: %v", filepath.Base(file), err))
		return
	}
	p.files = append(p.files, file)
}

// saveBody writes a 200 answer's body to file.
func saveBody(resp *http.Response, file string) error {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// profileSelf writes this process's CPU profile over d (or until ctx ends).
func profileSelf(ctx context.Context, file string, d time.Duration) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	backoff.Sleep(ctx, d)
	pprof.StopCPUProfile()
	return f.Close()
}

// machineTimes is the first line of /proc/stat: the jiffies all CPUs spent
// in total, idle (waiting for I/O included) and stolen by the hypervisor.
type machineTimes struct{ total, idle, steal uint64 }

// readMachineTimes reads /proc/stat; ok is false where there is none.
func readMachineTimes() (t machineTimes, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return t, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	// cpu user nice system idle iowait irq softirq steal …
	if len(f) < 9 || f[0] != "cpu" {
		return t, false
	}
	for i, s := range f[1:] {
		var v uint64
		if _, err := fmt.Sscan(s, &v); err != nil {
			return t, false
		}
		t.total += v
		switch i {
		case 3, 4:
			t.idle += v
		case 7:
			t.steal += v
		}
	}
	return t, true
}

// machineShare describes how the CPUs' time went between two readings:
// idle, and stolen by the hypervisor (another guest ran on the CPUs the
// worker, NATS and the simulator were waiting for), in per cent.
func machineShare(a, b machineTimes, okA, okB bool) string {
	if !okA || !okB || b.total <= a.total {
		return "unknown (no /proc/stat)"
	}
	d := float64(b.total - a.total)
	return fmt.Sprintf("idle %.1f %%, stolen by the hypervisor %.1f %% of the CPUs' time over the run (/proc/stat)",
		100*float64(b.idle-a.idle)/d, 100*float64(b.steal-a.steal)/d)
}
