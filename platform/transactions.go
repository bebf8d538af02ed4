package platform

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Transactions API limits (platform-apis §3).
const (
	pageSize              = 50 // pageSize sent on every list request (the documented maximum)
	maxOrchestrationIDs   = 50 // orchestrationIdsFilter on /transactions/orchestrations
	maxTxnProcessIDs      = 50 // processIdsFilter on /transactions
	maxTxnOrchestrationID = 10 // orchestrationIdsFilter on /transactions
	maxPages              = 100
	orchestrationsPath    = "/external/v1/transactions/orchestrations"
	transactionsPath      = "/external/v1/transactions"
)

// Orchestration is one element of GET /external/v1/transactions/orchestrations.
type Orchestration struct {
	OrchestrationID     string    `json:"orchestrationId"`
	Status              string    `json:"status"`      // queued, in_progress, success, failed, dlq
	StartDate           Timestamp `json:"startDate"`   // when it started
	Timestamp           Timestamp `json:"timestamp"`   // zero until finished
	CreatedDate         Timestamp `json:"createdDate"` // when the request was created
	ProcessIDs          []string  `json:"processIds"`  // its transactions in execution order
	SourceTransactionID string    `json:"sourceTransactionId"`
	CurrentStep         int       `json:"currentStep"`
}

// Terminal reports whether the orchestration has ended: status success, failed or dlq.
func (o Orchestration) Terminal() bool {
	switch o.Status {
	case "success", "failed", "dlq":
		return true
	}
	return false
}

// Transaction is one element of GET /external/v1/transactions.
type Transaction struct {
	ProcessID       string    `json:"processId"`
	OrchestrationID string    `json:"orchestrationId"`
	Status          string    `json:"status"` // in_progress, success, failed, timed_out, queued
	Type            string    `json:"type"`
	Method          string    `json:"method"`
	OrgID           string    `json:"orgId"`
	Timestamp       Timestamp `json:"timestamp"`
}

// TransactionFilter selects transactions: those of any of ProcessIDs and those of any of
// OrchestrationIDs (the union). Transactions splits them into requests of at most 50 process ids
// or 10 orchestration ids.
type TransactionFilter struct {
	ProcessIDs       []string
	OrchestrationIDs []string
}

// Orchestrations returns the orchestrations among ids that the platform knows (unknown ids are
// simply absent; order is the platform's). Ids are deduplicated and asked for in requests of at
// most 50, each with pageSize=50 and offset=0; a full page is followed by the next offset. Only
// orchestrations that were asked for are returned, each once. Every failure is an *Error; the
// first one ends the call.
func (c *Corastone) Orchestrations(ctx context.Context, ids []string) ([]Orchestration, error) {
	ids, err := c.cleanIDs(endpointOrchestrations, ids)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	var out []Orchestration
	seen := map[string]bool{}
	for chunk := range slices.Chunk(ids, maxOrchestrationIDs) {
		want := setOf(chunk)
		items, err := listAll(ctx, c, list[Orchestration]{endpoint: endpointOrchestrations, path: orchestrationsPath,
			filter: "orchestrationIdsFilter", id: orchestrationID, match: orchestrationID, onePerID: true,
			decode: decodeOrchestrations}, chunk)
		if err != nil {
			return nil, err
		}
		for _, o := range items {
			if want[o.OrchestrationID] && !seen[o.OrchestrationID] {
				seen[o.OrchestrationID] = true
				out = append(out, o)
			}
		}
	}
	return out, nil
}

// Transactions returns the transactions matching f (see TransactionFilter), each process once.
// Requests carry at most 50 process ids or 10 orchestration ids, pageSize=50 and an offset that
// follows full pages. Every failure is an *Error.
func (c *Corastone) Transactions(ctx context.Context, f TransactionFilter) ([]Transaction, error) {
	pids, err := c.cleanIDs(endpointTransactions, f.ProcessIDs)
	if err != nil {
		return nil, err
	}
	oids, err := c.cleanIDs(endpointTransactions, f.OrchestrationIDs)
	if err != nil {
		return nil, err
	}
	var out []Transaction
	seen := map[string]bool{}
	query := func(max int, q list[Transaction], ids []string) error {
		for chunk := range slices.Chunk(ids, max) {
			want := setOf(chunk)
			items, err := listAll(ctx, c, q, chunk)
			if err != nil {
				return err
			}
			for _, t := range items {
				if want[q.match(t)] && !seen[t.ProcessID] {
					seen[t.ProcessID] = true
					out = append(out, t)
				}
			}
		}
		return nil
	}
	byProcess := list[Transaction]{endpoint: endpointTransactions, path: transactionsPath, filter: "processIdsFilter",
		id: processID, match: processID, onePerID: true}
	if err := query(maxTxnProcessIDs, byProcess, pids); err != nil {
		return nil, err
	}
	byOrchestration := list[Transaction]{endpoint: endpointTransactions, path: transactionsPath, filter: "orchestrationIdsFilter",
		id: processID, match: func(t Transaction) string { return t.OrchestrationID }}
	if err := query(maxTxnOrchestrationID, byOrchestration, oids); err != nil {
		return nil, err
	}
	return out, nil
}

