package migrations

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// fixture is one file of testdata/rules: SQL with a header saying what the
// rules must find in it.
type fixture struct {
	name    string
	file    string // the migration's file name (decides its layout)
	pg      int
	expect  []string
	content string
	base    string // "-- base:" lines: migrations already deployed, replayed first
}

var reHeader = regexp.MustCompile(`(?m)^-- (expect|postgres|file|base):(.*)$`)

func loadFixtures(t *testing.T) []fixture {
	t.Helper()
	paths, err := filepath.Glob("testdata/rules/*.sql")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	var out []fixture
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fx := fixture{name: filepath.Base(p), file: "db/migrations/fixture.sql", pg: 13, content: string(b)}
		seenExpect := false
		for _, m := range reHeader.FindAllStringSubmatch(fx.content, -1) {
			v := strings.TrimSpace(m[2])
			switch m[1] {
			case "expect":
				seenExpect = true
				fx.expect = strings.Fields(v)
			case "postgres":
				fx.pg, _ = strconv.Atoi(v)
			case "file":
				fx.file = "db/migrations/" + v
			case "base":
				fx.base += v + "\n"
			}
		}
		if !seenExpect {
			t.Fatalf("%s has no -- expect: line", p)
		}
		out = append(out, fx)
	}
	return out
}

// analyze runs the rules over one migration file.
func analyze(t *testing.T, file, content string, pg int) []Finding {
	t.Helper()
	return analyzeOn(t, "", file, content, pg)
}

// analyzeOn runs the rules over one migration file after replaying base
// (plain SQL, the deployed migrations) into the schema.
func analyzeOn(t *testing.T, base, file, content string, pg int) []Finding {
	t.Helper()
	a := newAnalyzer(pg)
	if base != "" {
		bm := ReadMigration("db/migrations/0000_base.sql", base)
		bs, errs := parseFile(bm.Path, bm.Up)
		if len(errs) > 0 {
			t.Fatalf("base: %v", errs)
		}
		a.replay([]*parsedFile{{Migration: &bm, stmts: bs}})
	}
	m := ReadMigration(file, content)
	stmts, errs := parseFile(file, m.Up)
	if len(errs) > 0 {
		t.Fatalf("%s: %v", file, errs)
	}
	a.file(&parsedFile{Migration: &m, stmts: stmts})
	applyOverrides(a.findings)
	return a.findings
}

func ruleSet(fs []Finding) []string {
	set := map[string]bool{}
	for _, f := range fs {
		set[f.Rule] = true
	}
	var out []string
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

func TestRuleFixtures(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			got := ruleSet(analyzeOn(t, fx.base, fx.file, fx.content, fx.pg))
			want := append([]string(nil), fx.expect...)
			sort.Strings(want)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("rules found %v, want %v", got, want)
			}
		})
	}
}

// Every statement rule has an unsafe and a safe fixture; the rules about
// files, the deployed schema and compat queries are covered by the git and
// database tests.
func TestEveryRuleHasFixtures(t *testing.T) {
	elsewhere := map[string]bool{RuleEditedMigration: true, RuleOutOfOrder: true, RuleMigrationFails: true,
		RuleCompatQueryFails: true, RuleCompatQueryFailsBase: true}
	have := map[string]bool{}
	for _, fx := range loadFixtures(t) {
		have[fx.name[:strings.Index(fx.name, ".")]+"."+strings.Split(fx.name, ".")[1]] = true
	}
	for _, r := range Rules() {
		if elsewhere[r.ID] {
			continue
		}
		for _, kind := range []string{"unsafe", "safe"} {
			if !have[r.ID+"."+kind] {
				t.Errorf("rule %s has no %s fixture in testdata/rules", r.ID, kind)
			}
		}
	}
}

func TestRulesAreComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if seen[r.ID] {
			t.Errorf("rule %s listed twice", r.ID)
		}
		seen[r.ID] = true
		if r.Reason == "" || r.Safe == "" || (r.Severity != Blocking && r.Severity != Warning) {
			t.Errorf("rule %s lacks a reason, a safe alternative or a severity", r.ID)
		}
		if r.ID != strings.ToLower(r.ID) || strings.ContainsAny(r.ID, " _") {
			t.Errorf("rule id %q is not kebab-case", r.ID)
		}
	}
}

func TestFindingDetails(t *testing.T) {
	fs := analyze(t, "db/migrations/0001.sql", "SET lock_timeout = '1s'; SET statement_timeout = '1min';\n\nALTER TABLE public.users\n  DROP COLUMN legacy_name;\nALTER TABLE users ALTER COLUMN bio TYPE text;\n", 13)
	if len(fs) != 2 {
		t.Fatalf("findings %+v", fs)
	}
	drop := fs[0]
	if drop.Rule != RuleDropColumn || drop.Table != "users" || drop.Column != "legacy_name" || drop.Line != 3 ||
		drop.Statement != "ALTER TABLE public.users DROP COLUMN legacy_name" || len(drop.Steps) != 5 {
		t.Errorf("drop finding %+v", drop)
	}
	if typ := fs[1]; typ.Rule != RuleChangeColumnType || typ.Severity != Warning || !strings.Contains(typ.Detail, "varchar or text") {
		t.Errorf("a change to text should be a warning that names the condition: %+v", typ)
	}
}

