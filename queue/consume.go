package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/internal/backoff"
	"go.uber.org/zap"
)

// Pull timing of Consume.
const (
	fetchWindow = 5 * time.Second // one pull request waits this long for messages
	// fetchHeartbeat is the idle heartbeat the server sends while a pull
	// request waits; two missed ones end the request (jetstream.ErrNoHeartbeat)
	// and a new one is sent: a request the server forgot (its consumer
	// leader moved, the server restarted) is not waited out.
	fetchHeartbeat = time.Second
	// After n failed pulls in a row the wait is uniform in [b/2, 3b/2] for
	// b = 100ms doubled n-1 times, at most 5s: a step of 3b/2, a third of it
	// fixed.
	fetchBackoff   = 150 * time.Millisecond  // step after the first failed pull
	fetchBackoffMx = 7500 * time.Millisecond // longest step after failed pulls
)

// Consume runs handle for the messages of the pull consumer c, at most n at
// once, until ctx ends. It pulls only as many messages as it has free
// handlers, so no message waits in a client buffer while its ack wait runs.
// Each handle runs with ctx on one of at most n reused goroutines and owns
// the message: it must Ack, NakWithDelay, InProgress or Term it (never a
// plain Nak); a message it leaves alone is redelivered after the ack wait. A
// handler that must finish a step after ctx ends (say, record a platform's
// answer) should detach with context.WithoutCancel and its own timeout.
//
// When ctx ends, Consume stops pulling, waits for the running handlers to
// return and returns nil. Pull failures (a disconnect, a server restart) are
// logged and retried with jittered back-off. It returns an error at once for
// n < 1 or a nil c or handle. A nil logger logs nothing.
func Consume(ctx context.Context, c jetstream.Consumer, n int, logger *zap.Logger, handle func(context.Context, jetstream.Msg)) error {
	return consume(ctx, c, n, logger, handle, pullTiming{window: fetchWindow, heartbeat: fetchHeartbeat})
}

// pullTiming is how long one pull request may wait and the idle heartbeat
// that shows the server still holds it.
type pullTiming struct{ window, heartbeat time.Duration }

// consume is Consume with the pull timing given.
func consume(ctx context.Context, c jetstream.Consumer, n int, logger *zap.Logger, handle func(context.Context, jetstream.Msg), pt pullTiming) error {
	if n < 1 || c == nil || handle == nil {
		return fmt.Errorf("consume: need n ≥ 1, a consumer and a handler (n=%d)", n)
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	name := ""
	if ci := c.CachedInfo(); ci != nil {
		name = ci.Stream + "/" + ci.Name
	}
	logger = logger.Named("consume").With(zap.String("consumer", name))

	slots := make(chan struct{}, n) // a value per running handler
	h := &handlers{ctx: ctx, work: make(chan jetstream.Msg), max: n, handle: handle, slots: slots}
	defer h.wait()
	retry := backoff.Policy{Base: fetchBackoff, Max: fetchBackoffMx, Floor: 3}
	failures := 0
	for {
		// Wait for one free handler, then take every other free one.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		k := 1
	more:
		for k < n {
			select {
			case slots <- struct{}{}:
				k++
			default:
				break more
			}
		}
		got, err := fetch(ctx, c, k, pt, h.run)
		for range k - got {
			<-slots
		}
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			failures = 0
			continue
		}
		failures++
		d := retry.Delay(failures)
		if errors.Is(err, jetstream.ErrNoHeartbeat) {
			logger.Warn("pull request stalled (missed heartbeats); sending a new one", zap.Duration("retry_in", d))
		} else {
			logger.Warn("pull messages", zap.Error(err), zap.Duration("retry_in", d))
		}
		if !backoff.Sleep(ctx, d) {
			return nil
		}
	}
}

// handlers runs each message's handle on one of at most max long-lived
// goroutines, whose stacks have grown to what a command needs, rather than
// a new goroutine per message.
type handlers struct {
	ctx    context.Context    // passed to handle
	work   chan jetstream.Msg // unbuffered: a send is a hand-off to an idle goroutine
	max    int
	handle func(context.Context, jetstream.Msg)
	slots  chan struct{} // released when a message's handle returns
	n      int           // goroutines started (only the fetch loop reads or writes it)
	wg     sync.WaitGroup
}

// run hands m to an idle goroutine, starting one when none is idle and
// fewer than max run. With max started, the send waits: m holds a slot, so
// at most max-1 goroutines are busy and one is about to be idle.
func (h *handlers) run(m jetstream.Msg) {
	select {
	case h.work <- m:
		return
	default:
	}
	if h.n < h.max {
		h.n++
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			for m := range h.work {
				h.handle(h.ctx, m)
				<-h.slots
			}
		}()
	}
	h.work <- m
}

// wait lets the goroutines finish what they hold and return.
func (h *handlers) wait() {
	close(h.work)
	h.wg.Wait()
}

// fetch pulls up to k messages, waiting at most pt.window, hands each to
// start as it arrives and returns how many it got. A window that ends empty
// is no error; one the server stopped answering (no heartbeat) is
// jetstream.ErrNoHeartbeat.
func fetch(ctx context.Context, c jetstream.Consumer, k int, pt pullTiming, start func(jetstream.Msg)) (int, error) {
	fctx, cancel := context.WithTimeout(ctx, pt.window)
	defer cancel()
	opts := []jetstream.FetchOpt{jetstream.FetchContext(fctx)}
	// The request expires a little before fctx; the heartbeat must fit
	// twice into what is left (a ctx about to end pulls without one).
	if dl, _ := fctx.Deadline(); pt.heartbeat > 0 && time.Until(dl) > 3*pt.heartbeat {
		opts = append(opts, jetstream.FetchHeartbeat(pt.heartbeat))
	}
	batch, err := c.Fetch(k, opts...)
	if err != nil {
		return 0, err
	}
	got := 0
	for m := range batch.Messages() {
		got++
		start(m)
	}
	err = batch.Error()
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = nil
	}
	return got, err
}

// CommandsPending returns how many commands wait for a handler: the command
// consumer's NumPending (messages not yet delivered).
func (b *Bus) CommandsPending(ctx context.Context) (uint64, error) {
	c := b.Commands()
	if c == nil {
		return 0, fmt.Errorf("commands pending: %w", errNotProvisioned)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("commands pending: %w", err)
	}
	return ci.NumPending, nil
}

// TrackingPending returns how many orchestrations are being tracked: the
// tracking consumer's NumPending plus NumAckPending (delivered messages
// waiting for their NakWithDelay to run out count as ack-pending).
func (b *Bus) TrackingPending(ctx context.Context) (uint64, error) {
	c := b.Tracking()
	if c == nil {
		return 0, fmt.Errorf("tracking pending: %w", errNotProvisioned)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("tracking pending: %w", err)
	}
	return ci.NumPending + uint64(ci.NumAckPending), nil
}
