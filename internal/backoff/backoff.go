// Package backoff computes the waits between retries: exponential steps with
// full jitter above a floor. The worker, the poller and the queue (consume
// loop, provisioning, publishes and claim writes that meet a leader
// election) all retry through it.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is an exponential back-off: the step of attempt n (n ≥ 1) is Base
// doubled n-1 times, capped at Max, and the wait is uniform in
// [step/Floor, step] (full jitter above a floor, so that retries spread out
// and never spin). The zero Floor means no floor: [0, step].
type Policy struct {
	// Base is the step of the first attempt; Max caps every step (Max below
	// Base caps the first step too).
	Base, Max time.Duration
	// Floor makes the fixed part of every wait 1/Floor of the step: 2 is
	// "equal jitter" (half fixed, half random), 10 a tenth fixed.
	Floor int64
	// Rand returns a uniform value in [0, n) for n ≥ 1; nil is
	// math/rand/v2's. Tests set it to pin the jitter.
	Rand func(n int64) int64
}

// Step is the undithered step of attempt n: Base doubled n-1 times, at most
// Max. An attempt below 1 counts as the first.
func (p Policy) Step(attempt int) time.Duration {
	d := p.Base
	for i := 1; i < attempt && d > 0 && d < p.Max; i++ {
		d *= 2
	}
	return max(min(d, p.Max), 0)
}

// Delay is the wait before retry attempt n: uniform in [Step(n)/Floor,
// Step(n)], both ends included.
func (p Policy) Delay(attempt int) time.Duration {
	d := p.Step(attempt)
	var fixed time.Duration
	if p.Floor > 0 {
		fixed = d / time.Duration(p.Floor)
	}
	rnd := p.Rand
	if rnd == nil {
		rnd = rand.Int64N
	}
	return fixed + time.Duration(rnd(int64(d-fixed)+1))
}

// Sleep waits d or until ctx ends; it reports whether d passed (false: ctx
// ended first). A d ≤ 0 returns at once, true unless ctx has ended.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