// When the migrations do not say a column's type, a change to a type whose
// limit or precision can be raised without a rewrite is a warning naming
// the condition; any other change, or one with USING, blocks. Known types
// are judged exactly, and named in the detail.
func TestColumnTypeChanges(t *testing.T) {
	for sql, want := range map[string]string{
		"ALTER TABLE users ALTER COLUMN email TYPE varchar(255)":                   "warning: column email becomes varchar(255): safe (no rewrite) only if the column is already varchar with a limit no longer than the new one",
		"ALTER TABLE users ALTER COLUMN at TYPE timestamptz(6)":                    "warning: column at becomes timestamptz(6): safe (no rewrite) only if the column is already timestamptz with a precision no larger than the new one",
		"ALTER TABLE users ALTER COLUMN took TYPE interval(3)":                     "warning: column took becomes interval(3): safe (no rewrite) only if the column is already interval with the same fields",
		"ALTER TABLE users ALTER COLUMN amount TYPE numeric(12,2)":                 "warning: column amount becomes numeric(12,2): safe (no rewrite) only if the column is already numeric with the same scale",
		"ALTER TABLE users ALTER COLUMN email TYPE varchar(255) USING trim(email)": "blocking: column email becomes varchar(255)",
		"ALTER TABLE users ALTER COLUMN id TYPE bigint":                            "blocking: column id becomes int8",
		"ALTER TABLE users ALTER COLUMN tags TYPE varchar(20)[]":                   "blocking: column tags becomes varchar(20)[]",
	} {
		fs := analyze(t, "db/migrations/0002.sql", "SET lock_timeout = '5s';\nSET statement_timeout = '5s';\n"+sql+";\n", 15)
		if len(fs) != 1 || fs[0].Rule != RuleChangeColumnType || !strings.HasPrefix(string(fs[0].Severity)+": "+fs[0].Detail, want) {
			t.Errorf("%s: %+v", sql, fs)
		}
	}
	base := "CREATE TABLE users (id int PRIMARY KEY, at timestamp(6), took interval day to second(2));\n"
	for sql, want := range map[string]string{
		"ALTER TABLE users ALTER COLUMN at TYPE timestamp(3)":   "column at is timestamp(6) and becomes timestamp(3): PostgreSQL rewrites the table and its indexes",
		"ALTER TABLE users ALTER COLUMN took TYPE interval day": "column took is interval day to second(2) and becomes interval day: PostgreSQL rewrites the table and its indexes",
	} {
		fs := analyzeOn(t, base, "db/migrations/0002.sql", "SET lock_timeout = '5s';\nSET statement_timeout = '5s';\n"+sql+";\n", 15)
		if len(fs) != 1 || fs[0].Severity != Blocking || fs[0].Detail != want {
			t.Errorf("%s: %+v", sql, fs)
		}
	}
	for _, sql := range []string{"ALTER TABLE users ALTER COLUMN at TYPE timestamp", "ALTER TABLE users ALTER COLUMN took TYPE interval(4)"} {
		if fs := analyzeOn(t, base, "db/migrations/0002.sql", "SET lock_timeout = '5s';\n"+sql+";\n", 15); len(fs) != 0 {
			t.Errorf("%s: %+v", sql, fs)
		}
	}
}

// What a composite type's attributes and a domain's NOT NULL and default
// give the running release goes as a table's columns do: DROP ATTRIBUTE is
// drop-column and RENAME ATTRIBUTE rename-column (searched for in the code
// that names the table using the type), a domain's DROP NOT NULL is
// drop-not-null and its DROP DEFAULT drop-default; each names the lock on
// the type, not a table's.
func TestCompositeTypesAndDomains(t *testing.T) {
	base := "CREATE TYPE address AS (street text, zip varchar(10));\nCREATE TABLE users (id bigint PRIMARY KEY, home address, past address[]);\n" +
		"CREATE DOMAIN email_address AS text NOT NULL DEFAULT '';\nCREATE TABLE contacts (id bigint, email email_address);\n"
	src := "SET lock_timeout = '5s';\nALTER TYPE address DROP ATTRIBUTE zip;\nALTER TYPE address RENAME ATTRIBUTE street TO line1;\n" +
		"ALTER DOMAIN email_address DROP NOT NULL;\nALTER DOMAIN email_address SET DEFAULT NULL;\nALTER TYPE address ADD ATTRIBUTE country text;\n"
	fs := analyzeOn(t, base, "db/migrations/0002.sql", src, 15)
	if len(fs) != 4 {
		t.Fatalf("findings %+v", fs)
	}
	if f := fs[0]; f.Rule != RuleDropColumn || f.Table != "users" || f.Column != "zip" || f.Lock != lockCompositeType ||
		f.Detail != "attribute zip of composite type address (column users.home, users.past) is dropped from every value of the type (no rewrite: the data is gone at once): the running release's queries that read or write (column).zip fail" {
		t.Errorf("DROP ATTRIBUTE %+v", f)
	}
	if f := fs[1]; f.Rule != RuleRenameColumn || f.Table != "users" || f.Column != "street" || f.NewName != "line1" {
		t.Errorf("RENAME ATTRIBUTE %+v", f)
	}
	if f := fs[2]; f.Rule != RuleDropNotNull || f.Lock != lockTypeRow || f.Detail != "domain email_address: every column of the domain may hold NULL from now on (column contacts.email)" {
		t.Errorf("DROP NOT NULL %+v", f)
	}
	if f := fs[3]; f.Rule != RuleDropDefault || f.Lock != lockTypeRow || !strings.HasPrefix(f.Detail, "domain email_address: INSERTs that leave out") {
		t.Errorf("DROP DEFAULT %+v", f)
	}
	// a type no table uses is searched for under its own name
	fs = analyzeOn(t, "CREATE TYPE address AS (street text, zip text);\n", "db/migrations/0002.sql", "SET lock_timeout = '5s';\nALTER TYPE address DROP ATTRIBUTE zip;\nALTER TYPE address ALTER ATTRIBUTE street TYPE varchar(100);\n", 15)
	if len(fs) != 1 || fs[0].Table != "address" || fs[0].Column != "zip" {
		t.Errorf("unused type %+v", fs)
	}
}

