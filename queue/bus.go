package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Connection timing. Reconnects wait reconnectWait plus up to
// reconnectJitter (reconnectJitterTLS over TLS), forever.
const (
	reconnectWait      = 2 * time.Second
	reconnectJitter    = 500 * time.Millisecond
	reconnectJitterTLS = 2 * time.Second
	pingInterval       = 20 * time.Second
	drainTimeout       = 10 * time.Second
)

// Bus is a connection to NATS JetStream and the handles Provision binds.
// Its methods are safe for concurrent use. Handles (Commands, Tracking,
// Claims) are usable once Provision has returned nil.
type Bus struct {
	cfg     Config
	names   names
	nc      *nats.Conn
	js      jetstream.JetStream
	logger  *zap.Logger
	closed  chan struct{}         // closed by the ClosedHandler
	lastErr atomic.Pointer[error] // the last failed connection attempt

	mu       sync.RWMutex
	commands jetstream.Consumer
	tracking jetstream.Consumer
	kv       jetstream.KeyValue

	commandsCreated time.Time // the commands stream's StreamInfo.Created
}

// Connect validates cfg, connects to NATS and returns a Bus. Until the first
// connection succeeds it keeps trying and blocks; when ctx ends first it gives
// up and returns an error that includes the last connection error. Once
// connected, the Bus reconnects forever (every 2s plus jitter) and logs each
// disconnect, reconnect and the final close; it never logs the token, the
// credentials or an unredacted URL. A nil logger logs nothing.
func Connect(ctx context.Context, cfg Config, logger *zap.Logger) (*Bus, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	b := &Bus{
		cfg:    cfg,
		names:  namesFor(cfg.Prefix),
		logger: logger.Named("queue"),
		closed: make(chan struct{}),
	}
	connected := make(chan struct{}, 1)
	nc, err := nats.Connect(cfg.URL, b.options(connected)...)
	if err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	if !nc.IsConnected() {
		select {
		case <-connected:
		case <-b.closed:
			return nil, fmt.Errorf("connect nats: connection closed: %w", nc.LastError())
		case <-ctx.Done():
			nc.Close()
			if p := b.lastErr.Load(); p != nil {
				last := *p
				return nil, fmt.Errorf("connect nats: %w (last attempt: %v)", ctx.Err(), last)
			}
			return nil, fmt.Errorf("connect nats: %w", ctx.Err())
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect jetstream: %w", err)
	}
	b.nc, b.js = nc, js
	b.logger.Info("nats connected", zap.String("server", nc.ConnectedUrlRedacted()))
	return b, nil
}

// options builds the nats.go options; connected receives a value when a
// connection that was not up when nats.Connect returned comes up.
func (b *Bus) options(connected chan<- struct{}) []nats.Option {
	cfg, log := b.cfg, b.logger
	var closeOnce sync.Once
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(reconnectWait),
		nats.ReconnectJitter(reconnectJitter, reconnectJitterTLS),
		nats.PingInterval(pingInterval),
		nats.DrainTimeout(drainTimeout),
		nats.ConnectHandler(func(*nats.Conn) {
			select {
			case connected <- struct{}{}:
			default:
			}
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil { // a deliberate close or drain
				log.Debug("nats disconnected")
				return
			}
			log.Warn("nats disconnected", zap.Error(err))
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.lastErr.Store(&err)
				log.Debug("nats connection attempt failed", zap.Error(err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", zap.String("server", nc.ConnectedUrlRedacted()))
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			log.Info("nats connection closed", zap.NamedError("last_error", nc.LastError()))
			closeOnce.Do(func() { close(b.closed) })
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			fields := []zap.Field{zap.Error(err)}
			if sub != nil {
				fields = append(fields, zap.String("subject", sub.Subject))
			}
			log.Warn("nats async error", fields...)
		}),
		nats.LameDuckModeHandler(func(*nats.Conn) {
			log.Warn("nats server entering lame duck mode")
		}),
	}
	return append(opts, b.credentials()...)
}

// credentials are the options that authenticate and secure the connection.
func (b *Bus) credentials() []nats.Option {
	cfg := b.cfg
	var opts []nats.Option
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.Token != "" {
		opts = append(opts, nats.Token(cfg.Token))
	}
	if cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCA))
	}
	if cfg.TLSCert != "" {
		opts = append(opts, nats.ClientCert(cfg.TLSCert, cfg.TLSKey))
	}
	return opts
}

