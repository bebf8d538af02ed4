// Package chaos runs `txworker chaos`, the reliability soak: worker
// replicas killed, NATS restarted and platform faults cycled while
// commands flow, then a check of SPEC §8's promise (every command ends
// exactly once, no action taken twice).
package chaos

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Options are the flags of `txworker chaos`: RegisterFlags adds them,
// Validate checks them, Run runs the soak.
type Options struct {
	count        int           // commands (unique commandIds)
	rate         float64       // commands published per second
	replicas     int           // worker processes
	killEvery    time.Duration // mean time between SIGKILLs of a random replica
	restartAfter time.Duration // how long a killed replica stays down
	minKills     int           // chaos goes on (after intake) until this many kills…
	natsEvery    time.Duration // mean time between NATS restarts
	natsDown     time.Duration // how long NATS stays down
	minRestarts  int           // …and this many NATS restarts
	natsCluster  int           // NATS nodes; 0: one server
	natsRolling  bool          // cluster: a rolling restart of every node
	natsLose     bool          // cluster: one node lost for good
	faults       bool          // cycle the simulator's faults
	faultEvery   time.Duration // how long one fault phase lasts
	seed         int64
	timeout      time.Duration
	keep         bool
	quiet        bool
	binary       string // worker executable; "" → this one
	hints        string // -hints: TXWORKER_TRACKING_HINTS of the replicas ("" or "sequencer")
	out          io.Writer
}

const chaosUsage = `usage: txworker chaos [flags]

The reliability soak (issue 6, RELIABILITY.md). Starts an embedded NATS, the
platform simulator (a platform that does NOT de-duplicate processIds, so a
second send of one action would count twice) and -replicas worker processes;
publishes -count commands of every action at -rate per second (fresh
resources, some the platform refuses, some invalid, some published twice on
purpose) and meanwhile SIGKILLs a random replica every -kill-every and
restarts it, stops and restarts NATS every -nats-every, and cycles the
simulator's faults (5xx, 429 with Retry-After, dropped connections before
and after the action took effect, latency spikes, malformed bodies, revoked
tokens). With -nats-cluster 3 NATS is a three-node JetStream cluster with
every stream and the state bucket replicated three times, the replicas
started at the same moment against it (they provision it) with every node's
URL; instead of NATS restarts, the node that leads the commands stream, the
tracking stream or the state bucket is stopped for -nats-down and restarted
(every -nats-every, in turn), all nodes are restarted one at a time (a
rolling upgrade, -nats-rolling) and one node is lost for good, its store
deleted (-nats-lose). Then it checks and prints: commands sent, terminal events (each
command exactly once, with the outcome its kind calls for), platform actions
accepted per processId (never above one), duplicates dropped, the node
restarts and what the nodes led, the longest wait and what it waited on,
and the tracking takeover gap (after a kill, how long until the dead
replica's orchestrations are polled again). Exit status 1 on any violation.

`

// RegisterFlags adds the flags of `txworker chaos` to fs, with their
// defaults, and sets fs.Usage.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.Usage = func() { fmt.Fprint(fs.Output(), chaosUsage); fs.PrintDefaults() }
	fs.IntVar(&o.count, "count", 5000, "commands to publish (every action)")
	fs.Float64Var(&o.rate, "rate", 25, "commands published per second")
	fs.IntVar(&o.replicas, "replicas", 3, "worker processes")
	fs.DurationVar(&o.killEvery, "kill-every", 4*time.Second, "mean time between SIGKILLs of a random replica (0: none)")
	fs.DurationVar(&o.restartAfter, "restart-after", time.Second, "how long a killed replica stays down")
	fs.IntVar(&o.minKills, "kills", 20, "keep the chaos going after intake until at least this many kills")
	fs.DurationVar(&o.natsEvery, "nats-every", time.Minute, "mean time between NATS restarts (0: none)")
	fs.DurationVar(&o.natsDown, "nats-down", 3*time.Second, "how long NATS stays down")
	fs.IntVar(&o.minRestarts, "nats-restarts", 2, "keep the chaos going after intake until at least this many NATS restarts")
	fs.IntVar(&o.natsCluster, "nats-cluster", 0, "run NATS as a JetStream cluster of this many nodes (3 to 5; 0: one server); -nats-every, -nats-down and -nats-restarts then apply to its nodes")
	fs.BoolVar(&o.natsRolling, "nats-rolling", true, "with -nats-cluster: restart every node once, one at a time, mid-run (counts towards -nats-restarts)")
	fs.BoolVar(&o.natsLose, "nats-lose", true, "with -nats-cluster: lose one node for good (its store deleted) after the restarts")
	fs.BoolVar(&o.faults, "faults", true, "cycle the simulator's faults")
	fs.DurationVar(&o.faultEvery, "fault-every", 10*time.Second, "how long each fault phase lasts")
	fs.Int64Var(&o.seed, "seed", 0, "random seed (0: time-based); printed, so a run can be repeated")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up after this long")
	fs.BoolVar(&o.keep, "keep", false, "keep the run's directory (worker logs, NATS store) and print where")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress lines")
	fs.StringVar(&o.binary, "binary", "", "worker executable (default: this program)")
	fs.StringVar(&o.hints, "hints", "", `replicas' TXWORKER_TRACKING_HINTS: "" or "sequencer" (the simulator then also drops, delays, duplicates and reorders a share of its Sequencer entries)`)
}

// Run runs the soak, printing progress and the report to out (a time-based
// seed when Seed is 0); it fails on any violation.
func Run(ctx context.Context, o Options, out io.Writer) error {
	// Progress lines come from several goroutines.
	o.out = &lockedWriter{w: out}
	if o.seed == 0 {
		o.seed = time.Now().UnixNano()
	}
	rep, err := runChaos(ctx, o)
	if rep != nil {
		rep.print(o.out)
	}
	if err != nil {
		return err
	}
	if len(rep.violations) > 0 {
		return fmt.Errorf("chaos: %d violations: %s", len(rep.violations), strings.Join(rep.violations, "; "))
	}
	return nil
}

// Validate checks the flags; its error joins one error per problem.
func (o Options) Validate() error {
	var p []error
	add := func(msg string) { p = append(p, errors.New(msg)) }
	if o.hints != "" && o.hints != "sequencer" {
		add(`-hints must be "" or "sequencer"`)
	}
	if o.count < 1 || o.replicas < 1 || o.rate <= 0 {
		add("-count, -replicas and -rate must be positive")
	}
	if o.killEvery < 0 || o.natsEvery < 0 || o.restartAfter < 0 || o.natsDown < 0 || o.faultEvery <= 0 {
		add("durations must not be negative (-fault-every positive)")
	}
	if o.minKills < 0 || o.minRestarts < 0 {
		add("-kills and -nats-restarts must not be negative")
	}
	if o.minKills > 0 && o.killEvery == 0 {
		add("-kills needs -kill-every")
	}
	if o.minRestarts > 0 && o.natsEvery == 0 {
		add("-nats-restarts needs -nats-every")
	}
	if o.natsCluster != 0 && (o.natsCluster < 3 || o.natsCluster > 5) {
		add("-nats-cluster must be 0 (one server) or 3 to 5 nodes")
	}
	if o.natsCluster != 0 && o.natsEvery == 0 {
		add("-nats-cluster needs -nats-every (the time between node restarts)")
	}
	if o.timeout <= 0 {
		add("-timeout must be positive")
	}
	return errors.Join(p...)
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
