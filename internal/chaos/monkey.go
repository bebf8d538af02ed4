package chaos

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/txworker/txworker/internal/backoff"
	"github.com/txworker/txworker/internal/rig"
	"github.com/txworker/txworker/platform/platformtest"
)

// chaosPhases are the simulator's fault settings the run cycles through.
// Rates are shares of requests; each phase is one kind of trouble, the
// last a mix.
var chaosPhases = []struct {
	name   string
	faults platformtest.Faults
}{
	{"calm", platformtest.Faults{}},
	{"5xx", platformtest.Faults{ErrorRate: 0.15}},
	{"429 Retry-After", platformtest.Faults{RateLimitRate: 0.15, RetryAfter: time.Second}},
	{"dropped connections", platformtest.Faults{DropRate: 0.1, DropAfterAcceptRate: 0.1}},
	{"latency spikes", platformtest.Faults{Latency: 300 * time.Millisecond, LatencyJitter: 2 * time.Second}},
	{"malformed bodies", platformtest.Faults{MalformedRate: 0.1}},
	{"revoked tokens", platformtest.Faults{RevokeRate: 0.1}},
	{"everything", platformtest.Faults{ErrorRate: 0.05, RateLimitRate: 0.05, RetryAfter: time.Second, DropRate: 0.03,
		DropAfterAcceptRate: 0.05, MalformedRate: 0.03, RevokeRate: 0.03, LatencyJitter: 500 * time.Millisecond}},
}

// monkey does the damage: SIGKILLs and restarts replicas, stops and
// restarts NATS, and switches the simulator's faults. It keeps the worker
// metrics each killed process reported just before it died.
type monkey struct {
	r    *rig.Rig
	reps []*rig.Replica
	o    Options
	out  io.Writer

	mu         sync.Mutex
	rng        *rand.Rand
	restarting map[*rig.Replica]bool
	kills      int
	restarts   int
	phases     int
	natsDownAt time.Time          // zero while NATS runs
	dead       map[string]float64 // metric series → sum over processes that are gone
	notes      []string
	wg         sync.WaitGroup
	killLog    []kill
	disrupted  []disruption
	// A cluster's plan (cluster.go).
	planDone bool
	nodeLog  []nodeRestart
	lost     []int
}

// disrupt records a stretch of trouble; m.mu is held.
func (m *monkey) disrupt(what string, from, to time.Time) {
	m.disrupted = append(m.disrupted, disruption{what: what, from: from, to: to})
}

func newMonkey(r *rig.Rig, reps []*rig.Replica, o Options) *monkey {
	return &monkey{r: r, reps: reps, o: o, out: o.out, rng: rand.New(rand.NewPCG(uint64(o.seed), 6)),
		restarting: map[*rig.Replica]bool{}, dead: map[string]float64{}}
}

// jitter is d ± 50 %.
func (m *monkey) jitter(d time.Duration) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return d/2 + time.Duration(m.rng.Int64N(int64(d)+1))
}

func (m *monkey) logf(format string, a ...any) {
	if !m.o.quiet {
		fmt.Fprintf(m.out, "  ! "+format+"\n", a...)
	}
}

// killLoop SIGKILLs a random running replica every kill-every (±50 %)
// and starts it again restart-after later, until ctx ends.
func (m *monkey) killLoop(ctx context.Context) {
	if m.o.killEvery == 0 {
		return
	}
	for backoff.Sleep(ctx, m.jitter(m.o.killEvery)) {
		m.mu.Lock()
		var up []*rig.Replica
		for _, p := range m.reps {
			if p.Running() && !m.restarting[p] {
				up = append(up, p)
			}
		}
		if len(up) == 0 {
			m.mu.Unlock()
			continue
		}
		p := up[m.rng.IntN(len(up))]
		m.restarting[p] = true
		m.mu.Unlock()
		m.bank(p)
		if err := p.Kill(); err != nil {
			m.note("kill %s: %v", p.Name, err)
		}
		killed := time.Now()
		m.mu.Lock()
		m.kills++
		n := m.kills
		m.killLog = append(m.killLog, kill{name: p.Name, at: killed})
		m.mu.Unlock()
		m.logf("kill -9 %s (pid %d), kill #%d", p.Name, p.PID(), n)
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			backoff.Sleep(ctx, m.o.restartAfter)
			m.bringBack(context.WithoutCancel(ctx), p)
			m.mu.Lock()
			m.disrupt("kill -9 "+p.Name, killed, time.Now())
			m.mu.Unlock()
		}()
	}
}

