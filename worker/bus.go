package worker

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/queue"
)

// Bus is what the worker needs of the bus; *queue.Bus is one.
type Bus interface {
	// Prefix is the subject prefix ({prefix}.cmd.{action}).
	Prefix() string
	// CommandsCreated is the commands stream's creation time as last
	// recorded (derived command ids carry it); zero when unknown.
	CommandsCreated() time.Time
	// RefreshCommandsCreated looks the creation time up again and records it.
	RefreshCommandsCreated(ctx context.Context) (time.Time, error)
	// Commands is the command consumer Run reads (used by Run only).
	Commands() jetstream.Consumer
	// CommandsPending is how many commands wait for the consumer.
	CommandsPending(ctx context.Context) (uint64, error)
	// Settle records a terminal outcome once and publishes its event.
	Settle(ctx context.Context, source string, cl *queue.Claim, r queue.Result) (stored *queue.Claim, published bool, err error)
	// PublishEvent publishes an event with Nats-Msg-Id ev.ID.
	PublishEvent(ctx context.Context, ev queue.Event, tr queue.Trace) (dup bool, err error)
	// PublishTrack hands an accepted command to tracking.
	PublishTrack(ctx context.Context, t queue.Track) error
}

// Claims is the claim store the worker needs; *queue.Claims is one.
type Claims interface {
	// Create stores cl unless the command has a claim; it returns the
	// stored claim and whether this call created it.
	Create(ctx context.Context, cl *queue.Claim) (stored *queue.Claim, created bool, err error)
	// Get returns the stored claim, or queue.ErrNotFound.
	Get(ctx context.Context, commandID string) (*queue.Claim, error)
	// Update compare-and-sets cl at cl.Revision (queue.ErrConflict).
	Update(ctx context.Context, cl *queue.Claim) error
	// ReserveProcessID records commandID as processID's owner unless
	// another command is, and returns the owner.
	ReserveProcessID(ctx context.Context, processID, commandID string) (owner string, err error)
}
