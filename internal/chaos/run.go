package chaos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/txworker/txworker/internal/backoff"
	"github.com/txworker/txworker/internal/rig"
	"github.com/txworker/txworker/platform/platformtest"
)

// chaosEnv is the replicas' configuration on top of the rig's: short ack
// waits and polls so that a killed replica's work moves on quickly, and a
// request timeout the latency spikes sometimes exceed.
var chaosEnv = map[string]string{
	"TXWORKER_CONCURRENCY":       "32",
	"TXWORKER_ACK_WAIT":          "10s",
	"TXWORKER_REQUEST_TIMEOUT":   "3s",
	"TXWORKER_POLL_INTERVAL":     "500ms",
	"TXWORKER_POLL_MAX_INTERVAL": "3s",
	"TXWORKER_SHUTDOWN_TIMEOUT":  "10s",
	"TXWORKER_LOG_LEVEL":         "info",
}

// runChaos runs one soak on a fresh rig and returns its report; an error
// means the run could not be carried out (the report, if any, says how far
// it got).
func runChaos(ctx context.Context, o Options) (*chaosReport, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	rig.PrintMachine(o.out)
	natsShape := "one NATS server"
	if o.natsCluster > 0 {
		natsShape = fmt.Sprintf("a %d-node NATS cluster (streams R%d; rolling restart %t, a node lost %t)",
			o.natsCluster, min(o.natsCluster, 5), o.natsRolling, o.natsLose)
	}
	fmt.Fprintf(o.out, "chaos: %d commands at %.0f/s, %d replicas, %s, kill every ~%s, NATS restart every ~%s, faults %t, seed %d\n",
		o.count, o.rate, o.replicas, natsShape, o.killEvery, o.natsEvery, o.faults, o.seed)
	sim := platformtest.Config{
		AutoCreate: true, NoDedupe: true, LogSize: -1, Seed: o.seed,
		StepDuration: [2]time.Duration{200 * time.Millisecond, time.Second},
	}
	env := maps.Clone(chaosEnv)
	if o.hints != "" {
		env["TXWORKER_TRACKING_HINTS"] = o.hints
		sim.SequencerDrop, sim.SequencerDelay, sim.SequencerDuplicate, sim.SequencerReorder = 0.1, 0.1, 0.1, 0.1
	}
	polls := newPollLog()
	// On a cluster the replicas provision it themselves, started at the
	// same moment, as a first rollout does.
	r, err := rig.Start(ctx, rig.Config{Binary: o.binary, KeepDir: o.keep, Sim: sim, Env: env,
		SimPerReplica: true, SimMiddleware: polls.middleware, NATSNodes: o.natsCluster, Fresh: o.natsCluster > 0})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	polls.setRig(r)
	if o.keep {
		fmt.Fprintf(o.out, "chaos: run directory %s\n", r.Dir)
	}
	reps, col, err := r.StartWorkers(ctx, o.replicas)
	if err != nil {
		return nil, err
	}
	defer col.Stop()

	f := newFeeder(r, col, fmt.Sprintf("C%X", o.seed%(1<<32)))
	m := newMonkey(r, reps, o)
	start := time.Now()
	chaosCtx, stopChaos := context.WithCancel(ctx)
	defer stopChaos()
	var wg sync.WaitGroup
	natsLoop := m.natsLoop
	if r.Cluster != nil {
		natsLoop = m.clusterLoop
	}
	for _, loop := range []func(context.Context){m.killLoop, natsLoop, m.faultLoop} {
		wg.Add(1)
		go func() { defer wg.Done(); loop(chaosCtx) }()
	}
	feedDone := make(chan error, 1)
	go func() { feedDone <- f.run(ctx, o.count, o.rate) }()

	// The damage goes on while commands are published, and after that
	// until the minimum numbers of kills and NATS restarts are reached.
	var feedErr error
	fed := false
	tick := time.NewTicker(250 * time.Millisecond)
	lastProgress := time.Now()
wait:
	for {
		select {
		case feedErr = <-feedDone:
			fed = true
		case <-tick.C:
		case <-ctx.Done():
			break wait
		}
		kills, restarts, _ := m.counts()
		if fed && kills >= o.minKills && restarts >= o.minRestarts && m.planned() {
			break
		}
		if !o.quiet && time.Since(lastProgress) >= 10*time.Second {
			lastProgress = time.Now()
			chaosProgress(o, f, col, m, start)
		}
	}
	tick.Stop()
	stopChaos()
	wg.Wait()
	intake := time.Since(start)
	m.settle(ctx)
	if !o.quiet {
		fmt.Fprintf(o.out, "  … chaos over after %s; waiting for every command to end\n", intake.Round(time.Second))
	}

	var runErrs []string
	if feedErr != nil {
		runErrs = append(runErrs, "publishing: "+feedErr.Error())
	}
	ended := make(chan error, 1)
	go func() { ended <- col.WaitEnded(ctx, f.sent()) }()
	for done := false; !done; {
		select {
		case err := <-ended:
			if err != nil {
				runErrs = append(runErrs, "waiting for terminal events: "+err.Error())
			}
			done = true
		case <-time.After(10 * time.Second):
			if !o.quiet {
				chaosProgress(o, f, col, m, start)
			}
		}
	}
	if err := waitBusIdle(ctx, r); err != nil {
		runErrs = append(runErrs, err.Error())
	}
	live := map[string]float64{}
	for _, p := range reps {
		series, err := scrapeCounters(p.Addr())
		if err != nil {
			runErrs = append(runErrs, fmt.Sprintf("final metrics of %s: %v", p.Name, err))
			continue
		}
		for k, v := range series {
			live[k] += v
		}
	}
	rep := buildChaosReport(o, r, f, col, m, live, start, intake)
	rep.addCluster(r, col, m, polls)
	rep.violations = append(runErrs, rep.violations...)
	for _, p := range reps {
		tctx, tcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		if err := p.Term(tctx); err != nil {
			rep.notes = append(rep.notes, fmt.Sprintf("%s graceful shutdown: %v", p.Name, err))
		}
		tcancel()
	}
	if o.keep {
		rep.dir = r.Dir
	}
	return rep, nil
}

func chaosProgress(o Options, f *feeder, col *rig.Collector, m *monkey, start time.Time) {
	acc, ended, _ := col.Counts()
	kills, restarts, _ := m.counts()
	fmt.Fprintf(o.out, "  … %5.0fs  published %d/%d  accepted %d  ended %d  kills %d  NATS (node) restarts %d\n",
		time.Since(start).Seconds(), f.sent(), o.count, acc, ended, kills, restarts)
}

// waitBusIdle waits until neither the command nor the tracking consumer has
// anything pending or unacknowledged: no handler runs and none will, so no
// event can come after the count.
func waitBusIdle(ctx context.Context, r *rig.Rig) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		busy := ""
		for _, c := range []struct{ stream, name string }{{r.Commands, "worker"}, {r.Tracking, "poller"}} {
			cons, err := r.JS.Consumer(ctx, c.stream, c.name)
			if err != nil {
				busy = fmt.Sprintf("%s/%s: %v", c.stream, c.name, err)
				break
			}
			info := cons.CachedInfo()
			if info.NumPending+uint64(info.NumAckPending) > 0 {
				busy = fmt.Sprintf("%s/%s: %d pending, %d unacknowledged", c.stream, c.name, info.NumPending, info.NumAckPending)
				break
			}
		}
		if busy == "" {
			return nil
		}
		if !backoff.Sleep(ctx, 250*time.Millisecond) {
			return errors.New("the bus did not become idle: " + busy)
		}
	}
}