func TestVolatility(t *testing.T) {
	for sql, want := range map[string]int{
		"ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid()":          volVolatile,
		"ALTER TABLE t ADD COLUMN c int DEFAULT (random() * 10)::int":        volVolatile,
		"ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now()":               volSafe,
		"ALTER TABLE t ADD COLUMN c timestamptz DEFAULT CURRENT_TIMESTAMP":   volSafe,
		"ALTER TABLE t ADD COLUMN c text DEFAULT my_func()":                  volUnknown,
		"ALTER TABLE t ADD COLUMN c text DEFAULT lower('A' || my_func(1))":   volUnknown,
		"ALTER TABLE t ADD COLUMN c jsonb DEFAULT jsonb_build_object('a',1)": volSafe,
	} {
		fs := analyze(t, "x.sql", "SET lock_timeout='1s'; "+sql, 13)
		got := volSafe
		for _, f := range fs {
			if f.Rule == RuleVolatileDefault {
				got = volVolatile
				if f.Severity == Warning {
					got = volUnknown
				}
			}
		}
		if got != want {
			t.Errorf("%s: volatility %d, want %d (%+v)", sql, got, want, fs)
		}
	}
}

func TestStatementsNewerThanTheParser(t *testing.T) {
	src := "SET lock_timeout = '5s';\n/* a; comment */ ALTER TABLE orders ADD CONSTRAINT c CHECK (amount > 0) NOT ENFORCED;\nREPACK users;\nALTER TABLE users DROP COLUMN legacy;\n"
	fs := analyze(t, "db/migrations/0002.sql", src, 17)
	var unknown []Finding
	for _, f := range fs {
		if f.Rule == RuleSyntaxUnknown {
			unknown = append(unknown, f)
		}
	}
	if len(unknown) != 2 || unknown[0].Line != 2 || !strings.Contains(unknown[0].Detail, "NOT ENFORCED constraints (PostgreSQL 18)") ||
		unknown[1].Line != 3 || unknown[1].Statement != "REPACK users" || !strings.Contains(unknown[1].Detail, "REPACK") {
		t.Fatalf("findings %+v", unknown)
	}
	if ruleSet(fs)[0] != RuleDropColumn {
		t.Errorf("the known statements were not checked: %v", ruleSet(fs))
	}
	// a mistake in a statement PostgreSQL 17 knows stays a syntax error,
	// also when a newer clause's words occur in it away from the error (a
	// column named virtual, a mistyped DEFAULT after it)
	for _, bad := range []string{
		"ALTER TABLE users DROP COLUMN;\n",
		"ALTER TABLE parcels ADD COLUMN virtual boolean DEFAUT false;\n",
		"UPDATE parcels SET held = true WHERE NOT enforced AND AND;\n",
	} {
		if _, errs := parseFile("x.sql", bad); len(errs) != 1 || !strings.Contains(errs[0].Error(), "x.sql:1: PostgreSQL cannot parse it") {
			t.Errorf("%q: errors %v", bad, errs)
		}
	}
	// the clause where the parser stops is newer syntax
	for sql, what := range map[string]string{
		"ALTER TABLE parcels ADD COLUMN volume int GENERATED ALWAYS AS (w * h) VIRTUAL;\n": "virtual generated columns",
		"ALTER TABLE parcels ADD CONSTRAINT w_pos CHECK (w > 0) NOT\n  ENFORCED;\n":        "NOT ENFORCED",
		"ALTER TABLE parcels ADD CONSTRAINT w_nn NOT NULL w;\n":                            "NOT NULL table constraints",
		"ALTER TABLE parcels ADD NOT NULL w NOT VALID;\n":                                  "NOT NULL table constraints",
		"CREATE TABLE boxes (w int, CONSTRAINT w_nn NOT NULL w);\n":                        "NOT NULL table constraints",
	} {
		fs := analyze(t, "db/migrations/0002.sql", "SET lock_timeout = '5s';\n"+sql, 17)
		if len(fs) != 1 || fs[0].Rule != RuleSyntaxUnknown || !strings.Contains(fs[0].Detail, what) {
			t.Errorf("%q: findings %+v", sql, fs)
		}
	}
}

func TestVersionGatesNameTheVersion(t *testing.T) {
	fs := analyze(t, "db/migrations/0002.sql", "SET lock_timeout = '5s';\nREINDEX TABLE CONCURRENTLY users;\n", 11)
	var gate *Finding
	for i := range fs {
		if fs[i].Rule == RuleSyntaxTooNew {
			gate = &fs[i]
		}
	}
	if gate == nil || gate.Severity != Blocking || gate.Detail != "REINDEX ... CONCURRENTLY needs PostgreSQL 12; postgres_version is 11" {
		t.Fatalf("findings %+v", fs)
	}
}

