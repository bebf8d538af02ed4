package platform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
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
func readTree(raw []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	r := &treeReader{dec: dec, raw: raw}
	n, err := r.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return n, nil
}

type treeReader struct {
	dec *json.Decoder
	raw []byte
}

// token returns the next token and the raw bytes it came from (with leading separators).
func (r *treeReader) token() (json.Token, []byte, error) {
	start := r.dec.InputOffset()
	tok, err := r.dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, err
	}
	return tok, r.raw[start:r.dec.InputOffset()], nil
}

func (r *treeReader) value(depth int) (*node, error) {
	tok, src, err := r.token()
	if err != nil {
		return nil, err
	}
	return r.fromToken(tok, src, depth)
}

func (r *treeReader) fromToken(tok json.Token, src []byte, depth int) (*node, error) {
	switch v := tok.(type) {
	case nil:
		return &node{kind: kindNull}, nil
	case bool:
		return &node{kind: kindBool, boolean: v}, nil
	case json.Number:
		return &node{kind: kindNumber, text: string(v)}, nil
	case string:
		return &node{kind: kindString, text: v, bad: literalProblem(src)}, nil
	case json.Delim:
		if depth >= maxDepth {
			return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
		}
		if v == '{' {
			return r.object(depth + 1)
		}
		if v == '[' {
			return r.array(depth + 1)
		}
	}
	return nil, fmt.Errorf("unexpected %v", tok)
}

func (r *treeReader) object(depth int) (*node, error) {
	n := &node{kind: kindObject}
	for {
		tok, src, err := r.token()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim('}') {
			return n, nil
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("unexpected %v", tok)
		}
		val, err := r.value(depth)
		if err != nil {
			return nil, err
		}
		n.members = append(n.members, member{key: key, keyBad: literalProblem(src), val: val})
	}
}

func (r *treeReader) array(depth int) (*node, error) {
	n := &node{kind: kindArray}
	for {
		tok, src, err := r.token()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim(']') {
			return n, nil
		}
		val, err := r.fromToken(tok, src, depth)
		if err != nil {
			return nil, err
		}
		n.elems = append(n.elems, val)
	}
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
