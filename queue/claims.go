package queue

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Errors of the claim store; test with errors.Is.
var (
	// ErrNotFound: no claim for that command (never created, or expired).
	ErrNotFound = errors.New("claim not found")
	// ErrConflict: the claim changed since the revision the update was based on.
	ErrConflict = errors.New("claim changed concurrently")
	// ErrUnencodable: a value cannot be encoded (a time outside the years
	// 0000–9999) or cannot stand in a subject. It is deterministic: the same
	// value fails again on every try.
	ErrUnencodable = errors.New("value cannot be encoded")
)

// errNotProvisioned is returned by claim operations before Provision.
var errNotProvisioned = errors.New("queue not provisioned")

// State is where a command stands.
type State string

// Command states, in order.
const (
	StateReceived State = "received" // claimed, no platform call made yet
	StateCalling  State = "calling"  // a platform call may be in flight
	StateAccepted State = "accepted" // the platform took the action
	StateTerminal State = "terminal" // the outcome is final (see Outcome)
)

// Claim is the durable state of one command, stored as JSON in the state
// bucket under base64url(CommandID). Revision is the bucket revision it was
// read at; Update compares it.
type Claim struct {
	CommandID string `json:"commandId"`
	Action    string `json:"action"`
	// CommandSubject is the command's subject when Action is "unknown".
	CommandSubject string `json:"commandSubject,omitempty"`
	// Fingerprint identifies the command under CommandID (action, params,
	// processId and deadline as given); "" in claims written before it was
	// kept.
	Fingerprint     string     `json:"fingerprint,omitempty"`
	ProcessID       string     `json:"processId,omitempty"`
	Resource        string     `json:"resource,omitempty"`
	OrchestrationID string     `json:"orchestrationId,omitempty"`
	State           State      `json:"state"`
	Owner           string     `json:"owner,omitempty"`
	LeaseUntil      time.Time  `json:"leaseUntil,omitzero"`
	StreamSeq       uint64     `json:"streamSeq,omitzero"`
	Attempts        int        `json:"attempts,omitzero"`
	Lookups         int        `json:"lookups,omitzero"` // Transactions API look-ups of an unfinished call
	Polls           int        `json:"polls,omitzero"`
	ReceivedAt      time.Time  `json:"receivedAt,omitzero"`
	AcceptedAt      time.Time  `json:"acceptedAt,omitzero"`
	SettledAt       time.Time  `json:"settledAt,omitzero"`
	Deadline        time.Time  `json:"deadline,omitzero"`
	Outcome         string     `json:"outcome,omitempty"`
	PlatformStatus  string     `json:"platformStatus,omitempty"`
	FailedProcessID string     `json:"failedProcessId,omitempty"`
	FailedStatus    string     `json:"failedStatus,omitempty"`
	Error           *ErrorInfo `json:"error,omitempty"`
	// Problems, RawCommand and RawCommandBase64 carry a rejected command's
	// problems and raw bytes to its event.
	Problems         []string `json:"problems,omitempty"`
	RawCommand       string   `json:"rawCommand,omitempty"`
	RawCommandBase64 string   `json:"rawCommandBase64,omitempty"`
	// Published: the terminal event is published.
	Published bool   `json:"published,omitzero"`
	Trace     Trace  `json:"trace,omitzero"`
	Revision  uint64 `json:"-"`
}

// Claims is the claim store: the state bucket with create-if-absent and
// compare-and-set updates. Obtain it from Bus.Claims.
type Claims struct{ b *Bus }

// Claims returns the claim store. Its methods return an error until
// Provision has returned nil.
func (b *Bus) Claims() *Claims { return &Claims{b: b} }

// key returns the bucket key of a command id: base64.RawURLEncoding(commandID).
func key(commandID string) string { return base64.RawURLEncoding.EncodeToString([]byte(commandID)) }

// kv returns the bound bucket.
func (c *Claims) kv() (jetstream.KeyValue, error) {
	_, _, kv := c.b.handles()
	if kv == nil {
		return nil, errNotProvisioned
	}
	return kv, nil
}

// Create stores cl if the command has no claim yet. created reports which
// happened: true → cl itself is returned with its Revision set; false → the
// claim already stored is returned unchanged (a duplicate or redelivery).
//
// A request that fails for a reason that may pass (no responders while the
// bucket has no leader, an answer lost in a leader election) is sent again
// within ctx. When the bucket then answers that the key exists after such
// an attempt, the stored value is read and compared with cl's: equal byte
// for byte, it is this call's own write, which landed before its answer
// was lost (created is true); anything else is someone else's claim.
func (c *Claims) Create(ctx context.Context, cl *Claim) (stored *Claim, created bool, err error) {
	if cl.CommandID == "" {
		return nil, false, errors.New("create claim: empty command id")
	}
	kv, err := c.kv()
	if err != nil {
		return nil, false, fmt.Errorf("create claim: %w", err)
	}
	data, err := marshal(cl)
	if err != nil {
		return nil, false, fmt.Errorf("create claim: %w: %w", ErrUnencodable, err)
	}
	// A claim that expires between Create's conflict and Get is created
	// anew. The bucket's Create also replaces a delete marker left as the
	// key's last entry.
	k := key(cl.CommandID)
	for range 3 {
		var rev uint64
		ambiguous := false // an attempt of this call may have landed unanswered
		err := retrying(ctx, func(ctx context.Context, _ int) (err error) {
			rev, err = kv.Create(ctx, k, data)
			if transient(err) && !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, jetstream.ErrNoStreamResponse) {
				ambiguous = true
			}
			return err
		})
		if err == nil {
			cl.Revision = rev
			return cl, true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, false, fmt.Errorf("create claim: %w", err)
		}
		e, err := entry(ctx, kv, k)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("create claim: %w", err)
		}
		if ambiguous && bytes.Equal(e.Value(), data) {
			cl.Revision = e.Revision()
			return cl, true, nil
		}
		stored, err := decodeEntry(e)
		if err != nil {
			return nil, false, fmt.Errorf("get claim: %w", err)
		}
		return stored, false, nil
	}
	return nil, false, errors.New("create claim: key kept vanishing")
}

