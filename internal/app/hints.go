package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"

	"go.uber.org/zap"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/poller"
	"github.com/txworker/txworker/queue"
	"github.com/txworker/txworker/worker"
)

// HintsSequencer is the TXWORKER_TRACKING_HINTS value that tails Corastone's
// Sequencer for tracking hints; "" (the default) leaves the id poller alone.
const HintsSequencer = "sequencer"

// TrackingHintsValues are the accepted values of TXWORKER_TRACKING_HINTS.
func TrackingHintsValues() []string { return []string{"", HintsSequencer} }

// hintsOn reports whether the replica tails the Sequencer.
func (c Config) hintsOn() bool { return c.TrackingHints == HintsSequencer }

// withHints is cfg with what hints mode changes in the parts' configurations:
// the Corastone client asks for readSequencer only with hints on.
func withHints(cfg Config) Config {
	cfg.Corastone.Sequencer = cfg.hintsOn()
	return cfg
}

// startHints wires hints mode: the worker indexes accepted orchestrations,
// the poller stretches its schedule to the backstop and acknowledges
// commands a hint settled, and the tailer loop runs (one replica at a time
// reads, holding the lease). With hints off it does nothing.
func (s *Service) startHints(ctx context.Context, w *worker.Worker, p *poller.Poller, bus *queue.Bus) {
	if !s.cfg.hintsOn() {
		return
	}
	hints := bus.Hints()
	if w != nil {
		w.IndexOrchestrations(hints)
	}
	p.EnableHints(hints)
	owner := replicaName()
	t := poller.NewTailer(poller.HintConfig{Owner: owner, Source: s.cfg.Poller.Source, MaxPause: s.cfg.MaxRetryAfter},
		hints, bus.Claims(), bus, s.cs, s.cs, s.log, s.m)
	s.log.Info("tracking hints on: tailing the Sequencer when this replica holds the lease",
		zap.String("owner", owner), zap.Strings("scopes", s.cs.Scopes()))
	s.loop(ctx, "hints", t.Run)
}

// replicaName names this replica in the hint lease: the host name and a
// random suffix (two processes on one host are two replicas).
func replicaName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "txworker"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

var _ poller.Sequencer = (*platform.Corastone)(nil)
