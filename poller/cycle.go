package poller

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/txworker/txworker/internal/backoff"
	"github.com/txworker/txworker/metrics"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// cycle works one fetched batch to its end: when it returns, every message
// has been acknowledged, re-scheduled, handed back or terminated.
//
// Messages whose request met a platform fault stay in hand (kept alive with
// InProgress) and are polled again once the pause is over, so that a pause
// does not count as a delivery against their back-off and unknown limit.
// They are held at most MaxInterval from the first fault: a longer outage
// (or a permanent fault) re-schedules them with NakWithDelay past the pause,
// so that a replica that cannot reach the platform does not hoard them.
// Messages whose answer could not be read are polled again Interval later.
// No wait outlasts the nearest deadline of the messages in hand: one that
// passes while the poller is paused ends the command timed_out at once,
// without a request. On ctx cancel the rest is handed back.
func (p *Poller) cycle(ctx context.Context, msgs []jetstream.Msg) {
	items := p.decode(msgs)
	if len(items) == 0 {
		return
	}
	p.observeOldest(items)
	work, stopWork := p.workContext(ctx)
	defer stopWork()
	stopKeep := p.keepAlive(items)
	defer stopKeep()
	items = p.refuseInvalid(work, items)
	items = p.deferFirst(items)
	items = p.skipSettled(work, items)
	var held time.Time // since when items are held past a fault
	for len(items) > 0 {
		now := p.now()
		if items = p.expire(work, items, now); len(items) == 0 {
			return
		}
		if pause := p.pause(now); pause > 0 {
			if held.IsZero() {
				held = now
			}
			if now.Add(pause).Sub(held) >= p.cfg.MaxInterval {
				p.reschedule(items, pause, now)
				return
			}
			if !p.hold(ctx, items, pause) {
				p.handBack(items)
				return
			}
			continue
		}
		if ctx.Err() != nil {
			p.handBack(items)
			return
		}
		if items = p.pollAll(ctx, work, items); len(items) == 0 {
			return
		}
		if held.IsZero() {
			held = p.now()
		}
		if p.pause(p.now()) <= 0 && !p.hold(ctx, items, p.cfg.Interval) { // unreadable answers
			p.handBack(items)
			return
		}
	}
}

// hold waits d, but not past the nearest deadline of items; false means
// ctx ended.
func (p *Poller) hold(ctx context.Context, items []*item, d time.Duration) bool {
	now := p.now()
	for _, it := range items {
		if dl := it.track.Deadline; !dl.IsZero() {
			d = min(d, max(dl.Sub(now), 0))
		}
	}
	if d <= 0 {
		return ctx.Err() == nil
	}
	return backoff.Sleep(ctx, d)
}

// sweep works messages fetched while the poller is paused, without a
// platform request: an invalid orchestrationId or a deadline that has passed
// ends the command; the others are re-scheduled past the pause (see
// reschedule). Messages come due during a pause at their deadline (no delay
// reaches past it), so the command ends on time whatever the pause.
func (p *Poller) sweep(ctx context.Context, msgs []jetstream.Msg) {
	items := p.decode(msgs)
	if len(items) == 0 {
		return
	}
	work, stopWork := p.workContext(ctx)
	defer stopWork()
	items = p.refuseInvalid(work, items)
	now := p.now()
	items = p.expire(work, items, now)
	p.reschedule(items, p.pause(now), now)
}

// decode turns messages into items; an undecodable message (or one without
// its commandId) cannot become an event and is terminated.
func (p *Poller) decode(msgs []jetstream.Msg) []*item {
	items := make([]*item, 0, len(msgs))
	for _, msg := range msgs {
		it := &item{msg: msg}
		meta, err := msg.Metadata()
		if err == nil {
			it.polls = int(meta.NumDelivered)
			if p.cfg.Hints {
				it.polls-- // hints mode: the first delivery makes no request (deferFirst)
			}
			err = queue.DecodeTrack(msg.Data(), &it.track)
		}
		if err == nil && it.track.CommandID == "" {
			err = errMissingIDs // an event needs its commandId (an invalid orchestrationId ends the command: refuseInvalid)
		}
		if err != nil {
			n := p.dropped.Add(1)
			p.log.Error("undecodable tracking message terminated",
				zap.String("subject", msg.Subject()), zap.Uint64("dropped_total", n), zap.Error(err))
			if err := msg.TermWithReason("undecodable tracking message"); err != nil {
				p.log.Warn("terminate tracking message", zap.Error(err))
			}
			continue
		}
		items = append(items, it)
	}
	return items
}

// pollAll sends one request per group of items, at most Parallel at once,
// and returns the items to poll again after a pause. Once a request has met
// a fault, the requests not yet sent are not sent, and after the pause the
// first request probes alone. On ctx cancel the items not yet sent (and
// those to poll again) are handed back.
func (p *Poller) pollAll(ctx, work context.Context, items []*item) []*item {
	size := p.cfg.BatchSize
	if p.cfg.Naive {
		size = 1
	}
	reqs := assemble(items, size)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		retry []*item
		sem   = make(chan struct{}, p.cfg.Parallel)
	)
	again := func(its []*item) {
		mu.Lock()
		retry = append(retry, its...)
		mu.Unlock()
	}
	for i, r := range reqs {
		acquired := false
		select {
		case sem <- struct{}{}:
			acquired = ctx.Err() == nil
		case <-ctx.Done():
		}
		if !acquired || p.pause(p.now()) > 0 {
			if acquired {
				<-sem
			}
			for _, rest := range reqs[i:] {
				again(rest.items)
			}
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			again(p.poll(work, r))
		})
		if p.gate.probing() {
			wg.Wait() // after a fault, one request at a time until one is answered
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		p.handBack(retry)
		return nil
	}
	return retry
}

