package poller

// The cursor arithmetic of the hint tailer, without I/O: which entries of
// a read are new, and how far the cursor may move once some were handled.

import (
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// maxSeen bounds the keys the cursor remembers; past it the oldest are
// forgotten (their entries, re-read, are handled again: a cost, not a
// fault).
const maxSeen = 20_000

// entryKey identifies a Sequencer entry across reads: its time (so that
// the cursor can forget keys that fell out of the overlap) and a hash of
// what it says.
func entryKey(e platform.SequenceEntry) string {
	h := fnv.New64a()
	for _, s := range []string{e.Kind, e.ProcessID, e.OrchestrationID, e.Status, e.Type, e.Method} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return strconv.FormatInt(e.Timestamp.UnixMilli(), 36) + ":" + strconv.FormatUint(h.Sum64(), 36)
}

// keyTime is the time part of an entryKey (ok=false: not one).
func keyTime(k string) (time.Time, bool) {
	ms, _, found := strings.Cut(k, ":")
	if !found {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(ms, 36, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(n), true
}

// hinting reports whether an entry may mean that its orchestration has
// ended and names one: a transaction or orchestration entry with an
// orchestrationId and a status other than queued or in_progress (a step
// that started changes nothing the worker reports).
func hinting(e platform.SequenceEntry) bool {
	if e.OrchestrationID == "" || e.Kind != platform.EntryTransaction && e.Kind != platform.EntryOrchestration {
		return false
	}
	switch e.Status {
	case "queued", "in_progress":
		return false
	}
	return true
}

// newEntries returns the entries of a read (or of a wave of its pages)
// not seen before, in time order (stable: the platform's order within one
// timestamp), each once; in holds the keys taken so far this round, and
// gains these.
func newEntries(entries []platform.SequenceEntry, seen, in map[string]bool) []keyed {
	out := make([]keyed, 0, len(entries))
	for _, e := range entries {
		k := entryKey(e)
		if seen[k] || in[k] {
			continue // a duplicate, or read again in the overlap
		}
		in[k] = true
		out = append(out, keyed{e, k})
	}
	sortByTime(out)
	return out
}

func sortByTime(ks []keyed) {
	slices.SortStableFunc(ks, func(a, b keyed) int { return a.e.Timestamp.Compare(b.e.Timestamp) })
}

// keyed is an entry with its entryKey.
type keyed struct {
	e   platform.SequenceEntry
	key string
}

// advance moves the cursor over the entries (in time order) as far as
// every one of them is handled: it stops before the first whose
// orchestration is in unhandled, so that the next read (from At minus
// the overlap) finds it again. When all were handled and the read was
// complete (its last page short), the cursor moves to the read's end
// minus the overlap: an entry not yet visible then can still appear in
// the overlap. Seen keeps the keys handled at or after At minus the
// overlap.
func advance(cur queue.HintCursor, entries []keyed, unhandled map[string]bool, complete bool, readTo time.Time, overlap time.Duration) queue.HintCursor {
	next := queue.HintCursor{At: cur.At, Revision: cur.Revision}
	seen := slices.Clone(cur.Seen)
	stopped := false
	for _, k := range entries {
		if unhandled[k.e.OrchestrationID] && k.e.OrchestrationID != "" {
			stopped = true
			break
		}
		if k.e.Timestamp.After(next.At) {
			next.At = k.e.Timestamp
		}
		seen = append(seen, k.key)
	}
	if !stopped && complete && readTo.Add(-overlap).After(next.At) {
		next.At = readTo.Add(-overlap)
	}
	floor := next.At.Add(-overlap)
	next.Seen = seen[:0:0]
	for _, k := range seen {
		if t, ok := keyTime(k); ok && !t.Before(floor.Truncate(time.Millisecond)) {
			next.Seen = append(next.Seen, k)
		}
	}
	next.Seen = slices.Compact(next.Seen)
	if n := len(next.Seen); n > maxSeen {
		next.Seen = next.Seen[n-maxSeen:]
	}
	return next
}
