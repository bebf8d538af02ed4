package load

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/internal/rig"
	"github.com/txworker/txworker/platform/platformtest"
)

// scenario is one load scenario, ready to run: how the simulator behaves,
// which commands, and how they are published.
type scenario struct {
	name    string
	count   int
	actions []string
	sim     platformtest.Config
	timer   *platformTimer // sync: the platform's own time per command
	timeout time.Duration
	hold    bool      // scale: measure the tracking-only phase
	start   time.Time // scale: orchestrations end between start+duration/2 and start+duration
}

// newScenario applies the scenario's defaults and the flags.
func newScenario(o Options, name string) scenario {
	s := scenario{name: name, sim: platformtest.Config{AutoCreate: true, LogSize: -1}}
	oneStep := func(lo, hi time.Duration) {
		s.sim.StepDuration = [2]time.Duration{lo, hi}
		s.sim.Steps = [2]int{1, 1}
		s.sim.Queued = [2]time.Duration{0, -1} // never queued: it settles lo..hi after acceptance
	}
	switch name {
	case "trickle":
		s.count, s.actions = 200, rig.AllActions()
		s.timeout = 5 * time.Minute
	case "burst":
		s.count, s.actions = 20_000, rig.CorastoneActions()
		oneStep(o.settleMin, o.settleMax)
	case "sync":
		s.count, s.actions = 10_000, []string{"cancel-txn"}
		s.sim.Faults = platformtest.Faults{Latency: o.latency, Only: "jm"}
		s.timer = newPlatformTimer()
	case "scale":
		// Every orchestration ends at a uniformly random moment between
		// duration/2 and duration after the scenario starts, however long
		// intake takes: all of them are tracked at once until duration/2.
		s.count, s.actions = o.scaleCount, rig.CorastoneActions()
		s.start = time.Now()
		rng := rand.New(rand.NewPCG(uint64(s.count), 7)) // Plan runs under the simulator's lock
		s.sim.Plan = func(_, _, _ string) *platformtest.Plan {
			end := s.start.Add(o.duration/2 + time.Duration(rng.Int64N(int64(o.duration/2))))
			return &platformtest.Plan{Steps: []time.Duration{max(time.Until(end), time.Millisecond)}}
		}
		s.hold = true
	}
	if o.count > 0 && name != "scale" {
		s.count = o.count
	}
	if s.timeout == 0 {
		// Generous: a slow worker shows in the figures, not as a time-out.
		s.timeout = 3*time.Minute + time.Duration(s.count)*time.Second/300
		switch name {
		case "burst":
			s.timeout += 2 * o.settleMax
		case "sync":
			s.timeout += time.Duration(float64(s.count) / o.rate * float64(time.Second))
		case "scale":
			s.timeout += o.duration
		}
	}
	if o.timeout > 0 {
		s.timeout = o.timeout
	}
	return s
}

