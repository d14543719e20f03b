// Package rollback starts the rollback of a failed CircleCI deploy through
// the CircleCI API, exactly once however many jobs of the pipeline ask, and
// follows it to its outcome.
//
// It finds the target (the last successful run of the deploy workflow on the
// same branch, or an explicit version), picks a strategy (CircleCI's own
// rollback pipeline, a pipeline definition, the legacy trigger, or a rerun of
// the target's workflow), triggers it, then lists the rollbacks started for
// the same failed pipeline and cancels all but the earliest. A pipeline that
// is itself a rollback never starts another.
package rollback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"time"

	"github.com/pmguard/pmguard/internal/clock"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/verdict"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/events"
)

// Strategies, in the order auto tries them.
const (
	StrategyAuto             = "auto"
	StrategyRollbackPipeline = "rollback_pipeline"
	StrategyDefinition       = "definition"
	StrategyTrigger          = "trigger"
	StrategyRerun            = "rerun"
)

// Strategies lists the accepted strategy values.
var Strategies = []string{StrategyAuto, StrategyRollbackPipeline, StrategyDefinition, StrategyTrigger, StrategyRerun}

// The pipeline parameters a rollback pipeline receives.
const (
	ParamRollback      = "pmguard_rollback"
	ParamTargetVersion = "pmguard_target_version"
	ParamRollbackOf    = "pmguard_rollback_of"
)

// Options are the inputs and dependencies of one rollback.
type Options struct {
	Version        string         // previous, a commit SHA, tag:<name> or a tag, <param>=<value>
	DeployWorkflow string         // name or glob; "" means the current workflow's name
	Strategy       string         // one of Strategies; "" means auto
	DefinitionID   string         // pipeline definition for the definition strategy
	Parameters     map[string]any // extra pipeline parameters
	Component      string         // deploy-markers component ("" = the project's only one)
	Environment    string         // deploy-markers environment ("" = the only one)
	Wait           bool
	WaitTimeout    time.Duration // 0 means 30 minutes
	DryRun         bool          // the client is in dry-run mode: writes are printed, not sent
	ReleaseMarkers bool
	// RollbackOf is the pmguard_rollback_of parameter of the running
	// pipeline, when the config passes it: non-empty means this pipeline is
	// a rollback and must not start another.
	RollbackOf string

	ProjectSlug string // gh/org/repo (opaque)
	PipelineID  string // the failed pipeline; "" means the current workflow's
	WorkflowID  string // the current workflow

	MaxPages    int  // how many pages of pipelines to search; 0 means 10
	Concurrency int  // parallel API reads; 0 means 10
	Sequential  bool // walk one request at a time (the baseline the benchmark compares with)

	Client *circleci.Client
	Events *events.Log
	Out    io.Writer
	Now    func() time.Time
	Sleep  func(ctx context.Context, d time.Duration) error
	// LookPath and Exec run CircleCI's `circleci` CLI for deploy markers.
	LookPath func(file string) (string, error)
	Exec     func(ctx context.Context, name string, args ...string) ([]byte, error)

	// PollMin and PollMax bound the backoff between status polls; 0 means
	// 2 s and 30 s.
	PollMin, PollMax time.Duration
	// OnTrigger, when set, is called right before the trigger request
	// (benchmarks measure the time to it).
	OnTrigger func()
}

// Result is what a rollback did.
type Result struct {
	Outcome  string // initiated, completed, failed, timeout, duplicate, loop_guard, dry_run
	Strategy string
	Why      string // why this strategy
	Target   *Target
	Rollback *Started // the rollback this caller started or joined
	Calls    int64    // API calls used
}

// Outcomes.
const (
	OutcomeInitiated = "initiated"
	OutcomeCompleted = "completed"
	OutcomeFailed    = "failed"
	OutcomeTimeout   = "timeout"
	OutcomeDuplicate = "duplicate"
	OutcomeLoopGuard = "loop_guard"
	OutcomeDryRun    = "dry_run"
)

func (o *Options) defaults() {
	if o.Strategy == "" {
		o.Strategy = StrategyAuto
	}
	if o.Version == "" {
		o.Version = "previous"
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = 30 * time.Minute
	}
	if o.MaxPages <= 0 {
		o.MaxPages = 10
	}
	if o.Concurrency <= 0 {
		// Ten reads in flight stays far below CircleCI's per-token rate
		// limits and reads a 20-pipeline page in two round trips.
		o.Concurrency = 10
	}
	if o.Sequential {
		o.Concurrency = 1
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = clock.Sleep
	}
	if o.LookPath == nil {
		o.LookPath = exec.LookPath
	}
	if o.Exec == nil {
		o.Exec = func(ctx context.Context, name string, args ...string) ([]byte, error) {
			return exec.CommandContext(ctx, name, args...).CombinedOutput()
		}
	}
	if o.PollMin <= 0 {
		o.PollMin = 2 * time.Second
	}
	if o.PollMax <= 0 {
		o.PollMax = 30 * time.Second
	}
}

