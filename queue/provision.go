package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Sizes fixed by the design.
const (
	commandsMaxMsgSize    = 1 << 20 // the worker itself rejects more than 64 KiB
	eventsMaxMsgSize      = 1 << 20
	commandsMaxAckPending = 4096
	trackingMaxAckPending = 1_000_000 // NakWithDelay'd messages stay pending
	trackingAckWait       = 60 * time.Second
	provisionAttempts     = 3
)

// consumerSpec is a durable consumer and the stream it belongs to.
type consumerSpec struct {
	stream string
	cfg    jetstream.ConsumerConfig
}

// streamConfigs returns the three streams' configurations.
func (b *Bus) streamConfigs() []jetstream.StreamConfig {
	c, n := b.cfg, b.names
	return []jetstream.StreamConfig{{
		Name:        n.commands,
		Description: "txworker commands",
		Subjects:    []string{c.Prefix + ".cmd.>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		MaxMsgSize:  commandsMaxMsgSize,
		Duplicates:  c.DuplicateWindow,
		Replicas:    c.Replicas,
	}, {
		Name:        n.events,
		Description: "txworker events",
		Subjects:    []string{c.Prefix + ".evt.>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      eventsMaxAge,
		MaxMsgSize:  eventsMaxMsgSize,
		Duplicates:  c.DuplicateWindow,
		Replicas:    c.Replicas,
	}, {
		Name:        n.tracking,
		Description: "txworker orchestrations being tracked",
		Subjects:    []string{c.Prefix + ".track.>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  c.DuplicateWindow,
		Replicas:    c.Replicas,
	}}
}

// consumerSpecs returns the two durable pull consumers.
func (b *Bus) consumerSpecs() []consumerSpec {
	return []consumerSpec{{
		stream: b.names.commands,
		cfg: jetstream.ConsumerConfig{
			Durable:       commandConsumer,
			Description:   "txworker command handlers",
			DeliverPolicy: jetstream.DeliverAllPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       b.cfg.AckWait,
			MaxDeliver:    -1,
			MaxAckPending: commandsMaxAckPending,
		},
	}, {
		stream: b.names.tracking,
		cfg: jetstream.ConsumerConfig{
			Durable:       trackingConsumer,
			Description:   "txworker orchestration pollers",
			DeliverPolicy: jetstream.DeliverAllPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       trackingAckWait,
			MaxDeliver:    -1,
			MaxAckPending: trackingMaxAckPending,
		},
	}}
}

// kvConfig returns the claim bucket's configuration.
func (b *Bus) kvConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      b.names.state,
		Description: "txworker command claims",
		History:     1,
		TTL:         b.cfg.StateTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    b.cfg.Replicas,
	}
}

// Provision makes sure the streams, consumers and bucket exist and binds the
// Bus to them. With Config.Provision it creates or updates each one to the
// configuration in the package doc; this is idempotent and safe when several
// replicas run it at once. Without it, it only checks, and returns one error
// naming everything missing (and any lookup that failed); settings that differ
// from the design are logged as warnings. It blocks on JetStream API requests,
// each bounded by ctx or the JetStream default timeout (5s).
func (b *Bus) Provision(ctx context.Context) error {
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

// create creates or updates every stream, consumer and the bucket.
func (b *Bus) create(ctx context.Context) error {
	for _, sc := range b.streamConfigs() {
		err := retryRace(func() error {
			_, err := b.js.CreateOrUpdateStream(ctx, sc)
			return err
		})
		if err != nil {
			return fmt.Errorf("provision stream %s: %w", sc.Name, err)
		}
	}
	for _, cs := range b.consumerSpecs() {
		err := retryRace(func() error {
			_, err := b.js.CreateOrUpdateConsumer(ctx, cs.stream, cs.cfg)
			return err
		})
		if err != nil {
			return fmt.Errorf("provision consumer %s on %s: %w", cs.cfg.Durable, cs.stream, err)
		}
	}
	kc := b.kvConfig()
	err := retryRace(func() error {
		_, err := b.js.CreateOrUpdateKeyValue(ctx, kc)
		return err
	})
	if err != nil {
		return fmt.Errorf("provision key-value bucket %s: %w", kc.Bucket, err)
	}
	b.logger.Info("jetstream provisioned",
		zap.String("commands", b.names.commands), zap.String("events", b.names.events),
		zap.String("tracking", b.names.tracking), zap.String("state", b.names.state),
		zap.Int("replicas", b.cfg.Replicas))
	return nil
}

// retryRace runs f again when it lost a create race against another replica
// (the create-or-update it ran saw "not found", then the create found the
// other replica's stream or consumer); the next attempt updates instead.
func retryRace(f func() error) error {
	var err error
	for range provisionAttempts {
		err = f()
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) &&
			!errors.Is(err, jetstream.ErrConsumerExists) &&
			!errors.Is(err, jetstream.ErrBucketExists) {
			return err
		}
	}
	return err
}

// check looks everything up and names what is missing.
func (b *Bus) check(ctx context.Context) error {
	var missing, failed []string
	streams := map[string]bool{} // exists
	for _, sc := range b.streamConfigs() {
		s, err := b.js.Stream(ctx, sc.Name)
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
			missing = append(missing, "stream "+sc.Name)
		case err != nil:
			failed = append(failed, fmt.Sprintf("stream %s: %v", sc.Name, err))
		default:
			streams[sc.Name] = true
			b.warnStreamDrift(sc, s.CachedInfo().Config)
		}
	}
	for _, cs := range b.consumerSpecs() {
		if !streams[cs.stream] {
			missing = append(missing, fmt.Sprintf("consumer %s on stream %s", cs.cfg.Durable, cs.stream))
			continue
		}
		c, err := b.js.Consumer(ctx, cs.stream, cs.cfg.Durable)
		switch {
		case errors.Is(err, jetstream.ErrConsumerNotFound):
			missing = append(missing, fmt.Sprintf("consumer %s on stream %s", cs.cfg.Durable, cs.stream))
		case err != nil:
			failed = append(failed, fmt.Sprintf("consumer %s on stream %s: %v", cs.cfg.Durable, cs.stream, err))
		default:
			b.warnConsumerDrift(cs, c.CachedInfo().Config)
		}
	}
	if _, err := b.js.KeyValue(ctx, b.names.state); errors.Is(err, jetstream.ErrBucketNotFound) {
		missing = append(missing, "key-value bucket "+b.names.state)
	} else if err != nil {
		failed = append(failed, fmt.Sprintf("key-value bucket %s: %v", b.names.state, err))
	}
	if len(missing) == 0 && len(failed) == 0 {
		return nil
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing "+strings.Join(missing, ", "))
	}
	if len(failed) > 0 {
		parts = append(parts, "lookup errors: "+strings.Join(failed, "; "))
	}
	return fmt.Errorf("check jetstream (provisioning is off): %s", strings.Join(parts, "; "))
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
	if len(diffs) > 0 {
		b.logger.Warn("consumer differs from the design", zap.String("stream", want.stream),
			zap.String("consumer", want.cfg.Durable), zap.Strings("differences", diffs))
	}
}

// bind looks up the consumers and the bucket and keeps their handles.
func (b *Bus) bind(ctx context.Context) error {
	commands, err := b.js.Consumer(ctx, b.names.commands, commandConsumer)
	if err != nil {
		return fmt.Errorf("bind consumer %s: %w", commandConsumer, err)
	}
	tracking, err := b.js.Consumer(ctx, b.names.tracking, trackingConsumer)
	if err != nil {
		return fmt.Errorf("bind consumer %s: %w", trackingConsumer, err)
	}
	kv, err := b.js.KeyValue(ctx, b.names.state)
	if err != nil {
		return fmt.Errorf("bind key-value bucket %s: %w", b.names.state, err)
	}
	stream, err := b.js.Stream(ctx, b.names.commands)
	if err != nil {
		return fmt.Errorf("bind stream %s: %w", b.names.commands, err)
	}
	b.mu.Lock()
	b.commands, b.tracking, b.kv = commands, tracking, kv
	b.commandsCreated = stream.CachedInfo().Created
	b.mu.Unlock()
	return nil
}
