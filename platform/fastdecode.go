package platform

// Decoders for the two answers the worker decodes most: a Corastone action's reply and a page of
// GET /external/v1/transactions/orchestrations. In the burst load profile, core.decode — a
// json.Unmarshal of these answers — was ~6 % of the worker's CPU: encoding/json checks the whole
// input in one pass, then decodes it by reflection in a second one. These decoders read the answer
// once, checking the syntax as they go, and fill the values directly.
//
// They give exactly what json.Unmarshal gives into a zero value, for any input: the same value, and
// an error exactly when it fails. The fast path handles what it can decode exactly — the fields,
// null, unknown members of any type (checked, then skipped), white space, escapes — and hands
// everything else to json.Unmarshal: invalid JSON, a key that matches a field only
// case-insensitively, a repeated field, a value of the wrong type, a timestamp ParseTimestamp
// refuses, an int that is not a plain integer literal of at most 18 digits, nesting deeper than
// fastMaxDepth. fastdecode_test.go holds them to encoding/json: odd inputs, random answers and the
// fuzz targets FuzzDecodeActionReply and FuzzDecodeOrchestrations compare both.

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// fastMaxDepth is the deepest nesting the fast path reads (encoding/json allows 10,000).
const fastMaxDepth = 64

// actionReply is a Corastone action's 200 answer as the platform sends it.
type actionReply struct {
	ProcessID       string `json:"processId"`
	OrchestrationID string `json:"orchestrationId"`
	AssetID         string `json:"assetId"`
}

// decodeActionReply decodes an action's answer as json.Unmarshal into a zero actionReply does:
// the same value, and an error exactly when json.Unmarshal fails.
func decodeActionReply(data []byte) (actionReply, error) {
	if r, ok := fastActionReply(data); ok {
		return r, nil
	}
	var r actionReply
	err := json.Unmarshal(data, &r)
	return r, err
}

// decodeOrchestrations decodes a page of orchestrations as json.Unmarshal into a nil
// []Orchestration does: the same value, and an error exactly when json.Unmarshal fails. The
// fast path's elements share one array for their ProcessIDs, each capped at its own length.
func decodeOrchestrations(data []byte) ([]Orchestration, error) {
	if page, ok := fastOrchestrations(data); ok {
		return page, nil
	}
	var page []Orchestration
	err := json.Unmarshal(data, &page)
	return page, err
}

// fastActionReply is the fast path of decodeActionReply; ok=false: left to json.Unmarshal.
func fastActionReply(data []byte) (r actionReply, ok bool) {
	s := strictScan{raw: data}
	s.space()
	if !s.at('{') {
		return actionReply{}, false
	}
	s.i++
	names := [...]string{"processId", "orchestrationId", "assetId"}
	var seen uint8
	for first := true; ; first = false {
		lit, plain, more, ok := s.key(first)
		if !ok {
			return actionReply{}, false
		}
		if !more {
			break
		}
		f, ok := field(lit, plain, names[:])
		switch {
		case !ok:
			return actionReply{}, false
		case f < 0:
			ok = s.skip(1)
		case seen&(1<<f) != 0:
			return actionReply{}, false
		case f == 0:
			ok = s.text(&r.ProcessID, r.OrchestrationID) // the two are equal in every documented answer
		case f == 1:
			ok = s.text(&r.OrchestrationID, r.ProcessID)
		default:
			ok = s.text(&r.AssetID)
		}
		if !ok {
			return actionReply{}, false
		}
		if f >= 0 {
			seen |= 1 << f
		}
	}
	if !s.end() {
		return actionReply{}, false
	}
	return r, true
}

// fastOrchestrations is the fast path of decodeOrchestrations; ok=false: left to json.Unmarshal.
func fastOrchestrations(data []byte) ([]Orchestration, bool) {
	s := strictScan{raw: data}
	s.space()
	if !s.at('[') {
		return nil, false
	}
	s.i++
	// About 300 bytes per element in the documented and simulated answers; append grows it
	// if the guess is short.
	page := make([]Orchestration, 0, min(len(data)/256+1, 2*pageSize))
	s.idsCap = 3 * cap(page)
	for first := true; ; first = false {
		more, ok := s.elem(first)
		if !ok {
			return nil, false
		}
		if !more {
			break
		}
		page = append(page, Orchestration{})
		if s.at('n') {
			ok = s.word("null") // encoding/json leaves the element zero
		} else {
			ok = s.orchestration(&page[len(page)-1])
		}
		if !ok {
			return nil, false
		}
	}
	if !s.end() {
		return nil, false
	}
	return page, true
}

// Indexes of the Orchestration fields in orchestration's names.
const (
	fieldOrchestrationID = iota
	fieldStatus
	fieldStartDate
	fieldTimestamp
	fieldCreatedDate
	fieldProcessIDs
	fieldSourceTransactionID
	fieldCurrentStep
)

