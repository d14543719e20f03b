package migrations

import (
	"context"
	"runtime"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"
)

// Hit is one use of a dropped or renamed name in the deployed code.
type Hit struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Text string `json:"text"`
	// Kind is where the name was found: "sql" (SQL or configuration text),
	// "string" (a string literal: embedded SQL, a struct tag, an ORM column
	// name), "code" (an identifier in a file that also names the table),
	// "field" (the camelCase/PascalCase form of a column, as ORMs derive it).
	Kind string `json:"kind"`
	// Declaration names the ORM declaration the use sits in when it tells
	// the deployed code to ignore the column (Kind "orm-ignored") or that
	// the name is a field stored in another column (Kind "orm-mapped"):
	// not a use.
	Declaration string `json:"declaration,omitempty"`
	// Note qualifies a use (a Django model with managed = False).
	Note string `json:"note,omitempty"`
}

// DefaultCodeExclude leaves out what does not run in production or merely
// describes the schema (tests, vendored code, docs, schema dumps).
var DefaultCodeExclude = []string{
	"**/*_test.go", "**/test/**", "**/tests/**", "**/spec/**", "**/__tests__/**",
	"**/*.test.*", "**/*.spec.*", "**/testdata/**", "**/vendor/**", "**/node_modules/**",
	"**/*.md", "**/*.txt", "**/*.rst", "**/docs/**",
	"**/schema.rb", "**/structure.sql", "**/schema.sql",
}

// target is a name whose uses the deployed code is searched for.
type target struct{ table, column string }

// searchResult is what one search found.
type searchResult struct {
	hits  map[target][]Hit
	files int // candidate files read
}

// maxHitsShown bounds the hits kept per name; the rest are counted.
const maxHitsShown = 20

// searchCode looks for uses of the targets in the code at commit. It asks
// git grep for the files that mention any name as a whole word (at the
// commit, not the work tree), then reads those files and keeps only uses in
// SQL, string literals and identifiers, never in comments or SQL string
// values. A column counts only in files that also name its table (or the
// table's singular), which keeps common column names from drowning the
// report. Table names count only in SQL, configuration and string literals,
// not as identifiers: a variable named users is not a query.
func searchCode(ctx context.Context, r repo, commit string, targets []target, include, exclude []string) (searchResult, error) {
	res := searchResult{hits: map[target][]Hit{}}
	if len(targets) == 0 {
		return res, nil
	}
	needleSet := map[string]bool{}
	for _, t := range targets {
		if t.column != "" {
			needleSet[strings.ToLower(t.column)] = true
			needleSet[camelKey(t.column)] = true
		} else {
			needleSet[strings.ToLower(t.table)] = true
		}
	}
	var needles []string
	for n := range needleSet {
		if n != "" {
			needles = append(needles, n)
		}
	}
	sort.Strings(needles)
	files, err := r.grepFiles(ctx, commit, needles, pathspecs(include, exclude))
	if err != nil {
		return res, err
	}
	var keep []string
	for _, f := range files {
		if !matchAny(exclude, f) {
			keep = append(keep, f)
		}
	}
	contents, err := r.read(ctx, commit, keep)
	if err != nil {
		return res, err
	}
	res.files = len(contents)
	// Lexing is the bulk of the work: one task per file over the cores,
	// each filling its own map, merged afterwards.
	perFile := make([]map[target][]Hit, len(keep))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, f := range keep {
		if src, ok := contents[f]; ok {
			g.Go(func() error {
				perFile[i] = map[target][]Hit{}
				fileHits(f, src, targets, perFile[i])
				return nil
			})
		}
	}
	_ = g.Wait() // the tasks return no error
	for _, part := range perFile {
		for t, hs := range part {
			res.hits[t] = append(res.hits[t], hs...)
		}
	}
	for t, hs := range res.hits {
		sort.Slice(hs, func(i, j int) bool {
			if hs[i].File != hs[j].File {
				return hs[i].File < hs[j].File
			}
			return hs[i].Line < hs[j].Line
		})
		res.hits[t] = hs
	}
	return res, nil
}

