package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/internal/backoff"
	"go.uber.org/zap"
)

// Provisioning timing: each JetStream API request of Provision waits at
// most provisionAttempt (creating a replicated stream while the cluster is
// still forming can take a while), and a step that failed for a reason
// that may pass is tried again after a wait growing from 250ms to 5s,
// until Config.StartTimeout is spent.
const provisionAttempt = 10 * time.Second

var provisionRetry = backoff.Policy{Base: 250 * time.Millisecond, Max: 5 * time.Second, Floor: 2}

// Provision makes sure the streams, consumers and bucket exist and binds the
// Bus to them, within Config.StartTimeout (or ctx, when it ends first).
//
// With Config.Provision it takes each in turn: it looks it up, creates it
// when absent and, when it exists, compares its settings with the
// configuration in the package doc and updates it only when they differ. A
// create that loses the race against another replica's (already exists)
// looks up and compares again. This is safe when any number of replicas run
// it at once. Without Config.Provision it only checks, and returns one error
// naming everything missing; settings that differ from the design are
// logged as warnings.
//
// A step that fails for a reason that may pass (no responders, a timeout,
// no leader yet, peers still joining) is retried with back-off; a refusal
// (an incompatible existing stream, an invalid setting) ends Provision at
// once. When the budget is spent the error names the step it waited for
// and its last error.
func (b *Bus) Provision(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.StartTimeout)
	defer cancel()
	var err error
	if b.cfg.Provision {
		err = b.create(ctx)
	} else {
		err = b.check(ctx)
	}
	if err != nil {
		return err
	}
	return b.bind(ctx)
}

// errRaced is a create that found the resource created meanwhile by
// someone else: look it up and compare again at once.
var errRaced = errors.New("created concurrently")

// step runs op until it succeeds, fails for good or ctx ends. what names
// the step in the error: "provision stream TXWORKER_EVENTS".
func (b *Bus) step(ctx context.Context, what string, op func(context.Context) error) error {
	start := time.Now()
	var last error
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, provisionAttempt)
		err := op(actx)
		cancel()
		raced := errors.Is(err, errRaced)
		switch {
		case err == nil:
			return nil
		case !raced && !transient(err):
			return fmt.Errorf("%s: %w", what, err)
		}
		if ctx.Err() == nil || last == nil || !errors.Is(err, ctx.Err()) {
			last = err // else the budget cut this attempt short: the previous answer says more
		}
		if ctx.Err() == nil {
			d := provisionRetry.Delay(attempt)
			if !raced {
				b.logger.Info("jetstream not ready yet; retrying", zap.String("step", what),
					zap.Int("attempt", attempt), zap.Error(err), zap.Duration("retry_in", d))
			}
			if backoff.Sleep(ctx, d) {
				continue
			}
		}
		return fmt.Errorf("%s: gave up after %s and %d attempts (start timeout %s): %w; last error: %w",
			what, time.Since(start).Round(time.Millisecond), attempt, b.cfg.StartTimeout, context.Cause(ctx), last)
	}
}

// create makes every stream, consumer and the bucket exist as designed.
func (b *Bus) create(ctx context.Context) error {
	for _, sc := range b.streamConfigs() {
		if err := b.step(ctx, "provision stream "+sc.Name, func(ctx context.Context) error {
			return b.ensureStream(ctx, sc)
		}); err != nil {
			return err
		}
	}
	for _, cs := range b.consumerSpecs() {
		if err := b.step(ctx, fmt.Sprintf("provision consumer %s on %s", cs.cfg.Durable, cs.stream), func(ctx context.Context) error {
			return b.ensureConsumer(ctx, cs)
		}); err != nil {
			return err
		}
	}
	kc := b.kvConfig()
	if err := b.step(ctx, "provision key-value bucket "+kc.Bucket, func(ctx context.Context) error {
		return b.ensureBucket(ctx, kc)
	}); err != nil {
		return err
	}
	b.logger.Info("jetstream provisioned",
		zap.String("commands", b.names.commands), zap.String("events", b.names.events),
		zap.String("tracking", b.names.tracking), zap.String("state", b.names.state),
		zap.Int("replicas", b.cfg.Replicas))
	return nil
}

