package migrations

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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
