package postmortem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/events"
)

// fetchConcurrency bounds the API requests in flight: a post-mortem reads a
// few dozen resources, well inside CircleCI's rate limits.
const fetchConcurrency = 8

// maxEventLog bounds one downloaded event log artifact.
const maxEventLog = 8 << 20

// rollbackSearchPages bounds the walk for a rollback pipeline that names the
// failed one, when no rollback id was given.
const rollbackSearchPages = 5

type fetcher struct {
	c   *circleci.Client
	sem chan struct{}

	mu      sync.Mutex
	skipped events.Skipped // lines of the artifacts that were not events
}

func (f *fetcher) acquire(ctx context.Context) error {
	if f.sem == nil {
		panic("fetcher used before incident")
	}
	select {
	case f.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fetcher) release() { <-f.sem }

// incident fetches the failed pipeline and its rollback with their
// workflows, jobs and event log artifacts. It returns what it found even when
// part of it failed, with the first error.
func (f *fetcher) incident(ctx context.Context, failedID, rollbackID string, targetNumber int64) ([]Pipeline, []events.Event, []string, error) {
	f.sem = make(chan struct{}, fetchConcurrency)
	var notes []string
	failed, err := f.get(ctx, failedID)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pipeline %s: %w", failedID, err)
	}
	// Started from the rollback pipeline itself: its parameters name the
	// failed one.
	if of := failed.StringParam("pmguard_rollback_of"); of != "" && of != failed.ID {
		if rollbackID == "" {
			rollbackID = failed.ID
		}
		if failed, err = f.get(ctx, of); err != nil {
			return nil, nil, nil, fmt.Errorf("pipeline %s: %w", of, err)
		}
	}
	var rollback *circleci.Pipeline
	if rollbackID != "" {
		if rollback, err = f.get(ctx, rollbackID); err != nil {
			return nil, nil, nil, fmt.Errorf("rollback pipeline %s: %w", rollbackID, err)
		}
	}
	found, later, werr := f.walk(ctx, failed)
	switch {
	case werr != nil:
		notes = append(notes, "Looking for the rollback and the fixing deploy in the project's pipelines failed: "+werr.Error())
	case rollback == nil && found == nil:
		notes = append(notes, fmt.Sprintf("No rollback pipeline naming pipeline #%d was found in the project's recent pipelines.", failed.Number))
	}
	if rollback == nil {
		rollback = found
	}
	fix := f.findFix(ctx, failed, rollback, later)

	targets := []*circleci.Pipeline{failed}
	if rollback != nil {
		targets = append(targets, rollback)
	}
	if fix != nil {
		targets = append(targets, fix)
	}
	out := make([]Pipeline, len(targets))
	var mu sync.Mutex
	var evs []events.Event
	var errs []error
	var wg sync.WaitGroup
	for i, p := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pl, pevs, err := f.runs(ctx, p)
			pl.Rollback = rollback != nil && p.ID == rollback.ID
			pl.Fix = fix != nil && p.ID == fix.ID
			if pl.Rollback {
				f.target(ctx, &pl, p, targetNumber)
			}
			mu.Lock()
			defer mu.Unlock()
			out[i] = pl
			evs = append(evs, pevs...)
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	if f.skipped != nil {
		notes = append(notes, "Event log artifacts: "+f.skipped.String()+"; the timeline may lack their events.")
	}
	return out, evs, notes, errors.Join(errs...)
}

func (f *fetcher) get(ctx context.Context, id string) (*circleci.Pipeline, error) {
	if err := f.acquire(ctx); err != nil {
		return nil, err
	}
	defer f.release()
	return f.c.Pipelines.Get(ctx, id)
}

