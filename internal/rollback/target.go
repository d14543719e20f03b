package rollback

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/verdict"
)

// Version is a parsed version setting.
type Version struct {
	Kind  string // previous, sha, tag, param
	Value string // the SHA, tag or parameter value
	Param string // the parameter name for Kind param
}

var shaRE = regexp.MustCompile(`^[0-9a-fA-F]{7,40}$`)

// VersionForm is the accepted form of the version setting.
const VersionForm = "previous, a commit SHA (7 to 40 hex digits), a git tag (tag:v1.2.3 or v1.2.3), or <pipeline parameter>=<value>"

// String is the version as the setting names it.
func (v Version) String() string {
	switch v.Kind {
	case "previous":
		return "previous"
	case "tag":
		return "tag:" + v.Value
	case "param":
		return v.Param + "=" + v.Value
	}
	return v.Value
}

// ParseVersion parses the version setting.
func ParseVersion(v string) (Version, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "" || v == "previous":
		return Version{Kind: "previous"}, nil
	case strings.HasPrefix(v, "tag:"):
		t := strings.TrimPrefix(v, "tag:")
		if t == "" {
			return Version{}, fmt.Errorf("version %q names no tag; accepted: %s", v, VersionForm)
		}
		return Version{Kind: "tag", Value: t}, nil
	case shaRE.MatchString(v):
		return Version{Kind: "sha", Value: strings.ToLower(v)}, nil
	case strings.Contains(v, "="):
		name, val, _ := strings.Cut(v, "=")
		name = strings.TrimSpace(name)
		if name == "" || strings.ContainsAny(name, " \t/") {
			return Version{}, fmt.Errorf("version %q: %q is not a pipeline parameter name; accepted: %s", v, name, VersionForm)
		}
		return Version{Kind: "param", Param: name, Value: strings.TrimSpace(val)}, nil
	case strings.ContainsAny(v, " \t~^:?*[\\"):
		return Version{}, fmt.Errorf("version %q is not a git tag; accepted: %s", v, VersionForm)
	}
	return Version{Kind: "tag", Value: v}, nil
}

// Target is the version a rollback returns to.
type Target struct {
	Version        string // what the rollback deploys: SHA, tag, parameter value or deploy-marker version
	CurrentVersion string // the version being rolled back (deploy markers)
	PipelineID     string
	PipelineNumber int64
	Revision       string
	Branch         string
	Tag            string
	WorkflowID     string // the target's deploy workflow run (rerun strategy)
	WorkflowName   string
	CreatedAt      time.Time
	Why            string
	PagesSearched  int
	Component      string // deploy markers
	Environment    string
	Namespace      string
}

