// Package load runs `txworker load`: performance scenarios against the
// platform simulator with the worker as its own process (internal/rig),
// and the reference consumer that `load -reference` puts in the worker's
// place.
package load

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/txworker/txworker/internal/rig"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// Options are the flags of `txworker load`: RegisterFlags adds them,
// Validate checks them, Run runs the scenarios.
type Options struct {
	scenarioList string // -scenario, resolved by Validate into scenarios
	scenarios    []string
	count        int
	rate         float64
	inFlight     int
	naive        bool
	hints        string // -hints: "" or "sequencer": the id poller, then hints mode, in one run
	compare      bool
	pollInterval time.Duration
	pollMax      time.Duration
	concurrency  int
	replicas     int
	settleMin    time.Duration
	settleMax    time.Duration
	scaleCount   int
	duration     time.Duration
	latency      time.Duration
	timeout      time.Duration
	keep         bool
	quiet        bool
	binary       string // worker executable; "" → this one
	reference    string // sync: a reference consumer in the worker's place (reference.go)
	profileDir   string // CPU profiles (and a trace) of each run go here
	profileSecs  int
	profileTrace time.Duration
	traces       float64 // -traces: sampling ratio of the exported traces; 0: tracing off
	out          io.Writer
}

const loadUsage = `usage: txworker load [flags]

Starts an embedded NATS, the platform simulator and the worker as a separate
process (its memory and CPU are its own), runs each scenario, and prints what
it measured. Exit status 1 if any command did not end or ended twice.

scenarios:
  trickle  -count commands (default 200) of every action, -in-flight at a time (default 10)
  burst    -count Corastone commands (default 20,000) published at once; orchestrations
           settle -settle-min..-settle-max (1s..20s) after acceptance
  sync     -count Journey Manager cancels (default 10,000) at -rate per second (1,000);
           the simulator answers after -platform-latency: what does the worker add?
           With -reference, a reference consumer takes the worker's place: the same
           hops written straight on nats.go, with the worker's claim writes (claims)
           or none (bare), to measure what the machine costs any such design
  scale    -scale-count Corastone commands (100,000) tracked at once; they settle between
           -duration/2 and -duration (10m) after acceptance

`

// RegisterFlags adds the flags of `txworker load` to fs, with their
// defaults, and sets fs.Usage.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.Usage = func() { fmt.Fprint(fs.Output(), loadUsage); fs.PrintDefaults() }
	fs.StringVar(&o.scenarioList, "scenario", "trickle,burst,sync", "comma-separated scenarios: trickle, burst, sync, scale, or all")
	fs.IntVar(&o.count, "count", 0, "commands per scenario (0: the scenario's default; scale uses -scale-count)")
	fs.Float64Var(&o.rate, "rate", 1000, "sync: commands published per second")
	fs.IntVar(&o.inFlight, "in-flight", 10, "trickle: commands in flight at once")
	fs.BoolVar(&o.naive, "naive", false, "run the worker the naive way (TXWORKER_POLL_NAIVE=true: one orchestration per poll, fixed interval)")
	fs.BoolVar(&o.compare, "compare", false, "run every scenario both ways and print the ratios")
	fs.StringVar(&o.hints, "hints", "", `"sequencer": run every scenario with the id poller and then with TXWORKER_TRACKING_HINTS=sequencer, and print the ratios`)
	fs.DurationVar(&o.pollInterval, "poll-interval", 2*time.Second, "worker TXWORKER_POLL_INTERVAL")
	fs.DurationVar(&o.pollMax, "poll-max-interval", 30*time.Second, "worker TXWORKER_POLL_MAX_INTERVAL (naive mode polls at -poll-interval)")
	fs.IntVar(&o.concurrency, "concurrency", 256, "worker TXWORKER_CONCURRENCY")
	fs.IntVar(&o.replicas, "replicas", 1, "worker processes")
	fs.DurationVar(&o.settleMin, "settle-min", time.Second, "burst: shortest orchestration")
	fs.DurationVar(&o.settleMax, "settle-max", 20*time.Second, "burst: longest orchestration")
	fs.IntVar(&o.scaleCount, "scale-count", 100_000, "scale: orchestrations tracked at once")
	fs.DurationVar(&o.duration, "duration", 10*time.Minute, "scale: orchestrations settle between duration/2 and duration")
	fs.DurationVar(&o.latency, "platform-latency", 20*time.Millisecond, "sync: latency of every simulator answer")
	fs.DurationVar(&o.timeout, "timeout", 0, "give up waiting for a scenario's commands after this (0: from the scenario)")
	fs.BoolVar(&o.keep, "keep", false, "keep each run's directory (worker logs, NATS store) and print where")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress lines")
	fs.StringVar(&o.reference, "reference", "", "sync only: run a reference consumer instead of the worker, with the worker's claim writes (claims) or none (bare)")
	fs.StringVar(&o.binary, "binary", "", "worker executable (default: this program)")
	fs.StringVar(&o.profileDir, "profile", "", "write CPU profiles of the worker (TXWORKER_PPROF) and of this process (NATS, simulator, driver) to this directory, over the first -profile-seconds of each run")
	fs.IntVar(&o.profileSecs, "profile-seconds", 10, "length of the -profile CPU profiles (1 to 25)")
	fs.DurationVar(&o.profileTrace, "profile-trace", 0, "with -profile: also an execution trace of the worker this long (at most 25s)")
	fs.Float64Var(&o.traces, "traces", 0, "export the workers' traces at this sampling ratio (e.g. 0.1) over OTLP/HTTP to an in-process receiver (OTEL_* set for the workers); 0: tracing off")
}

