package platform

// Decoding of the platforms' 200 answers with github.com/go-json-experiment/json (json v2). An
// answer is read as RFC 8259 JSON under json v2's rules: member names match exactly (case
// included), a name given twice and invalid UTF-8 make the value unreadable; members the worker
// does not use are ignored (the platforms add fields).

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// actionReply is a Corastone action's 200 answer as the platform sends it.
type actionReply struct {
	ProcessID       string `json:"processId"`
	OrchestrationID string `json:"orchestrationId"`
	AssetID         string `json:"assetId"`
}

// decodeActionReply decodes an action's answer (a JSON object; null gives the zero reply). On an
// error the reply is zero.
func decodeActionReply(data []byte) (actionReply, error) {
	var r actionReply
	if err := json.Unmarshal(data, &r); err != nil {
		return actionReply{}, err
	}
	return r, nil
}

// unreadableElement is an element of a list page that could not be read whole: json.Unmarshal
// refused it (a wrong type, an out-of-range timestamp or number, a name given twice, invalid
// UTF-8) or a check did (an unknown status). id is its own id when that can be read (else ""),
// raw the element.
type unreadableElement struct {
	id  string
	raw []byte
	err error
}

// decodeOrchestrationsPage decodes a page of orchestrations element by element: the elements that
// json.Unmarshal reads and whose status is a documented one, in order, and the others set aside
// with their orchestrationId when it can be read. err is set only when the page itself is not a
// JSON array (then nothing can be told apart). A page that decodes whole costs one json.Unmarshal.
func decodeOrchestrationsPage(data []byte) ([]Orchestration, []unreadableElement, error) {
	var page []Orchestration
	if err := json.Unmarshal(data, &page); err == nil &&
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

// lenient reads JSON whose names may repeat and whose strings may hold invalid UTF-8: the syntax
// of a page around its elements, and of error bodies searched for a code. What it reads is
// judged by a strict json.Unmarshal afterwards (a page's elements) or only searched.
var lenient = json.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// errNotArray: a list answer that is not a JSON array.
var errNotArray = errors.New("not a JSON array")

// decodeElements splits a JSON array into its elements and decodes each with one; the elements one
// refuses are returned apart, each with its idKey member when that is a JSON string. A name given
// twice or invalid UTF-8 inside an element affects that element only. err: data is not one JSON
// array (null is an empty one).
func decodeElements[T any](data []byte, idKey string, one func([]byte) (T, error)) ([]T, []unreadableElement, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(data), lenient)
	switch dec.PeekKind() {
	case 'n':
		if _, err := dec.ReadToken(); err != nil {
			return nil, nil, err
		}
		return nil, nil, atEnd(dec)
	case '[':
		if _, err := dec.ReadToken(); err != nil {
			return nil, nil, err
		}
	default:
		if _, err := dec.ReadValue(); err != nil { // names the syntax error, if any
			return nil, nil, err
		}
		return nil, nil, errNotArray
	}
	var out []T
	var bad []unreadableElement
	for dec.PeekKind() != ']' {
		raw, err := dec.ReadValue() // valid until the next read
		if err != nil {
			return nil, nil, err
		}
		v, err := one(raw)
		if err != nil {
			bad = append(bad, unreadableElement{id: elementID(raw, idKey), raw: bytes.Clone(raw), err: err})
			continue
		}
		out = append(out, v)
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, nil, err
	}
	return out, bad, atEnd(dec)
}

// atEnd fails when anything but white space follows the value dec has read.
func atEnd(dec *jsontext.Decoder) error {
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the JSON value")
		}
		return err
	}
	return nil
}

// elementID is the member key of the JSON object raw when it is a string (the last one when the
// name repeats), else "".
func elementID(raw []byte, key string) string {
	dec := jsontext.NewDecoder(bytes.NewReader(raw), lenient)
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return ""
	}
	var id string
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			return ""
		}
		if name.String() == key && dec.PeekKind() == '"' {
			v, err := dec.ReadToken()
			if err != nil {
				return ""
			}
			id = v.String()
			continue
		}
		if err := dec.SkipValue(); err != nil {
			return ""
		}
	}
	return id
}
