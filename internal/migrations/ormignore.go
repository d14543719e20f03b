package migrations

import "strings"

// An ORM declaration that tells the deployed code to leave a column alone
// is the first step of the safe drop (strong_migrations' recipe): a column
// named only there is not used. These are the declarations recognised.
var ormIgnoreDecls = []struct {
	word string // as it appears in code, lower-cased
	what string
	call bool // extent is the call's parentheses (or the line)
}{
	{"ignored_columns", "Rails ignored_columns", false},
	{"exclude_properties", "SQLAlchemy __mapper_args__ exclude_properties", false},
	{"deferred", "SQLAlchemy deferred() (not loaded unless the attribute is read)", true},
}

// ormDecl is the span of one declaration in a file.
type ormDecl struct {
	start, end int
	what       string
}

// ormIgnores finds the ignore declarations in a file's code (not in its
// comments or strings). Each covers from its name to the matching bracket
// of the list or call that follows on the same line, or to the line's end.
func ormIgnores(src, lower string, spans []span) []ormDecl {
	var out []ormDecl
	for _, d := range ormIgnoreDecls {
		for _, off := range wordOffsets(lower, d.word) {
			if r := regionAt(spans, off); r == regComment || r == regValue {
				continue
			}
			end := strings.IndexByte(src[off:], '\n')
			if end < 0 {
				end = len(src)
			} else {
				end += off
			}
			// deferred=True on mapped_column covers its line; deferred( its call
			if d.call && !strings.HasPrefix(strings.TrimLeft(src[off+len(d.word):], " "), "(") &&
				!strings.HasPrefix(strings.TrimLeft(src[off+len(d.word):], " "), "=") {
				continue
			}
			if i := strings.IndexAny(src[off:end], "[(%"); i >= 0 {
				open := off + i
				if src[open] == '%' { // %w[...] / %i[...]
					if j := strings.IndexAny(src[open:end], "[({"); j >= 0 {
						open += j
					}
				}
				if close := matchBracket(src, open); close > 0 {
					end = close
				}
			}
			start := off
			if d.call { // the attribute named before it on the line: legacy_name = deferred(...)
				start = strings.LastIndexByte(src[:off], '\n') + 1
			}
			out = append(out, ormDecl{start: start, end: end, what: d.what})
		}
	}
	return out
}

// matchBracket returns the offset just past the bracket closing the one at
// open, 0 when it is not closed.
func matchBracket(src string, open int) int {
	pairs := map[byte]byte{'[': ']', '(': ')', '{': '}'}
	want, ok := pairs[src[open]]
	if !ok {
		return 0
	}
	depth := 0
	for i := open; i < len(src); i++ {
		switch src[i] {
		case src[open]:
			depth++
		case want:
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return 0
}

func declAt(decls []ormDecl, off int) string {
	for _, d := range decls {
		if off >= d.start && off < d.end {
			return d.what
		}
	}
	return ""
}
