package load

import (
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	txmetrics "github.com/txworker/txworker/metrics"
)

// exposition is go_sched_latencies_seconds as client_golang writes it: each
// upper bound is the float just below one of the runtime's bucket edges.
const exposition = `# HELP go_goroutines Number of goroutines that currently exist.
go_goroutines 12
# TYPE go_sched_latencies_seconds histogram
go_sched_latencies_seconds_bucket{le="6.399999999999999e-08"} 10
go_sched_latencies_seconds_bucket{le="6.399999999999999e-07"} 40
go_sched_latencies_seconds_bucket{le="7.167999999999999e-06"} 500
go_sched_latencies_seconds_bucket{le="8.191999999999999e-05"} 800
go_sched_latencies_seconds_bucket{le="0.0009175039999999999"} 950
go_sched_latencies_seconds_bucket{le="0.010485759999999998"} 990
go_sched_latencies_seconds_bucket{le="0.11744051199999998"} 999
go_sched_latencies_seconds_bucket{le="+Inf"} 1000
go_sched_latencies_seconds_sum 0.01
go_sched_latencies_seconds_count 1000
`

func TestParseWakeups(t *testing.T) {
	w, err := parseWakeups(strings.NewReader(exposition), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantBounds := []float64{8.191999999999999e-05, 0.0009175039999999999, 0.010485759999999998}
	if len(w.bounds) != 3 {
		t.Fatalf("bounds %v, want %v", w.bounds, wantBounds)
	}
	for i := range wantBounds {
		if w.bounds[i] != wantBounds[i] {
			t.Errorf("bound %d = %v, want %v", i, w.bounds[i], wantBounds[i])
		}
	}
	if w.count != 1000 || w.over[0] != 200 || w.over[1] != 50 || w.over[2] != 10 {
		t.Errorf("count %d over %v, want 1000 [200 50 10]", w.count, w.over)
	}
	// With the first reading's bounds, a later reading counts the same way
	// and the difference is what happened between the two.
	later := strings.ReplaceAll(exposition, `"0.010485759999999998"} 990`, `"0.010485759999999998"} 1990`)
	later = strings.ReplaceAll(later, `"0.11744051199999998"} 999`, `"0.11744051199999998"} 1999`)
	later = strings.ReplaceAll(later, `"+Inf"} 1000`, `"+Inf"} 2000`)
	later = strings.ReplaceAll(later, "_count 1000", "_count 2000")
	w2, err := parseWakeups(strings.NewReader(later), w.bounds)
	if err != nil {
		t.Fatal(err)
	}
	d := w2.sub(w)
	if d.count != 1000 || d.over[0] != 1000 || d.over[1] != 1000 || d.over[2] != 0 {
		t.Errorf("difference count %d over %v, want 1000 [1000 1000 0]", d.count, d.over)
	}
	got := describeWakeups(wakeupReading{workers: w, self: w}, wakeupReading{workers: w2, self: w2})
	if want := "worker 1000 sampled, waited ≥0.0819ms 100.00 %, ≥0.918ms 100.00 %, ≥10.5ms 0.00 %"; !strings.HasPrefix(got, want) {
		t.Errorf("describeWakeups = %q, want prefix %q", got, want)
	}
}

func TestParseWakeupsRefusesWhatIsNotThere(t *testing.T) {
	for name, text := range map[string]string{
		"no histogram": "go_goroutines 12\n",
		"no count":     "go_sched_latencies_seconds_bucket{le=\"+Inf\"} 3\n",
		"bad count":    "go_sched_latencies_seconds_bucket{le=\"+Inf\"} 3\ngo_sched_latencies_seconds_count x\n",
		"bad bound":    "go_sched_latencies_seconds_bucket{le=\"y\"} 3\ngo_sched_latencies_seconds_count 3\n",
	} {
		if _, err := parseWakeups(strings.NewReader(text), nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// The runtime's own histogram, counted against the exported bounds, agrees
// with the exporter's buckets: a value just below an edge is under the
// bound, one at the edge is over it.
func TestFromHistogramMatchesExportedBounds(t *testing.T) {
	edge := 8.192e-05
	bound := math.Nextafter(edge, 0) // as exported
	h := &metrics.Float64Histogram{
		Buckets: []float64{math.Inf(-1), 0, 7.68e-05, edge, 1e-3, math.Inf(1)},
		Counts:  []uint64{0, 5, 7, 11, 13},
	}
	w := fromHistogram(h, []float64{bound})
	if w.count != 36 || w.over[0] != 24 {
		t.Errorf("count %d over %v, want 36 [24]", w.count, w.over)
	}
}

// End to end: the worker's registry exports the histogram, the load
// command's parser reads it, and this process's own reading counts against
// the same bounds.
func TestWakeupsFromTheWorkersRegistry(t *testing.T) {
	srv := httptest.NewServer(promhttp.HandlerFor(txmetrics.NewRegistry(), promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	w, err := parseWakeups(resp.Body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.bounds) != 3 || !(w.bounds[0] > 5e-5 && w.bounds[0] < 2e-4) || !(w.bounds[2] > 5e-3 && w.bounds[2] < 2e-2) {
		t.Fatalf("bounds %v: want about 0.1, 1 and 10 ms", w.bounds)
	}
	self := selfWakeups(w.bounds)
	if self.count < w.count {
		t.Errorf("a later reading of the same process counted %d wake-ups, fewer than %d", self.count, w.count)
	}
	for i := range self.over {
		if self.over[i] < w.over[i] || (i > 0 && self.over[i] > self.over[i-1]) {
			t.Errorf("over %v after %v: not a later, decreasing count", self.over, w.over)
		}
	}
}

func TestReadQueueTimes(t *testing.T) {
	before := readQueueTimes(os.Getpid())
	if !before.ok {
		t.Skip("no /proc/PID/task/*/schedstat here")
	}
	// Run a little so the threads' CPU time moves.
	x := 0
	for start := time.Now(); time.Since(start) < 20*time.Millisecond; {
		x++
	}
	after := readQueueTimes(os.Getpid())
	d := after.sub(before)
	if !d.ok || d.ran <= 0 || x == 0 {
		t.Errorf("after 20 ms of work: %+v", d)
	}
	if r := readQueueTimes(-1); r.ok {
		t.Errorf("a process that does not exist: %+v", r)
	}
	if got := (queueTimes{ran: 1, waited: 1, ok: true}).sub(queueTimes{ran: 2, waited: 3, ok: true}); got.ran != 0 || got.waited != 0 {
		t.Errorf("a difference below zero: %+v, want zero", got)
	}
	got := describeQueues(queueTimes{ran: 4 * time.Second, waited: time.Second, ok: true}, queueTimes{}, 1000)
	if want := "worker 1.00 s (25.0 % of the 4.00 s its threads ran; 1.000 ms per command); load process unknown"; !strings.HasPrefix(got, want) {
		t.Errorf("describeQueues = %q, want prefix %q", got, want)
	}
}
