package platformtest

import (
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"

	"time"
)

// The Sequencer (Event Retrieval API, reference §5): GET /external/v1/sequencer, scope
// readSequencer, at most 100 records per call, params pageSize, offset, fromDate, toDate; it
// answers {"sequence":[…]} in time order. The simulator publishes, for every orchestration, a
// transaction entry when each step starts (in_progress) and when it ends (success, failed,
// timed_out; the steps after a failing one are marked failed at the same time), and an
// orchestration entry with its final status when it ends. Entries carry RFC 3339 timestamps with
// milliseconds (the simulator's assumption: the Sequencer's entries are ordered by a precise
// time). Config.Sequencer… faults drop, delay, duplicate and reorder entries, decided once per
// entry so that every read agrees.

const (
	maxSeqPage     = 100
	sequencerPath  = "/external/v1/sequencer"
	scopeSequencer = "readSequencer"
	// defaultSequencerLate is how late a delayed entry is published by default.
	defaultSequencerLate = time.Second
)

// seqEntry is one entry of the sequence.
type seqEntry struct {
	at      int64 // unix milliseconds
	o       *orch
	step    int // -1: the orchestration entry
	status  string
	visible int64 // unix milliseconds from which it is published
	fate    uint64
}

// entryFate is a per-entry random number fixed by the orchestration and the entry's place, so
// that faults hit the same entries on every read.
func entryFate(o *orch, idx int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(o.id))
	h.Write([]byte{byte(idx), byte(idx >> 8), 0x5e})
	return h.Sum64()
}

// share is the fate's k-th uniform draw in [0,1).
func share(fate uint64, k uint) float64 {
	x := fate ^ (uint64(k+1) * 0x9e3779b97f4a7c15)
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return float64(x>>11) / (1 << 53)
}

// indexEntries files o's entries (the dropped ones left out) by the second of their timestamp,
// when o is created: its plan fixes them all. s.mu must be held.
func (s *Simulator) indexEntries(o *orch) {
	for _, e := range s.entriesOf(nil, o) {
		sec := e.at / 1000
		s.seqIndex[sec] = append(s.seqIndex[sec], e)
	}
}

// entriesOf appends o's entries, each with the time from which it is published.
func (s *Simulator) entriesOf(out []seqEntry, o *orch) []seqEntry {
	ms := func(off time.Duration) int64 { return (o.created + int64(off)) / 1e6 }
	t := o.terminalIdx()
	idx := 0
	add := func(at int64, step int, status string) {
		fate := entryFate(o, idx)
		idx++
		e := seqEntry{at: at, o: o, step: step, status: status, visible: at, fate: fate}
		c := &s.cfg
		if share(fate, 0) < c.SequencerDrop {
			return
		}
		if share(fate, 1) < c.SequencerDelay {
			late := c.SequencerLate
			if late <= 0 {
				late = defaultSequencerLate
			}
			e.visible += late.Milliseconds()
		}
		out = append(out, e)
	}
	end := ms(o.steps[t].end)
	for i := range o.steps {
		if o.out != outSuccess && i > t {
			add(end, i, "failed")
			continue
		}
		add(ms(o.stepStart(i)), i, "in_progress")
		switch {
		case i < t || o.out == outSuccess:
			add(ms(o.steps[i].end), i, "success")
		case o.out == outDLQ:
			add(end, i, "timed_out")
		default:
			add(end, i, "failed")
		}
	}
	add(end, -1, o.out.String())
	return out
}

// parseSeqDate reads fromDate/toDate: RFC 3339, a date, or epoch milliseconds; ok=false if
// unreadable. It returns unix milliseconds.
func parseSeqDate(v string) (int64, bool) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}

