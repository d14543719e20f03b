package migrations

import (
	"strings"
	"testing"
)

func TestParseDirective(t *testing.T) {
	cases := []struct {
		body      string
		rules     string
		reason    string
		errSubstr string
	}{
		{" pmguard:allow drop-column  unused   since v1.4 ", "drop-column", "unused since v1.4", ""},
		{"pmguard:allow drop-column,rename-column moved in v2", "drop-column,rename-column", "moved in v2", ""},
		{"pmguard:allow\tdrop-table\tgone", "drop-table", "gone", ""},
		{"just a comment about pmguard:allow", "", "", ""},
		{"pmguard:allow drop-column", "", "", "has no reason"},
		{"pmguard:ignore drop-column:", "", "", "has no reason: a suppression must say why"},
		{"pmguard:ignore set-not-null: users has 30 rows", "set-not-null", "users has 30 rows", ""},
		{"pmguard:ignore set-not-null,lock-timeout:tiny table", "set-not-null,lock-timeout", "tiny table", ""},
		{"pmguard:allow", "", "", "needs a rule id"},
		{"pmguard:allow drop-colum typo", "", "", `unknown rule "drop-colum"`},
		{"pmguard:skip drop-column x", "", "", `unknown directive "pmguard:skip"`},
	}
	for _, c := range cases {
		o, err := parseDirective(c.body)
		switch {
		case c.errSubstr != "":
			if err == nil || !strings.Contains(err.Error(), c.errSubstr) {
				t.Errorf("%q: error %v, want one containing %q", c.body, err, c.errSubstr)
			}
		case c.rules == "":
			if o != nil || err != nil {
				t.Errorf("%q: got %+v %v, want nothing", c.body, o, err)
			}
		default:
			if err != nil || o == nil || strings.Join(o.Rules, ",") != c.rules || o.Reason != c.reason {
				t.Errorf("%q: got %+v %v", c.body, o, err)
			}
		}
	}
}

func TestOverridesAttachToTheirStatement(t *testing.T) {
	sql := `SET lock_timeout = '5s';
-- pmguard:allow drop-column nothing reads it since v3.2
ALTER TABLE users DROP COLUMN legacy_name;
CREATE INDEX users_a ON users (a); -- pmguard:allow index-without-concurrently users_a is tiny
CREATE INDEX users_b ON users (b);
/* a block comment
 * pmguard:allow truncate sessions are disposable
 */
TRUNCATE sessions;
ALTER TABLE users DROP COLUMN other; -- pmguard:allow rename-column wrong rule
`
	fs := analyze(t, "db/migrations/1.sql", sql, 13)
	allowed := map[string]string{}
	for _, f := range fs {
		allowed[f.Where()+" "+f.Rule] = f.Allowed
	}
	want := map[string]string{
		"db/migrations/1.sql:3 drop-column":                "nothing reads it since v3.2",
		"db/migrations/1.sql:4 index-without-concurrently": "users_a is tiny",
		"db/migrations/1.sql:5 index-without-concurrently": "",
		"db/migrations/1.sql:9 truncate":                   "sessions are disposable",
		"db/migrations/1.sql:10 drop-column":               "",
	}
	for k, v := range want {
		got, ok := allowed[k]
		if !ok || got != v {
			t.Errorf("%s: allowed %q (found %v), want %q", k, got, ok, v)
		}
	}
	m := ReadMigration("db/migrations/1.sql", sql)
	stmts, _ := parseFile(m.Path, m.Up)
	a := newAnalyzer(13)
	pf := &parsedFile{Migration: &m, stmts: stmts}
	a.file(pf)
	applyOverrides(a.findings)
	unused := unusedOverrides([]*parsedFile{pf})
	if len(unused) != 1 || !strings.Contains(unused[0], "1.sql:10: pmguard:allow rename-column") {
		t.Errorf("unused overrides %v", unused)
	}
}

func TestOverrideErrorsNameFileAndLine(t *testing.T) {
	_, errs := parseFile("db/m.sql", "SELECT 1;\n\n-- pmguard:allow drop-column\nALTER TABLE t DROP COLUMN c;\n")
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "db/m.sql:3: ") || !strings.Contains(errs[0].Error(), "has no reason") {
		t.Fatalf("errors %v", errs)
	}
}