// DDL on types gets the lock-timeout advice at the same severity as tables,
// naming the lock PostgreSQL takes (as pg_locks shows it), not a table lock.
func TestLockTimeoutOnTypesNamesTheLock(t *testing.T) {
	for sql, want := range map[string]struct{ stmt, lock string }{
		"CREATE TYPE mood AS ENUM ('a')":                  {"CREATE TYPE mood", lockNewType},
		"CREATE TYPE span AS RANGE (subtype = int4)":      {"CREATE TYPE span", lockNewType},
		"CREATE TYPE address AS (street text)":            {"CREATE TYPE address", lockNewComposite},
		"CREATE DOMAIN email AS text":                     {"CREATE DOMAIN email", lockNewType},
		"ALTER TYPE mood ADD VALUE 'b'":                   {"ALTER TYPE mood ADD VALUE", lockEnumLabels},
		"ALTER TYPE mood RENAME VALUE 'a' TO 'b'":         {"ALTER TYPE mood RENAME VALUE", lockEnumLabels},
		"ALTER TYPE address ADD ATTRIBUTE zip text":       {"ALTER TYPE address", lockCompositeType},
		"ALTER TYPE address RENAME ATTRIBUTE zip TO code": {"ALTER TYPE address RENAME ATTRIBUTE", lockCompositeType},
		"ALTER TYPE mood RENAME TO feeling":               {"ALTER TYPE mood RENAME", lockTypeRow},
		"ALTER TYPE mood OWNER TO app":                    {"ALTER TYPE mood OWNER TO", lockTypeRow},
		"ALTER DOMAIN email SET SCHEMA app":               {"ALTER DOMAIN email SET SCHEMA", lockTypeRow},
		"ALTER DOMAIN email DROP CONSTRAINT c":            {"ALTER DOMAIN email DROP CONSTRAINT", lockDomainDrop},
		"DROP TYPE mood":                                  {"DROP TYPE mood", lockDropType},
		"DROP TYPE address CASCADE":                       {"DROP TYPE address", lockDropCascade},
	} {
		var f *Finding
		fs := analyze(t, "db/migrations/0002.sql", sql+";\n", 13)
		for i := range fs {
			if fs[i].Rule == RuleLockTimeout {
				f = &fs[i]
			}
		}
		if f == nil {
			t.Errorf("%s: findings %+v, want lock-timeout", sql, fs)
			continue
		}
		// queries that use a composite type's columns wait on its lock:
		// that finding keeps the rule's reason, the others say none waits
		wantReason := typeLockReason
		if want.lock == lockCompositeType || want.lock == lockDropCascade {
			wantReason = newFinding(RuleLockTimeout).Reason
		}
		if f.Severity != Warning || f.Lock != want.lock || f.Reason != wantReason ||
			f.Detail != "first statement in the file that can wait for a lock: "+want.stmt {
			t.Errorf("%s: %+v", sql, f)
		}
		if strings.Contains(f.Lock, "table") && want.lock != lockDomainDrop && want.lock != lockNewComposite && want.lock != lockDropCascade {
			t.Errorf("%s: a type lock described as a table lock: %q", sql, f.Lock)
		}
	}
	// ALTER DOMAIN ... ADD CONSTRAINT scans the tables that use the domain:
	// their lock is a table lock, with the table reason.
	fs := analyze(t, "db/migrations/0002.sql", "ALTER DOMAIN email ADD CONSTRAINT c CHECK (VALUE <> '');\n", 13)
	for _, f := range fs {
		if f.Rule == RuleLockTimeout && (f.Reason == typeLockReason || f.Detail != "first statement in the file that locks the tables with a column of domain email") {
			t.Errorf("ALTER DOMAIN ADD CONSTRAINT: %+v", f)
		}
	}
}

// ALTER ... SET SCHEMA moves an object out of the running release's
// search_path: a blocking finding whatever the code search finds, under the
// ACCESS EXCLUSIVE lock it takes (which also needs a lock_timeout).
func TestSetSchemaBlocksUnderItsLock(t *testing.T) {
	fs := analyze(t, "db/migrations/0002.sql", "ALTER TABLE users SET SCHEMA archive;\n", 13)
	var set, timeout *Finding
	for i := range fs {
		switch fs[i].Rule {
		case RuleSetSchema:
			set = &fs[i]
		case RuleLockTimeout:
			timeout = &fs[i]
		}
	}
	if set == nil || set.Severity != Blocking || set.Table != "users" || set.NewName != "archive.users" ||
		set.Lock != lockAccessExclusive+" on users" || !strings.Contains(set.Detail, "schema archive") {
		t.Fatalf("set-schema finding %+v", set)
	}
	if timeout == nil || timeout.Detail != "first statement in the file that locks table users" {
		t.Errorf("lock-timeout %+v", timeout)
	}
	if r, _ := ruleByID(RuleSetSchema); !r.UsesCode {
		t.Error("the deployed code's uses of the old name should be listed")
	}
}

