package queue

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Sizes fixed by the design.
const (
	commandsMaxMsgSize    = 1 << 20 // the worker itself rejects more than 64 KiB
	eventsMaxMsgSize      = 1 << 20
	commandsMaxAckPending = 4096
	trackingMaxAckPending = 1_000_000 // NakWithDelay'd messages stay pending
	provisionAttempts     = 3
)

// Stream limits (deploy/README.md, "Stream limits", explains the sizes).
// The work-queue streams refuse a publish when full (DiscardNew), so no
// unprocessed command or tracked orchestration is ever dropped: a backlog of
// 1,000,000 commands (at most 64 KiB, typically ~1 KiB) and as many tracked
// orchestrations as the poller consumer may hold pending (~0.5 KiB each).
// The events stream is a log: past eventsMaxAge or eventsMaxBytes its oldest
// events go (DiscardOld).
const (
	commandsMaxMsgs  = 1_000_000
	commandsMaxBytes = 1 << 30 // 1 GiB
	trackingMaxMsgs  = trackingMaxAckPending
	trackingMaxBytes = 1 << 30 // 1 GiB
	eventsMaxBytes   = 2 << 30 // 2 GiB
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
		MaxMsgs:     commandsMaxMsgs,
		MaxBytes:    commandsMaxBytes,
		Discard:     jetstream.DiscardNew,
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
		MaxBytes:    eventsMaxBytes,
		Discard:     jetstream.DiscardOld,
		MaxMsgSize:  eventsMaxMsgSize,
		Duplicates:  c.DuplicateWindow,
		Replicas:    c.Replicas,
	}, {
		Name:        n.tracking,
		Description: "txworker orchestrations being tracked",
		Subjects:    []string{c.Prefix + ".track.>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		MaxMsgs:     trackingMaxMsgs,
		MaxBytes:    trackingMaxBytes,
		Discard:     jetstream.DiscardNew,
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
			AckWait:       b.cfg.TrackingAckWait,
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

// check looks everything up, logs the settings that differ from the design
// and names what is missing or could not be looked up.
func (b *Bus) check(ctx context.Context) error {
	if err := (Health{Faults: b.lookup(ctx, true)}).Err(); err != nil {
		return fmt.Errorf("check jetstream (provisioning is off): %w", err)
	}
	return nil
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