// entry reads a key's latest entry, retrying what may pass within ctx;
// ErrNotFound when there is none.
func entry(ctx context.Context, kv jetstream.KeyValue, k string) (jetstream.KeyValueEntry, error) {
	var e jetstream.KeyValueEntry
	err := retrying(ctx, func(ctx context.Context, _ int) (err error) {
		e, err = kv.Get(ctx, k)
		return err
	})
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	return e, err
}

// decodeEntry decodes a claim entry and sets its Revision.
func decodeEntry(e jetstream.KeyValueEntry) (*Claim, error) {
	cl := new(Claim)
	if err := decodeClaim(e.Value(), cl); err != nil {
		return nil, fmt.Errorf("decode revision %d: %w", e.Revision(), err)
	}
	cl.Revision = e.Revision()
	return cl, nil
}

// Get returns the stored claim of a command, or ErrNotFound. A read that
// fails for a reason that may pass is tried again within ctx.
func (c *Claims) Get(ctx context.Context, commandID string) (*Claim, error) {
	kv, err := c.kv()
	if err != nil {
		return nil, fmt.Errorf("get claim: %w", err)
	}
	e, err := entry(ctx, kv, key(commandID))
	if err != nil {
		return nil, fmt.Errorf("get claim: %w", err)
	}
	cl, err := decodeEntry(e)
	if err != nil {
		return nil, fmt.Errorf("get claim: %w", err)
	}
	return cl, nil
}

// Update stores cl if the stored claim is still at cl.Revision, and sets
// cl.Revision to the new revision. Otherwise it returns ErrConflict and
// leaves cl unchanged; re-read with Get and decide again.
//
// A request that fails for a reason that may pass is sent again (with the
// same revision) within ctx. When the bucket answers "wrong last sequence"
// the stored claim is read again: a later revision holding exactly what
// this call wrote is this call's own write, which landed before a leader
// change or a lost answer (success); anything else is ErrConflict. When
// that read fails, so does Update, with neither answer assumed.
func (c *Claims) Update(ctx context.Context, cl *Claim) error {
	if cl.Revision == 0 {
		return errors.New("update claim: no revision (claim not read from the store)")
	}
	kv, err := c.kv()
	if err != nil {
		return fmt.Errorf("update claim: %w", err)
	}
	data, err := marshal(cl)
	if err != nil {
		return fmt.Errorf("update claim: %w: %w", ErrUnencodable, err)
	}
	k := key(cl.CommandID)
	var rev uint64
	err = retrying(ctx, func(ctx context.Context, _ int) (err error) {
		rev, err = kv.Update(ctx, k, data, cl.Revision)
		return err
	})
	// ErrKeyRevisionMismatch covers both codes of a stale revision (10071;
	// 10164 on replicated streams).
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		e, gerr := entry(ctx, kv, k)
		switch {
		case errors.Is(gerr, ErrNotFound):
			return fmt.Errorf("update claim: %w", ErrConflict)
		case gerr != nil:
			return fmt.Errorf("update claim: wrong revision, and the stored claim could not be read to tell whether this write landed: %w", gerr)
		case e.Revision() > cl.Revision && bytes.Equal(e.Value(), data):
			cl.Revision = e.Revision()
			return nil
		}
		return fmt.Errorf("update claim: %w", ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("update claim: %w", err)
	}
	cl.Revision = rev
	return nil
}

// processKeyPrefix starts the key of a processId's owner in the state
// bucket. Claim keys are base64url and never contain a dot, so no claim key
// can equal a processId key.
const processKeyPrefix = "pid."

// ProcessKey returns the state bucket key recording which command owns
// processID; tools that list the bucket's keys skip keys with this prefix.
func ProcessKey(processID string) string { return processKeyPrefix + processID }

// IsProcessKey reports whether a state bucket key is a processId's owner
// rather than a claim.
func IsProcessKey(k string) bool { return strings.HasPrefix(k, processKeyPrefix) }

// ReserveProcessID records commandID as the owner of processID unless
// another command already is, and returns the owner: commandID itself when
// the reservation is new or was made before by the same command (a
// redelivery). processID must be a canonical UUID (a valid key).
func (c *Claims) ReserveProcessID(ctx context.Context, processID, commandID string) (owner string, err error) {
	if processID == "" || commandID == "" || strings.ContainsAny(processID, ".*> \t\r\n") {
		return "", fmt.Errorf("reserve processId %q: %w", processID, ErrUnencodable)
	}
	kv, err := c.kv()
	if err != nil {
		return "", fmt.Errorf("reserve processId: %w", err)
	}
	k := ProcessKey(processID)
	// A reservation of ours that landed before its answer was lost reads
	// back as ours: the owner is commandID either way.
	for range 3 {
		err = retrying(ctx, func(ctx context.Context, _ int) error {
			_, err := kv.Create(ctx, k, []byte(commandID))
			return err
		})
		if err == nil {
			return commandID, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return "", fmt.Errorf("reserve processId: %w", err)
		}
		e, err := entry(ctx, kv, k)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reserve processId: %w", err)
		}
		return string(e.Value()), nil
	}
	return "", errors.New("reserve processId: key kept vanishing")
}
