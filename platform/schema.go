package platform

import (
	"bytes"
	"cmp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The params of an action decode with json v2 into typed structs (params.go) whose members are
// field values: a field accepts whatever JSON value stands at its name and records where it
// stood and, when the value is not of the documented kind, which kind it was, so that decoding
// never stops at a wrong type. Unknown members land in each struct's unknown fallback. Validate
// then names every problem (unknown fields at any depth, wrong JSON types, missing required
// fields, bad strings, cross-field rules) in document order. What json v2 refuses outright —
// bytes that are not JSON, duplicate names, invalid UTF-8 and unpaired surrogate escapes — is
// the one problem reported for such params.

// param is one documented member of an object.
type param[T any] struct {
	v   T
	set bool          // the member was given
	got jsontext.Kind // the kind found when it is not the documented one (v is then zero)
	off int64         // where the value starts, for ordering problems
	end int64         // where it ends (objects: the required and cross-field problems)
}

// UnmarshalJSONFrom implements json.UnmarshalerFrom.
func (f *param[T]) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	f.set, f.off = true, dec.InputOffset()
	if k := dec.PeekKind(); !kindFits(any(&f.v), k) {
		f.got = k
		_, err := skip(dec)
		f.end = dec.InputOffset()
		return err
	}
	err := json.UnmarshalDecode(dec, &f.v)
	f.end = dec.InputOffset()
	return err
}

// number is a JSON number as written.
type number struct{ lit jsontext.Value }

func (n *number) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	v, err := dec.ReadValue()
	n.lit = v.Clone()
	return err
}

// free is free-form content (extraData), kept verbatim; depth is how deep it stands in the
// params.
type free struct {
	raw   jsontext.Value
	depth int
}

func (f *free) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	f.depth = dec.StackDepth()
	v, err := dec.ReadValue()
	f.raw = v.Clone()
	return err
}

// kindFits reports whether a value of kind k may decode into p's documented kind.
func kindFits(p any, k jsontext.Kind) bool {
	switch p.(type) {
	case *string:
		return k == '"'
	case *bool:
		return k == 't' || k == 'f'
	case *number:
		return k == '0'
	case *[]param[reason], *[]param[docIssue], *[]param[page]:
		return k == '['
	}
	return k == '{' // the structs and free
}

func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "boolean"
	case '0':
		return "number"
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "invalid"
}

// unknown holds the members of an object that are not documented, in the struct's embedded
// fallback: each records where it stood.
type unknown map[string]unknownMember

type unknownMember struct {
	off  int64
	deep bool // nested deeper than maxParamsDepth
}

func (u *unknownMember) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	u.off = dec.InputOffset()
	var err error
	u.deep, err = skip(dec)
	return err
}

// skip moves past the value at dec, whatever its depth, and reports whether it nests deeper
// than maxParamsDepth levels below the params.
func skip(dec *jsontext.Decoder) (deep bool, err error) {
	switch dec.PeekKind() {
	case '{', '[':
	default:
		return false, dec.SkipValue()
	}
	base := dec.StackDepth()
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return deep, err
		}
		switch tok.Kind() {
		case '{', '[':
			deep = deep || dec.StackDepth() > maxParamsDepth
		case '}', ']':
			if dec.StackDepth() == base {
				return deep, nil
			}
		}
	}
}

type stringRule uint8

const (
	anyText  stringRule = iota // any length
	nonEmpty                   // at least one character
	ident                      // 1–256 characters (identifiers, keys)
)

const (
	maxIdentLen    = 256
	maxProblems    = 32
	maxKeyInPath   = 64
	maxParamsDepth = 32
)

// problem is one sentence "path: what is wrong" and where in the params it arose.
type problem struct {
	off  int64
	text string
}

// problems collects the problems of one params value.
type problems struct{ list []problem }

func (p *problems) add(off int64, path, msg string) {
	p.list = append(p.list, problem{off, path + ": " + msg})
}

// result is the problems in document order, at most maxProblems, then a count of the rest.
func (p *problems) result() []string {
	slices.SortStableFunc(p.list, func(a, b problem) int { return cmp.Compare(a.off, b.off) })
	var out []string
	for i, pr := range p.list {
		if i == maxProblems {
			return append(out, "params: "+strconv.Itoa(len(p.list)-maxProblems)+" more problems not listed")
		}
		out = append(out, pr.text)
	}
	return out
}

// plainKey reports whether key matches [A-Za-z_][A-Za-z0-9_]* (printed as .key in paths).
func plainKey(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return key != ""
}

