package migrations

import (
	"path"
	"sort"
	"strings"
)

// region is what a stretch of source text is, as far as name matching cares.
type region uint8

const (
	regCode    region = iota // program text (identifiers, keywords)
	regString                // a string literal of a programming language
	regComment               // a comment: never a use
	regValue                 // an SQL string literal: data, not a name
)

// span is a stretch of text of one region, [Start, End) in bytes.
type span struct {
	Start, End int
	Region     region
}

// quote is one kind of string literal of a language.
type quote struct {
	open, close string
	multiline   bool // may span lines; otherwise a newline ends it
	backslash   bool // backslash escapes the next byte
	doubled     bool // the closing quote written twice is an escaped quote (SQL)
	// wordStart: the opener counts only where no identifier continues
	// into it (SQL's E'...' after a name, $tag$ inside a name such as a$b$)
	wordStart bool
	// dollar: SQL's dollar quoting, $tag$ ... $tag$ (open is "$", the tag
	// is read at the opener)
	dollar bool
	region region // what its contents are
}

// lang is how a language writes comments and strings, as far as finding
// names in it goes. It is deliberately small: it only has to tell comments
// and string literals from code well enough not to drown users in hits.
type lang struct {
	name        string
	line        []string    // line-comment openers
	block       [][2]string // block-comment delimiters
	nestedBlock bool        // block comments nest (SQL)
	rubyBlock   bool        // =begin ... =end at line starts
	quotes      []quote     // longest opener first
	// textual: code regions are SQL or configuration text, not program
	// identifiers, so a name there is a strong use.
	textual bool
}

var (
	langC = &lang{name: "c-like", line: []string{"//"}, block: [][2]string{{"/*", "*/"}}, quotes: []quote{
		{open: `"`, close: `"`, backslash: true, region: regString},
		{open: `'`, close: `'`, backslash: true, region: regString},
		{open: "`", close: "`", multiline: true, region: regString},
	}}
	langPHP = &lang{name: "php", line: []string{"//", "#"}, block: [][2]string{{"/*", "*/"}}, quotes: langC.quotes}
	langPy  = &lang{name: "python", line: []string{"#"}, quotes: []quote{
		{open: `"""`, close: `"""`, multiline: true, backslash: true, region: regString},
		{open: `'''`, close: `'''`, multiline: true, backslash: true, region: regString},
		{open: `"`, close: `"`, backslash: true, region: regString},
		{open: `'`, close: `'`, backslash: true, region: regString},
	}}
	langRuby = &lang{name: "ruby", line: []string{"#"}, rubyBlock: true, quotes: []quote{
		{open: `"`, close: `"`, multiline: true, backslash: true, region: regString},
		{open: `'`, close: `'`, multiline: true, backslash: true, region: regString},
		{open: "`", close: "`", multiline: true, backslash: true, region: regString},
	}}
	langShell = &lang{name: "shell", line: []string{"#"}, quotes: []quote{
		{open: `"`, close: `"`, multiline: true, backslash: true, region: regString},
		{open: `'`, close: `'`, multiline: true, region: regString},
	}}
	// langSQL is PostgreSQL's lexical structure: standard strings ('' is
	// a quote, a backslash is itself), escape strings E'...' (a backslash
	// escapes), dollar-quoted bodies $tag$...$tag$ (function and DO bodies:
	// code, which no quote or semicolon inside ends), quoted identifiers,
	// -- and nested /* */ comments. It is the one lexer that finds the
	// statement bounds, the pmguard directives and the uses in SQL files.
	langSQL = &lang{name: "sql", line: []string{"--"}, block: [][2]string{{"/*", "*/"}}, nestedBlock: true, textual: true, quotes: []quote{
		{open: `E'`, close: `'`, multiline: true, doubled: true, backslash: true, wordStart: true, region: regValue},
		{open: `e'`, close: `'`, multiline: true, doubled: true, backslash: true, wordStart: true, region: regValue},
		{open: `$`, multiline: true, dollar: true, wordStart: true, region: regString},
		{open: `'`, close: `'`, multiline: true, doubled: true, region: regValue},
		{open: `"`, close: `"`, multiline: true, doubled: true, region: regCode},
	}}
	langHash   = &lang{name: "config", line: []string{"#"}, textual: true}
	langMarkup = &lang{name: "markup", block: [][2]string{{"<!--", "-->"}}, textual: true}
	langPlain  = &lang{name: "text", textual: true}
)

// langFor picks the language of a file from its name.
func langFor(file string) *lang {
	switch strings.ToLower(path.Ext(file)) {
	case ".go", ".java", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".c", ".h", ".cc", ".cpp", ".hpp",
		".cs", ".kt", ".kts", ".scala", ".swift", ".rs", ".dart", ".groovy", ".gradle", ".vue", ".svelte":
		return langC
	case ".php":
		return langPHP
	case ".py", ".pyi":
		return langPy
	case ".rb", ".rake", ".gemspec":
		return langRuby
	case ".sh", ".bash", ".zsh":
		return langShell
	case ".sql", ".pgsql", ".psql":
		return langSQL
	case ".yml", ".yaml", ".toml", ".ini", ".cfg", ".conf", ".properties", ".env":
		return langHash
	case ".xml", ".html", ".htm":
		return langMarkup
	}
	return langPlain
}

