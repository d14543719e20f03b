package migrations

import (
	"sort"
	"strings"
	"testing"
)

func TestReadMigrationFormats(t *testing.T) {
	goose := "-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql;\n-- +goose StatementEnd\nALTER TABLE users ADD COLUMN a int;\n-- +goose Down\nALTER TABLE users DROP COLUMN a;\n"
	dbmate := "-- migrate:up\nALTER TABLE users ADD COLUMN a int;\n\n-- migrate:down\nALTER TABLE users DROP COLUMN a;\n"
	cases := []struct {
		path, text      string
		format          Format
		version, label  string
		skipped         string
		tx              txMode
		upHas, upHasNot string
	}{
		{"db/000012_add.up.sql", "SELECT 1;", FormatGolangMigrate, "000012", "golang-migrate (up file)", "", txIfMany, "SELECT 1", ""},
		{"db/000012_add.down.sql", "DROP TABLE x;", FormatGolangMigrate, "000012", "golang-migrate (down, skipped)", "down migration", txNone, "", ""},
		{"sql/V1.2.3__add_users.sql", "SELECT 1;", FormatFlyway, "1.2.3", "Flyway (versioned)", "", txIfMany, "SELECT 1", ""},
		{"sql/V7_1__x.sql", "SELECT 1;", FormatFlyway, "7_1", "Flyway (versioned)", "", txIfMany, "", ""},
		{"sql/U2__undo.sql", "SELECT 1;", FormatFlyway, "2", "Flyway (undo, skipped)", "undo migration", txNone, "", ""},
		{"sql/R__views.sql", "SELECT 1;", FormatFlyway, "R", "Flyway (repeatable)", "", txIfMany, "", ""},
		{"db/20240101120000_add.sql", goose, FormatGoose, "20240101120000", "goose (-- +goose Up section)", "", txWhole, "ADD COLUMN a int", "DROP COLUMN"},
		// a UTF-8 byte order mark is not read as SQL (and hides no layout)
		{"db/20240101120000_add.sql", "\ufeff" + goose, FormatGoose, "20240101120000", "goose (-- +goose Up section)", "", txWhole, "ADD COLUMN a int", "\ufeff"},
		{"db/000012_add.up.sql", "\ufeffSELECT 1;", FormatGolangMigrate, "000012", "golang-migrate (up file)", "", txIfMany, "SELECT 1", "\ufeff"},
		{"db/20240101120000_add.sql", "-- +goose NO TRANSACTION\n" + goose, FormatGoose, "20240101120000", "goose (-- +goose Up section)", "", txNone, "ADD COLUMN", "DROP COLUMN"},
		{"db/20240101120000_add.sql", dbmate, FormatDbmate, "20240101120000", "dbmate (-- migrate:up section)", "", txWhole, "ADD COLUMN a int", "DROP COLUMN"},
		{"db/20240101120000_add.sql", strings.Replace(dbmate, "migrate:up", "migrate:up transaction:false", 1), FormatDbmate, "20240101120000", "dbmate (-- migrate:up section)", "", txNone, "ADD COLUMN", "DROP COLUMN"},
		{"db/schema_fix.sql", "SELECT 1;", FormatPlain, "", "plain SQL (whole file)", "", txNone, "SELECT 1", ""},
		{"db/0042-fix.sql", "SELECT 1;", FormatPlain, "0042", "plain SQL (whole file)", "", txNone, "SELECT 1", ""},
	}
	for _, c := range cases {
		m := ReadMigration(c.path, c.text)
		if m.Format != c.format || m.Version != c.version || m.FormatLabel() != c.label || m.Skipped != c.skipped || m.tx != c.tx {
			t.Errorf("%s: got format %s version %q label %q skipped %q tx %d", c.path, m.Format, m.Version, m.FormatLabel(), m.Skipped, m.tx)
		}
		if len(m.Up) != len(c.text) || strings.Count(m.Up, "\n") != strings.Count(c.text, "\n") {
			t.Errorf("%s: up section moved offsets", c.path)
		}
		if c.upHas != "" && !strings.Contains(m.Up, c.upHas) {
			t.Errorf("%s: up section lacks %q", c.path, c.upHas)
		}
		if c.upHasNot != "" && strings.Contains(m.Up, c.upHasNot) {
			t.Errorf("%s: up section holds %q from the down section", c.path, c.upHasNot)
		}
	}
}

