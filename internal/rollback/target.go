package rollback

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

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
	found.Version = found.Revision
	found.Why = fmt.Sprintf("the last successful run of workflow %q on branch %s before the failed pipeline %d", found.WorkflowName, branch, cur.Number)
	return found, nil
}

// walk searches pipelines older than the current one, newest first, for the
// first that accepts keep and (if needSuccess) has a successful run of a
// workflow matching pattern. Reads run concurrently: the next page is
// fetched while the workflows of the current page are, up to Concurrency
// requests at a time; the answer is the same as a sequential walk's.
func (r *run) walk(ctx context.Context, branch, pattern string, keep func(*circleci.Pipeline) bool, needSuccess bool) (*Target, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cur := r.current
	opts := &circleci.ListPipelinesOptions{Branch: branch}
	type pageOut struct {
		p   *circleci.Page[circleci.Pipeline]
		err error
	}
	fetch := func(token string) <-chan pageOut {
		ch := make(chan pageOut, 1)
		if r.o.Sequential {
			p, err := r.c.Pipelines.List(ctx, r.o.ProjectSlug, opts, token)
			ch <- pageOut{p, err}
			return ch
		}
		go func() {
			p, err := r.c.Pipelines.List(ctx, r.o.ProjectSlug, opts, token)
			ch <- pageOut{p, err}
		}()
		return ch
	}
	next := fetch("")
	for page := 1; page <= r.o.MaxPages; page++ {
		po := <-next
		if po.err != nil {
			return nil, fmt.Errorf("listing pipelines: %w", po.err)
		}
		if page == 1 && branch == cur.Branch() && len(po.p.Items) > 0 {
			r.mu.Lock()
			r.newest = &po.p.Items[0]
			r.mu.Unlock()
		}
		var cands []circleci.Pipeline
		for _, p := range po.p.Items {
			if p.Number < cur.Number && p.ID != cur.ID && keep(&p) {
				cands = append(cands, p)
			}
		}
		last := po.p.NextPageToken == "" || page == r.o.MaxPages
		if !last && !r.o.Sequential {
			next = fetch(po.p.NextPageToken)
		}
		// Workers take the candidates in order, so the newest are read
		// first; the scan below waits for each in order and stops at the
		// first match, cancelling reads still in flight.
		wfs := make([][]circleci.Workflow, len(cands))
		errs := make([]error, len(cands))
		done := make([]chan struct{}, len(cands))
		for i := range done {
			done[i] = make(chan struct{})
		}
		pageCtx, cancelPage := context.WithCancel(ctx)
		if r.o.Sequential {
			go func() {
				for i := range cands {
					wfs[i], errs[i] = r.c.Pipelines.Workflows(pageCtx, cands[i].ID)
					close(done[i])
					if errs[i] != nil || pick(&cands[i], wfs[i], pattern, needSuccess) != nil {
						for j := i + 1; j < len(cands); j++ {
							close(done[j])
						}
						return
					}
				}
			}()
		} else {
			idx := make(chan int, len(cands))
			for i := range cands {
				idx <- i
			}
			close(idx)
			for w := 0; w < min(r.o.Concurrency, len(cands)); w++ {
				go func() {
					for i := range idx {
						if pageCtx.Err() == nil {
							wfs[i], errs[i] = r.c.Pipelines.Workflows(pageCtx, cands[i].ID)
						}
						close(done[i])
					}
				}()
			}
		}
		for i := range cands {
			<-done[i]
			if errs[i] != nil {
				cancelPage()
				return nil, fmt.Errorf("workflows of pipeline %d: %w", cands[i].Number, errs[i])
			}
			if t := pick(&cands[i], wfs[i], pattern, needSuccess); t != nil {
				cancelPage()
				t.PagesSearched = page
				return t, nil
			}
		}
		cancelPage()
		if last {
			return nil, nil
		}
		if r.o.Sequential {
			next = fetch(po.p.NextPageToken)
		}
	}
	return nil, nil
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
	return &Target{PipelineID: p.ID, PipelineNumber: p.Number, Revision: p.Revision(), Branch: p.Branch(), Tag: p.Tag(),
		WorkflowID: best.ID, WorkflowName: best.Name, CreatedAt: p.CreatedAt}
}
