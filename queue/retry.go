package queue

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/internal/backoff"
)

// Retry timing of the JetStream requests that may meet a leader election:
// publishes and key-value writes retry within the caller's context, each
// attempt bounded by attemptTimeout, the waits between them growing from
// 100ms to 2s.
const attemptTimeout = 5 * time.Second

var clusterRetry = backoff.Policy{Base: 100 * time.Millisecond, Max: 2 * time.Second, Floor: 2}

// JetStream API error codes that mean "not now" rather than "never": the
// cluster is electing a leader, placing replicas or catching up.
var transientCodes = map[jetstream.ErrorCode]bool{
	10004: true, // incomplete results
	10005: true, // no suitable peers for placement (peers still joining)
	10006: true, // not in clustered mode (yet)
	10007: true, // cluster not assigned to this server
	10008: true, // JetStream system temporarily unavailable
	10009: true, // cluster can not handle request (not the leader)
	10023: true, // insufficient resources
	10039: true, // JetStream not enabled for account (yet)
	10040: true, // peer not a member
	10041: true, // raft error
	10075: true, // peer remap failed
	10076: true, // JetStream not enabled (yet)
	10118: true, // stream is offline
	10119: true, // consumer is offline
	10158: true, // duplicate message id is in process
	10167: true, // too many requests
	10194: true, // stream is offline: …
	10195: true, // consumer is offline: …
	10202: true, // cluster member change in progress
}

// transient reports whether err is worth another attempt: no responders
// (a stream or the meta group without a leader), a request that timed out
// (its answer may be lost: the next attempt must be idempotent), a
// connection being re-established, or a JetStream API error that means
// "not now". A deterministic refusal (an invalid configuration, a wrong
// last sequence, an encoding error) is not.
func transient(err error) bool {
	var p permanentError
	if err == nil || errors.As(err, &p) {
		return false
	}
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code == 503 || apiErr.Code == 429 || transientCodes[apiErr.ErrorCode]
	}
	return false
}

// permanentError marks an error that would otherwise look transient (no
// responders because the stream does not exist at all) as final.
type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

// retrying runs op, each attempt bounded by attemptTimeout, until it
// returns an error that is not transient or ctx ends; between attempts it
// waits per clusterRetry. When ctx ends it returns the last attempt's error
// (or ctx's, when no attempt finished). op is told the attempt (1, 2, …) so
// that it can tell a retry from the first try.
func retrying(ctx context.Context, op func(ctx context.Context, attempt int) error) error {
	var last error
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := op(actx, attempt)
		cancel()
		if err == nil || !transient(err) {
			return err
		}
		if ctx.Err() != nil && last != nil && errors.Is(err, ctx.Err()) {
			return last // cut short by the caller: the previous answer says more
		}
		last = err
		if !backoff.Sleep(ctx, clusterRetry.Delay(attempt)) {
			return last
		}
	}
}
