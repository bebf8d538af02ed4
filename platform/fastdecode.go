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
	"unicode/utf8"
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

// strictScan reads JSON and checks its syntax as encoding/json's scanner does (unlike treeScan,
// which trusts a json.Valid already done). Its methods return ok=false at the first byte they do
// not accept — invalid JSON, or a form the fast path leaves to encoding/json — and the caller then
// gives up; anything they accept is valid JSON.
type strictScan struct {
	raw    []byte
	i      int
	ids    []string // the page's processIds, each element's a capped part of it
	idsCap int      // ids' first capacity
}

func (s *strictScan) at(c byte) bool { return s.i < len(s.raw) && s.raw[s.i] == c }

func (s *strictScan) space() {
	for s.i < len(s.raw) {
		switch s.raw[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// end reports whether only white space follows.
func (s *strictScan) end() bool {
	s.space()
	return s.i == len(s.raw)
}

// word moves past the literal w (true, false, null) at s.i.
func (s *strictScan) word(w string) bool {
	if len(s.raw)-s.i < len(w) || string(s.raw[s.i:s.i+len(w)]) != w {
		return false
	}
	s.i += len(w)
	return true
}

// key moves to the next member of the object being read, past its key and colon to its value
// (more=true), or past the closing '}' (more=false). first: no member has been read yet.
func (s *strictScan) key(first bool) (lit []byte, plain, more, ok bool) {
	s.space()
	if s.at('}') {
		s.i++
		return nil, false, false, true
	}
	if !first {
		if !s.at(',') {
			return nil, false, false, false
		}
		s.i++
		s.space()
	}
	if lit, plain, ok = s.str(); !ok {
		return nil, false, false, false
	}
	s.space()
	if !s.at(':') {
		return nil, false, false, false
	}
	s.i++
	s.space()
	return lit, plain, true, s.i < len(s.raw)
}

// elem moves to the next element of the array being read (more=true), or past the closing ']'
// (more=false). first: no element has been read yet.
func (s *strictScan) elem(first bool) (more, ok bool) {
	s.space()
	if s.at(']') {
		s.i++
		return false, true
	}
	if !first {
		if !s.at(',') {
			return false, false
		}
		s.i++
		s.space()
	}
	return true, s.i < len(s.raw)
}

// str moves past the string literal at s.i: the literal, quotes included, and whether it is plain
// (all ASCII, no escape). Bytes outside ASCII are not checked: encoding/json accepts invalid UTF-8
// (and decodeLiteral replaces it as encoding/json does).
func (s *strictScan) str() (lit []byte, plain, ok bool) {
	if !s.at('"') {
		return nil, false, false
	}
	start := s.i
	plain = true
	for i := start + 1; i < len(s.raw); i++ {
		c := s.raw[i]
		switch {
		case c >= ' ' && c < utf8.RuneSelf && c != '"' && c != '\\':
		case c == '"':
			s.i = i + 1
			return s.raw[start:s.i], plain, true
		case c == '\\':
			plain = false
			i++
			if i >= len(s.raw) {
				return nil, false, false
			}
			switch s.raw[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s.raw) || !isHex(s.raw[i+1]) || !isHex(s.raw[i+2]) || !isHex(s.raw[i+3]) || !isHex(s.raw[i+4]) {
					return nil, false, false
				}
				i += 4
			default:
				return nil, false, false
			}
		case c < ' ':
			return nil, false, false
		default:
			plain = false
		}
	}
	return nil, false, false
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number moves past the number at s.i; integer: it has neither fraction nor exponent.
func (s *strictScan) number() (num []byte, integer, ok bool) {
	start := s.i
	if s.at('-') {
		s.i++
	}
	switch {
	case s.at('0'):
		s.i++
	case s.i < len(s.raw) && isDigit(s.raw[s.i]):
		s.digits()
	default:
		return nil, false, false
	}
	integer = true
	if s.at('.') {
		integer = false
		s.i++
		if !s.digits() {
			return nil, false, false
		}
	}
	if s.at('e') || s.at('E') {
		integer = false
		s.i++
		if s.at('+') || s.at('-') {
			s.i++
		}
		if !s.digits() {
			return nil, false, false
		}
	}
	return s.raw[start:s.i], integer, true
}

// digits moves past one digit or more.
func (s *strictScan) digits() bool {
	start := s.i
	for s.i < len(s.raw) && isDigit(s.raw[s.i]) {
		s.i++
	}
	return s.i > start
}

// skip moves past the value at s.i, whatever it is, inside depth levels of nesting.
func (s *strictScan) skip(depth int) bool {
	if s.i >= len(s.raw) {
		return false
	}
	switch s.raw[s.i] {
	case '"':
		_, _, ok := s.str()
		return ok
	case 't':
		return s.word("true")
	case 'f':
		return s.word("false")
	case 'n':
		return s.word("null")
	case '{':
		if depth >= fastMaxDepth {
			return false
		}
		s.i++
		for first := true; ; first = false {
			_, _, more, ok := s.key(first)
			if !ok || !more {
				return ok
			}
			if !s.skip(depth + 1) {
				return false
			}
		}
	case '[':
		if depth >= fastMaxDepth {
			return false
		}
		s.i++
		for first := true; ; first = false {
			more, ok := s.elem(first)
			if !ok || !more {
				return ok
			}
			if !s.skip(depth + 1) {
				return false
			}
		}
	}
	_, _, ok := s.number()
	return ok
}

// text reads a string field's value as encoding/json does: a string sets *dst, null leaves it;
// other values are not handled. A value equal to one of known takes that string, sparing a copy.
func (s *strictScan) text(dst *string, known ...string) bool {
	if s.at('n') {
		return s.word("null")
	}
	lit, plain, ok := s.str()
	if !ok {
		return false
	}
	if plain {
		for _, k := range known {
			if string(lit[1:len(lit)-1]) == k {
				*dst = k
				return true
			}
		}
	}
	*dst, _ = decodeLiteral(lit, plain)
	return true
}

// textList reads a []string field's value as encoding/json does: an array of strings and nulls
// (null → "") sets *dst, non-nil even when empty; null sets it nil. The strings are kept in s.ids.
func (s *strictScan) textList(dst *[]string, known string) bool {
	if s.at('n') {
		*dst = nil
		return s.word("null")
	}
	if !s.at('[') {
		return false
	}
	s.i++
	if s.ids == nil {
		s.ids = make([]string, 0, max(s.idsCap, 4))
	}
	start := len(s.ids)
	for first := true; ; first = false {
		more, ok := s.elem(first)
		if !ok {
			return false
		}
		if !more {
			break
		}
		s.ids = append(s.ids, "")
		if !s.text(&s.ids[len(s.ids)-1], known) {
			return false
		}
	}
	if end := len(s.ids); end > start {
		*dst = s.ids[start:end:end]
	} else {
		*dst = []string{}
	}
	return true
}

// timestamp reads a Timestamp field's value as Timestamp.UnmarshalJSON does (it is given any
// value, null included); a value ParseTimestamp refuses is not handled.
func (s *strictScan) timestamp(dst *Timestamp, depth int) bool {
	start := s.i
	if !s.skip(depth) {
		return false
	}
	t, err := ParseTimestamp(s.raw[start:s.i])
	if err != nil {
		return false
	}
	dst.Time = t
	return true
}

// integer reads an int field's value as encoding/json does: an integer literal sets *dst, null
// leaves it. Strings, fractions, exponents and literals of more than 18 digits are not handled.
func (s *strictScan) integer(dst *int) bool {
	if s.at('n') {
		return s.word("null")
	}
	if !s.at('-') && (s.i >= len(s.raw) || !isDigit(s.raw[s.i])) {
		return false
	}
	num, integer, ok := s.number()
	if !ok || !integer {
		return false
	}
	neg := num[0] == '-'
	if neg {
		num = num[1:]
	}
	if len(num) > 18 {
		return false
	}
	var n int64
	for _, c := range num {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	if int64(int(n)) != n { // 32-bit int
		return false
	}
	*dst = int(n)
	return true
}
