package poller

import (
	"sync"
	"time"

	"github.com/txworker/txworker/platform"
)

// pause is how long the poller is still paused at now (0: not paused): its
// own pause after a fault (gate), or the platform client's hold of the
// Transactions API, whichever ends last. The client holds every request of
// this replica to that API after a Retry-After, or the back-off after a 429
// or 503 without one, whoever met it: a poll, a failing-step look-up or the
// worker's look-up of a processId. The poller adds no pause of its own for
// those (see fault): one Retry-After, one mechanism.
func (p *Poller) pause(now time.Time) time.Duration {
	d := p.gate.remaining(now)
	if held, _ := p.plat.Held(platform.APITransactions); held > d {
		d = held
	}
	return d
}

// lastFault is the fault of the poller's last request when it was not
// answered, else the answer that made the client hold the Transactions API
// (nil: neither).
func (p *Poller) lastFault() error {
	if f := p.gate.lastFault(); f != nil {
		return f
	}
	if _, cause := p.plat.Held(platform.APITransactions); cause != nil {
		return cause
	}
	return nil
}

// gate pauses the whole poller after a Transactions API fault for which the
// platform client holds no request (a 502, 504, no answer, a malformed
// answer, a permanent refusal): no request is sent before its until has
// passed. It is safe for concurrent use.
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

// fail records fault err without pausing (the client holds the requests)
// and returns the consecutive fault count including this one.
func (g *gate) fail(err error) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failures++
	g.fault = err
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

// remaining is how long the poller's own pause still lasts at now (0: not
// paused); Poller.pause adds the client's hold.
func (g *gate) remaining(now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return max(g.until.Sub(now), 0)
}
