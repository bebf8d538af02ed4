package platform

// The Sequencer (Event Retrieval API, platform-apis §5): GET /external/v1/sequencer, scope
// readSequencer, at most 100 records per call, params pageSize, offset, fromDate, toDate. It
// answers {"sequence":[…]} of transaction, error, orchestration and job entries in time order;
// a {"transaction":{…}} entry has processId, timestamp, status, orchestrationId, type, method,
// orgId, blockchainDetails, details. The worker reads it only as a hint (TXWORKER_TRACKING_HINTS):
// an entry never settles anything by itself.

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"go.uber.org/zap"
)

// Sequencer limits and names (platform-apis §5).
const (
	// MaxSequencePage is the most records the Sequencer answers per call.
	MaxSequencePage = 100
	// SequencerScope is the Sequencer's OAuth2 scope, requested only with CorastoneConfig.Sequencer.
	SequencerScope    = "readSequencer"
	sequencerPath     = "/external/v1/sequencer"
	endpointSequencer = "sequencer"
)

// Kinds of Sequencer entries. The reference names four kinds and documents the fields of the
// transaction entry only; the orchestration entry is assumed to carry orchestrationId, status and
// timestamp like an element of the orchestrations endpoint.
const (
	EntryTransaction   = "transaction"
	EntryOrchestration = "orchestration"
	EntryError         = "error"
	EntryJob           = "job"
)

// SequenceQuery is one Sequencer request. From and To bound the entries' timestamps (zero: not
// sent); PageSize is 1..100 (0: 100); Offset ≥ 0.
type SequenceQuery struct {
	From, To time.Time
	PageSize int
	Offset   int
}

// SequenceEntry is one readable entry of the sequence. Kind is the entry's single member name
// ("transaction", "orchestration", "error", "job", or another the platform adds). The fields are
// read from transaction and orchestration entries; other kinds carry only Kind.
type SequenceEntry struct {
	Kind            string
	ProcessID       string
	OrchestrationID string
	Status          string
	Type            string
	Method          string
	OrgID           string
	Timestamp       time.Time
}

// SequencePage is one Sequencer answer: the readable entries in the answer's order, how many
// elements the answer held (Records, readable or not: a page with Records < PageSize is the
// last), and how many could not be read (Unreadable; they are skipped, never fail the page).
type SequencePage struct {
	Entries    []SequenceEntry
	Records    int
	Unreadable int
}

// sequenceEntryBody is the inner object of a transaction or orchestration entry.
type sequenceEntryBody struct {
	ProcessID       string    `json:"processId"`
	OrchestrationID string    `json:"orchestrationId"`
	Status          string    `json:"status"`
	Type            string    `json:"type"`
	Method          string    `json:"method"`
	OrgID           string    `json:"orgId"`
	Timestamp       Timestamp `json:"timestamp"`
}

// Sequence sends one Sequencer request. It is refused (Permanent, nothing sent) unless
// CorastoneConfig.Sequencer is set: with hints off the worker never calls it. Every failure is an
// *Error; an answer that is not {"sequence":[…]} is a Transient MALFORMED_RESPONSE, an element
// that cannot be read is counted in Unreadable (and as MALFORMED_RESPONSE in ObserveErrorCode).
func (c *Corastone) Sequence(ctx context.Context, q SequenceQuery) (SequencePage, error) {
	if !c.cfg.Sequencer {
		return SequencePage{}, &Error{Platform: PlatformCorastone, Endpoint: endpointSequencer, Verdict: Permanent,
			Message: "the Sequencer is not enabled in the configuration"}
	}
	if q.PageSize == 0 {
		q.PageSize = MaxSequencePage
	}
	if q.PageSize < 1 || q.PageSize > MaxSequencePage || q.Offset < 0 {
		return SequencePage{}, &Error{Platform: PlatformCorastone, Endpoint: endpointSequencer, Verdict: Permanent,
			Message: "pageSize must be 1.." + strconv.Itoa(MaxSequencePage) + " and offset ≥ 0"}
	}
	u := *c.base
	u.Path = strings.TrimSuffix(c.base.Path, "/") + sequencerPath
	u.RawPath = ""
	u.RawQuery = sequenceQuery(q)
	ans, err := c.call(ctx, endpointSequencer, http.MethodGet, &u, nil)
	if err != nil {
		return SequencePage{}, err
	}
	b, err := c.jsonBody(endpointSequencer, ans, '{')
	if err != nil {
		return SequencePage{}, err
	}
	page, err := decodeSequencePage(b)
	if err != nil {
		return SequencePage{}, c.malformed(endpointSequencer, ans, err)
	}
	if page.Unreadable > 0 {
		c.observeCode(CodeMalformedResponse)
		c.log.Warn("unreadable Sequencer entries skipped", zap.Int("unreadable", page.Unreadable), zap.Int("records", page.Records))
	}
	return page, nil
}

