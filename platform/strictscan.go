package platform

import "unicode/utf8"

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

func (s *strictScan) space() { s.i = skipSpace(s.raw, s.i) }

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
