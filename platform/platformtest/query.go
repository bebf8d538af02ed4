package platformtest

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// param is one query parameter: its unescaped name and still escaped value.
type param struct{ key, raw string }

// listParams parses a list endpoint's query without a map and without unescaping values that
// need none (ids are sent as-is): only allowed names, each at most once.
type listParams struct {
	params   []param
	problems []string
}

func parseListParams(raw string, allowed ...string) *listParams {
	p := &listParams{params: make([]param, 0, 6)}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := unescapeQuery(k)
		switch {
		case err != nil:
			p.problems = append(p.problems, "invalid query string")
		case !slices.Contains(allowed, key):
			p.problems = append(p.problems, "unknown query parameter "+key)
		case slices.ContainsFunc(p.params, func(x param) bool { return x.key == key }):
			p.problems = append(p.problems, "query parameter "+key+" given more than once")
		default:
			p.params = append(p.params, param{key, v})
		}
	}
	return p
}

func unescapeQuery(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// lookup returns the escaped value of name.
func (p *listParams) lookup(name string) (string, bool) {
	for _, x := range p.params {
		if x.key == name {
			return x.raw, true
		}
	}
	return "", false
}

// get returns the unescaped value of name, "" if absent.
func (p *listParams) get(name string) string {
	raw, _ := p.lookup(name)
	v, err := unescapeQuery(raw)
	if err != nil {
		p.problems = append(p.problems, "invalid value of "+name)
	}
	return v
}

// int reads an integer in [lo, hi]; def if absent.
func (p *listParams) int(name string, def, lo, hi int) int {
	v := p.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.problems = append(p.problems, fmt.Sprintf("%s must be an integer from %d to %d", name, lo, hi))
		return def
	}
	return n
}

// list reads a comma-separated list (",", or "%2C" as url.Values encodes it) of at most limit
// values, each a v4 UUID if uuids, each in enum if enum is not nil. nil if absent.
func (p *listParams) list(name string, limit int, uuids bool, enum []string) []string {
	raw, ok := p.lookup(name)
	if !ok {
		return nil
	}
	vals := make([]string, 0, strings.Count(raw, ",")+strings.Count(raw, "%2")+1)
	for {
		i, w := nextSep(raw)
		if i < 0 {
			vals = append(vals, raw)
			break
		}
		vals = append(vals, raw[:i])
		raw = raw[i+w:]
	}
	if len(vals) > limit {
		p.problems = append(p.problems, fmt.Sprintf("%s takes at most %d values", name, limit))
	}
	for i, x := range vals {
		x, err := unescapeQuery(x)
		vals[i] = x
		switch {
		case err != nil:
			p.problems = append(p.problems, "invalid value of "+name)
		case x == "":
			p.problems = append(p.problems, name+" has an empty value")
		case uuids && !isV4(x):
			p.problems = append(p.problems, name+" values must be v4 UUIDs")
		case enum != nil && !slices.Contains(enum, x):
			p.problems = append(p.problems, fmt.Sprintf("%s values must be among %s", name, strings.Join(enum, ",")))
		default:
			continue
		}
		break
	}
	return vals
}

// nextSep finds the next list separator: its index and width, or -1.
func nextSep(s string) (int, int) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',':
			return i, 1
		case '%':
			if i+2 < len(s) && s[i+1] == '2' && (s[i+2] == 'C' || s[i+2] == 'c') {
				return i, 3
			}
		}
	}
	return -1, 0
}
