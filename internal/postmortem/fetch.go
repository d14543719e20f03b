package postmortem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
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
func (f *fetcher) incident(ctx context.Context, failedID, rollbackID string) ([]Pipeline, []events.Event, []string, error) {
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
	switch {
	case rollbackID != "":
		if rollback, err = f.get(ctx, rollbackID); err != nil {
			return nil, nil, nil, fmt.Errorf("rollback pipeline %s: %w", rollbackID, err)
		}
	default:
		rollback, err = f.findRollback(ctx, failed)
		if err != nil {
			notes = append(notes, "Looking for the rollback pipeline failed: "+err.Error())
		} else if rollback == nil {
			notes = append(notes, fmt.Sprintf("No rollback pipeline naming pipeline #%d was found in the project's recent pipelines.", failed.Number))
		}
	}

	targets := []*circleci.Pipeline{failed}
	if rollback != nil {
		targets = append(targets, rollback)
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
			pl.Rollback = i == 1
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
	return out, evs, notes, errors.Join(errs...)
}

func (f *fetcher) get(ctx context.Context, id string) (*circleci.Pipeline, error) {
	if err := f.acquire(ctx); err != nil {
		return nil, err
	}
	defer f.release()
	return f.c.Pipelines.Get(ctx, id)
}

// findRollback walks the project's newest pipelines back to the failed one
// for a rollback whose pmguard_rollback_of names it.
func (f *fetcher) findRollback(ctx context.Context, failed *circleci.Pipeline) (*circleci.Pipeline, error) {
	if failed.ProjectSlug == "" {
		return nil, nil
	}
	var found *circleci.Pipeline
	for page, err := range f.c.Pipelines.Pages(ctx, failed.ProjectSlug, nil, rollbackSearchPages) {
		if err != nil {
			return nil, err
		}
		older := false
		for i := range page.Items {
			p := page.Items[i]
			if p.CreatedAt.Before(failed.CreatedAt) {
				older = true
				break
			}
			if p.StringParam("pmguard_rollback_of") == failed.ID {
				found = &p // newest first: keep the earliest rollback
			}
		}
		if older {
			break
		}
	}
	return found, nil
}

// runs fetches a pipeline's workflows and jobs, and every job's event log
// artifacts, concurrently.
func (f *fetcher) runs(ctx context.Context, p *circleci.Pipeline) (Pipeline, []events.Event, error) {
	out := Pipeline{ID: p.ID, Number: p.Number, ProjectSlug: p.ProjectSlug, Branch: p.Branch(), Tag: p.Tag(),
		Revision: p.Revision(), TriggerType: p.Trigger.Type, Actor: p.Trigger.Actor.Login, Created: p.CreatedAt}
	if p.VCS != nil && p.VCS.Commit != nil && p.VCS.Commit.Subject != nil {
		out.Subject = *p.VCS.Commit.Subject
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
		evs, _, err := events.Read(bytes.NewReader(data))
		if err != nil {
			return out, fmt.Errorf("%s: %w", a.Path, err)
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
