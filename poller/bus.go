package poller

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/queue"
)

// Bus is what the poller needs of the bus; *queue.Bus is one.
type Bus interface {
	Tracker
	Settler
}

// Tracker is the tracking side of the bus.
type Tracker interface {
	// Tracking is the durable pull consumer of the tracking stream that
	// Run fetches from; nil until the bus is provisioned.
	Tracking() jetstream.Consumer
	// TrackingPending is how many orchestrations are tracked: messages not
	// yet delivered plus those delivered and not yet acknowledged.
	TrackingPending(ctx context.Context) (uint64, error)
}

// Settler records terminal outcomes.
type Settler interface {
	// Settle records r as cl's terminal outcome unless the stored claim
	// already has one (first writer wins), publishes the event of the
	// stored claim unless it is Published, and returns the stored claim;
	// published reports that this call stored the event. A cl at Revision
	// 0 is read (or created) first. After an error, calling it again
	// finishes the work.
	Settle(ctx context.Context, source string, cl *queue.Claim, r queue.Result) (stored *queue.Claim, published bool, err error)
}

// Claims is what the poller needs of the claim store; *queue.Claims is one.
type Claims interface {
	// Get returns the stored claim of commandID, or queue.ErrNotFound.
	Get(ctx context.Context, commandID string) (*queue.Claim, error)
}
