package metricsource

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Placeholders a query override may use; they are replaced before sending.
const (
	// PlaceholderSelector is the selector's matchers without braces, e.g.
	// app="api",track="canary" (Prometheus) or service:api,version:canary
	// (Datadog). Write it inside the braces: metric{$__selector}.
	PlaceholderSelector = "$__selector"
	// PlaceholderWindow is the window length: a PromQL duration such as 1m or
	// 90s for Prometheus, whole seconds such as 60 for Datadog (for .rollup).
	PlaceholderWindow = "$__window"
	// PlaceholderQuantile is the quantile as a number, e.g. 0.95 (Prometheus).
	PlaceholderQuantile = "$__quantile"
	// PlaceholderPercentile is the percentile aggregator, e.g. p95 (Datadog).
	PlaceholderPercentile = "$__percentile"
)

var placeholderRE = regexp.MustCompile(`\$__[A-Za-z_]+`)

// InputError is a selector, query override, window or quantile refused
// before any network call: bad input, for the caller to report as such. Pos
// is a byte offset into Input, or -1 when no position applies.
type InputError struct {
	What   string // "selector", "PromQL query", "Datadog query", "window", ...
	Input  string
	Pos    int
	Reason string
}

func (e *InputError) Error() string {
	if e.Pos < 0 {
		return fmt.Sprintf("%s %s: %s", e.What, e.Input, e.Reason)
	}
	return fmt.Sprintf("%s %q: %s (at byte %d)", e.What, e.Input, e.Reason, e.Pos)
}

// CheckSelector checks a Prometheus selector: label matchers such as
// {app="api",track="canary"}, braces optional, each name=value, name!=value,
// name=~regex or name!~regex with a quoted value. At least one matcher is
// required: an empty selector would judge every service at once.
func CheckSelector(sel string) error {
	_, err := promMatchers(sel)
	return err
}

// CheckPromQL checks a PromQL query or override cheaply: quotes closed,
// brackets balanced and nested properly, no unknown $__ placeholder. Real
// parse errors come back from Prometheus as a *QueryError.
func CheckPromQL(query string) error {
	return checkTemplate("PromQL query", query, true, PlaceholderSelector, PlaceholderWindow, PlaceholderQuantile)
}

// CheckDatadogSelector checks a Datadog scope such as {service:api,version:canary}
// (braces optional): not empty, brackets balanced.
func CheckDatadogSelector(sel string) error {
	_, err := datadogScope(sel)
	return err
}

// CheckDatadogQuery checks a Datadog query override: brackets balanced, no
// unknown $__ placeholder.
func CheckDatadogQuery(query string) error {
	return checkTemplate("Datadog query", query, false, PlaceholderSelector, PlaceholderWindow, PlaceholderPercentile)
}

// CheckQuantile checks 0 < q < 1.
func CheckQuantile(q float64) error {
	if !(q > 0 && q < 1) {
		return &InputError{What: "quantile", Input: formatQuantile(q), Pos: -1, Reason: "outside (0, 1): use e.g. 0.95 for p95"}
	}
	return nil
}

// CheckWindow checks a window length: at least one second and a whole
// number of milliseconds (PromQL's resolution; Datadog rounds to seconds).
func CheckWindow(d time.Duration) error {
	if d < time.Second || d%time.Millisecond != 0 {
		return &InputError{What: "window", Input: d.String(), Pos: -1, Reason: "want at least 1s, in whole milliseconds"}
	}
	return nil
}

// promMatchers validates sel and returns its matchers joined by commas,
// without braces, ready to merge with other matchers.
func promMatchers(sel string) (string, error) {
	bad := func(pos int, reason string) (string, error) {
		return "", &InputError{What: "selector", Input: sel, Pos: pos, Reason: reason}
	}
	s := strings.TrimSpace(sel)
	off := strings.Index(sel, s)
	if s == "" {
		return bad(0, `empty: give label matchers such as {app="api",track="canary"}`)
	}
	if s[0] != '{' {
		if i := strings.IndexByte(s, '{'); i > 0 {
			return bad(off, "give label matchers only, such as {app=\"api\",track=\"canary\"}: the metric names come from the queries")
		}
	} else {
		if s[len(s)-1] != '}' {
			return bad(off+len(s)-1, "missing closing }")
		}
		s = s[1 : len(s)-1]
		off++
	}
	var matchers []string
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			break
		}
		start := i
		// label name: identifier or, as Prometheus 3 allows, a quoted name
		if s[i] == '"' {
			end, ok := scanQuoted(s, i)
			if !ok {
				return bad(off+i, "unterminated quoted label name")
			}
			i = end
		} else {
			for i < len(s) && (s[i] == '_' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || i > start && s[i] >= '0' && s[i] <= '9') {
				i++
			}
			if i == start {
				return bad(off+i, fmt.Sprintf("expected a label name, found %q", s[i:i+1]))
			}
		}
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		switch {
		case strings.HasPrefix(s[i:], "=~"), strings.HasPrefix(s[i:], "!~"), strings.HasPrefix(s[i:], "!="):
			i += 2
		case strings.HasPrefix(s[i:], "="):
			i++
		default:
			return bad(off+i, "expected =, !=, =~ or !~ after the label name")
		}
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) || (s[i] != '"' && s[i] != '\'' && s[i] != '`') {
			return bad(off+i, "expected a quoted value, e.g. \"canary\"")
		}
		end, ok := scanQuoted(s, i)
		if !ok {
			return bad(off+i, "unterminated quoted value")
		}
		i = end
		matchers = append(matchers, strings.TrimSpace(s[start:i]))
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			break
		}
		if s[i] != ',' {
			return bad(off+i, "expected , between matchers")
		}
		i++
	}
	if len(matchers) == 0 {
		return bad(off, `no matchers: give label matchers such as {app="api",track="canary"}`)
	}
	return strings.Join(matchers, ","), nil
}