// joinPath appends an object key to a problem path: `a.key`, or `a["odd key"]` for keys that are
// not plain identifiers (escaped, shortened).
func joinPath(path, key string) string {
	if plainKey(key) && len(key) <= maxKeyInPath {
		return path + "." + key
	}
	if len(key) > maxKeyInPath {
		key = key[:maxKeyInPath] + "…"
	}
	return path + "[" + strconv.QuoteToASCII(key) + "]"
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func article(kind string) string {
	if kind == "object" || kind == "array" {
		return "an " + kind
	}
	return "a " + kind
}

// given reports whether f was given with the documented kind, naming it otherwise.
func given[T any](p *problems, path, name string, f *param[T], want string) bool {
	if !f.set {
		return false
	}
	if f.got != 0 {
		p.add(f.off, joinPath(path, name), "must be "+article(want)+", not "+kindName(f.got))
		return false
	}
	return true
}

// text checks a string member against its rule.
func text(p *problems, path, name string, f *param[string], r stringRule) {
	if given(p, path, name, f, "string") {
		checkString(p, f.off, joinPath(path, name), f.v, r)
	}
}

// required names a missing member, at the end of its object.
func required[T any](p *problems, path, name string, f *param[T], end int64) {
	if !f.set {
		p.add(end, joinPath(path, name), "required")
	}
}

// unknownFields names every undocumented member of an object.
func unknownFields(p *problems, path string, u unknown) {
	for name, m := range u {
		mp := joinPath(path, name)
		switch {
		case hasControl(name):
			p.add(m.off, mp, "field name holds control characters")
		case m.deep:
			p.add(m.off, mp, "unknown field, nested deeper than "+strconv.Itoa(maxParamsDepth)+" levels")
		case name == "processId":
			p.add(m.off, mp, "unknown field (processId belongs in the command envelope)")
		default:
			p.add(m.off, mp, "unknown field")
		}
	}
}

// object checks an object member with its own validation.
func object[T any, PT interface {
	*T
	validate(p *problems, path string, end int64)
}](p *problems, path, name string, f *param[T]) {
	if given(p, path, name, f, "object") {
		PT(&f.v).validate(p, joinPath(path, name), f.end)
	}
}

// array checks an array member of objects.
func array[T any, PT interface {
	*T
	validate(p *problems, path string, end int64)
}](p *problems, path, name string, f *param[[]param[T]]) {
	if !given(p, path, name, f, "array") {
		return
	}
	ap := joinPath(path, name)
	for i := range f.v {
		e := &f.v[i]
		ep := indexPath(ap, i)
		if e.got != 0 {
			p.add(e.off, ep, "must be an object, not "+kindName(e.got))
			continue
		}
		PT(&e.v).validate(p, ep, e.end)
	}
}

// checkFree checks free-form content (extraData) at off: an object of any shape whose names and
// strings hold no control characters.
func checkFree(p *problems, path string, f *param[free]) {
	if !given(p, path, "extraData", f, "object") {
		return
	}
	dec := jsontext.NewDecoder(bytes.NewReader(f.v.raw))
	walkFree(p, dec, f.off, joinPath(path, "extraData"), f.v.depth)
}

func walkFree(p *problems, dec *jsontext.Decoder, base int64, path string, depth int) {
	off := base + dec.InputOffset()
	tok, err := dec.ReadToken()
	if err != nil {
		return // the value was read by the decoder already: it is valid
	}
	switch tok.Kind() {
	case '"':
		checkString(p, off, path, tok.String(), anyText)
	case '{', '[':
		if depth+dec.StackDepth() > maxParamsDepth {
			p.add(off, path, "nested deeper than "+strconv.Itoa(maxParamsDepth)+" levels")
			_ = skipRest(dec)
			return
		}
	}
	switch tok.Kind() {
	case '{':
		for dec.PeekKind() != '}' {
			off := base + dec.InputOffset()
			tok, err := dec.ReadToken()
			if err != nil {
				return
			}
			name := tok.String()
			np := joinPath(path, name)
			if hasControl(name) {
				p.add(off, np, "field name holds control characters")
				_ = dec.SkipValue()
				continue
			}
			walkFree(p, dec, base, np, depth)
		}
		_, _ = dec.ReadToken()
	case '[':
		for i := 0; dec.PeekKind() != ']'; i++ {
			walkFree(p, dec, base, indexPath(path, i), depth)
		}
		_, _ = dec.ReadToken()
	}
}

// skipRest moves past the rest of the object or array whose opening token was just read.
func skipRest(dec *jsontext.Decoder) error {
	for d := dec.StackDepth(); dec.StackDepth() >= d; {
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
	}
	return nil
}

func checkString(p *problems, off int64, path, s string, r stringRule) {
	if hasControl(s) {
		p.add(off, path, "holds control characters")
		return
	}
	switch count := utf8.RuneCountInString(s); {
	case r != anyText && count == 0:
		p.add(off, path, "must not be empty")
	case r == ident && count > maxIdentLen:
		p.add(off, path, "longer than "+strconv.Itoa(maxIdentLen)+" characters")
	}
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}
