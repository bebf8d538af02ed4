package poller

// How the tailer reads the Sequencer cheaply: the pages of one read are
// fetched several at a time, and the part of a read that an earlier read
// covered (the overlap kept for late entries) is not read again unless a
// probe finds that it holds more records than were read there.

import (
	"context"
	"sync"
	"time"

	"github.com/txworker/txworker/platform"
)

// pageWave bounds the pages of one read fetched at once.
const pageWave = 8

// readWindow is a stretch of the sequence read completely: its bounds
// (milliseconds, both inclusive, as the Sequencer filters) and how many
// records it held when read (-1: unknown, the pages disagreed).
type readWindow struct {
	from, to time.Time
	records  int
}

// pagedRead is one read of [from, to]: its entries in the answers' order,
// how many records its pages held, whether its last page was short
// (complete), and whether the pages agreed with one another (consistent:
// no page began with an entry of the page before, as happens when an entry
// appears before an offset between two requests).
type pagedRead struct {
	entries    []platform.SequenceEntry
	records    int
	pages      int
	complete   bool
	consistent bool
}

// readPages reads [from, to] by offset, at most maxPages pages: the first
// alone, then, while pages come back full, waves of up to pageWave at
// once (as many as the estimate expects, at least two). It hands every
// wave's entries, in page order, to wave (nil: none) before reading the
// next; a wave that met an error is not handed.
func readPages(ctx context.Context, seq Sequencer, from, to time.Time, maxPages, estimate int, wave func([]platform.SequenceEntry)) (pagedRead, error) {
	r := pagedRead{consistent: true}
	var last []platform.SequenceEntry
	for r.pages < maxPages {
		n := 1
		if r.pages > 0 {
			n = min(pageWave, max(2, estimate-r.pages), maxPages-r.pages)
		}
		pages := make([]platform.SequencePage, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				pages[i], errs[i] = seq.Sequence(ctx, platform.SequenceQuery{From: from, To: to,
					PageSize: platform.MaxSequencePage, Offset: (r.pages + i) * platform.MaxSequencePage})
			})
		}
		wg.Wait()
		first := len(r.entries)
		for i, p := range pages {
			if errs[i] != nil {
				return pagedRead{}, errs[i]
			}
			if len(last) > 0 && len(p.Entries) > 0 && sharesEntry(last, p.Entries[0]) {
				r.consistent = false
			}
			r.entries = append(r.entries, p.Entries...)
			r.records += p.Records
			r.pages++
			last = p.Entries
			if p.Records < platform.MaxSequencePage {
				r.complete = true
				break
			}
		}
		if wave != nil {
			wave(r.entries[first:])
		}
		if r.complete {
			return r, nil
		}
	}
	return r, nil
}

// sharesEntry reports whether page holds an entry with e's key.
func sharesEntry(page []platform.SequenceEntry, e platform.SequenceEntry) bool {
	k := entryKey(e)
	for _, p := range page {
		if entryKey(p) == k {
			return true
		}
	}
	return false
}

// lateProbe reports whether the stretch the remembered windows cover from
// `from` on may hold records that were not read (an entry published late,
// or windows that cannot tell): then the whole read must be done again.
// It asks for one record past the count read there. ok=false: the windows
// do not cover from..their end, nothing was asked.
func (t *Tailer) lateProbe(ctx context.Context, from time.Time) (late, ok bool, end time.Time, err error) {
	ws := t.windows
	for len(ws) > 0 && ws[0].to.Before(from) {
		ws = ws[1:]
	}
	if len(ws) == 0 || ws[0].from.After(from) {
		return false, false, time.Time{}, nil
	}
	n := 0
	for i, w := range ws {
		if w.records < 0 || i > 0 && !w.from.Equal(ws[i-1].to.Add(time.Millisecond)) {
			return false, false, time.Time{}, nil
		}
		n += w.records
	}
	end = ws[len(ws)-1].to
	p, err := t.seq.Sequence(ctx, platform.SequenceQuery{From: ws[0].from, To: end, PageSize: 1, Offset: n})
	if err != nil {
		return false, false, time.Time{}, err
	}
	t.windows = ws
	return p.Records > 0, true, end, nil
}