// poll sends one request and settles or re-schedules its items; it returns
// the items to poll again: after a pause, or (an answer that could not be
// read) after Interval.
func (p *Poller) poll(ctx context.Context, r request) []*item {
	ctx, span := p.startBatch(ctx, r)
	defer span.End()
	orchs, err := p.plat.Orchestrations(ctx, r.ids)
	p.m.Poll(len(r.ids))
	if err != nil {
		for _, it := range r.items {
			it.lastFault = err
		}
		p.fault(ctx, metrics.StagePoll, err, len(r.ids))
		return r.items
	}
	p.answered()
	byID := make(map[string]platform.Orchestration, len(orchs))
	for _, o := range orchs {
		if prev, dup := byID[o.OrchestrationID]; !dup || prev.Unreadable != nil && o.Unreadable == nil {
			byID[o.OrchestrationID] = o
		}
	}
	now := p.now()
	var again []*item
	var failed []ended
	var settling sync.WaitGroup
	sem := make(chan struct{}, settleParallel) // settle ended items concurrently
	for _, it := range r.items {
		it.polled = true
		o, found := byID[it.track.OrchestrationID]
		var s step
		if found && o.Unreadable != nil {
			it.lastFault = o.Unreadable
			if it.unreadable++; it.unreadable < unreadableTries && (it.track.Deadline.IsZero() || now.Before(it.track.Deadline)) {
				p.log.Warn("answer about the orchestration unreadable: polled again", it.fields(
					zap.Int("in_a_row", it.unreadable), zap.Error(o.Unreadable))...)
				again = append(again, it)
				continue
			}
			s = unreadableStep(it.track, it.polls, o, now)
		} else {
			it.lastFault, it.unreadable = nil, 0
			s = p.decide(it.track, it.polls, o, found, now)
		}
		if s.detail {
			failed = append(failed, ended{it, o, s})
			continue
		}
		if !s.settle {
			p.apply(ctx, it, s)
			continue
		}
		sem <- struct{}{}
		settling.Go(func() { defer func() { <-sem }(); p.apply(ctx, it, s) })
	}
	settling.Wait()
	if len(failed) > 0 {
		again = append(again, p.details(ctx, failed)...)
	}
	return again
}

// settleParallel is how many ended items of one request are settled at once
// (each settle is four JetStream round trips).
const settleParallel = 16

// ended is an item whose orchestration ended failed or dlq.
type ended struct {
	it *item
	o  platform.Orchestration
	s  step
}

// details finds the failing step of ended orchestrations (≤10 per request)
// and settles their items. After a transient fault the items are polled
// again (at most detailTries times); after a permanent one, or then, they
// are settled without the step.
func (p *Poller) details(ctx context.Context, es []ended) []*item {
	ids := make([]string, 0, len(es))
	seen := make(map[string]bool, len(es))
	for _, e := range es {
		if !seen[e.o.OrchestrationID] {
			seen[e.o.OrchestrationID] = true
			ids = append(ids, e.o.OrchestrationID)
		}
	}
	var txs []platform.Transaction
	var failure error
	for _, c := range chunks(ids, 10) {
		got, err := p.plat.Transactions(ctx, platform.TransactionFilter{OrchestrationIDs: c})
		if err != nil {
			failure = err
			break
		}
		txs = append(txs, got...)
	}
	if failure != nil && p.fault(ctx, metrics.StageDetail, failure, len(ids)) {
		var retry []*item
		for _, e := range es {
			if e.it.detailFaults++; e.it.detailFaults < detailTries || ctx.Err() != nil {
				retry = append(retry, e.it)
				continue
			}
			p.log.Warn("failing step unknown: settling without it", e.it.fields(zap.Error(failure))...)
			p.apply(ctx, e.it, e.s)
		}
		return retry
	}
	if failure == nil {
		p.answered()
	}
	for _, e := range es {
		e.s.result = withFailedStep(e.s.result, e.o, txs)
		p.apply(ctx, e.it, e.s)
	}
	return nil
}

// keepAlive tells the server every AckWait/3 (keepAliveEvery, which
// follows the consumer's AckWait) that the items not yet done are being
// worked on, until the returned stop is called. It runs through the whole
// cycle: pauses, Retry-After holds, slow requests, settles.
func (p *Poller) keepAlive(items []*item) (stop func()) {
	return queue.KeepAlive(p.keepAliveEvery, func() {
		for _, it := range items {
			if !it.done.Load() {
				_ = it.msg.InProgress() // a lost one only means an earlier redelivery
			}
		}
	})
}

// workContext is the context of the platform and bus calls of a cycle: it
// survives ctx's cancel by shutdownGrace, so that requests in flight at
// shutdown can still finish.
func (p *Poller) workContext(ctx context.Context) (context.Context, func()) {
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var mu sync.Mutex
	var timer *time.Timer
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		timer = time.AfterFunc(shutdownGrace, cancel)
		mu.Unlock()
	})
	return work, func() {
		stop()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// handBack re-schedules unfinished items at once for any replica.
func (p *Poller) handBack(items []*item) {
	for _, it := range items {
		p.nak(it, handBackDelay)
	}
}

// observeOldest sets the oldest-tracked gauge from the batch in hand.
func (p *Poller) observeOldest(items []*item) {
	var oldest time.Time
	for _, it := range items {
		if a := it.track.AcceptedAt; !a.IsZero() && (oldest.IsZero() || a.Before(oldest)) {
			oldest = a
		}
	}
	if !oldest.IsZero() {
		p.m.SetOldestTracked(max(p.now().Sub(oldest), 0))
	}
}