// Validate checks the options that need no network call; errors are bad
// input (exit 2) naming the setting.
func (o *Options) Validate() error {
	switch o.Strategy {
	case "", StrategyAuto, StrategyRollbackPipeline, StrategyDefinition, StrategyTrigger, StrategyRerun:
	default:
		return config.Invalidf("strategy %q is not one of auto, rollback_pipeline, definition, trigger, rerun", o.Strategy)
	}
	if _, err := ParseVersion(o.Version); err != nil {
		return config.Invalid(err)
	}
	if o.Strategy == StrategyDefinition && o.DefinitionID == "" {
		return config.Invalidf("strategy definition needs definition_id")
	}
	if o.Strategy == StrategyTrigger && o.ProjectSlug != "" && !circleci.SupportsLegacyTrigger(o.ProjectSlug) {
		return config.Invalidf("strategy trigger works for GitHub OAuth (gh/) and Bitbucket (bb/) projects only; %s needs strategy definition", o.ProjectSlug)
	}
	if o.ProjectSlug == "" {
		return config.Invalidf("no project: outside CircleCI set project_slug (--project-slug, env PMGUARD_ROLLBACK_PROJECT_SLUG), e.g. gh/org/repo")
	}
	if o.PipelineID == "" && o.WorkflowID == "" {
		return config.Invalidf("no current pipeline: outside CircleCI set pipeline_id (--pipeline-id, env PMGUARD_ROLLBACK_PIPELINE_ID) or workflow_id")
	}
	for k := range o.Parameters {
		if k == ParamRollback || k == ParamTargetVersion || k == ParamRollbackOf {
			return config.Invalidf("parameters must not set %s: pmguard sets it", k)
		}
	}
	return nil
}

// run is the state of one Run.
type run struct {
	o        Options
	c        *circleci.Client
	start    time.Time
	mu       sync.Mutex
	current  *circleci.Pipeline
	workflow *circleci.Workflow
	project  *circleci.Project
	// newest is the newest pipeline on the branch, seen by the walk.
	newest *circleci.Pipeline
	// markerPlanned is set once a deploy marker was planned.
	markerPlanned bool
	failedLogged  bool // a rollback_failed event was written
}

// Run performs the rollback. It returns nil when a rollback was started,
// joined, skipped by a guard, printed in a dry run, or followed to success;
// an exitcode fail error when the followed rollback failed or timed out.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Client == nil {
		return nil, errors.New("rollback: no CircleCI client")
	}
	r := &run{o: o, c: o.Client, start: o.Now()}
	res, err := r.run(ctx)
	if err != nil && !r.failedLogged {
		// A rollback that never started is part of the incident too: notify
		// and postmortem read it from the log.
		r.event("rollback_failed", "", "the rollback could not start: "+err.Error(), map[string]any{"reason": "not_started"})
	}
	if res != nil {
		res.Calls = o.Client.Calls()
	}
	return res, err
}

func (r *run) printf(format string, a ...any) { fmt.Fprintf(r.o.Out, format, a...) }

func (r *run) event(name, target, msg string, figures map[string]any) {
	if r.o.Events == nil {
		return
	}
	if r.current != nil {
		figures["failed_pipeline_id"] = r.current.ID
		figures["failed_pipeline_number"] = r.current.Number
	}
	r.failedLogged = r.failedLogged || name == "rollback_failed"
	e := events.Event{Verb: "rollback", Event: name, Target: target, Message: msg, Figures: figures}
	if err := r.o.Events.Append(e); err != nil {
		r.printf("warning: event log: %v\n", err)
	}
}

