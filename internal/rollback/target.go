package rollback

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/verdict"
)

// Version is a parsed version setting.
type Version struct {
	Kind  string // previous, sha, tag, param, pipeline
	Value string // the SHA, tag or parameter value
	Param string // the parameter name for Kind param
	// Pipeline is the number a pipeline:<number> version names. Once
	// resolved, the version is the commit or tag that pipeline deployed
	// (Kind sha or tag), PipelineID its id and from the pipeline.
	Pipeline   int64
	PipelineID string
	from       *circleci.Pipeline
}

var shaRE = regexp.MustCompile(`^[0-9a-fA-F]{7,40}$`)

// tagRE is a git tag name: none of the characters git refuses in a ref
// (white space, ~ ^ : ? * [ \), in either form of a tag version.
var tagRE = regexp.MustCompile(`^[^\s~^:?*\[\\]+$`)

// VersionForm is the accepted form of the version setting.
const VersionForm = "previous, a commit SHA (7 to 40 hex digits), a git tag (tag:v1.2.3 or v1.2.3), pipeline:<number> (what that pipeline deployed), or <pipeline parameter>=<value>"

// String is the version as the setting names it.
func (v Version) String() string {
	if v.Pipeline > 0 {
		return fmt.Sprintf("pipeline:%d", v.Pipeline)
	}
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

// shown is the version as people wrote it: a tag without tag:, a
// pipeline:<number> as that.
func (v Version) shown() string {
	if v.Pipeline > 0 || v.Kind == "param" || v.Kind == "previous" {
		return v.String()
	}
	return v.Value
}

// VersionError is a version setting ParseVersion rejects.
type VersionError struct {
	Value string
	Cause string // what is wrong with it
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("version %q: %s; accepted: %s", e.Value, e.Cause, VersionForm)
}

// ParseVersion parses the version setting; a bad one is a *VersionError.
func ParseVersion(v string) (Version, error) {
	v = strings.TrimSpace(v)
	bad := func(format string, a ...any) (Version, error) {
		return Version{}, &VersionError{Value: v, Cause: fmt.Sprintf(format, a...)}
	}
	switch {
	case v == "" || v == "previous":
		return Version{Kind: "previous"}, nil
	case strings.HasPrefix(v, "pipeline:"):
		n, err := strconv.ParseInt(strings.TrimPrefix(v, "pipeline:"), 10, 64)
		if err != nil || n < 1 {
			return bad("names no pipeline number")
		}
		return Version{Kind: "pipeline", Pipeline: n}, nil
	case strings.HasPrefix(v, "tag:"):
		t := strings.TrimPrefix(v, "tag:")
		if t == "" {
			return bad("names no tag")
		}
		if !tagRE.MatchString(t) {
			return bad("not a git tag")
		}
		return Version{Kind: "tag", Value: t}, nil
	case shaRE.MatchString(v):
		return Version{Kind: "sha", Value: strings.ToLower(v)}, nil
	case strings.Contains(v, "="):
		name, val, _ := strings.Cut(v, "=")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if name == "" || strings.ContainsAny(name, " \t/") {
			return bad("%q is not a pipeline parameter name", name)
		}
		if val == "" {
			return bad("names no value for pipeline parameter %s", name)
		}
		return Version{Kind: "param", Param: name, Value: val}, nil
	case !tagRE.MatchString(v):
		return bad("not a git tag")
	}
	return Version{Kind: "tag", Value: v}, nil
}

// Target is the version a rollback returns to.
type Target struct {
	Version        string // what the rollback deploys: SHA, tag, parameter value or deploy-marker version
	CurrentVersion string // the version being rolled back (deploy markers)
	PipelineID     string
	PipelineNumber int64
	Revision       string // the commit the target pipeline ran at (a rollback: its branch's head)
	// Commit is the commit the target deploys, when known: its SHA, or the
	// commit its pipeline ran when that is what it deployed ("" for a tag
	// or marker version a rollback pipeline deployed).
	Commit       string
	Branch       string
	Tag          string
	WorkflowID   string // the target's deploy workflow run (rerun strategy)
	WorkflowName string
	// DeployWorkflows are the names of the target pipeline's workflows
	// that match deploy_workflow, each of whose newest runs succeeded.
	DeployWorkflows []string
	CreatedAt       time.Time
	Why             string
	PagesSearched   int
	Component       string // deploy markers
	Environment     string
	Namespace       string
	// Skipped are the successful deploys passed over, and why (a known-bad
	// version, a rolled-back pipeline).
	Skipped []string
	// KnownBad says why the given version's newest deploy shows it bad (it
	// failed, or was rolled back); "" when it does not.
	KnownBad string
	// Unproven says why no record shows the given version deployed
	// successfully; "" when one does. Warning is what the run says of it.
	Unproven, Warning string
}

// Describe names the target for people.
func (t *Target) Describe() string {
	var b strings.Builder
	b.WriteString(t.Version)
	if t.PipelineNumber > 0 {
		fmt.Fprintf(&b, " (pipeline %d", t.PipelineNumber)
		if len(t.DeployWorkflows) > 1 {
			fmt.Fprintf(&b, ", workflows %s", strings.Join(t.DeployWorkflows, ", "))
		} else if t.WorkflowName != "" {
			fmt.Fprintf(&b, ", workflow %s", t.WorkflowName)
		}
		if t.Commit != "" && !sameCommit(t.Commit, t.Version) {
			fmt.Fprintf(&b, ", commit %s", short(t.Commit))
		}
		b.WriteString(")")
	}
	return b.String()
}

// deployRuns names the target's deploy workflows for people.
func (t *Target) deployRuns() string {
	if len(t.DeployWorkflows) > 1 {
		return "deploy workflows " + strings.Join(t.DeployWorkflows, ", ")
	}
	return t.WorkflowName + " workflow"
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

// ref is the pipelines a walk reads: those of one branch, those that ran
// at a tag, or (for a pipeline with neither) all of the project's.
type ref struct {
	branch string
	tags   bool
}

// refOf is the pipelines a failed pipeline's target comes from: those of
// its branch, or for a tag deploy (a tag and no branch) those that ran at a
// tag, never another branch's.
func refOf(p *circleci.Pipeline) ref {
	if p.Branch() == "" && p.Tag() != "" {
		return ref{tags: true}
	}
	return ref{branch: p.Branch()}
}

// holds reports whether p is one of the ref's pipelines. The API lists one
// branch's pipelines, or every branch's; this checks each one it lists.
func (f ref) holds(p *circleci.Pipeline) bool {
	switch {
	case f.tags:
		return p.Tag() != ""
	case f.branch != "":
		return p.Branch() == f.branch
	}
	return true
}

// where names the ref's pipelines for people: "on branch main".
func (f ref) where() string {
	switch {
	case f.tags:
		return "among the pipelines that ran at a tag"
	case f.branch != "":
		return "on branch " + f.branch
	}
	return "in this project"
}

// findTarget resolves the version to a target. For "previous" it walks the
// pipelines of the failed one's branch (or, for a tag deploy, those that ran
// at a tag) older than it, newest first, and takes the first whose deploy
// succeeded and whose version is not known to be bad.
func (r *run) findTarget(ctx context.Context, v Version, pattern string) (*Target, error) {
	cur := r.current
	branch, on := cur.Branch(), refOf(cur)
	if v.from != nil {
		on = refOf(v.from) // the pipeline given: its branch, or the tags
	}
	switch v.Kind {
	case "sha", "tag":
		t := &Target{Version: v.Value, Branch: branch}
		if v.Kind == "sha" {
			t.Revision, t.Commit = v.Value, v.Value
		} else {
			t.Tag = v.Value
		}
		t.Why = fmt.Sprintf("version %s was given", v.shown())
		// Every strategy searches the history for the version's newest
		// deploy: it decides whether the version is known bad (vetGiven),
		// and rerun needs its run of the deploy workflow.
		search := on
		if v.Kind == "tag" {
			search = ref{tags: true}
		}
		// A pipeline ran the version when it deployed it: a rollback that
		// ran at its branch's head deployed its target, not that head. A
		// commit goes by its full SHA and every abbreviation of it, either
		// way round (a rollback to bbbbbbb deployed bbbb...).
		found, err := r.walk(ctx, search, pattern, func(p *circleci.Pipeline) bool {
			return slices.ContainsFunc(versionNames(p), func(n string) bool {
				if v.Kind == "sha" {
					return sameCommit(n, v.Value)
				}
				return n == v.Value
			})
		}, false)
		if err != nil {
			return nil, err
		}
		if found == nil {
			t.Unproven = fmt.Sprintf("no deploy of it %s in the %d most recent page(s) of pipelines", search.where(), r.o.MaxPages)
			return t, nil
		}
		found.Version, found.Why = t.Version, t.Why+fmt.Sprintf("; pipeline %d ran it", found.PipelineNumber)
		if found.Tag == "" {
			found.Tag = t.Tag
		}
		return found, nil
	case "param":
		found, err := r.walk(ctx, on, pattern, func(p *circleci.Pipeline) bool {
			pv, ok := p.Param(v.Param)
			return ok && fmt.Sprint(pv) == v.Value
		}, false)
		if err != nil {
			return nil, err
		}
		if found == nil {
			return nil, verdict.Failf("no pipeline %s with %s=%s and a %q run in the %d most recent pages", on.where(), v.Param, v.Value, pattern, r.o.MaxPages)
		}
		found.Version = v.Value
		found.Why = fmt.Sprintf("pipeline %d has %s=%s and ran %s", found.PipelineNumber, v.Param, v.Value, found.deployRuns())
		return found, nil
	}
	found, err := r.walk(ctx, on, pattern, func(*circleci.Pipeline) bool { return true }, true)
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, verdict.Failf("no previous successful run of workflow %q %s before pipeline %d (searched %d page(s)); nothing to roll back to: set version to a commit SHA or tag", pattern, on.where(), cur.Number, r.o.MaxPages)
	}
	if len(found.DeployWorkflows) > 1 {
		found.Why = fmt.Sprintf("the newest pipeline %s before the failed pipeline %d whose %s all succeeded and whose version is not known to be bad", on.where(), cur.Number, found.deployRuns())
	} else {
		found.Why = fmt.Sprintf("the newest successful run of workflow %q %s before the failed pipeline %d whose version is not known to be bad", found.WorkflowName, on.where(), cur.Number)
	}
	switch {
	case found.Version == found.Revision || sameCommit(found.Version, found.Revision):
	case found.Branch != "":
		found.Why += fmt.Sprintf("; pipeline %d was a rollback, so it deployed %s (%s), not its branch head %s", found.PipelineNumber, found.Version, ParamTargetVersion, short(found.Revision))
	default:
		found.Why += fmt.Sprintf("; pipeline %d was a rollback: it deployed %s (%s)", found.PipelineNumber, found.Version, ParamTargetVersion)
	}
	if len(found.Skipped) > 0 {
		found.Why += "; passed over: " + strings.Join(found.Skipped, "; ")
	}
	return found, nil
}

// redeploysFailure says why the target is the version being rolled back, or
// "" when it is not. The walk for "previous" never picks it; a version the
// user gives, or a deploy marker's, can.
func (r *run) redeploysFailure(t *Target) string {
	if t.CurrentVersion != "" && t.Version == t.CurrentVersion {
		return fmt.Sprintf("deploy markers show %s in %s at %s", t.Component, t.Environment, t.CurrentVersion)
	}
	if v := r.version; v.Kind == "param" {
		if pv, ok := r.current.Param(v.Param); ok && fmt.Sprint(pv) == v.Value {
			return fmt.Sprintf("pipeline %d ran with %s=%s", r.current.Number, v.Param, v.Value)
		}
		return ""
	}
	why, _ := newHistory(r.current).bad.why(t.Version)
	return why
}

// walk searches pipelines older than the current one, newest first, for the
// first that accepts keep and (if needSuccess) whose deploy succeeded (the
// newest run of each workflow matching pattern) and deployed a version not
// known to be bad, in at most MaxPages pages. The next page is fetched while the
// workflows of the current one are read; the answer is the same as a
// sequential walk's.
func (r *run) walk(ctx context.Context, on ref, pattern string, keep func(*circleci.Pipeline) bool, needSuccess bool) (*Target, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cur := r.current
	h := newHistory(cur)
	own := on == refOf(cur) // the failed pipeline's own pipelines
	pager := r.c.Pipelines.Pager(r.o.ProjectSlug, &circleci.ListPipelinesOptions{Branch: on.branch}, r.o.MaxPages)
	next := r.fetch(ctx, pager)
	for n := 1; ; n++ {
		po := <-next
		if po.err != nil {
			return nil, fmt.Errorf("listing pipelines: %w", po.err)
		}
		if po.page == nil {
			return h.ran, nil
		}
		var cands []circleci.Pipeline
		for i, p := range po.page.Items {
			h.rollbackOf(&p)
			h.bad.learn(&p)
			if !on.holds(&p) {
				continue
			}
			// The failed pipeline's own rollbacks are newer than it: a
			// rerun of its deploy after them is a new attempt at it, not a
			// rerun rollback.
			if own && r.newest == nil && p.StringParam(ParamRollbackOf) != cur.ID {
				r.newest = &po.page.Items[i]
			}
			if p.Number < cur.Number && p.ID != cur.ID && keep(&p) {
				cands = append(cands, p)
			}
		}
		if !r.o.Sequential {
			next = r.fetch(ctx, pager)
		}
		t, err := r.scan(ctx, cands, pattern, needSuccess, h)
		if err != nil || t != nil {
			if t != nil {
				t.PagesSearched = n
				t.Skipped = h.skipped
			}
			return t, err
		}
		if r.o.Sequential {
			next = r.fetch(ctx, pager)
		}
	}
}

// history is what the walk learnt so far, newest first: the versions known
// to be bad and the pipelines that were rolled back.
type history struct {
	bad        badVersions
	rolledBack map[string]string // pipeline id -> by which pipeline
	skipped    []string          // successful deploys passed over, and why
	// ran is the newest pipeline that ran a given version without a
	// deploy that decides (cancelled, running): the walk's answer when no
	// older one decides.
	ran *Target
	// failedAt is when the failed pipeline started: deploy runs created
	// after it (reruns) are rollbacks of this failure under way, not
	// history, or concurrent callers would choose different targets.
	failedAt time.Time
}

func newHistory(failed *circleci.Pipeline) *history {
	h := &history{bad: badVersions{tagRev: map[string]string{}}, rolledBack: map[string]string{}, failedAt: failed.CreatedAt}
	h.bad.learn(failed)
	h.bad.add(fmt.Sprintf("its deploy failed in pipeline %d", failed.Number), append(versionNames(failed), failed.Revision())...)
	return h
}

// rollbackOf records that p rolled back the pipeline it names.
func (h *history) rollbackOf(p *circleci.Pipeline) {
	if of := p.StringParam(ParamRollbackOf); of != "" {
		if _, ok := h.rolledBack[of]; !ok {
			h.rolledBack[of] = fmt.Sprintf("pipeline %d rolled it back", p.Number)
		}
	}
}

// judge reads one pipeline's deploy, newest pipeline first, and returns the
// target if the pipeline is one.
func (h *history) judge(p *circleci.Pipeline, wfs []circleci.Workflow, pattern string, needSuccess bool) *Target {
	version, names := deployedVersion(p), versionNames(p)
	d := deployRuns(wfs, pattern, h.failedAt)
	if !needSuccess {
		// A given version: its newest deploy that says something decides.
		if len(d.runs) == 0 {
			return nil
		}
		w := d.lastOK
		if w == nil {
			w = d.newest()
		}
		t := targetOf(p, w, d)
		status, failed := d.outcome()
		switch why, rolledBack := h.rolledBack[p.ID]; {
		case rolledBack:
			t.KnownBad = why
		case status == circleci.StatusFailed:
			t.KnownBad = d.failedWhy(failed, p.Number)
		case status != circleci.StatusSuccess:
			// Cancelled, not run, on hold or running: says nothing, so an
			// older deploy may; this one is what a rerun can still use.
			if h.ran == nil {
				t.Unproven = fmt.Sprintf("its deploy in pipeline %d did not succeed (%s), and no older deploy of it decides", p.Number, strings.Join(d.statuses(), ", "))
				h.ran = t
			}
			return nil
		}
		return t
	}
	status, failed := d.outcome()
	if why, ok := h.rolledBack[p.ID]; ok {
		h.bad.add(why, names...)
		if status == circleci.StatusSuccess {
			h.skipped = append(h.skipped, fmt.Sprintf("pipeline %d (%s): %s", p.Number, short(version), why))
		}
		return nil
	}
	switch status {
	case circleci.StatusSuccess:
		if why, ok := h.bad.why(names...); ok {
			h.skipped = append(h.skipped, fmt.Sprintf("pipeline %d (%s): %s", p.Number, short(version), why))
			return nil
		}
		return targetOf(p, d.newest(), d)
	case circleci.StatusFailed:
		h.bad.add(d.failedWhy(failed, p.Number), names...)
	}
	// No deploy, or one cancelled, not run, on hold or running (and none
	// failed): says nothing about the version.
	return nil
}

// badVersions are the versions known to be bad, newest evidence first. One
// version goes by several names: a commit SHA in full or abbreviated (a
// rollback to bbbbbbb deployed bbbb...), and a tag, which is the commit a
// pipeline with both ran at.
type badVersions struct {
	list   []badVersion
	tagRev map[string]string // tag -> revision, from pipelines that had both
}

type badVersion struct{ name, why string }

// learn records the commit a tag pointed at when p ran at a tag. The walk
// reads newest first, so a tag that moved keeps its newest commit.
func (b *badVersions) learn(p *circleci.Pipeline) {
	if tag, rev := p.Tag(), p.Revision(); tag != "" && rev != "" {
		if _, ok := b.tagRev[tag]; !ok {
			b.tagRev[tag] = rev
		}
	}
}

// add records the names of a version as bad, for why; a name already
// recorded keeps its reason.
func (b *badVersions) add(why string, names ...string) {
	for _, n := range names {
		if n != "" && !slices.ContainsFunc(b.list, func(e badVersion) bool { return e.name == n }) {
			b.list = append(b.list, badVersion{n, why})
		}
	}
}

// why says why the version that goes by any of names is known to be bad.
func (b *badVersions) why(names ...string) (string, bool) {
	for _, e := range b.list {
		for _, n := range names {
			if n != "" && b.same(e.name, n) {
				return e.why, true
			}
		}
	}
	return "", false
}

// same reports whether two names name one version: the same text, one
// commit SHA an abbreviation of the other, or a tag and its commit.
func (b *badVersions) same(x, y string) bool {
	if x == y {
		return true
	}
	for _, cx := range []string{x, b.tagRev[x]} {
		for _, cy := range []string{y, b.tagRev[y]} {
			if cx != "" && cy != "" && sameCommit(cx, cy) {
				return true
			}
		}
	}
	return false
}

// sameCommit reports whether two commit SHAs are one: equal, or one (7 hex
// digits at least) the start of the other.
func sameCommit(x, y string) bool {
	if !shaRE.MatchString(x) || !shaRE.MatchString(y) {
		return x == y
	}
	x, y = strings.ToLower(x), strings.ToLower(y)
	if len(x) > len(y) {
		x, y = y, x
	}
	return strings.HasPrefix(y, x)
}

// deploy is a pipeline's deploy as the runs of the workflows matching the
// deploy_workflow pattern show it: a glob may match several (deploy-eu,
// deploy-us), and the deploy is good only when each of them is.
type deploy struct {
	// runs is the newest run that decided (succeeded or failed) of each
	// matching workflow name (a rerun is newer than the run it repeats), or
	// its newest run when none decided.
	runs []*circleci.Workflow
	// lastOK is the newest successful run of any of them.
	lastOK *circleci.Workflow
}

// deployRuns reads the runs of the workflows matching pattern among the
// runs created by the time before.
func deployRuns(wfs []circleci.Workflow, pattern string, before time.Time) deploy {
	var d deploy
	var matching []*circleci.Workflow
	for i := range wfs {
		w := &wfs[i]
		if !matchWorkflow(pattern, w.Name) || w.CreatedAt.After(before) {
			continue
		}
		matching = append(matching, w)
		if w.Status == circleci.StatusSuccess && (d.lastOK == nil || w.CreatedAt.After(d.lastOK.CreatedAt)) {
			d.lastOK = w
		}
	}
	// A run that was cancelled, not run, is on hold or still running says
	// nothing about the version: the newest run that decided (succeeded or
	// failed) is the workflow's outcome, or the newest run when none did.
	d.runs = circleci.NewestRuns(slices.DeleteFunc(slices.Clone(matching), func(w *circleci.Workflow) bool { return !decides(w) }))
	for _, w := range circleci.NewestRuns(matching) {
		if !slices.ContainsFunc(d.runs, func(x *circleci.Workflow) bool { return x.Name == w.Name }) {
			d.runs = append(d.runs, w)
		}
	}
	return d
}

// decides reports whether a run says something about the version it ran:
// it succeeded or failed.
func decides(w *circleci.Workflow) bool {
	switch w.Status {
	case circleci.StatusSuccess, circleci.StatusFailed, circleci.StatusError, circleci.StatusFailing, circleci.StatusUnauthorized:
		return true
	}
	return false
}

// outcome is the deploy's status: failed when the newest run of any
// matching workflow failed (failed, error, failing, unauthorized; those
// runs are returned), success when the newest run of every one succeeded,
// "" otherwise (no run, or one cancelled, not run, on hold or running).
func (d deploy) outcome() (string, []*circleci.Workflow) {
	var failed []*circleci.Workflow
	ok := len(d.runs) > 0
	for _, w := range d.runs {
		switch w.Status {
		case circleci.StatusSuccess:
		case circleci.StatusFailed, circleci.StatusError, circleci.StatusFailing, circleci.StatusUnauthorized:
			failed = append(failed, w)
			ok = false
		default:
			ok = false
		}
	}
	switch {
	case len(failed) > 0:
		return circleci.StatusFailed, failed
	case ok:
		return circleci.StatusSuccess, nil
	}
	return "", nil
}

// newest is the newest of the runs (nil when there is none).
func (d deploy) newest() *circleci.Workflow {
	var out *circleci.Workflow
	for _, w := range d.runs {
		if out == nil || w.CreatedAt.After(out.CreatedAt) {
			out = w
		}
	}
	return out
}

// statuses are the runs' names and statuses, for people.
func (d deploy) statuses() []string {
	out := make([]string, 0, len(d.runs))
	for _, w := range d.runs {
		out = append(out, w.Name+" "+w.Status)
	}
	return out
}

// names are the matching workflows' names, sorted.
func (d deploy) names() []string {
	out := make([]string, 0, len(d.runs))
	for _, w := range d.runs {
		out = append(out, w.Name)
	}
	slices.Sort(out)
	return out
}

// failedWhy says why a failed deploy makes its version bad, naming the
// workflows that failed when the pattern matched several.
func (d deploy) failedWhy(failed []*circleci.Workflow, number int64) string {
	if len(d.runs) < 2 {
		return fmt.Sprintf("its deploy failed in pipeline %d", number)
	}
	names := make([]string, 0, len(failed))
	for _, w := range failed {
		names = append(names, w.Name)
	}
	return fmt.Sprintf("its deploy failed in pipeline %d (%s %s)", number, strings.Join(names, ", "), failed[0].Status)
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

// scan reads the candidates' workflows, up to Concurrency at a time, and
// judges them in order, newest first: the first that is a target is
// returned. Once a candidate decides, no later one is read; reads still in
// flight are cancelled when scan returns.
func (r *run) scan(ctx context.Context, cands []circleci.Pipeline, pattern string, needSuccess bool, h *history) (*Target, error) {
	ctx, cancel := context.WithCancel(ctx)
	wfs := make([][]circleci.Workflow, len(cands))
	errs := make([]error, len(cands))
	done := make([]chan struct{}, len(cands))
	for i := range done {
		done[i] = make(chan struct{})
	}
	var answered atomic.Int64 // the candidate that decided
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
				wfs[i], errs[i] = r.c.Pipelines.Workflows(ctx, cands[i].ID)
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
		if t := h.judge(&cands[i], wfs[i], pattern, needSuccess); t != nil {
			lowerTo(&answered, int64(i))
			return t, nil
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

// targetOf is the target a pipeline's deploy makes; w is the run a rerun
// repeats.
func targetOf(p *circleci.Pipeline, w *circleci.Workflow, d deploy) *Target {
	return &Target{Version: deployedVersion(p), PipelineID: p.ID, PipelineNumber: p.Number, Revision: p.Revision(), Commit: deployedCommit(p), Branch: p.Branch(), Tag: p.Tag(),
		WorkflowID: w.ID, WorkflowName: w.Name, DeployWorkflows: d.names(), CreatedAt: p.CreatedAt}
}

// versionNames are the names the version a pipeline deployed goes by: its
// commit and tag; for a rollback, its pmguard_target_version, and also the
// commit and tag it ran at when they are that version (a rollback of a tag
// deploy runs at the target's tag).
func versionNames(p *circleci.Pipeline) []string {
	v, rev, tag := deployedVersion(p), p.Revision(), p.Tag()
	if v != rev && v != tag && !sameCommit(v, rev) {
		return []string{v} // a rollback that ran at its branch's head
	}
	var out []string
	for _, n := range []string{v, rev, tag} {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// deployedCommit is the commit a pipeline deployed: the one it ran at,
// unless it was a rollback that deployed another version (then that
// version when it is a commit SHA, else "": a tag's commit is not known).
func deployedCommit(p *circleci.Pipeline) string {
	v, rev := deployedVersion(p), p.Revision()
	switch {
	case v == rev || sameCommit(v, rev) || (v != "" && v == p.Tag()):
		return rev
	case shaRE.MatchString(v):
		return v
	}
	return ""
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

// resolveVersion turns a pipeline:<number> version into what that pipeline
// deployed (a rollback pipeline: its pmguard_target_version), read through
// the API; other versions are returned as they are. A number that names
// no earlier pipeline of the project is refused like a known-bad version.
func (r *run) resolveVersion(ctx context.Context) (Version, error) {
	v := r.o.Version
	if v.Kind != "pipeline" {
		return v, nil
	}
	switch cur := r.current; {
	case v.Pipeline == cur.Number:
		return v, r.badVersion(fmt.Sprintf("pipeline %d is the failed pipeline, the version being rolled back", v.Pipeline))
	case v.Pipeline > cur.Number:
		return v, r.badVersion(fmt.Sprintf("pipeline %d is newer than the failed pipeline %d: a rollback goes back to an earlier pipeline", v.Pipeline, cur.Number))
	}
	p, err := r.c.Pipelines.GetByNumber(ctx, r.o.ProjectSlug, v.Pipeline)
	if circleci.IsNotFound(err) {
		return v, r.badVersion(fmt.Sprintf("project %s has no pipeline %d", r.o.ProjectSlug, v.Pipeline))
	}
	if err != nil {
		return v, fmt.Errorf("pipeline %d: %w", v.Pipeline, err)
	}
	out := Version{Kind: "sha", Value: strings.ToLower(deployedVersion(p)), Pipeline: v.Pipeline, PipelineID: p.ID, from: p}
	switch d := deployedVersion(p); {
	case d == "":
		return v, r.badVersion(fmt.Sprintf("pipeline %d names no commit it deployed", v.Pipeline))
	case p.Branch() == "" && p.Tag() != "" && sameCommit(d, p.Revision()):
		out.Kind, out.Value = "tag", p.Tag() // a tag deploy: roll back to the tag
	case !shaRE.MatchString(d):
		out.Kind, out.Value = "tag", d // a rollback that deployed a tag or marker version
	}
	return out, nil
}

// vetGiven is the one rule for a version given by hand, whatever the
// strategy and the form: a version known to be bad (the version being
// rolled back, or one whose newest deploy failed or was rolled back) is
// refused as bad input naming the version setting, before any write; one
// that no record shows deployed successfully is rolled back to, with a
// warning (t.Warning) in the output and the event, since the record searched is
// bounded (max_pages, the branch) and the user chose it.
func (r *run) vetGiven(t *Target) error {
	if r.version.Kind == "previous" {
		return nil
	}
	if why := r.redeploysFailure(t); why != "" {
		return r.badVersion(fmt.Sprintf("it is the version being rolled back (%s): rolling back to it would deploy the failure again", why))
	}
	if t.KnownBad != "" {
		return r.badVersion(fmt.Sprintf("the newest pipeline that deployed it shows it bad (%s): rolling back to it would deploy a known failure", t.KnownBad))
	}
	if t.Unproven != "" {
		t.Warning = fmt.Sprintf("version %s: no record shows it deployed successfully (%s); rolling back to it because it was given", r.version.shown(), t.Unproven)
	}
	return nil
}

// badVersion refuses the given version: exit 2, naming the setting.
func (r *run) badVersion(cause string) error {
	cause += "; set version to another commit SHA, tag or pipeline, or to previous"
	if r.o.BadVersion != nil {
		return r.o.BadVersion(cause)
	}
	return config.Invalidf("pmguard rollback: invalid version %q: %s", r.o.Version, cause)
}