// sequenceQuery is the escaped query string of q (dates in RFC 3339 with milliseconds, UTC).
func sequenceQuery(q SequenceQuery) string {
	var b strings.Builder
	b.WriteString("pageSize=" + strconv.Itoa(q.PageSize) + "&offset=" + strconv.Itoa(q.Offset))
	for _, p := range []struct {
		name string
		t    time.Time
	}{{"fromDate", q.From}, {"toDate", q.To}} {
		if !p.t.IsZero() {
			b.WriteString("&" + p.name + "=" + url.QueryEscape(p.t.UTC().Format("2006-01-02T15:04:05.000Z07:00")))
		}
	}
	return b.String()
}

// decodeSequencePage reads {"sequence":[…]} element by element with json v2's strict rules: an
// element that is not an object of one member, or whose transaction or orchestration body a
// strict json.Unmarshal refuses (a wrong type, a bad timestamp, a name given twice, invalid
// UTF-8), is counted in Unreadable and skipped. err: the answer itself is not such an object (or
// "sequence" is missing, or given twice).
func decodeSequencePage(data []byte) (SequencePage, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(data), lenient)
	if tok, err := dec.ReadToken(); err != nil {
		return SequencePage{}, err
	} else if tok.Kind() != '{' {
		return SequencePage{}, errors.New("not a JSON object")
	}
	var page SequencePage
	found := false
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return SequencePage{}, err
		}
		if name.String() != "sequence" {
			if err := dec.SkipValue(); err != nil {
				return SequencePage{}, err
			}
			continue
		}
		if found {
			return SequencePage{}, errors.New(`"sequence" given twice`)
		}
		found = true
		raw, err := dec.ReadValue()
		if err != nil {
			return SequencePage{}, err
		}
		entries, bad, err := decodeElements(bytes.Clone(raw), "", decodeSequenceEntry)
		if err != nil {
			return SequencePage{}, err
		}
		page.Entries, page.Unreadable, page.Records = entries, len(bad), len(entries)+len(bad)
	}
	if _, err := dec.ReadToken(); err != nil {
		return SequencePage{}, err
	}
	if err := atEnd(dec); err != nil {
		return SequencePage{}, err
	}
	if !found {
		return SequencePage{}, errors.New(`"sequence" missing`)
	}
	return page, nil
}

// decodeSequenceEntry reads one element: an object with exactly one member, its kind.
func decodeSequenceEntry(raw []byte) (SequenceEntry, error) {
	var m map[string]jsontext.Value
	if err := json.Unmarshal(raw, &m); err != nil {
		return SequenceEntry{}, err
	}
	if len(m) != 1 {
		return SequenceEntry{}, errors.New("an entry must have exactly one member, its kind")
	}
	var e SequenceEntry
	for kind, body := range m {
		e.Kind = kind
		if kind != EntryTransaction && kind != EntryOrchestration {
			return e, nil
		}
		var v sequenceEntryBody
		if err := json.Unmarshal(body, &v); err != nil {
			return SequenceEntry{}, err
		}
		if v.OrchestrationID == "" && v.ProcessID == "" {
			return SequenceEntry{}, errors.New("entry names neither processId nor orchestrationId")
		}
		e.ProcessID, e.OrchestrationID, e.Status = v.ProcessID, v.OrchestrationID, v.Status
		e.Type, e.Method, e.OrgID, e.Timestamp = v.Type, v.Method, v.OrgID, v.Timestamp.Time
	}
	return e, nil
}
