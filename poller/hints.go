package poller

// Tracking hints (TXWORKER_TRACKING_HINTS=sequencer): one replica at a time
// tails Corastone's Sequencer and makes the orchestrations its entries name
// due at once. The id poller keeps running for everything tracked, at a
// stretched interval (hintsBackstopFactor × MaxInterval): a missed, late or
// malformed hint costs latency, never an outcome.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/txworker/txworker/internal/backoff"
	"github.com/txworker/txworker/metrics"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// hintsBackstopFactor stretches the id poller's schedule with hints on:
// every poll, the first included, waits this many MaxInterval (with the
// usual 80–100 % jitter, never past the deadline), so that the backstop
// costs a small share of the requests: an orchestration that ends within
// 4 × MaxInterval (2 minutes by default) costs it nothing, its hint
// settles it first; one that runs longer costs one id in a batch of up to
// 50 per 4 × MaxInterval, a quarter of what the id poller's longest
// interval costs.
const hintsBackstopFactor = 4

// Sequencer is what the tailer needs of the Corastone client
// (*platform.Corastone implements it).
type Sequencer interface {
	Sequence(ctx context.Context, q platform.SequenceQuery) (platform.SequencePage, error)
}

// HintStore is the tailer's state in the bus; *queue.Hints is one.
type HintStore interface {
	AcquireLease(ctx context.Context, owner string, ttl time.Duration, now time.Time) (bool, error)
	ReleaseLease(ctx context.Context, owner string) error
	Cursor(ctx context.Context) (queue.HintCursor, error)
	SaveCursor(ctx context.Context, c *queue.HintCursor) error
	LookupOrchestration(ctx context.Context, orchestrationID string) (commandID string, err error)
	UnindexOrchestration(ctx context.Context, orchestrationID string) error
}

// Unindexer deletes an orchestration's index entry; *queue.Hints is one.
type Unindexer interface {
	UnindexOrchestration(ctx context.Context, orchestrationID string) error
}

// EnableHints puts the poller in hints mode: its schedule is stretched to
// the backstop (hintsBackstopFactor × MaxInterval, the first poll
// included: deferFirst), a fetched message whose
// command a hint has settled already is acknowledged without a request, and
// the index entry of an orchestration it settles is deleted through ix
// (nil: left to the bucket's TTL). Call it before Run.
func (p *Poller) EnableHints(ix Unindexer) {
	p.cfg.Hints = true
	p.index = ix
}

// deferFirst re-schedules, without a request, the messages delivered for
// the first time (hints mode): an orchestration normally ends before the
// backstop is due and its hint settles it, so the first poll is the
// backstop's, pollDelay later (never past the deadline). An orchestration
// whose hint is lost (its index write failed, or it ended before the
// index was written) is seen at that poll: latency, not an outcome.
func (p *Poller) deferFirst(items []*item) []*item {
	if !p.cfg.Hints || len(items) == 0 {
		return items
	}
	now := p.now()
	rest := items[:0:0]
	for _, it := range items {
		if it.polls > 0 {
			rest = append(rest, it)
			continue
		}
		p.nak(it, p.nextDelay(0, it.track.Deadline, now))
	}
	return rest
}

// skipSettled acknowledges, without a platform request, the items whose
// command is already published (a hint settled it) and returns the
// others. A claim that cannot be read keeps its item: the poll decides.
func (p *Poller) skipSettled(ctx context.Context, items []*item) []*item {
	if !p.cfg.Hints || len(items) == 0 {
		return items
	}
	settled := make([]bool, len(items))
	var wg sync.WaitGroup
	sem := make(chan struct{}, settleParallel)
	for i, it := range items {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			cl, err := p.claims.Get(ctx, it.track.CommandID)
			settled[i] = err == nil && cl.State == queue.StateTerminal && cl.Published
		})
	}
	wg.Wait()
	rest := items[:0:0]
	for i, it := range items {
		if !settled[i] {
			rest = append(rest, it)
			continue
		}
		if !it.done.Swap(true) {
			if err := it.msg.Ack(); err != nil {
				p.log.Warn("acknowledge tracking message", it.fields(zap.Error(err))...)
			}
		}
	}
	return rest
}

// unindex deletes the orchestration's index entry after the poller settled
// its command (hints mode; best effort, the bucket's TTL is the fallback).
func (p *Poller) unindex(ctx context.Context, orchestrationID string) {
	if p.index == nil || orchestrationID == "" {
		return
	}
	if err := p.index.UnindexOrchestration(ctx, orchestrationID); err != nil {
		p.log.Debug("unindex orchestration", zap.String("orchestration_id", orchestrationID), zap.Error(err))
	}
}

