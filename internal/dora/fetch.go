package dora

import (
	"context"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pmguard/pmguard/internal/clock"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/httpx"
)

// maxBaselinePages bounds the walk past the window's start looking for the
// last successful deploy before it (the lead-time baseline).
const maxBaselinePages = 10

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
// while Concurrency workers fetch each pipeline's workflows. Pages are
// processed as they arrive and dropped: memory holds the deploy records and
// at most a few pages in flight, whatever the history's size. The walk stops
// at the first page older than the window once a successful deploy before
// the window (the baseline) is known.
func fetchHistory(ctx context.Context, c *circleci.Client, o fetchOptions) (*History, error) {
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan circleci.Pipeline, 2*o.Concurrency)
	h := &History{}
	var mu sync.Mutex
	var firstErr error
	var baseline atomic.Bool
	setErr := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				wfs, err := c.Pipelines.Workflows(ctx, p.ID)
				if err != nil {
					setErr(err)
					continue
				}
				recs := deploysOf(&p, wfs, o.Workflows)
				mu.Lock()
				for _, d := range recs {
					if d.Status == "success" && d.Finished.Before(o.Start) {
						baseline.Store(true)
					}
					h.Deploys = append(h.Deploys, d)
				}
				mu.Unlock()
			}
		}()
	}

	pastStart := 0
	var walkErr error
walk:
	for page, err := range c.Pipelines.Pages(ctx, o.Slug, &circleci.ListPipelinesOptions{Branch: o.Branch}, 0) {
		if err != nil {
			walkErr = err
			break
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
			h.Pipelines++
			select {
			case work <- p:
			case <-ctx.Done():
				break walk
			}
		}
		if older {
			pastStart++
			if baseline.Load() || pastStart > maxBaselinePages {
				break
			}
		}
	}
	close(work)
	wg.Wait()
	h.Calls = c.Calls()
	if walkErr != nil && firstErr == nil {
		firstErr = walkErr
	}
	sort.SliceStable(h.Deploys, func(i, j int) bool { return h.Deploys[i].Created.Before(h.Deploys[j].Created) })
	return h, firstErr
}

// deploysOf keeps the pipeline's workflows that are the deploy workflow.
func deploysOf(p *circleci.Pipeline, wfs []circleci.Workflow, patterns []string) []Deploy {
	var out []Deploy
	rollback := paramBool(p, "pmguard_rollback")
	of := paramString(p, "pmguard_rollback_of")
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

func paramString(p *circleci.Pipeline, name string) string {
	v, ok := p.Param(name)
	if !ok {
		return ""
	}
	s, _ := v.(string)
	return strings.TrimSpace(s)
}

func paramBool(p *circleci.Pipeline, name string) bool {
	v, ok := p.Param(name)
	if !ok {
		return false
	}
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return x == "true"
	}
	return false
}

// Throttle is an http.RoundTripper that keeps pmguard within CircleCI's
// rate limits across all concurrent requests: when any request is answered
// 429, every request waits out its Retry-After (CircleCI publishes no fixed
// limit, it answers 429 with Retry-After); MaxRPS, when set, also spaces
// requests evenly.
type Throttle struct {
	Next   http.RoundTripper
	MaxRPS float64
	Now    func() time.Time
	Sleep  func(ctx context.Context, d time.Duration) error

	mu         sync.Mutex
	pauseUntil time.Time
	nextSlot   time.Time
	paused     atomic.Int64
}

// Paused is how many times a 429 paused every request.
func (t *Throttle) Paused() int64 { return t.paused.Load() }

func (t *Throttle) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Throttle) sleep(ctx context.Context, d time.Duration) error {
	if t.Sleep != nil {
		return t.Sleep(ctx, d)
	}
	return clock.Sleep(ctx, d)
}

// RoundTrip waits for the shared pause and the next free slot, then sends.
func (t *Throttle) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	now := t.now()
	at := now
	if t.pauseUntil.After(at) {
		at = t.pauseUntil
	}
	if t.MaxRPS > 0 {
		if t.nextSlot.After(at) {
			at = t.nextSlot
		}
		t.nextSlot = at.Add(time.Duration(float64(time.Second) / t.MaxRPS))
	}
	t.mu.Unlock()
	if wait := at.Sub(now); wait > 0 {
		if err := t.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		d, ok := httpx.RetryAfter(resp.Header, t.now())
		if !ok || d <= 0 {
			d = time.Second
		}
		t.mu.Lock()
		if until := t.now().Add(d); until.After(t.pauseUntil) {
			t.pauseUntil = until
			t.paused.Add(1)
		}
		t.mu.Unlock()
	}
	return resp, err
}
