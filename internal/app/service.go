// Package app wires one txworker replica together: the JetStream bus, the
// platform clients, the worker, the poller and the ops HTTP server, and
// shuts them down in order within a budget (SPEC §8).
package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/txworker/txworker/internal/backoff"
	"github.com/txworker/txworker/internal/telemetry"
	"github.com/txworker/txworker/metrics"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/poller"
	"github.com/txworker/txworker/queue"
	"github.com/txworker/txworker/worker"
)

// Service is one running replica: bus, clients, worker, poller and the ops
// HTTP server. Start makes one; Shutdown ends it.
type Service struct {
	cfg         Config
	log         *zap.Logger
	reg         *prometheus.Registry
	m           *metrics.Metrics
	bus         *queue.Bus
	cs          *platform.Corastone
	srv         *metrics.Server
	tracing     *telemetry.Provider
	ownsTracing bool               // tracing was built here: Shutdown stops it
	cancel      context.CancelFunc // stops intake
	wg          sync.WaitGroup

	running sync.Map // loop name → struct{}, while it runs

	tokenOK     atomic.Bool
	provisioned atomic.Bool
	deps        atomic.Pointer[error] // the watch loop's last verdict on JetStream; nil: all found
	loopErr     atomic.Pointer[error]
	stopping    atomic.Bool
}

// Start connects, provisions and starts consuming. Connecting and
// provisioning share the start-up budget cfg.Queue.StartTimeout; when it is
// spent Start fails with an error naming what it waited for. It returns
// once the ops server listens (it listens from the start); /readyz turns 200 when connected, provisioned and the
// first token is obtained, and answers 503 whenever the watch loop last
// found a stream, consumer or the bucket missing or unreachable. ctx bounds
// the start only: the loops run until Shutdown. On error everything
// started is stopped again.
func Start(ctx context.Context, cfg Config, o Options) (*Service, error) {
	logger := o.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	reg := o.Registry
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	cfg = withHints(cfg)
	s := &Service{cfg: cfg, log: logger, reg: reg}
	s.m = metrics.New(s.reg)
	// The ops server comes first: /healthz answers while NATS is still
	// being reached, /readyz says why the replica is not ready yet.
	s.srv = metrics.NewServer(metrics.ServerConfig{Addr: cfg.HTTPAddr, Pprof: cfg.Pprof}, s.reg, s.live, s.m.ReadyCheck(s.Ready), logger)
	if err := s.srv.Start(); err != nil {
		return nil, fmt.Errorf("ops server: %w", err)
	}
	fail := func(err error) (*Service, error) {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(sctx)
		if s.bus != nil {
			_ = s.bus.Drain()
		}
		if s.ownsTracing {
			_ = s.tracing.Shutdown(sctx)
		}
		return nil, err
	}
	if err := s.startTracing(ctx, o); err != nil {
		return fail(err)
	}
	cfg = withTracing(cfg, s.tracing.TracerProvider())
	// Reaching NATS and provisioning share one start-up budget; /readyz
	// answers 503 meanwhile.
	budget := cfg.Queue.StartTimeout
	if budget <= 0 {
		budget = queue.DefaultStartTimeout
	}
	startCtx, cancelStart := context.WithTimeout(ctx, budget)
	defer cancelStart()
	logger.Info("connecting", zap.String("http_addr", s.srv.Addr()), zap.Duration("start_timeout", budget), zap.Stringer("traces", s.tracing))
	bus, err := queue.Connect(startCtx, cfg.Queue, logger)
	if err != nil {
		return fail(fmt.Errorf("connect to NATS: %w", err))
	}
	s.bus = bus
	if err := bus.Provision(startCtx); err != nil {
		return fail(fmt.Errorf("provision JetStream: %w", err))
	}
	s.provisioned.Store(true)
	s.cs, err = platform.NewCorastone(cfg.Corastone, logger, s.m)
	if err != nil {
		return fail(fmt.Errorf("corastone client: %w", err))
	}
	var jm worker.JourneyManager
	if cfg.JM != nil {
		c, err := platform.NewJM(*cfg.JM, logger, s.m)
		if err != nil {
			return fail(fmt.Errorf("journey manager client: %w", err))
		}
		jm = c
	}
	w, err := worker.New(cfg.Worker, bus, bus.Claims(), s.cs, jm, logger, s.m)
	if err != nil {
		return fail(fmt.Errorf("worker: %w", err))
	}
	intake := w.Run
	if o.Intake != nil {
		if intake, err = o.Intake(ctx, Parts{Config: cfg, Bus: bus, JM: jm, Logger: logger}); err != nil {
			return fail(err)
		}
	}
	p := poller.New(cfg.Poller, bus, bus.Claims(), s.cs, logger, s.m)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.loop(runCtx, "worker", intake)
	s.startHints(runCtx, w, p, bus)
	s.loop(runCtx, "poller", p.Run)
	s.loop(runCtx, "token", s.firstToken)
	s.loop(runCtx, "watch", func(ctx context.Context) error {
		return bus.Watch(ctx, queue.DefaultWatchInterval, s.noteHealth)
	})
	logger.Info("txworker started", zap.String("http_addr", s.srv.Addr()),
		zap.String("prefix", bus.Prefix()), zap.Bool("journey_manager", cfg.JM != nil))
	return s, nil
}

