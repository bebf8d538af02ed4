package platform

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"
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

	// Unreadable is set (and every other field but OrchestrationID is zero) when the answer's
	// element for this orchestration could not be read: a field of the wrong type, an
	// out-of-range timestamp or number, an unknown status. It is a Transient MALFORMED_RESPONSE
	// *Error whose Body holds the element's first bytes. Never set by decoding JSON.
	Unreadable *Error `json:"-"`
}

// AnswerObserver is implemented by an Observer that also counts the elements of Transactions API
// answers naming ids that were not asked for (metrics.Metrics does); the clients call it when their
// Observer has it.
type AnswerObserver interface {
	// ObserveUnrequested counts n elements of one answer page of endpoint ("orchestrations" or
	// "transactions") that answer to ids not in the request's filter.
	ObserveUnrequested(platform, endpoint string, n int)
}

func (c *Corastone) observeUnrequested(endpoint string, n int) {
	if o, ok := c.obs.(AnswerObserver); ok {
		o.ObserveUnrequested(c.platform, endpoint, n)
	}
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
// orchestrations that were asked for are returned, each once.
//
// An element of the answer that cannot be read (a field of the wrong type, an out-of-range
// timestamp or number, an unknown status) does not fail the call: when its orchestrationId is
// one asked for (and no readable element names it), it is returned with only that id and
// Unreadable set; otherwise it is counted and dropped. Elements naming ids not asked for are
// counted (AnswerObserver) and dropped; a page holding any ends the paging of its request, so a
// platform that ignores the filter costs one page per request. Every failure is an *Error; the
// first one ends the call.
func (c *Corastone) Orchestrations(ctx context.Context, ids []string) ([]Orchestration, error) {
	ids, err := c.cleanIDs(endpointOrchestrations, ids)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	var out []Orchestration
	seen := map[string]bool{}
	for chunk := range slices.Chunk(ids, maxOrchestrationIDs) {
		items, bad, err := listAll(ctx, c, list[Orchestration]{endpoint: endpointOrchestrations, path: orchestrationsPath,
			filter: "orchestrationIdsFilter", id: orchestrationID, match: orchestrationID, onePerID: true,
			decode: decodeOrchestrationsPage}, chunk)
		if err != nil {
			return nil, err
		}
		for _, o := range items {
			if !seen[o.OrchestrationID] {
				seen[o.OrchestrationID] = true
				out = append(out, o)
			}
		}
		for _, b := range bad {
			if !seen[b.id] {
				seen[b.id] = true
				out = append(out, Orchestration{OrchestrationID: b.id, Unreadable: b.err})
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
			items, _, err := listAll(ctx, c, q, chunk) // unreadable elements are counted there
			if err != nil {
				return err
			}
			for _, t := range items {
				if !seen[t.ProcessID] {
					seen[t.ProcessID] = true
					out = append(out, t)
				}
			}
		}
		return nil
	}
	byProcess := list[Transaction]{endpoint: endpointTransactions, path: transactionsPath, filter: "processIdsFilter",
		id: processID, match: processID, onePerID: true, decode: decodeTransactionsPage}
	if err := query(maxTxnProcessIDs, byProcess, pids); err != nil {
		return nil, err
	}
	byOrchestration := list[Transaction]{endpoint: endpointTransactions, path: transactionsPath, filter: "orchestrationIdsFilter",
		id: processID, match: func(t Transaction) string { return t.OrchestrationID }, decode: decodeTransactionsPage}
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

// cleanIDs deduplicates ids and refuses ids that cannot travel in a comma-separated filter
// (ValidID's rule, for process ids too).
func (c *Corastone) cleanIDs(endpoint string, ids []string) ([]string, error) {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if err := ValidID(id); err != nil {
			return nil, &Error{Platform: PlatformCorastone, Endpoint: endpoint, Verdict: Permanent,
				Message: "invalid id " + quoteID(id) + ": " + err.Error()}
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
// paging stops as soon as every id has been answered. decode reads a page (the answer's JSON
// array) element by element: the readable elements and the others apart.
type list[T any] struct {
	endpoint, path, filter string
	id, match              func(T) string
	onePerID               bool
	decode                 func([]byte) ([]T, []unreadableElement, error)
}

func orchestrationID(o Orchestration) string { return o.OrchestrationID }
func processID(t Transaction) string         { return t.ProcessID }

// unread is an element of a list answer that names an id asked for but cannot be read: err is its
// MALFORMED_RESPONSE *Error, whose Body is the element's first bytes.
type unread struct {
	id  string
	err *Error
}

// listAll GETs path?filter=ids&pageSize=50&offset=N, following full pages (up to maxPages), and
// returns the readable elements that answer to one of ids, and the unreadable ones that name one.
// Only a page that is not a JSON array makes the answer MALFORMED_RESPONSE. Every other element
// is counted and dropped: one without its id, an unreadable one naming no id asked for
// (MALFORMED_RESPONSE in ObserveErrorCode), one that answers to an id not asked for
// (AnswerObserver.ObserveUnrequested). A page with unrequested elements ends the paging: the
// platform ignores the filter, and the ids not answered so far are simply absent (a warning once
// per call when that page was full).
func listAll[T any](ctx context.Context, c *Corastone, q list[T], ids []string) ([]T, []unread, error) {
	escaped := make([]string, len(ids))
	for i, id := range ids {
		escaped[i] = url.QueryEscape(id)
	}
	want, answered := setOf(ids), map[string]bool{}
	var out []T
	var bad []unread
	for offset, page := 0, 0; ; page++ {
		if page == maxPages {
			return nil, nil, &Error{Platform: PlatformCorastone, Endpoint: q.endpoint, Verdict: Permanent,
				Message: "answer spans more than " + strconv.Itoa(maxPages) + " pages"}
		}
		u := *c.base
		u.Path = strings.TrimSuffix(c.base.Path, "/") + q.path
		u.RawPath = ""
		u.RawQuery = q.filter + "=" + strings.Join(escaped, ",") + "&pageSize=" + strconv.Itoa(pageSize) + "&offset=" + strconv.Itoa(offset)
		ans, err := c.call(ctx, q.endpoint, http.MethodGet, &u, nil)
		if err != nil {
			return nil, nil, err
		}
		b, err := c.jsonBody(q.endpoint, ans, '[')
		if err != nil {
			return nil, nil, err
		}
		items, unreadable, err := q.decode(b)
		if err != nil {
			return nil, nil, c.malformed(q.endpoint, ans, err)
		}
		unrequested, anonymous := 0, 0
		for _, it := range items {
			switch m := q.match(it); {
			case q.id(it) == "":
				anonymous++
			case !want[m]:
				unrequested++
			default:
				answered[m] = true
				out = append(out, it)
			}
		}
		for _, u := range unreadable {
			e := c.malformed(q.endpoint, &answer{status: ans.status, body: u.raw},
				fmt.Errorf("element %s: %w", quoteID(u.id), u.err))
			if want[u.id] {
				answered[u.id] = true
				bad = append(bad, unread{id: u.id, err: e})
			}
		}
		if anonymous > 0 {
			c.observeCode(CodeMalformedResponse)
		}
		if len(unreadable)+anonymous > 0 {
			c.log.Warn("unreadable elements of a list answer set aside", zap.String("endpoint", q.endpoint),
				zap.Int("unreadable", len(unreadable)), zap.Int("without_id", anonymous), zap.Int("ids", len(ids)))
		}
		n := len(items) + len(unreadable)
		if unrequested > 0 {
			c.observeUnrequested(q.endpoint, unrequested)
			if n >= pageSize {
				c.log.Warn("the platform ignores the filter: paging stopped", zap.String("endpoint", q.endpoint),
					zap.String("filter", q.filter), zap.Int("unrequested", unrequested), zap.Int("ids", len(ids)),
					zap.Int("answered", len(answered)), zap.Int("page", page))
			}
			return out, bad, nil
		}
		// A short page ends the list; a longer one means paging is ignored.
		if n != pageSize || q.onePerID && len(answered) == len(want) {
			return out, bad, nil
		}
		offset += pageSize
	}
}

func setOf(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
