package dorastore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Pipeline is one CircleCI pipeline with the facts DORA needs.
type Pipeline struct {
	ID, Project, Branch, Revision string
	Number                        int64
	Created                       time.Time
	// Rollback marks a pipeline started to roll another back (pipeline
	// parameter pmguard_rollback); RollbackOf is the pipeline it rolled back.
	Rollback   bool
	RollbackOf string
	// Settled: every workflow has ended, so the pipeline is never fetched
	// again.
	Settled   bool
	Workflows []Workflow
}

// Workflow is one workflow of a pipeline.
type Workflow struct {
	ID, Name, Status string
	Created, Stopped time.Time // Stopped is zero while it runs
}

// Run is one workflow with its pipeline's facts: what DORA counts from.
type Run struct {
	Pipeline Pipeline // without Workflows
	Workflow Workflow
}

// SavePipelines upserts pipelines with their workflows in one transaction:
// each pipeline lands whole with its workflows, or not at all.
func (s *Store) SavePipelines(ctx context.Context, ps []Pipeline) error {
	if len(ps) == 0 {
		return nil
	}
	return s.tx(ctx, func(x *txn) error {
		pst, err := x.prepare(`INSERT INTO dora_pipelines (id, project, number, branch, revision, created_ms, rollback, rollback_of, settled)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET project = excluded.project, number = excluded.number, branch = excluded.branch,
				revision = excluded.revision, created_ms = excluded.created_ms, rollback = excluded.rollback,
				rollback_of = excluded.rollback_of, settled = excluded.settled`)
		if err != nil {
			return err
		}
		defer pst.Close()
		wst, err := x.prepare(`INSERT INTO dora_workflows (id, pipeline_id, name, status, created_ms, stopped_ms)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET pipeline_id = excluded.pipeline_id, name = excluded.name,
				status = excluded.status, created_ms = excluded.created_ms, stopped_ms = excluded.stopped_ms`)
		if err != nil {
			return err
		}
		defer wst.Close()
		for _, p := range ps {
			if _, err := pst.ExecContext(ctx, p.ID, p.Project, p.Number, p.Branch, p.Revision, ms(p.Created), b2i(p.Rollback), p.RollbackOf, b2i(p.Settled)); err != nil {
				return err
			}
			for _, w := range p.Workflows {
				if _, err := wst.ExecContext(ctx, w.ID, p.ID, w.Name, w.Status, ms(w.Created), ms(w.Stopped)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// SettledSince is the ids of the project's settled pipelines created at or
// after since: the walk skips fetching their workflows again.
func (s *Store) SettledSince(ctx context.Context, project string, since time.Time) (map[string]bool, error) {
	ids, err := queryAll(ctx, s, scanString, `SELECT id FROM dora_pipelines WHERE project = ? AND settled = 1 AND created_ms >= ?`, project, ms(since))
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// Unsettled is the project's pipelines created before `before` with a
// workflow still running or on hold: a sync fetches them by id, however old.
func (s *Store) Unsettled(ctx context.Context, project string, before time.Time) ([]Pipeline, error) {
	return queryAll(ctx, s, func(scan func(...any) error) (p Pipeline, err error) {
		var created int64
		var rb int
		err = scan(&p.ID, &p.Project, &p.Number, &p.Branch, &p.Revision, &created, &rb, &p.RollbackOf)
		p.Created, p.Rollback = fromMS(created), rb == 1
		return p, err
	}, `SELECT id, project, number, branch, revision, created_ms, rollback, rollback_of FROM dora_pipelines
		WHERE project = ? AND settled = 0 AND created_ms < ? ORDER BY created_ms`, project, ms(before))
}

// Runs is every stored workflow of the project's pipelines on branch ("":
// every branch) created at or after since, oldest first.
func (s *Store) Runs(ctx context.Context, project, branch string, since time.Time) ([]Run, error) {
	return queryAll(ctx, s, func(scan func(...any) error) (r Run, err error) {
		var pc, wc, ws int64
		var rb int
		err = scan(&r.Pipeline.ID, &r.Pipeline.Project, &r.Pipeline.Number, &r.Pipeline.Branch, &r.Pipeline.Revision, &pc, &rb,
			&r.Pipeline.RollbackOf, &r.Workflow.ID, &r.Workflow.Name, &r.Workflow.Status, &wc, &ws)
		r.Pipeline.Created, r.Pipeline.Rollback = fromMS(pc), rb == 1
		r.Workflow.Created, r.Workflow.Stopped = fromMS(wc), fromMS(ws)
		return r, err
	}, `SELECT p.id, p.project, p.number, p.branch, p.revision, p.created_ms, p.rollback, p.rollback_of,
			w.id, w.name, w.status, w.created_ms, w.stopped_ms
		FROM dora_pipelines p JOIN dora_workflows w ON w.pipeline_id = p.id
		WHERE p.project = ? AND (? = '' OR p.branch = ?) AND p.created_ms >= ?
		ORDER BY w.created_ms, w.id`, project, branch, branch, ms(since))
}

// Cursor is a project's sync state on a branch: every pipeline created
// before Cursor has been read; the history reaches back to Oldest.
type Cursor struct {
	Project, Branch string
	Cursor, Oldest  time.Time
	Synced          time.Time
}

// Cursor returns the project's sync state, ok false before its first sync.
func (s *Store) Cursor(ctx context.Context, project, branch string) (Cursor, bool, error) {
	c := Cursor{Project: project, Branch: branch}
	var cur, old, syn int64
	err := s.db.QueryRowContext(ctx, s.dialect.rebind(`SELECT cursor_ms, oldest_ms, synced_ms FROM dora_sync WHERE project = ? AND branch = ?`),
		project, branch).Scan(&cur, &old, &syn)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	c.Cursor, c.Oldest, c.Synced = fromMS(cur), fromMS(old), fromMS(syn)
	return c, err == nil, err
}

// SetCursor records a completed sync. It is written only after everything
// the sync read is stored, so a sync that dies before it is read again.
func (s *Store) SetCursor(ctx context.Context, c Cursor) error {
	return s.tx(ctx, func(x *txn) error {
		return x.exec(`INSERT INTO dora_sync (project, branch, cursor_ms, oldest_ms, synced_ms) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (project, branch) DO UPDATE SET cursor_ms = excluded.cursor_ms, oldest_ms = excluded.oldest_ms, synced_ms = excluded.synced_ms`,
			c.Project, c.Branch, ms(c.Cursor), ms(c.Oldest), ms(c.Synced))
	})
}

// Projects is every project the store has synced.
func (s *Store) Projects(ctx context.Context) ([]string, error) {
	return queryAll(ctx, s, scanString, `SELECT DISTINCT project FROM dora_sync ORDER BY project`)
}

// Change is a commit and the successful deploy that first shipped it.
type Change struct {
	Commit, PipelineID string
	Authored, Deployed time.Time
}

// SaveChanges upserts the project's commits; a later attribution (a deploy
// read late) replaces an earlier one.
func (s *Store) SaveChanges(ctx context.Context, project string, cs []Change) error {
	return execEach(ctx, s, `INSERT INTO dora_changes (project, commit_sha, authored_ms, pipeline_id, deployed_ms) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (project, commit_sha) DO UPDATE SET authored_ms = excluded.authored_ms, pipeline_id = excluded.pipeline_id, deployed_ms = excluded.deployed_ms`,
		cs, func(c Change) []any { return []any{project, c.Commit, ms(c.Authored), c.PipelineID, ms(c.Deployed)} })
}

// Changes is the project's commits deployed at or after since.
func (s *Store) Changes(ctx context.Context, project string, since time.Time) ([]Change, error) {
	return queryAll(ctx, s, func(scan func(...any) error) (c Change, err error) {
		var a, d int64
		err = scan(&c.Commit, &c.PipelineID, &a, &d)
		c.Authored, c.Deployed = fromMS(a), fromMS(d)
		return c, err
	}, `SELECT commit_sha, pipeline_id, authored_ms, deployed_ms FROM dora_changes WHERE project = ? AND deployed_ms >= ? ORDER BY deployed_ms, commit_sha`,
		project, ms(since))
}

// Event is one of pmguard's events about a project's deploys.
type Event struct {
	Project, Event, PipelineID string
	Time                       time.Time
}

// SaveEvents upserts events; the same event read from two logs is kept once.
func (s *Store) SaveEvents(ctx context.Context, es []Event) error {
	return execEach(ctx, s, `INSERT INTO dora_events (project, event, pipeline_id, time_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		es, func(e Event) []any { return []any{e.Project, e.Event, e.PipelineID, ms(e.Time)} })
}

// Events is every stored event of the project, oldest first.
func (s *Store) Events(ctx context.Context, project string) ([]Event, error) {
	return queryAll(ctx, s, func(scan func(...any) error) (e Event, err error) {
		var t int64
		err = scan(&e.Project, &e.Event, &e.PipelineID, &t)
		e.Time = fromMS(t)
		return e, err
	}, `SELECT project, event, pipeline_id, time_ms FROM dora_events WHERE project = ? ORDER BY time_ms, event, pipeline_id`, project)
}