func TestMigrationOrder(t *testing.T) {
	names := []string{"R__views.sql", "V10__c.sql", "V2__b.sql", "V1.10__x.sql", "V1.9__y.sql", "notes.sql", "V1__a.sql"}
	var ms []Migration
	for _, n := range names {
		ms = append(ms, ReadMigration(n, ""))
	}
	sort.SliceStable(ms, func(i, j int) bool { return lessMigration(ms[i], ms[j]) })
	var got []string
	for _, m := range ms {
		got = append(got, m.Path)
	}
	want := "V1__a.sql V1.9__y.sql V1.10__x.sql V2__b.sql V10__c.sql R__views.sql notes.sql"
	if strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
}

func TestMatchGlob(t *testing.T) {
	cases := []struct {
		pattern, path string
		want          bool
	}{
		{"db/migrations/**/*.sql", "db/migrations/0001.up.sql", true},
		{"db/migrations/**/*.sql", "db/migrations/2024/01/0001.up.sql", true},
		{"db/migrations/**/*.sql", "db/migrations.sql", false},
		{"db/migrations/**/*.sql", "other/db/migrations/1.sql", false},
		{"**/migrations/*.sql", "svc/a/migrations/1.sql", true},
		{"**/migrations/*.sql", "migrations/1.sql", true},
		{"./db/*.sql", "db/1.sql", true},
		{"db/*.sql", "db/sub/1.sql", false},
		{"**", "anything/at/all", true},
		{"**/*_test.go", "a/b_test.go", true},
		{"db/**", "db", true},
		{"db/[", "db/[", false},
	}
	for _, c := range cases {
		if got := matchGlob(c.pattern, c.path); got != c.want {
			t.Errorf("matchGlob(%q, %q) = %v, want %v", c.pattern, c.path, got, c.want)
		}
	}
	if ValidGlob("db/[") || !ValidGlob("db/**/*.sql") {
		t.Error("ValidGlob")
	}
}

// The up section keeps every byte offset and newline of the file, never
// holds text of the down section, and never panics.
func FuzzSections(f *testing.F) {
	f.Add("x.sql", "-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 2;\n")
	f.Add("x.sql", "-- migrate:up transaction:false\nSELECT 1;\n-- migrate:down\nSELECT 2;\n")
	f.Add("x.sql", "-- +goose Down\nSELECT 2;\n-- +goose Up\nSELECT 1;\n")
	f.Add("1_x.up.sql", "SELECT 1;")
	f.Add("V1__x.sql", "")
	f.Fuzz(func(t *testing.T, name, text string) {
		m := ReadMigration(name, text)
		if len(m.Up) != len(text) {
			t.Fatalf("up section is %d bytes, file %d", len(m.Up), len(text))
		}
		for i := 0; i < len(text); i++ {
			if (text[i] == '\n') != (m.Up[i] == '\n') {
				t.Fatalf("newline moved at %d", i)
			}
			if m.Up[i] != text[i] && m.Up[i] != ' ' {
				t.Fatalf("byte %d changed to %q", i, m.Up[i])
			}
		}
		if m.Format == FormatGoose {
			if loc := patterns().gooseDown.FindStringIndex(text); loc != nil {
				if up := patterns().gooseUp.FindStringIndex(text); up != nil && loc[0] > up[0] && strings.TrimSpace(m.Up[loc[0]:]) != "" {
					t.Fatalf("text after the down marker kept: %q", m.Up[loc[0]:])
				}
			}
		}
		_ = m.FormatLabel()
		_ = parseVersion(m.Version).compare(parseVersion(name))
	})
}

// Splitting a file into statements never panics, and every statement lies
// inside the file, in order, on a real line.
func FuzzParseFile(f *testing.F) {
	f.Add("1.up.sql", "ALTER TABLE users DROP COLUMN a; -- pmguard:allow drop-column x\nSELECT 1;")
	f.Add("x.sql", "-- +goose Up\nCREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql;\n-- +goose Down\n")
	f.Add("x.sql", "SELECT 'a;b'; SELECT $x$;$x$; /* ; */ SELECT \"q;\"")
	f.Fuzz(func(t *testing.T, name, text string) {
		m := ReadMigration(name, text)
		stmts, _ := parseFile(name, m.Up)
		lines := strings.Count(text, "\n") + 1
		prev := 0
		for _, s := range stmts {
			if s.stmt.Start < prev || s.stmt.End < s.stmt.Start || s.stmt.End > len(text) {
				t.Fatalf("statement %d-%d out of order or outside the file", s.stmt.Start, s.stmt.End)
			}
			if s.line < 1 || s.line > lines {
				t.Fatalf("line %d outside 1..%d", s.line, lines)
			}
			prev = s.stmt.End
		}
	})
}
