package poller

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// The fakes below stand for the bus, the claim store, the tracking messages
// and the Transactions API, so that the poller's decisions are tested
// without NATS.

// fakeBus is a Bus with a claim store (Claims): Settle keeps the first terminal outcome
// stored (first writer wins), as queue.Bus.Settle does.
type fakeBus struct {
	mu      sync.Mutex
	stored  map[string]*queue.Claim // by commandId
	settles []settleCall
	// settleErr, when set, fails every Settle (the bus is unavailable).
	settleErr error
	gets      int
}

type settleCall struct {
	cl queue.Claim
	r  queue.Result
}

func newFakeBus() *fakeBus { return &fakeBus{stored: map[string]*queue.Claim{}} }

func (b *fakeBus) Tracking() jetstream.Consumer                    { return nil }
func (b *fakeBus) TrackingPending(context.Context) (uint64, error) { return 0, nil }
func (b *fakeBus) Claims() *fakeClaims                             { return &fakeClaims{b} }

func (b *fakeBus) Settle(_ context.Context, _ string, cl *queue.Claim, r queue.Result) (*queue.Claim, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.settles = append(b.settles, settleCall{*cl, r})
	if b.settleErr != nil {
		return nil, false, b.settleErr
	}
	if cur, ok := b.stored[cl.CommandID]; ok && cur.State == queue.StateTerminal {
		published := !cur.Published
		cur.Published = true
		c := *cur
		return &c, published, nil
	}
	next := *cl
	next.State, next.Outcome, next.PlatformStatus, next.Error = queue.StateTerminal, r.Outcome, r.PlatformStatus, r.Error
	next.FailedProcessID, next.FailedStatus, next.Published = r.FailedProcessID, r.FailedStatus, true
	b.stored[cl.CommandID] = &next
	c := next
	return &c, true, nil
}

// settled returns the Settle calls so far.
func (b *fakeBus) settled() []settleCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]settleCall(nil), b.settles...)
}

// fakeClaims reads the fake bus's stored claims.
type fakeClaims struct{ b *fakeBus }

func (c *fakeClaims) Get(_ context.Context, commandID string) (*queue.Claim, error) {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	c.b.gets++
	cl, ok := c.b.stored[commandID]
	if !ok {
		return nil, queue.ErrNotFound
	}
	cp := *cl
	return &cp, nil
}

// unitMsg is a tracking message that records what the poller does with it.
type unitMsg struct {
	jetstream.Msg // nil: any other method panics
	data          []byte
	delivered     uint64

	mu         sync.Mutex
	acks       int
	naks       []time.Duration
	terms      int
	inProgress int
}

func newMsg(t *testing.T, tr queue.Track, delivered uint64) *unitMsg {
	t.Helper()
	data, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	return &unitMsg{data: data, delivered: delivered}
}

func (m *unitMsg) Data() []byte    { return m.data }
func (m *unitMsg) Subject() string { return "txworker.track" }
func (m *unitMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{NumDelivered: m.delivered}, nil
}
func (m *unitMsg) Ack() error { m.mu.Lock(); defer m.mu.Unlock(); m.acks++; return nil }
func (m *unitMsg) NakWithDelay(d time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.naks = append(m.naks, d)
	return nil
}
func (m *unitMsg) TermWithReason(string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.terms++
	return nil
}
func (m *unitMsg) InProgress() error { m.mu.Lock(); defer m.mu.Unlock(); m.inProgress++; return nil }

// state returns the acknowledgements, re-scheduling delays and
// terminations so far.
func (m *unitMsg) state() (acks int, naks []time.Duration, terms int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.acks, append([]time.Duration(nil), m.naks...), m.terms
}

// scripted is a Transactions API that answers the n-th call to each
// endpoint (from 0) with the script's function; it records the calls.
type scripted struct {
	clientHold // a fault with a Retry-After holds the API, as the client does
	mu         sync.Mutex
	orchs      func(n int, ids []string) ([]platform.Orchestration, error)
	txs        func(n int, ids []string) ([]platform.Transaction, error)
	nOrchs     int
	nTxs       int
}

func (s *scripted) Orchestrations(_ context.Context, ids []string) ([]platform.Orchestration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nOrchs
	s.nOrchs++
	if s.orchs == nil {
		return nil, nil
	}
	orchs, err := s.orchs(n, ids)
	s.after(err)
	return orchs, err
}

func (s *scripted) Transactions(_ context.Context, f platform.TransactionFilter) ([]platform.Transaction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nTxs
	s.nTxs++
	if s.txs == nil {
		return nil, nil
	}
	txs, err := s.txs(n, f.OrchestrationIDs)
	s.after(err)
	return txs, err
}

func (s *scripted) calls() (orchs, txs int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nOrchs, s.nTxs
}

// unitPoller is a Poller over fakes whose jitter is pinned at its top.
func unitPoller(t *testing.T, cfg Config, bus *fakeBus, plat Platform) *Poller {
	t.Helper()
	p := New(cfg, bus, bus.Claims(), plat, testLogger(t), nil)
	if p.cfgErr != nil {
		t.Fatalf("config: %v", p.cfgErr)
	}
	p.rand = func(n int64) int64 { return max(n-1, 0) }
	return p
}

// transient and permanent are Transactions API faults.
func transient(status int, retryAfter time.Duration) *platform.Error {
	return &platform.Error{Platform: platform.PlatformCorastone, Endpoint: "orchestrations", HTTPStatus: status,
		Code: "GN0001", Verdict: platform.Transient, RetryAfter: retryAfter, Message: "busy"}
}

func permanent(status int, code string) *platform.Error {
	return &platform.Error{Platform: platform.PlatformCorastone, Endpoint: "transactions", HTTPStatus: status,
		Code: code, Verdict: platform.Permanent, Message: "refused"}
}

// clientHold stands for the gate of the platform client (platform.Corastone
// holds every request to the Transactions API after a Retry-After): a fault
// with a Retry-After holds the API for it, at most capped (0: the client's
// default, 5m), never shortening a longer hold.
type clientHold struct {
	holdMu sync.Mutex
	until  time.Time
	cause  *platform.Error
	capped time.Duration
}

// after holds the API for err's Retry-After when it has one.
func (h *clientHold) after(err error) {
	var pe *platform.Error
	if !errors.As(err, &pe) || pe.RetryAfter <= 0 {
		return
	}
	capped := h.capped
	if capped <= 0 {
		capped = platform.DefaultMaxRetryAfter
	}
	h.holdFor(min(pe.RetryAfter, capped), pe)
}

// holdFor holds the API for d from now after cause.
func (h *clientHold) holdFor(d time.Duration, cause *platform.Error) {
	h.holdMu.Lock()
	defer h.holdMu.Unlock()
	if t := time.Now().Add(d); t.After(h.until) {
		h.until, h.cause = t, cause
	}
}

// Held implements Platform.
func (h *clientHold) Held(string) (time.Duration, *platform.Error) {
	h.holdMu.Lock()
	defer h.holdMu.Unlock()
	d := time.Until(h.until)
	if d <= 0 {
		return 0, nil
	}
	return d, h.cause
}
