package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Watch timing.
const (
	// DefaultWatchInterval is how often Watch checks, when given no interval:
	// six JetStream API requests per replica every 5s.
	DefaultWatchInterval = 5 * time.Second
	// lookupTimeout bounds each lookup of Check (the JetStream default).
	lookupTimeout = 5 * time.Second
)

// Resource is one stream, consumer or bucket the service depends on. Its
// value is the resource label of txworker_dependency_ready.
type Resource string

// The resources, in the order of Resources.
const (
	ResourceCommandsStream   Resource = "commands_stream"   // {P}_COMMANDS
	ResourceEventsStream     Resource = "events_stream"     // {P}_EVENTS
	ResourceTrackingStream   Resource = "tracking_stream"   // {P}_TRACKING
	ResourceCommandsConsumer Resource = "commands_consumer" // "worker" on {P}_COMMANDS
	ResourceTrackingConsumer Resource = "tracking_consumer" // "poller" on {P}_TRACKING
	ResourceStateBucket      Resource = "state_bucket"      // key-value bucket {P}_STATE
)

// Resources returns every Resource, in a fixed order.
func Resources() []Resource {
	return []Resource{ResourceCommandsStream, ResourceEventsStream, ResourceTrackingStream,
		ResourceCommandsConsumer, ResourceTrackingConsumer, ResourceStateBucket}
}

// Fault is a resource that Check did not find.
type Fault struct {
	Resource Resource
	// Name is what an operator looks for: "stream TXWORKER_COMMANDS",
	// "consumer worker on stream TXWORKER_COMMANDS", "key-value bucket
	// TXWORKER_STATE".
	Name string
	// Missing: JetStream answered that it does not exist (for a consumer,
	// also when its stream does not). Otherwise the lookup failed (timeout,
	// no connection, no permission) and Err says how.
	Missing bool
	Err     error
}

// Health is what one Check found.
type Health struct {
	// Faults lists the resources missing or unreachable after the check, in
	// the order of Resources; empty when everything is there.
	Faults []Fault
	// Recreated lists the resources this check found missing and re-created
	// (Config.Provision only).
	Recreated []Resource
	// RecreateErr is why re-creating what was missing failed, if it did.
	RecreateErr error
}

// Ready reports whether r was found.
func (h Health) Ready(r Resource) bool {
	for _, f := range h.Faults {
		if f.Resource == r {
			return false
		}
	}
	return true
}

// Err returns nil when every resource was found, else one error naming
// them: "missing stream TXWORKER_COMMANDS, consumer worker on stream
// TXWORKER_COMMANDS; lookup failed: key-value bucket TXWORKER_STATE:
// context deadline exceeded", followed by "; re-create: …" when re-creating
// failed.
func (h Health) Err() error {
	if len(h.Faults) == 0 {
		return nil
	}
	var missing, failed []string
	for _, f := range h.Faults {
		if f.Missing {
			missing = append(missing, f.Name)
		} else {
			failed = append(failed, fmt.Sprintf("%s: %v", f.Name, f.Err))
		}
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing "+strings.Join(missing, ", "))
	}
	if len(failed) > 0 {
		parts = append(parts, "lookup failed: "+strings.Join(failed, "; "))
	}
	if h.RecreateErr != nil {
		parts = append(parts, "re-create: "+h.RecreateErr.Error())
	}
	return errors.New(strings.Join(parts, "; "))
}

// Check looks up every stream, both consumers and the bucket: six JetStream
// API requests, run concurrently, each bounded by 5s (or ctx), so Check
// takes about as long as the slowest. With Config.Provision, when anything
// is missing (not merely unreachable) it re-creates it as Provision does,
// rebinds the handles and looks everything up again; without it, it only
// reports. Problems are reported in the Health, never as an error; a Check
// cut short by ctx reports lookup failures. Handles already handed out
// (Commands, Tracking, Claims, and Consume loops running on them) address
// their resource by name, so they serve a re-created one. Safe for
// concurrent use.
func (b *Bus) Check(ctx context.Context) Health {
	h := Health{Faults: b.lookup(ctx, false)}
	if !b.cfg.Provision || !anyMissing(h.Faults) {
		return h
	}
	// Re-creating retries what may pass, for at most one lookup round's worth
	// of time, so that the watch keeps reporting while the cluster is down.
	cctx, cancel := context.WithTimeout(ctx, 2*lookupTimeout)
	err := b.create(cctx)
	if err == nil {
		err = b.bind(cctx)
	}
	cancel()
	after := Health{Faults: b.lookup(ctx, false), RecreateErr: err}
	for _, f := range h.Faults {
		if f.Missing && after.Ready(f.Resource) {
			after.Recreated = append(after.Recreated, f.Resource)
		}
	}
	return after
}

func anyMissing(faults []Fault) bool {
	for _, f := range faults {
		if f.Missing {
			return true
		}
	}
	return false
}

