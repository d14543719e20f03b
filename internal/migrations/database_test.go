package migrations

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/pgtest"
)

// checkDatabases lists the throwaway databases left on the server.
func checkDatabases(t *testing.T, url string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE 'pmguard_check_%'")
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

const compatQueries = `-- queries of the deployed release
SELECT id, email, legacy_name FROM users WHERE id = $1;

INSERT INTO users (email) VALUES ('new@example.com');
SELECT count(*) FROM users;
`

func TestRealDatabase(t *testing.T) {
	url, password := pgtest.Start(t)
	deployedRepo := func(t *testing.T) *gitRepo {
		r := newRepo(t)
		r.write("db/migrations/000001_users.up.sql", usersTable+"INSERT INTO users (email, legacy_name) VALUES ('a@example.com', 'A');\n")
		r.write("db/migrations/000001_users.down.sql", "DROP TABLE users;\n")
		r.write("db/migrations/000002_orders.sql", "-- +goose Up\nCREATE TABLE orders (id bigserial PRIMARY KEY, user_id bigint);\n-- +goose Down\nDROP TABLE orders;\n")
		r.commit("deployed")
		return r
	}
	withDB := func(queries string) func(*Options) {
		return func(o *Options) {
			o.Base = "HEAD~1"
			o.DatabaseURL, o.DatabaseURLEnv = url, "DATABASE_URL"
			o.CompatQueries, o.CompatQueriesText = "compat.sql", queries
			o.Timeout = 2 * time.Minute
		}
	}
	noSecret := func(t *testing.T, res result) {
		t.Helper()
		all := res.out + res.junit + fmt.Sprint(res.err) + fmt.Sprintf("%+v %+v", res.report, res.events)
		if strings.Contains(all, password) {
			t.Errorf("the database password leaked into the output or reports")
		}
		if left := checkDatabases(t, url); len(left) != 0 {
			t.Errorf("throwaway databases left behind: %v", left)
		}
	}

	// The rules' claims about PostgreSQL, checked on PostgreSQL: a type
	// change is reported exactly when it rewrites the table (its relfilenode
	// changes), given the type the deployed schema holds.
	t.Run("change-column-type matches PostgreSQL's rewrites", func(t *testing.T) {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		for i, c := range []struct{ from, to, using string }{
			{"varchar(20)", "varchar(40)", ""}, {"varchar(20)", "varchar(10)", ""}, {"varchar(20)", "text", ""},
			{"varchar(20)", "varchar", ""}, {"text", "varchar", ""}, {"text", "varchar(10)", ""}, {"int", "bigint", ""},
			{"numeric(10,2)", "numeric(12,2)", ""}, {"numeric(10,2)", "numeric(12,3)", ""}, {"numeric(10,2)", "numeric", ""},
			{"cidr", "inet", ""}, {"int", "int", ""}, {"timestamp", "timestamptz", ""},
			// USING the column cast to the new type (Django's form) decides
			// as no USING does; any other expression rewrites
			{"varchar(20)", "varchar(40)", `"c"::varchar(40)`}, {"varchar(20)", "text", "c::text"},
			{"varchar(20)", "varchar(10)", "c::varchar(10)"}, {"int", "bigint", "c::bigint"},
			{"varchar(20)", "text", "lower(c)"},
		} {
			table := fmt.Sprintf("rw_%d", i)
			var before, after uint32
			if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (c %s); INSERT INTO %s VALUES (NULL)", table, c.from, table)); err != nil {
				t.Fatal(err)
			}
			q := fmt.Sprintf("SELECT pg_relation_filenode('%s')", table)
			if err := conn.QueryRow(ctx, q).Scan(&before); err != nil {
				t.Fatal(err)
			}
			alter := fmt.Sprintf("ALTER TABLE %s ALTER COLUMN c TYPE %s", table, c.to)
			if c.using != "" {
				alter += " USING " + c.using
			}
			if _, err := conn.Exec(ctx, alter); err != nil {
				t.Fatal(err)
			}
			if err := conn.QueryRow(ctx, q).Scan(&after); err != nil {
				t.Fatal(err)
			}
			fs := analyzeOn(t, fmt.Sprintf("CREATE TABLE %s (c %s);", table, c.from), "db/migrations/0002.sql",
				"SET lock_timeout = '5s'; SET statement_timeout = '5s';\n"+alter+";\n", 15)
			reported := len(fs) > 0 && fs[0].Rule == RuleChangeColumnType
			if c.from == "timestamp" { // no rewrite only in a UTC session, as this server's is
				if !reported || fs[0].Severity != Warning || !strings.Contains(fs[0].Detail, "TimeZone UTC") {
					t.Errorf("timestamp -> timestamptz: %+v", fs)
				}
				continue
			}
			if rewrote := before != after; reported != rewrote {
				t.Errorf("%s -> %s %s: PostgreSQL rewrote the table: %v; change-column-type reported: %v (%+v)", c.from, c.to, c.using, rewrote, reported, fs)
			}
		}
	})

	t.Run("statements the rules say fail do fail on PostgreSQL", func(t *testing.T) {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "CREATE TABLE claims (id int); INSERT INTO claims VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ sql, rule, state string }{
			{"BEGIN; VACUUM claims; COMMIT", RuleConcurrentlyInTx, "25001"},
			{"BEGIN; REINDEX SCHEMA public; COMMIT", RuleConcurrentlyInTx, "25001"},
			{"ALTER TABLE claims ADD COLUMN bar bigint; ALTER TABLE claims ALTER COLUMN bar SET NOT NULL", RuleSetNotNull, "23502"},
		} {
			_, err := conn.Exec(ctx, c.sql)
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != c.state {
				t.Errorf("%s: PostgreSQL said %v, want SQLSTATE %s", c.sql, err, c.state)
			}
			conn.Exec(ctx, "ROLLBACK")
			if fs := analyze(t, "db/migrations/0002.sql", c.sql, 15); !contains(ruleSet(fs), c.rule) {
				t.Errorf("%s: rules %v, want %s", c.sql, ruleSet(fs), c.rule)
			}
		}
	})

	t.Run("dropped column breaks a deployed query", func(t *testing.T) {
		r := deployedRepo(t)
		r.write("db/migrations/000003_drop.up.sql", "SET lock_timeout = '5s';\nALTER TABLE users DROP COLUMN legacy_name;\n")
		r.commit("drop")
		res := runCheck(t, r, withDB(compatQueries))
		if exitcode.Of(res.err) != exitcode.Fail {
			t.Fatalf("exit %d %v\n%s", exitcode.Of(res.err), res.err, res.out)
		}
		var failing []Finding
		for _, f := range res.report.Findings {
			if f.Rule == RuleCompatQueryFails {
				failing = append(failing, f)
			}
		}
		if len(failing) != 1 || failing[0].Where() != "compat.sql:2" || !failing[0].Blocks ||
			!strings.Contains(failing[0].PostgresError, `column "legacy_name" does not exist (SQLSTATE 42703)`) {
			t.Fatalf("compat findings %+v\n%s", failing, res.out)
		}
		db := res.report.Database
		if db == nil || db.BaseFiles != 2 || db.Applied != 2 || db.Queries != 3 || db.QueriesOK != 2 || db.NewFailures != 1 {
			t.Errorf("database summary %+v", db)
		}
		if !strings.Contains(res.out, "PostgreSQL: ERROR: column \"legacy_name\" does not exist") || !strings.Contains(res.out, "real database: dropped pmguard_check_") {
			t.Errorf("output:\n%s", res.out)
		}
		noSecret(t, res)
	})

	t.Run("expand step passes", func(t *testing.T) {
		r := deployedRepo(t)
		r.write("db/migrations/000003_expand.up.sql", "SET lock_timeout = '5s';\nALTER TABLE users ADD COLUMN display_name text;\n")
		r.write("db/migrations/000004_index.up.sql", "CREATE INDEX CONCURRENTLY orders_user ON orders (user_id);\n")
		r.commit("expand")
		res := runCheck(t, r, withDB(compatQueries))
		if res.err != nil {
			t.Fatalf("%v\n%s", res.err, res.out)
		}
		if db := res.report.Database; db == nil || db.Applied != 3 || db.QueriesOK != 3 {
			t.Errorf("database summary %+v", db)
		}
		noSecret(t, res)
	})

	t.Run("a migration PostgreSQL rejects", func(t *testing.T) {
		r := deployedRepo(t)
		r.write("db/migrations/000003_required.up.sql", "SET lock_timeout = '5s';\n\nALTER TABLE users ADD COLUMN created_at timestamptz NOT NULL;\n")
		r.commit("required column")
		res := runCheck(t, r, withDB(compatQueries))
		fd := res.finding(RuleMigrationFails)
		if exitcode.Of(res.err) != exitcode.Fail || fd == nil || fd.Where() != "db/migrations/000003_required.up.sql:3" ||
			!strings.Contains(fd.PostgresError, "contains null values") {
			t.Fatalf("exit %d, finding %+v\n%s", exitcode.Of(res.err), fd, res.out)
		}
		if res.finding(RuleAddNotNullColumn) == nil {
			t.Error("the static rule should flag it too")
		}
		noSecret(t, res)
	})

	t.Run("a query failing before the change is not blamed on it", func(t *testing.T) {
		r := deployedRepo(t)
		r.write("db/migrations/000003_expand.up.sql", "SET lock_timeout = '5s';\nALTER TABLE users ADD COLUMN display_name text;\n")
		r.commit("expand")
		res := runCheck(t, r, withDB("SELECT nickname FROM users;\n"))
		fd := res.finding(RuleCompatQueryFailsBase)
		if res.err != nil || fd == nil || fd.Blocks || !strings.Contains(fd.PostgresError, `column "nickname" does not exist`) {
			t.Fatalf("err %v finding %+v\n%s", res.err, fd, res.out)
		}
		noSecret(t, res)
	})

	t.Run("unreachable server could not run, without the password", func(t *testing.T) {
		r := deployedRepo(t)
		r.write("db/migrations/000003_expand.up.sql", "ALTER TABLE users ADD COLUMN x text;\n")
		r.commit("x")
		badURL := fmt.Sprintf("postgres://pmguard:%s@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", password, pgtest.FreePort(t))
		res := runCheck(t, r, func(o *Options) {
			withDB("")(o)
			o.DatabaseURL, o.CompatQueries = badURL, ""
		})
		if exitcode.Of(res.err) != exitcode.CouldNotRun || !strings.Contains(res.err.Error(), "connecting to PostgreSQL") || strings.Contains(res.err.Error(), password) {
			t.Fatalf("exit %d: %v", exitcode.Of(res.err), res.err)
		}
	})

	t.Run("wrong password could not run, without the password", func(t *testing.T) {
		r := deployedRepo(t)
		r.write("db/migrations/000003_expand.up.sql", "ALTER TABLE users ADD COLUMN x text;\n")
		r.commit("x")
		wrong := "wrong-" + password
		res := runCheck(t, r, func(o *Options) {
			withDB("")(o)
			o.DatabaseURL, o.CompatQueries = strings.Replace(url, password, wrong, 1), ""
		})
		if exitcode.Of(res.err) != exitcode.CouldNotRun || strings.Contains(res.err.Error(), wrong) || !strings.Contains(res.err.Error(), "password authentication failed") {
			t.Fatalf("exit %d: %v", exitcode.Of(res.err), res.err)
		}
	})
}
