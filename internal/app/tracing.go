package app

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/trace"

	"github.com/txworker/txworker/internal/telemetry"
)

// startTracing takes o.Tracing, or builds the provider the OTEL_*
// variables describe (console spans go to standard output).
func (s *Service) startTracing(ctx context.Context, o Options) error {
	if o.Tracing != nil {
		s.tracing = o.Tracing
		return nil
	}
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	p, err := telemetry.FromEnv(ctx, getenv, os.Stdout)
	if err != nil {
		return fmt.Errorf("traces: %w", err)
	}
	s.tracing, s.ownsTracing = p, true
	return nil
}

// withTracing gives every part of cfg the tracer provider; nil (tracing
// off) leaves them without one, so that they do no tracing work at all.
func withTracing(cfg Config, tp trace.TracerProvider) Config {
	if tp == nil {
		return cfg
	}
	cfg.Queue.TracerProvider = tp
	cfg.Corastone.TracerProvider = tp
	if cfg.JM != nil {
		jm := *cfg.JM
		jm.TracerProvider = tp
		cfg.JM = &jm
	}
	cfg.Worker.TracerProvider = tp
	cfg.Poller.TracerProvider = tp
	return cfg
}
