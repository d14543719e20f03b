package migrations

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pmguard/pmguard/internal/pgtest"
)

// The lock the analyzer says a statement takes on an existing table is the
// one a real PostgreSQL holds after it, in an open transaction (pg_locks).
func TestLockModesOnPostgres(t *testing.T) {
	conn, _ := pgtest.Connect(t)
	ctx := context.Background()
	const schema = `CREATE TABLE r (id int PRIMARY KEY);
CREATE TABLE t (id int PRIMARY KEY, a int);
CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER tg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION trg();
CREATE TABLE p (id int) PARTITION BY RANGE (id);
CREATE TABLE x (id int);
CREATE MATERIALIZED VIEW mv AS SELECT id FROM t;
CREATE UNIQUE INDEX mv_id ON mv (id);
CREATE SCHEMA archive;
`
	if _, err := conn.Exec(ctx, schema); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ sql, table string }{
		{"ALTER TABLE t REPLICA IDENTITY FULL", "t"},
		{"ALTER TABLE t DISABLE TRIGGER tg", "t"},
		{"ALTER TABLE t ENABLE TRIGGER ALL", "t"},
		{"ALTER TABLE t ADD COLUMN b int REFERENCES r (id)", "t"},
		{"ALTER TABLE t ADD COLUMN b int REFERENCES r (id)", "r"},
		{"ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES r (id) NOT VALID", "t"},
		{"ALTER TABLE t ADD CONSTRAINT ck CHECK (a > 0) NOT VALID", "t"},
		{"ALTER TABLE t SET (fillfactor = 70)", "t"},
		{"ALTER TABLE t ALTER COLUMN a SET STATISTICS 100", "t"},
		{"ALTER TABLE t SET SCHEMA archive", "t"},
		{"CREATE INDEX t_a ON t (a)", "t"},
		{"CREATE TRIGGER tg2 BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION trg()", "t"},
		{"CREATE TABLE c () INHERITS (t)", "t"},
		{"CREATE TABLE c (id int REFERENCES r (id))", "r"},
		{"CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10)", "p"},
		{"ALTER TABLE p ATTACH PARTITION x FOR VALUES FROM (0) TO (10)", "p"},
		{"ALTER TABLE p ATTACH PARTITION x FOR VALUES FROM (0) TO (10)", "x"},
		{"REINDEX TABLE t", "t"},
		{"REFRESH MATERIALIZED VIEW mv", "mv"},
		{"REFRESH MATERIALIZED VIEW CONCURRENTLY mv", "mv"},
		{"TRUNCATE t", "t"},
		{"LOCK TABLE t IN SHARE MODE", "t"},
		{"COMMENT ON TABLE t IS 'x'", "t"},
	} {
		want := analyzerLock(t, c.sql, c.table)
		got := postgresLock(t, ctx, conn, c.sql, c.table)
		if got != want {
			t.Errorf("%s: PostgreSQL holds %s on %s, the analyzer says %s", c.sql, got, c.table, want)
		}
	}
}

// analyzerLock is the lock the analyzer notes the statement takes on table:
// its mode if it blocks writes, "weaker than SHARE" otherwise.
func analyzerLock(t *testing.T, sql, table string) string {
	t.Helper()
	m := ReadMigration("db/migrations/x.sql", sql)
	ps, errs := parseFile(m.Path, m.Up)
	if len(errs) > 0 || len(ps) != 1 {
		t.Fatalf("%s: %v", sql, errs)
	}
	a := newAnalyzer(15)
	st := &fileState{f: &parsedFile{Migration: &m, stmts: ps}}
	a.statement(st, &ps[0])
	for _, l := range st.locked {
		if l.table == table && blocksWrites(l.mode) {
			return l.mode
		}
	}
	return "weaker than SHARE"
}

// postgresLock is the strongest lock the session holds on table after sql,
// in a transaction rolled back afterwards.
func postgresLock(t *testing.T, ctx context.Context, conn *pgx.Conn, sql, table string) string {
	t.Helper()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	rows, err := tx.Query(ctx, `SELECT l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND c.relname = $1`, table)
	if err != nil {
		t.Fatal(err)
	}
	modes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	best := "weaker than SHARE"
	for _, m := range modes {
		// AccessExclusiveLock -> ACCESS EXCLUSIVE
		var words []string
		w := ""
		for _, r := range strings.TrimSuffix(m, "Lock") {
			if r >= 'A' && r <= 'Z' && w != "" {
				words, w = append(words, w), ""
			}
			w += strings.ToUpper(string(r))
		}
		mode := strings.Join(append(words, w), " ")
		if blocksWrites(mode) && (!blocksWrites(best) || modeRank[mode] > modeRank[best]) {
			best = mode
		}
	}
	return best
}

