package migrations

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pmguard/pmguard/internal/migrations/pgparse"
)

// compatQuery is one query of the running release, from compat_queries.
type compatQuery struct {
	File   string
	Line   int
	SQL    string
	params bool // has $n parameters: prepared (names and types checked), not run
}

// readCompatQueries splits a compat_queries file into queries.
func readCompatQueries(path, text string) ([]compatQuery, error) {
	stmts, err := pgparse.Parse(text)
	if err != nil {
		return nil, parseError(path, text, err)
	}
	li := newLineIndex(text)
	var out []compatQuery
	for _, s := range stmts {
		switch s.Node.Type {
		case "TransactionStmt", "VariableSetStmt":
			continue // session control, not a query of the application
		}
		body := s.Text(text)
		out = append(out, compatQuery{
			File:   path,
			Line:   li.line(s.Start + firstTokenOffset(text[s.Start:s.End])),
			SQL:    body,
			params: s.Node.Contains("ParamRef"),
		})
	}
	return out, nil
}

// firstTokenOffset is the offset of the first token of a statement's text,
// past leading whitespace and comments.
func firstTokenOffset(raw string) int {
	return len(raw) - len(pgparse.StripLeadingComments(raw))
}

// dbResult is what the real-database mode found.
type dbResult struct {
	Database    string    `json:"database"`
	BaseFiles   int       `json:"base_files"`
	Applied     int       `json:"applied_statements"`
	Queries     int       `json:"queries"`
	QueriesOK   int       `json:"queries_ok"`
	NewFailures int       `json:"queries_failing"`
	Findings    []Finding `json:"-"`
}

// dbCheck applies the migrations to a throwaway database on a real
// PostgreSQL and runs the running release's queries against it.
type dbCheck struct {
	url     string
	redact  func(string) string
	timeout time.Duration
	out     io.Writer
}

// run creates pmguard_check_<random> on the server, builds the deployed
// schema from the migrations at base, runs the queries (a baseline: queries
// failing already are not blamed on this change), applies the new
// migrations one statement at a time, runs the queries again, and drops the
// database. Could-not-run problems (connection, permissions, a base
// migration that fails) are returned as errors.
func (c dbCheck) run(ctx context.Context, base, added []*parsedFile, queries []compatQuery) (dbResult, error) {
	var res dbResult
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	cfg, err := pgx.ParseConfig(c.url)
	if err != nil {
		return res, fmt.Errorf("database URL: %s", c.redact(err.Error()))
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > 15*time.Second {
		cfg.ConnectTimeout = 15 * time.Second
	}
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return res, fmt.Errorf("connecting to PostgreSQL: %s", c.redact(err.Error()))
	}
	defer admin.Close(context.WithoutCancel(ctx))

	name, err := randomName()
	if err != nil {
		return res, err
	}
	res.Database = name
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return res, fmt.Errorf("creating the throwaway database %s (the user needs CREATEDB): %s", name, c.redact(pgMessage(err)))
	}
	fmt.Fprintf(c.out, "real database: created %s\n", name)
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(dctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			var pe *pgconn.PgError
			// before PostgreSQL 13 there is no WITH (FORCE)
			if errors.As(err, &pe) && pe.Code == "42601" {
				_, err = admin.Exec(dctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize())
			}
			if err != nil {
				fmt.Fprintf(c.out, "real database: could not drop %s: %s\n", name, c.redact(pgMessage(err)))
				return
			}
		}
		fmt.Fprintf(c.out, "real database: dropped %s\n", name)
	}()

	ccfg := cfg.Copy()
	ccfg.Database = name
	if ccfg.RuntimeParams == nil {
		ccfg.RuntimeParams = map[string]string{}
	}
	ccfg.RuntimeParams["statement_timeout"] = "60s"
	ccfg.RuntimeParams["lock_timeout"] = "10s"
	conn, err := pgx.ConnectConfig(ctx, ccfg)
	if err != nil {
		return res, fmt.Errorf("connecting to the throwaway database: %s", c.redact(err.Error()))
	}
	defer conn.Close(context.WithoutCancel(ctx))

	// The deployed schema: every migration as it is at base.
	for _, f := range base {
		res.BaseFiles++
		for _, s := range f.stmts {
			if _, err := conn.Exec(ctx, f.Up[s.stmt.Start:s.stmt.End]); err != nil {
				if ctx.Err() != nil {
					return res, fmt.Errorf("real database: timed out building the deployed schema")
				}
				return res, fmt.Errorf("building the deployed schema: %s:%d: %s (the deployed migrations must apply to an empty database; extensions and roles they need must exist on the server)", f.Path, s.line, c.redact(pgMessage(err)))
			}
		}
	}
	fmt.Fprintf(c.out, "real database: deployed schema built from %d migration file(s)\n", res.BaseFiles)

	failingBefore := map[int]string{}
	for i, q := range queries {
		if err := tryQuery(ctx, conn, q); err != nil {
			failingBefore[i] = c.redact(pgMessage(err))
		}
	}
	res.Queries = len(queries)

	// The change: the new migrations in order, one statement at a time.
	applied := true
