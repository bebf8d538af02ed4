package worker

import (
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/txworker/txworker/metrics"
)

// breaker pauses calls to a platform after consecutive transient faults,
// so that a platform that is down for minutes does not burn every
// command's retry budget in seconds. Commands that arrive during a pause
// are re-scheduled without spending an attempt.
type breaker struct {
	after int
	pause time.Duration
	log   *zap.Logger
	m     *metrics.Metrics
	now   func() time.Time

	mu     sync.Mutex
	faults map[string]int
	until  map[string]time.Time
}

func newBreaker(after int, pause time.Duration, log *zap.Logger, m *metrics.Metrics, now func() time.Time) *breaker {
	return &breaker{after: after, pause: pause, log: log, m: m, now: now,
		faults: map[string]int{}, until: map[string]time.Time{}}
}

// wait returns how long calls to platform are still paused (0: go ahead).
func (b *breaker) wait(platform string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	until, ok := b.until[platform]
	if !ok {
		return 0
	}
	if d := until.Sub(b.now()); d > 0 {
		return d
	}
	delete(b.until, platform)
	b.m.SetPaused(platform, metrics.StageAction, false)
	b.log.Info("platform pause over; calls resume", zap.String("platform", platform))
	return 0
}

// failure counts a transient fault and opens a pause after enough in a row.
func (b *breaker) failure(platform string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.faults[platform]++
	if b.faults[platform] < b.after {
		return
	}
	b.faults[platform] = 0
	if _, paused := b.until[platform]; !paused {
		b.m.SetPaused(platform, metrics.StageAction, true)
		b.log.Warn("platform keeps failing; pausing calls", zap.String("platform", platform),
			zap.Int("consecutive_faults", b.after), zap.Duration("pause", b.pause))
	}
	b.until[platform] = b.now().Add(b.pause)
}

// success resets the fault count: the platform answered.
func (b *breaker) success(platform string) {
	b.mu.Lock()
	b.faults[platform] = 0
	b.mu.Unlock()
}