// A DO block whose body is a plain list of SQL statements is checked like
// them: each finding names the statement's own line and the block, the
// block's statements share one transaction, and a directive on the block
// applies to them. Any other body is a warning that says it was not
// checked, which a directive can accept.
func TestDoBlocks(t *testing.T) {
	src := `SET lock_timeout = '5s';
-- pmguard:ignore drop-column: nothing reads legacy_name since v3
DO $body$
BEGIN
  ALTER TABLE users DROP COLUMN legacy_name;
  ALTER TABLE users ADD CONSTRAINT age_pos CHECK (age > 0) NOT VALID;
  ALTER TABLE users VALIDATE CONSTRAINT age_pos;
  CREATE INDEX CONCURRENTLY users_age ON users (age);
END
$body$;
DO $$ BEGIN PERFORM pg_sleep(1); END $$;
-- pmguard:ignore body-not-checked: the block only logs
DO $$ BEGIN RAISE NOTICE 'x'; END $$;
`
	fs := analyze(t, "db/migrations/0002.sql", src, 13)
	got := map[string]Finding{}
	for _, f := range fs {
		got[f.Rule+":"+itoa(f.Line)] = f
	}
	drop, ok := got[RuleDropColumn+":5"]
	if !ok || drop.Allowed != "nothing reads legacy_name since v3" || drop.Statement != "ALTER TABLE users DROP COLUMN legacy_name" ||
		!strings.Contains(drop.Detail, "in the DO block at line 3") {
		t.Errorf("drop-column %+v", drop)
	}
	if f, ok := got[RuleValidateSameTx+":7"]; !ok || !strings.Contains(f.Detail, "DO block") {
		t.Errorf("the block's statements run in one transaction: %+v", fs)
	}
	if f, ok := got[RuleConcurrentlyInTx+":8"]; !ok || !strings.Contains(f.Detail, "DO block") {
		t.Errorf("CREATE INDEX CONCURRENTLY cannot run in a DO block: %+v", fs)
	}
	plpgsql, ok := got[RuleBodyNotChecked+":11"]
	if !ok || plpgsql.Severity != Warning || plpgsql.Allowed != "" || !strings.Contains(plpgsql.Detail, "DO block at line 11") ||
		!strings.Contains(plpgsql.Detail, "not checked") {
		t.Errorf("body-not-checked on the DO %+v", plpgsql)
	}
	logs, ok := got[RuleBodyNotChecked+":13"]
	if !ok || logs.Allowed != "the block only logs" || !strings.Contains(logs.Detail, "DO block at line 13") {
		t.Errorf("body-not-checked on the second DO %+v", logs)
	}
	// replayed, a DO block's statements build the schema
	fs = analyzeOn(t, "CREATE TABLE accounts (id bigint);\nDO $$ BEGIN ALTER TABLE accounts ADD COLUMN email text NOT NULL DEFAULT ''; END $$;\n",
		"db/migrations/0003.sql", "SET lock_timeout = '5s';\nALTER TABLE accounts ALTER COLUMN email SET NOT NULL;\n", 13)
	if len(fs) != 0 {
		t.Errorf("email is NOT NULL already: %+v", fs)
	}
}

// A function's or procedure's body runs when it is called, not when it is
// created: CREATE FUNCTION and CREATE PROCEDURE get no finding, whatever
// the body. A DO block (and CALL) runs its body during the migration: a
// body that could not be read as SQL statements is a warning, one that
// could is checked statement by statement, with no warning of its own.
func TestBodyNotChecked(t *testing.T) {
	plain := `SET lock_timeout = '5s';
CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
CREATE OR REPLACE FUNCTION purge() RETURNS void LANGUAGE sql AS $$ TRUNCATE users $$;
CREATE PROCEDURE archive() LANGUAGE plpgsql AS $$ DECLARE n int; BEGIN SELECT count(*) INTO n FROM users; END $$;
`
	if fs := analyze(t, "db/migrations/0002.sql", plain, 13); len(fs) != 0 {
		t.Errorf("CREATE FUNCTION and CREATE PROCEDURE: %+v", fs)
	}
	find := func(fs []Finding) []Finding {
		var out []Finding
		for _, f := range fs {
			if f.Rule == RuleBodyNotChecked {
				out = append(out, f)
			}
		}
		return out
	}
	for _, c := range []struct {
		name, sql, detail string
		line              int
	}{
		{"declarations and IF", "SET lock_timeout = '5s';\nDO $$\nDECLARE n bigint;\nBEGIN\n  SELECT count(*) INTO n FROM users;\n  IF n = 0 THEN\n    DROP TABLE users;\n  END IF;\nEND $$;\n",
			"DO block at line 2: its body was not checked (PL/pgSQL beyond BEGIN, SQL statements, END: declarations or labels)", 2},
		{"PERFORM", "SET lock_timeout = '5s';\n\nDO $$ BEGIN PERFORM pg_sleep(1); END $$;\n",
			"DO block at line 3: its body was not checked (PL/pgSQL beyond plain SQL statements", 3},
		{"a handler that raises", "DO $$ BEGIN ALTER TABLE users ADD COLUMN nick text; EXCEPTION WHEN duplicate_column THEN RAISE NOTICE 'x'; END $$;\n",
			"(an EXCEPTION handler that does more than NULL)", 1},
		{"another language", "DO LANGUAGE plv8 $$ plv8.execute('DROP TABLE users') $$;\n", "(LANGUAGE plv8)", 1},
		{"CALL", "SET lock_timeout = '5s';\nCALL archive_users(30);\n", "CALL at line 2 runs procedure archive_users during the migration", 2},
	} {
		got := find(analyze(t, "db/migrations/0002.sql", c.sql, 13))
		if len(got) != 1 || got[0].Line != c.line || got[0].Severity != Warning || !strings.Contains(got[0].Detail, c.detail) {
			t.Errorf("%s: %+v", c.name, got)
		}
	}
	// the idempotent form ORMs write: the handlers only say NULL, so the
	// statement inside is checked, on its own line, and nothing else is said
	fs := analyze(t, "db/migrations/0002.sql", "SET lock_timeout = '5s';\nSET statement_timeout = '5s';\nDO $$ BEGIN\n  ALTER TABLE users ADD CONSTRAINT users_org_fk FOREIGN KEY (org_id) REFERENCES orgs (id);\nEXCEPTION\n  WHEN duplicate_object THEN null;\nEND $$;\n", 13)
	if len(fs) != 1 || fs[0].Rule != RuleForeignKeyNotValid || fs[0].Line != 4 || !strings.Contains(fs[0].Detail, "in the DO block at line 3") {
		t.Errorf("DO with NULL handlers: %+v", fs)
	}
}