// SET NOT NULL skips its scan exactly when the analyzer says it does:
// PostgreSQL (12+) logs at DEBUG1 that existing constraints prove the
// column NOT NULL, or that it verifies the table.
func TestSetNotNullScanOnPostgres(t *testing.T) {
	url, _ := pgtest.Start(t)
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	var notices []string
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Message) }
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	const table = "CREATE TABLE t (id int PRIMARY KEY, a text, b int);\nINSERT INTO t VALUES (1, 'x', 1);\n"
	for _, c := range []struct{ setup, sql string }{
		{"ALTER TABLE t ADD CONSTRAINT t_a_nn CHECK (a IS NOT NULL) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT t_a_nn;\n", "ALTER TABLE t ALTER COLUMN a SET NOT NULL"},
		{"ALTER TABLE t ADD CHECK (a IS NOT NULL) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT t_a_check;\n", "ALTER TABLE t ALTER COLUMN a SET NOT NULL"},
		{"ALTER TABLE t ADD CONSTRAINT nn CHECK (a IS NOT NULL AND b IS NOT NULL AND id > 0) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT nn;\n", "ALTER TABLE t ALTER COLUMN b SET NOT NULL"},
		{"ALTER TABLE t ADD CHECK (a IS NOT NULL AND b IS NOT NULL);\n", "ALTER TABLE t ALTER COLUMN a SET NOT NULL"},
		{"ALTER TABLE t ADD CONSTRAINT nn CHECK (NOT (a IS NULL));\n", "ALTER TABLE t ALTER COLUMN a SET NOT NULL"},
		{"ALTER TABLE t ADD CONSTRAINT pos CHECK (b > 0);\n", "ALTER TABLE t ALTER COLUMN b SET NOT NULL"},
		{"ALTER TABLE t ADD CONSTRAINT either CHECK (a IS NOT NULL OR b IS NOT NULL);\n", "ALTER TABLE t ALTER COLUMN b SET NOT NULL"},
		{"ALTER TABLE t ADD CONSTRAINT t_a_nn CHECK (a IS NOT NULL) NOT VALID;\n", "ALTER TABLE t ALTER COLUMN a SET NOT NULL"},
		{"ALTER TABLE t ADD CONSTRAINT t_a_nn CHECK (a IS NOT NULL);\n", "ALTER TABLE t ALTER COLUMN a SET NOT NULL, DROP CONSTRAINT t_a_nn"},
		{"ALTER TABLE t ADD CONSTRAINT t_a_nn CHECK (a IS NOT NULL);\n", "ALTER TABLE t DROP CONSTRAINT t_a_nn, ALTER COLUMN a SET NOT NULL"},
		{"ALTER TABLE t ADD CONSTRAINT t_a_nn CHECK (a IS NOT NULL);\nALTER TABLE t DROP CONSTRAINT t_a_nn;\n", "ALTER TABLE t ALTER COLUMN a SET NOT NULL"},
		// a primary key made of a unique index sets its columns NOT NULL
		{"ALTER TABLE t DROP CONSTRAINT t_pkey;\nCREATE UNIQUE INDEX t_b_uidx ON t (b);\n", "ALTER TABLE t ADD CONSTRAINT t_b_pk PRIMARY KEY USING INDEX t_b_uidx"},
		{"ALTER TABLE t DROP CONSTRAINT t_pkey;\nCREATE UNIQUE INDEX t_b_uidx ON t (b);\nALTER TABLE t ADD CONSTRAINT t_b_nn CHECK (b IS NOT NULL);\n", "ALTER TABLE t ADD CONSTRAINT t_b_pk PRIMARY KEY USING INDEX t_b_uidx"},
	} {
		if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS t; RESET client_min_messages;\n"+table+c.setup); err != nil {
			t.Fatalf("%s: %v", c.setup, err)
		}
		notices = nil
		if _, err := conn.Exec(ctx, "SET client_min_messages = debug1; "+c.sql+"; RESET client_min_messages"); err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		scans := ""
		for _, n := range notices {
			switch {
			case strings.Contains(n, "are sufficient to prove"):
				scans = "no"
			case strings.HasPrefix(n, `verifying table "t"`):
				scans = "yes"
			}
		}
		if scans == "" {
			t.Fatalf("%s: PostgreSQL said neither: %q", c.sql, notices)
		}
		flagged := false
		for _, f := range analyzeOn(t, table+c.setup, "db/migrations/0002.sql", "SET lock_timeout = '5s';\nSET statement_timeout = '5s';\n"+c.sql+";\n", 15) {
			flagged = flagged || f.Rule == RuleSetNotNull
		}
		if flagged != (scans == "yes") {
			t.Errorf("after %s%s: PostgreSQL scans: %s, the analyzer reports set-not-null: %v", c.setup, c.sql, scans, flagged)
		}
	}
}

