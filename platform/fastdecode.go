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
