package platform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// node is one JSON value read strictly (see readTree): object members keep their order so that
// problems are reported in document order and bodies are re-written field for field.
type node struct {
	kind    nodeKind
	text    string // string value, or a number's literal
	boolean bool
	members []member // object
	elems   []*node  // array
	bad     string   // why a string literal is unacceptable (invalid UTF-8, lone surrogate)
}

type member struct {
	key    string
	keyBad string
	val    *node
}

type nodeKind uint8

const (
	kindNull nodeKind = iota
	kindBool
	kindNumber
	kindString
	kindObject
	kindArray
)

func (k nodeKind) String() string {
	return [...]string{"null", "boolean", "number", "string", "object", "array"}[k]
}

const maxDepth = 32

// readTree reads exactly one JSON value. Unlike encoding/json it notices invalid UTF-8 and lone
// surrogate escapes in strings (recorded in node.bad / member.keyBad, not replaced silently).
//
// It checks the syntax with json.Valid and then reads the value in one pass of its own
// (treeScan): a command's params are read for every command, and encoding/json's Decoder.Token
// was most of a command's decoding cost. Strings decode exactly as encoding/json decodes them.
func readTree(raw []byte) (*node, error) {
	if !json.Valid(raw) {
		return nil, syntaxProblem(raw)
	}
	s := treeScan{raw: raw}
	return s.value(0)
}

// syntaxProblem says what is wrong with raw, which is not one valid JSON value.
func syntaxProblem(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return errors.New("trailing data after the JSON value")
}

// treeScan reads a node tree from valid JSON (json.Valid), so it meets no syntax errors.
type treeScan struct {
	raw []byte
	i   int
}

func (s *treeScan) skipSpace() { s.i = skipSpace(s.raw, s.i) }

