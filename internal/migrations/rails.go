package migrations

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"
)

// A Rails migration (db/migrate/<version>_<name>.rb) changes the schema
// through ActiveRecord's DSL, not SQL. railsRead recognises the calls that
// can break code written for the schema before them, and whether Rails can
// run the migration down: a down method, a change method made only of
// operations Rails knows how to reverse, or reversible blocks with a down
// part.

// isRails reports whether p is read as a Rails migration.
func isRails(p string) bool { return strings.HasSuffix(strings.ToLower(p), ".rb") }

// railsMigration is what one Rails migration file holds.
type railsMigration struct {
	Path, Version string
	Findings      []Finding
	// Irreversible names the first operation Rails cannot run down ("" when
	// it can: a down method, or a change method it reverses).
	Irreversible string
	HasDown      bool // a down method
	// SQL is what the migration's execute calls run when it migrates up,
	// one piece a call.
	SQL []railsSQL
}

// railsSQL is the SQL one execute call runs and the line it starts on.
type railsSQL struct {
	Line int
	Text string
}

// laidOut is the piece on its own lines of the file (blank lines before
// it), so that the parser's positions are the file's.
func (q railsSQL) laidOut() string { return strings.Repeat("\n", q.Line-1) + q.Text }

// addSQL keeps the SQL an execute call runs: a heredoc's body, or a quoted
// string argument. SQL built at run time (#{...}) cannot be read.
func (m *railsMigration) addSQL(l rubyLine, args string) {
	q := railsSQL{Line: l.bodyLine, Text: l.body}
	if q.Text == "" {
		str, ok := rubyString(strings.TrimSpace(args))
		if !ok {
			return
		}
		q = railsSQL{Line: l.line, Text: str}
	}
	if strings.Contains(q.Text, "#{") || strings.TrimSpace(q.Text) == "" {
		return
	}
	m.SQL = append(m.SQL, q)
}

// rubyString reads the string literal s starts with ("..." or '...') and
// returns its value with Ruby's escapes undone: \" or \' and \\, and in
// double quotes \n and \t too.
func rubyString(s string) (string, bool) {
	if s == "" || s[0] != '"' && s[0] != '\'' {
		return "", false
	}
	quote := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == quote:
			return b.String(), true
		case ch == '\\' && i+1 < len(s):
			i++
			switch next := s[i]; {
			case next == quote || next == '\\':
				b.WriteByte(next)
			case quote == '"' && next == 'n':
				b.WriteByte('\n')
			case quote == '"' && next == 't':
				b.WriteByte('\t')
			default:
				b.WriteByte('\\')
				b.WriteByte(next)
			}
		default:
			b.WriteByte(ch)
		}
	}
	return "", false // not closed on this line
}

// rubyLine is one logical line of a Ruby file: a call written over several
// lines (an open parenthesis or bracket, a trailing comma or backslash) is
// read as one, numbered by its first line, comments dropped. A heredoc's
// body (execute <<~SQL ... SQL) is not Ruby: it is kept apart in body,
// with the line it starts on.
type rubyLine struct {
	text, body     string
	line, bodyLine int
}

var heredocRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`<<[~-]?(?:'([A-Za-z_]\w*)'|"([A-Za-z_]\w*)"|([A-Za-z_]\w*))`)
})

func rubyLines(text string) []rubyLine {
	phys := strings.Split(text, "\n")
	var out []rubyLine
	for i := 0; i < len(phys); i++ {
		l := rubyLine{line: i + 1}
		for ; i < len(phys); i++ {
			code := strings.TrimSpace(stripRubyComment(phys[i]))
			l.text = strings.TrimSpace(l.text + " " + code)
			for _, h := range heredocRE().FindAllStringSubmatch(code, -1) {
				term := h[1] + h[2] + h[3]
				var body []string
				for i++; i < len(phys) && strings.TrimSpace(phys[i]) != term; i++ {
					if l.bodyLine == 0 {
						l.bodyLine = i + 1
					}
					body = append(body, phys[i])
				}
				if l.body != "" {
					l.body += "\n"
				}
				l.body += strings.Join(body, "\n")
			}
			if !rubyContinues(l.text) {
				break
			}
		}
		out = append(out, l)
	}
	return out
}