// ensureStream creates want when absent and updates it when its settings
// differ.
func (b *Bus) ensureStream(ctx context.Context, want jetstream.StreamConfig) error {
	s, err := b.js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = b.js.CreateStream(ctx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return errRaced
		}
		return err
	}
	if err != nil {
		return err
	}
	diffs := streamDiffs(want, s.CachedInfo().Config)
	if len(diffs) == 0 {
		return nil
	}
	b.logger.Info("updating stream", zap.String("stream", want.Name), zap.Strings("differences", diffs))
	_, err = b.js.UpdateStream(ctx, want)
	return err
}

// ensureConsumer creates cs when absent and updates it when its settings
// differ.
func (b *Bus) ensureConsumer(ctx context.Context, cs consumerSpec) error {
	c, err := b.js.Consumer(ctx, cs.stream, cs.cfg.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		_, err = b.js.CreateConsumer(ctx, cs.stream, cs.cfg)
		if errors.Is(err, jetstream.ErrConsumerExists) {
			return errRaced
		}
		return err
	}
	if err != nil {
		return err
	}
	diffs := consumerDiffs(cs.cfg, c.CachedInfo().Config)
	if len(diffs) == 0 {
		return nil
	}
	b.logger.Info("updating consumer", zap.String("stream", cs.stream), zap.String("consumer", cs.cfg.Durable),
		zap.Strings("differences", diffs))
	_, err = b.js.UpdateConsumer(ctx, cs.stream, cs.cfg)
	return err
}

// ensureBucket creates the bucket when absent and updates it when its
// settings differ.
func (b *Bus) ensureBucket(ctx context.Context, want jetstream.KeyValueConfig) error {
	kv, err := b.js.KeyValue(ctx, want.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		_, err = b.js.CreateKeyValue(ctx, want)
		if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return errRaced
		}
		return err
	}
	if err != nil {
		return err
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return err
	}
	diffs := bucketDiffs(want, st.Config())
	if len(diffs) == 0 {
		return nil
	}
	b.logger.Info("updating key-value bucket", zap.String("bucket", want.Bucket), zap.Strings("differences", diffs))
	_, err = b.js.UpdateKeyValue(ctx, want)
	return err
}

// differ collects the settings that differ from what is wanted.
type differ []string

func (d *differ) check(name string, got, want any) {
	if got != want {
		*d = append(*d, fmt.Sprintf("%s %v, want %v", name, got, want))
	}
}

// limit is a stream limit as the server reports it: unset (0) is -1.
func limit[T int | int32 | int64](v T) T {
	if v <= 0 {
		return -1
	}
	return v
}

// streamDiffs lists the settings Provision sets that differ in got.
func streamDiffs(want, got jetstream.StreamConfig) []string {
	var d differ
	d.check("description", got.Description, want.Description)
	d.check("subjects", strings.Join(got.Subjects, ","), strings.Join(want.Subjects, ","))
	d.check("retention", got.Retention, want.Retention)
	d.check("storage", got.Storage, want.Storage)
	d.check("max messages", limit(got.MaxMsgs), limit(want.MaxMsgs))
	d.check("max bytes", limit(got.MaxBytes), limit(want.MaxBytes))
	d.check("discard", got.Discard, want.Discard)
	d.check("max message size", limit(got.MaxMsgSize), limit(want.MaxMsgSize))
	d.check("duplicate window", got.Duplicates, want.Duplicates)
	d.check("replicas", max(got.Replicas, 1), max(want.Replicas, 1))
	d.check("max age", got.MaxAge, want.MaxAge)
	return d
}

// consumerDiffs lists the settings Provision sets that differ in got.
func consumerDiffs(want, got jetstream.ConsumerConfig) []string {
	var d differ
	d.check("description", got.Description, want.Description)
	d.check("deliver policy", got.DeliverPolicy, want.DeliverPolicy)
	d.check("ack policy", got.AckPolicy, want.AckPolicy)
	d.check("ack wait", got.AckWait, want.AckWait)
	d.check("max deliver", limit(got.MaxDeliver), limit(want.MaxDeliver))
	d.check("max ack pending", got.MaxAckPending, want.MaxAckPending)
	return d
}