// pathspecs turns include and exclude globs into git pathspecs.
func pathspecs(include, exclude []string) []string {
	var out []string
	for _, p := range include {
		p = strings.TrimPrefix(p, "./")
		switch {
		case p == "" || p == ".":
			out = append(out, ":(top)")
		case strings.ContainsAny(p, "*?["):
			out = append(out, ":(top,glob)"+p)
		default:
			out = append(out, ":(top,literal)"+p)
		}
	}
	if len(out) == 0 {
		out = append(out, ":(top)")
	}
	for _, p := range exclude {
		out = append(out, ":(top,exclude,glob)"+strings.TrimPrefix(p, "./"))
	}
	return out
}

// fileHits adds the uses of targets in one file to hits.
func fileHits(file, src string, targets []target, hits map[target][]Hit) {
	l := langFor(file)
	spans := lex(src, l)
	lower := asciiLower(src)
	li := newLineIndex(src)
	kindAt := func(off int, tableName bool) string {
		switch regionAt(spans, off) {
		case regComment, regValue:
			return ""
		case regString:
			return "string"
		}
		if l.textual {
			return "sql"
		}
		if tableName {
			return "" // a program identifier such as a variable named like the table
		}
		return "code"
	}
	mentions := map[string]bool{} // table -> named in this file outside comments
	var decls []ormDecl
	declsRead, unmanaged := false, false
	hitOf := func(off int, kind string) Hit {
		h := hitAt(file, src, li, off, kind)
		if !declsRead {
			decls, declsRead = ormIgnores(src, lower, spans), true
			unmanaged = l == langPy && djangoUnmanaged(lower, spans)
		}
		if d, ok := declAt(decls, off); ok {
			h.Kind, h.Declaration = d.kind, d.what
		} else if unmanaged {
			h.Note = noteDjangoUnmanaged
		}
		return h
	}
	for _, t := range targets {
		if t.column == "" {
			for _, off := range wordOffsets(lower, strings.ToLower(t.table)) {
				if k := kindAt(off, true); k != "" {
					hits[t] = append(hits[t], hitAt(file, src, li, off, k))
				}
			}
			continue
		}
		named, seen := mentions[t.table]
		if !seen {
			named = namesTable(lower, spans, t.table) || djangoTableNamed(file, lower, spans, t.table)
			mentions[t.table] = named
		}
		if !named {
			continue
		}
		lines := map[int]bool{}
		for _, off := range wordOffsets(lower, strings.ToLower(t.column)) {
			if k := kindAt(off, false); k != "" && !lines[li.line(off)] {
				lines[li.line(off)] = true
				hits[t] = append(hits[t], hitOf(off, k))
			}
		}
		if camel := camelKey(t.column); camel != strings.ToLower(t.column) {
			for _, off := range wordOffsets(lower, camel) {
				if k := kindAt(off, false); k != "" && !lines[li.line(off)] {
					lines[li.line(off)] = true
					if k == "code" {
						k = "field"
					}
					hits[t] = append(hits[t], hitOf(off, k))
				}
			}
		}
	}
}

// namesTable reports whether the file names table (or its singular, in any
// case style) outside comments.
func namesTable(lower string, spans []span, table string) bool {
	forms := []string{strings.ToLower(table), camelKey(table)}
	if s := singular(strings.ToLower(table)); s != "" {
		forms = append(forms, s, camelKey(s))
	}
	for _, f := range forms {
		for _, off := range wordOffsets(lower, f) {
			if regionAt(spans, off) != regComment {
				return true
			}
		}
	}
	return false
}

func hitAt(file, src string, li lineIndex, off int, kind string) Hit {
	line := li.line(off)
	start := li[line-1]
	end := strings.IndexByte(src[start:], '\n')
	if end < 0 {
		end = len(src)
	} else {
		end += start
	}
	text := strings.TrimSpace(src[start:end])
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	return Hit{File: file, Line: line, Text: text, Kind: kind}
}