// rubyContinues reports whether a line goes on past its end: an open
// parenthesis or bracket (outside strings), or a trailing comma or
// backslash. Braces are left out: a { ... } block holds statements.
func rubyContinues(s string) bool {
	if strings.HasSuffix(s, ",") || strings.HasSuffix(s, "\\") {
		return true
	}
	depth := 0
	rubyUnquoted(s, func(_ int, ch byte) bool {
		switch ch {
		case '(', '[':
			depth++
		case ')', ']':
			depth--
		}
		return true
	})
	return depth > 0
}

// railsRE are the patterns that read a Rails migration, compiled on first use.
type railsRE struct{ def, opener, call, ident, blockVar *regexp.Regexp }

var railsPatterns = sync.OnceValue(func() *railsRE {
	return &railsRE{
		def: regexp.MustCompile(`^def\s+(?:self\.)?(\w+[?!]?)`),
		// A line that opens a block closed by its own end: do ... end, or a
		// keyword at the start of the line (not a trailing modifier).
		opener:   regexp.MustCompile(`(?:\bdo(?:\s*\|[^|]*\|)?\s*$)|^(?:def|class|module|if|unless|case|begin|while|until|for)\b`),
		call:     regexp.MustCompile(`^(?:(\w+)\.)?(\w+[?!]?)(?:\s*\(|\s+|$)(.*)$`),
		ident:    regexp.MustCompile(`^\w+$`),
		blockVar: regexp.MustCompile(`\|\s*(\w+)\s*\|`),
	}
})

// railsFrame is one open block while reading a file.
type railsFrame struct {
	kind     string // "def", "dir.up", "dir.down", "reversible", "change_table", ""
	name     string // the method's name; change_table's table
	blockVar string // change_table's block variable
}

