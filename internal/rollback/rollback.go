// Package rollback starts the rollback of a failed CircleCI deploy through
// the CircleCI API and follows it to its outcome, keeping one live rollback
// however many jobs of the pipeline ask.
//
// It finds the target (the newest successful deploy whose version is not
// known to be bad, or an explicit version), checks the target's code
// against the migrations the failed deploy ran, picks a strategy (CircleCI's
// own rollback pipeline, a pipeline definition, the legacy trigger, or a
// rerun of the target's workflow) and starts it once (see startOnce). A
// pipeline that is itself a rollback never starts another.
package rollback

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/deploymarker"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/verdict"
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

// Options are the inputs and dependencies of one rollback. New builds them
// from the settings; tests may then swap a dependency.
type Options struct {
	Version Version
	// BadVersion refuses the version setting for cause (exit 2, naming
	// it); New sets it.
	BadVersion     func(cause string) error
	DeployWorkflow string         // name or glob; "" means the current workflow's name
	Strategy       string         // one of Strategies
	DefinitionID   string         // pipeline definition for the definition strategy
	Parameters     map[string]any // extra pipeline parameters
	Component      string         // deploy-markers component ("" = the project's only one)
	Environment    string         // deploy-markers environment ("" = the only one)
	Wait           bool
	WaitTimeout    time.Duration // bounds the whole follow, requests in flight included
	DryRun         bool          // the client is in dry-run mode: writes are printed, not sent
	ReleaseMarkers bool
	// RollbackOf is the pmguard_rollback_of parameter of the running
	// pipeline, when the config passes it: non-empty means this pipeline is
	// a rollback and must not start another.
	RollbackOf string

	ProjectSlug string // gh/org/repo (opaque)
	PipelineID  string // the failed pipeline; "" means the current workflow's
	WorkflowID  string // the current workflow

	MaxPages    int  // how many pages of pipelines to search
	Concurrency int  // parallel API reads
	Sequential  bool // walk one request at a time (the baseline the benchmark compares with)

	Client   *circleci.Client
	Events   *events.Log
	Out      io.Writer
	Redactor *httpx.Redactor // removes secrets from the error Run returns
	Now      func() time.Time
	Sleep    func(ctx context.Context, d time.Duration) error
	// CLIPath is the PATH the `circleci` CLI is looked up in for deploy
	// markers and CLIEnv the environment it runs with (the job's); RunCLI
	// runs it (nil: as a process).
	CLIPath string
	CLIEnv  config.Env
	RunCLI  deploymarker.Runner
	// JobName is the job's name (CIRCLE_JOB), which names the marker.
	JobName string

	// PollMin and PollMax bound the backoff between status polls.
	PollMin, PollMax time.Duration
	// OnTrigger, when set, is called right before the trigger request
	// (benchmarks measure the time to it).
	OnTrigger func()

	// ListLag is the longest time the API's pipeline list is assumed to
	// take to show a new pipeline; SettlePoll the pause between its reads
	// while the exactly-once step waits.
	ListLag, SettlePoll time.Duration
	// JobNumber and NodeIndex rank this caller among the jobs of the failed
	// pipeline (CIRCLE_BUILD_NUM, CIRCLE_NODE_INDEX); 0: not in a job.
	JobNumber int64
	NodeIndex int

	// Schema is the schema check run before the trigger (nil: none).
	Schema *SchemaCheck
}

