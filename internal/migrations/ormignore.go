package migrations

import (
	"regexp"
	"strings"
)

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
	{"deprecate_field", "django-deprecate-fields deprecate_field() (the model no longer queries the column)", true},
}

// ormDecl is the span of one declaration in a file.
type ormDecl struct {
	start, end int
	what       string
	kind       string // the hit kind inside it: "orm-ignored" or "orm-mapped"
}

// Hit kinds of mentions inside ORM declarations: not uses of the column.
const (
	kindORMIgnored = "orm-ignored" // the model leaves the column alone
	kindORMMapped  = "orm-mapped"  // the name is a field stored in another column
)

// noteDjangoUnmanaged is said of every use found in a file with a Django
// model declared managed = False: Django creates and migrates nothing for
// it, but its queries read and write the columns all the same.
const noteDjangoUnmanaged = "Django model with managed = False: Django does not migrate its table but still queries its columns"

var (
	// legacy_name = models.TextField(..., db_column="name", ...)
	reDjangoField = regexp.MustCompile(`(?m)^[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*[A-Za-z_][A-Za-z0-9_.]*[ \t]*\(`)
	reDBColumn    = regexp.MustCompile(`^db_column[ \t]*=[ \t]*(?:[rbuRBU]?)["']([^"'\n]+)["']`)
	reManaged     = regexp.MustCompile(`^managed[ \t]*=[ \t]*false\b`)
)

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
			out = append(out, ormDecl{start: start, end: end, what: d.what, kind: kindORMIgnored})
		}
	}
	return append(out, djangoColumns(src, lower, spans)...)
}

// djangoColumns finds Django fields stored in a column of another name
// (db_column="name"): the field's attribute is then not the column, so a
// column named like the attribute is not used by it. The span is the
// attribute's name only; the db_column value stays a use of its column.
func djangoColumns(src, lower string, spans []span) []ormDecl {
	var out []ormDecl
	var fields [][]int // the field declarations, read at the first db_column
	for _, off := range wordOffsets(lower, "db_column") {
		if regionAt(spans, off) != regCode {
			continue
		}
		m := reDBColumn.FindStringSubmatch(src[off:])
		if m == nil {
			continue
		}
		if fields == nil {
			fields = reDjangoField.FindAllStringSubmatchIndex(src, -1)
		}
		// the innermost field declaration whose call's parentheses hold it
		var field []int
		for _, f := range fields {
			if f[1] > off {
				break
			}
			if close := matchBracket(src, f[1]-1); close > off && regionAt(spans, f[2]) == regCode {
				field = f
			}
		}
		if field == nil {
			continue
		}
		if attr := src[field[2]:field[3]]; !strings.EqualFold(attr, m[1]) {
			out = append(out, ormDecl{start: field[2], end: field[3], kind: kindORMMapped,
				what: "Django db_column=\"" + m[1] + "\": the field " + attr + " is stored in column " + m[1]})
		}
	}
	return out
}

// djangoUnmanaged reports whether a Python file declares a Django model
// with managed = False (in its Meta).
func djangoUnmanaged(lower string, spans []span) bool {
	for _, off := range wordOffsets(lower, "managed") {
		if regionAt(spans, off) == regCode && reManaged.MatchString(lower[off:]) {
			return true
		}
	}
	return false
}

// djangoTableNamed reports whether a Python file names table by Django's
// default table name, <app label>_<model name in lower case>: the file sits
// in the app's directory and names the model (class Customer in
// accounts/models.py is table accounts_customer).
func djangoTableNamed(file, lower string, spans []span, table string) bool {
	if langFor(file) != langPy {
		return false
	}
	dirs := strings.Split(file, "/")
	dirs = dirs[:len(dirs)-1]
	for i := strings.IndexByte(table, '_'); i > 0 && i < len(table)-1; {
		app, model := table[:i], table[i+1:]
		if contains(dirs, app) && !strings.Contains(model, "_") {
			for _, off := range wordOffsets(lower, model) {
				if regionAt(spans, off) != regComment {
					return true
				}
			}
		}
		j := strings.IndexByte(table[i+1:], '_')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return false
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

func declAt(decls []ormDecl, off int) (ormDecl, bool) {
	for _, d := range decls {
		if off >= d.start && off < d.end {
			return d, true
		}
	}
	return ormDecl{}, false
}
