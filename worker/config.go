package worker

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Config tunes a Worker. The zero value of every field means its default.
type Config struct {
	// Source is the CloudEvents source of the events. Default "txworker".
	Source string
	// Owner names this replica in claims (for leases). Default "txworker".
	Owner string
	// Concurrency is how many commands are handled at once. Default 16.
	Concurrency int
	// SettleTimeout is how long an orchestration is tracked when the
	// command has no deadline. Default 30m.
	SettleTimeout time.Duration
	// MaxCommandBytes caps a command's body. Default 64 KiB (SPEC §3).
	MaxCommandBytes int
	// MaxDeadlineAhead is how far after its receipt a command's deadline may
	// lie: the state's lifetime, the key-value TTL (queue.Config.StateTTL)
	// less a day (SPEC §3). A later deadline makes the command invalid.
	// Default DefaultMaxDeadlineAhead; at least SettleTimeout.
	MaxDeadlineAhead time.Duration
	// MaxAttempts is the retry budget for transient faults: platform calls
	// and look-ups made for one command. Default 8.
	MaxAttempts int
	// Max500Attempts is the budget when the platform answers 500. Default 3.
	Max500Attempts int
	// RetryBase and RetryMax bound the exponential back-off between
	// attempts (full jitter). Defaults 1s and 60s.
	RetryBase, RetryMax time.Duration
	// CallTimeout bounds one platform call, token fetch and retry included.
	// Default 30s.
	CallTimeout time.Duration
	// KeepAlive is how often a message being worked on is reported in
	// progress; keep it well under the consumer's AckWait. Default 10s.
	KeepAlive time.Duration
	// PauseAfter consecutive transient faults from a platform pause new
	// calls to it for PauseFor, so that an outage does not burn every
	// command's budget in seconds. Defaults 5 and 30s.
	PauseAfter int
	PauseFor   time.Duration
	// MaxPoisonDeliveries bounds the deliveries of a command that meets a
	// fault of the worker's own (not an outage of NATS): after that many it
	// ends failed with INTERNAL_ERROR (SPEC §4). A deterministic fault (a
	// value that cannot be encoded) ends it at the first. Default 5.
	MaxPoisonDeliveries int
	// TracerProvider makes a consumer span of every delivery, the parent of
	// its platform requests and event publishes; nil: no spans at no cost.
	TracerProvider trace.TracerProvider
}

// DefaultMaxDeadlineAhead is MaxDeadlineAhead for the default state TTL
// (queue.DefaultStateTTL, 7 days) less a day.
const DefaultMaxDeadlineAhead = 6 * 24 * time.Hour

// MaxDeadlineAheadFor returns the MaxDeadlineAhead that fits a state TTL:
// the TTL less a day, or half the TTL when the TTL is 2 days or shorter.
func MaxDeadlineAheadFor(stateTTL time.Duration) time.Duration {
	if stateTTL <= 2*24*time.Hour {
		return stateTTL / 2
	}
	return stateTTL - 24*time.Hour
}

func (c Config) withDefaults() Config {
	if c.Source == "" {
		c.Source = "txworker"
	}
	if c.Owner == "" {
		c.Owner = "txworker"
	}
	if c.Concurrency == 0 {
		c.Concurrency = 16
	}
	if c.SettleTimeout == 0 {
		c.SettleTimeout = 30 * time.Minute
	}
	if c.MaxCommandBytes == 0 {
		c.MaxCommandBytes = 64 << 10
	}
	if c.MaxDeadlineAhead == 0 {
		c.MaxDeadlineAhead = DefaultMaxDeadlineAhead
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 8
	}
	if c.Max500Attempts == 0 {
		c.Max500Attempts = 3
	}
	if c.RetryBase == 0 {
		c.RetryBase = time.Second
	}
	if c.RetryMax == 0 {
		c.RetryMax = time.Minute
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = 30 * time.Second
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = 10 * time.Second
	}
	if c.PauseAfter == 0 {
		c.PauseAfter = 5
	}
	if c.PauseFor == 0 {
		c.PauseFor = 30 * time.Second
	}
	if c.MaxPoisonDeliveries == 0 {
		c.MaxPoisonDeliveries = 5
	}
	return c
}

// Validate reports every setting that is out of range, after defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Concurrency < 1 || c.Concurrency > 4096 {
		errs = append(errs, fmt.Errorf("concurrency %d: want 1..4096", c.Concurrency))
	}
	if c.SettleTimeout < time.Second {
		errs = append(errs, fmt.Errorf("settle timeout %s: want at least 1s", c.SettleTimeout))
	}
	if c.MaxDeadlineAhead < c.SettleTimeout {
		errs = append(errs, fmt.Errorf("max deadline ahead %s: want at least the settle timeout %s", c.MaxDeadlineAhead, c.SettleTimeout))
	}
	if c.MaxCommandBytes < 1024 {
		errs = append(errs, fmt.Errorf("max command bytes %d: want at least 1024", c.MaxCommandBytes))
	}
	if c.MaxAttempts < 1 || c.Max500Attempts < 1 {
		errs = append(errs, errors.New("retry budgets must be at least 1"))
	}
	if c.RetryBase <= 0 || c.RetryMax < c.RetryBase {
		errs = append(errs, fmt.Errorf("retry back-off %s..%s: want 0 < base <= max", c.RetryBase, c.RetryMax))
	}
	if c.MaxPoisonDeliveries < 1 || c.MaxPoisonDeliveries > 1000 {
		errs = append(errs, fmt.Errorf("max poison deliveries %d: want 1..1000", c.MaxPoisonDeliveries))
	}
	if c.CallTimeout < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("call timeout %s: want at least 100ms", c.CallTimeout))
	}
	return errors.Join(errs...)
}
