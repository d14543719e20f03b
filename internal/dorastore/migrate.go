package dorastore

import (
	"context"
	"fmt"
	"time"
)

// migrations are the store's schema, in order; each runs once, in a
// transaction with the row that records it. A released migration is never
// edited: a change is a new one at the end. docs/dora.md documents the
// resulting schema.
var migrations = []string{
	// 1: the history.
	`CREATE TABLE dora_pipelines (
		id          TEXT PRIMARY KEY,
		project     TEXT NOT NULL,
		number      BIGINT NOT NULL,
		branch      TEXT NOT NULL,
		revision    TEXT NOT NULL,
		created_ms  BIGINT NOT NULL,
		rollback    INTEGER NOT NULL,
		rollback_of TEXT NOT NULL,
		settled     INTEGER NOT NULL
	);
	CREATE INDEX dora_pipelines_project ON dora_pipelines (project, created_ms);
	CREATE TABLE dora_workflows (
		id          TEXT PRIMARY KEY,
		pipeline_id TEXT NOT NULL REFERENCES dora_pipelines (id),
		name        TEXT NOT NULL,
		status      TEXT NOT NULL,
		created_ms  BIGINT NOT NULL,
		stopped_ms  BIGINT NOT NULL
	);
	CREATE INDEX dora_workflows_pipeline ON dora_workflows (pipeline_id);
	CREATE TABLE dora_sync (
		project   TEXT NOT NULL,
		branch    TEXT NOT NULL,
		cursor_ms BIGINT NOT NULL,
		oldest_ms BIGINT NOT NULL,
		synced_ms BIGINT NOT NULL,
		PRIMARY KEY (project, branch)
	);
	CREATE TABLE dora_changes (
		project     TEXT NOT NULL,
		commit_sha  TEXT NOT NULL,
		authored_ms BIGINT NOT NULL,
		pipeline_id TEXT NOT NULL,
		deployed_ms BIGINT NOT NULL,
		PRIMARY KEY (project, commit_sha)
	);
	CREATE TABLE dora_events (
		project     TEXT NOT NULL,
		event       TEXT NOT NULL,
		pipeline_id TEXT NOT NULL,
		time_ms     BIGINT NOT NULL,
		PRIMARY KEY (project, event, pipeline_id, time_ms)
	);`,
}

// SchemaVersion is the version a migrated store is at.
var SchemaVersion = len(migrations)

// migrate applies the migrations the store lacks, in one transaction with
// the rows that record them; two jobs migrating at once wait for each other
// (PostgreSQL: an advisory lock; SQLite: the write lock an immediate
// transaction takes).
func (s *Store) migrate(ctx context.Context) error {
	return s.tx(ctx, func(x *txn) error {
		if s.dialect.lock != "" {
			if err := x.exec(s.dialect.lock); err != nil {
				return err
			}
		}
		if err := x.exec(`CREATE TABLE IF NOT EXISTS dora_schema (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)`); err != nil {
			return err
		}
		var have int
		if err := x.queryRow(`SELECT COALESCE(MAX(version), 0) FROM dora_schema`).Scan(&have); err != nil {
			return err
		}
		if have > len(migrations) {
			return fmt.Errorf("the store is at schema version %d, newer than this pmguard knows (%d): use a newer pmguard", have, len(migrations))
		}
		for v := have + 1; v <= len(migrations); v++ {
			if err := x.exec(migrations[v-1]); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
			if err := x.exec(`INSERT INTO dora_schema (version, applied_ms) VALUES (?, ?)`, v, time.Now().UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	})
}
