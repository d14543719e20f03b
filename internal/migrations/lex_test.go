package migrations

import (
	"strings"
	"testing"
)

// regionOf returns the region of the first occurrence of needle in src.
func regionOf(t *testing.T, src, file, needle string) region {
	t.Helper()
	i := strings.Index(src, needle)
	if i < 0 {
		t.Fatalf("%q not in source", needle)
	}
	return regionAt(lex(src, langFor(file)), i)
}

func TestLexRegions(t *testing.T) {
	cases := []struct {
		file, src, needle string
		want              region
	}{
		{"a.go", "x := 1 // legacy here\n", "legacy", regComment},
		{"a.go", "/* legacy\n */ y", "legacy", regComment},
		{"a.go", "q := `SELECT legacy\nFROM users`", "legacy", regString},
		{"a.go", `q := "a \" legacy"`, "legacy", regString},
		{"a.go", `s := "http://x" + legacy`, "legacy", regCode},
		{"a.py", "# legacy\nx = 1", "legacy", regComment},
		{"a.py", "q = \"\"\"\nSELECT legacy\n\"\"\"", "legacy", regString},
		{"a.py", "q = 'it''s' ; legacy", "legacy", regCode},
		{"a.rb", "=begin\nlegacy\n=end\nx", "legacy", regComment},
		{"a.rb", "user.legacy # note", "legacy", regCode},
		{"a.sql", "SELECT legacy FROM t -- x", "legacy", regCode},
		{"a.sql", "SELECT 'legacy' FROM t", "legacy", regValue},
		{"a.sql", "SELECT 'it''s', legacy FROM t", "legacy", regCode},
		{"a.sql", `SELECT "legacy" FROM t`, "legacy", regCode},
		{"a.sql", "/* a /* nested */ legacy */ SELECT 1", "legacy", regComment},
		{"a.sql", "/* a /* nested */ */ legacy", "legacy", regCode},
		// dollar quotes: a body of code, which quotes and semicolons do not end
		{"a.sql", "SELECT $$ it's; legacy $$", "legacy", regString},
		{"a.sql", "SELECT $fn$ a $$ b $$ legacy $fn$", "legacy", regString},
		{"a.sql", "SELECT $fn$ it's $fn$, legacy", "legacy", regCode},
		{"a.sql", "SELECT a$b$ FROM t WHERE legacy $b$", "legacy", regCode},
		{"a.sql", "SELECT $1, legacy FROM t WHERE x = '$$'", "legacy", regCode},
		// E'' strings escape with a backslash; standard strings do not
		{"a.sql", `SELECT E'O\'Brien', legacy`, "legacy", regCode},
		{"a.sql", `SELECT e'O\'Brien legacy'`, "legacy", regValue},
		{"a.sql", `SELECT E'it''s legacy'`, "legacy", regValue},
		{"a.sql", `SELECT 'a\', legacy`, "legacy", regCode},
		{"a.sql", `SELECT "it's", legacy`, "legacy", regCode},
		{"a.yml", "# legacy\ncolumn: x", "legacy", regComment},
		{"a.yml", "column: legacy", "legacy", regCode},
		{"a.xml", "<!-- legacy --><col>x</col>", "legacy", regComment},
		{"a.ts", "const s = 'unterminated\nlegacy", "legacy", regCode},
	}
	for _, c := range cases {
		if got := regionOf(t, c.src, c.file, c.needle); got != c.want {
			t.Errorf("%s %q: region %d, want %d", c.file, c.src, got, c.want)
		}
	}
}

func checkSpans(t *testing.T, src string, spans []span) {
	pos := 0
	for _, s := range spans {
		if s.Start != pos || s.End <= s.Start || s.End > len(src) {
			t.Fatalf("spans %+v do not cover %q in order", spans, src)
		}
		pos = s.End
	}
	if pos != len(src) {
		t.Fatalf("spans end at %d of %d", pos, len(src))
	}
}

func FuzzLex(f *testing.F) {
	for _, s := range []string{"", "--", "/*", "/* /* */", "'", "\"\"\"", "=begin\n", "a // b\n'c'", "$$ 'x' $$", "`\\", "E'\\''"} {
		f.Add(s)
	}
	files := []string{"a.go", "a.py", "a.rb", "a.sql", "a.yml", "a.xml", "a.txt", "a.php", "a.sh"}
	f.Fuzz(func(t *testing.T, src string) {
		for _, file := range files {
			spans := lex(src, langFor(file))
			checkSpans(t, src, spans)
			for _, s := range spans {
				if s.Region == regComment {
					text := src[s.Start:s.End]
					if !strings.HasPrefix(text, "//") && !strings.HasPrefix(text, "/*") && !strings.HasPrefix(text, "#") &&
						!strings.HasPrefix(text, "--") && !strings.HasPrefix(text, "=begin") && !strings.HasPrefix(text, "<!--") {
						t.Fatalf("%s: comment span %q does not start with a comment marker", file, text)
					}
				}
			}
		}
	})
}
