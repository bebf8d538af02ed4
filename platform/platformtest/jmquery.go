package platformtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

type (
	queryJSON struct {
		FetchLimit  *int         `json:"fetchLimit"`
		FetchOffset *int         `json:"fetchOffset"`
		Filters     []filterJSON `json:"filters"`
		Attributes  []string     `json:"attributes"`
	}
	filterJSON struct {
		Criteria []string `json:"criteria"`
		Params   []any    `json:"params"`
		Operator string   `json:"operator"`
	}
)

// criterion is one parsed "ATTRIBUTE OPERATOR VALUE".
type criterion struct {
	attr string
	op   string // "=", "!=", "<", "<=", ">", ">=", "in"
	vals []string
}

// Query attributes the simulator filters on and returns.
var (
	jmFilterAttrs   = []string{"submitKey", "trackingCode", "formStatus", "jobRefNumber", "timeRequest", "timeUserLastModified"}
	jmIdentityAttrs = []string{"submitKey", "trackingCode", "jobRefNumber", "formStatus"}
	jmResultAttrs   = []string{"submitKey", "trackingCode", "formStatus", "timeRequest", "timeUserLastModified", "milestones"}
	jmOperators     = []string{">=", "<=", "!=", "<>", "=", "<", ">"}
)

// jmQuery is POST …/txn/query. Filters are ANDed; a filter's criteria are ANDed or ORed by its
// operator; an AND filter without a formStatus or identity criterion, or no filter at all, gets
// the defaults formStatus in ['Saved','Opened','Assigned'] and a 14-day timeRequest range.
func (s *Simulator) jmQuery(body []byte, now time.Time) reply {
	started := time.Now()
	var q queryJSON
	if err := decodeStrict(body, &q); err != nil {
		return jmError(http.StatusBadRequest, "badRequest", "Bad request or request parameter: "+err.Error())
	}
	limit, offset := 10_000, 0
	if q.FetchLimit != nil {
		limit = *q.FetchLimit
	}
	if q.FetchOffset != nil {
		offset = *q.FetchOffset
	}
	if limit < 1 || limit > 10_000 || offset < 0 {
		return jmError(http.StatusBadRequest, "badRequest", "Bad request or request parameter: fetchLimit must be 1-10000 and fetchOffset at least 0")
	}
	for _, a := range q.Attributes {
		if !slices.Contains(jmResultAttrs, a) {
			return jmError(http.StatusBadRequest, "badRequest", fmt.Sprintf("Bad request or request parameter: invalid attribute '%s'", a))
		}
	}
	groups, err := parseFilters(q.Filters, now)
	if err != nil {
		return jmError(http.StatusBadRequest, "badRequest", "Bad request or request parameter: "+err.Error())
	}
	attrs := q.Attributes
	if attrs == nil {
		attrs = jmResultAttrs
	}
	rows := make([]map[string]any, 0)
	s.mu.RLock()
	keys, skipped := s.txnOrder, 0
	if k, ok := pinnedKey(groups); ok {
		keys = []string{k}
	}
	for _, key := range keys {
		t := s.txns[key]
		if len(rows) == limit {
			break
		}
		if t == nil || !matchGroups(groups, t) {
			continue
		}
		if skipped < offset {
			skipped++
			continue
		}
		rows = append(rows, txnRow(t, attrs))
	}
	s.mu.RUnlock()
	out, err := json.Marshal(struct {
		FetchLimit  int              `json:"fetchLimit"`
		FetchOffset int              `json:"fetchOffset"`
		DurationMs  int64            `json:"durationMs"`
		Result      []map[string]any `json:"result"`
	}{limit, offset, time.Since(started).Milliseconds(), rows})
	if err != nil {
		return jmError(http.StatusInternalServerError, "internalError", "Please see Error Log ID 4712")
	}
	return reply{status: http.StatusOK, body: out}
}

func txnRow(t *Txn, attrs []string) map[string]any {
	row := make(map[string]any, len(attrs))
	for _, a := range attrs {
		switch a {
		case "submitKey":
			row[a] = t.SubmitKey
		case "trackingCode":
			row[a] = t.TrackingCode
		case "formStatus":
			row[a] = t.FormStatus
		case "timeRequest":
			row[a] = t.Created.UTC().Format(time.RFC3339)
		case "timeUserLastModified":
			row[a] = t.Modified.UTC().Format(time.RFC3339)
		case "milestones":
			row[a] = append([]string{}, t.Milestones...)
		}
	}
	return row
}

// group is one filter: its criteria and whether any (OR) or all (AND) must hold.
type group struct {
	crit []criterion
	or   bool
}

func defaultGroup(now time.Time) group {
	return group{crit: []criterion{
		{attr: "formStatus", op: "in", vals: []string{FormSaved, FormOpened, FormAssigned}},
		{attr: "timeRequest", op: ">=", vals: []string{now.Add(-14 * 24 * time.Hour).UTC().Format(time.RFC3339)}},
	}}
}

