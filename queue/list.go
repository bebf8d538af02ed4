package queue

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// scanBatch is how many bucket entries one pull asks for.
const scanBatch = 4096

// Scan calls fn with every claim of the state bucket, each once, at the
// revision it is read at, in the bucket's order (the order of the claims'
// last writes), until fn returns false. Keys that are not claims (processId
// reservations, see IsProcessKey) and deleted keys are skipped; a value that
// is not a claim is reported to fn as a Claim with only CommandID (the
// decoded key) and State "" set. It reads the bucket's stream with one
// ephemeral consumer delivering the last value of each key (as a key-value
// watch does, values included), so it costs a pass over the live claims, not
// a request per key; a claim written while Scan runs is seen at its newer
// revision or not at all (a key is reported once). It returns when the
// consumer has caught up with the stream, fn has returned false, or ctx ends.
func (c *Claims) Scan(ctx context.Context, fn func(*Claim) bool) error {
	if _, err := c.kv(); err != nil {
		return fmt.Errorf("scan claims: %w", err)
	}
	stream, prefix := "KV_"+c.b.names.state, "$KV."+c.b.names.state+"."
	cons, err := c.b.js.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Description:       "txworker list",
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		FilterSubject:     prefix + ">",
		MemoryStorage:     true,
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("scan claims: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = c.b.js.DeleteConsumer(dctx, stream, cons.CachedInfo().Name)
	}()
	if cons.CachedInfo().NumPending == 0 {
		return nil
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(scanBatch))
	if err != nil {
		return fmt.Errorf("scan claims: %w", err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	seen := map[string]bool{}
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("scan claims: %w", ctx.Err())
			}
			return fmt.Errorf("scan claims: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("scan claims: %w", err)
		}
		k := strings.TrimPrefix(m.Subject(), prefix)
		if op := m.Headers().Get("KV-Operation"); op == "" && !IsProcessKey(k) && !seen[k] {
			seen[k] = true
			cl := new(Claim)
			if decodeClaim(m.Data(), cl) != nil {
				id, _ := decodeKey(k)
				*cl = Claim{CommandID: id}
			}
			cl.Revision = md.Sequence.Stream
			if !fn(cl) {
				return nil
			}
		}
		if md.NumPending == 0 {
			return nil
		}
	}
}

// decodeKey returns the command id of a claim key.
func decodeKey(k string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(k)
	return string(b), err
}

// ListFilter selects the claims List returns.
type ListFilter struct {
	// States are the states listed; none: every state but terminal.
	States []State
	// Action, when set, lists only the claims of that action token.
	Action string
	// OlderThan, when positive, lists only claims received more than this
	// long before Now.
	OlderThan time.Duration
	// Now is the time ages are measured from; zero: time.Now().
	Now time.Time
}

// Match reports whether cl passes the filter. A claim whose value could not
// be read (State "") passes only a filter without states, action and age, so
// that it shows up in the default listing.
func (f ListFilter) Match(cl *Claim) bool {
	if len(f.States) == 0 {
		if cl.State == StateTerminal {
			return false
		}
	} else if !slices.Contains(f.States, cl.State) {
		return false
	}
	if f.Action != "" && cl.Action != f.Action {
		return false
	}
	if f.OlderThan > 0 {
		now := f.Now
		if now.IsZero() {
			now = time.Now()
		}
		if cl.ReceivedAt.IsZero() || now.Sub(cl.ReceivedAt) <= f.OlderThan {
			return false
		}
	}
	return true
}

// ParseStates parses a comma-separated list of states ("received,calling");
// every name that is not a state is an error naming it.
func ParseStates(s string) ([]State, error) {
	var out []State
	var errs []error
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		st := State(name)
		if !slices.Contains(States(), st) {
			errs = append(errs, fmt.Errorf("%q is not a state (%s)", name, joinStates()))
			continue
		}
		out = append(out, st)
	}
	return out, errors.Join(errs...)
}

// States returns the claim states in their order.
func States() []State { return []State{StateReceived, StateCalling, StateAccepted, StateTerminal} }

func joinStates() string {
	var s []string
	for _, st := range States() {
		s = append(s, string(st))
	}
	return strings.Join(s, ", ")
}

// List returns the claims that pass f, oldest first (by ReceivedAt, then
// CommandID; claims without a receipt time last). It is Scan with a filter
// and a sort.
func (c *Claims) List(ctx context.Context, f ListFilter) ([]*Claim, error) {
	if f.Now.IsZero() {
		f.Now = time.Now()
	}
	var out []*Claim
	err := c.Scan(ctx, func(cl *Claim) bool {
		if f.Match(cl) {
			cl.RawCommand, cl.RawCommandBase64 = "", "" // never shown; may hold e-mail addresses
			out = append(out, cl)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b *Claim) int {
		if a.ReceivedAt.IsZero() != b.ReceivedAt.IsZero() {
			if a.ReceivedAt.IsZero() {
				return 1
			}
			return -1
		}
		return cmp.Or(a.ReceivedAt.Compare(b.ReceivedAt), strings.Compare(a.CommandID, b.CommandID))
	})
	return out, nil
}
