package poller

import (
	"sync"
	"time"
)

// gate pauses the whole poller after a Transactions API fault: no request is
// sent before its until has passed. It is safe for concurrent use.
type gate struct {
	mu       sync.Mutex
	until    time.Time
	failures int   // consecutive faults, for the back-off when no Retry-After is given
	fault    error // the last fault, until a request is answered
}

// pause extends the pause to at least now+d after fault err and returns the
// consecutive fault count including this one.
func (g *gate) pause(now time.Time, d time.Duration, err error) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failures++
	g.fault = err
	if t := now.Add(d); t.After(g.until) {
		g.until = t
	}
	return g.failures
}

// failuresNext is the fault count the next pause will have.
func (g *gate) failuresNext() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.failures + 1
}

// ok records an answered request; it reports whether the poller was paused
// (had faults) until then.
func (g *gate) ok() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	was := g.failures > 0
	g.failures = 0
	g.fault = nil
	return was
}

// lastFault is the fault of the last request when it was not answered
// (nil once one is).
func (g *gate) lastFault() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.fault
}

// probing reports whether the last request met a fault: until one is
// answered, requests go one at a time.
func (g *gate) probing() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.failures > 0
}

// remaining is how long the pause still lasts at now (0: not paused).
func (g *gate) remaining(now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return max(g.until.Sub(now), 0)
}