// walk reads the project's newest pipelines back to the failed one: the
// earliest rollback whose pmguard_rollback_of names it, and every later
// pipeline on the failed one's branch that is not a rollback (oldest
// first), among which the fixing deploy is.
func (f *fetcher) walk(ctx context.Context, failed *circleci.Pipeline) (*circleci.Pipeline, []circleci.Pipeline, error) {
	if failed.ProjectSlug == "" {
		return nil, nil, nil
	}
	var found *circleci.Pipeline
	var later []circleci.Pipeline
	for page, err := range f.c.Pipelines.Pages(ctx, failed.ProjectSlug, nil, rollbackSearchPages) {
		if err != nil {
			return found, later, err
		}
		older := false
		for i := range page.Items {
			p := page.Items[i]
			if !p.CreatedAt.After(failed.CreatedAt) {
				older = true
				break
			}
			switch {
			case p.StringParam("pmguard_rollback_of") == failed.ID:
				found = &p // newest first: keep the earliest rollback
			case !p.BoolParam("pmguard_rollback") && p.StringParam("pmguard_rollback_of") == "" && p.Branch() == failed.Branch() && p.Branch() != "":
				later = append([]circleci.Pipeline{p}, later...)
			}
		}
		if older {
			break
		}
	}
	return found, later, nil
}

// maxFixCandidates bounds the later pipelines read for the fixing deploy.
const maxFixCandidates = 10

// findFix is the root-cause fix's deploy: the first pipeline after the
// rollback (or the failed deploy) on the same branch, with another commit,
// whose workflows succeeded (the last run of each, reruns included). CircleCI's history is all it needs.
func (f *fetcher) findFix(ctx context.Context, failed, rollback *circleci.Pipeline, later []circleci.Pipeline) *circleci.Pipeline {
	after := failed.CreatedAt
	if rollback != nil {
		after = rollback.CreatedAt
	}
	n := 0
	for i := range later {
		p := &later[i]
		if !p.CreatedAt.After(after) || p.Revision() == failed.Revision() {
			continue
		}
		if n++; n > maxFixCandidates {
			break
		}
		if err := f.acquire(ctx); err != nil {
			return nil
		}
		wfs, err := f.c.Pipelines.Workflows(ctx, p.ID)
		f.release()
		if err == nil && succeeded(wfs) {
			return p
		}
	}
	return nil
}

// succeeded says whether every workflow of a pipeline ended in success,
// reruns included (circleci.NewestRuns).
func succeeded(wfs []circleci.Workflow) bool {
	all := make([]*circleci.Workflow, len(wfs))
	for i := range wfs {
		all[i] = &wfs[i]
	}
	latest := circleci.NewestRuns(all)
	for _, w := range latest {
		if w.Status != circleci.StatusSuccess {
			return false
		}
	}
	return len(latest) > 0
}