// Result is what a rollback did.
type Result struct {
	Outcome  string // initiated, completed, failed, timeout, duplicate, loop_guard, dry_run
	Strategy string
	Why      string // why this strategy
	Target   *Target
	Rollback *Started // the rollback this caller started or joined
	Calls    int64    // API calls used
	// Action is what this caller did: ActionStarted, ActionJoined or
	// ActionCancelled (it started Cancelled, cancelled it, and joined).
	Action    string
	Cancelled *Started
	Attempt   int // rollbacks of the failed pipeline so far, this one included
	// SecondsToTrigger is the time from the start to the trigger's answer.
	SecondsToTrigger float64
	// Schema is what the schema check found (nil: not run).
	Schema *SchemaResult
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

// run is the state of one Run.
type run struct {
	o        *Options
	version  Version // o.Version, a pipeline:<number> resolved
	c        *circleci.Client
	start    time.Time
	current  *circleci.Pipeline
	workflow *circleci.Workflow
	project  *circleci.Project
	// newest is the newest pipeline on the branch (for a tag deploy, the
	// newest that ran at a tag) that is not a rollback of the current one,
	// seen by the walk.
	newest *circleci.Pipeline
	// marker writes the rollback's deploy marker (nil: none planned).
	marker       *deploymarker.Writer
	failedLogged bool // a rollback_failed event was written
	schema       *SchemaResult
	// leader: this caller is a job of the failed pipeline and no running
	// job ranks before it, so the others wait for its rollback.
	leader bool
}

// Run performs the rollback (see Do) for the verb.
func Run(ctx context.Context, o *Options) error {
	_, err := Do(ctx, o)
	return err
}

// Do performs the rollback and says what it did. The error is nil when a
// rollback was started, joined, skipped by a guard, printed in a dry run, or
// followed to success; a *verdict.Fail when the followed rollback failed or
// timed out or there is nothing to roll back to.
func Do(ctx context.Context, o *Options) (*Result, error) {
	r := &run{o: o, c: o.Client, start: o.Now()}
	res, err := r.run(ctx)
	if err != nil && !r.failedLogged {
		// A rollback that never started is part of the incident too: notify
		// and postmortem read it from the log.
		r.event(ctx, events.RollbackFailed, "", "the rollback could not start: "+err.Error(), events.Rollback{Reason: "not_started"})
	}
	if res != nil {
		res.Calls = o.Client.Calls()
	}
	if err != nil && o.Redactor != nil {
		err = o.Redactor.Error(err)
	}
	return res, err
}

func (r *run) printf(format string, a ...any) { fmt.Fprintf(r.o.Out, format, a...) }

func (r *run) event(ctx context.Context, name, target, msg string, f events.Rollback) {
	if r.o.Events == nil {
		return
	}
	if r.current != nil {
		f.FailedPipelineID, f.FailedPipelineNumber = r.current.ID, int(r.current.Number)
	}
	r.failedLogged = r.failedLogged || name == events.RollbackFailed
	e := events.Event{Verb: "rollback", Event: name, Target: target, Message: msg}
	e.SetFigures(f)
	if err := r.o.Events.Append(ctx, e); err != nil {
		r.printf("warning: event log: %v\n", err)
	}
}

func (r *run) run(ctx context.Context) (*Result, error) {
	o := r.o
	if o.DryRun {
		r.printf("Dry run: reads are sent, writes are printed and not sent.\n")
	}
	if o.RollbackOf != "" {
		return r.loopGuard(ctx, fmt.Sprintf("this pipeline is a rollback of pipeline %s (pmguard_rollback_of)", o.RollbackOf)), nil
	}
	err := r.loadContext(ctx)
	if err != nil {
		return nil, err
	}
	if why := r.isRollback(); why != "" {
		return r.loopGuard(ctx, why), nil
	}
	pattern := o.DeployWorkflow
	if pattern == "" {
		pattern = r.workflow.Name // New made sure there is a current workflow
	}
	if r.version, err = r.resolveVersion(ctx); err != nil {
		return nil, err
	}
	st, target, err := r.strategyAndTarget(ctx, pattern)
	if err != nil {
		return nil, err
	}
	if why := r.isRerunOfOld(); why != "" {
		return r.loopGuard(ctx, why), nil
	}
	if err := r.vetGiven(target); err != nil {
		return nil, err
	}
	if st.name == StrategyRerun && target.WorkflowID == "" {
		return nil, verdict.Failf("strategy rerun needs a run of %q to rerun, and version %s names none", pattern, r.version)
	}
	if st.name == StrategyRerun && len(target.DeployWorkflows) > 1 {
		// A rerun is one workflow: the others would stay at the failed
		// version while the rollback reported success.
		return nil, verdict.Failf("strategy rerun reruns one workflow, and the deploy of pipeline %d is %d workflows (%s) that deploy_workflow %q matches: rerunning one would leave the others at the failed version; use a strategy that starts a pipeline (definition, trigger, rollback_pipeline) or set deploy_workflow to one workflow's name",
			target.PipelineNumber, len(target.DeployWorkflows), strings.Join(target.DeployWorkflows, ", "), pattern)
	}
	if target.Warning != "" {
		r.printf("Warning: %s.\n", target.Warning)
	}
	r.printf("Target: %s\n  why: %s\n", target.Describe(), target.Why)
	r.printf("Strategy: %s\n  why: %s\n", st.name, st.why)
	res := &Result{Strategy: st.name, Why: st.why, Target: target}
	err = r.checkSchema(ctx, target)
	res.Schema = r.schema
	if err != nil {
		return res, err
	}
	return r.startOnce(ctx, st, target, res)
}

// strategyAndTarget chooses the strategy and finds the target at the same
// time: both start from the pipeline just loaded and neither needs the other
// until the end, so running them in parallel halves the time to the trigger.
func (r *run) strategyAndTarget(ctx context.Context, pattern string) (*strategy, *Target, error) {
	walkCtx, cancelWalk := context.WithCancel(ctx)
	defer cancelWalk()
	var walk errgroup.Group
	var target *Target
	walk.Go(func() (err error) {
		target, err = r.findTarget(walkCtx, r.version, pattern)
		return err
	})
	st, err := r.chooseStrategy(ctx, r.version)
	markers := err == nil && st.name == StrategyRollbackPipeline && st.markers != nil
	if err != nil || markers {
		// Deploy markers already name the versions: the walk is not needed.
		cancelWalk()
	}
	walkErr := walk.Wait()
	switch {
	case err != nil:
		return nil, nil, err
	case markers:
		return st, st.markers, nil
	case walkErr != nil:
		return nil, nil, walkErr
	}
	return st, target, nil
}

// loadContext fetches the current workflow and pipeline (in parallel when
// both ids are known) and, for strategies that need it, the project.
func (r *run) loadContext(ctx context.Context) error {
	o := r.o
	g, gctx := errgroup.WithContext(ctx)
	if o.WorkflowID != "" {
		g.Go(func() (err error) {
			if r.workflow, err = r.c.Workflows.Get(gctx, o.WorkflowID); err != nil {
				return fmt.Errorf("current workflow %s: %w", o.WorkflowID, err)
			}
			return nil
		})
	}
	if o.PipelineID != "" {
		g.Go(func() (err error) {
			if r.current, err = r.c.Pipelines.Get(gctx, o.PipelineID); err != nil {
				return fmt.Errorf("current pipeline %s: %w", o.PipelineID, err)
			}
			return nil
		})
	}
	if o.Strategy == StrategyAuto || o.Strategy == StrategyRollbackPipeline {
		g.Go(func() (err error) {
			if r.project, err = r.c.Projects.Get(gctx, o.ProjectSlug); err != nil {
				return fmt.Errorf("project %s: %w", o.ProjectSlug, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
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
	if r.current.BoolParam(ParamRollback) {
		return fmt.Sprintf("pipeline %d was started by a rollback (%s=true)", r.current.Number, ParamRollback)
	}
	if v := r.current.StringParam(ParamRollbackOf); v != "" {
		return fmt.Sprintf("pipeline %d is a rollback of pipeline %v (%s)", r.current.Number, v, ParamRollbackOf)
	}
	return ""
}

// isRerunOfOld says why the current workflow is a rerun of an older
// pipeline's workflow started after a newer pipeline existed (what the rerun
// strategy does), or "".
func (r *run) isRerunOfOld() string {
	newest := r.newest
	if r.workflow == nil || newest == nil || newest.Number <= r.current.Number {
		return ""
	}
	if r.workflow.CreatedAt.After(newest.CreatedAt) {
		return fmt.Sprintf("workflow %s reruns pipeline %d after the newer pipeline %d started (a rerun rollback)", r.workflow.Name, r.current.Number, newest.Number)
	}
	return ""
}

func (r *run) loopGuard(ctx context.Context, why string) *Result {
	r.printf("Skipped: %s; a rollback never starts another rollback.\n", why)
	r.event(ctx, events.RollbackSkipped, "", "loop guard: "+why, events.Rollback{Reason: "loop_guard"})
	return &Result{Outcome: OutcomeLoopGuard, Why: why}
}
