package queue

// Tracking hints (TXWORKER_TRACKING_HINTS=sequencer) keep three kinds of
// keys in the state bucket beside the claims: the tailer's lease
// (hint.lease), its cursor (hint.cursor) and the index from an
// orchestrationId to its command (orch.{base64url(orchestrationId)}). Like
// the processId keys (pid.…), every one of them contains a dot, which no
// claim key (base64url of the command id) does: IsClaimKey tells them apart
// for anything that walks the bucket.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/nats-io/nats.go/jetstream"
)

// Keys of the hints in the state bucket.
const (
	hintLeaseKey  = "hint.lease"
	hintCursorKey = "hint.cursor"
	orchKeyPrefix = "orch."
)

// IsClaimKey reports whether a state bucket key is a command's claim: not
// a processId owner (IsProcessKey), an orchestration index entry
// (OrchestrationKey) nor the hint tailer's lease or cursor. Anything that
// walks the claims must skip the other keys.
func IsClaimKey(k string) bool { return k != "" && !strings.Contains(k, ".") }

// OrchestrationKey is the state bucket key of the index entry of an
// orchestrationId.
func OrchestrationKey(orchestrationID string) string {
	return orchKeyPrefix + base64.RawURLEncoding.EncodeToString([]byte(orchestrationID))
}

// Hints is the hint tailer's state in the state bucket: its lease, its
// cursor and the orchestration index. Obtain it from Bus.Hints; its
// methods fail until Provision has returned nil.
type Hints struct{ b *Bus }

// Hints returns the hint store.
func (b *Bus) Hints() *Hints { return &Hints{b: b} }

func (h *Hints) kv() (jetstream.KeyValue, error) {
	_, _, kv := h.b.handles()
	if kv == nil {
		return nil, errNotProvisioned
	}
	return kv, nil
}

// lease is the stored value of hint.lease.
type lease struct {
	Owner string    `json:"owner"`
	Until time.Time `json:"until"`
}

// AcquireLease takes or renews the tailer's lease for owner until
// now+ttl: it succeeds when no lease is stored, when owner holds it, or
// when the stored one has expired. Two replicas racing for it are decided
// by the bucket's revision check: one of them gets held=false.
func (h *Hints) AcquireLease(ctx context.Context, owner string, ttl time.Duration, now time.Time) (held bool, err error) {
	kv, err := h.kv()
	if err != nil {
		return false, fmt.Errorf("hint lease: %w", err)
	}
	data, err := marshal(lease{Owner: owner, Until: now.Add(ttl).UTC()})
	if err != nil {
		return false, fmt.Errorf("hint lease: %w: %w", ErrUnencodable, err)
	}
	e, err := kv.Get(ctx, hintLeaseKey)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		_, err = kv.Create(ctx, hintLeaseKey, data)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("hint lease: %w", err)
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("hint lease: %w", err)
	}
	var cur lease
	if err := json.Unmarshal(e.Value(), &cur); err == nil && cur.Owner != owner && now.Before(cur.Until) {
		return false, nil // held by another replica (an unreadable lease is taken over)
	}
	_, err = kv.Update(ctx, hintLeaseKey, data, e.Revision())
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("hint lease: %w", err)
	}
	return true, nil
}

// ReleaseLease gives the lease up if owner holds it, so that another
// replica takes over at once (a replica that dies instead loses it when
// it expires).
func (h *Hints) ReleaseLease(ctx context.Context, owner string) error {
	kv, err := h.kv()
	if err != nil {
		return fmt.Errorf("hint lease: %w", err)
	}
	e, err := kv.Get(ctx, hintLeaseKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("hint lease: %w", err)
	}
	var cur lease
	if json.Unmarshal(e.Value(), &cur) != nil || cur.Owner != owner {
		return nil
	}
	err = kv.Delete(ctx, hintLeaseKey, jetstream.LastRevision(e.Revision()))
	if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return fmt.Errorf("hint lease: %w", err)
	}
	return nil
}