// ALTER COLUMN ... TYPE is reported exactly when PostgreSQL rewrites the
// table or rebuilds the index on the column (a file node changes), and PostgreSQL refuses it on a column a
// view reads, as the analyzer says.
func TestColumnTypeRewriteOnPostgres(t *testing.T) {
	conn, _ := pgtest.Connect(t)
	ctx := context.Background()
	filenode := func(rel string) string {
		var n string
		if err := conn.QueryRow(ctx, "SELECT pg_relation_filenode($1)::text", rel).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, c := range [][2]string{
		{"timestamp(3)", "timestamp(6)"}, {"timestamp(6)", "timestamp(3)"}, {"timestamp(3)", "timestamp"}, {"timestamp", "timestamp(3)"},
		{"timestamp", "timestamp(6)"}, {"timestamptz(0)", "timestamptz(3)"}, {"timestamptz(3)", "timestamptz"}, {"timestamptz(3)", "timestamptz(1)"},
		{"time(0)", "time(3)"}, {"time(3)", "time(1)"}, {"timetz(0)", "timetz"}, {"interval(0)", "interval(3)"}, {"interval(3)", "interval"},
		{"interval(3)", "interval(1)"}, {"interval day to second(2)", "interval(3)"}, {"interval(3)", "interval day to second(3)"},
		{"interval day", "interval hour"}, {"interval hour", "interval day"}, {"interval minute", "interval(2)"}, {"interval year", "interval month"},
		{"varchar(10)", "varchar(20)"}, {"varchar(20)", "varchar(10)"}, {"varchar(10)", "varchar"}, {"varchar(10)", "text"}, {"text", "varchar"},
		{"text", "varchar(10)"}, {"char(10)", "char(20)"}, {"char(10)", "varchar(20)"}, {"bit varying(10)", "bit varying(20)"},
		{"bit varying(20)", "bit varying(10)"}, {"bit(10)", "bit(20)"}, {"numeric(10,2)", "numeric(12,2)"}, {"numeric(10,2)", "numeric(12,3)"},
		{"numeric(10,2)", "numeric"}, {"numeric", "numeric(10,2)"}, {"numeric(10)", "numeric(12,0)"}, {"int", "bigint"}, {"cidr", "inet"},
		{"int[]", "bigint[]"}, {"varchar(10)[]", "varchar(20)[]"}, {"varchar(10)[]", "varchar(10)[]"},
		{"text", `text COLLATE "C"`}, {`text COLLATE "C"`, "text"}, {`varchar(10) COLLATE "C"`, `varchar(20) COLLATE "C"`},
		{`varchar(10) COLLATE "C"`, "text"}, {`text COLLATE "C"`, `text COLLATE "C"`},
	} {
		setup := "CREATE TABLE t (id int PRIMARY KEY, c " + c[0] + ");\nCREATE INDEX t_c ON t (c);\n"
		if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS t CASCADE;\n"+setup); err != nil {
			t.Fatalf("%s: %v", setup, err)
		}
		before, beforeIndex := filenode("t"), filenode("t_c")
		sql := "ALTER TABLE t ALTER COLUMN c TYPE " + c[1]
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		// the table rewritten, or the index on the column rebuilt
		rewrites := filenode("t") != before || filenode("t_c") != beforeIndex
		reported := false
		for _, f := range analyzeOn(t, setup, "db/migrations/0002.sql", "SET lock_timeout = '5s';\nSET statement_timeout = '5s';\n"+sql+";\n", 15) {
			reported = reported || f.Rule == RuleChangeColumnType
		}
		if reported != rewrites {
			t.Errorf("%s -> %s: PostgreSQL rewrites: %v, the analyzer reports change-column-type: %v", c[0], c[1], rewrites, reported)
		}
	}
	// a view on the column: PostgreSQL refuses even a change without a rewrite
	setup := "CREATE TABLE t (id int PRIMARY KEY, c varchar(10));\nCREATE VIEW v AS SELECT id, c FROM t;\n"
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS t CASCADE;\n"+setup); err != nil {
		t.Fatal(err)
	}
	sql := "ALTER TABLE t ALTER COLUMN c TYPE varchar(20)"
	if _, err := conn.Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "cannot alter type of a column used by a view or rule") {
		t.Fatalf("%s under a view: %v", sql, err)
	}
	fs := analyzeOn(t, setup, "db/migrations/0002.sql", "SET lock_timeout = '5s';\nSET statement_timeout = '5s';\n"+sql+";\n", 15)
	if len(fs) != 1 || fs[0].Rule != RuleChangeColumnType || fs[0].Severity != Blocking || !strings.Contains(fs[0].Detail, "view v reads column c") {
		t.Errorf("under a view: %+v", fs)
	}
	// dropped and created again around the change, the view does not stop it
	sql = "BEGIN;\nDROP VIEW v;\n" + sql + ";\nCREATE VIEW v AS SELECT id, c FROM t;\nCOMMIT"
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if fs := analyzeOn(t, setup, "db/migrations/0002.sql", "SET lock_timeout = '5s';\n"+sql+";\n", 15); len(fs) != 0 {
		t.Errorf("view dropped around the change: %+v", fs)
	}
}