// lex splits src into spans of code, strings, comments and SQL values. The
// spans cover src in order without gaps.
func lex(src string, l *lang) []span {
	var out []span
	emit := func(start, end int, r region) {
		if end <= start {
			return
		}
		if n := len(out); n > 0 && out[n-1].Region == r && out[n-1].End == start {
			out[n-1].End = end
			return
		}
		out = append(out, span{start, end, r})
	}
	codeStart := 0
	i := 0
	lineStart := true
	for i < len(src) {
		if l.rubyBlock && lineStart && strings.HasPrefix(src[i:], "=begin") {
			end := strings.Index(src[i:], "\n=end")
			if end < 0 {
				end = len(src)
			} else {
				end = i + end + len("\n=end")
				if nl := strings.IndexByte(src[end:], '\n'); nl >= 0 {
					end += nl
				} else {
					end = len(src)
				}
			}
			emit(codeStart, i, regCode)
			emit(i, end, regComment)
			i, codeStart = end, end
			continue
		}
		if end, ok := l.comment(src, i); ok {
			emit(codeStart, i, regCode)
			emit(i, end, regComment)
			i, codeStart = end, end
			lineStart = end > 0 && src[end-1] == '\n'
			continue
		}
		if q, ok := l.quoteAt(src, i); ok {
			end := q.end(src, i)
			emit(codeStart, i, regCode)
			emit(i, end, q.region)
			i, codeStart = end, end
			lineStart = false
			continue
		}
		lineStart = src[i] == '\n'
		i++
	}
	emit(codeStart, len(src), regCode)
	return out
}

// comment reports whether a comment starts at i and where it ends.
func (l *lang) comment(src string, i int) (int, bool) {
	for _, m := range l.line {
		if strings.HasPrefix(src[i:], m) {
			if nl := strings.IndexByte(src[i:], '\n'); nl >= 0 {
				return i + nl, true
			}
			return len(src), true
		}
	}
	for _, b := range l.block {
		if !strings.HasPrefix(src[i:], b[0]) {
			continue
		}
		depth := 1
		j := i + len(b[0])
		for j < len(src) {
			switch {
			case strings.HasPrefix(src[j:], b[1]):
				depth--
				j += len(b[1])
				if depth == 0 || !l.nestedBlock {
					return j, true
				}
			case l.nestedBlock && strings.HasPrefix(src[j:], b[0]):
				depth++
				j += len(b[0])
			default:
				j++
			}
		}
		return len(src), true
	}
	return 0, false
}

func (l *lang) quoteAt(src string, i int) (quote, bool) {
	for _, q := range l.quotes {
		if !strings.HasPrefix(src[i:], q.open) || q.wordStart && i > 0 && sqlIdentByte(src[i-1]) {
			continue
		}
		if q.dollar {
			tag := dollarTag(src, i)
			if tag == "" {
				continue // $1, or a $ in a name
			}
			q.open, q.close = tag, tag
		}
		return q, true
	}
	return quote{}, false
}

// sqlIdentByte reports whether b can continue an SQL identifier.
func sqlIdentByte(b byte) bool { return b == '$' || identByte(b) }

// dollarTag returns the $tag$ that opens a dollar-quoted string at i in
// src ("$$", "$fn$"), "" when none does: the tag is an identifier without
// $, not starting with a digit ($1 is a parameter).
func dollarTag(src string, i int) string {
	if i >= len(src) || src[i] != '$' {
		return ""
	}
	for j := i + 1; j < len(src); j++ {
		c := src[j]
		switch {
		case c == '$':
			return src[i : j+1]
		case c >= '0' && c <= '9' && j == i+1, !identByte(c):
			return ""
		}
	}
	return ""
}

// end returns where the literal opened at i ends (just past its closing
// quote, at the newline that ends an unterminated one-line literal, or at
// the end of src).
func (q quote) end(src string, i int) int {
	j := i + len(q.open)
	for j < len(src) {
		switch {
		case q.backslash && src[j] == '\\':
			j += 2
		case strings.HasPrefix(src[j:], q.close):
			j += len(q.close)
			if q.doubled && strings.HasPrefix(src[j:], q.close) {
				j += len(q.close)
				continue
			}
			return j
		case src[j] == '\n' && !q.multiline:
			return j
		default:
			j++
		}
	}
	return len(src)
}

// regionAt returns the region of byte offset off in spans.
func regionAt(spans []span, off int) region {
	k := sort.Search(len(spans), func(k int) bool { return spans[k].End > off })
	if k < len(spans) && spans[k].Start <= off {
		return spans[k].Region
	}
	return regCode
}