// Connected reports whether the connection is up right now (for /readyz).
func (b *Bus) Connected() bool { return b.nc.IsConnected() }

// Prefix returns the subject prefix, default applied.
func (b *Bus) Prefix() string { return b.cfg.Prefix }

// Drain drains the connection: subscriptions stop taking messages, pending
// publishes are flushed, then the connection closes. It blocks until the
// connection is closed or the drain timeout (10s) has passed plus a margin,
// then closes it outright. A connection that is down at the time is closed at
// once and the error says so (anything buffered is lost). Draining a closed
// Bus returns nil; concurrent calls all wait for the close.
func (b *Bus) Drain() error {
	if err := b.nc.Drain(); err != nil {
		if errors.Is(err, nats.ErrConnectionClosed) {
			return nil
		}
		return fmt.Errorf("drain nats: %w", err)
	}
	t := time.NewTimer(drainTimeout + 2*time.Second)
	defer t.Stop()
	select {
	case <-b.closed:
		return nil
	case <-t.C:
		b.nc.Close()
		return errors.New("drain nats: timed out")
	}
}

// CommandSubject returns the subject commands for action are published on:
// {prefix}.cmd.{action}.
func (b *Bus) CommandSubject(action string) string { return b.cfg.Prefix + ".cmd." + action }

// EventSubject returns the subject of an event: {prefix}.evt.{action}.{outcome}.
// It does not check its tokens, so that readers can build filters such as
// EventSubject(action, "*"); PublishEvent publishes only on subjects whose
// tokens pass CheckEventTokens.
func (b *Bus) EventSubject(action, outcome string) string {
	return b.cfg.Prefix + ".evt." + action + "." + outcome
}

// eventSubject is EventSubject for publishing: an action that is neither an
// action token nor ActionUnknown, or an outcome that is not known, is refused.
func (b *Bus) eventSubject(action, outcome string) (string, error) {
	if err := CheckEventTokens(action, outcome); err != nil {
		return "", err
	}
	return b.EventSubject(action, outcome), nil
}

// CommandsCreated returns the creation time of the commands stream as
// recorded by the last Provision (bind) or RefreshCommandsCreated; the zero
// time before either. Derived command ids carry it (SPEC §3), so that they
// stay unique when the stream is deleted and re-created and its sequences
// restart at 1.
func (b *Bus) CommandsCreated() time.Time {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.commandsCreated
}

// RefreshCommandsCreated looks the commands stream up again and records and
// returns its creation time: for a handler that sees a message the recorded
// time cannot be right for (the stream was re-created and not re-bound yet).
func (b *Bus) RefreshCommandsCreated(ctx context.Context) (time.Time, error) {
	s, err := b.js.Stream(ctx, b.names.commands)
	if err != nil {
		return time.Time{}, fmt.Errorf("look up stream %s: %w", b.names.commands, err)
	}
	created := s.CachedInfo().Created
	b.mu.Lock()
	b.commandsCreated = created
	b.mu.Unlock()
	return created, nil
}

// trackSubject returns the subject of a tracking message: {prefix}.track.{action}.
func (b *Bus) trackSubject(action string) string { return b.cfg.Prefix + ".track." + action }

// handles returns the consumers and bucket bound by Provision.
func (b *Bus) handles() (commands, tracking jetstream.Consumer, kv jetstream.KeyValue) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.commands, b.tracking, b.kv
}

// Commands returns the durable "worker" consumer of the commands stream, or
// nil before Provision has returned nil.
func (b *Bus) Commands() jetstream.Consumer { c, _, _ := b.handles(); return c }

// Tracking returns the durable "poller" consumer of the tracking stream, or
// nil before Provision has returned nil.
func (b *Bus) Tracking() jetstream.Consumer { _, t, _ := b.handles(); return t }

// EventsStream is the name of the events stream, for readers such as
// `txworker submit -wait` that follow events with an ordered consumer.
func (b *Bus) EventsStream() string { return b.names.events }

// StateBucket is the name of the key-value bucket that holds the claims,
// for instruments that read or write it directly (`txworker load
// -reference`, over Config.Dial).
func (b *Bus) StateBucket() string { return b.names.state }