// bringBack starts p until it is ready (NATS may be down meanwhile).
func (m *monkey) bringBack(ctx context.Context, p *rig.Replica) {
	defer func() {
		m.mu.Lock()
		delete(m.restarting, p)
		m.mu.Unlock()
	}()
	for attempt := 1; ; attempt++ {
		if p.Running() {
			return
		}
		err := p.Start(ctx)
		if err == nil {
			return
		}
		m.note("restart %s (attempt %d): %v", p.Name, attempt, err)
		if attempt == 5 || ctx.Err() != nil {
			return
		}
	}
}

// natsLoop stops NATS every nats-every (±50 %) for nats-down, until ctx
// ends.
func (m *monkey) natsLoop(ctx context.Context) {
	if m.o.natsEvery == 0 {
		return
	}
	for backoff.Sleep(ctx, m.jitter(m.o.natsEvery)) {
		m.r.NATS.Stop()
		m.mu.Lock()
		m.restarts++
		n := m.restarts
		m.natsDownAt = time.Now()
		m.mu.Unlock()
		m.logf("NATS stopped (restart #%d)", n)
		backoff.Sleep(ctx, m.o.natsDown)
		m.startNATS()
	}
}

// startNATS starts NATS if it is stopped, retrying for a minute.
func (m *monkey) startNATS() {
	for attempt := 1; ; attempt++ {
		err := m.r.NATS.Start()
		if err == nil {
			break
		}
		m.note("NATS start (attempt %d): %v", attempt, err)
		if attempt == 6 {
			return
		}
	}
	m.mu.Lock()
	down := time.Since(m.natsDownAt)
	m.disrupt("NATS down", m.natsDownAt, time.Now())
	m.natsDownAt = time.Time{}
	m.mu.Unlock()
	m.logf("NATS back after %s", down.Round(100*time.Millisecond))
}

// faultLoop cycles the fault phases every fault-every until ctx ends,
// then turns the faults off.
func (m *monkey) faultLoop(ctx context.Context) {
	defer m.r.Sim.SetFaults(platformtest.Faults{})
	if !m.o.faults {
		return
	}
	for i := 0; ; i++ {
		ph := chaosPhases[i%len(chaosPhases)]
		m.r.Sim.SetFaults(ph.faults)
		from := time.Now()
		m.mu.Lock()
		m.phases++
		m.mu.Unlock()
		m.logf("faults: %s", ph.name)
		ok := backoff.Sleep(ctx, m.o.faultEvery)
		if ph.name != "calm" {
			m.mu.Lock()
			m.disrupt("faults: "+ph.name, from, time.Now())
			m.mu.Unlock()
		}
		if !ok {
			return
		}
	}
}

// settle ends the damage: faults off, NATS up, every replica running.
func (m *monkey) settle(ctx context.Context) {
	m.r.Sim.SetFaults(platformtest.Faults{})
	if m.r.Cluster != nil {
		m.settleCluster()
	} else if !m.r.NATS.Running() {
		m.startNATS()
	}
	m.wg.Wait()
	for _, p := range m.reps {
		if !p.Running() {
			m.bringBack(ctx, p)
		}
	}
}

// bank adds what p's process reported on /metrics (its counters die with
// it) to the totals of processes that are gone.
func (m *monkey) bank(p *rig.Replica) {
	series, err := scrapeCounters(p.Addr())
	if err != nil {
		m.note("metrics of %s before its end: %v", p.Name, err)
		return
	}
	m.mu.Lock()
	for k, v := range series {
		m.dead[k] += v
	}
	m.mu.Unlock()
}

// total returns a counter series summed over every process that ran:
// the dead ones (banked) and, if live, the ones running now.
func (m *monkey) total(series string, live map[string]float64) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dead[series] + live[series]
}

func (m *monkey) note(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	m.mu.Lock()
	m.notes = append(m.notes, msg)
	m.mu.Unlock()
	m.logf("%s", msg)
}

// planned reports whether the cluster's plan has run (always true with one
// server).
func (m *monkey) planned() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.r.Cluster == nil || m.planDone
}

func (m *monkey) counts() (kills, restarts, phases int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.kills, m.restarts, m.phases
}

// chaosCounters are the worker's counters the chaos report sums.
var chaosCounters = []string{
	`txworker_duplicates_dropped_total{kind="command"}`,
	`txworker_duplicates_dropped_total{kind="event"}`,
}

// scrapeCounters reads the chaosCounters from a replica's /metrics.
func scrapeCounters(addr string) (map[string]float64, error) {
	if addr == "" {
		return nil, fmt.Errorf("no address")
	}
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		for _, s := range chaosCounters {
			if v, ok := strings.CutPrefix(line, s+" "); ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err == nil {
					out[s] = f
				}
			}
		}
	}
	return out, nil
}