// A new enum value used in the transaction that added it fails on
// PostgreSQL 12+ (unsafe use of new value) exactly where the analyzer
// reports enum-value-in-transaction.
func TestNewEnumValueInItsTransactionOnPostgres(t *testing.T) {
	conn, _ := pgtest.Connect(t)
	ctx := context.Background()
	const schema = "CREATE TYPE mood AS ENUM ('ok');\nCREATE TABLE t (id int, m mood, note text);\nINSERT INTO t VALUES (1, 'ok', 'x');\n"
	for _, use := range []string{
		"UPDATE t SET m = 'meh'",
		"UPDATE t SET note = 'meh'",
		"ALTER TABLE t ALTER COLUMN m SET DEFAULT 'meh'",
		"ALTER TABLE t ADD COLUMN m2 mood DEFAULT 'meh'",
		"SELECT 'meh'::mood",
		"CREATE INDEX t_meh ON t (id) WHERE m = 'meh'",
		"SELECT count(*) FROM t WHERE m = 'ok'",
		"INSERT INTO t (id, m) VALUES (2, 'meh')",
		"ALTER TYPE mood ADD VALUE 'bof' AFTER 'meh'",
		"DO $$ BEGIN UPDATE t SET m = 'meh'; END $$",
	} {
		if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS t; DROP TYPE IF EXISTS mood;\n"+schema); err != nil {
			t.Fatal(err)
		}
		sql := "BEGIN;\nALTER TYPE mood ADD VALUE 'meh';\n" + use + ";\nCOMMIT"
		_, err := conn.Exec(ctx, sql)
		fails := err != nil && strings.Contains(err.Error(), "unsafe use of new value")
		if err != nil && !fails {
			t.Fatalf("%s: %v", sql, err)
		}
		if err != nil {
			conn.Exec(ctx, "ROLLBACK")
		}
		reported := false
		for _, f := range analyzeOn(t, schema, "db/migrations/0002.sql", "SET lock_timeout = '5s';\nSET statement_timeout = '5s';\n"+sql+";\n", 15) {
			reported = reported || f.Rule == RuleEnumValueInTx
		}
		if reported != fails {
			t.Errorf("%s: PostgreSQL fails: %v (%v), the analyzer reports enum-value-in-transaction: %v", use, fails, err, reported)
		}
	}
}

