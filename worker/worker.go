package worker

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/txworker/txworker/metrics"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// Corastone is what the worker needs of the Corastone client.
type Corastone interface {
	// Execute sends one action with the given processId.
	Execute(ctx context.Context, req *platform.Request, processID string) (platform.Accepted, error)
	// FindProcess reports whether the platform knows processID, and its orchestration.
	FindProcess(ctx context.Context, processID string) (orchestrationID string, found bool, err error)
}

// JourneyManager is what the worker needs of the Journey Manager client.
type JourneyManager interface {
	// Cancel abandons a transaction and returns its form status.
	Cancel(ctx context.Context, req *platform.Request) (formStatus string, err error)
}

// Worker handles command messages. It keeps no state of its own between
// messages beyond the per-platform pause: everything lives in the bus.
type Worker struct {
	cfg     Config
	bus     Bus
	claims  Claims
	cs      Corastone
	jm      JourneyManager
	log     *zap.Logger
	m       *metrics.Metrics
	breaker *breaker
	tracer  trace.Tracer // nil: no spans (Config.TracerProvider nil)
	now     func() time.Time
	index   OrchestrationIndex // hints mode (IndexOrchestrations)
}

// New returns a Worker over bus and its claim store (for a *queue.Bus b:
// New(cfg, b, b.Claims(), …)). jm may be nil: cancel-txn commands are then
// rejected as disabled. A nil logger discards logs; nil metrics are
// registered on a private registry.
func New(cfg Config, bus Bus, claims Claims, cs Corastone, jm JourneyManager, logger *zap.Logger, m *metrics.Metrics) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	if m == nil {
		m = metrics.New(prometheus.NewRegistry())
	}
	cfg = cfg.withDefaults()
	log := logger.Named("worker")
	w := &Worker{cfg: cfg, bus: bus, claims: claims, cs: cs, jm: jm, log: log, m: m, now: time.Now}
	if cfg.TracerProvider != nil {
		w.tracer = cfg.TracerProvider.Tracer(TracerName)
	}
	w.breaker = newBreaker(cfg.PauseAfter, cfg.PauseFor, log, m, func() time.Time { return w.now() })
	return w, nil
}

// Run consumes commands with at most Config.Concurrency handled at once
// until ctx is cancelled, then waits for the handlers in flight (each is
// bounded by CallTimeout) and returns.
func (w *Worker) Run(ctx context.Context) error {
	go w.reportLag(ctx)
	return queue.Consume(ctx, w.bus.Commands(), w.cfg.Concurrency, w.log, w.Handle)
}

func (w *Worker) reportLag(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		if n, err := w.bus.CommandsPending(ctx); err == nil {
			w.m.SetCommandsPending(n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Handle processes one command message and acknowledges, terminates or
// re-schedules it. It is safe for concurrent use. Work already begun is
// finished even when ctx is cancelled (shutdown), within CallTimeout.
func (w *Worker) Handle(ctx context.Context, msg jetstream.Msg) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.CallTimeout+10*time.Second)
	defer cancel()
	var h *handling
	defer func() {
		if r := recover(); r != nil {
			w.panicked(ctx, msg, h, r)
		}
	}()
	meta, err := msg.Metadata()
	if err != nil {
		w.log.Error("command without JetStream metadata", zap.Error(err))
		_ = msg.TermWithReason("no metadata")
		return
	}
	in := w.inputOf(msg, meta)
	ctx, span, tr := w.startProcess(ctx, msg, meta, in.action)
	defer span.End()
	p := decode(in, limits{maxBytes: w.cfg.MaxCommandBytes, maxAhead: w.cfg.MaxDeadlineAhead})
	if meta.NumDelivered == 1 {
		w.m.CommandReceived(in.action)
	}
	if p.reason == "" && p.action.Platform == platform.JourneyManager && w.jm == nil {
		p.reject(reasonUnknownAction, "action cancel-txn is disabled: no Journey Manager is configured")
	}
	// WithLazy: under load the sampler drops most lines, so the fields are
	// encoded only for a line that is written.
	log := w.log.WithLazy(zap.String("command_id", p.commandID), zap.String("action", in.action))
	h = &handling{w: w, msg: msg, meta: meta, p: p, log: log, token: uuid.NewString(), trace: tr}
	if p.derived {
		if err := w.confirmDerived(ctx, &in, p, meta); err != nil {
			h.retryLater(ctx, "derive command id", err)
			return
		}
		h.log = w.log.WithLazy(zap.String("command_id", p.commandID), zap.String("action", in.action))
	}
	annotate(span, msg, p, in.action)
	if p.reason != "" {
		h.reject(ctx, in)
		return
	}
	h.start(ctx)
}

// inputOf is what decode reads of a message: the action token checked by
// actionToken, the body, headers, stream sequence and timestamp, and the
// commands stream's creation time for a derived id.
func (w *Worker) inputOf(msg jetstream.Msg, meta *jetstream.MsgMetadata) input {
	subject := msg.Subject()
	action, rest := actionToken(w.bus.Prefix(), subject)
	return input{
		action: action, token: rest, subject: subject, body: msg.Data(), hdr: msg.Headers(),
		seq: meta.Sequence.Stream, received: meta.Timestamp, created: w.bus.CommandsCreated(),
	}
}

// confirmDerived makes sure that a derived commandId names this message and
// no other. The id carries the commands stream's creation time as recorded
// when the Bus was bound; after the stream was deleted and re-created
// (sequences restart at 1) that record may be stale until the Bus is bound
// again, and the id would then be the one of a message of the old stream.
// That shows as a claim under the id for another message (its sequence or
// timestamp differ), or as a message older than the recorded creation: the
// creation time is then looked up again and the id derived anew.
func (w *Worker) confirmDerived(ctx context.Context, in *input, p *parsed, meta *jetstream.MsgMetadata) error {
	for range 2 {
		if !in.created.IsZero() && !meta.Timestamp.Before(in.created) {
			stored, err := w.claims.Get(ctx, p.commandID)
			switch {
			case errors.Is(err, queue.ErrNotFound):
				return nil
			case err != nil:
				return err
			case stored.StreamSeq == meta.Sequence.Stream && stored.ReceivedAt.Equal(meta.Timestamp):
				return nil // this message's own claim: a redelivery
			}
		}
		created, err := w.bus.RefreshCommandsCreated(ctx)
		if err != nil {
			return err
		}
		if created.Equal(in.created) {
			return nil // nothing better is known
		}
		w.log.Info("commands stream was re-created; derived ids follow its new creation time",
			zap.Time("was", in.created), zap.Time("now", created))
		in.created = created
		p.commandID = derivedID(created, in.seq)
	}
	return nil
}