// PostgreSQL binds a view to the tables and columns it reads, not to their
// names: renaming a table or column under a view leaves the view working.
// The rename is reported about the table, for the running release's
// queries that name it, and says the views keep working; nothing is
// reported about the views. A view dropped and created again in one
// transaction is replaced, not dropped, unless the new one lacks a column
// the old one had; a table renamed and replaced by SELECT * view of it
// under its old name in one transaction keeps the old name working.
func TestRenamesUnderViews(t *testing.T) {
	base := "CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);\n" +
		"CREATE VIEW active_users AS SELECT u.id, u.email FROM users u;\n" +
		"CREATE VIEW names AS SELECT id, name FROM users;\n" +
		"CREATE MATERIALIZED VIEW user_count AS SELECT count(*) FROM users;\n"
	fs := analyzeOn(t, base, "db/migrations/0002.sql", "SET lock_timeout = '5s';\nALTER TABLE users RENAME COLUMN email TO email_address;\nALTER TABLE users RENAME TO accounts;\nALTER TABLE accounts RENAME COLUMN name TO full_name;\n", 13)
	if len(fs) != 3 {
		t.Fatalf("findings %+v", fs)
	}
	for _, f := range fs {
		if f.Table != "users" && f.Table != "accounts" {
			t.Errorf("a finding about a view: %+v", f)
		}
	}
	if f := fs[0]; f.Rule != RuleRenameColumn || f.Column != "email" ||
		f.Detail != "view active_users reads it and keeps working (PostgreSQL follows the rename; a view's own columns keep their names); the running release's queries that name users.email fail" {
		t.Errorf("rename column %+v", f)
	}
	if f := fs[1]; f.Rule != RuleRenameTable || !strings.HasPrefix(f.Detail, "views active_users, names, user_count read it and keep working (") {
		t.Errorf("rename table %+v", f)
	}
	// the views follow the table to its new name
	if f := fs[2]; f.Rule != RuleRenameColumn || f.Table != "accounts" || !strings.HasPrefix(f.Detail, "view names reads it") {
		t.Errorf("rename column of the renamed table %+v", f)
	}

	// DROP VIEW and CREATE VIEW in the tool's transaction
	tx := "db/migrations/0002_views.up.sql"
	fs = analyzeOn(t, base, tx, "SET lock_timeout = '5s';\nDROP VIEW active_users;\nCREATE VIEW active_users AS SELECT id, email, name FROM users;\nDROP VIEW names;\nCREATE VIEW names AS SELECT id FROM users;\n", 13)
	if len(fs) != 1 || fs[0].Rule != RuleDropTable || fs[0].Table != "names" || fs[0].Line != 4 ||
		fs[0].Detail != "view names is created again at line 5 in the same transaction, but without the column(s) name it had: the running release's queries that read them fail" {
		t.Errorf("views created again: %+v", fs)
	}
	// the view created again is the running release's: dropping it later is reported
	fs = analyzeOn(t, base, tx, "SET lock_timeout = '5s';\nDROP VIEW names;\nCREATE VIEW names AS SELECT * FROM users;\nDROP VIEW names;\n", 13)
	if len(fs) != 1 || fs[0].Rule != RuleDropTable || fs[0].Line != 4 {
		t.Errorf("the view dropped after it was replaced: %+v", fs)
	}
	// CREATE OR REPLACE VIEW of a deployed view does not make it new
	fs = analyzeOn(t, base, "db/migrations/0002.sql", "SET lock_timeout = '5s';\nCREATE OR REPLACE VIEW names AS SELECT id, name, 1 AS x FROM users;\nDROP VIEW names;\n", 13)
	if len(fs) != 1 || fs[0].Rule != RuleDropTable || fs[0].Line != 3 {
		t.Errorf("a replaced view dropped: %+v", fs)
	}
	// CASCADE also drops the views that read it: not replaced by a CREATE
	fs = analyzeOn(t, base+"CREATE VIEW active_ids AS SELECT id FROM active_users;\n", tx, "SET lock_timeout = '5s';\nDROP VIEW active_users CASCADE;\nCREATE VIEW active_users AS SELECT id, email FROM users;\n", 13)
	if len(fs) != 1 || fs[0].Rule != RuleDropTable {
		t.Errorf("DROP VIEW ... CASCADE: %+v", fs)
	}

	// a table renamed and a view under its old name, in one transaction
	fs = analyzeOn(t, base, tx, "SET lock_timeout = '5s';\nALTER TABLE users RENAME TO accounts;\nCREATE VIEW users AS SELECT * FROM accounts;\n", 13)
	if len(fs) != 1 || fs[0].Rule != RuleRenameTable || !fs[0].bridged || fs[0].Severity != Warning ||
		!strings.HasPrefix(fs[0].Detail, "view users (line 3) selects * from accounts in the same transaction and keeps the old name working") {
		t.Errorf("rename bridged by a view: %+v", fs)
	}
	// ... but not by a view of some of its columns, or in separate transactions
	for file, sql := range map[string]string{
		tx:                       "SET lock_timeout = '5s';\nALTER TABLE users RENAME TO accounts;\nCREATE VIEW users AS SELECT id, email FROM accounts;\n",
		"db/migrations/0002.sql": "SET lock_timeout = '5s';\nALTER TABLE users RENAME TO accounts;\nCREATE VIEW users AS SELECT * FROM accounts;\n",
	} {
		fs = analyzeOn(t, base, file, sql, 13)
		if len(fs) != 1 || fs[0].Rule != RuleRenameTable || fs[0].bridged {
			t.Errorf("%s: %s: %+v", file, sql, fs)
		}
	}
}

