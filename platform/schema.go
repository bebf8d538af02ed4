package platform

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// schema describes the documented shape of a params value; check compares a node with it and names
// every problem (unknown fields at any depth, wrong JSON types, missing required fields, bad
// strings) instead of stopping at the first.
type schema struct {
	kind   nodeKind
	fields []fieldSpec // object: the documented fields
	free   bool        // object: free-form content (extraData)
	elem   *schema     // array: element shape
	str    stringRule  // string: length rule
	posInt bool        // number: a positive integer
	rules  []rule      // object: cross-field rules (on presence of fields, so they always run)
}

type fieldSpec struct {
	name     string
	s        *schema
	required bool
}

// rule checks a relation between the fields of an object at path.
type rule func(p *problems, path string, n *node)

type stringRule uint8

const (
	anyText  stringRule = iota // any length
	nonEmpty                   // at least one character
	ident                      // 1–256 characters (identifiers, keys)
)

const (
	maxIdentLen  = 256
	maxProblems  = 32
	maxKeyInPath = 64
)

// problems collects human-readable problem sentences "path: what is wrong", capped at maxProblems.
type problems struct {
	list    []string
	dropped int
}

func (p *problems) add(path, msg string) {
	if len(p.list) >= maxProblems {
		p.dropped++
		return
	}
	p.list = append(p.list, path+": "+msg)
}

func (p *problems) result() []string {
	if p.dropped > 0 {
		return append(p.list, "params: "+strconv.Itoa(p.dropped)+" more problems not listed")
	}
	return p.list
}

func (p *problems) empty() bool { return len(p.list) == 0 && p.dropped == 0 }

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

func article(k nodeKind) string {
	if k == kindObject || k == kindArray {
		return "an " + k.String()
	}
	return "a " + k.String()
}

func check(p *problems, path string, n *node, s *schema) {
	if n.kind != s.kind {
		p.add(path, "must be "+article(s.kind)+", not "+n.kind.String())
		return
	}
	switch s.kind {
	case kindString:
		checkString(p, path, n, s.str)
	case kindNumber:
		if s.posInt {
			if v, err := strconv.ParseInt(n.text, 10, 32); err != nil || v < 1 {
				p.add(path, "must be a positive integer")
			}
		}
	case kindArray:
		for i, e := range n.elems {
			check(p, indexPath(path, i), e, s.elem)
		}
	case kindObject:
		if s.free {
			checkFree(p, path, n)
			return
		}
		checkObject(p, path, n, s)
	}
}

func checkObject(p *problems, path string, n *node, s *schema) {
	seen := make(map[string]bool, len(n.members))
	for _, m := range n.members {
		mp := joinPath(path, m.key)
		if !keyOK(p, mp, m, seen) {
			continue
		}
		fs := s.lookup(m.key)
		if fs == nil {
			msg := "unknown field"
			if m.key == "processId" {
				msg += " (processId belongs in the command envelope)"
			}
			p.add(mp, msg)
			continue
		}
		check(p, mp, m.val, fs.s)
	}
	for _, fs := range s.fields {
		if fs.required && !seen[fs.name] {
			p.add(joinPath(path, fs.name), "required")
		}
	}
	for _, r := range s.rules {
		r(p, path, n)
	}
}

// keyOK checks a member's name (valid, not repeated) and records it in seen.
func keyOK(p *problems, mp string, m member, seen map[string]bool) bool {
	switch {
	case m.keyBad != "":
		p.add(mp, "field name "+m.keyBad)
	case hasControl(m.key):
		p.add(mp, "field name holds control characters")
	case seen[m.key]:
		p.add(mp, "duplicate field")
	default:
		seen[m.key] = true
		return true
	}
	return false
}

// checkFree checks free-form content: any shape, but every name and string must be valid UTF-8
// without control characters and names must not repeat.
func checkFree(p *problems, path string, n *node) {
	switch n.kind {
	case kindString:
		checkString(p, path, n, anyText)
	case kindArray:
		for i, e := range n.elems {
			checkFree(p, indexPath(path, i), e)
		}
	case kindObject:
		seen := make(map[string]bool, len(n.members))
		for _, m := range n.members {
			mp := joinPath(path, m.key)
			if keyOK(p, mp, m, seen) {
				checkFree(p, mp, m.val)
			}
		}
	}
}

func checkString(p *problems, path string, n *node, r stringRule) {
	if n.bad != "" {
		p.add(path, n.bad)
		return
	}
	if hasControl(n.text) {
		p.add(path, "holds control characters")
		return
	}
	switch count := utf8.RuneCountInString(n.text); {
	case r != anyText && count == 0:
		p.add(path, "must not be empty")
	case r == ident && count > maxIdentLen:
		p.add(path, "longer than "+strconv.Itoa(maxIdentLen)+" characters")
	}
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

func (s *schema) lookup(name string) *fieldSpec {
	for i := range s.fields {
		if s.fields[i].name == name {
			return &s.fields[i]
		}
	}
	return nil
}