// skipSpace is the index of the first byte at or after i in raw that is not JSON white space.
func skipSpace(raw []byte, i int) int {
	for i < len(raw) {
		switch raw[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func (s *treeScan) value(depth int) (*node, error) {
	s.skipSpace()
	switch c := s.raw[s.i]; c {
	case '{', '[':
		if depth >= maxDepth {
			return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
		}
		s.i++
		if c == '{' {
			return s.object(depth + 1)
		}
		return s.array(depth + 1)
	case '"':
		text, bad := s.str()
		return &node{kind: kindString, text: text, bad: bad}, nil
	case 't':
		s.i += len("true")
		return &node{kind: kindBool, boolean: true}, nil
	case 'f':
		s.i += len("false")
		return &node{kind: kindBool}, nil
	case 'n':
		s.i += len("null")
		return &node{kind: kindNull}, nil
	}
	start := s.i
	for s.i < len(s.raw) && strings.IndexByte("+-.0123456789eE", s.raw[s.i]) >= 0 {
		s.i++
	}
	return &node{kind: kindNumber, text: string(s.raw[start:s.i])}, nil
}

func (s *treeScan) object(depth int) (*node, error) {
	n := &node{kind: kindObject}
	err := s.eachMember(func(key, keyBad string) error {
		val, err := s.value(depth)
		if err != nil {
			return err
		}
		n.members = append(n.members, member{key: key, keyBad: keyBad, val: val})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// eachMember calls f for each member of the object whose '{' has just been read, with s.i at
// the member's value, which f must read or skip; then it moves past the closing '}'.
func (s *treeScan) eachMember(f func(key, keyBad string) error) error {
	for {
		s.skipSpace()
		switch s.raw[s.i] {
		case '}':
			s.i++
			return nil
		case ',':
			s.i++
			s.skipSpace()
		}
		key, keyBad := s.str()
		s.skipSpace()
		s.i++ // ':'
		s.skipSpace()
		if err := f(key, keyBad); err != nil {
			return err
		}
	}
}

func (s *treeScan) array(depth int) (*node, error) {
	n := &node{kind: kindArray}
	for {
		s.skipSpace()
		switch s.raw[s.i] {
		case ']':
			s.i++
			return n, nil
		case ',':
			s.i++
		}
		val, err := s.value(depth)
		if err != nil {
			return nil, err
		}
		n.elems = append(n.elems, val)
	}
}

// str reads the string literal at s.i: its value as encoding/json decodes it, and what is
// unacceptable about it (literalProblem).
func (s *treeScan) str() (text, bad string) {
	start := s.i
	plain := s.skipStr()
	return decodeLiteral(s.raw[start:s.i], plain)
}

// skipStr moves past the string literal at s.i and reports whether it is plain: no escape,
// nothing outside ASCII.
func (s *treeScan) skipStr() (plain bool) {
	plain = true
	for s.i++; ; s.i++ {
		c := s.raw[s.i]
		if c == '"' {
			break
		}
		if c == '\\' {
			plain = false
			s.i++ // the escaped character: never the closing quote
		} else if c >= utf8.RuneSelf {
			plain = false
		}
	}
	s.i++
	return plain
}

// skip moves past the value at s.i, whatever its depth.
func (s *treeScan) skip() {
	s.skipSpace()
	switch c := s.raw[s.i]; c {
	case '"':
		s.skipStr()
		return
	case '{', '[':
	default: // a number or a literal
		for s.i < len(s.raw) && strings.IndexByte(",]} \t\n\r", s.raw[s.i]) < 0 {
			s.i++
		}
		return
	}
	depth := 0
	for {
		switch s.raw[s.i] {
		case '"':
			s.skipStr()
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
		s.i++
		if depth == 0 {
			return
		}
	}
}

// decodeLiteral is a valid JSON string literal's value as encoding/json decodes it, and what is
// unacceptable about it (literalProblem); plain: the literal has no escape and is all ASCII.
func decodeLiteral(lit []byte, plain bool) (string, string) {
	inner := lit[1 : len(lit)-1]
	if plain {
		return string(inner), ""
	}
	bad := literalProblem(lit)
	if bad == "" && bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), "" // valid UTF-8, no escapes: the bytes are the value
	}
	// Declared here, not as a named result: its address escapes to
	// Unmarshal, and a named result would be moved to the heap on every call.
	var text string
	_ = json.Unmarshal(lit, &text) // a valid literal always decodes
	return text, bad
}

// Member is one member of a JSON object, as Members reads it.
type Member struct {
	Name        string          // decoded as encoding/json decodes it
	NameProblem string          // non-empty: the name is not valid UTF-8 or holds a lone surrogate escape
	Value       json.RawMessage // the value as written (a part of the object's bytes)
}

// Members returns the members of the JSON object raw in document order, in one pass that does
// not decode the values: a repeated name is returned each time it occurs (encoding/json keeps the
// last one silently). raw must be one valid JSON value (json.Valid); ok is false when it is not
// an object.
func Members(raw []byte) (members []Member, ok bool) {
	s := treeScan{raw: raw}
	s.skipSpace()
	if s.raw[s.i] != '{' {
		return nil, false
	}
	s.i++
	_ = s.eachMember(func(name, nameBad string) error {
		start := s.i
		s.skip()
		members = append(members, Member{Name: name, NameProblem: nameBad, Value: raw[start:s.i]})
		return nil
	})
	return members, true
}

// StringValue is the value of the JSON string literal lit as encoding/json decodes it; bad says
// what is unacceptable about the literal (it is not valid UTF-8 or holds a lone surrogate escape,
// which encoding/json replaces silently), and ok is false when lit is not a JSON string.
func StringValue(lit json.RawMessage) (s, bad string, ok bool) {
	if len(lit) < 2 || lit[0] != '"' || !json.Valid(lit) {
		return "", "", false
	}
	plain := true
	for _, c := range lit {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	s, bad = decodeLiteral(lit, plain)
	return s, bad, true
}

// literalProblem checks the raw bytes of a JSON string literal (possibly preceded by separators):
// invalid UTF-8 and unpaired surrogate escapes, which encoding/json silently turns into U+FFFD.
func literalProblem(src []byte) string {
	i := bytes.IndexByte(src, '"')
	if i < 0 {
		return ""
	}
	lit := src[i:]
	if !utf8.Valid(lit) {
		return "is not valid UTF-8"
	}
	for j := 0; j < len(lit); j++ {
		if lit[j] != '\\' {
			continue
		}
		j++
		if j >= len(lit) || lit[j] != 'u' {
			continue
		}
		r, ok := hex4(lit[j+1:])
		if !ok {
			continue // encoding/json already refused it
		}
		j += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return "holds an unpaired surrogate escape"
		case r >= 0xD800 && r <= 0xDBFF:
			if j+6 >= len(lit) || lit[j+1] != '\\' || lit[j+2] != 'u' {
				return "holds an unpaired surrogate escape"
			}
			lo, ok := hex4(lit[j+3:])
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return "holds an unpaired surrogate escape"
			}
			j += 6
		}
	}
	return ""
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[:4]), 16, 32)
	return rune(v), err == nil
}

// appendJSON writes n back as compact JSON (member order kept, number literals verbatim).
func appendJSON(b []byte, n *node) []byte {
	switch n.kind {
	case kindNull:
		return append(b, "null"...)
	case kindBool:
		return strconv.AppendBool(b, n.boolean)
	case kindNumber:
		return append(b, n.text...)
	case kindString:
		return appendString(b, n.text)
	case kindArray:
		b = append(b, '[')
		for i, e := range n.elems {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	}
	b = append(b, '{')
	for i, m := range n.members {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, m.key)
		b = append(b, ':')
		b = appendJSON(b, m.val)
	}
	return append(b, '}')
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// field returns the value of member key, or nil.
func (n *node) field(key string) *node {
	if n == nil || n.kind != kindObject {
		return nil
	}
	for _, m := range n.members {
		if m.key == key {
			return m.val
		}
	}
	return nil
}