// railsRead reads the Rails migration at p with content text.
func railsRead(p, text string) railsMigration {
	re := railsPatterns()
	m := railsMigration{Path: p, Version: leadingVersion(path.Base(p))}
	var stack []railsFrame
	method := func() string {
		for i := len(stack) - 1; i >= 0; i-- {
			if stack[i].kind == "def" {
				return stack[i].name
			}
		}
		return ""
	}
	in := func(kind string) *railsFrame {
		for i := len(stack) - 1; i >= 0 && stack[i].kind != "def"; i-- {
			if stack[i].kind == kind {
				return &stack[i]
			}
		}
		return nil
	}
	defs := map[string]bool{}
	hasDirDown := strings.Contains(text, ".down do") || strings.Contains(text, ".down {")
	irreversible := func(what string) {
		if m.Irreversible == "" {
			m.Irreversible = what
		}
	}
	for _, ll := range rubyLines(text) {
		line, i := ll.text, ll.line-1
		if line == "" {
			continue
		}
		// strong_migrations' one-line safety_assured { ... } runs its block.
		if inner, ok := strings.CutPrefix(line, "safety_assured {"); ok && strings.HasSuffix(inner, "}") {
			line = strings.TrimSpace(strings.TrimSuffix(inner, "}"))
		}
		if line == "end" || strings.HasPrefix(line, "end ") || strings.HasPrefix(line, "end.") {
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if g := re.def.FindStringSubmatch(line); g != nil {
			defs[g[1]] = true
			if !strings.HasSuffix(line, " end") {
				stack = append(stack, railsFrame{kind: "def", name: g[1]})
			}
			continue
		}
		opens := re.opener.MatchString(line)
		c := re.call.FindStringSubmatch(line)
		frame := railsFrame{}
		meth := method()
		running := (meth == "change" || meth == "up") && in("dir.down") == nil
		if c != nil {
			recv, name, rest := c[1], c[2], strings.TrimSuffix(strings.TrimSpace(c[3]), " do")
			rest = strings.TrimSuffix(strings.TrimSuffix(rest, ")"), "(")
			if i := strings.Index(rest, " do |"); i >= 0 {
				rest = rest[:i]
			}
			rest = cutModifier(rest)
			pos, opts := rubyArgs(rest)
			reversibleHere := meth != "change" || (in("reversible") != nil && hasDirDown)
			stmt := line
			add := func(rule, table, col, newName string) {
				if running {
					m.Findings = append(m.Findings, Finding{Rule: rule, Table: table, Column: col, NewName: newName, File: p, Line: i + 1, Statement: stmt})
				}
			}
			notReversible := func(why string) {
				if running && !reversibleHere {
					irreversible(why)
				}
			}
			switch {
			case recv == "" && name == "reversible":
				frame.kind = "reversible"
			case recv != "" && (name == "up" || name == "down") && in("reversible") != nil:
				frame.kind = "dir." + name
			case recv == "" && name == "change_table" && len(pos) > 0:
				frame.kind, frame.name = "change_table", pos[0]
				if g := re.blockVar.FindStringSubmatch(line); g != nil {
					frame.blockVar = g[1]
				}
			case recv != "" && in("change_table") != nil && recv == in("change_table").blockVar:
				table := in("change_table").name
				switch name {
				case "remove":
					for _, col := range pos {
						add(RuleDropColumn, table, col, "")
					}
					if _, ok := opts["type"]; !ok && len(pos) > 0 {
						notReversible(fmt.Sprintf("%s.remove without type: in change_table", recv))
					}
				case "rename":
					if len(pos) >= 2 {
						add(RuleRenameColumn, table, pos[0], pos[1])
					}
				case "change":
					if len(pos) >= 2 {
						add(RuleChangeColumnType, table, pos[0], "")
						notReversible(recv + ".change in change_table")
					}
				}
			case recv == "":
				switch name {
				case "remove_column":
					if len(pos) >= 2 {
						add(RuleDropColumn, pos[0], pos[1], "")
						if len(pos) < 3 {
							notReversible("remove_column without a type")
						}
					}
				case "remove_columns":
					for _, col := range pos[min(1, len(pos)):] {
						add(RuleDropColumn, pos[0], col, "")
					}
					if _, ok := opts["type"]; !ok {
						notReversible("remove_columns without type:")
					}
				case "rename_column":
					if len(pos) >= 3 {
						add(RuleRenameColumn, pos[0], pos[1], pos[2])
					}
				case "drop_table":
					if len(pos) >= 1 {
						add(RuleDropTable, pos[0], "", "")
						if !opens {
							notReversible("drop_table without a block of its columns")
						}
					}
				case "rename_table":
					if len(pos) >= 2 {
						add(RuleRenameTable, pos[0], "", pos[1])
					}
				case "change_column":
					if len(pos) >= 3 {
						add(RuleChangeColumnType, pos[0], pos[1], "")
						notReversible("change_column")
					}
				case "change_column_null":
					if len(pos) >= 3 && pos[2] == "false" {
						add(RuleSetNotNull, pos[0], pos[1], "")
					}
				case "add_column":
					_, hasDefault := opts["default"]
					if len(pos) >= 3 && opts["null"] == "false" && !hasDefault {
						add(RuleAddNotNullColumn, pos[0], pos[1], "")
					}
				case "execute", "change_column_default":
					if name == "execute" && running {
						m.addSQL(ll, rest)
					}
					if name == "change_column_default" {
						if _, ok := opts["from"]; ok {
							break
						}
					}
					notReversible(name)
				}
			}
		}
		if opens {
			stack = append(stack, frame)
		}
	}
	m.HasDown = defs["down"]
	switch {
	case m.HasDown:
		m.Irreversible = ""
		if railsRaisesIrreversible(text) {
			m.Irreversible = "its down method raises ActiveRecord::IrreversibleMigration"
		}
	case defs["up"]:
		m.Irreversible = "an up method without a down method"
	case !defs["change"]:
		m.Irreversible = ""
	}
	return m
}

// railsRaisesIrreversible reports whether the file raises
// ActiveRecord::IrreversibleMigration (in its down method, by convention).
func railsRaisesIrreversible(text string) bool {
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(stripRubyComment(l))
		if strings.HasPrefix(l, "raise") && strings.Contains(l, "IrreversibleMigration") {
			return true
		}
	}
	return false
}