func parseFilters(filters []filterJSON, now time.Time) ([]group, error) {
	if len(filters) == 0 {
		return []group{defaultGroup(now)}, nil
	}
	var groups []group
	for _, f := range filters {
		g := group{}
		switch strings.ToUpper(f.Operator) {
		case "", "AND":
		case "OR":
			g.or = true
		default:
			return nil, fmt.Errorf("invalid filter operator '%s'", f.Operator)
		}
		for _, c := range f.Criteria {
			cr, err := parseCriterion(c, f.Params)
			if err != nil {
				return nil, err
			}
			g.crit = append(g.crit, cr)
		}
		groups = append(groups, g)
		if !g.or && !slices.ContainsFunc(g.crit, func(c criterion) bool { return slices.Contains(jmIdentityAttrs, c.attr) }) {
			groups = append(groups, defaultGroup(now))
		}
	}
	return groups, nil
}

// parseCriterion parses "ATTR OP VALUE" where VALUE is {N} (the Nth params item), a quoted
// 'literal' (” escapes a quote), a ['a','b'] list (for in) or a bare word.
func parseCriterion(c string, params []any) (criterion, error) {
	c = strings.TrimSpace(c)
	i := strings.IndexAny(c, " =<>!")
	if i <= 0 {
		return criterion{}, fmt.Errorf("invalid criterion '%s'", c)
	}
	cr := criterion{attr: c[:i]}
	if !slices.Contains(jmFilterAttrs, cr.attr) {
		return criterion{}, fmt.Errorf("unsupported attribute '%s'", cr.attr)
	}
	rest := strings.TrimSpace(c[i:])
	for _, op := range jmOperators {
		if v, ok := strings.CutPrefix(rest, op); ok {
			cr.op, rest = op, v
			break
		}
	}
	if cr.op == "<>" {
		cr.op = "!="
	}
	if cr.op == "" && len(rest) > 2 && strings.EqualFold(rest[:2], "in") && strings.ContainsRune(" [{", rune(rest[2])) {
		cr.op, rest = "in", rest[2:]
	}
	if cr.op == "" {
		return criterion{}, fmt.Errorf("invalid operator in criterion '%s'", c)
	}
	vals, err := parseValue(strings.TrimSpace(rest), params)
	if err != nil || len(vals) == 0 || (cr.op != "in" && len(vals) != 1) {
		return criterion{}, fmt.Errorf("invalid value in criterion '%s'", c)
	}
	cr.vals = vals
	return cr, nil
}

func parseValue(v string, params []any) ([]string, error) {
	switch {
	case strings.HasPrefix(v, "{") && strings.HasSuffix(v, "}"):
		n, err := strconv.Atoi(v[1 : len(v)-1])
		if err != nil || n < 0 || n >= len(params) {
			return nil, errors.New("no such parameter")
		}
		if list, ok := params[n].([]any); ok {
			out := make([]string, len(list))
			for i, x := range list {
				out[i] = fmt.Sprint(x)
			}
			return out, nil
		}
		return []string{fmt.Sprint(params[n])}, nil
	case strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]"):
		var out []string
		for item := range strings.SplitSeq(v[1:len(v)-1], ",") {
			s, err := unquote(strings.TrimSpace(item))
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := unquote(v)
	return []string{s}, err
}

func unquote(v string) (string, error) {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return strings.ReplaceAll(v[1:len(v)-1], "''", "'"), nil
	}
	if v == "" || strings.ContainsAny(v, " '") {
		return "", errors.New("invalid literal")
	}
	return v, nil
}

// pinnedKey is the submitKey an AND filter's "submitKey = x" criterion pins the result to.
func pinnedKey(groups []group) (string, bool) {
	for _, g := range groups {
		for _, c := range g.crit {
			if !g.or && c.attr == "submitKey" && c.op == "=" {
				return c.vals[0], true
			}
		}
	}
	return "", false
}

func matchGroups(groups []group, t *Txn) bool {
	for _, g := range groups {
		hit := !g.or || len(g.crit) == 0
		for _, c := range g.crit {
			m := c.match(t)
			if g.or && m {
				hit = true
				break
			}
			if !g.or && !m {
				hit = false
				break
			}
		}
		if !hit {
			return false
		}
	}
	return true
}

func (c criterion) match(t *Txn) bool {
	var cmp func(v string) int
	switch c.attr {
	case "timeRequest", "timeUserLastModified":
		at := t.Created
		if c.attr == "timeUserLastModified" {
			at = t.Modified
		}
		cmp = func(v string) int {
			want, err := time.Parse(time.RFC3339, v)
			if err != nil {
				if want, err = time.Parse(time.DateOnly, v); err != nil {
					return 2 // matches nothing
				}
			}
			return at.Compare(want)
		}
	default:
		have := map[string]string{"submitKey": t.SubmitKey, "trackingCode": t.TrackingCode, "formStatus": t.FormStatus}[c.attr]
		cmp = func(v string) int {
			if c.attr == "formStatus" {
				return strings.Compare(strings.ToLower(have), strings.ToLower(v))
			}
			return strings.Compare(have, v)
		}
	}
	switch c.op {
	case "in":
		return slices.ContainsFunc(c.vals, func(v string) bool { return cmp(v) == 0 })
	case "=":
		return cmp(c.vals[0]) == 0
	case "!=":
		return cmp(c.vals[0]) != 0
	}
	r := cmp(c.vals[0])
	switch c.op {
	case "<":
		return r == -1
	case "<=":
		return r == -1 || r == 0
	case ">":
		return r == 1
	}
	return r == 1 || r == 0 // ">="
}