// COMMIT and ROLLBACK inside the transaction the tool runs the file in end
// that transaction: the finding says what that does, per tool.
func TestCommitAndRollbackInTheToolsTransaction(t *testing.T) {
	find := func(fs []Finding) *Finding {
		for i := range fs {
			if fs[i].Rule == RuleTxNesting {
				return &fs[i]
			}
		}
		return nil
	}
	fs := analyze(t, "db/migrations/0002.sql", "-- +goose Up\nSET lock_timeout = '5s';\nALTER TABLE users ADD COLUMN x int;\nROLLBACK;\n", 13)
	if f := find(fs); f == nil || f.Line != 4 || f.Severity != Blocking ||
		!strings.Contains(f.Reason, "discards everything the migration did before it") || !strings.Contains(f.Reason, "records the migration as applied") ||
		f.Detail != "ROLLBACK at line 4 ends the transaction goose runs the file in" {
		t.Errorf("ROLLBACK under goose: %+v", f)
	}
	fs = analyze(t, "db/migrations/0002.sql", "-- +goose Up\nSELECT 1;\nCOMMIT;\nSELECT 2;\n", 13)
	if f := find(fs); f == nil || f.Line != 3 || !strings.Contains(f.Reason, "commits it early") ||
		!strings.Contains(f.Safe, "-- +goose NO TRANSACTION") {
		t.Errorf("COMMIT under goose: %+v", f)
	}
	// a BEGIN already reported as nested: its COMMIT is the harm that
	// finding describes, and is not reported again
	fs = analyze(t, "db/migrations/0002.sql", "-- +goose Up\nBEGIN;\nSELECT 1;\nCOMMIT;\n", 13)
	if len(fs) != 1 || fs[0].Line != 2 {
		t.Errorf("nested BEGIN ... COMMIT: %+v", fs)
	}
	// in a plain file there is no transaction to end
	if fs := analyze(t, "db/migrations/0002.sql", "SELECT 1;\nCOMMIT;\nROLLBACK;\n", 13); len(fs) != 0 {
		t.Errorf("plain file: %+v", fs)
	}
}

// REFRESH MATERIALIZED VIEW without CONCURRENTLY holds ACCESS EXCLUSIVE on
// the view for the whole refresh: a warning naming it; WITH NO DATA makes
// the running release's reads of it fail: blocking.
func TestRefreshMaterializedView(t *testing.T) {
	fs := analyze(t, "db/migrations/0002.sql", "REFRESH MATERIALIZED VIEW reports.user_counts;\nREFRESH MATERIALIZED VIEW user_counts WITH NO DATA;\n", 13)
	var got []Finding
	for _, f := range fs {
		if f.Rule == RuleRefreshMatView {
			got = append(got, f)
		}
	}
	if len(got) != 2 || got[0].Severity != Warning || got[0].Lock != "ACCESS EXCLUSIVE on reports.user_counts for the whole refresh (every read of the view waits)" ||
		!strings.Contains(got[0].Safe, "unique index") || got[1].Severity != Blocking || !strings.Contains(got[1].Detail, "WITH NO DATA") {
		t.Fatalf("findings %+v", fs)
	}
	if ruleSet(fs)[0] != RuleLockTimeout {
		t.Errorf("the refresh waits for its lock: %v", ruleSet(fs))
	}
}

// VACUUM FULL names the lock on every existing table it rewrites.
func TestVacuumFullChecksEveryTable(t *testing.T) {
	fs := analyze(t, "db/migrations/0002.sql", "SET lock_timeout = '5s';\nSET statement_timeout = '5s';\nCREATE TABLE fresh (id int);\nVACUUM FULL fresh, users, audit.events;\n", 13)
	if len(fs) != 1 || fs[0].Rule != RuleTableRewrite || fs[0].Lock != lockAccessExclusive+" on users, audit.events" {
		t.Fatalf("findings %+v", fs)
	}
}

