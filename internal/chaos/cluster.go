package chaos

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/txworker/txworker/internal/backoff"
)

// The damage a JetStream cluster suffers in a chaos run (-nats-cluster):
// the node that leads one of the worker's streams stopped and restarted
// while work flows, a rolling restart of every node one at a time, and one
// node lost for good (its store deleted). The plan runs its steps in
// order, one every -nats-every (±50 %); after the loss no node is stopped
// again (two of three nodes are a quorum with nothing to spare).

// clusterStep is one step of the cluster's plan.
type clusterStep struct {
	kind   string // "leader", "rolling", "lose"
	stream string // leader and lose: the label of the stream whose leader is hit
}

// nodeRestart is one stop and start of a node (or its loss).
type nodeRestart struct {
	node int
	name string
	why  string   // "leader of commands", "rolling restart 2/3", "lost for good"
	led  []string // what it led when it was stopped: labels of streamLabels
	down time.Duration
	err  string // a start that failed or did not become healthy
}

// streamLabels are the worker's streams, by the label the report uses.
func (m *monkey) streamLabels() []struct{ label, stream string } {
	return []struct{ label, stream string }{
		{"commands", m.r.Commands}, {"tracking", m.r.Tracking}, {"state bucket", m.r.StateStream}}
}

// plan is the cluster's steps: at least -nats-restarts node restarts in
// all (a leader restart at least once, on the streams in turn), the
// rolling restart (if -nats-rolling) in the middle, the loss (if
// -nats-lose) last.
func (m *monkey) plan() []clusterStep {
	return planSteps(m.r.Cluster.Size(), m.o.minRestarts, m.o.natsRolling, m.o.natsLose)
}

// streamOrder is the order in which leader restarts pick the stream whose
// leader they stop.
var streamOrder = []string{"commands", "tracking", "state bucket"}

func planSteps(nodes, minRestarts int, rolling, lose bool) []clusterStep {
	leaders := minRestarts
	if rolling {
		leaders -= nodes
	}
	leaders = max(leaders, 1)
	var steps []clusterStep
	for i := range leaders {
		if rolling && i == (leaders+1)/2 {
			steps = append(steps, clusterStep{kind: "rolling"})
		}
		steps = append(steps, clusterStep{kind: "leader", stream: streamOrder[i%len(streamOrder)]})
	}
	if rolling && leaders == 1 {
		steps = append(steps, clusterStep{kind: "rolling"})
	}
	if lose {
		steps = append(steps, clusterStep{kind: "lose", stream: streamOrder[0]})
	}
	return steps
}

// clusterLoop runs the plan, then marks it done.
func (m *monkey) clusterLoop(ctx context.Context) {
	defer func() {
		m.mu.Lock()
		m.planDone = true
		m.mu.Unlock()
	}()
	for _, st := range m.plan() {
		if !backoff.Sleep(ctx, m.jitter(m.o.natsEvery)) {
			return
		}
		switch st.kind {
		case "leader":
			i, ok := m.leaderOf(ctx, st.stream)
			if !ok {
				continue
			}
			m.restartNode(ctx, i, "leader of "+st.stream)
		case "rolling":
			n := m.r.Cluster.Size()
			for i := range n {
				if m.r.Cluster.Removed(i) {
					continue
				}
				m.restartNode(ctx, i, fmt.Sprintf("rolling restart %d/%d", i+1, n))
			}
		case "lose":
			i, ok := m.leaderOf(ctx, st.stream)
			if !ok {
				continue
			}
			m.loseNode(ctx, i, "leader of "+st.stream)
		}
	}
}

// leaderOf finds the node that leads the stream labelled label, trying for
// up to 30 s (an election may be under way).
func (m *monkey) leaderOf(ctx context.Context, label string) (int, bool) {
	stream := ""
	for _, s := range m.streamLabels() {
		if s.label == label {
			stream = s.stream
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		i, err := m.r.Cluster.StreamLeader(actx, stream)
		cancel()
		if err == nil {
			return i, true
		}
		if time.Now().After(deadline) || !backoff.Sleep(ctx, 200*time.Millisecond) {
			m.note("leader of %s (%s): %v", label, stream, err)
			return -1, false
		}
	}
}

// led lists what node i leads now.
func (m *monkey) led(ctx context.Context, i int) []string {
	var out []string
	for _, s := range m.streamLabels() {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		j, err := m.r.Cluster.StreamLeader(actx, s.stream)
		cancel()
		if err == nil && j == i {
			out = append(out, s.label)
		}
	}
	return out
}

// restartNode stops node i for -nats-down and starts it again, waiting
// until the cluster is healthy (what an upgrade waits for before the next
// node).
func (m *monkey) restartNode(ctx context.Context, i int, why string) {
	c := m.r.Cluster
	rec := nodeRestart{node: i, name: c.Name(i), why: why, led: m.led(ctx, i)}
	c.Stop(i)
	stopped := time.Now()
	m.mu.Lock()
	m.restarts++
	n := m.restarts
	m.mu.Unlock()
	m.logf("NATS node %s stopped (%s; led %s), node restart #%d", rec.name, why, ledString(rec.led), n)
	backoff.Sleep(ctx, m.o.natsDown)
	for attempt := 1; ; attempt++ {
		err := c.Restart(i)
		if err == nil {
			break
		}
		m.note("NATS node %s start (attempt %d): %v", rec.name, attempt, err)
		if c.Running(i) || attempt == 3 {
			rec.err = err.Error()
			break
		}
	}
	rec.down = time.Since(stopped)
	m.mu.Lock()
	m.nodeLog = append(m.nodeLog, rec)
	m.disrupt(fmt.Sprintf("NATS node %s down (%s)", rec.name, why), stopped, time.Now())
	m.mu.Unlock()
	m.logf("NATS node %s back and healthy after %s", rec.name, rec.down.Round(100*time.Millisecond))
}

// loseNode removes node i for good.
func (m *monkey) loseNode(ctx context.Context, i int, why string) {
	c := m.r.Cluster
	rec := nodeRestart{node: i, name: c.Name(i), why: "lost for good, was " + why, led: m.led(ctx, i)}
	if err := c.Remove(i); err != nil {
		rec.err = err.Error()
		m.note("NATS node %s removal: %v", rec.name, err)
	}
	now := time.Now()
	m.mu.Lock()
	m.nodeLog = append(m.nodeLog, rec)
	m.lost = append(m.lost, i)
	m.disrupt(fmt.Sprintf("NATS node %s lost", rec.name), now, time.Time{})
	m.mu.Unlock()
	m.logf("NATS node %s lost for good (store deleted; led %s); the cluster carries on with %d nodes",
		rec.name, ledString(rec.led), c.Size()-1)
}

// settleCluster starts every node that is stopped and not lost.
func (m *monkey) settleCluster() {
	c := m.r.Cluster
	for i := range c.Size() {
		if !c.Removed(i) && !c.Running(i) {
			if err := c.Restart(i); err != nil {
				m.note("NATS node %s start: %v", c.Name(i), err)
			}
		}
	}
}

func ledString(led []string) string {
	if len(led) == 0 {
		return "nothing"
	}
	return strings.Join(led, ", ")
}