// What the analyzer says of ALTER TYPE on a composite type and of ALTER
// DOMAIN holds on a real server: DROP ATTRIBUTE succeeds without a rewrite
// and takes the attribute from the stored values; ALTER ATTRIBUTE ... TYPE
// is refused while a column has the type; a domain's DROP NOT NULL lets
// NULL in.
func TestCompositeTypesAndDomainsOnPostgres(t *testing.T) {
	conn, _ := pgtest.Connect(t)
	ctx := context.Background()
	const schema = "CREATE TYPE address AS (street text, zip varchar(10));\nCREATE DOMAIN email_address AS text NOT NULL;\n" +
		"CREATE TABLE users (id int, home address, email email_address);\nINSERT INTO users VALUES (1, ROW('Main St', '12345'), 'a@b');\n"
	if _, err := conn.Exec(ctx, schema); err != nil {
		t.Fatal(err)
	}
	var before, after, home string
	conn.QueryRow(ctx, "SELECT pg_relation_filenode('users')::text").Scan(&before)
	if _, err := conn.Exec(ctx, "ALTER TYPE address DROP ATTRIBUTE zip"); err != nil {
		t.Fatal(err)
	}
	conn.QueryRow(ctx, "SELECT pg_relation_filenode('users')::text, home::text FROM users").Scan(&after, &home)
	if before != after || home != `("Main St")` {
		t.Errorf("DROP ATTRIBUTE: file node %s -> %s, value %s", before, after, home)
	}
	if _, err := conn.Exec(ctx, "SELECT (home).zip FROM users"); err == nil {
		t.Error("(home).zip still reads")
	}
	for _, sql := range []string{"ALTER TYPE address ALTER ATTRIBUTE street TYPE varchar(100)", "ALTER TYPE address ALTER ATTRIBUTE street TYPE varchar(100) CASCADE"} {
		if _, err := conn.Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), `because column "users.home" uses it`) {
			t.Errorf("%s: %v", sql, err)
		}
		fs := analyzeOn(t, schema, "db/migrations/0002.sql", "SET lock_timeout = '5s';\n"+sql+";\n", 15)
		if len(fs) != 1 || fs[0].Rule != RuleChangeColumnType || !strings.Contains(fs[0].Detail, "PostgreSQL refuses") {
			t.Errorf("%s: %+v", sql, fs)
		}
	}
	if _, err := conn.Exec(ctx, "ALTER DOMAIN email_address DROP NOT NULL; INSERT INTO users (id) VALUES (2)"); err != nil {
		t.Errorf("DROP NOT NULL on the domain: %v", err)
	}
}

// ADD COLUMN of a domain type rewrites the table (its file node changes)
// exactly when the domain has a constraint, as the analyzer says.
func TestAddColumnOfDomainOnPostgres(t *testing.T) {
	conn, _ := pgtest.Connect(t)
	ctx := context.Background()
	for _, domain := range []string{
		"CREATE DOMAIN d AS int CHECK (VALUE > 0)",
		"CREATE DOMAIN d AS int NOT NULL",
		"CREATE DOMAIN d AS int",
		"CREATE DOMAIN d AS int CONSTRAINT d_pos CHECK (VALUE > 0);\nALTER DOMAIN d DROP CONSTRAINT d_pos",
		"CREATE DOMAIN d AS int;\nALTER DOMAIN d ADD CONSTRAINT d_pos CHECK (VALUE > 0) NOT VALID",
	} {
		for _, add := range []string{"ALTER TABLE t ADD COLUMN c d DEFAULT 1", "ALTER TABLE t ADD COLUMN c d"} {
			setup := "CREATE TABLE t (id int PRIMARY KEY);\n" + domain + ";\n"
			if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS t; DROP DOMAIN IF EXISTS d;\n"+setup); err != nil {
				t.Fatalf("%s: %v", setup, err)
			}
			var before, after string
			conn.QueryRow(ctx, "SELECT pg_relation_filenode('t')::text").Scan(&before)
			if _, err := conn.Exec(ctx, add); err != nil {
				t.Fatalf("%s: %v", add, err)
			}
			conn.QueryRow(ctx, "SELECT pg_relation_filenode('t')::text").Scan(&after)
			reported := false
			for _, f := range analyzeOn(t, setup, "db/migrations/0002.sql", "SET lock_timeout = '5s';\nSET statement_timeout = '5s';\n"+add+";\n", 15) {
				reported = reported || f.Rule == RuleTableRewrite
			}
			if reported != (before != after) {
				t.Errorf("%s; %s: PostgreSQL rewrites: %v, the analyzer reports table-rewrite: %v", domain, add, before != after, reported)
			}
		}
	}
}