// Watch calls Check at once and then every interval (DefaultWatchInterval
// when interval ≤ 0) until ctx ends, and hands each Health to report, which
// runs on Watch's goroutine. It logs once per change, not per check: a
// warning when a resource goes missing or its lookup starts failing (or
// re-creating it fails), info when it is back or re-created. It blocks until
// ctx ends, then returns nil; the Health of a check cut short by the cancel
// is not reported. It returns an error at once for a nil report.
func (b *Bus) Watch(ctx context.Context, interval time.Duration, report func(Health)) error {
	if report == nil {
		return errors.New("watch: nil report")
	}
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var seen watchLog
	for {
		h := b.Check(ctx)
		if ctx.Err() != nil {
			return nil
		}
		seen.note(b.logger, b.cfg.Provision, h)
		report(h)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// watchLog remembers what Watch last logged.
type watchLog struct {
	state       map[Resource]string // "missing" or "lookup failed"; absent when found
	recreateErr string
}

// note logs what changed since the previous Health.
func (w *watchLog) note(log *zap.Logger, provision bool, h Health) {
	for _, r := range h.Recreated {
		log.Info("jetstream resource re-created", zap.String("resource", string(r)))
	}
	state := map[Resource]string{}
	for _, f := range h.Faults {
		s := "lookup failed"
		if f.Missing {
			s = "missing"
		}
		state[f.Resource] = s
		if w.state[f.Resource] == s {
			continue
		}
		fields := []zap.Field{zap.String("resource", string(f.Resource)), zap.String("name", f.Name)}
		if f.Missing {
			log.Warn("jetstream resource missing", append(fields, zap.Bool("provision", provision))...)
		} else {
			log.Warn("jetstream resource lookup failed", append(fields, zap.Error(f.Err))...)
		}
	}
	for r := range w.state {
		if _, still := state[r]; !still && !slices.Contains(h.Recreated, r) {
			log.Info("jetstream resource found again", zap.String("resource", string(r)))
		}
	}
	w.state = state
	e := ""
	if h.RecreateErr != nil {
		e = h.RecreateErr.Error()
	}
	if e != "" && e != w.recreateErr {
		log.Warn("re-create jetstream resources", zap.Error(h.RecreateErr))
	}
	w.recreateErr = e
}

// probe looks up one resource.
type probe struct {
	resource Resource
	name     string
	look     func(context.Context) error
}

// lookup runs every probe concurrently and returns the faults in the order
// of Resources. With drift it also logs the settings that differ from the
// design.
func (b *Bus) lookup(ctx context.Context, drift bool) []Fault {
	probes := b.probes(drift)
	faults := make([]*Fault, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Go(func() {
			lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
			defer cancel()
			if err := p.look(lctx); err != nil {
				faults[i] = &Fault{Resource: p.resource, Name: p.name, Missing: notFound(err), Err: err}
			}
		})
	}
	wg.Wait()
	var out []Fault
	for _, f := range faults {
		if f != nil {
			out = append(out, *f)
		}
	}
	return out
}

// notFound reports whether err says a stream, consumer or bucket does not exist.
func notFound(err error) bool {
	return errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound) ||
		errors.Is(err, jetstream.ErrBucketNotFound)
}

// probes returns a probe per resource, in the order of Resources.
func (b *Bus) probes(drift bool) []probe {
	streams := map[string]jetstream.StreamConfig{}
	for _, sc := range b.streamConfigs() {
		streams[sc.Name] = sc
	}
	consumers := map[string]consumerSpec{}
	for _, cs := range b.consumerSpecs() {
		consumers[cs.cfg.Durable] = cs
	}
	stream := func(r Resource, name string) probe {
		return probe{r, "stream " + name, func(ctx context.Context) error {
			s, err := b.js.Stream(ctx, name)
			if err == nil && drift {
				b.warnStreamDrift(streams[name], s.CachedInfo().Config)
			}
			return err
		}}
	}
	consumer := func(r Resource, durable string) probe {
		cs := consumers[durable]
		return probe{r, fmt.Sprintf("consumer %s on stream %s", durable, cs.stream), func(ctx context.Context) error {
			c, err := b.js.Consumer(ctx, cs.stream, durable)
			if err == nil && drift {
				b.warnConsumerDrift(cs, c.CachedInfo().Config)
			}
			return err
		}}
	}
	n := b.names
	return []probe{
		stream(ResourceCommandsStream, n.commands),
		stream(ResourceEventsStream, n.events),
		stream(ResourceTrackingStream, n.tracking),
		consumer(ResourceCommandsConsumer, commandConsumer),
		consumer(ResourceTrackingConsumer, trackingConsumer),
		{ResourceStateBucket, "key-value bucket " + n.state, func(ctx context.Context) error {
			_, err := b.js.KeyValue(ctx, n.state)
			return err
		}},
	}
}
