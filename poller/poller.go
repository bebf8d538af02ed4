package poller

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/txworker/txworker/internal/backoff"
	"github.com/txworker/txworker/metrics"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// Platform is what the poller needs of the Corastone client
// (*platform.Corastone implements it).
type Platform interface {
	// Orchestrations returns the orchestrations among ids (at most 50) that
	// the platform knows; unknown ids are absent from the answer.
	Orchestrations(ctx context.Context, ids []string) ([]platform.Orchestration, error)
	// Transactions returns the transactions matching f.
	Transactions(ctx context.Context, f platform.TransactionFilter) ([]platform.Transaction, error)
	// Held reports how much longer the client holds every request to api
	// (platform.APITransactions here) after a Retry-After, and the answer
	// that started the hold.
	Held(api string) (time.Duration, *platform.Error)
}

const (
	// handBackDelay re-schedules messages left unfinished at shutdown, so
	// that another replica takes them at once.
	handBackDelay = 100 * time.Millisecond
	// shutdownGrace is how long requests in flight at shutdown may still
	// take before their messages are handed back.
	shutdownGrace = 2 * time.Second
	// trackedEvery is the period of the tracked-orchestrations gauge.
	trackedEvery = 5 * time.Second
	// defaultAckWait is assumed until the consumer's AckWait is known: the
	// service's default.
	defaultAckWait = queue.DefaultTrackingAckWait
	// maxCycles is how many fetched batches are worked at once.
	maxCycles = 3
	// detailTries bounds the transient faults tolerated while looking up the
	// failing step of an ended orchestration; then it is settled without.
	detailTries = 3
)

// Poller tracks orchestrations through the tracking consumer of the bus.
// Every replica runs one; they share the work through the consumer.
type Poller struct {
	cfg    Config
	cfgErr error
	bus    Bus
	claims Claims
	plat   Platform
	log    *zap.Logger
	m      *metrics.Metrics
	gate   gate
	index  Unindexer // hints mode: the orchestration index (EnableHints)

	now  func() time.Time
	rand func(n int64) int64 // uniform in [0, n)

	ackWait time.Duration // assumed until the consumer's is read
	// liveAckWait is the consumer's AckWait as last read from the server
	// (0: not read yet); see currentAckWait.
	liveAckWait atomic.Int64
	dropped     atomic.Uint64 // undecodable tracking messages terminated
}

// New returns a Poller over bus and its claim store (a *queue.Bus and its
// Claims() in the service) with cfg's defaults applied. An invalid cfg is reported by Run (call cfg.Validate at
// start-up to report it earlier). A nil logger discards logs; nil metrics
// discard measurements.
func New(cfg Config, bus Bus, claims Claims, p Platform, logger *zap.Logger, m *metrics.Metrics) *Poller {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Poller{
		cfg:     cfg.withDefaults(),
		cfgErr:  cfg.Validate(),
		bus:     bus,
		claims:  claims,
		plat:    p,
		log:     logger.Named("poller"),
		m:       m,
		now:     time.Now,
		rand:    func(n int64) int64 { return rand.Int64N(max(n, 1)) },
		ackWait: defaultAckWait,
	}
}

// Dropped is the number of undecodable tracking messages terminated so far:
// commands that cannot get a terminal event from the poller.
func (p *Poller) Dropped() uint64 { return p.dropped.Load() }

// Run polls until ctx is cancelled, then stops fetching, finishes or hands
// back the messages in hand (see the package doc) and returns nil. It
// returns an error only for an invalid Config or a bus not provisioned. Run
// may be called once per Poller.
func (p *Poller) Run(ctx context.Context) error {
	if p.cfgErr != nil {
		return p.cfgErr
	}
	cons := p.bus.Tracking()
	if cons == nil {
		return errors.New("poller: tracking consumer not bound: provision the bus first")
	}
	p.liveAckWait.Store(int64(ackWaitOf(ctx, cons, p.ackWait)))
	var wg sync.WaitGroup
	wg.Go(func() { p.reportTracked(ctx) })
	defer wg.Wait()

	p.log.Info("poller started",
		zap.Duration("interval", p.cfg.Interval), zap.Duration("max_interval", p.cfg.MaxInterval),
		zap.Int("batch_size", p.cfg.BatchSize), zap.Int("parallel", p.cfg.Parallel), zap.Bool("naive", p.cfg.Naive))
	fetchFaults := 0
	// Up to maxCycles cycles in flight: the next batch is fetched while
	// the previous one's requests and settles run.
	cycles := make(chan struct{}, maxCycles)
	for ctx.Err() == nil {
		// Fetching goes on while the poller is paused (one message at a
		// time, see fetchMax): the messages that come due then are swept,
		// so that a deadline ends its command whatever the pause.
		msgs, err := p.fetch(cons, p.fetchMax())
		if len(msgs) > 0 {
			p.dispatch(ctx, &wg, cycles, msgs)
		}
		if err == nil {
			fetchFaults = 0
			continue
		}
		fetchFaults++
		if fetchFaults == 1 || fetchFaults%20 == 0 {
			p.log.Warn("tracking fetch", zap.Int("consecutive", fetchFaults), zap.Error(err))
		}
		backoff.Sleep(ctx, min(time.Duration(fetchFaults)*200*time.Millisecond, 5*time.Second))
	}
	p.log.Info("poller stopped")
	return nil
}