// handleSequencer is GET /external/v1/sequencer.
func (s *Simulator) handleSequencer(w http.ResponseWriter, r *http.Request, now time.Time) reply {
	if _, rep, ok := s.authorize(w, r, scopeSequencer, now); !ok {
		return rep
	}
	p := parseListParams(r.URL.RawQuery, "pageSize", "offset", "fromDate", "toDate")
	size := p.int("pageSize", maxSeqPage, 1, maxSeqPage)
	offset := p.int("offset", 0, 0, 1<<31-1)
	from, to := int64(-1<<62), int64(1<<62)
	for _, d := range []struct {
		name string
		v    *int64
	}{{"fromDate", &from}, {"toDate", &to}} {
		if raw := p.get(d.name); raw != "" {
			ms, ok := parseSeqDate(raw)
			if !ok {
				p.problems = append(p.problems, d.name+" is not a date-time")
			}
			*d.v = ms
		}
	}
	if len(p.problems) > 0 {
		return badPayload(p.problems...)
	}
	entries := s.sequence(from, to, now.UnixMilli())
	slices.SortStableFunc(entries, func(a, b seqEntry) int {
		switch {
		case a.at != b.at:
			return int(a.at - b.at)
		case a.o.seq != b.o.seq:
			return int(a.o.seq - b.o.seq)
		}
		return stepOrder(a.step) - stepOrder(b.step)
	})
	// Faults on the order: a reordered entry swaps places with the next; a duplicated one is
	// published twice.
	for i := 0; i+1 < len(entries); i++ {
		if share(entries[i].fate, 2) < s.cfg.SequencerReorder {
			entries[i], entries[i+1] = entries[i+1], entries[i]
			i++
		}
	}
	if s.cfg.SequencerDuplicate > 0 {
		out := make([]seqEntry, 0, len(entries)+len(entries)/8)
		for _, e := range entries {
			out = append(out, e)
			if share(e.fate, 3) < s.cfg.SequencerDuplicate {
				out = append(out, e)
			}
		}
		entries = out
	}
	lo := min(offset, len(entries))
	page := entries[lo:min(lo+size, len(entries))]
	b := append(make([]byte, 0, 64+len(page)*256), `{"sequence":[`...)
	for i, e := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSeqEntry(b, e)
	}
	return reply{status: http.StatusOK, body: append(b, "]}"...)}
}

// sequence returns the entries timestamped from..to (milliseconds, inclusive) and published by
// now, in no particular order: those of the seconds the range spans, or of every second when
// it spans more seconds than hold entries.
func (s *Simulator) sequence(from, to, now int64) []seqEntry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var entries []seqEntry
	keep := func(bucket []seqEntry) {
		for _, e := range bucket {
			if e.at >= from && e.at <= to && e.visible <= now {
				entries = append(entries, e)
			}
		}
	}
	lo, hi := floorDiv(from, 1000), floorDiv(to, 1000)
	if hi-lo < int64(len(s.seqIndex)) {
		for sec := lo; sec <= hi; sec++ {
			keep(s.seqIndex[sec])
		}
		return entries
	}
	for _, bucket := range s.seqIndex {
		keep(bucket)
	}
	return entries
}

// stepOrder places the orchestration entry (step -1) after its steps' entries of the same time.
func stepOrder(step int) int {
	if step < 0 {
		return maxSteps
	}
	return step
}

func appendSeqEntry(b []byte, e seqEntry) []byte {
	o := e.o
	if e.step < 0 {
		b = append(b, `{"orchestration":{"orchestrationId":`...)
		b = appendString(b, o.id)
		b = append(b, `,"status":"`+e.status+`","timestamp":`...)
		b = appendTS(b, tsRFC3339, e.at*1e6)
		b = append(b, `,"startDate":`...)
		b = appendTS(b, tsRFC3339, o.created)
		return append(b, "}}"...)
	}
	b = append(b, `{"transaction":{"processId":`...)
	b = appendString(b, o.stepPID(e.step))
	b = append(b, `,"orchestrationId":`...)
	b = appendString(b, o.id)
	b = append(b, `,"status":"`+e.status+`","timestamp":`...)
	b = appendTS(b, tsRFC3339, e.at*1e6)
	b = append(b, `,"type":"`+txType+`","method":`...)
	b = appendString(b, stepMethod(o.action, e.step))
	b = append(b, `,"orgId":`...)
	b = appendString(b, o.org)
	b = append(b, `,"details":{"securityIds":[`...)
	b = appendString(b, o.security)
	return append(b, "]}}}"...)
}