// runScenario runs one scenario in one mode on a fresh rig (NATS, simulator
// and worker processes) and measures it.
func runScenario(ctx context.Context, o Options, name string, mode string) (*loadResult, error) {
	s := newScenario(o, name)
	env := map[string]string{
		"TXWORKER_CONCURRENCY":       strconv.Itoa(o.concurrency),
		"TXWORKER_POLL_INTERVAL":     o.pollInterval.String(),
		"TXWORKER_POLL_MAX_INTERVAL": o.pollMax.String(),
		"TXWORKER_POLL_NAIVE":        strconv.FormatBool(mode == modeNaive),
	}
	if mode == modeHints {
		env["TXWORKER_TRACKING_HINTS"] = "sequencer"
	}
	if o.profileDir != "" {
		env["TXWORKER_PPROF"] = "true"
	}
	var spans *spanReceiver
	if o.traces > 0 {
		var err error
		if spans, err = startSpanReceiver(); err != nil {
			return nil, err
		}
		defer spans.close()
		maps.Copy(env, spans.env(o.traces))
	}
	rc := rig.Config{Binary: o.binary, KeepDir: o.keep, Sim: s.sim, Env: env}
	if o.reference != "" {
		mode = "reference-" + o.reference
		rc.Command = []string{"load-reference", o.reference}
	}
	if s.timer != nil {
		rc.SimMiddleware = s.timer.wrap
	}
	r, err := rig.Start(ctx, rc)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	res := &loadResult{scenario: name, mode: mode, opts: o, count: s.count}
	if o.keep {
		res.dir = r.Dir
	}
	reps, col, err := r.StartWorkers(ctx, o.replicas)
	if err != nil {
		return nil, err
	}
	defer col.Stop()

	runCtx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	before, err := takeUsage(reps)
	if err != nil {
		return nil, err
	}
	res.loadAvg[0] = loadAverage()
	wakeBefore := readWakeups(ctx, reps, nil)
	machineBefore, okBefore := readMachineTimes()
	res.start = time.Now()
	stopProgress := progress(o, r, col, &s, mode, res.start)
	var prof *profiler
	if o.profileDir != "" {
		prof = &profiler{dir: o.profileDir, prefix: name + "-" + mode, seconds: o.profileSecs,
			trace: o.profileTrace, addr: reps[0].Addr()}
		prof.start(ctx)
	}
	d := &driver{r: r, col: col, gen: rig.NewCommandGen(runID()), s: &s}
	var hold *holdFigures
	switch name {
	case "trickle":
		err = d.trickle(runCtx, o.inFlight)
	case "sync":
		err = d.paced(runCtx, o.rate)
	default:
		err = d.burst(runCtx)
		if err == nil && !s.hold {
			res.intake, err = measureIntake(runCtx, col, reps, s.count, before, res.start)
		}
		if err == nil && s.hold {
			hold, err = measureHold(runCtx, r, col, reps, s.count, s.start.Add(o.duration/2))
		}
	}
	if err == nil {
		err = col.WaitEnded(runCtx, s.count)
	}
	stopProgress()
	res.end = time.Now()
	res.loadAvg[1] = loadAverage()
	machineAfter, okAfter := readMachineTimes()
	res.machine = machineShare(machineBefore, machineAfter, okBefore, okAfter)
	wakeAfter := readWakeups(ctx, reps, wakeBefore.workers.bounds)
	res.wakeups = describeWakeups(wakeBefore, wakeAfter)
	res.queues = describeQueues(wakeAfter.workersQ.sub(wakeBefore.workersQ), wakeAfter.selfQ.sub(wakeBefore.selfQ), s.count)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	after, uerr := sumUsage(reps)
	if uerr != nil {
		return nil, uerr
	}
	res.cpu, res.rss, res.hold = after.CPU-before.workers.CPU, after.PeakRSS, hold
	res.measure(r, col, d)
	if prof != nil {
		files, problems := prof.wait()
		for _, f := range files {
			res.notes = append(res.notes, "profile "+f)
		}
		res.notes = append(res.notes, problems...)
	}
	for _, p := range reps {
		tctx, tcancel := context.WithTimeout(ctx, 30*time.Second)
		if err := p.Term(tctx); err != nil {
			res.notes = append(res.notes, fmt.Sprintf("%s shutdown: %v", p.Name, err))
		}
		tcancel()
	}
	if spans != nil { // after Term: the workers have exported their last spans
		res.notes = append(res.notes, spans.describe(o.traces))
	}
	return res, nil
}

// runID is a short run id of upper-case letters and digits (command and
// resource ids embed it).
func runID() string {
	return fmt.Sprintf("R%X", time.Now().UnixNano()%(1<<40))
}

// sumUsage adds the replicas' CPU time; PeakRSS is the largest peak.
func sumUsage(reps []*rig.Replica) (rig.ProcStats, error) {
	var t rig.ProcStats
	for _, p := range reps {
		u, err := p.Usage()
		if err != nil {
			return t, err
		}
		t.CPU += u.CPU
		t.PeakRSS = max(t.PeakRSS, u.PeakRSS)
	}
	return t, nil
}