// fetchMax is how many messages to fetch: FetchMax, but a single one while
// the platform is faulty (its poll probes the platform) or the client holds
// its requests, so that a replica that cannot reach the platform takes
// almost no work from the others.
func (p *Poller) fetchMax() int {
	if p.gate.probing() || p.pause(p.now()) > 0 {
		return 1
	}
	return p.cfg.FetchMax
}

// fetch returns the tracking messages due now or within FetchWait, at most
// n. Messages are returned even along with an error.
func (p *Poller) fetch(cons jetstream.Consumer, n int) ([]jetstream.Msg, error) {
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(p.cfg.FetchWait))
	if err != nil {
		return nil, err
	}
	var msgs []jetstream.Msg
	for msg := range batch.Messages() {
		msgs = append(msgs, msg)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
		return msgs, err
	}
	return msgs, nil
}

// ackWaitOf returns the consumer's AckWait, as the server has it now if it
// answers, else as bound, else fallback.
func ackWaitOf(ctx context.Context, cons jetstream.Consumer, fallback time.Duration) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	info, err := cons.Info(ctx)
	if err != nil {
		info = cons.CachedInfo()
	}
	if info == nil || info.Config.AckWait <= 0 {
		return fallback
	}
	return info.Config.AckWait
}

// currentAckWait is the tracking consumer's AckWait as the poller last saw
// it. It is read again every trackedEvery, so that a consumer updated while
// the poller runs (a rollout that changes TXWORKER_TRACKING_ACK_WAIT, an
// operator's edit) gets keep-alives at its new pace.
func (p *Poller) currentAckWait() time.Duration {
	if d := time.Duration(p.liveAckWait.Load()); d > 0 {
		return d
	}
	return p.ackWait
}

// keepAliveEvery is how often messages in hand get InProgress: a third of
// the ack wait, so that one lost keep-alive does not lose the message.
func (p *Poller) keepAliveEvery() time.Duration {
	return max(p.currentAckWait()/3, 10*time.Millisecond)
}

// dispatch starts a cycle for msgs once one of the cycles slots is free;
// while the poller is paused (or becomes paused while it waits for a slot)
// it sweeps them instead, at once. On ctx cancel msgs are handed back.
//
// A batch that waits for a slot is kept alive with InProgress like the
// batches being worked, so that it is not redelivered meanwhile.
func (p *Poller) dispatch(ctx context.Context, wg *sync.WaitGroup, cycles chan struct{}, msgs []jetstream.Msg) {
	var tick *time.Ticker
	stopKeep := func() {}
	defer func() { stopKeep() }()
	for {
		if p.pause(p.now()) > 0 {
			stopKeep()
			p.sweep(ctx, msgs)
			return
		}
		if tick == nil {
			select {
			case cycles <- struct{}{}:
				wg.Go(func() { defer func() { <-cycles }(); p.cycle(ctx, msgs) })
				return
			default:
			}
			tick = time.NewTicker(sweepEvery)
			defer tick.Stop()
			stopKeep = queue.KeepAlive(p.keepAliveEvery, func() {
				for _, m := range msgs {
					_ = m.InProgress() // a lost one only means an earlier redelivery
				}
			})
		}
		select {
		case cycles <- struct{}{}:
			wg.Go(func() { defer func() { <-cycles }(); p.cycle(ctx, msgs) })
			return
		case <-tick.C:
		case <-ctx.Done():
			stopKeep()
			for _, m := range msgs {
				_ = m.NakWithDelay(handBackDelay) // lost: redelivered after AckWait
			}
			return
		}
	}
}

// sweepEvery is how often a fetched batch waiting for a cycle slot checks
// whether the poller has been paused meanwhile.
const sweepEvery = 500 * time.Millisecond

// reportTracked keeps the tracked-orchestrations gauge and the ack wait
// (currentAckWait) current until ctx ends.
func (p *Poller) reportTracked(ctx context.Context) {
	t := time.NewTicker(trackedEvery)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		n, err := p.bus.TrackingPending(qctx)
		cancel()
		if err == nil {
			p.m.SetTracked(n)
			if n == 0 {
				p.m.SetOldestTracked(0)
			}
		}
		if cons := p.bus.Tracking(); cons != nil {
			ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
			info, err := cons.Info(ictx)
			cancel()
			if err == nil && info.Config.AckWait > 0 {
				p.liveAckWait.Store(int64(info.Config.AckWait))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