// target fills in what a rollback rolled back to: the target pipeline
// (from rollback_initiated, else the rollback's pmguard_target_version
// parameter when it is a commit) and its commit's subject.
func (f *fetcher) target(ctx context.Context, pl *Pipeline, p *circleci.Pipeline, number int64) {
	if v := p.StringParam("pmguard_target_version"); len(v) >= 7 && isHex(v) {
		pl.TargetRevision = v
	}
	if number <= 0 || p.ProjectSlug == "" {
		return
	}
	if err := f.acquire(ctx); err != nil {
		return
	}
	t, err := f.c.Pipelines.GetByNumber(ctx, p.ProjectSlug, number)
	f.release()
	if err != nil {
		return
	}
	pl.TargetNumber, pl.TargetRevision = t.Number, t.Revision()
	if t.VCS != nil && t.VCS.Commit != nil && t.VCS.Commit.Subject != nil {
		pl.TargetSubject = *t.VCS.Commit.Subject
	}
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// runs fetches a pipeline's workflows and jobs, and every job's event log
// artifacts, concurrently.
func (f *fetcher) runs(ctx context.Context, p *circleci.Pipeline) (Pipeline, []events.Event, error) {
	out := Pipeline{ID: p.ID, Number: p.Number, ProjectSlug: p.ProjectSlug, Branch: p.Branch(), Tag: p.Tag(),
		Revision: p.Revision(), TriggerType: p.Trigger.Type, Actor: p.Trigger.Actor.Login, Created: p.CreatedAt}
	if p.VCS != nil && p.VCS.Commit != nil && p.VCS.Commit.Subject != nil {
		out.Subject = *p.VCS.Commit.Subject
	}
	if p.VCS != nil && p.VCS.Commit != nil && p.VCS.Commit.Body != nil {
		out.Body = *p.VCS.Commit.Body
	}
	if err := f.acquire(ctx); err != nil {
		return out, nil, err
	}
	wfs, err := f.c.Pipelines.Workflows(ctx, p.ID)
	f.release()
	if err != nil {
		return out, nil, fmt.Errorf("workflows of pipeline #%d: %w", p.Number, err)
	}
	sort.Slice(wfs, func(i, j int) bool { return wfs[i].CreatedAt.Before(wfs[j].CreatedAt) })
	out.Workflows = make([]Workflow, len(wfs))

	var mu sync.Mutex
	var evs []events.Event
	var errs []error
	var wg sync.WaitGroup
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for i, w := range wfs {
		out.Workflows[i] = Workflow{ID: w.ID, Name: w.Name, Status: w.Status, Created: w.CreatedAt}
		if w.StoppedAt != nil {
			out.Workflows[i].Stopped = *w.StoppedAt
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.acquire(ctx); err != nil {
				fail(err)
				return
			}
			jobs, err := f.c.Workflows.Jobs(ctx, w.ID)
			f.release()
			if err != nil {
				fail(fmt.Errorf("jobs of workflow %s: %w", w.Name, err))
				return
			}
			sort.SliceStable(jobs, func(a, b int) bool { return timeOr(jobs[a].StartedAt).Before(timeOr(jobs[b].StartedAt)) })
			list := make([]Job, 0, len(jobs))
			for _, j := range jobs {
				jb := Job{Name: j.Name, Status: j.Status, Started: timeOr(j.StartedAt), Stopped: timeOr(j.StoppedAt)}
				if j.JobNumber != nil {
					jb.Number = *j.JobNumber
					jb.URL = f.c.JobURL(p.ProjectSlug, jb.Number)
					wg.Add(1)
					go func() {
						defer wg.Done()
						jevs, err := f.eventLogs(ctx, p.ProjectSlug, jb.Number)
						mu.Lock()
						defer mu.Unlock()
						evs = append(evs, jevs...)
						if err != nil {
							errs = append(errs, fmt.Errorf("artifacts of job %s (#%d): %w", j.Name, jb.Number, err))
						}
					}()
				}
				list = append(list, jb)
			}
			mu.Lock()
			out.Workflows[i].Jobs = list
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out, evs, errors.Join(errs...)
}

// eventLogs downloads a job's *.jsonl artifacts and reads their events.
func (f *fetcher) eventLogs(ctx context.Context, slug string, number int64) ([]events.Event, error) {
	if err := f.acquire(ctx); err != nil {
		return nil, err
	}
	arts, err := circleci.Collect(f.c.Jobs.Artifacts(ctx, slug, number))
	f.release()
	if err != nil {
		return nil, err
	}
	var out []events.Event
	for _, a := range arts {
		if !isEventLog(a.Path) {
			continue
		}
		if err := f.acquire(ctx); err != nil {
			return out, err
		}
		data, err := f.c.Jobs.Download(ctx, a, maxEventLog)
		f.release()
		if err != nil {
			return out, fmt.Errorf("%s: %w", a.Path, err)
		}
		evs, n, err := events.Read(bytes.NewReader(data))
		if err != nil {
			return out, fmt.Errorf("%s: %w", a.Path, err)
		}
		if n > 0 {
			f.mu.Lock()
			if f.skipped == nil {
				f.skipped = events.Skipped{}
			}
			f.skipped[fmt.Sprintf("job %d's %s", number, a.Path)] += n
			f.mu.Unlock()
		}
		out = append(out, evs...)
	}
	return out, nil
}

func timeOr[T interface{ IsZero() bool }](t *T) T {
	var zero T
	if t == nil {
		return zero
	}
	return *t
}
