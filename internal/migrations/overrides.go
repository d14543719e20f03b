package migrations

import (
	"fmt"
	"sort"
	"strings"
)

// override is a "-- pmguard:ignore <rule>[,<rule>...]: <reason>" comment
// (or its older spelling "-- pmguard:allow <rule> <reason>"): the author
// accepts those rules' findings on the statement it is written on.
type override struct {
	Verb   string // "ignore" or "allow", as written
	Rules  []string
	Reason string
	Line   int
	used   bool
}

const directive = "pmguard:"

// parseDirective reads the body of one comment (without -- or /* */). It
// returns nil, nil when the comment is not a pmguard directive.
func parseDirective(body string) (*override, error) {
	body = strings.TrimSpace(body)
	if !strings.HasPrefix(body, directive) {
		return nil, nil
	}
	rest := body[len(directive):]
	fields := strings.Fields(rest)
	verb := ""
	if len(fields) > 0 {
		verb = fields[0]
	}
	if verb != "allow" && verb != "ignore" {
		return nil, fmt.Errorf("unknown directive %q: the directive is pmguard:ignore <rule>: <reason>", directive+verb)
	}
	// "rule: reason", "rule:reason" and "rule reason" all read the same
	rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), verb))
	if i := strings.IndexAny(rest, ": \t"); i >= 0 {
		fields = []string{verb, rest[:i]}
		if r := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest[i:]), ":")); r != "" {
			fields = append(fields, strings.Fields(r)...)
		}
	} else if rest != "" {
		fields = []string{verb, rest}
	} else {
		fields = []string{verb}
	}
	if len(fields) < 2 {
		return nil, fmt.Errorf("pmguard:%s needs a rule id and a reason, e.g. -- pmguard:ignore drop-column: unused since v1.4", verb)
	}
	ruleList, reason := fields[1], strings.Join(fields[2:], " ")
	o := &override{Verb: verb, Reason: reason}
	for _, id := range strings.Split(ruleList, ",") {
		if id == "" {
			continue
		}
		if _, ok := ruleByID(id); !ok {
			return nil, fmt.Errorf("pmguard:%s names unknown rule %q; rules are: %s", verb, id, ruleIDs())
		}
		o.Rules = append(o.Rules, id)
	}
	if len(o.Rules) == 0 {
		return nil, fmt.Errorf("pmguard:%s needs a rule id and a reason", verb)
	}
	if reason == "" {
		return nil, fmt.Errorf("pmguard:%s %s has no reason: a suppression must say why, e.g. -- pmguard:%s %s: <why it is safe here>; the reason is shown in the report", verb, ruleList, verb, ruleList)
	}
	return o, nil
}

// commentBody strips the comment markers.
func commentBody(c string) string {
	switch {
	case strings.HasPrefix(c, "--"):
		return c[2:]
	case strings.HasPrefix(c, "/*"):
		c = strings.TrimSuffix(c[2:], "*/")
		// a block comment may hold a directive on any of its lines
		return c
	}
	return c
}

// lineIndex maps byte offsets to 1-based line numbers.
type lineIndex []int

func newLineIndex(s string) lineIndex {
	idx := lineIndex{0}
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			idx = append(idx, i+1)
		}
	}
	return idx
}

func (li lineIndex) line(off int) int {
	return sort.Search(len(li), func(k int) bool { return li[k] > off })
}

// attachOverrides finds the pmguard directives in up and attaches each to
// the statement it is written on: a comment after a statement on that
// statement's last line belongs to it; any other comment belongs to the
// next statement (the one it precedes or sits inside). Malformed directives
// are errors (file:line: message); directives after the last statement are
// returned as unattached.
func attachOverrides(path, up string, stmts []statement) (unattached []*override, errs []error) {
	li := newLineIndex(up)
	for _, sp := range lex(up, langSQL) {
		if sp.Region != regComment {
			continue
		}
		text := up[sp.Start:sp.End]
		// each line of a block comment, or the one line of a -- comment
		for i, bodyLine := range strings.Split(commentBody(text), "\n") {
			o, err := parseDirective(strings.TrimLeft(bodyLine, " \t*"))
			line := li.line(sp.Start) + i
			if err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: %v", path, line, err))
				continue
			}
			if o == nil {
				continue
			}
			o.Line = line
			if s := owner(up, li, stmts, sp.Start); s != nil {
				s.allows = append(s.allows, o)
			} else {
				unattached = append(unattached, o)
			}
		}
	}
	return unattached, errs
}

// owner returns the statement a comment starting at off belongs to.
func owner(up string, li lineIndex, stmts []statement, off int) *statement {
	line := li.line(off)
	var trailing *statement
	for i := range stmts {
		s := &stmts[i]
		if s.stmt.End <= off && li.line(s.stmt.End) == line {
			trailing = s
		}
	}
	if trailing != nil {
		return trailing
	}
	for i := range stmts {
		if stmts[i].stmt.End > off {
			return &stmts[i]
		}
	}
	return nil
}

// applyOverrides marks the findings that their statement's overrides allow.
func applyOverrides(findings []Finding) {
	for i := range findings {
		fd := &findings[i]
		if fd.stmt == nil {
			continue
		}
		for _, o := range fd.stmt.allows {
			if contains(o.Rules, fd.Rule) {
				fd.Allowed = o.Reason
				fd.SuppressedBy = fmt.Sprintf("pmguard:%s at line %d", o.Verb, o.Line)
				o.used = true
			}
		}
	}
}
