package load

import (
	"cmp"
	"fmt"
	"github.com/txworker/txworker/internal/rig"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// Path prefixes that split the simulator's request counts.
const (
	transactionsPrefix = "/external/v1/transactions" // both Transactions API endpoints
	corastonePrefix    = "/external/v1/"             // PUT: the actions
	jmCancelPath       = "/workspaces/secure/api/v1/txn/cancel"
	jmQueryPath        = "/workspaces/secure/api/v1/txn/query"
	tokenPath          = "/oauth2/token"
	sequencerPath      = "/external/v1/sequencer"
)

// loadResult is what one scenario run measured.
type loadResult struct {
	scenario, mode string
	opts           Options
	count          int
	dir            string
	start, end     time.Time

	corastone, jm       int // commands per platform
	outcomes            map[string]int
	acceptRate, endRate float64 // sustained (10 %–90 %), per second
	lastAccepted        time.Duration
	lastEnded           time.Duration
	published           time.Duration
	latency             []time.Duration // publish → terminal event
	detection           []time.Duration // orchestration end on the simulator → terminal event
	detectionAfter      []time.Duration // the same, for orchestrations that ended after the last acceptance
	detectionAge        []ageDelay      // the same, with each orchestration's age when it ended
	platform, added     []time.Duration // sync: the platform's own time, and the rest
	toPlatform          []time.Duration // sync: publish → the cancel arrives at the platform
	fromPlatform        []time.Duration // sync: the platform's answer → the terminal event at the driver
	busAdded            []time.Duration // sync: command stored → terminal event stored, minus the platform's own
	busToPlatform       []time.Duration // sync: command stored → the cancel arrives at the platform
	busFromPlatform     []time.Duration // sync: the platform's answer → the terminal event stored
	actionReq, txReq    int
	seqReq              int // Sequencer requests (hints mode)
	tokenReq, queryReq  int
	cpu                 time.Duration
	rss                 uint64
	hold                *holdFigures
	intake              *intakeFigures
	missing, twice      []string
	undecoded           int
	maxAccepted         int
	notes               []string
	loadAvg             [2]string // /proc/loadavg (1 min) at the start and the end
	machine             string    // the CPUs' idle and stolen time over the run
	wakeups             string    // how long goroutine wake-ups waited for a CPU, per process
	queues              string    // how long the processes' threads waited on the kernel's run queues
}

// printAdded prints what the worker adds (p50 and p99) and its parts
// before and after the platform call, each with what it measures.
func printAdded(w io.Writer, label, what string, added, before []time.Duration, beforeWhat string, after []time.Duration, afterWhat string) {
	for _, l := range []struct {
		label, what string
		d           []time.Duration
	}{{label, what, added}, {"  before the call  ", beforeWhat, before}, {"  after the call   ", afterWhat, after}} {
		fmt.Fprintf(w, "%s p50 %s  p99 %s  (%s)\n", l.label, ms(rig.Percentile(l.d, 50)), ms(rig.Percentile(l.d, 99)), l.what)
	}
}

// loadAverage is the 1-minute load average: other work on the machine
// shows here.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// measure reads the collector and the simulator after the run.
func (res *loadResult) measure(r *rig.Rig, col *rig.Collector, d *driver) {
	res.missing, res.twice, res.undecoded = col.Check(d.ids)
	res.maxAccepted = r.Sim.MaxAcceptedPerProcess()
	res.outcomes = map[string]int{}
	if !d.published.IsZero() {
		res.published = d.published.Sub(res.start)
	}
	var accepted, ended []time.Time
	var lastAccepted time.Time
	col.Each(func(_ string, rec rig.Record) {
		if rec.AcceptedAt.After(lastAccepted) {
			lastAccepted = rec.AcceptedAt
		}
	})
	var timer map[string]platformTime
	if d.s.timer != nil {
		timer = d.s.timer.snapshot()
	}
	col.Each(func(id string, rec rig.Record) {
		if rec.Action == "cancel-txn" {
			res.jm++
		} else {
			res.corastone++
		}
		if !rec.AcceptedAt.IsZero() {
			accepted = append(accepted, rec.AcceptedAt)
		}
		if rec.Terminals == 0 {
			return
		}
		res.outcomes[rec.Outcome]++
		ended = append(ended, rec.TerminalAt)
		lat := rec.TerminalAt.Sub(rec.SentAt)
		res.latency = append(res.latency, lat)
		if timer != nil {
			if pt, ok := timer[d.resources[id]]; ok {
				res.platform = append(res.platform, pt.own)
				res.added = append(res.added, lat-pt.own)
				res.toPlatform = append(res.toPlatform, pt.first.Sub(rec.SentAt))
				res.fromPlatform = append(res.fromPlatform, rec.TerminalAt.Sub(pt.end))
				if !rec.CommandStoredAt.IsZero() && !rec.TerminalStoredAt.IsZero() {
					res.busAdded = append(res.busAdded, rec.TerminalStoredAt.Sub(rec.CommandStoredAt)-pt.own)
					res.busToPlatform = append(res.busToPlatform, pt.first.Sub(rec.CommandStoredAt))
					res.busFromPlatform = append(res.busFromPlatform, rec.TerminalStoredAt.Sub(pt.end))
				}
			}
		}
		if rec.OrchestrationID != "" {
			if v, ok := r.Sim.Orchestration(rec.OrchestrationID); ok && !v.EndedAt.IsZero() {
				res.detection = append(res.detection, rec.TerminalAt.Sub(v.EndedAt))
				res.detectionAge = append(res.detectionAge, ageDelay{v.EndedAt.Sub(v.CreatedAt), rec.TerminalAt.Sub(v.EndedAt)})
				if v.EndedAt.After(lastAccepted) {
					res.detectionAfter = append(res.detectionAfter, rec.TerminalAt.Sub(v.EndedAt))
				}
			}
		}
	})
	res.acceptRate, res.lastAccepted = sustained(accepted, res.start)
	res.endRate, res.lastEnded = sustained(ended, res.start)
	res.actionReq = r.Sim.Count("PUT", corastonePrefix) + r.Sim.Count("POST", jmCancelPath)
	res.txReq = r.Sim.Count("GET", transactionsPrefix)
	res.seqReq = r.Sim.Count("GET", sequencerPath)
	res.tokenReq = r.Sim.Count("POST", tokenPath)
	res.queryReq = r.Sim.Count("POST", jmQueryPath)
}

// sustained is the rate between the 10th and the 90th percentile of the
// times (so that start-up and the tail do not count), and when the last
// one happened after start.
func sustained(ts []time.Time, start time.Time) (perSecond float64, last time.Duration) {
	if len(ts) == 0 {
		return 0, 0
	}
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	last = ts[len(ts)-1].Sub(start)
	lo, hi := len(ts)/10, len(ts)*9/10
	if span := ts[hi-min(hi, 1)].Sub(ts[lo]); hi-lo > 1 && span > 0 {
		return float64(hi-lo-1) / span.Seconds(), last
	}
	return float64(len(ts)) / max(last.Seconds(), 1e-3), last
}

func (res *loadResult) problem() string {
	var parts []string
	if n := len(res.missing); n > 0 {
		parts = append(parts, fmt.Sprintf("%d commands did not end (first %s)", n, res.missing[0]))
	}
	if n := len(res.twice); n > 0 {
		parts = append(parts, fmt.Sprintf("%d commands ended twice (first %s)", n, res.twice[0]))
	}
	if res.maxAccepted > 1 {
		parts = append(parts, fmt.Sprintf("a processId was accepted %d times", res.maxAccepted))
	}
	if res.undecoded > 0 {
		parts = append(parts, fmt.Sprintf("%d events could not be read", res.undecoded))
	}
	return strings.Join(parts, "; ")
}

func (res *loadResult) print(w io.Writer) {
	o := res.opts
	poll := fmt.Sprintf("poll %s..%s", o.pollInterval, o.pollMax)
	switch res.mode {
	case modeNaive:
		poll = fmt.Sprintf("poll every %s, one orchestration per request", o.pollInterval)
	case modeHints:
		poll = fmt.Sprintf("Sequencer hints every 1s; id poller as the backstop: every poll, the first included, after 4 × %s", o.pollMax)
	}
	fmt.Fprintf(w, "\n== %s · %s (%s; concurrency %d; %d replica(s); load average %s → %s) ==\n",
		res.scenario, res.mode, poll, o.concurrency, o.replicas, res.loadAvg[0], res.loadAvg[1])
	var outs []string
	for k, v := range res.outcomes {
		outs = append(outs, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(outs)
	fmt.Fprintf(w, "commands            %d (Corastone %d, Journey Manager %d); outcomes: %s\n",
		res.count, res.corastone, res.jm, strings.Join(outs, ", "))
	fmt.Fprintf(w, "machine             %s\n", res.machine)
	fmt.Fprintf(w, "wake-ups            %s (goroutines made runnable, and how long they waited for a CPU: Go's /sched/latencies)\n", res.wakeups)
	fmt.Fprintf(w, "run queues          %s (threads ready to run and waiting for a CPU: the kernel's schedstat)\n", res.queues)
	fmt.Fprintf(w, "published           all by %s\n", rig.Secs(res.published))
	if res.corastone > 0 {
		fmt.Fprintf(w, "accepted            %.0f/s sustained; all by %s\n", res.acceptRate, rig.Secs(res.lastAccepted))
	}
	fmt.Fprintf(w, "ended               %.0f/s sustained; all by %s\n", res.endRate, rig.Secs(res.lastEnded))
	fmt.Fprintf(w, "command→terminal    p50 %s  p99 %s\n", ms(rig.Percentile(res.latency, 50)), ms(rig.Percentile(res.latency, 99)))
	if len(res.detection) > 0 {
		fmt.Fprintf(w, "detection delay     p50 %s  p99 %s  max %s  (orchestration end on the simulator → event on the bus)\n",
			ms(rig.Percentile(res.detection, 50)), ms(rig.Percentile(res.detection, 99)), ms(rig.Percentile(res.detection, 100)))
		if n := len(res.detectionAfter); n > 0 && n < len(res.detection) {
			fmt.Fprintf(w, "  after intake      p50 %s  p99 %s  (the %d orchestrations that ended after the last command was accepted)\n",
				ms(rig.Percentile(res.detectionAfter, 50)), ms(rig.Percentile(res.detectionAfter, 99)), n)
		}
		fmt.Fprintf(w, "  by age            %s  (p99 of each quarter of the orchestrations by their age when they ended)\n", byAge(res.detectionAge))
	}
	if len(res.added) > 0 {
		fmt.Fprintf(w, "platform's own      p50 %s  p99 %s  (simulator handling of the cancel)\n", ms(rig.Percentile(res.platform, 50)), ms(rig.Percentile(res.platform, 99)))
		printAdded(w, "worker adds        ", "command→terminal minus the platform's own, per command", res.added,
			res.toPlatform, "publish → the cancel arrives at the platform",
			res.fromPlatform, "the platform's answer → the terminal event at the driver")
	}
	if len(res.busAdded) > 0 {
		printAdded(w, "worker adds, bus   ", "command stored → terminal event stored, minus the platform's own", res.busAdded,
			res.busToPlatform, "command stored → the cancel arrives at the platform",
			res.busFromPlatform, "the platform's answer → the terminal event stored")
	}
	n := float64(max(res.count, 1))
	fmt.Fprintf(w, "platform requests   per command: action %.3f, Transactions API %.3f, token %.4f, JM query %.4f",
		float64(res.actionReq)/n, float64(res.txReq)/n, float64(res.tokenReq)/n, float64(res.queryReq)/n)
	if res.corastone > 0 {
		fmt.Fprintf(w, "; Transactions API per orchestration %.3f (%d requests)", float64(res.txReq)/float64(res.corastone), res.txReq)
	}
	fmt.Fprintln(w)
	if res.corastone > 0 {
		c := float64(res.corastone)
		fmt.Fprintf(w, "tracking requests   per orchestration: Transactions API %.3f + Sequencer %.3f = %.3f (%d + %d requests)\n",
			float64(res.txReq)/c, float64(res.seqReq)/c, float64(res.txReq+res.seqReq)/c, res.txReq, res.seqReq)
	}
	fmt.Fprintf(w, "worker              peak RSS %.1f MB; CPU %.1f s = %.3f s per 1,000 commands\n",
		float64(res.rss)/1e6, res.cpu.Seconds(), res.cpu.Seconds()*1000/n)
	if f := res.intake; f != nil {
		secsOf := f.window.Seconds()
		fmt.Fprintf(w, "intake CPU          %.3f ms per accepted command for the whole machine: worker %.2f + load process %.2f cores over the %s to the last acceptance (%d CPUs at 3,000/s allow %.3f ms)\n",
			float64(f.perCommand.Microseconds())/1000, f.worker.Seconds()/secsOf, f.rig.Seconds()/secsOf, rig.Secs(f.window),
			runtime.NumCPU(), float64(runtime.NumCPU())/3)
	}
	if h := res.hold; h != nil {
		fmt.Fprintf(w, "tracking only       %d tracked for %s: %.1f Transactions API requests/s; CPU %% of a core: worker %.1f, NATS+simulator+driver %.1f; worker RSS %.1f MB\n",
			h.tracked, rig.Secs(h.window), h.txPerSec, h.cpuShare*100, h.rigShare*100, float64(h.rss)/1e6)
	}
	if msg := res.problem(); msg != "" {
		fmt.Fprintf(w, "check               FAILED: %s\n", msg)
	} else {
		fmt.Fprintf(w, "check               every command ended exactly once; at most one accepted action per processId\n")
	}
	for _, note := range res.notes {
		fmt.Fprintf(w, "note                %s\n", note)
	}
	if res.dir != "" {
		fmt.Fprintf(w, "kept                %s\n", res.dir)
	}
}

// printRatios compares the batched run of one scenario with its naive or
// hints run.
func printRatios(w io.Writer, b, n *loadResult) {
	fmt.Fprintf(w, "\n-- %s: %s ÷ batched --\n", b.scenario, n.mode)
	ratio := func(x, y float64) string {
		if y == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f×", x/y)
	}
	if b.corastone > 0 {
		fmt.Fprintf(w, "Transactions API requests   %d ÷ %d = %s\n", n.txReq, b.txReq, ratio(float64(n.txReq), float64(b.txReq)))
		if n.seqReq+b.seqReq > 0 {
			fmt.Fprintf(w, "tracking requests (+Seq.)   %d ÷ %d = %s  (Transactions API and Sequencer together)\n", n.txReq+n.seqReq, b.txReq+b.seqReq,
				ratio(float64(n.txReq+n.seqReq), float64(b.txReq+b.seqReq)))
		}
		fmt.Fprintf(w, "detection delay p50         %s ÷ %s = %s\n", ms(rig.Percentile(n.detection, 50)), ms(rig.Percentile(b.detection, 50)),
			ratio(float64(rig.Percentile(n.detection, 50)), float64(rig.Percentile(b.detection, 50))))
		fmt.Fprintf(w, "detection delay p99         %s ÷ %s = %s\n", ms(rig.Percentile(n.detection, 99)), ms(rig.Percentile(b.detection, 99)),
			ratio(float64(rig.Percentile(n.detection, 99)), float64(rig.Percentile(b.detection, 99))))
	}
	fmt.Fprintf(w, "ended/s sustained           %.0f ÷ %.0f = %s\n", n.endRate, b.endRate, ratio(n.endRate, b.endRate))
	fmt.Fprintf(w, "command→terminal p99        %s ÷ %s = %s\n", ms(rig.Percentile(n.latency, 99)), ms(rig.Percentile(b.latency, 99)),
		ratio(float64(rig.Percentile(n.latency, 99)), float64(rig.Percentile(b.latency, 99))))
	fmt.Fprintf(w, "worker CPU                  %.1f s ÷ %.1f s = %s\n", n.cpu.Seconds(), b.cpu.Seconds(), ratio(n.cpu.Seconds(), b.cpu.Seconds()))
	fmt.Fprintf(w, "worker peak RSS             %.1f MB ÷ %.1f MB = %s\n", float64(n.rss)/1e6, float64(b.rss)/1e6, ratio(float64(n.rss), float64(b.rss)))
}

func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	}
	if d < 10*time.Second {
		return fmt.Sprintf("%.0fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// ageDelay is an orchestration's age when it ended and its detection delay.
type ageDelay struct{ age, delay time.Duration }

// byAge splits the orchestrations into quarters by age and gives each
// quarter's age range and detection delay p99.
func byAge(ds []ageDelay) string {
	ds = slices.Clone(ds)
	slices.SortFunc(ds, func(a, b ageDelay) int { return cmp.Compare(a.age, b.age) })
	var parts []string
	for q := range 4 {
		part := ds[q*len(ds)/4 : (q+1)*len(ds)/4]
		if len(part) == 0 {
			continue
		}
		delays := make([]time.Duration, len(part))
		for i, d := range part {
			delays[i] = d.delay
		}
		parts = append(parts, fmt.Sprintf("%s–%s p99 %s", rig.Secs(part[0].age), rig.Secs(part[len(part)-1].age), ms(rig.Percentile(delays, 99))))
	}
	return strings.Join(parts, " · ")
}