// FindProcess looks a processId up: first the transactions with processIdsFilter=processID, then
// the orchestrations with orchestrationIdsFilter=processID (a caller-supplied processId becomes
// the orchestrationId). found=false means the platform has no trace of it; found=true with
// orchestrationID "" means a transaction exists but names no orchestration that could be found.
func (c *Corastone) FindProcess(ctx context.Context, processID string) (orchestrationID string, found bool, err error) {
	txs, err := c.Transactions(ctx, TransactionFilter{ProcessIDs: []string{processID}})
	if err != nil {
		return "", false, err
	}
	for _, t := range txs {
		if t.ProcessID == processID && t.OrchestrationID != "" {
			return t.OrchestrationID, true, nil
		}
	}
	orchs, err := c.Orchestrations(ctx, []string{processID})
	if err != nil {
		return "", false, err
	}
	if len(orchs) > 0 {
		return orchs[0].OrchestrationID, true, nil
	}
	return "", len(txs) > 0, nil
}

// cleanIDs deduplicates ids and refuses ids that cannot travel in a comma-separated filter.
func (c *Corastone) cleanIDs(endpoint string, ids []string) ([]string, error) {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id == "" || strings.Contains(id, ",") || hasControl(id) || len(id) > maxIdentLen {
			return nil, &Error{Platform: PlatformCorastone, Endpoint: endpoint, Verdict: Permanent,
				Message: "invalid id " + strconv.QuoteToASCII(excerpt([]byte(id), 64))}
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// list describes one list request: filter=ids on path, whose elements must carry their own id;
// match is the filter value an element answers to. With onePerID (one element per id at most),
// paging stops as soon as every id has been answered. decode reads a page (the answer's JSON array)
// exactly as json.Unmarshal does, faster; nil: json.Unmarshal.
type list[T any] struct {
	endpoint, path, filter string
	id, match              func(T) string
	onePerID               bool
	decode                 func([]byte) ([]T, error)
}

func orchestrationID(o Orchestration) string { return o.OrchestrationID }
func processID(t Transaction) string         { return t.ProcessID }

// listAll GETs path?filter=ids&pageSize=50&offset=N, following full pages (up to maxPages). An
// element that is not a JSON object with its id makes the answer MALFORMED_RESPONSE.
func listAll[T any](ctx context.Context, c *Corastone, q list[T], ids []string) ([]T, error) {
	escaped := make([]string, len(ids))
	for i, id := range ids {
		escaped[i] = url.QueryEscape(id)
	}
	want, answered := setOf(ids), map[string]bool{}
	var out []T
	for offset, page := 0, 0; ; page++ {
		if page == maxPages {
			return nil, &Error{Platform: PlatformCorastone, Endpoint: q.endpoint, Verdict: Permanent,
				Message: "answer spans more than " + strconv.Itoa(maxPages) + " pages"}
		}
		u := *c.base
		u.Path = strings.TrimSuffix(c.base.Path, "/") + q.path
		u.RawPath = ""
		u.RawQuery = q.filter + "=" + strings.Join(escaped, ",") + "&pageSize=" + strconv.Itoa(pageSize) + "&offset=" + strconv.Itoa(offset)
		ans, err := c.call(ctx, q.endpoint, http.MethodGet, &u, nil)
		if err != nil {
			return nil, err
		}
		items, err := decodePage(c, q, ans)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if q.id(it) == "" {
				return nil, c.malformed(q.endpoint, ans, errors.New("element without its id"))
			}
			if m := q.match(it); want[m] {
				answered[m] = true
			}
		}
		out = append(out, items...)
		// A short page ends the list; a longer one means paging is ignored.
		if len(items) != pageSize || q.onePerID && len(answered) == len(want) {
			return out, nil
		}
		offset += pageSize
	}
}

// decodePage reads one page of a list answer with q.decode, or json.Unmarshal.
func decodePage[T any](c *Corastone, q list[T], ans *answer) ([]T, error) {
	var items []T
	if q.decode == nil {
		err := c.decode(q.endpoint, ans, '[', &items)
		return items, err
	}
	b, err := c.jsonBody(q.endpoint, ans, '[')
	if err != nil {
		return nil, err
	}
	if items, err = q.decode(b); err != nil {
		return nil, c.malformed(q.endpoint, ans, err)
	}
	return items, nil
}

func setOf(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