// Validate resolves -scenario into the scenarios to run and checks every
// flag; its error joins one error per problem. With -profile it creates
// the profile directory.
func (o *Options) Validate() error {
	o.scenarios = nil
	var p []error
	add := func(format string, a ...any) { p = append(p, fmt.Errorf(format, a...)) }
	for _, s := range strings.Split(o.scenarioList, ",") {
		switch s = strings.TrimSpace(s); s {
		case "trickle", "burst", "sync", "scale":
			o.scenarios = append(o.scenarios, s)
		case "all":
			o.scenarios = append(o.scenarios, "trickle", "burst", "sync", "scale")
		default:
			add("-scenario: %q is not trickle, burst, sync, scale or all", s)
		}
	}
	if o.count < 0 || o.scaleCount < 1 || o.inFlight < 1 || o.replicas < 1 || o.concurrency < 1 {
		add("-count must not be negative; -scale-count, -in-flight, -replicas and -concurrency must be positive")
	}
	if o.rate <= 0 {
		add("-rate must be positive")
	}
	if o.settleMin <= 0 || o.settleMax < o.settleMin {
		add("-settle-min must be positive and not above -settle-max")
	}
	if o.pollInterval <= 0 || o.pollMax < o.pollInterval {
		add("-poll-interval must be positive and not above -poll-max-interval")
	}
	if o.duration < 2*time.Second {
		add("-duration must be at least 2s")
	}
	if o.profileDir != "" {
		if o.profileSecs < 1 || o.profileSecs > 25 || o.profileTrace < 0 || o.profileTrace > 25*time.Second {
			add("-profile-seconds must be 1 to 25 and -profile-trace at most 25s (the ops server's write timeout is 30s)")
		} else if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			add("-profile: %v", err)
		}
	}
	if o.traces < 0 || o.traces > 1 {
		add("-traces must be a sampling ratio from 0 (off) to 1")
	}
	if o.naive && o.compare {
		add("-naive and -compare exclude each other")
	}
	switch o.hints {
	case "":
	case "sequencer":
		if o.naive || o.compare || o.reference != "" {
			add("-hints excludes -naive, -compare and -reference")
		}
	default:
		add(`-hints: %q is not "" or "sequencer"`, o.hints)
	}
	if o.reference != "" {
		if !slices.Contains(ReferenceModes(), o.reference) {
			add("-reference: %q is not %s", o.reference, strings.Join(ReferenceModes(), " or "))
		}
		if len(o.scenarios) != 1 || o.scenarios[0] != "sync" || o.naive || o.compare {
			add("-reference runs the sync scenario alone, without -naive or -compare")
		}
	}
	return errors.Join(p...)
}

// Run runs every scenario in every mode asked for, printing to out; it
// fails if any command did not end exactly once.
func Run(ctx context.Context, o Options, out io.Writer) error {
	o.out = out
	return runLoad(ctx, o)
}

// runLoad runs every scenario in every mode asked for, prints the results
// and, with -compare, the ratios; it fails if any command did not end
// exactly once.
func runLoad(ctx context.Context, o Options) error {
	modes := []string{modeName(o.naive)}
	switch {
	case o.compare:
		modes = []string{modeBatched, modeNaive}
	case o.hints != "":
		modes = []string{modeBatched, modeHints}
	}
	rig.PrintMachine(o.out)
	var bad []string
	for _, s := range o.scenarios {
		var results []*loadResult
		for _, mode := range modes {
			res, err := runScenario(ctx, o, s, mode)
			if err != nil {
				return fmt.Errorf("%s (%s): %w", s, mode, err)
			}
			res.print(o.out)
			if msg := res.problem(); msg != "" {
				bad = append(bad, fmt.Sprintf("%s (%s): %s", s, mode, msg))
			}
			results = append(results, res)
		}
		if len(results) == 2 {
			printRatios(o.out, results[0], results[1])
		}
	}
	if len(bad) > 0 {
		return errors.New("load: " + strings.Join(bad, "; "))
	}
	fmt.Fprintln(o.out, "\nload: every command ended exactly once")
	return nil
}

// Modes of a run: the batched id poller, the naive baseline, and hints
// (the id poller as the backstop of the Sequencer tailer).
const (
	modeBatched = "batched"
	modeNaive   = "naive"
	modeHints   = "hints"
)

func modeName(naive bool) string {
	if naive {
		return modeNaive
	}
	return modeBatched
}
