package app

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/txworker/txworker/internal/telemetry"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/poller"
	"github.com/txworker/txworker/queue"
	"github.com/txworker/txworker/worker"
)

// Config is everything a replica wires together; cmd/txworker builds it
// from the TXWORKER_* settings and flags, and each part's Validate has run.
type Config struct {
	Queue           queue.Config
	Corastone       platform.CorastoneConfig
	JM              *platform.JMConfig // nil: cancel-txn disabled
	Worker          worker.Config
	Poller          poller.Config
	HTTPAddr        string // the ops server's address (/metrics, /healthz, /readyz)
	Pprof           bool   // also serve /debug/pprof/ on the ops address
	LogLevel        string // debug, info, warn or error
	ShutdownTimeout time.Duration
	// MaxRetryAfter caps every Retry-After this replica honours (SPEC §6).
	MaxRetryAfter time.Duration
	// TrackingHints is TXWORKER_TRACKING_HINTS: "" or HintsSequencer (hints.go).
	TrackingHints string
}

// Options are what the caller injects into a replica. The zero value
// works.
type Options struct {
	// Logger receives the replica's logs; nil: none.
	Logger *zap.Logger
	// Registry receives the replica's metrics and is what /metrics serves;
	// nil: a new one from metrics.NewRegistry.
	Registry *prometheus.Registry
	// Intake, when set, builds the loop that takes the commands in the
	// worker's place; the poller, the watch loop and the ops server run as
	// always. Nil: the worker.
	Intake Intake
	// Tracing makes the replica's spans; the caller shuts it down. Nil: one
	// from the OTEL_* variables read through Getenv (off when none is set),
	// shut down with the replica.
	Tracing *telemetry.Provider
	// Getenv reads the OTEL_* variables when Tracing is nil; nil: os.Getenv.
	Getenv func(string) string
}

// Intake builds a loop that takes commands from the bus. Start calls it
// once the bus is provisioned and the clients exist; the returned run
// function is called once and must return when its ctx ends (Shutdown).
type Intake func(ctx context.Context, p Parts) (run func(context.Context) error, err error)

// Parts are the pieces of a starting replica that an Intake may use. They
// belong to the replica: an Intake must not close them.
type Parts struct {
	Config Config
	Bus    *queue.Bus
	JM     worker.JourneyManager // nil when Journey Manager is not configured
	Logger *zap.Logger
}

// Run starts a replica, runs it until ctx ends, then shuts it down within
// cfg.ShutdownTimeout. A start that fails syncs the logger and returns
// the error.
func Run(ctx context.Context, cfg Config, o Options) error {
	s, err := Start(ctx, cfg, o)
	if err != nil {
		if o.Logger != nil {
			_ = o.Logger.Sync()
		}
		return err
	}
	<-ctx.Done()
	return s.Shutdown(cfg.ShutdownTimeout)
}

// NewLogger is zap's production JSON configuration (with sampling) at the
// given level, writing to w, named "txworker".
func NewLogger(level string, w io.Writer) (*zap.Logger, error) {
	lvl, err := zap.ParseAtomicLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(w), lvl)
	core = zapcore.NewSamplerWithOptions(core, time.Second, 100, 100)
	return zap.New(core, zap.AddCaller()).Named("txworker"), nil
}

// WaitReady waits until s is ready (Ready returns nil), polling every
// 50 ms, for at most limit; it returns the last reason otherwise, or
// ctx's error when ctx ends first.
func (s *Service) WaitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		err := s.Ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("worker not ready after %s: %w", limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
