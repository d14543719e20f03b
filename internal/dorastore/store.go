// Package dorastore keeps the CircleCI history that DORA metrics are
// computed from: pipelines, their workflows, each project's sync cursor, the
// commits each deploy shipped and pmguard's events. One store, two SQL
// dialects: an embedded SQLite file (pure Go, modernc.org/sqlite; nothing
// to install) or a shared PostgreSQL database. Every write is an idempotent
// upsert inside a transaction, so a sync killed at any point leaves only
// whole records behind and a rerun neither loses nor duplicates one.
//
// Times are stored as Unix milliseconds (BIGINT), the precision CircleCI
// reports, so the schema and every statement are the same in both dialects.
package dorastore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver, pure Go
)

// Store is an open DORA store. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect dialect
}

// dialect is what differs between the two databases: the driver, the
// placeholder style and how migrations are serialised between concurrent
// jobs. Statements are written once, with ? placeholders.
type dialect struct {
	name   string // sqlite | postgres
	driver string
	// lock, run first in the migration transaction, keeps two jobs from
	// migrating at once ("" where the transaction itself does: SQLite's
	// immediate transactions take the write lock when they begin).
	lock string
}

var (
	sqliteDialect   = dialect{name: "sqlite", driver: "sqlite"}
	postgresDialect = dialect{name: "postgres", driver: "pgx", lock: "SELECT pg_advisory_xact_lock(7262687734)"}
)

// rebind turns ? placeholders into PostgreSQL's $1, $2 ...; the statements
// hold no ? inside literals.
func (d dialect) rebind(q string) string {
	if d.name != "postgres" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// OpenSQLite opens (creating it when missing) the SQLite store at path and
// migrates it; ":memory:" is a store that lives as long as the Store.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	if path == ":memory:" {
		dsn = "file::memory:?_pragma=foreign_keys(1)&_txlock=immediate"
	}
	db, err := sql.Open(sqliteDialect.driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("opening the DORA store %s: %w", path, err)
	}
	if path == ":memory:" {
		db.SetMaxOpenConns(1) // every connection would be its own empty database
	}
	return open(ctx, db, sqliteDialect, path)
}

// OpenPostgres connects to the PostgreSQL store at url and migrates it.
// The URL is a secret: errors never include it.
func OpenPostgres(ctx context.Context, url string) (*Store, error) {
	db, err := sql.Open(postgresDialect.driver, url)
	if err != nil {
		return nil, fmt.Errorf("opening the DORA store (PostgreSQL): the URL is not valid")
	}
	db.SetMaxOpenConns(8)
	return open(ctx, db, postgresDialect, "PostgreSQL")
}

func open(ctx context.Context, db *sql.DB, d dialect, name string) (*Store, error) {
	s := &Store{db: db, dialect: d}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening the DORA store (%s): %w", name, err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating the DORA store (%s): %w", name, err)
	}
	return s, nil
}

// Dialect is "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect.name }

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// txn is one transaction, statements written with ? placeholders.
type txn struct {
	ctx context.Context
	t   *sql.Tx
	d   dialect
}

func (x *txn) exec(q string, args ...any) error {
	_, err := x.t.ExecContext(x.ctx, x.d.rebind(q), args...)
	return err
}

// prepare compiles a statement once for many executions in the transaction.
func (x *txn) prepare(q string) (*sql.Stmt, error) {
	return x.t.PrepareContext(x.ctx, x.d.rebind(q))
}

func (x *txn) queryRow(q string, args ...any) *sql.Row {
	return x.t.QueryRowContext(x.ctx, x.d.rebind(q), args...)
}

// tx runs f in one transaction: all of its writes land, or none.
func (s *Store) tx(ctx context.Context, f func(x *txn) error) error {
	t, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer t.Rollback() //nolint:errcheck // after Commit it is a no-op
	if err := f(&txn{ctx, t, s.dialect}); err != nil {
		return err
	}
	return t.Commit()
}

// queryAll runs the query q and reads each row with scan, which is given
// the row's Scan.
func queryAll[T any](ctx context.Context, s *Store, scan func(scan func(dest ...any) error) (T, error), q string, args ...any) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, s.dialect.rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func scanString(scan func(dest ...any) error) (v string, err error) {
	err = scan(&v)
	return v, err
}

// execEach runs the statement q once for each item, with args(item) as its
// arguments, in one transaction: every item lands, or none.
func execEach[T any](ctx context.Context, s *Store, q string, items []T, args func(T) []any) error {
	return s.tx(ctx, func(x *txn) error {
		st, err := x.prepare(q)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, it := range items {
			if _, err := st.ExecContext(ctx, args(it)...); err != nil {
				return err
			}
		}
		return nil
	})
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
