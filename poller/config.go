package poller

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// MaxBatchSize is the most orchestrationIds the Transactions API accepts in
// one orchestrationIdsFilter (SPEC §2).
const MaxBatchSize = 50

// Config tunes a Poller. The zero value of every field means its default.
type Config struct {
	// Source is the CloudEvents source of the terminal events. Default "txworker".
	Source string
	// Interval is the wait between two polls of a young orchestration
	// (with jitter: between 80 % of it and all of it). Default 2s.
	Interval time.Duration
	// BackoffAfter is how long an orchestration is polled every Interval;
	// after each further BackoffAfter of its age the wait doubles, up to
	// MaxInterval. Short orchestrations are thus seen within one Interval
	// of their end, long ones cost few requests. Default 20s.
	BackoffAfter time.Duration
	// MaxInterval is the longest wait between two polls of one
	// orchestration, the retry period of a permanent poll fault and the
	// longest a fault pause keeps messages in hand. Default 30s.
	MaxInterval time.Duration
	// BatchSize is the most orchestrationIds per Transactions API request.
	// Default and maximum 50.
	BatchSize int
	// FetchMax is the most tracking messages fetched per cycle. Default 500.
	FetchMax int
	// FetchWait is how long one fetch waits for due messages; messages that
	// become due within it are polled in the same cycle. Default 250ms.
	FetchWait time.Duration
	// Parallel is the most poll requests in flight at once. Default 4.
	Parallel int
	// UnknownLimit bounds the polls of an orchestration the platform does
	// not know: absent from the answer of a later poll (a delivery count
	// above UnknownLimit), its command ends failed with code
	// ORCHESTRATION_UNKNOWN. Default 10.
	UnknownLimit int
	// MaxPause caps every pause of the poller's own after a Transactions
	// API fault (a Retry-After is capped by the client's MaxRetryAfter;
	// the service sets both from TXWORKER_MAX_RETRY_AFTER). Whatever the
	// pause, a command whose deadline passes ends timed_out at its
	// deadline. Default 5m.
	MaxPause time.Duration
	// Naive polls one orchestration per request at a fixed Interval without
	// jitter: the baseline for benchmarks, never for production.
	Naive bool
	// TracerProvider makes a span of every poll batch; nil: none, at no cost.
	TracerProvider trace.TracerProvider
	// Hints is set by Poller.EnableHints (TXWORKER_TRACKING_HINTS): every
	// poll, the first included, waits hintsBackstopFactor × MaxInterval.
	Hints bool
}

func (c Config) withDefaults() Config {
	if c.Source == "" {
		c.Source = "txworker"
	}
	if c.Interval == 0 {
		c.Interval = 2 * time.Second
	}
	if c.MaxInterval == 0 {
		c.MaxInterval = 30 * time.Second
	}
	if c.BackoffAfter == 0 {
		c.BackoffAfter = 20 * time.Second
	}
	if c.BatchSize == 0 {
		c.BatchSize = MaxBatchSize
	}
	if c.FetchMax == 0 {
		c.FetchMax = 500
	}
	if c.FetchWait == 0 {
		c.FetchWait = 250 * time.Millisecond
	}
	if c.Parallel == 0 {
		c.Parallel = 4
	}
	if c.UnknownLimit == 0 {
		c.UnknownLimit = 10
	}
	if c.MaxPause == 0 {
		c.MaxPause = 5 * time.Minute
	}
	return c
}

// MaxRequests is the most Transactions API requests a Poller with this
// configuration has in flight at once.
func (c Config) MaxRequests() int { return maxCycles * c.withDefaults().Parallel }

// Validate reports every invalid setting at once (zero values stand for
// their defaults and are valid).
func (c Config) Validate() error {
	var errs []error
	if c.Interval < 0 || c.MaxInterval < 0 || c.FetchWait < 0 || c.BackoffAfter < 0 || c.MaxPause < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	d := c.withDefaults()
	if d.Interval < time.Millisecond {
		errs = append(errs, fmt.Errorf("interval %s: must be at least 1ms", d.Interval))
	}
	if d.MaxInterval < d.Interval {
		errs = append(errs, fmt.Errorf("max interval %s: must not be below interval %s", d.MaxInterval, d.Interval))
	}
	if d.FetchWait < time.Millisecond {
		errs = append(errs, fmt.Errorf("fetch wait %s: must be at least 1ms", d.FetchWait))
	}
	if d.BatchSize < 1 || d.BatchSize > MaxBatchSize {
		errs = append(errs, fmt.Errorf("batch size %d: must be between 1 and %d", c.BatchSize, MaxBatchSize))
	}
	if d.FetchMax < 1 {
		errs = append(errs, fmt.Errorf("fetch max %d: must be positive", c.FetchMax))
	}
	if d.Parallel < 1 {
		errs = append(errs, fmt.Errorf("parallel %d: must be positive", c.Parallel))
	}
	if d.UnknownLimit < 1 {
		errs = append(errs, fmt.Errorf("unknown limit %d: must be positive", c.UnknownLimit))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("poller config: %w", err)
	}
	return nil
}
