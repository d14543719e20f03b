package dora

import (
	"context"
	"fmt"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/dorastore"
)

// maxBaselinePages bounds the walk past the history's start looking for the
// last successful deploy before it (the lead-time baseline).
const maxBaselinePages = 10

// maxPipelinePages bounds one project's walk: 5000 pages of 20 are 100,000
// pipelines, far more than any history holds.
const maxPipelinePages = 5000

// maxOrgWalk bounds how far back the organisation's pipeline list is read.
// The list is one chain of pages for every project, so it is only the
// incremental path (and how new projects are found); a project the list
// does not reach far enough for is walked on its own, in parallel.
const maxOrgWalk = 7 * 24 * time.Hour

// orgProjectLimit is how many projects CircleCI's organisation list covers.
const orgProjectLimit = 250

// queuePerWorker bounds the pipelines waiting for a fetch: memory stays flat
// whatever the history's size.
const queuePerWorker = 8

// saveBatch is how many fetched pipelines are written per transaction.
const saveBatch = 100

// target is one project to sync and the rules of its deploys.
type target struct {
	Project   string
	Branch    string   // "" for every branch
	Workflows []string // deploy workflow names or globs
	// Start is how far back the stored history must reach.
	Start time.Time
}

type syncOptions struct {
	Org         string // organisation slug for GET /pipeline?org-slug= ("": none)
	Targets     []target
	Overlap     time.Duration
	Now         time.Time
	Concurrency int
	MaxPages    int // per project walk; 0: maxPipelinePages
	// Rule gives the rules of a project the organisation's list found that
	// Targets does not name; nil skips such projects.
	Rule func(project string) (target, bool)
}

// SyncStats says what a sync read.
type SyncStats struct {
	Projects  int   `json:"projects"`
	Pages     int64 `json:"pages"`     // pipeline list pages read
	Pipelines int64 `json:"pipelines"` // pipelines seen in those pages
	Fetched   int64 `json:"fetched"`   // pipelines whose workflows were fetched
	Calls     int64 `json:"calls"`     // API requests sent
}

// matches reports whether a workflow name matches one of the patterns.
func matches(name string, patterns []string) bool {
	for _, p := range patterns {
		if ok, err := path.Match(p, name); err == nil && ok || p == name {
			return true
		}
	}
	return false
}

// terminal workflow statuses: a workflow in one never changes again.
var terminal = map[string]bool{"success": true, "failed": true, "error": true, "canceled": true, "not_run": true, "unauthorized": true}

// syncer is one sync: walks that hand pipelines to a shared pool of
// workers fetching their workflows, and a writer batching them into the
// store. Nothing is read twice in one sync; a project's cursor moves only
// once everything its walk found is stored.
type syncer struct {
	c     *circleci.Client
	st    *dorastore.Store
	o     syncOptions
	stats SyncStats
	queue chan job

	mu      sync.Mutex
	pending []dorastore.Pipeline
}

// job is one pipeline to fetch, with what the walk needs to hear back.
type job struct {
	p        circleci.Pipeline
	t        *target
	baseline *atomic.Bool // set when a successful deploy ended before t.Start
}

// syncHistory brings the store up to date for every target (and, with Org,
// every project the organisation's pipeline list shows), incrementally:
// each project's walk reads back to its cursor less the overlap, skips the
// pipelines already stored as settled, and fetches by id the older ones
// that were still running. The first error cancels the rest; what was
// stored stays, and the next sync reads the rest.
func syncHistory(ctx context.Context, c *circleci.Client, st *dorastore.Store, o syncOptions) (*SyncStats, error) {
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.MaxPages < 1 {
		o.MaxPages = maxPipelinePages
	}
	s := &syncer{c: c, st: st, o: o, queue: make(chan job, o.Concurrency*queuePerWorker)}
	calls0 := c.Calls()
	g, gctx := errgroup.WithContext(ctx)
	workers := &sync.WaitGroup{}
	for range o.Concurrency {
		workers.Add(1)
		g.Go(func() error {
			defer workers.Done()
			for j := range s.queue {
				if err := s.fetch(gctx, j); err != nil {
					return err
				}
			}
			return nil
		})
	}
	var cursors []dorastore.Cursor
	var walkErr error
	func() {
		defer close(s.queue)
		cursors, walkErr = s.walkAll(gctx)
	}()
	err := g.Wait()
	if err == nil {
		err = walkErr
	}
	// What was fetched is stored even when the sync failed or was cancelled:
	// the next sync then reads only the rest.
	if ferr := s.flush(context.WithoutCancel(ctx)); err == nil {
		err = ferr
	}
	s.stats.Calls = c.Calls() - calls0
	if err != nil {
		return &s.stats, err
	}
	for _, cur := range cursors {
		if err := st.SetCursor(ctx, cur); err != nil {
			return &s.stats, err
		}
	}
	return &s.stats, nil
}

