package migrations

import (
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Format is the migration tool layout a file was read as.
type Format string

const (
	FormatGolangMigrate Format = "golang-migrate"
	FormatFlyway        Format = "flyway"
	FormatDbmate        Format = "dbmate"
	FormatGoose         Format = "goose"
	FormatPlain         Format = "plain"
)

// txMode is how the migration tool runs a file's statements.
type txMode int

const (
	txNone   txMode = iota // one statement at a time, no transaction around them
	txWhole                // the whole up section in one transaction
	txIfMany               // one transaction when the file holds more than one statement
)

// Migration is one migration file as the tool would run it.
type Migration struct {
	Path    string // slash-separated, relative to the repository root
	Format  Format
	Version string // as written in the name ("" when the name has none)
	// Up is the text run when migrating up: the file with every other
	// section (down migrations) blanked out byte for byte, so offsets and
	// line numbers are the file's own.
	Up     string
	tx     txMode
	txFix  string // how to run it outside a transaction with this tool
	Status string // "added" or "changed" between base and head
	// Skipped says why the file is not checked ("down migration").
	Skipped string
	order   versionKey
}

// layoutPatterns are the regular expressions that recognise migration
// layouts. They are compiled on first use, not at start-up, so that other
// verbs do not pay for them.
type layoutPatterns struct {
	flyway, leadingDigit, gooseUp, gooseDown, gooseNoTx, dbmateUp, dbmateDown, dbmateNoTx *regexp.Regexp
}

var patterns = sync.OnceValue(func() *layoutPatterns {
	return &layoutPatterns{
		flyway:       regexp.MustCompile(`^([VUR])([0-9][0-9._]*)?__.*\.sql$`),
		leadingDigit: regexp.MustCompile(`^([0-9]+(?:[._][0-9]+)*)`),
		gooseUp:      regexp.MustCompile(`(?m)^[ \t]*--[ \t]*\+goose[ \t]+[Uu]p\b.*$`),
		gooseDown:    regexp.MustCompile(`(?m)^[ \t]*--[ \t]*\+goose[ \t]+[Dd]own\b.*$`),
		gooseNoTx:    regexp.MustCompile(`(?m)^[ \t]*--[ \t]*\+goose[ \t]+NO[ \t]+TRANSACTION\b`),
		dbmateUp:     regexp.MustCompile(`(?m)^[ \t]*--[ \t]*migrate:up\b(.*)$`),
		dbmateDown:   regexp.MustCompile(`(?m)^[ \t]*--[ \t]*migrate:down\b.*$`),
		dbmateNoTx:   regexp.MustCompile(`\btransaction:false\b`),
	}
})

// ReadMigration works out the layout of the file at p with content text:
// its version, which part runs on migrate up, and how its tool wraps it in
// transactions.
func ReadMigration(p, text string) Migration {
	// A UTF-8 byte order mark is no SQL: it is blanked (three spaces keep
	// the offsets the file's own), as the layouts and the parser read on.
	if rest, ok := strings.CutPrefix(text, "\ufeff"); ok {
		text = "   " + rest
	}
	m := Migration{Path: p, Up: text}
	re := patterns()
	base := path.Base(p)
	lower := strings.ToLower(base)
	switch {
	case strings.HasSuffix(lower, ".down.sql"):
		m.Format, m.Skipped = FormatGolangMigrate, "down migration"
		m.Version = leadingVersion(base)
	case strings.HasSuffix(lower, ".up.sql"):
		m.Format, m.tx = FormatGolangMigrate, txIfMany
		m.txFix = "golang-migrate sends a file to PostgreSQL in one piece, which runs it as one transaction: put this statement alone in its own migration file"
		m.Version = leadingVersion(base)
	case re.flyway.MatchString(base):
		g := re.flyway.FindStringSubmatch(base)
		m.Format, m.tx = FormatFlyway, txIfMany
		m.txFix = "Flyway runs a migration outside a transaction only when all its statements need it: put this statement alone in its own migration"
		switch g[1] {
		case "V":
			m.Version = g[2]
		case "U":
			m.Skipped, m.tx = "undo migration", txNone
			m.Version = g[2]
		case "R":
			m.Version = "R" // repeatable: runs after the versioned ones
		}
	default:
		m.Version = leadingVersion(base)
		switch {
		case re.gooseUp.MatchString(text):
			m.Format, m.tx = FormatGoose, txWhole
			m.txFix = "add the line `-- +goose NO TRANSACTION` to the file"
			if re.gooseNoTx.MatchString(text) {
				m.tx = txNone
			}
			m.Up = keepSection(text, re.gooseUp, re.gooseDown)
		case re.dbmateUp.MatchString(text):
			m.Format, m.tx = FormatDbmate, txWhole
			m.txFix = "write the up marker as `-- migrate:up transaction:false`"
			if g := re.dbmateUp.FindStringSubmatch(text); re.dbmateNoTx.MatchString(g[1]) {
				m.tx = txNone
			}
			m.Up = keepSection(text, re.dbmateUp, re.dbmateDown)
		default:
			m.Format = FormatPlain
		}
	}
	m.order = parseVersion(m.Version)
	return m
}

// FormatLabel describes how the file was read, for reports.
func (m Migration) FormatLabel() string {
	switch m.Format {
	case FormatGolangMigrate:
		if m.Skipped != "" {
			return "golang-migrate (down, skipped)"
		}
		return "golang-migrate (up file)"
	case FormatFlyway:
		switch {
		case m.Skipped != "":
			return "Flyway (undo, skipped)"
		case m.Version == "R":
			return "Flyway (repeatable)"
		}
		return "Flyway (versioned)"
	case FormatGoose:
		return "goose (-- +goose Up section)"
	case FormatDbmate:
		return "dbmate (-- migrate:up section)"
	}
	return "plain SQL (whole file)"
}

func leadingVersion(base string) string {
	return patterns().leadingDigit.FindString(base)
}

// keepSection blanks every byte of text outside the section that starts at
// a line matching up and ends at the next line matching down (or the end),
// keeping newlines so that offsets and line numbers do not move.
func keepSection(text string, up, down *regexp.Regexp) string {
	b := []byte(text)
	loc := up.FindStringIndex(text)
	if loc == nil {
		return blank(text)
	}
	start := loc[0]
	end := len(text)
	if d := down.FindStringIndex(text[loc[1]:]); d != nil {
		end = loc[1] + d[0]
	}
	for i := range b {
		if (i < start || i >= end) && b[i] != '\n' {
			b[i] = ' '
		}
	}
	return string(b)
}

func blank(text string) string {
	b := []byte(text)
	for i := range b {
		if b[i] != '\n' {
			b[i] = ' '
		}
	}
	return string(b)
}

// versionKey orders migrations the way their tools do: numerically part by
// part (1.10 after 1.9, 20240101 after 9), repeatable Flyway ones last, files
// without a version after those with one.
type versionKey struct {
	rank  int // 0 versioned, 1 repeatable, 2 none
	parts []uint64
	text  string
}

func parseVersion(v string) versionKey {
	switch v {
	case "":
		return versionKey{rank: 2}
	case "R":
		return versionKey{rank: 1}
	}
	k := versionKey{text: v}
	for _, p := range strings.FieldsFunc(v, func(r rune) bool { return r == '.' || r == '_' }) {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			n = ^uint64(0)
		}
		k.parts = append(k.parts, n)
	}
	return k
}

