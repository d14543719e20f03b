package dora

import (
	"context"
	"fmt"
	"path"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pmguard/pmguard/internal/circleci"
)

// maxBaselinePages bounds the walk past the window's start looking for the
// last successful deploy before it (the lead-time baseline).
const maxBaselinePages = 10

// maxPipelinePages bounds the whole walk: 5000 pages of 20 are 100,000
// pipelines, far more than any window holds.
const maxPipelinePages = 5000

// History is what was fetched: the deploy workflow runs, one small record
// each, however many pipelines were read.
type History struct {
	Deploys   []Deploy
	Pipelines int   // pipelines read
	Pages     int   // pipeline pages read
	Calls     int64 // API requests sent
}

type fetchOptions struct {
	Slug, Branch string
	Workflows    []string // names or globs
	Start, End   time.Time
	Concurrency  int
	MaxPages     int // 0: maxPipelinePages
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

// fetchHistory walks the branch's pipelines newest first, page by page,
// while up to Concurrency requests fetch each pipeline's workflows. Pages
// are processed as they arrive and dropped: memory holds the deploy records
// and the pipelines in flight, whatever the history's size. The walk stops
// at the first page older than the window once a successful deploy before
// the window (the baseline) is known. The first error cancels the rest.
func fetchHistory(ctx context.Context, c *circleci.Client, o fetchOptions) (*History, error) {
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.MaxPages < 1 {
		o.MaxPages = maxPipelinePages
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Concurrency)
	h := &History{}
	var mu sync.Mutex
	var baseline atomic.Bool
	fetch := func(p circleci.Pipeline) error {
		wfs, err := c.Pipelines.Workflows(gctx, p.ID)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, d := range deploysOf(&p, wfs, o.Workflows) {
			if d.Status == "success" && d.Finished.Before(o.Start) {
				baseline.Store(true)
			}
			h.Deploys = append(h.Deploys, d)
		}
		return nil
	}
	// The walk runs ahead of the fetches by a bounded queue: pages are
	// chained by next_page_token, so the walk is the floor of the run's time
	// and must never wait for a page's fetches to finish.
	queue := make(chan circleci.Pipeline, o.Concurrency*queuePerWorker)
	for range o.Concurrency {
		g.Go(func() error {
			for p := range queue {
				if err := fetch(p); err != nil {
					return err
				}
			}
			return nil
		})
	}
	walkErr := walkPipelines(gctx, c, o, h, &baseline, func(p circleci.Pipeline) {
		select {
		case queue <- p:
		case <-gctx.Done():
		}
	})
	close(queue)
	err := g.Wait()
	if err == nil {
		err = walkErr
	}
	h.Calls = c.Calls()
	sort.SliceStable(h.Deploys, func(i, j int) bool { return h.Deploys[i].Created.Before(h.Deploys[j].Created) })
	return h, err
}

// queuePerWorker bounds the pipelines waiting for a fetch: memory stays flat
// whatever the history's size.
const queuePerWorker = 8

// walkPipelines hands each pipeline of the window to start (which blocks
// while the fetch queue is full), paging with the CircleCI
// client's iterator, where the guard against a repeated page token belongs.
// The walk is bounded by MaxPages, so an API that keeps answering with a
// next_page_token (new or repeated) ends with an error, never runs for ever.
func walkPipelines(ctx context.Context, c *circleci.Client, o fetchOptions, h *History, baseline *atomic.Bool, start func(circleci.Pipeline)) error {
	pastStart := 0
	for page, err := range c.Pipelines.Pages(ctx, o.Slug, &circleci.ListPipelinesOptions{Branch: o.Branch}, 0) {
		if err != nil {
			return err
		}
		if h.Pages == o.MaxPages {
			return fmt.Errorf("stopped after %d pages of pipelines without reaching %s, the window's start (the API keeps sending next_page_token)", h.Pages, o.Start.Format(time.DateOnly))
		}
		h.Pages++
		older := true
		for _, p := range page.Items {
			if !p.CreatedAt.Before(o.Start) {
				older = false
			}
			if !p.CreatedAt.Before(o.End) {
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			h.Pipelines++
			start(p)
		}
		if older {
			pastStart++
			if baseline.Load() || pastStart > maxBaselinePages {
				return nil
			}
		}
	}
	return nil
}

// deploysOf keeps the pipeline's workflows that are the deploy workflow.
func deploysOf(p *circleci.Pipeline, wfs []circleci.Workflow, patterns []string) []Deploy {
	var out []Deploy
	rollback := p.BoolParam("pmguard_rollback")
	of := p.StringParam("pmguard_rollback_of")
	for _, w := range wfs {
		if !matches(w.Name, patterns) {
			continue
		}
		d := Deploy{PipelineID: p.ID, Number: p.Number, WorkflowID: w.ID, Workflow: w.Name, Revision: p.Revision(),
			Created: w.CreatedAt, Status: w.Status, Rollback: rollback || of != "", RollbackOf: of}
		if w.StoppedAt != nil {
			d.Finished = *w.StoppedAt
		}
		out = append(out, d)
	}
	return out
}
