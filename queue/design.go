package queue

// The streams, consumers and bucket as designed (the package doc lists
// them): what Provision creates and Check compares with.

import "github.com/nats-io/nats.go/jetstream"

// Sizes fixed by the design.
const (
	commandsMaxMsgSize    = 1 << 20 // the worker itself rejects more than 64 KiB
	eventsMaxMsgSize      = 1 << 20
	commandsMaxAckPending = 4096
	trackingMaxAckPending = 1_000_000 // NakWithDelay'd messages stay pending
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