// driver publishes a scenario's commands and remembers what it published.
type driver struct {
	r   *rig.Rig
	col *rig.Collector
	gen *rig.CommandGen
	s   *scenario

	mu        sync.Mutex
	ids       []string
	resources map[string]string // sync: commandId → submitKey
	published time.Time         // when the last command was acknowledged by the stream
}

func (d *driver) next(i int) rig.Command {
	c := d.gen.Mixed(i, d.s.actions)
	d.mu.Lock()
	d.ids = append(d.ids, c.ID)
	if d.s.timer != nil {
		if d.resources == nil {
			d.resources = map[string]string{}
		}
		d.resources[c.ID] = c.Resource
	}
	d.mu.Unlock()
	d.col.Expect(c.ID, c.Action, time.Now())
	return c
}

// trickle keeps inFlight commands in flight: the next one is published
// when one has ended.
func (d *driver) trickle(ctx context.Context, inFlight int) error {
	for i := range d.s.count {
		if i >= inFlight {
			if err := d.col.WaitEnded(ctx, i-inFlight+1); err != nil {
				return err
			}
		}
		if err := d.r.Publish(ctx, d.next(i)); err != nil {
			return err
		}
	}
	d.published = time.Now()
	return nil
}

// burst publishes every command as fast as the stream takes them.
func (d *driver) burst(ctx context.Context) error {
	const chunk = 2048
	for i := 0; i < d.s.count; i += chunk {
		if err := d.publishAsync(ctx, i, min(i+chunk, d.s.count)); err != nil {
			return err
		}
	}
	d.published = time.Now()
	return nil
}

// paced publishes rate commands per second.
func (d *driver) paced(ctx context.Context, rate float64) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for i := 0; i < d.s.count; {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		due := min(int(time.Since(start).Seconds()*rate)+1, d.s.count)
		if due > i {
			if err := d.publishAsync(ctx, i, due); err != nil {
				return err
			}
			i = due
		}
	}
	d.published = time.Now()
	return nil
}

// publishAsync publishes commands [from, to) without waiting for each
// acknowledgement, then waits for all; a failed one is published again
// synchronously (its Nats-Msg-Id makes that safe).
func (d *driver) publishAsync(ctx context.Context, from, to int) error {
	type pending struct {
		c rig.Command
		f jetstream.PubAckFuture
	}
	ps := make([]pending, 0, to-from)
	for i := from; i < to; i++ {
		c := d.next(i)
		f, err := d.r.JS.PublishMsgAsync(d.r.CommandMsg(c), jetstream.WithStallWait(30*time.Second))
		if err != nil {
			return fmt.Errorf("publish %s: %w", c.ID, err)
		}
		ps = append(ps, pending{c, f})
	}
	select {
	case <-d.r.JS.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	for _, p := range ps {
		select {
		case <-p.f.Ok():
		case <-p.f.Err():
			if err := d.r.Publish(ctx, p.c); err != nil {
				return err
			}
		}
	}
	return nil
}

// progress prints a line every few seconds until the returned stop is
// called.
func progress(o Options, r *rig.Rig, col *rig.Collector, s *scenario, mode string, start time.Time) (stop func()) {
	if o.quiet {
		return func() {}
	}
	every := 2 * time.Second
	if s.timeout > 5*time.Minute {
		every = 10 * time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			acc, ended, _ := col.Counts()
			fmt.Fprintf(o.out, "  … %s/%s %5.0fs  ended %d/%d  accepted %d  Transactions API requests %d\n",
				s.name, mode, time.Since(start).Seconds(), ended, s.count, acc, r.Sim.Count("GET", transactionsPrefix))
		}
	}()
	return func() { close(done); wg.Wait() }
}

// Burst publishes n commands of a mix of actions (nil: the four Corastone
// actions) as fast as the stream takes them, each announced to col, and
// returns once the stream has acknowledged them all (not when they end).
func Burst(ctx context.Context, r *rig.Rig, col *rig.Collector, actions []string, n int) error {
	s := scenario{name: "burst", count: n, actions: actions}
	d := &driver{r: r, col: col, gen: rig.NewCommandGen(runID()), s: &s}
	return d.burst(ctx)
}