// datadogScope validates a Datadog scope and returns it without braces.
func datadogScope(sel string) (string, error) {
	s := strings.TrimSpace(sel)
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	if s == "" {
		return "", &InputError{What: "selector", Input: sel, Pos: 0, Reason: "empty: give a Datadog scope such as {service:api,version:canary}"}
	}
	if err := checkTemplate("selector", s, false); err != nil {
		err.(*InputError).Input = sel
		return "", err
	}
	if i := strings.IndexAny(s, "{}"); i >= 0 {
		return "", &InputError{What: "selector", Input: sel, Pos: i, Reason: "give the tags only, such as {service:api,version:canary}: the metric names come from the queries"}
	}
	return s, nil
}

// checkTemplate scans a query: closed quotes, balanced and properly nested
// brackets, only the allowed placeholders. promql enables # comments.
func checkTemplate(what, q string, promql bool, allowed ...string) error {
	bad := func(pos int, reason string) error {
		return &InputError{What: what, Input: q, Pos: pos, Reason: reason}
	}
	if strings.TrimSpace(q) == "" {
		return bad(0, "empty")
	}
	type open struct {
		c   byte
		pos int
	}
	var stack []open
	closer := map[byte]byte{')': '(', ']': '[', '}': '{'}
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			end, ok := scanQuoted(q, i)
			if !ok {
				return bad(i, "unterminated string")
			}
			i = end - 1
		case promql && c == '#':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, open{c, i})
		case c == ')' || c == ']' || c == '}':
			if len(stack) == 0 {
				return bad(i, fmt.Sprintf("unbalanced %q", string(c)))
			}
			top := stack[len(stack)-1]
			if top.c != closer[c] {
				return bad(i, fmt.Sprintf("%q closes %q opened at byte %d", string(c), string(top.c), top.pos))
			}
			stack = stack[:len(stack)-1]
		case c == '$' && strings.HasPrefix(q[i:], "$__"):
			name := placeholderRE.FindString(q[i:])
			known := false
			for _, a := range allowed {
				known = known || name == a
			}
			if !known {
				if len(allowed) == 0 {
					return bad(i, fmt.Sprintf("placeholder %s is not allowed here", name))
				}
				return bad(i, fmt.Sprintf("unknown placeholder %s (known: %s)", name, strings.Join(allowed, ", ")))
			}
			i += len(name) - 1
		}
	}
	if len(stack) > 0 {
		top := stack[len(stack)-1]
		return bad(top.pos, fmt.Sprintf("%q is never closed", string(top.c)))
	}
	return nil
}

// scanQuoted returns the index just past the string literal starting at
// s[i]. Backslash escapes apply in "..." and '...', not in `...`.
func scanQuoted(s string, i int) (int, bool) {
	quote := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && quote != '`':
			j++
		case s[j] == quote:
			return j + 1, true
		}
	}
	return 0, false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// checkOverrides validates every query template the user gave.
func checkOverrides(check func(string) error, queries ...string) error {
	for _, s := range queries {
		if s == "" {
			continue
		}
		if err := check(s); err != nil {
			return err
		}
	}
	return nil
}

func orDefault(v *string, def string) {
	if *v == "" {
		*v = def
	}
}

// expand replaces placeholders. Unknown ones were refused by the checks.
func expand(q string, vars map[string]string) string {
	return placeholderRE.ReplaceAllStringFunc(q, func(name string) string {
		if v, ok := vars[name]; ok {
			return v
		}
		return name
	})
}

// promDuration formats d as a PromQL duration in its largest exact unit.
func promDuration(d time.Duration) (string, error) {
	if err := CheckWindow(d); err != nil {
		return "", err
	}
	for _, u := range []struct {
		d time.Duration
		s string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.s, nil
		}
	}
	return "", nil // unreachable: every d here is a whole number of ms
}

// formatQuantile writes q the shortest way, e.g. 0.95.
func formatQuantile(q float64) string { return strconv.FormatFloat(q, 'g', -1, 64) }

// datadogPercentile maps q to Datadog's percentile aggregator name (p95,
// p99.9 is not offered: Datadog has p50, p75, p90, p95 and p99).
func datadogPercentile(q float64) (string, error) {
	p := q * 100
	for _, ok := range []float64{50, 75, 90, 95, 99} {
		if math.Abs(p-ok) < 1e-9 {
			return "p" + strconv.Itoa(int(ok)), nil
		}
	}
	return "", &InputError{What: "quantile", Input: formatQuantile(q), Pos: -1, Reason: "Datadog offers p50, p75, p90, p95 and p99 only (override the latency query for others)"}
}