func (a versionKey) compare(b versionKey) int {
	if a.rank != b.rank {
		return a.rank - b.rank
	}
	for i := 0; i < len(a.parts) && i < len(b.parts); i++ {
		switch {
		case a.parts[i] < b.parts[i]:
			return -1
		case a.parts[i] > b.parts[i]:
			return 1
		}
	}
	switch {
	case len(a.parts) < len(b.parts):
		return -1
	case len(a.parts) > len(b.parts):
		return 1
	}
	return strings.Compare(a.text, b.text)
}

// lessMigration orders migrations by version, then path.
func lessMigration(a, b Migration) bool {
	if c := a.order.compare(b.order); c != 0 {
		return c < 0
	}
	return a.Path < b.Path
}

// matchGlob reports whether the slash-separated path p matches pattern,
// where * and ? match within one path segment (as path.Match) and a **
// segment matches any number of segments, none included.
func matchGlob(pattern, p string) bool {
	pattern = strings.TrimPrefix(path.Clean("/"+pattern), "/")
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	return matchSegs(strings.Split(pattern, "/"), strings.Split(p, "/"))
}

func matchSegs(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for len(pat) > 1 && pat[1] == "**" {
				pat = pat[1:]
			}
			if len(pat) == 1 {
				return true
			}
			for i := 0; i <= len(segs); i++ {
				if matchSegs(pat[1:], segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		ok, err := path.Match(pat[0], segs[0])
		if err != nil || !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}

// matchAny reports whether p matches one of patterns.
func matchAny(patterns []string, p string) bool {
	for _, pat := range patterns {
		if matchGlob(pat, p) {
			return true
		}
	}
	return false
}

// ValidGlob reports whether pattern is a well-formed migrations glob: each
// segment as path.Match reads it, ** included.
func ValidGlob(pattern string) bool {
	for _, seg := range strings.Split(pattern, "/") {
		if _, err := path.Match(seg, ""); err != nil {
			return false
		}
	}
	return true
}