// orchestration reads the object at s.i (an element of the page) into o, which is zero.
func (s *strictScan) orchestration(o *Orchestration) bool {
	if !s.at('{') {
		return false
	}
	s.i++
	names := [...]string{"orchestrationId", "status", "startDate", "timestamp", "createdDate", "processIds",
		"sourceTransactionId", "currentStep"}
	const depth = 2 // the page, then this object
	var seen uint8
	for first := true; ; first = false {
		lit, plain, more, ok := s.key(first)
		if !ok || !more {
			return ok
		}
		f, ok := field(lit, plain, names[:])
		switch {
		case !ok:
			return false
		case f < 0:
			ok = s.skip(depth)
		case seen&(1<<f) != 0:
			return false
		case f == fieldOrchestrationID:
			ok = s.text(&o.OrchestrationID)
		case f == fieldStatus:
			ok = s.text(&o.Status, "queued", "in_progress", "success", "failed", "dlq")
		case f == fieldStartDate:
			ok = s.timestamp(&o.StartDate, depth)
		case f == fieldTimestamp:
			ok = s.timestamp(&o.Timestamp, depth)
		case f == fieldCreatedDate:
			ok = s.timestamp(&o.CreatedDate, depth)
		case f == fieldProcessIDs:
			ok = s.textList(&o.ProcessIDs, o.OrchestrationID) // processIds[0] is the orchestrationId
		case f == fieldSourceTransactionID:
			ok = s.text(&o.SourceTransactionID, o.OrchestrationID)
		default:
			ok = s.integer(&o.CurrentStep)
		}
		if !ok {
			return false
		}
		if f >= 0 {
			seen |= 1 << f
		}
	}
}

// field is the index in names of the field encoding/json sets from the member whose key is the
// literal lit, or -1 when it sets none (the member is skipped); ok=false when the key matches a
// name only case-insensitively, which encoding/json also accepts: left to it.
func field(lit []byte, plain bool, names []string) (i int, ok bool) {
	if plain {
		key := lit[1 : len(lit)-1]
		for i, n := range names {
			if string(key) == n {
				return i, true
			}
		}
		for _, n := range names {
			if asciiEqualFold(key, n) {
				return -1, false
			}
		}
		return -1, true
	}
	key, _ := decodeLiteral(lit, false)
	for i, n := range names {
		if key == n {
			return i, true
		}
	}
	for _, n := range names {
		if strings.EqualFold(key, n) { // what encoding/json's foldName compares (K, ſ…)
			return -1, false
		}
	}
	return -1, true
}

// asciiEqualFold is strings.EqualFold for an ASCII key and name.
func asciiEqualFold(key []byte, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for i, c := range key {
		if c == name[i] {
			continue
		}
		if lc := c | 0x20; lc != name[i]|0x20 || lc < 'a' || lc > 'z' {
			return false
		}
	}
	return true
}

// unreadableElement is an element of a list page that could not be read whole: json.Unmarshal
// refused it (a wrong type, an out-of-range timestamp or number) or a check did (an unknown
// status). id is its own id when that can be read (else ""), raw the element.
type unreadableElement struct {
	id  string
	raw []byte
	err error
}

// decodeOrchestrationsPage decodes a page of orchestrations element by element: the elements that
// json.Unmarshal reads and whose status is a documented one, in order, and the others set aside
// with their orchestrationId when it can be read. err is set only when the page itself is not a
// JSON array (then nothing can be told apart). A page that decodes whole costs one pass of
// decodeOrchestrations.
func decodeOrchestrationsPage(data []byte) ([]Orchestration, []unreadableElement, error) {
	if page, err := decodeOrchestrations(data); err == nil &&
		!slices.ContainsFunc(page, func(o Orchestration) bool { return checkOrchestration(o) != nil }) {
		return page, nil, nil
	}
	return decodeElements(data, "orchestrationId", func(raw []byte) (Orchestration, error) {
		var o Orchestration
		if err := json.Unmarshal(raw, &o); err != nil {
			return Orchestration{}, err
		}
		return o, checkOrchestration(o)
	})
}

// decodeTransactionsPage is decodeOrchestrationsPage for a page of transactions; any status is
// taken (only failed and timed_out mean anything to the worker).
func decodeTransactionsPage(data []byte) ([]Transaction, []unreadableElement, error) {
	var page []Transaction
	if err := json.Unmarshal(data, &page); err == nil {
		return page, nil, nil
	}
	return decodeElements(data, "processId", func(raw []byte) (Transaction, error) {
		var t Transaction
		err := json.Unmarshal(raw, &t)
		return t, err
	})
}

// orchestrationStatuses are the documented statuses of an orchestration (platform-apis §3).
var orchestrationStatuses = []string{"queued", "in_progress", "success", "failed", "dlq"}

// checkOrchestration refuses an element whose status is not a documented one (a null element,
// whose fields are all zero, included).
func checkOrchestration(o Orchestration) error {
	switch {
	case o.Status == "":
		return errors.New("status missing")
	case !slices.Contains(orchestrationStatuses, o.Status):
		return errors.New("unknown status " + strconv.QuoteToASCII(excerpt([]byte(o.Status), 32)))
	}
	return nil
}

// decodeElements splits a JSON array into its elements and decodes each with one; the elements one
// refuses are returned apart, each with its idKey member when that is a JSON string. err: data is
// not a JSON array (null is an empty one, as json.Unmarshal has it).
func decodeElements[T any](data []byte, idKey string, one func([]byte) (T, error)) ([]T, []unreadableElement, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, nil, err
	}
	var out []T
	var bad []unreadableElement
	for _, raw := range raws {
		v, err := one(raw)
		if err != nil {
			bad = append(bad, unreadableElement{id: elementID(raw, idKey), raw: raw, err: err})
			continue
		}
		out = append(out, v)
	}
	return out, bad, nil
}

// elementID is the member key of the JSON object raw when it is a string, else "".
func elementID(raw []byte, key string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	var id string
	if v, ok := m[key]; !ok || json.Unmarshal(v, &id) != nil {
		return ""
	}
	return id
}