// HintCursor is where the tailer stands in the Sequencer: every entry
// before At is handled, and Seen holds the keys of the entries handled at
// or shortly before At (the overlap re-read on the next page). Revision is
// the bucket revision it was read at (0: none stored).
type HintCursor struct {
	At       time.Time `json:"at,omitzero"`
	Seen     []string  `json:"seen,omitempty"`
	Revision uint64    `json:"-"`
}

// Cursor returns the stored cursor, or the zero cursor when none is stored.
func (h *Hints) Cursor(ctx context.Context) (HintCursor, error) {
	kv, err := h.kv()
	if err != nil {
		return HintCursor{}, fmt.Errorf("hint cursor: %w", err)
	}
	e, err := kv.Get(ctx, hintCursorKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return HintCursor{}, nil
	}
	if err != nil {
		return HintCursor{}, fmt.Errorf("hint cursor: %w", err)
	}
	var c HintCursor
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		// Unreadable: start over from the revision, without a position (the
		// tailer then starts at its own start-up time minus the overlap).
		return HintCursor{Revision: e.Revision()}, nil
	}
	c.Revision = e.Revision()
	return c, nil
}

// SaveCursor stores c if the stored cursor is still at c.Revision (0:
// none stored) and sets c.Revision; otherwise ErrConflict (another tailer
// wrote it: read it again).
func (h *Hints) SaveCursor(ctx context.Context, c *HintCursor) error {
	kv, err := h.kv()
	if err != nil {
		return fmt.Errorf("hint cursor: %w", err)
	}
	data, err := marshal(c)
	if err != nil {
		return fmt.Errorf("hint cursor: %w: %w", ErrUnencodable, err)
	}
	var rev uint64
	if c.Revision == 0 {
		rev, err = kv.Create(ctx, hintCursorKey, data)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("hint cursor: %w", ErrConflict)
		}
	} else {
		rev, err = kv.Update(ctx, hintCursorKey, data, c.Revision)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("hint cursor: %w", ErrConflict)
		}
	}
	if err != nil {
		return fmt.Errorf("hint cursor: %w", err)
	}
	c.Revision = rev
	return nil
}

// IndexOrchestration records commandID as the command tracking
// orchestrationID (written before the command is handed to tracking; a
// second write is harmless). The entry is deleted when a hint settles the
// command, else it goes with the bucket's TTL.
func (h *Hints) IndexOrchestration(ctx context.Context, orchestrationID, commandID string) error {
	if orchestrationID == "" || commandID == "" {
		return fmt.Errorf("index orchestration: empty id: %w", ErrUnencodable)
	}
	kv, err := h.kv()
	if err != nil {
		return fmt.Errorf("index orchestration: %w", err)
	}
	if _, err := kv.Put(ctx, OrchestrationKey(orchestrationID), []byte(commandID)); err != nil {
		return fmt.Errorf("index orchestration: %w", err)
	}
	return nil
}

// LookupOrchestration returns the command tracking orchestrationID, or
// ErrNotFound (not one of txworker's, or settled).
func (h *Hints) LookupOrchestration(ctx context.Context, orchestrationID string) (commandID string, err error) {
	kv, err := h.kv()
	if err != nil {
		return "", fmt.Errorf("look up orchestration: %w", err)
	}
	e, err := kv.Get(ctx, OrchestrationKey(orchestrationID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", fmt.Errorf("look up orchestration: %w", ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("look up orchestration: %w", err)
	}
	return string(e.Value()), nil
}

// UnindexOrchestration deletes the index entry of orchestrationID.
func (h *Hints) UnindexOrchestration(ctx context.Context, orchestrationID string) error {
	kv, err := h.kv()
	if err != nil {
		return fmt.Errorf("unindex orchestration: %w", err)
	}
	if err := kv.Delete(ctx, OrchestrationKey(orchestrationID)); err != nil {
		return fmt.Errorf("unindex orchestration: %w", err)
	}
	return nil
}
