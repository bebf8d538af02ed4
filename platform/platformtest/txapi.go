package platformtest

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// Limits of the Transactions API (reference §3).
const (
	maxPage           = 50
	maxOrchIDs        = 50 // orchestrationIdsFilter on /transactions/orchestrations
	maxTxOrchIDs      = 10 // orchestrationIdsFilter on /transactions
	maxProcessIDs     = 50
	maxStatusFilter   = 5
	maxOrgIDs         = 10
	maxMethodFilter   = 253
	maxSourceTxFilter = 50
)

var (
	orchStatuses = []string{"queued", "in_progress", "success", "failed", "dlq"}
	txStatuses   = []string{"in_progress", "success", "failed", "timed_out", "queued"}
)

// handleOrchestrations is GET /external/v1/transactions/orchestrations: a JSON array of the
// matching orchestrations in creation order, with their status as of now.
func (s *Simulator) handleOrchestrations(w http.ResponseWriter, r *http.Request, now time.Time) reply {
	if _, rep, ok := s.authorize(w, r, scopeRead, now); !ok {
		return rep
	}
	p := parseListParams(r.URL.RawQuery, "pageSize", "offset", "orchestrationIdsFilter",
		"orchestrationStatusFilter", "sourceTransactionIdsFilter")
	size := p.int("pageSize", maxPage, 1, maxPage)
	offset := p.int("offset", 0, 0, 1<<31-1)
	ids := p.list("orchestrationIdsFilter", maxOrchIDs, true, nil)
	statuses := p.list("orchestrationStatusFilter", maxStatusFilter, false, orchStatuses)
	sources := p.list("sourceTransactionIdsFilter", maxSourceTxFilter, true, nil)
	if len(p.problems) > 0 {
		return badPayload(p.problems...)
	}
	n := now.UnixNano()
	buf := getBuf()
	b := append(*buf, '[')
	// No lock while encoding: an orchestration never changes once created.
	var picked []*orch
	if ids != nil {
		picked = make([]*orch, 0, len(ids))
		for _, id := range ids {
			if o := s.orch(id); o != nil && !slices.Contains(picked, o) {
				picked = append(picked, o)
			}
		}
		slices.SortFunc(picked, func(a, b *orch) int { return int(a.seq - b.seq) })
	} else {
		s.mu.RLock()
		picked = s.orchList[:len(s.orchList):len(s.orchList)]
		s.mu.RUnlock()
	}
	skipped, written := 0, 0
	for _, o := range picked {
		if written == size {
			break
		}
		if statuses != nil {
			if st, _ := o.statusAt(n); !slices.Contains(statuses, st) {
				continue
			}
		}
		if sources != nil && !slices.ContainsFunc(sources, func(x string) bool { return strings.EqualFold(x, o.id) }) {
			continue
		}
		if skipped < offset {
			skipped++
			continue
		}
		if written > 0 {
			b = append(b, ',')
		}
		b = appendOrch(b, o, n)
		written++
	}
	*buf = append(b, ']')
	return reply{status: http.StatusOK, body: *buf, buf: buf}
}

// txEntry is one orchestrated transaction selected by the transactions endpoint.
type txEntry struct {
	o *orch
	i int
}

// handleTransactions is GET /external/v1/transactions: one entry per orchestration step.
func (s *Simulator) handleTransactions(w http.ResponseWriter, r *http.Request, now time.Time) reply {
	if _, rep, ok := s.authorize(w, r, scopeRead, now); !ok {
		return rep
	}
	p := parseListParams(r.URL.RawQuery, "pageSize", "offset", "blockNumber", "transactionId", "channelName",
		"transactionStatusFilter", "transactionMethodFilter", "processIdsFilter", "orgIdsFilter", "orchestrationIdsFilter")
	f := txFilter{
		block:    p.int("blockNumber", -1, 0, 1<<31-1),
		txID:     p.get("transactionId"),
		channel:  p.get("channelName"),
		statuses: p.list("transactionStatusFilter", maxStatusFilter, false, txStatuses),
		methods:  p.list("transactionMethodFilter", maxMethodFilter, false, nil),
		orgs:     p.list("orgIdsFilter", maxOrgIDs, false, nil),
	}
	size := p.int("pageSize", maxPage, 1, maxPage)
	offset := p.int("offset", 0, 0, 1<<31-1)
	pids := p.list("processIdsFilter", maxProcessIDs, true, nil)
	oids := p.list("orchestrationIdsFilter", maxTxOrchIDs, true, nil)
	if len(f.txID) > 500 || len(f.channel) > 20 {
		p.problems = append(p.problems, "transactionId or channelName too long")
	}
	if len(p.problems) > 0 {
		return badPayload(p.problems...)
	}
	n := now.UnixNano()
	s.mu.RLock()
	entries := s.selectSteps(pids, oids)
	s.mu.RUnlock()
	b := append(make([]byte, 0, 1024), '[')
	skipped, written := 0, 0
	for _, e := range entries {
		if written == size {
			break
		}
		if !f.match(e, n) {
			continue
		}
		if skipped < offset {
			skipped++
			continue
		}
		if written > 0 {
			b = append(b, ',')
		}
		b = appendTx(b, e, n)
		written++
	}
	return reply{status: http.StatusOK, body: append(b, ']')}
}

// selectSteps lists the steps named by the id filters (both: steps matching both), in creation
// and step order; s.mu must be held.
func (s *Simulator) selectSteps(pids, oids []string) []txEntry {
	var out []txEntry
	switch {
	case pids != nil:
		for _, pid := range pids {
			o, i := s.stepOf(pid)
			if o == nil || slices.Contains(out, txEntry{o, i}) {
				continue
			}
			if oids == nil || slices.ContainsFunc(oids, func(x string) bool { return strings.EqualFold(x, o.id) }) {
				out = append(out, txEntry{o, i})
			}
		}
	case oids != nil:
		for _, id := range oids {
			if o := s.orch(id); o != nil && !slices.ContainsFunc(out, func(e txEntry) bool { return e.o == o }) {
				for i := range o.steps {
					out = append(out, txEntry{o, i})
				}
			}
		}
	default:
		for _, o := range s.orchList {
			for i := range o.steps {
				out = append(out, txEntry{o, i})
			}
		}
		return out // already in order
	}
	slices.SortStableFunc(out, func(a, b txEntry) int {
		if a.o != b.o {
			return int(a.o.seq - b.o.seq)
		}
		return a.i - b.i
	})
	return out
}

// stepOf finds the orchestration and step index of a processId.
func (s *Simulator) stepOf(pid string) (*orch, int) {
	if o := s.orch(pid); o != nil {
		return o, 0
	}
	if u, err := parseUUID(pid); err == nil {
		if o := s.stepIdx[u]; o != nil {
			for i := 1; i < len(o.steps); i++ {
				if o.steps[i].pid == u {
					return o, i
				}
			}
		}
	}
	return nil, 0
}