func (r *run) run(ctx context.Context) (*Result, error) {
	o := r.o
	if o.DryRun {
		r.printf("Dry run: reads are sent, writes are printed and not sent.\n")
	}
	if o.RollbackOf != "" {
		return r.loopGuard(fmt.Sprintf("this pipeline is a rollback of pipeline %s (pmguard_rollback_of)", o.RollbackOf)), nil
	}
	if err := r.loadContext(ctx); err != nil {
		return nil, err
	}
	if why := r.isRollback(); why != "" {
		return r.loopGuard(why), nil
	}
	pattern := o.DeployWorkflow
	if pattern == "" {
		if r.workflow == nil {
			return nil, config.Invalidf("deploy_workflow is not set and there is no current workflow to take its name from (set --deploy-workflow or env PMGUARD_ROLLBACK_DEPLOY_WORKFLOW)")
		}
		pattern = r.workflow.Name
	}
	version, _ := ParseVersion(o.Version)

	// Choose the strategy and find the target at the same time: both start
	// from the pipeline just loaded and neither needs the other until the
	// end, so running them in parallel halves the time to the trigger.
	type stratOut struct {
		s   *strategy
		err error
	}
	stratCh := make(chan stratOut, 1)
	go func() {
		s, err := r.chooseStrategy(ctx, version)
		stratCh <- stratOut{s, err}
	}()
	walkCtx, cancelWalk := context.WithCancel(ctx)
	defer cancelWalk()
	type targetOut struct {
		t   *Target
		err error
	}
	targetCh := make(chan targetOut, 1)
	go func() {
		t, err := r.findTarget(walkCtx, version, pattern)
		targetCh <- targetOut{t, err}
	}()
	so := <-stratCh
	if so.err != nil {
		cancelWalk()
		<-targetCh
		return nil, so.err
	}
	st := so.s
	var target *Target
	if st.name == StrategyRollbackPipeline && st.markers != nil {
		// Deploy markers already name the versions: the walk is not needed.
		cancelWalk()
		<-targetCh
		target = st.markers
	} else {
		to := <-targetCh
		if to.err != nil {
			return nil, to.err
		}
		target = to.t
	}
	if why := r.isRerunOfOld(); why != "" {
		return r.loopGuard(why), nil
	}
	if st.name == StrategyRerun && target.WorkflowID == "" {
		return nil, verdict.Failf("strategy rerun needs a run of %q to rerun, and version %s names none", pattern, o.Version)
	}
	r.printf("Target: %s\n  why: %s\n", target.Describe(), target.Why)
	r.printf("Strategy: %s\n  why: %s\n", st.name, st.why)
	res := &Result{Strategy: st.name, Why: st.why, Target: target}
	return r.startOnce(ctx, st, target, res)
}

// loadContext fetches the current workflow and pipeline (in parallel when
// both ids are known) and, for strategies that need it, the project.
func (r *run) loadContext(ctx context.Context) error {
	o := r.o
	var wg sync.WaitGroup
	var errs [3]error
	if o.WorkflowID != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := r.c.Workflows.Get(ctx, o.WorkflowID)
			r.mu.Lock()
			r.workflow, errs[0] = w, err
			r.mu.Unlock()
		}()
	}
	if o.PipelineID != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := r.c.Pipelines.Get(ctx, o.PipelineID)
			r.mu.Lock()
			r.current, errs[1] = p, err
			r.mu.Unlock()
		}()
	}
	if o.Strategy == StrategyAuto || o.Strategy == StrategyRollbackPipeline {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := r.c.Projects.Get(ctx, o.ProjectSlug)
			r.mu.Lock()
			r.project, errs[2] = p, err
			r.mu.Unlock()
		}()
	}
	wg.Wait()
	if errs[0] != nil {
		return fmt.Errorf("current workflow %s: %w", o.WorkflowID, errs[0])
	}
	if errs[1] != nil {
		return fmt.Errorf("current pipeline %s: %w", o.PipelineID, errs[1])
	}
	if errs[2] != nil {
		return fmt.Errorf("project %s: %w", o.ProjectSlug, errs[2])
	}
	if r.current == nil {
		p, err := r.c.Pipelines.Get(ctx, r.workflow.PipelineID)
		if err != nil {
			return fmt.Errorf("pipeline of workflow %s: %w", o.WorkflowID, err)
		}
		r.current = p
	}
	return nil
}

// isRollback says why the current pipeline is itself a rollback, or "".
func (r *run) isRollback() string {
	if v, ok := r.current.Param(ParamRollback); ok && truthy(v) {
		return fmt.Sprintf("pipeline %d was started by a rollback (%s=true)", r.current.Number, ParamRollback)
	}
	if v, ok := r.current.Param(ParamRollbackOf); ok && fmt.Sprint(v) != "" {
		return fmt.Sprintf("pipeline %d is a rollback of pipeline %v (%s)", r.current.Number, v, ParamRollbackOf)
	}
	return ""
}

// isRerunOfOld says why the current workflow is a rerun of an older
// pipeline's workflow started after a newer pipeline existed (what the rerun
// strategy does), or "".
func (r *run) isRerunOfOld() string {
	r.mu.Lock()
	newest := r.newest
	r.mu.Unlock()
	if r.workflow == nil || newest == nil || newest.Number <= r.current.Number {
		return ""
	}
	if r.workflow.CreatedAt.After(newest.CreatedAt) {
		return fmt.Sprintf("workflow %s reruns pipeline %d after the newer pipeline %d started (a rerun rollback)", r.workflow.Name, r.current.Number, newest.Number)
	}
	return ""
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return x == "true" || x == "1"
	case float64:
		return x != 0
	}
	return false
}

func (r *run) loopGuard(why string) *Result {
	r.printf("Skipped: %s; a rollback never starts another rollback.\n", why)
	r.event("rollback_skipped", "", "loop guard: "+why, map[string]any{"reason": "loop_guard"})
	return &Result{Outcome: OutcomeLoopGuard, Why: why}
}