// Describe names the target for people.
func (t *Target) Describe() string {
	var b strings.Builder
	b.WriteString(t.Version)
	if t.PipelineNumber > 0 {
		fmt.Fprintf(&b, " (pipeline %d", t.PipelineNumber)
		if t.WorkflowName != "" {
			fmt.Fprintf(&b, ", workflow %s", t.WorkflowName)
		}
		if t.Revision != "" && t.Revision != t.Version {
			fmt.Fprintf(&b, ", commit %s", short(t.Revision))
		}
		b.WriteString(")")
	}
	return b.String()
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// matchWorkflow reports whether a workflow name matches the deploy_workflow
// setting: an exact name or a glob (deploy-*).
func matchWorkflow(pattern, name string) bool {
	if pattern == name {
		return true
	}
	ok, err := path.Match(pattern, name)
	return err == nil && ok
}

// findTarget resolves the version to a target. For "previous" it walks the
// branch's pipelines older than the failed one, newest first, and takes the
// first with a successful run of the deploy workflow.
func (r *run) findTarget(ctx context.Context, v Version, pattern string) (*Target, error) {
	cur := r.current
	branch := cur.Branch()
	switch v.Kind {
	case "sha", "tag":
		t := &Target{Version: v.Value, Branch: branch}
		if v.Kind == "sha" {
			t.Revision = v.Value
		} else {
			t.Tag = v.Value
		}
		t.Why = fmt.Sprintf("version %s was given", v.Value)
		if r.o.Strategy != StrategyRerun && r.o.Strategy != StrategyAuto {
			return t, nil
		}
		// rerun (or auto, which may fall back to it) needs a run of the
		// deploy workflow at that version; search for one but do not
		// require it.
		listBranch := branch
		if v.Kind == "tag" {
			listBranch = ""
		}
		found, err := r.walk(ctx, listBranch, pattern, func(p *circleci.Pipeline) bool {
			if v.Kind == "sha" {
				return strings.HasPrefix(strings.ToLower(p.Revision()), v.Value)
			}
			return p.Tag() == v.Value
		}, false)
		if err != nil || found == nil {
			return t, err
		}
		found.Version, found.Why = t.Version, t.Why+fmt.Sprintf("; pipeline %d ran it", found.PipelineNumber)
		if found.Tag == "" {
			found.Tag = t.Tag
		}
		return found, nil
	case "param":
		found, err := r.walk(ctx, branch, pattern, func(p *circleci.Pipeline) bool {
			pv, ok := p.Param(v.Param)
			return ok && fmt.Sprint(pv) == v.Value
		}, true)
		if err != nil {
			return nil, err
		}
		if found == nil {
			return nil, verdict.Failf("no pipeline on branch %s with %s=%s and a successful %q run in the %d most recent pages", branch, v.Param, v.Value, pattern, r.o.MaxPages)
		}
		found.Version = v.Value
		found.Why = fmt.Sprintf("pipeline %d has %s=%s and its %s workflow succeeded", found.PipelineNumber, v.Param, v.Value, found.WorkflowName)
		return found, nil
	}
	found, err := r.walk(ctx, branch, pattern, func(*circleci.Pipeline) bool { return true }, true)
	if err != nil {
		return nil, err
	}
	if found == nil {
		where := "branch " + branch
		if branch == "" {
			where = "this project"
		}
		return nil, verdict.Failf("no previous successful run of workflow %q on %s before pipeline %d (searched %d page(s)); nothing to roll back to: set version to a commit SHA or tag", pattern, where, cur.Number, r.o.MaxPages)
	}
	found.Why = fmt.Sprintf("the last successful run of workflow %q on branch %s before the failed pipeline %d", found.WorkflowName, branch, cur.Number)
	if found.Version != found.Revision {
		found.Why += fmt.Sprintf(", a rollback to %s (%s)", found.Version, ParamTargetVersion)
	}
	return found, nil
}

// walk searches pipelines older than the current one, newest first, for the
// first that accepts keep and (if needSuccess) has a successful run of a
// workflow matching pattern, in at most MaxPages pages. The next page is
// fetched while the workflows of the current one are read; the answer is
// the same as a sequential walk's.
func (r *run) walk(ctx context.Context, branch, pattern string, keep func(*circleci.Pipeline) bool, needSuccess bool) (*Target, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cur := r.current
	pager := r.c.Pipelines.Pager(r.o.ProjectSlug, &circleci.ListPipelinesOptions{Branch: branch}, r.o.MaxPages)
	next := r.fetch(ctx, pager)
	for n := 1; ; n++ {
		po := <-next
		if po.err != nil {
			return nil, fmt.Errorf("listing pipelines: %w", po.err)
		}
		if po.page == nil {
			return nil, nil
		}
		if n == 1 && branch == cur.Branch() && len(po.page.Items) > 0 {
			r.newest = &po.page.Items[0]
		}
		var cands []circleci.Pipeline
		for _, p := range po.page.Items {
			if p.Number < cur.Number && p.ID != cur.ID && keep(&p) {
				cands = append(cands, p)
			}
		}
		if !r.o.Sequential {
			next = r.fetch(ctx, pager)
		}
		t, err := r.scan(ctx, cands, pattern, needSuccess)
		if err != nil || t != nil {
			if t != nil {
				t.PagesSearched = n
			}
			return t, err
		}
		if r.o.Sequential {
			next = r.fetch(ctx, pager)
		}
	}
}

type pageOut struct {
	page *circleci.Page[circleci.Pipeline]
	err  error
}

// fetch reads the pager's next page, in the background unless the walk is
// sequential. The walk never has two fetches of one pager in flight.
func (r *run) fetch(ctx context.Context, pager *circleci.Pager[circleci.Pipeline]) <-chan pageOut {
	ch := make(chan pageOut, 1)
	read := func() {
		p, err := pager.Next(ctx)
		ch <- pageOut{p, err}
	}
	if r.o.Sequential {
		read()
	} else {
		go read()
	}
	return ch
}

// scan reads the candidates' workflows, newest first and up to Concurrency
// at a time, and returns the target in the first candidate (in order) that
// has one. Once a candidate answers (a match or an error), no later one is
// read; reads still in flight are cancelled when scan returns.
func (r *run) scan(ctx context.Context, cands []circleci.Pipeline, pattern string, needSuccess bool) (*Target, error) {
	ctx, cancel := context.WithCancel(ctx)
	targets := make([]*Target, len(cands))
	errs := make([]error, len(cands))
	done := make([]chan struct{}, len(cands))
	for i := range done {
		done[i] = make(chan struct{})
	}
	var answered atomic.Int64 // the lowest candidate that answered
	answered.Store(int64(len(cands)))
	var g errgroup.Group
	limit := max(r.o.Concurrency, 1)
	if r.o.Sequential {
		limit = 1
	}
	g.SetLimit(limit)
	launched := make(chan struct{})
	go func() {
		defer close(launched)
		for i := range cands {
			g.Go(func() error {
				defer close(done[i])
				if int64(i) > answered.Load() {
					return nil // an earlier candidate decides the page
				}
				wfs, err := r.c.Pipelines.Workflows(ctx, cands[i].ID)
				targets[i], errs[i] = pick(&cands[i], wfs, pattern, needSuccess), err
				if err != nil || targets[i] != nil {
					lowerTo(&answered, int64(i))
				}
				return nil
			})
		}
	}()
	defer func() {
		cancel()
		<-launched
		_ = g.Wait() // the workers record their own errors
	}()
	for i := range cands {
		<-done[i]
		if errs[i] != nil {
			return nil, fmt.Errorf("workflows of pipeline %d: %w", cands[i].Number, errs[i])
		}
		if targets[i] != nil {
			return targets[i], nil
		}
	}
	return nil, nil
}

// lowerTo sets a to v unless it is already lower.
func lowerTo(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v >= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// pick returns the target in pipeline p, if a workflow matching pattern ran
// there (successfully, when needSuccess).
func pick(p *circleci.Pipeline, wfs []circleci.Workflow, pattern string, needSuccess bool) *Target {
	var best *circleci.Workflow
	for i := range wfs {
		w := &wfs[i]
		if !matchWorkflow(pattern, w.Name) {
			continue
		}
		if needSuccess && w.Status != circleci.StatusSuccess {
			continue
		}
		if best == nil || w.CreatedAt.After(best.CreatedAt) {
			best = w
		}
	}
	if best == nil {
		return nil
	}
	return &Target{Version: deployedVersion(p), PipelineID: p.ID, PipelineNumber: p.Number, Revision: p.Revision(), Branch: p.Branch(), Tag: p.Tag(),
		WorkflowID: best.ID, WorkflowName: best.Name, CreatedAt: p.CreatedAt}
}

// deployedVersion is the version a pipeline deployed: its commit, unless it
// was a rollback, which runs at the branch's head but deploys the version
// its pmguard_target_version names.
func deployedVersion(p *circleci.Pipeline) string {
	if p.BoolParam(ParamRollback) {
		if tv := p.StringParam(ParamTargetVersion); tv != "" {
			return tv
		}
	}
	return p.Revision()
}
