package migrations

import (
	"errors"
	"regexp"
	"sort"
	"strings"

	"github.com/pmguard/pmguard/internal/migrations/pgparse"
)

// pg17Commands are the words a statement can begin with in PostgreSQL 17's
// grammar (gram.y's stmt rule). A statement the parser rejects that begins
// with another word is a command the parser does not have, not a typo in a
// known one.
var pg17Commands = map[string]bool{
	"ABORT": true, "ALTER": true, "ANALYZE": true, "ANALYSE": true, "BEGIN": true, "CALL": true,
	"CHECKPOINT": true, "CLOSE": true, "CLUSTER": true, "COMMENT": true, "COMMIT": true, "COPY": true,
	"CREATE": true, "DEALLOCATE": true, "DECLARE": true, "DELETE": true, "DISCARD": true, "DO": true,
	"DROP": true, "END": true, "EXECUTE": true, "EXPLAIN": true, "FETCH": true, "GRANT": true,
	"IMPORT": true, "INSERT": true, "LISTEN": true, "LOAD": true, "LOCK": true, "MERGE": true,
	"MOVE": true, "NOTIFY": true, "PREPARE": true, "REASSIGN": true, "REFRESH": true, "REINDEX": true,
	"RELEASE": true, "RESET": true, "REVOKE": true, "ROLLBACK": true, "SAVEPOINT": true, "SECURITY": true,
	"SELECT": true, "SET": true, "SHOW": true, "START": true, "TABLE": true, "TRUNCATE": true,
	"UNLISTEN": true, "UPDATE": true, "VACUUM": true, "VALUES": true, "WITH": true, "(": true,
}

// newerCommands and newerClauses are syntax added after PostgreSQL 17 that
// the parser rejects, with the version that has it.
var newerCommands = map[string]string{"REPACK": "the REPACK command (PostgreSQL 19)"}

// The clauses are matched where the parser stopped: a column named
// virtual, or NOT before a column named enforced, elsewhere in a statement
// with a plain mistake does not make it newer syntax.
var newerClauses = []struct {
	re   *regexp.Regexp
	what string
}{
	{regexp.MustCompile(`(?i)\bNOT\s+ENFORCED\b`), "NOT ENFORCED constraints (PostgreSQL 18)"},
	{regexp.MustCompile(`(?i)\bVIRTUAL\b`), "virtual generated columns (PostgreSQL 18)"},
	{regexp.MustCompile(`(?i)\bWITHOUT\s+OVERLAPS\b`), "WITHOUT OVERLAPS temporal keys (PostgreSQL 18)"},
	{regexp.MustCompile(`(?i)[(,]\s*PERIOD\s`), "PERIOD temporal foreign keys (PostgreSQL 18)"},
	{regexp.MustCompile(`(?i)\bRETURNING\s+(OLD|NEW)\b`), "RETURNING OLD/NEW (PostgreSQL 18)"},
	// ADD [CONSTRAINT n] NOT NULL col, and CREATE TABLE's (..., NOT NULL col)
	{regexp.MustCompile(`(?i)(\bADD|[(,])\s*(CONSTRAINT\s+("[^"]*"|\S+)\s+)?NOT\s+NULL\b`), "NOT NULL table constraints (PostgreSQL 18)"},
}

// newerSyntax says what a statement the parser rejected is when it is syntax
// newer than the parser's PostgreSQL 17; ok is false for a plain mistake in
// a statement the parser knows. errAt is where in body the parser stopped
// (negative when not known): a newer clause counts when it spans that
// point or ends just before the word there.
func newerSyntax(body string, errAt int) (what string, ok bool) {
	word := strings.ToUpper(strings.TrimRight(strings.Fields(body + " x")[0], ";"))
	if w, found := newerCommands[word]; found {
		return w + " is not in PostgreSQL 17's grammar", true
	}
	if !pg17Commands[word] && !strings.HasPrefix(word, "(") {
		return "no PostgreSQL 17 statement begins with " + word + " (newer syntax, or a mistake)", true
	}
	for _, c := range newerClauses {
		for _, m := range c.re.FindAllStringIndex(body, -1) {
			next := m[1] + len(body[m[1]:]) - len(strings.TrimLeft(body[m[1]:], " \t\r\n"))
			if rest := strings.Fields(body[next:]); len(rest) > 0 {
				next += len(rest[0])
			}
			if errAt < 0 || errAt >= m[0] && errAt <= next {
				return c.what + " is not in PostgreSQL 17's grammar", true
			}
		}
	}
	return "", false
}

// statementAround returns the bounds of the statement holding offset off:
// from just after the previous semicolon to the next one (or the end),
// semicolons inside comments and quotes left alone.
func statementAround(text string, off int) (start, end int) {
	var semis []int
	for _, sp := range lex(text, langSQL) {
		if sp.Region != regCode {
			continue
		}
		for i := sp.Start; i < sp.End; i++ {
			if text[i] == ';' {
				semis = append(semis, i)
			}
		}
	}
	start, end = 0, len(text)
	k := sort.SearchInts(semis, off)
	if k > 0 {
		start = semis[k-1] + 1
	}
	if k < len(semis) {
		end = semis[k]
		if end == off && k+1 < len(semis) { // the error is at the semicolon itself
			end = semis[k+1]
		}
	}
	return start, end
}

// parseKnown parses up, setting aside statements in syntax newer than the
// parser (reported as syntax-unknown-to-parser) so that the rest is still
// checked. Any other syntax error is returned.
func parseKnown(path, up string) ([]pgparse.Stmt, []statement, error) {
	text := up
	var unknown []statement
	li := newLineIndex(up)
	for tries := 0; ; tries++ {
		ps, err := pgparse.Parse(text)
		if err == nil {
			return ps, unknown, nil
		}
		var pe *pgparse.Error
		if !errors.As(err, &pe) || pe.Offset < 0 || tries > 100 {
			return nil, nil, parseError(path, up, err)
		}
		start, end := statementAround(text, pe.Offset)
		raw := text[start:end]
		body := strings.TrimSpace(pgparse.StripLeadingComments(raw))
		first := start + firstTokenOffset(raw)
		what, ok := newerSyntax(body, pe.Offset-first)
		if !ok || body == "" {
			return nil, nil, parseError(path, up, err)
		}
		unknown = append(unknown, statement{
			stmt:    pgparse.Stmt{Start: start, End: first + len(body)},
			line:    li.line(first),
			text:    collapse(body),
			unknown: what + "; PostgreSQL 17's parser says: " + pe.Message,
		})
		text = text[:start] + blank(raw) + text[end:]
	}
}
