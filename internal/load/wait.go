package load

import (
	"bufio"
	"context"
	"fmt"
	"github.com/txworker/txworker/internal/rig"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// schedLatencies is the Go runtime's distribution of how long goroutines
// waited, runnable, for a CPU (/sched/latencies:seconds). A wake-up of a
// goroutine — a message read, a reply, a timer — is a sample; the runtime
// times one in eight. The worker exports it as go_sched_latencies_seconds;
// this process reads its own. Counts are cumulative since the process
// started: subtract two readings.
const schedLatencies = "/sched/latencies:seconds"

// wakeups is a reading of one process's (or several summed) scheduler
// latencies: how many wake-ups, and how many waited at least each of the
// bounds. (The exported histogram's sum is not kept: the client library
// estimates it from the coarse buckets' lower edges.)
type wakeups struct {
	count  uint64
	bounds []float64 // seconds, ascending: the worker's exported bucket bounds
	over   []uint64  // wake-ups that waited at least bounds[i]
}

// sub returns w minus an earlier reading a of the same processes.
func (w wakeups) sub(a wakeups) wakeups {
	d := wakeups{count: w.count - a.count, bounds: w.bounds, over: make([]uint64, len(w.over))}
	for i := range w.over {
		if i < len(a.over) {
			d.over[i] = w.over[i] - a.over[i]
		} else {
			d.over[i] = w.over[i]
		}
	}
	return d
}

// add sums b (read with the same bounds) into w.
func (w *wakeups) add(b wakeups) {
	if w.bounds == nil {
		w.bounds, w.over = b.bounds, make([]uint64, len(b.over))
	}
	w.count += b.count
	for i := range w.over {
		if i < len(b.over) {
			w.over[i] += b.over[i]
		}
	}
}

// waitBounds are the thresholds the load report counts: the bounds of the
// worker's exported histogram nearest to 0.1 ms, 1 ms and 10 ms (the client
// library exports the runtime's buckets about a power of ten apart, on
// the runtime's own bucket edges: 0.08192, 0.9175 and 10.49 ms).
func waitBounds(exported []float64) []float64 {
	var out []float64
	for _, target := range []float64{1e-4, 1e-3, 1e-2} {
		best := -1.0
		for _, b := range exported {
			if b > 0 && (best < 0 || ratioDistance(b, target) < ratioDistance(best, target)) {
				best = b
			}
		}
		if best > 0 && (len(out) == 0 || best > out[len(out)-1]) {
			out = append(out, best)
		}
	}
	return out
}

func ratioDistance(a, b float64) float64 {
	if a > b {
		return a / b
	}
	return b / a
}

// selfWakeups reads this process's scheduler latencies, counting against
// bounds.
func selfWakeups(bounds []float64) wakeups {
	s := []metrics.Sample{{Name: schedLatencies}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return wakeups{bounds: bounds, over: make([]uint64, len(bounds))}
	}
	return fromHistogram(s[0].Value.Float64Histogram(), bounds)
}

// fromHistogram counts a runtime histogram against bounds. The runtime's
// buckets are [lower, upper); each bound is exported as the float just
// below one of their edges, so a bucket counts as "at least bound" when its
// lower edge is above the bound.
func fromHistogram(h *metrics.Float64Histogram, bounds []float64) wakeups {
	w := wakeups{bounds: bounds, over: make([]uint64, len(bounds))}
	for i, n := range h.Counts {
		lo := h.Buckets[i]
		w.count += n
		for j, b := range bounds {
			if lo > b {
				w.over[j] += n
			}
		}
	}
	return w
}

// scrapeWakeups reads go_sched_latencies_seconds from a worker's /metrics
// at addr. With bounds nil it counts against waitBounds of the exported
// buckets and returns those.
func scrapeWakeups(ctx context.Context, addr string, bounds []float64) (wakeups, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return wakeups{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return wakeups{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return wakeups{}, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return parseWakeups(resp.Body, bounds)
}

// parseWakeups reads the go_sched_latencies_seconds histogram from a
// Prometheus text exposition.
func parseWakeups(r io.Reader, bounds []float64) (wakeups, error) {
	const name = "go_sched_latencies_seconds"
	type bucket struct {
		le  float64
		cum uint64
	}
	var (
		buckets               []bucket
		count                 uint64
		haveCount, haveBucket bool
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"_") {
			continue
		}
		key, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		switch {
		case key == name+"_count":
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return wakeups{}, fmt.Errorf("%s: %w", key, err)
			}
			count, haveCount = n, true
		case strings.HasPrefix(key, name+`_bucket{le="`) && strings.HasSuffix(key, `"}`):
			le, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(key, name+`_bucket{le="`), `"}`), 64)
			if err != nil {
				return wakeups{}, fmt.Errorf("%s: %w", key, err)
			}
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return wakeups{}, fmt.Errorf("%s: %w", key, err)
			}
			buckets = append(buckets, bucket{le, n})
			haveBucket = true
		}
	}
	if err := sc.Err(); err != nil {
		return wakeups{}, err
	}
	if !haveCount || !haveBucket {
		return wakeups{}, fmt.Errorf("no %s histogram in /metrics", name)
	}
	if bounds == nil {
		les := make([]float64, len(buckets))
		for i, b := range buckets {
			les[i] = b.le
		}
		bounds = waitBounds(les)
	}
	w := wakeups{count: count, bounds: bounds, over: make([]uint64, len(bounds))}
	for j, b := range bounds {
		// At least b: everything but the cumulative count of the buckets
		// up to b.
		var below uint64
		for _, bk := range buckets {
			if bk.le <= b {
				below = bk.cum
			}
		}
		w.over[j] = count - min(below, count)
	}
	return w, nil
}