// railsDown says how to run the migration down, or "" when Rails cannot.
// step is how many of the failed deploy's Rails migrations, newest first,
// db:rollback must undo to reach this one.
func (m railsMigration) railsDown(step int) string {
	if m.Irreversible != "" {
		return ""
	}
	how := "its down method"
	if !m.HasDown {
		how = "Rails reverses its change method"
	}
	s := fmt.Sprintf("bin/rails db:migrate:down VERSION=%s (%s in %s)", m.Version, how, m.Path)
	if step > 0 {
		s += fmt.Sprintf(", or bin/rails db:rollback STEP=%d to undo the failed deploy's migrations back to it", step)
	}
	return s
}

// rubyUnquoted calls fn with each byte of s outside string literals and
// its offset, until fn returns false.
func rubyUnquoted(s string, fn func(i int, ch byte) bool) {
	var quote byte
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case quote != 0:
			if ch == '\\' {
				i++
			} else if ch == quote {
				quote = 0
			}
		case ch == '"' || ch == '\'':
			quote = ch
		default:
			if !fn(i, ch) {
				return
			}
		}
	}
}

// stripRubyComment drops a # comment, leaving # inside quotes alone.
func stripRubyComment(s string) string {
	out := s
	rubyUnquoted(s, func(i int, ch byte) bool {
		if ch == '#' {
			out = s[:i]
			return false
		}
		return true
	})
	return out
}

// cutModifier drops a trailing if/unless modifier outside quotes and
// brackets: remove_column :users, :email if column_exists?(:users, :email).
func cutModifier(s string) string {
	depth := 0
	out := s
	rubyUnquoted(s, func(i int, ch byte) bool {
		switch ch {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		case ' ':
			if depth == 0 && (strings.HasPrefix(s[i:], " if ") || strings.HasPrefix(s[i:], " unless ")) {
				out = s[:i]
				return false
			}
		}
		return true
	})
	return out
}

// rubyArgs splits a call's arguments at top-level commas into positional
// ones (symbols and strings unquoted) and keyword options (key: value or
// :key => value).
func rubyArgs(s string) (pos []string, opts map[string]string) {
	opts = map[string]string{}
	var parts []string
	depth, start := 0, 0
	rubyUnquoted(s, func(i int, ch byte) bool {
		switch {
		case ch == '(' || ch == '[' || ch == '{':
			depth++
		case ch == ')' || ch == ']' || ch == '}':
			depth--
		case ch == ',' && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
		return true
	})
	parts = append(parts, s[start:])
	for _, a := range parts {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if k, v, ok := strings.Cut(a, "=>"); ok {
			opts[rubyName(k)] = rubyName(v)
			continue
		}
		if k, v, ok := strings.Cut(a, ":"); ok && k != "" && railsPatterns().ident.MatchString(k) && (v == "" || v[0] == ' ') {
			opts[k] = rubyName(v)
			continue
		}
		pos = append(pos, rubyName(a))
	}
	return pos, opts
}

// rubyName is a symbol's or string's name (:users, "users", 'users').
func rubyName(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, ":")
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		s = s[1 : len(s)-1]
	}
	return s
}
