// Package pgparse parses SQL with PostgreSQL's own parser (libpg_query) and
// decodes the parts of its parse tree that migration rules look at.
//
// Two builds of the same parser are supported, chosen at build time:
//
//   - cgo (the default when a C compiler is available): libpg_query compiled
//     into the binary through github.com/pganalyze/pg_query_go. A parse takes
//     about a millisecond and a few megabytes.
//   - WebAssembly (CGO_ENABLED=0, or the pmguard_wasm build tag): the same C
//     code compiled to WebAssembly (the module github.com/wasilibs/go-pgquery
//     embeds), run by wazero. It cross-compiles to every target without a C
//     toolchain. The first parse on a machine compiles the module (about 2 s
//     and 250 MB); with UseCacheDir the compiled code is kept on disk and
//     later processes load it.
//
// Both return the tree as libpg_query's JSON, decoded here into plain structs,
// so the large protobuf types of pg_query_go (and their start-up cost) never
// reach the binary. Nothing is initialised until the first Parse.
package pgparse

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Backend names the parser build in use, for reports and benchmarks.
const Backend = backend

// Stmt is one statement of a parsed text.
type Stmt struct {
	Node Node
	// Start and End are byte offsets into the parsed text. Start is where
	// PostgreSQL says the statement begins: just after the previous
	// statement's semicolon, so leading comments belong to it. End is just
	// past its last token (before its semicolon).
	Start, End int
}

// Text returns the statement's source without leading space and comments.
func (s Stmt) Text(src string) string {
	return strings.TrimSpace(StripLeadingComments(src[s.Start:s.End]))
}

// Error is a syntax error reported by PostgreSQL's parser.
type Error struct {
	Message string
	// Offset is the byte offset of the error in the parsed text, -1 if
	// PostgreSQL did not say.
	Offset int
}

func (e *Error) Error() string { return e.Message }

// Parse parses sql and returns its statements in order.
func Parse(sql string) ([]Stmt, error) {
	if i := strings.IndexByte(sql, 0); i >= 0 {
		// libpg_query takes a C string: a NUL would silently cut the text.
		return nil, &Error{Message: "NUL byte in SQL text", Offset: i}
	}
	if !utf8.ValidString(sql) {
		return nil, &Error{Message: "SQL text is not valid UTF-8", Offset: firstInvalidUTF8(sql)}
	}
	out, err := parseJSON(sql)
	if err != nil {
		return nil, err
	}
	var res struct {
		Stmts []struct {
			Stmt     Node `json:"stmt"`
			Location int  `json:"stmt_location"`
			Len      int  `json:"stmt_len"`
		} `json:"stmts"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return nil, fmt.Errorf("decoding the parse tree: %w", err)
	}
	stmts := make([]Stmt, 0, len(res.Stmts))
	for _, r := range res.Stmts {
		start, end := r.Location, r.Location+r.Len
		if r.Len == 0 { // PostgreSQL's convention: the rest of the text
			end = len(sql)
		}
		if start < 0 || start > len(sql) || end < start || end > len(sql) {
			return nil, fmt.Errorf("parse tree: statement location %d+%d outside the text", r.Location, r.Len)
		}
		stmts = append(stmts, Stmt{Node: r.Stmt, Start: start, End: end})
	}
	return stmts, nil
}

// Warm loads the parser so that the first real Parse does not pay for it;
// callers run it in the background while they do other work.
func Warm() { _, _ = parseJSON("SELECT 1") }

// syntaxError is PostgreSQL's error for sql, its 1-based character cursor
// position turned into a byte offset. Both backends report through it.
func syntaxError(sql, message string, cursor int) *Error {
	return &Error{Message: message, Offset: cursorToOffset(sql, cursor)}
}

// cursorToOffset converts PostgreSQL's 1-based character cursor position to
// a byte offset into sql (-1 when unknown).
func cursorToOffset(sql string, cursor int) int {
	if cursor <= 0 {
		return -1
	}
	n := 0
	for i := range sql {
		n++
		if n == cursor {
			return i
		}
	}
	return len(sql)
}

func firstInvalidUTF8(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return i
			}
		}
	}
	return -1
}

// StripLeadingComments removes whitespace and -- or /* */ comments from the
// start of s.
func StripLeadingComments(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n\f")
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		case strings.HasPrefix(s, "/*"):
			depth, i := 0, 0
			for i < len(s) {
				if strings.HasPrefix(s[i:], "/*") {
					depth++
					i += 2
				} else if strings.HasPrefix(s[i:], "*/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
			if depth != 0 {
				return ""
			}
			s = s[i:]
		default:
			return s
		}
	}
}