// The locks findings name are the ones PostgreSQL takes (pg_locks on
// PostgreSQL 15 after each statement, in an open transaction).
func TestLockClaims(t *testing.T) {
	lock := func(sql, rule string, pg int) *Finding {
		t.Helper()
		for _, f := range analyze(t, "db/migrations/0002.sql", "-- +goose Up\nSET lock_timeout = '5s';\nSET statement_timeout = '5s';\n"+sql, pg) {
			if f.Rule == rule {
				return &f
			}
		}
		t.Errorf("%s: no %s finding", sql, rule)
		return nil
	}
	// ADD COLUMN ... REFERENCES: ACCESS EXCLUSIVE on the altered table
	if f := lock("ALTER TABLE emails ADD COLUMN user_id bigint REFERENCES users (id);\n", RuleForeignKeyNotValid, 13); f != nil &&
		f.Lock != "ACCESS EXCLUSIVE on emails (ADD COLUMN: every read and write of it waits) and SHARE ROW EXCLUSIVE on users (its writes wait), held through the validation scan" {
		t.Errorf("ADD COLUMN REFERENCES lock %q", f.Lock)
	}
	// a plain REINDEX: every query planned on the table waits, not only
	// those that use the index
	if f := lock("REINDEX INDEX users_email;\n", RuleReindexConcurrently, 13); f != nil &&
		(!strings.Contains(f.Lock, "every query planned on the table") || strings.Contains(f.Lock, "reads that use the index")) {
		t.Errorf("REINDEX lock %q", f.Lock)
	}
	// backfill-in-transaction names the lock the earlier statement took
	for sql, want := range map[string]string{
		"CREATE INDEX users_age ON users (age); -- pmguard:ignore index-without-concurrently: small\n": "SHARE on table users (line 4, CREATE INDEX), which blocks its writes",
		"ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (org_id) REFERENCES orgs (id) NOT VALID;\n":   "SHARE ROW EXCLUSIVE on table users (line 4, ALTER TABLE), which blocks its writes",
		"ALTER TABLE users REPLICA IDENTITY FULL;\n":                                                   "ACCESS EXCLUSIVE on table users (line 4, ALTER TABLE), which blocks every read and write of it",
		"ALTER TABLE users ENABLE TRIGGER ALL;\n":                                                      "SHARE ROW EXCLUSIVE on table users (line 4, ALTER TABLE), which blocks its writes",
		"CREATE TABLE child (id bigint, user_id bigint REFERENCES users (id));\n":                      "SHARE ROW EXCLUSIVE on table users (line 4, CREATE TABLE), which blocks its writes",
	} {
		if f := lock(sql+"UPDATE users SET age = 0 WHERE age IS NULL;\n", RuleBackfillInTx, 13); f != nil &&
			f.Detail != "the same transaction holds "+want+" in a file that goose runs in one transaction" {
			t.Errorf("%s: backfill detail %q", sql, f.Detail)
		}
	}
	// ATTACH PARTITION: ACCESS EXCLUSIVE on the table attached, which it
	// scans; before PostgreSQL 12 also on the partitioned table
	if f := lock("ALTER TABLE events ATTACH PARTITION events_2024 FOR VALUES FROM (1) TO (2);\n", RuleAttachPartition, 13); f != nil &&
		(f.Severity != Warning || f.Lock != "ACCESS EXCLUSIVE on events_2024 (every read and write of it waits, through the scan) and SHARE UPDATE EXCLUSIVE on events (its reads and writes go on)") {
		t.Errorf("ATTACH PARTITION %+v", f)
	}
	if f := lock("ALTER TABLE events ATTACH PARTITION events_2024 FOR VALUES FROM (1) TO (2);\n", RuleAttachPartition, 11); f != nil &&
		(f.Severity != Blocking || !strings.Contains(f.Lock, "ACCESS EXCLUSIVE on events and events_2024")) {
		t.Errorf("ATTACH PARTITION before 12 %+v", f)
	}
	// the lock comes before ", briefly"
	if f := lock("ALTER TABLE users ALTER COLUMN age DROP DEFAULT;\n", RuleDropDefault, 13); f != nil && f.Lock != lockAccessExclusive+" on users, briefly" {
		t.Errorf("DROP DEFAULT lock %q", f.Lock)
	}
}

// A file that starts with a UTF-8 byte order mark is checked from its
// first statement.
func TestByteOrderMark(t *testing.T) {
	fs := analyze(t, "db/migrations/0002.sql", "\ufeffSET lock_timeout = '5s';\nALTER TABLE users DROP COLUMN name;\n", 13)
	if len(fs) != 1 || fs[0].Rule != RuleDropColumn || fs[0].Line != 2 {
		t.Fatalf("findings %+v", fs)
	}
}

// Dropping the default of a NOT NULL column added in the same change makes
// every INSERT of the running release fail (it does not write the column):
// that blocks. A deployed column's DROP DEFAULT stays a warning, and so does
// one on a nullable column added in the change.
func TestDropDefaultOfNewNotNullColumnBlocks(t *testing.T) {
	base := "CREATE TABLE shipments (id bigint PRIMARY KEY, carrier text NOT NULL DEFAULT 'post');\n"
	src := "SET lock_timeout = '5s';\n" +
		"ALTER TABLE shipments ADD COLUMN weight_g int NOT NULL DEFAULT 0;\n" +
		"ALTER TABLE shipments ALTER COLUMN weight_g SET DEFAULT NULL;\n" +
		"ALTER TABLE shipments ADD COLUMN label text, ALTER COLUMN label SET DEFAULT 'x';\n" +
		"ALTER TABLE shipments ALTER COLUMN label DROP DEFAULT;\n" +
		"ALTER TABLE shipments ALTER COLUMN carrier DROP DEFAULT;\n"
	got := map[int]Finding{}
	for _, f := range analyzeOn(t, base, "db/migrations/0002.sql", src, 13) {
		got[f.Line] = f
	}
	if f, ok := got[3]; !ok || f.Rule != RuleDropDefault || f.Severity != Blocking || !strings.Contains(f.Detail, "added NOT NULL earlier in this change") {
		t.Errorf("SET DEFAULT NULL of the new NOT NULL column: %+v", f)
	}
	if f, ok := got[5]; ok {
		t.Errorf("DROP DEFAULT of a new nullable column reported: %+v", f)
	}
	if f, ok := got[6]; !ok || f.Rule != RuleDropDefault || f.Severity != Warning {
		t.Errorf("DROP DEFAULT of a deployed column: %+v", f)
	}
	if len(got) != 2 {
		t.Errorf("findings on lines %v, want 3 and 6", got)
	}
}

// A column added without a default is NULL in every row: the check that
// would prove it NOT NULL cannot be validated either, so the fix offered is
// to give the rows a value first.
func TestSetNotNullOfANewColumnAsksForValuesFirst(t *testing.T) {
	fs := analyze(t, "db/migrations/0002.sql", "SET lock_timeout = '5s'; SET statement_timeout = '5s';\n"+
		"ALTER TABLE users ADD COLUMN score bigint;\n"+
		"ALTER TABLE users ADD CONSTRAINT users_score_nn CHECK (score IS NOT NULL) NOT VALID;\n"+
		"ALTER TABLE users VALIDATE CONSTRAINT users_score_nn;\n"+
		"ALTER TABLE users ALTER COLUMN score SET NOT NULL;\n", 13)
	if len(fs) != 1 || fs[0].Rule != RuleSetNotNull || fs[0].Line != 5 ||
		!strings.Contains(fs[0].Detail, "VALIDATE CONSTRAINT") || !strings.Contains(fs[0].Safe, "backfill") {
		t.Fatalf("findings %+v", fs)
	}
}
