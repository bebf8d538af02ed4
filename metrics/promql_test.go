package metrics_test

import (
	"reflect"
	"sort"
	"strings"
	"testing"
)

// promqlWords are the PromQL keywords and aggregation operators that stand
// without a parenthesis right after them (e.g. `sum by (le) (…)`).
var promqlWords = map[string]bool{
	"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "bool": true, "offset": true, "inf": true, "nan": true, "atan2": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true,
}

// labelListWords are followed by a parenthesised list of label names.
var labelListWords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

// metricNames returns the metric names a PromQL expression selects, sorted
// and deduplicated. It is a lexer, not a parser (promtool checks that the
// expressions parse): it skips strings, label matchers, ranges, numbers,
// Grafana variables, keywords, label lists and function names.
func metricNames(expr string) []string {
	seen := map[string]bool{}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(expr, i)
		case c == '{':
			i = skipTo(expr, i, '}')
		case c == '[':
			i = skipTo(expr, i, ']')
		case c == '$':
			i++
			for i < len(expr) && (isIdent(expr[i], true) || expr[i] == '{' || expr[i] == '}') {
				i++
			}
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdent(expr[i], true) || expr[i] == '.') {
				i++
			}
		case isIdent(c, false):
			j := i
			for j < len(expr) && isIdent(expr[j], true) {
				j++
			}
			word, next := expr[i:j], nextNonSpace(expr, j)
			switch {
			case labelListWords[word] && next < len(expr) && expr[next] == '(':
				j = skipTo(expr, next, ')')
			case promqlWords[word]:
			case next < len(expr) && expr[next] == '(': // a function
			default:
				seen[word] = true
			}
			i = j
		default:
			i++
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func isIdent(c byte, inside bool) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || inside && c >= '0' && c <= '9'
}

func nextNonSpace(s string, i int) int {
	for i < len(s) && strings.ContainsRune(" \t\r\n", rune(s[i])) {
		i++
	}
	return i
}

// skipString returns the index after the string literal starting at i.
func skipString(s string, i int) int {
	quote := s[i]
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quote != '`' {
				i++
			}
		case quote:
			return i + 1
		}
	}
	return len(s)
}

// skipTo returns the index after the closing byte matching s[i], skipping strings.
func skipTo(s string, i int, closing byte) int {
	for i++; i < len(s); i++ {
		switch s[i] {
		case '"', '\'', '`':
			i = skipString(s, i) - 1
		case closing:
			return i + 1
		}
	}
	return len(s)
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`txworker_ready`, []string{"txworker_ready"}},
		{`sum by (namespace) (txworker_ready{namespace=~"$namespace"}) < 1 or absent(txworker_ready)`, []string{"txworker_ready"}},
		{`histogram_quantile(0.99, sum by (le, platform) (rate(txworker_platform_request_duration_seconds_bucket{code="429", x='a}b'}[$__rate_interval])))`,
			[]string{"txworker_platform_request_duration_seconds_bucket"}},
		{`sum(rate(a_total[5m] offset 1h)) / on (namespace) group_left (pod) sum without (le) (b_count) > bool 1e3`, []string{"a_total", "b_count"}},
		{"max(foo:bar_seconds) by (x)\nunless\ncount (baz)", []string{"baz", "foo:bar_seconds"}},
		{`label_values(txworker_ready, namespace)`, []string{"namespace", "txworker_ready"}},
	}
	for _, tt := range tests {
		if got := metricNames(tt.expr); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}