// wakeupReading is the replicas' scheduler latencies and run-queue times
// (summed) and this process's, taken at one moment.
type wakeupReading struct {
	workers, self   wakeups
	workersQ, selfQ queueTimes
	err             error
}

// readWakeups reads every replica's /metrics and run-queue times and this
// process's, counting against the first replica's exported bounds (or
// bounds, when given: the first reading's). A failed scrape is kept in err;
// the run-queue times are read all the same.
func readWakeups(ctx context.Context, reps []*rig.Replica, bounds []float64) wakeupReading {
	r := wakeupReading{workersQ: queueTimes{ok: len(reps) > 0}}
	for _, p := range reps {
		q := readQueueTimes(p.PID())
		r.workersQ = r.workersQ.add(q)
		if r.err != nil {
			continue
		}
		w, err := scrapeWakeups(ctx, p.Addr(), bounds)
		if err != nil {
			r.err = fmt.Errorf("%s: %w", p.Name, err)
			continue
		}
		bounds = w.bounds
		r.workers.add(w)
	}
	r.self = selfWakeups(bounds)
	r.selfQ = readQueueTimes(os.Getpid())
	return r
}

// describeWakeups is the report's line: per process, how many wake-ups the
// runtime sampled (it times about one in eight, not every one) and the share
// of them that waited at least each bound.
func describeWakeups(before, after wakeupReading) string {
	if before.err != nil {
		return "unknown (" + before.err.Error() + ")"
	}
	if after.err != nil {
		return "unknown (" + after.err.Error() + ")"
	}
	one := func(label string, w wakeups) string {
		if w.count == 0 {
			return label + " none sampled"
		}
		s := fmt.Sprintf("%s %d sampled, waited", label, w.count)
		for i, b := range w.bounds {
			if i > 0 {
				s += ","
			}
			s += fmt.Sprintf(" ≥%s %.2f %%", waitTime(b), 100*float64(w.over[i])/float64(w.count))
		}
		return s
	}
	return one("worker", after.workers.sub(before.workers)) + "; " + one("load process", after.self.sub(before.self))
}

// waitTime prints a bound (seconds) in milliseconds, to three significant
// digits.
func waitTime(s float64) string {
	return strconv.FormatFloat(s*1e3, 'g', 3, 64) + "ms"
}

// queueTimes is how long a process's threads ran and how long they waited,
// runnable, on the kernel's run queues for a CPU: below the Go scheduler,
// the time a thread is ready and another process (or thread) holds the CPU.
type queueTimes struct {
	ran, waited time.Duration
	ok          bool // the kernel keeps schedstat
}

// readQueueTimes sums the first two fields of /proc/PID/task/*/schedstat
// (nanoseconds on a CPU, nanoseconds waiting on a run queue). A thread that
// ends between two readings takes its times with it; Go keeps its threads,
// so that is rare, and a difference below zero is reported as zero.
func readQueueTimes(pid int) queueTimes {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return queueTimes{}
	}
	var q queueTimes
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread ended
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		ran, err1 := strconv.ParseUint(f[0], 10, 64)
		waited, err2 := strconv.ParseUint(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		q.ran += time.Duration(ran)
		q.waited += time.Duration(waited)
		q.ok = true
	}
	return q
}

// sub returns q minus an earlier reading a, never below zero.
func (q queueTimes) sub(a queueTimes) queueTimes {
	return queueTimes{ran: max(q.ran-a.ran, 0), waited: max(q.waited-a.waited, 0), ok: q.ok && a.ok}
}

// add returns the sum of two processes' times, known only if both are.
func (q queueTimes) add(b queueTimes) queueTimes {
	return queueTimes{ran: q.ran + b.ran, waited: q.waited + b.waited, ok: q.ok && b.ok}
}

// describeQueues is the report's "run queues" line.
func describeQueues(workers, self queueTimes, commands int) string {
	one := func(label string, q queueTimes) string {
		if !q.ok {
			return label + " unknown (no /proc/PID/task/*/schedstat)"
		}
		share := 0.0
		if q.ran > 0 {
			share = 100 * q.waited.Seconds() / q.ran.Seconds()
		}
		return fmt.Sprintf("%s %.2f s (%.1f %% of the %.2f s its threads ran; %.3f ms per command)", label,
			q.waited.Seconds(), share, q.ran.Seconds(), 1e3*q.waited.Seconds()/float64(max(commands, 1)))
	}
	return one("worker", workers) + "; " + one("load process", self)
}