// wordOffsets returns the offsets of word in s where it stands as a whole
// identifier (no letter, digit or underscore on either side).
func wordOffsets(s, word string) []int {
	if word == "" {
		return nil
	}
	var out []int
	for i := 0; ; {
		k := strings.Index(s[i:], word)
		if k < 0 {
			return out
		}
		at := i + k
		end := at + len(word)
		if (at == 0 || !identByte(s[at-1])) && (end == len(s) || !identByte(s[end])) {
			out = append(out, at)
		}
		i = at + 1
	}
}

func identByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b >= 0x80
}

// asciiLower lower-cases ASCII letters only, so offsets stay the same.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// camelKey is the lower-cased camelCase form of a snake_case name
// ("legacy_name" -> "legacyname"), which matches legacyName and LegacyName
// in a case-insensitive search.
func camelKey(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "")
}

// singular guesses the singular of an English table name ("users" -> "user",
// "categories" -> "category"); "" when it has no plural ending.
func singular(name string) string {
	switch {
	case strings.HasSuffix(name, "ies") && len(name) > 3:
		return name[:len(name)-3] + "y"
	case strings.HasSuffix(name, "sses") || strings.HasSuffix(name, "xes") || strings.HasSuffix(name, "ches") || strings.HasSuffix(name, "shes"):
		return name[:len(name)-2]
	case strings.HasSuffix(name, "ss") || strings.HasSuffix(name, "us"):
		return ""
	case strings.HasSuffix(name, "s") && len(name) > 1:
		return name[:len(name)-1]
	}
	return ""
}

// droppedKey is a primary key or unique constraint a migration drops: the
// deployed code uses it in INSERT ... ON CONFLICT (its columns) or ON
// CONFLICT ON CONSTRAINT (its name).
type droppedKey struct {
	name string
	cols []string // nil when the migrations do not say
}

// conflictWords is what the code is searched for when a key is dropped.
const conflictWords = "on conflict"

// searchTarget is what the deployed code is searched for on behalf of a
// finding: its table or column, or the upserts on a dropped key's table.
func searchTarget(fd Finding) target {
	if fd.key != nil {
		return target{fd.Table, conflictWords}
	}
	return target{fd.Table, fd.Column}
}

// usesKey reports whether a line with ON CONFLICT can need the dropped key:
// its conflict target names the key's columns (in any order) or the key;
// a line whose target is elsewhere (or cannot be read on the line) may.
// ON CONFLICT DO NOTHING without a target needs no key.
func (k *droppedKey) usesKey(line string) bool {
	lower := asciiLower(line)
	for _, at := range wordOffsets(lower, conflictWords) {
		rest := strings.TrimSpace(lower[at+len(conflictWords):])
		switch {
		case rest == "":
			return true // the target is on a following line
		case strings.HasPrefix(rest, "on constraint"):
			name := strings.Trim(strings.Fields(rest[len("on constraint"):] + " ")[0], `"`)
			if name == "" || name == strings.ToLower(k.name) {
				return true
			}
		case strings.HasPrefix(rest, "("):
			end := strings.IndexByte(rest, ')')
			if end < 0 || k.cols == nil {
				return true
			}
			if sameColumns(rest[1:end], k.cols) {
				return true
			}
		}
	}
	return false
}

// sameColumns reports whether a conflict target's column list holds the
// same columns as cols.
func sameColumns(list string, cols []string) bool {
	want := map[string]bool{}
	for _, c := range cols {
		want[strings.ToLower(c)] = true
	}
	got := map[string]bool{}
	for _, c := range strings.Split(list, ",") {
		c = strings.Trim(strings.TrimSpace(c), `"`)
		if c == "" || !want[c] {
			return false
		}
		got[c] = true
	}
	return len(got) == len(want)
}