// HintConfig tunes a Tailer. The zero value of every field means its default.
type HintConfig struct {
	// Owner names this replica in the lease. Required.
	Owner string
	// Source is the CloudEvents source of the terminal events. Default "txworker".
	Source string
	// Interval is the wait between two reads of the Sequencer. Default 1s.
	Interval time.Duration
	// Lease is how long the lease lasts unless renewed (every read renews
	// it); a replica that dies loses it after at most Lease. Default 5s.
	Lease time.Duration
	// Overlap is how far before the cursor every read starts, so that an
	// entry published late, with a timestamp up to Overlap before the
	// cursor, is still read. Default 2s.
	Overlap time.Duration
	// MaxPages bounds the pages of 100 entries read per round (fetched
	// up to 8 at once). Default 100.
	MaxPages int
	// GiveUp is how many rounds in a row an orchestration may fail to be
	// handled (bus or platform faults) before the cursor passes it anyway:
	// the backstop poll then finds it. Default 10.
	GiveUp int
	// MaxPause caps a pause after a platform fault (Retry-After included). Default 30s.
	MaxPause time.Duration
}

func (c HintConfig) withDefaults() HintConfig {
	if c.Source == "" {
		c.Source = "txworker"
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.Lease == 0 {
		c.Lease = 5 * time.Second
	}
	if c.Overlap == 0 {
		c.Overlap = 2 * time.Second
	}
	if c.MaxPages == 0 {
		c.MaxPages = 100
	}
	if c.GiveUp == 0 {
		c.GiveUp = 10
	}
	if c.MaxPause == 0 {
		c.MaxPause = 30 * time.Second
	}
	return c
}

// Validate reports every invalid setting at once.
func (c HintConfig) Validate() error {
	var errs []error
	d := c.withDefaults()
	if c.Owner == "" {
		errs = append(errs, errors.New("owner is required"))
	}
	if c.Interval < 0 || c.Lease < 0 || c.Overlap < 0 || c.MaxPause < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if d.Lease < 3*d.Interval {
		errs = append(errs, fmt.Errorf("lease %s: must be at least 3 intervals (%s)", d.Lease, d.Interval))
	}
	if d.MaxPages < 1 || d.GiveUp < 1 {
		errs = append(errs, errors.New("max pages and give-up must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("hints config: %w", err)
	}
	return nil
}

// Tailer tails the Sequencer while it holds the lease (see the file's
// doc). Every replica runs one; one of them reads.
type Tailer struct {
	cfg    HintConfig
	cfgErr error
	store  HintStore
	claims Claims
	bus    Settler
	plat   Platform
	seq    Sequencer
	log    *zap.Logger
	m      *metrics.Metrics
	now    func() time.Time

	cur     queue.HintCursor
	loaded  bool
	failing map[string]int // orchestrationId → rounds in a row it could not be handled
	faults  int

	// The reads since the last full one (in memory only: a new holder
	// reads in full once): clean is set when the last round read to its
	// end and handled everything, windows are what it and the clean
	// rounds before it read (see lateProbe), estimate is how many pages
	// the last read took.
	clean    bool
	windows  []readWindow
	estimate int
}

// NewTailer returns a Tailer; an invalid cfg is reported by Run.
func NewTailer(cfg HintConfig, store HintStore, claims Claims, bus Settler, plat Platform, seq Sequencer, logger *zap.Logger, m *metrics.Metrics) *Tailer {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Tailer{cfg: cfg.withDefaults(), cfgErr: cfg.Validate(), store: store, claims: claims, bus: bus, plat: plat, seq: seq,
		log: logger.Named("hints"), m: m, now: time.Now, failing: map[string]int{}}
}

// Run takes the lease when it is free and tails while it holds it, until
// ctx ends; then it gives the lease up so that another replica takes over
// at once.
func (t *Tailer) Run(ctx context.Context) error {
	if t.cfgErr != nil {
		return t.cfgErr
	}
	held := false
	defer func() {
		if held {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			if err := t.store.ReleaseLease(rctx, t.cfg.Owner); err != nil {
				t.log.Warn("release the hint lease", zap.Error(err))
			}
		}
	}()
	for ctx.Err() == nil {
		ok, err := t.store.AcquireLease(ctx, t.cfg.Owner, t.cfg.Lease, t.now())
		if err != nil && ctx.Err() == nil {
			t.log.Warn("hint lease", zap.Error(err))
		}
		switch {
		case ok && !held:
			t.log.Info("tailing the Sequencer", zap.String("owner", t.cfg.Owner))
			t.loaded = false // the cursor may have moved under another holder
		case !ok && held:
			t.log.Info("hint lease lost: another replica tails the Sequencer")
		}
		held = ok
		if !held {
			t.m.SetHintLag(0)
			backoff.Sleep(ctx, t.cfg.Lease/3)
			continue
		}
		wait := t.round(ctx)
		if t.loaded && !t.cur.At.IsZero() {
			t.m.SetHintLag(t.now().Sub(t.cur.At)) // about the overlap while it keeps up
		}
		backoff.Sleep(ctx, wait)
	}
	return nil
}

// round reads the Sequencer from the cursor minus the overlap to now
// (after a clean round, only past the end of the last read, unless a probe
// finds late records in what was read), handles the new entries and moves
// the cursor; it returns the wait before the next round.
func (t *Tailer) round(ctx context.Context) time.Duration {
	start := t.now()
	if !t.loaded {
		c, err := t.store.Cursor(ctx)
		if err != nil {
			t.log.Warn("hint cursor", zap.Error(err))
			return t.cfg.Interval
		}
		t.cur, t.loaded = c, true
		t.clean, t.windows = false, nil // what this tailer read may not match the stored cursor
	}
	to := t.now().Truncate(time.Millisecond)
	from := t.cur.At.Add(-t.cfg.Overlap)
	if t.cur.At.IsZero() {
		from = to.Add(-t.cfg.Overlap) // first start: what ended before is the backstop's
	}
	from = from.Truncate(time.Millisecond)
	// After a clean round, what the earlier reads covered is read again
	// only if a probe finds more records there than they read.
	readFrom := from
	if t.clean {
		late, ok, end, err := t.lateProbe(ctx, from)
		if err != nil {
			t.clean = false
			return t.fault(ctx, err)
		}
		if ok && !late {
			readFrom = end.Add(time.Millisecond)
		}
	}
	if readFrom.Equal(from) {
		t.windows = nil
	}
	// The pages are handled wave by wave while the next ones are read: the
	// entries that waited longest (the first of the window) are settled
	// first.
	h := t.newRoundHints()
	r := pagedRead{complete: true, consistent: true}
	if !readFrom.After(to) {
		waves := make(chan []platform.SequenceEntry, 2)
		var err error
		go func() {
			defer close(waves)
			r, err = readPages(ctx, t.seq, readFrom, to, t.cfg.MaxPages, t.estimate, func(es []platform.SequenceEntry) { waves <- es })
		}()
		for es := range waves {
			t.hintWave(ctx, h, es)
		}
		if err != nil {
			t.clean = false
			return t.fault(ctx, err)
		}
		t.estimate = r.pages
	}
	complete := r.complete
	t.faults = 0
	entries := h.sorted()
	unhandled := t.giveUp(h.failed)
	next := advance(t.cur, entries, unhandled, complete, to, t.cfg.Overlap)
	t.clean = complete && len(unhandled) == 0
	switch {
	case !t.clean:
		t.windows = nil
	case !readFrom.After(to):
		w := readWindow{from: readFrom, to: to, records: r.records}
		if !r.consistent {
			w.records = -1
		}
		t.windows = append(t.windows, w)
	}
	if next.At.Equal(t.cur.At) && len(next.Seen) == len(t.cur.Seen) {
		return t.untilNext(start)
	}
	if err := t.store.SaveCursor(ctx, &next); err != nil {
		if errors.Is(err, queue.ErrConflict) {
			t.log.Info("hint cursor moved by another tailer: read again")
		} else if ctx.Err() == nil {
			t.log.Warn("save hint cursor", zap.Error(err))
		}
		t.loaded = false
		return t.cfg.Interval
	}
	t.cur = next
	if !complete {
		return 0 // more to read
	}
	return t.untilNext(start)
}

// untilNext is the wait from now to Interval after start: rounds begin
// every Interval however long each takes (at once when one took longer),
// so that an entry waits at most Interval plus the reading of its page.
func (t *Tailer) untilNext(start time.Time) time.Duration {
	return max(t.cfg.Interval-t.now().Sub(start), 0)
}

// fault pauses the tailer after a Sequencer error: its Retry-After, else
// a back-off from Interval, at most MaxPause.
func (t *Tailer) fault(ctx context.Context, err error) time.Duration {
	if ctx.Err() != nil {
		return 0
	}
	t.faults++
	d := backoff.Policy{Base: t.cfg.Interval, Max: t.cfg.MaxPause}.Step(t.faults)
	var pe *platform.Error
	if errors.As(err, &pe) && pe.RetryAfter > 0 {
		d = pe.RetryAfter
	}
	d = min(d, t.cfg.MaxPause)
	if t.faults == 1 || t.faults%10 == 0 {
		t.log.Warn("sequencer fault: tailer paused (the id poller keeps tracking)", zap.Int("consecutive", t.faults),
			zap.Duration("pause", d), zap.Error(err))
	}
	return d
}
