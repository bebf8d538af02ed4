package poller

// The tailer's handling of a page: the hinted orchestrations fetched in
// batches and the ended ones settled, first writer wins.

import (
	"context"
	"errors"
	"sync"

	"go.uber.org/zap"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// due is a tracked command that a hint made due.
type due struct {
	orchestrationID string
	claim           *queue.Claim
}

// roundHints is what one round has handled so far: the new entries (for
// the cursor), the orchestrations hinted at, and those that could not be
// handled.
type roundHints struct {
	seen    map[string]bool // the cursor's keys
	in      map[string]bool // the keys taken this round
	entries []keyed
	hinted  map[string]bool
	failed  map[string]bool
}

func (t *Tailer) newRoundHints() *roundHints {
	h := &roundHints{seen: make(map[string]bool, len(t.cur.Seen)), in: map[string]bool{},
		hinted: map[string]bool{}, failed: map[string]bool{}}
	for _, k := range t.cur.Seen {
		h.seen[k] = true
	}
	return h
}

// sorted is the round's new entries in time order.
func (h *roundHints) sorted() []keyed {
	sortByTime(h.entries)
	return h.entries
}

// hintWave handles the new entries of a wave of pages: it makes due the
// tracked orchestrations they hint at (each once a round) and settles the
// ended ones; those that could not be handled join h.failed.
func (t *Tailer) hintWave(ctx context.Context, h *roundHints, wave []platform.SequenceEntry) {
	entries := newEntries(wave, h.seen, h.in)
	h.entries = append(h.entries, entries...)
	var ids []string
	for _, k := range entries {
		if hinting(k.e) && !h.hinted[k.e.OrchestrationID] {
			h.hinted[k.e.OrchestrationID] = true
			ids = append(ids, k.e.OrchestrationID)
		}
	}
	var mu sync.Mutex
	fail := func(id string, err error) {
		mu.Lock()
		h.failed[id] = true
		mu.Unlock()
		t.log.Debug("hint not handled", zap.String("orchestration_id", id), zap.Error(err))
	}
	// Look the ids up in the index: entries of other systems are skipped.
	var dues []due
	var wg sync.WaitGroup
	sem := make(chan struct{}, hintParallel)
	for _, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if platform.ValidID(id) != nil {
				return // cannot be asked about; not one the worker tracks
			}
			cmd, err := t.store.LookupOrchestration(ctx, id)
			if errors.Is(err, queue.ErrNotFound) {
				return
			}
			if err != nil {
				fail(id, err)
				return
			}
			cl, err := t.claims.Get(ctx, cmd)
			switch {
			case errors.Is(err, queue.ErrNotFound):
				return // expired: the tracking message recreates it
			case err != nil:
				fail(id, err)
				return
			case cl.State == queue.StateTerminal && cl.Published:
				_ = t.store.UnindexOrchestration(ctx, id)
				return
			case cl.OrchestrationID != id:
				return
			}
			mu.Lock()
			dues = append(dues, due{id, cl})
			mu.Unlock()
		})
	}
	wg.Wait()
	t.settleDue(ctx, dues, fail)
}

// giveUp returns the orchestrations of failed whose entries the cursor
// must not pass: all but those that failed GiveUp rounds in a row.
func (t *Tailer) giveUp(failed map[string]bool) map[string]bool {
	out := map[string]bool{}
	for id := range failed {
		if t.failing[id]++; t.failing[id] < t.cfg.GiveUp {
			out[id] = true
			continue
		}
		t.log.Warn("hint given up after repeated faults: the id poller tracks it", zap.String("orchestration_id", id))
	}
	for id := range t.failing {
		if !failed[id] || !out[id] {
			delete(t.failing, id)
		}
	}
	return out
}

// settleDue asks the Transactions API about the due orchestrations (at
// most 50 per request, up to hintFetchParallel requests at once) and settles the ended ones through Settle, first
// writer wins: the tracking message that comes back later finds its
// command published and is acknowledged.
func (t *Tailer) settleDue(ctx context.Context, dues []due, fail func(string, error)) {
	byID := make(map[string][]due, len(dues))
	ids := make([]string, 0, len(dues))
	for _, d := range dues {
		if _, ok := byID[d.orchestrationID]; !ok {
			ids = append(ids, d.orchestrationID)
		}
		byID[d.orchestrationID] = append(byID[d.orchestrationID], d)
	}
	var cw sync.WaitGroup
	csem := make(chan struct{}, hintFetchParallel)
	for _, chunk := range chunks(ids, MaxBatchSize) {
		csem <- struct{}{}
		cw.Go(func() {
			defer func() { <-csem }()
			t.settleChunk(ctx, chunk, byID, fail)
		})
	}
	cw.Wait()
}

// hintParallel bounds the index look-ups and the settles of one wave run
// at once: each is a chain of bus round trips, and a wave holds a few
// hundred orchestrations whose hints wait on the slowest chain.
const hintParallel = 64

// hintFetchParallel bounds the Transactions API requests of one round's
// hinted orchestrations sent at once.
const hintFetchParallel = 4

// settleChunk asks about up to 50 hinted orchestrations and settles the
// ended ones.
func (t *Tailer) settleChunk(ctx context.Context, chunk []string, byID map[string][]due, fail func(string, error)) {
	orchs, err := t.plat.Orchestrations(ctx, chunk)
	t.m.Poll(len(chunk))
	if err != nil {
		for _, id := range chunk {
			fail(id, err)
		}
		return
	}
	var ended []platform.Orchestration
	for _, o := range orchs {
		if o.Unreadable == nil && o.Terminal() && byID[o.OrchestrationID] != nil {
			ended = append(ended, o)
		}
	}
	txs := t.failedSteps(ctx, ended)
	now := t.now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, hintParallel)
	for _, o := range ended {
		r := terminalResult(o, 0, now)
		if o.Status != statusSuccess {
			r = withFailedStep(r, o, txs)
		}
		for _, d := range byID[o.OrchestrationID] {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := t.settle(ctx, d, r); err != nil {
					fail(d.orchestrationID, err)
				}
			})
		}
	}
	wg.Wait()
}

// failedSteps looks up the transactions of the orchestrations that ended
// failed or dlq (≤10 per request); a fault leaves the step out.
func (t *Tailer) failedSteps(ctx context.Context, ended []platform.Orchestration) []platform.Transaction {
	var ids []string
	for _, o := range ended {
		if o.Status != statusSuccess {
			ids = append(ids, o.OrchestrationID)
		}
	}
	var txs []platform.Transaction
	for _, c := range chunks(ids, 10) {
		got, err := t.plat.Transactions(ctx, platform.TransactionFilter{OrchestrationIDs: c})
		if err != nil {
			t.log.Warn("failing step unknown: settling without it", zap.Error(err))
			continue
		}
		txs = append(txs, got...)
	}
	return txs
}

func (t *Tailer) settle(ctx context.Context, d due, r queue.Result) error {
	stored, published, err := t.bus.Settle(ctx, t.cfg.Source, d.claim, r)
	if err != nil {
		return err
	}
	if published {
		t.m.Terminal(stored.Action, stored.Outcome, t.now().Sub(stored.ReceivedAt))
		t.m.EventPublished(stored.Outcome)
		t.log.Info("command ended (hinted)", zap.String("command_id", stored.CommandID),
			zap.String("orchestration_id", d.orchestrationID), zap.String("outcome", stored.Outcome))
	}
	if err := t.store.UnindexOrchestration(ctx, d.orchestrationID); err != nil {
		t.log.Debug("unindex orchestration", zap.String("orchestration_id", d.orchestrationID), zap.Error(err))
	}
	return nil
}
