package dorastore

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/pgtest"
)

// stores opens the embedded store and, on a real PostgreSQL server, the
// shared one: every test runs against both dialects.
func stores(t *testing.T) map[string]func(t *testing.T) *Store {
	var once sync.Once
	var url string
	return map[string]func(t *testing.T) *Store{
		"sqlite": func(t *testing.T) *Store {
			s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "dora.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func(t *testing.T) *Store {
			once.Do(func() { url, _ = pgtest.Start(t) })
			s, err := OpenPostgres(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				s.db.Exec(`DROP TABLE dora_workflows, dora_pipelines, dora_sync, dora_changes, dora_events, dora_schema`) //nolint:errcheck
				s.Close()
			})
			return s
		},
	}
}

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// Upserts are idempotent: saving the same pipelines twice, or a pipeline
// again once its workflow ended, keeps one row each with the latest facts;
// migrating twice (a second job opening the store) changes nothing.
func TestUpsertsAndMigrations(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			if err := s.migrate(ctx); err != nil {
				t.Fatalf("second migration: %v", err)
			}
			running := Pipeline{ID: "p1", Project: "gh/acme/shop", Branch: "main", Revision: "abc", Number: 7, Created: t0,
				Workflows: []Workflow{{ID: "w1", Name: "deploy", Status: "running", Created: t0}}}
			for range 2 {
				if err := s.SavePipelines(ctx, []Pipeline{running}); err != nil {
					t.Fatal(err)
				}
			}
			if u, err := s.Unsettled(ctx, "gh/acme/shop", t0.Add(time.Hour)); err != nil || len(u) != 1 || u[0].ID != "p1" {
				t.Fatalf("unsettled %+v %v", u, err)
			}
			done := running
			done.Settled = true
			done.Workflows = []Workflow{{ID: "w1", Name: "deploy", Status: "success", Created: t0, Stopped: t0.Add(5 * time.Minute)}}
			if err := s.SavePipelines(ctx, []Pipeline{done}); err != nil {
				t.Fatal(err)
			}
			runs, err := s.Runs(ctx, "gh/acme/shop", "main", t0.Add(-time.Hour))
			if err != nil || len(runs) != 1 || runs[0].Workflow.Status != "success" || !runs[0].Workflow.Stopped.Equal(t0.Add(5*time.Minute)) || runs[0].Pipeline.Number != 7 {
				t.Fatalf("runs %+v %v", runs, err)
			}
			if u, _ := s.Unsettled(ctx, "gh/acme/shop", t0.Add(time.Hour)); len(u) != 0 {
				t.Errorf("still unsettled: %+v", u)
			}
			if st, _ := s.SettledSince(ctx, "gh/acme/shop", t0); !st["p1"] {
				t.Errorf("p1 not settled")
			}
			ev := Event{Project: "gh/acme/shop", Event: "canary_started", PipelineID: "p1", Time: t0}
			for range 2 {
				if err := s.SaveEvents(ctx, []Event{ev}); err != nil {
					t.Fatal(err)
				}
			}
			if es, _ := s.Events(ctx, "gh/acme/shop"); len(es) != 1 || es[0] != ev {
				t.Errorf("events %+v, want %+v", es, ev)
			}
			// A deploy read late attributes the commit again: the later one wins.
			first := Change{Commit: "abc", PipelineID: "p0", Authored: t0.Add(-time.Hour), Deployed: t0}
			later := Change{Commit: "abc", PipelineID: "p1", Authored: t0.Add(-time.Hour), Deployed: t0.Add(time.Minute)}
			for _, ch := range []Change{first, later} {
				if err := s.SaveChanges(ctx, "gh/acme/shop", []Change{ch}); err != nil {
					t.Fatal(err)
				}
			}
			if cs, err := s.Changes(ctx, "gh/acme/shop", t0); err != nil || len(cs) != 1 || cs[0] != later {
				t.Errorf("changes %+v %v, want [%+v]", cs, err, later)
			}
			c := Cursor{Project: "gh/acme/shop", Branch: "main", Cursor: t0, Oldest: t0.Add(-time.Hour), Synced: t0}
			if err := s.SetCursor(ctx, c); err != nil {
				t.Fatal(err)
			}
			c.Cursor = t0.Add(time.Hour)
			if err := s.SetCursor(ctx, c); err != nil {
				t.Fatal(err)
			}
			if got, ok, err := s.Cursor(ctx, "gh/acme/shop", "main"); !ok || err != nil || !got.Cursor.Equal(t0.Add(time.Hour)) {
				t.Errorf("cursor %+v %v %v", got, ok, err)
			}
			if ps, _ := s.Projects(ctx); len(ps) != 1 {
				t.Errorf("projects %v", ps)
			}
		})
	}
}