// walkAll runs the organisation walk, then the per-project walks of the
// projects it does not cover, and returns the cursors to record.
func (s *syncer) walkAll(ctx context.Context) ([]dorastore.Cursor, error) {
	byProject := map[string]*target{}
	var order []*target
	add := func(t target) *target {
		if x, ok := byProject[t.Project]; ok {
			return x
		}
		x := &t
		byProject[t.Project] = x
		order = append(order, x)
		return x
	}
	for _, t := range s.o.Targets {
		add(t)
	}
	// Each project's boundary: its cursor less the overlap, or its history
	// start when the store does not reach back that far yet.
	type plan struct {
		boundary time.Time
		first    bool // no stored history reaching Start: look for the baseline
		oldest   time.Time
	}
	plans := map[string]*plan{}
	planFor := func(t *target) (*plan, error) {
		if p, ok := plans[t.Project]; ok {
			return p, nil
		}
		cur, ok, err := s.st.Cursor(ctx, t.Project, t.Branch)
		if err != nil {
			return nil, err
		}
		p := &plan{boundary: t.Start, first: true, oldest: t.Start}
		if ok && !t.Start.Before(cur.Oldest) {
			// What lies before the history's start is never reported: an
			// overlap reaching past it reads no more than a first sync.
			p.boundary, p.first, p.oldest = maxTime(cur.Cursor.Add(-s.o.Overlap), t.Start), false, cur.Oldest
		}
		plans[t.Project] = p
		return p, nil
	}
	covered := map[string]bool{}
	if s.o.Org != "" {
		// The organisation walk reaches back to the earliest boundary of the
		// projects it can serve, at most maxOrgWalk.
		reach := maxTime(s.o.Now.Add(-s.o.Overlap), s.o.Now.Add(-maxOrgWalk))
		for _, t := range order {
			p, err := planFor(t)
			if err != nil {
				return nil, err
			}
			if !p.first && p.boundary.Before(reach) && !p.boundary.Before(s.o.Now.Add(-maxOrgWalk)) {
				reach = p.boundary
			}
		}
		seen, err := s.walkOrg(ctx, reach, func(project string) *target {
			if t, ok := byProject[project]; ok {
				return t
			}
			if s.o.Rule == nil {
				return nil
			}
			t, ok := s.o.Rule(project)
			if !ok {
				return nil
			}
			return add(t)
		}, func(t *target) bool {
			p, err := planFor(t)
			return err == nil && !p.first && !p.boundary.Before(reach)
		})
		if err != nil {
			return nil, err
		}
		for _, t := range order {
			p, err := planFor(t)
			if err != nil {
				return nil, err
			}
			// CircleCI lists the 250 most recently built projects: when the
			// walk saw that many, a project it did not see may have been left
			// out rather than quiet, so it is walked on its own.
			if !p.first && !p.boundary.Before(reach) && (len(seen) < orgProjectLimit || seen[t.Project]) {
				covered[t.Project] = true
			}
		}
	}
	s.stats.Projects = len(order)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.o.Concurrency)
	for _, t := range order {
		p, err := planFor(t)
		if err != nil {
			return nil, err
		}
		if covered[t.Project] {
			g.Go(func() error { return s.refetchUnsettled(gctx, t, p.boundary) })
			continue
		}
		g.Go(func() error {
			if err := s.walkProject(gctx, t, p.boundary, p.first); err != nil {
				return fmt.Errorf("%s: %w", t.Project, err)
			}
			return s.refetchUnsettled(gctx, t, p.boundary)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []dorastore.Cursor
	for _, t := range order {
		p := plans[t.Project]
		out = append(out, dorastore.Cursor{Project: t.Project, Branch: t.Branch, Cursor: s.o.Now, Oldest: p.oldest, Synced: s.o.Now})
	}
	return out, nil
}

// walkOrg reads the organisation's pipeline list (every followed project,
// newest first) back to reach, handing each pipeline of a covered project
// on its branch to the workers; projects it finds are added through rule.
func (s *syncer) walkOrg(ctx context.Context, reach time.Time, rule func(string) *target, covers func(*target) bool) (map[string]bool, error) {
	seen := map[string]bool{}
	settled := map[string]map[string]bool{}
	for page, err := range s.c.Pipelines.OrgPages(ctx, s.o.Org, 0) {
		if err != nil {
			return nil, err
		}
		s.addPages(1)
		// Newest first: once a page reaches past the boundary, no later
		// page holds anything newer.
		older := len(page.Items) == 0 || page.Items[len(page.Items)-1].CreatedAt.Before(reach)
		for _, p := range page.Items {
			seen[p.ProjectSlug] = true
			t := rule(p.ProjectSlug)
			if t == nil {
				continue
			}
			if p.CreatedAt.Before(reach) || !covers(t) || (t.Branch != "" && p.Branch() != t.Branch) {
				continue
			}
			if settled[t.Project] == nil {
				ids, err := s.st.SettledSince(ctx, t.Project, reach)
				if err != nil {
					return nil, err
				}
				settled[t.Project] = ids
			}
			s.stats.add(&s.stats.Pipelines, 1)
			if settled[t.Project][p.ID] {
				continue
			}
			if err := s.hand(ctx, job{p: p, t: t, baseline: &atomic.Bool{}}); err != nil {
				return nil, err
			}
		}
		if older {
			return seen, nil
		}
	}
	return seen, nil
}

// walkProject reads one project's pipelines newest first, down to the
// boundary (and, on a first sync, on until a successful deploy before it:
// the lead-time baseline, at most maxBaselinePages further).
func (s *syncer) walkProject(ctx context.Context, t *target, boundary time.Time, first bool) error {
	settled, err := s.st.SettledSince(ctx, t.Project, time.Time{})
	if err != nil {
		return err
	}
	baseline := &atomic.Bool{}
	pages, pastStart := 0, 0
	for page, err := range s.c.Pipelines.Pages(ctx, t.Project, &circleci.ListPipelinesOptions{Branch: t.Branch}, 0) {
		if err != nil {
			return err
		}
		if pages == s.o.MaxPages {
			return fmt.Errorf("stopped after %d pages of pipelines without reaching %s (the API keeps sending next_page_token)", pages, boundary.Format(time.DateOnly))
		}
		pages++
		s.addPages(1)
		older := len(page.Items) == 0 || page.Items[len(page.Items)-1].CreatedAt.Before(boundary)
		for _, p := range page.Items {
			s.stats.add(&s.stats.Pipelines, 1)
			if settled[p.ID] {
				continue
			}
			if err := s.hand(ctx, job{p: p, t: t, baseline: baseline}); err != nil {
				return err
			}
		}
		if older {
			pastStart++
			if !first || baseline.Load() || pastStart > maxBaselinePages {
				return nil
			}
		}
	}
	return nil
}

// refetchUnsettled fetches, by id, the project's stored pipelines older
// than the walk's boundary whose workflows had not ended (on hold for days,
// say): their end is read however late it comes.
func (s *syncer) refetchUnsettled(ctx context.Context, t *target, boundary time.Time) error {
	ps, err := s.st.Unsettled(ctx, t.Project, boundary)
	if err != nil {
		return err
	}
	for _, sp := range ps {
		p := circleci.Pipeline{ID: sp.ID, ProjectSlug: sp.Project, Number: sp.Number, CreatedAt: sp.Created,
			VCS: &circleci.VCS{Branch: sp.Branch, Revision: sp.Revision}}
		if sp.Rollback || sp.RollbackOf != "" {
			p.TriggerParameters = map[string]any{"pmguard_rollback": sp.Rollback, "pmguard_rollback_of": sp.RollbackOf}
		}
		if err := s.hand(ctx, job{p: p, t: t, baseline: &atomic.Bool{}}); err != nil {
			return err
		}
	}
	return nil
}

func (s *syncer) hand(ctx context.Context, j job) error {
	select {
	case s.queue <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *syncer) addPages(n int64) { s.stats.add(&s.stats.Pages, n) }

func (st *SyncStats) add(f *int64, n int64) { atomic.AddInt64(f, n) }

// fetch reads one pipeline's workflows and queues the record for the store.
func (s *syncer) fetch(ctx context.Context, j job) error {
	wfs, err := s.c.Pipelines.Workflows(ctx, j.p.ID)
	if err != nil {
		return fmt.Errorf("%s: %w", j.t.Project, err)
	}
	s.stats.add(&s.stats.Fetched, 1)
	rec := record(&j.p, wfs, j.t.Project)
	// A pipeline with no workflow yet may still get them: settled only once
	// it is older than the overlap.
	if len(wfs) == 0 && j.p.CreatedAt.After(s.o.Now.Add(-s.o.Overlap)) {
		rec.Settled = false
	}
	for _, w := range rec.Workflows {
		if w.Status == "success" && !w.Stopped.IsZero() && w.Stopped.Before(j.t.Start) && matches(w.Name, j.t.Workflows) {
			j.baseline.Store(true)
		}
	}
	s.mu.Lock()
	s.pending = append(s.pending, rec)
	var batch []dorastore.Pipeline
	if len(s.pending) >= saveBatch {
		batch, s.pending = s.pending, nil
	}
	s.mu.Unlock()
	// A batch fetched is written even if the sync is being cancelled.
	return s.st.SavePipelines(context.WithoutCancel(ctx), batch)
}

// flush writes what is left of the last batch.
func (s *syncer) flush(ctx context.Context) error {
	s.mu.Lock()
	batch := s.pending
	s.pending = nil
	s.mu.Unlock()
	// A batch fetched is written even if the sync is being cancelled.
	return s.st.SavePipelines(context.WithoutCancel(ctx), batch)
}

// record is the store's record of a pipeline and its workflows.
func record(p *circleci.Pipeline, wfs []circleci.Workflow, project string) dorastore.Pipeline {
	if project == "" {
		project = p.ProjectSlug
	}
	of := p.StringParam("pmguard_rollback_of")
	rec := dorastore.Pipeline{ID: p.ID, Project: project, Branch: p.Branch(), Revision: p.Revision(), Number: p.Number,
		Created: p.CreatedAt, Rollback: p.BoolParam("pmguard_rollback") || of != "", RollbackOf: of, Settled: true}
	for _, w := range wfs {
		sw := dorastore.Workflow{ID: w.ID, Name: w.Name, Status: w.Status, Created: w.CreatedAt}
		if w.StoppedAt != nil {
			sw.Stopped = *w.StoppedAt
		}
		if !terminal[w.Status] {
			rec.Settled = false
		}
		rec.Workflows = append(rec.Workflows, sw)
	}
	return rec
}

// deploys are the runs of the deploy workflow among the stored runs.
func deploys(runs []dorastore.Run, patterns []string) []Deploy {
	var out []Deploy
	for _, r := range runs {
		if !matches(r.Workflow.Name, patterns) {
			continue
		}
		p := r.Pipeline
		out = append(out, Deploy{PipelineID: p.ID, Number: p.Number, WorkflowID: r.Workflow.ID, Workflow: r.Workflow.Name,
			Revision: p.Revision, Created: r.Workflow.Created, Finished: r.Workflow.Stopped, Status: r.Workflow.Status,
			Rollback: p.Rollback, RollbackOf: p.RollbackOf})
	}
	return out
}