apply:
	for _, f := range added {
		for i := range f.stmts {
			s := &f.stmts[i]
			if _, err := conn.Exec(ctx, f.Up[s.stmt.Start:s.stmt.End]); err != nil {
				if ctx.Err() != nil {
					return res, fmt.Errorf("real database: timed out applying the migrations")
				}
				fd := newFinding(RuleMigrationFails)
				fd.File, fd.Line, fd.Statement = f.Path, s.line, s.text
				fd.PostgresError = c.redact(pgMessage(err))
				fd.stmt = s
				res.Findings = append(res.Findings, fd)
				applied = false
				break apply
			}
			res.Applied++
		}
	}
	fmt.Fprintf(c.out, "real database: applied %d statement(s) of %d new migration file(s)\n", res.Applied, len(added))
	if !applied {
		return res, nil
	}
	for i, q := range queries {
		if msg, ok := failingBefore[i]; ok {
			fd := newFinding(RuleCompatQueryFailsBase)
			fd.File, fd.Line, fd.Statement, fd.PostgresError = q.File, q.Line, collapse(q.SQL), msg
			res.Findings = append(res.Findings, fd)
			continue
		}
		if err := tryQuery(ctx, conn, q); err != nil {
			if ctx.Err() != nil {
				return res, fmt.Errorf("real database: timed out running compat queries")
			}
			fd := newFinding(RuleCompatQueryFails)
			fd.File, fd.Line, fd.Statement = q.File, q.Line, collapse(q.SQL)
			fd.PostgresError = c.redact(pgMessage(err))
			res.Findings = append(res.Findings, fd)
			res.NewFailures++
			continue
		}
		res.QueriesOK++
	}
	if len(queries) > 0 {
		fmt.Fprintf(c.out, "real database: %d of %d compat quer(ies) fail after the migrations\n", res.NewFailures, len(queries))
	}
	return res, nil
}

// tryQuery checks one query against the schema. A query with parameters is
// prepared (PostgreSQL resolves every table, column and type); one without
// is executed inside a transaction that is rolled back, which also catches
// constraint errors such as an INSERT missing a new NOT NULL column.
func tryQuery(ctx context.Context, conn *pgx.Conn, q compatQuery) error {
	if q.params {
		_, err := conn.PgConn().Prepare(ctx, "", q.SQL, nil)
		return err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, q.SQL)
	if rerr := tx.Rollback(context.WithoutCancel(ctx)); err == nil && rerr != nil {
		err = rerr
	}
	return err
}

// pgMessage is PostgreSQL's own message for err ("ERROR: column "x" does
// not exist (SQLSTATE 42703)"), or err's text.
func pgMessage(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		msg := pe.Severity + ": " + pe.Message
		if pe.Detail != "" {
			msg += " (" + pe.Detail + ")"
		}
		return msg + " (SQLSTATE " + pe.Code + ")"
	}
	return err.Error()
}

func randomName() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "pmguard_check_" + hex.EncodeToString(b), nil
}
