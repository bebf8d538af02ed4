package platform

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// APIs: each holds its own gate, shared by every caller of the client (SPEC §5: a Retry-After is
// honoured by every request of this replica to that API). They are the api label of
// HoldObserver.
const (
	APIActions      = "actions"      // Corastone: the four action endpoints
	APITransactions = "transactions" // Corastone: the Transactions API (orchestrations and transactions)
	APIToken        = "token"        // the OAuth2 token endpoint (Corastone's, Journey Manager's in bearer mode)
	APITxn          = "txn"          // Journey Manager: the Workspaces Txn API (cancel and query)
	APISequencer    = "sequencer"    // Corastone: the Event Retrieval API's Sequencer (tracking hints)
)

// APIsOf lists the APIs of a platform (PlatformCorastone, JourneyManager), each with its own gate.
func APIsOf(platform string) []string {
	switch platform {
	case PlatformCorastone:
		return []string{APIActions, APITransactions, APIToken, APISequencer}
	case JourneyManager:
		return []string{APITxn, APIToken}
	}
	return nil
}

// ErrHeld is wrapped by the *Error of a request that was not sent because its API holds every
// request after a Retry-After (or after a 429 or 503 without one: a back-off). That *Error is
// Transient and carries the HTTPStatus and Code of the answer that closed the gate and, as
// RetryAfter, what is left of the hold. Nothing reached the platform.
var ErrHeld = errors.New("not sent: the API holds requests after a Retry-After")

// HoldObserver is implemented by an Observer that also shows when an API holds its requests
// (metrics.Metrics does); the clients call it when their Observer has it.
type HoldObserver interface {
	// ObserveHold is called with held=true when an API of platform starts holding its requests
	// and with held=false once that hold has passed.
	ObserveHold(platform, api string, held bool)
}

// Bounds of the back-off after consecutive 429 or 503 answers without a Retry-After.
const (
	holdBase = time.Second
	holdMax  = 32 * time.Second
)

// gate holds every request to one API after a 429 or 503: until the answer's Retry-After (capped
// at the client's MaxRetryAfter) has passed, or without one, a back-off doubling per consecutive
// such answer (holdBase to holdMax), with up to a quarter of jitter on top so that replicas held
// together do not resume in lock-step (never past the cap). A later, shorter hold never shortens
// a longer one; requests already in flight are not affected. It is safe for concurrent use.
type gate struct {
	platform, api string
	cap           time.Duration // the client's MaxRetryAfter
	obs           Observer
	now           func() time.Time
	rand          func(n int64) int64 // uniform in [0, n)

	mu     sync.Mutex
	until  time.Time
	cause  *Error // the answer that set until
	faults int    // consecutive 429/503 answers
	timer  *time.Timer
	held   bool // ObserveHold(true) sent, not yet its false
}

func newGate(platform, api string, maxRetryAfter time.Duration, obs Observer) *gate {
	if maxRetryAfter <= 0 {
		maxRetryAfter = DefaultMaxRetryAfter
	}
	return &gate{platform: platform, api: api, cap: maxRetryAfter, obs: observerOrNop(obs), now: time.Now,
		rand: func(n int64) int64 { return rand.Int64N(max(n, 1)) }}
}

// newGates returns a gate for each API of platform.
func newGates(platform string, maxRetryAfter time.Duration, obs Observer) map[string]*gate {
	gates := map[string]*gate{}
	for _, api := range APIsOf(platform) {
		gates[api] = newGate(platform, api, maxRetryAfter, obs)
	}
	return gates
}

// closesGate reports whether an answer with status holds its API: 429 Too Many Requests and 503
// Service Unavailable say that the platform did not take the request and when to come back.
func closesGate(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
}

// remaining is how long (a nil gate never holds) requests are still held (0: not held) and the answer that closed the gate.
func (g *gate) remaining() (time.Duration, *Error) {
	if g == nil {
		return 0, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.until.Sub(g.now())
	if d <= 0 {
		return 0, nil
	}
	return d, g.cause
}

// admit returns nil once the API is not held. A hold that ends before ctx's deadline (without
// one: within wait) is waited out; a longer one, or ctx ending meanwhile, fails at once with the
// held *Error (see ErrHeld) of endpoint: nothing is sent, and a caller's deadline ends it on time.
func (g *gate) admit(ctx context.Context, endpoint string, wait time.Duration) error {
	for {
		d, cause := g.remaining()
		if d <= 0 {
			return nil
		}
		limit := wait
		if dl, ok := ctx.Deadline(); ok {
			limit = time.Until(dl)
		}
		if d >= limit {
			return g.heldError(endpoint, d, cause, nil)
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return g.heldError(endpoint, d, cause, ctx.Err())
		}
	}
}

func (g *gate) heldError(endpoint string, d time.Duration, cause *Error, ctxErr error) *Error {
	e := &Error{Platform: g.platform, Endpoint: endpoint, Verdict: Transient, RetryAfter: d, Err: ErrHeld}
	what := "a 429 or 503"
	if cause != nil {
		e.HTTPStatus, e.Code = cause.HTTPStatus, cause.Code
		what = "http " + strconv.Itoa(cause.HTTPStatus)
		if cause.Code != "" {
			what += " " + cause.Code
		}
		if cause.Endpoint != endpoint {
			what += " from " + cause.Endpoint
		}
	}
	e.Message = fmt.Sprintf("not sent: the %s API holds its requests for %s more after %s", g.api, d.Round(time.Millisecond), what)
	if ctxErr != nil {
		e.Err = fmt.Errorf("%w: %w", ErrHeld, ctxErr)
	}
	return e
}

// observe records the answer to a request of this API (status, and its *Error when it is not
// 2xx): a 429 or 503 holds the API (see gate); any other answer ends the run of consecutive ones
// (the hold already set still lasts).
func (g *gate) observe(status int, e *Error) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !closesGate(status) || e == nil {
		g.faults = 0
		return
	}
	g.faults++
	d := e.RetryAfter // capped by the client's scrubber already
	if d <= 0 {
		d = holdBase << min(g.faults-1, 6)
		d = min(d, holdMax)
	}
	d = min(d, g.cap)
	d = min(d+time.Duration(g.rand(int64(d/4)+1)), g.cap) // d ≤ cap: jitter never shortens it
	until := g.now().Add(d)
	if !until.After(g.until) {
		return // a longer hold is already set
	}
	g.until, g.cause = until, e
	if !g.held {
		g.held = true
		if o, ok := g.obs.(HoldObserver); ok {
			o.ObserveHold(g.platform, g.api, true)
		}
	}
	if g.timer == nil {
		g.timer = time.AfterFunc(d, g.expire)
	} else {
		g.timer.Reset(d)
	}
}

// expire reports the end of a hold (re-arming itself when the hold was extended meanwhile).
func (g *gate) expire() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if d := g.until.Sub(g.now()); d > 0 {
		g.timer.Reset(d)
		return
	}
	g.cause = nil
	if g.held {
		g.held = false
		if o, ok := g.obs.(HoldObserver); ok {
			o.ObserveHold(g.platform, g.api, false)
		}
	}
}