// bucketDiffs lists the settings Provision sets that differ in got.
func bucketDiffs(want, got jetstream.KeyValueConfig) []string {
	var d differ
	d.check("description", got.Description, want.Description)
	d.check("history", max(got.History, 1), max(want.History, 1))
	d.check("ttl", got.TTL, want.TTL)
	d.check("storage", got.Storage, want.Storage)
	d.check("replicas", max(got.Replicas, 1), max(want.Replicas, 1))
	return d
}

// check looks everything up, logs the settings that differ from the design
// and names what is missing or could not be looked up. Lookups that failed
// for a reason that may pass are tried again until ctx ends; anything
// missing ends it at once.
func (b *Bus) check(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		faults := b.lookup(ctx, attempt == 1)
		err := (Health{Faults: faults}).Err()
		if err == nil {
			return nil
		}
		retry := !anyMissing(faults)
		for _, f := range faults {
			retry = retry && transient(f.Err)
		}
		if !retry || !backoff.Sleep(ctx, provisionRetry.Delay(attempt)) {
			return fmt.Errorf("check jetstream (provisioning is off): %w", err)
		}
	}
}

// warnStreamDrift logs the stream settings the service relies on that differ.
func (b *Bus) warnStreamDrift(want, got jetstream.StreamConfig) {
	var diffs []string
	if got.Retention != want.Retention {
		diffs = append(diffs, fmt.Sprintf("retention %s, want %s", got.Retention, want.Retention))
	}
	if got.Duplicates < want.Duplicates {
		diffs = append(diffs, fmt.Sprintf("duplicate window %s, want %s", got.Duplicates, want.Duplicates))
	}
	if len(diffs) > 0 {
		b.logger.Warn("stream differs from the design", zap.String("stream", want.Name), zap.Strings("differences", diffs))
	}
}

// warnConsumerDrift logs the consumer settings the service relies on that differ.
func (b *Bus) warnConsumerDrift(want consumerSpec, got jetstream.ConsumerConfig) {
	var diffs []string
	if got.AckPolicy != want.cfg.AckPolicy {
		diffs = append(diffs, fmt.Sprintf("ack policy %s, want %s", got.AckPolicy, want.cfg.AckPolicy))
	}
	if got.MaxAckPending < want.cfg.MaxAckPending {
		diffs = append(diffs, fmt.Sprintf("max ack pending %d, want %d", got.MaxAckPending, want.cfg.MaxAckPending))
	}
	if got.MaxDeliver > 0 {
		diffs = append(diffs, fmt.Sprintf("max deliver %d, want unlimited", got.MaxDeliver))
	}
	if got.AckWait != want.cfg.AckWait {
		diffs = append(diffs, fmt.Sprintf("ack wait %s, want %s", got.AckWait, want.cfg.AckWait))
	}
	if len(diffs) > 0 {
		b.logger.Warn("consumer differs from the design", zap.String("stream", want.stream),
			zap.String("consumer", want.cfg.Durable), zap.Strings("differences", diffs))
	}
}

// bind looks up the consumers and the bucket and keeps their handles,
// retrying lookups that failed for a reason that may pass until ctx ends.
func (b *Bus) bind(ctx context.Context) error {
	var (
		commands, tracking jetstream.Consumer
		kv                 jetstream.KeyValue
		stream             jetstream.Stream
	)
	steps := []struct {
		what string
		op   func(context.Context) error
	}{
		{"bind consumer " + commandConsumer, func(ctx context.Context) (err error) {
			commands, err = b.js.Consumer(ctx, b.names.commands, commandConsumer)
			return err
		}},
		{"bind consumer " + trackingConsumer, func(ctx context.Context) (err error) {
			tracking, err = b.js.Consumer(ctx, b.names.tracking, trackingConsumer)
			return err
		}},
		{"bind key-value bucket " + b.names.state, func(ctx context.Context) (err error) {
			kv, err = b.js.KeyValue(ctx, b.names.state)
			return err
		}},
		{"bind stream " + b.names.commands, func(ctx context.Context) (err error) {
			stream, err = b.js.Stream(ctx, b.names.commands)
			return err
		}},
	}
	for _, st := range steps {
		if err := b.step(ctx, st.what, st.op); err != nil {
			return err
		}
	}
	b.mu.Lock()
	b.commands, b.tracking, b.kv = commands, tracking, kv
	b.commandsCreated = stream.CachedInfo().Created
	b.mu.Unlock()
	return nil
}