func FuzzOverride(f *testing.F) {
	for _, s := range []string{"pmguard:allow drop-column reason", "pmguard:allow", "pmguard:", "pmguard:allow ,, x", "pmguard:allow drop-column,truncate  a\tb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		o, err := parseDirective(body)
		if o == nil {
			return
		}
		if err != nil {
			t.Fatalf("both an override and an error: %+v %v", o, err)
		}
		if len(o.Rules) == 0 || o.Reason == "" {
			t.Fatalf("override without rule or reason: %+v", o)
		}
		for _, r := range o.Rules {
			if _, ok := ruleByID(r); !ok {
				t.Fatalf("unknown rule %q accepted", r)
			}
		}
		for _, w := range strings.Fields(o.Reason) {
			if !strings.Contains(body, w) {
				t.Fatalf("reason word %q not in the comment", w)
			}
		}
		// and through the whole path: a directive on a statement never panics
		_, _ = parseFile("f.sql", "-- "+strings.ReplaceAll(body, "\n", " ")+"\nSELECT 1;")
	})
}

// A directive counts only in a comment: not in a string of any kind (an
// E'...' string escapes its quote with a backslash, a dollar-quoted body holds
// comments of its own), and strings before it do not hide it.
func TestDirectivesOutsideStringsOnly(t *testing.T) {
	sql := `SET lock_timeout = '5s';
UPDATE users SET name = E'O\'Brien' WHERE id = 1;
-- pmguard:ignore drop-column: unused since v3
ALTER TABLE users DROP COLUMN email;
COMMENT ON TABLE users IS $$Don't touch$$;
-- pmguard:ignore drop-column: unused since v4
ALTER TABLE users DROP COLUMN phone;
SELECT E'\''; ALTER TABLE users DROP COLUMN name; SELECT '-- pmguard:ignore drop-column: sneaky';
CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  -- pmguard:ignore everything: a comment of the function's
  NULL;
END
$fn$;
`
	fs := analyze(t, "db/migrations/1.sql", sql, 13)
	allowed := map[string]string{}
	for _, f := range fs {
		if f.Rule == RuleDropColumn {
			allowed[f.Column] = f.Allowed
		}
	}
	if allowed["email"] != "unused since v3" || allowed["phone"] != "unused since v4" {
		t.Errorf("directives after E'' and $$ strings were not read: %v", allowed)
	}
	if got, ok := allowed["name"]; !ok || got != "" {
		t.Errorf("a directive inside a string was read: %q (found %v)", got, ok)
	}
}

// Accepting a statement newer than the parser sets aside that statement
// only: its bounds are found past dollar quotes and E'...' strings.
func TestNewerSyntaxBoundsPastStrings(t *testing.T) {
	for _, before := range []string{
		"COMMENT ON TABLE users IS $$Don't touch; really$$;",
		"UPDATE users SET name = E'O\\'Brien; the elder' WHERE id = 1;",
	} {
		sql := "-- pmguard:ignore syntax-unknown-to-parser: production runs PostgreSQL 18\n" + before + `
ALTER TABLE users DROP COLUMN name;
ALTER TABLE users ADD CONSTRAINT age_pos CHECK (age > 0) NOT ENFORCED;
`
		fs := analyze(t, "db/migrations/1.sql", sql, 13)
		var unknown, drop *Finding
		for i := range fs {
			switch fs[i].Rule {
			case RuleSyntaxUnknown:
				unknown = &fs[i]
			case RuleDropColumn:
				drop = &fs[i]
			}
		}
		if unknown == nil || unknown.Line != 4 || unknown.Statement != "ALTER TABLE users ADD CONSTRAINT age_pos CHECK (age > 0) NOT ENFORCED" {
			t.Errorf("after %s: unknown statement %+v", before, unknown)
		}
		if drop == nil || drop.Line != 3 || drop.Allowed != "" {
			t.Errorf("after %s: the DROP COLUMN was not checked on its own: %+v", before, drop)
		}
	}
}

// A directive after the last statement applies to none: it is listed with
// the directives that suppressed nothing.
func TestDirectiveAfterTheLastStatement(t *testing.T) {
	sql := "SET lock_timeout = '5s';\nALTER TABLE users DROP COLUMN name;\n-- pmguard:ignore drop-column: trailing, on its own line\n"
	m := ReadMigration("db/migrations/1.sql", sql)
	stmts, errs := parseFile(m.Path, m.Up)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	a := newAnalyzer(13)
	pf := &parsedFile{Migration: &m, stmts: stmts}
	a.file(pf)
	applyOverrides(a.findings)
	if len(a.findings) != 1 || a.findings[0].Allowed != "" {
		t.Errorf("findings %+v", a.findings)
	}
	unused := unusedOverrides([]*parsedFile{pf})
	if len(unused) != 1 || unused[0] != "db/migrations/1.sql:3: pmguard:ignore drop-column follows the last statement: it applies to none" {
		t.Errorf("unused overrides %q", unused)
	}
}