// loop runs one of the service's own loops; its unexpected end makes
// /healthz fail so that Kubernetes restarts the pod.
func (s *Service) loop(ctx context.Context, name string, f func(context.Context) error) {
	s.wg.Add(1)
	s.running.Store(name, struct{}{})
	go func() {
		defer s.wg.Done()
		defer s.running.Delete(name)
		err := f(ctx)
		if ctx.Err() == nil && name != "token" {
			if err == nil {
				err = errors.New("stopped")
			}
			err = fmt.Errorf("%s loop: %w", name, err)
			s.loopErr.Store(&err)
			s.log.Error("loop ended unexpectedly", zap.String("loop", name), zap.Error(err))
		}
	}()
}

// firstToken obtains the first OAuth2 token, retrying with back-off; the
// service is not ready before it has one.
func (s *Service) firstToken(ctx context.Context) error {
	retry := backoff.Policy{Base: 200 * time.Millisecond, Max: 30 * time.Second, Floor: 2}
	for attempt := 1; ; attempt++ {
		tctx, cancel := context.WithTimeout(ctx, s.cfg.Corastone.RequestTimeout+time.Second)
		err := s.cs.Token(tctx)
		cancel()
		if err == nil {
			s.tokenOK.Store(true)
			return nil
		}
		d := retry.Delay(attempt)
		s.log.Warn("first token not obtained yet", zap.Error(err), zap.Duration("retry_in", d))
		if !backoff.Sleep(ctx, d) {
			return ctx.Err()
		}
	}
}

// noteHealth takes one verdict of the watch loop: it sets
// txworker_dependency_ready per resource, keeps what readiness reports,
// and sets txworker_ready from Ready(), so the gauge follows the replica's
// state without any probe asking.
func (s *Service) noteHealth(h queue.Health) {
	for _, r := range queue.Resources() {
		s.m.SetDependencyReady(string(r), h.Ready(r))
	}
	var err error
	if err = h.Err(); err != nil {
		if s.cfg.Queue.Provision {
			err = fmt.Errorf("jetstream: %w", err)
		} else {
			err = fmt.Errorf("jetstream (provisioning is off: create them or set TXWORKER_PROVISION=true): %w", err)
		}
	}
	s.deps.Store(&err)
	s.m.SetReady(s.Ready() == nil)
}

func (s *Service) live() error {
	if e := s.loopErr.Load(); e != nil {
		return *e
	}
	return nil
}

// Ready is what /readyz answers: nil when the replica takes commands, else
// why not.
func (s *Service) Ready() error {
	switch {
	case s.stopping.Load():
		return errors.New("shutting down")
	case !s.provisioned.Load():
		return errors.New("connecting to NATS and provisioning")
	case !s.bus.Connected():
		return errors.New("not connected to NATS")
	case !s.tokenOK.Load():
		return errors.New("no OAuth2 token yet")
	}
	if e := s.deps.Load(); e != nil && *e != nil {
		return *e
	}
	return s.live()
}

// Addr is where the ops server listens.
func (s *Service) Addr() string { return s.srv.Addr() }

// Shutdown follows SPEC §8: readiness off, intake stops, in-flight work
// finishes or is left for redelivery, pending publishes flush (nc.Drain),
// the ops server stops, the logger syncs, all within the budget. It
// returns every step that did not finish in time or failed.
func (s *Service) Shutdown(budget time.Duration) error {
	s.log.Info("shutting down", zap.Duration("budget", budget))
	s.stopping.Store(true)
	s.m.SetReady(false)
	s.srv.SetDraining()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var errs []error
	select {
	case <-done:
	case <-ctx.Done():
		var names []string
		s.running.Range(func(k, _ any) bool { names = append(names, k.(string)); return true })
		errs = append(errs, fmt.Errorf("in-flight work of %v did not finish within the budget; it will be redelivered", names))
	}
	if err := s.bus.Drain(); err != nil {
		errs = append(errs, fmt.Errorf("drain NATS: %w", err))
	}
	if err := s.srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("ops server: %w", err))
	}
	if s.ownsTracing {
		if err := s.tracing.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("export the last spans: %w", err))
		}
	}
	_ = s.log.Sync()
	return errors.Join(errs...)
}
