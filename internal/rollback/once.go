package rollback

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/verdict"
)

// MaxAttempts bounds the rollbacks started for one failed pipeline: after
// that many ended without success (cancelled, failed, errored, never
// started), the loop guard starts no more.
const MaxAttempts = 3

// neverStarted is how long a rollback pipeline may show no workflow before
// it counts as one that never started.
const neverStarted = 2 * time.Minute

// The states of a rollback run, as the API shows it.
const (
	stateLive      = "live"      // starting or running
	stateSucceeded = "succeeded" // every workflow succeeded
	stateDead      = "dead"      // errored, cancelled, failed, or never started
)

// Actions: what one caller did about the rollback.
const (
	ActionStarted   = "started"   // it triggered the rollback that runs
	ActionJoined    = "joined"    // another caller's (or an earlier) rollback runs; it started none
	ActionCancelled = "cancelled" // it triggered a duplicate, cancelled it, and joined the earlier one
)

// Started is a rollback run: a pipeline (rollback_pipeline, definition,
// trigger) or a rerun workflow (rerun).
type Started struct {
	PipelineID     string
	PipelineNumber int64
	WorkflowID     string // rerun: the new workflow
	CreatedAt      time.Time
	URL            string
	State          string // live, succeeded, dead ("" until read)
	Why            string // what the API shows, for people
	// seq is the rerun's place in the API's creation order (0 = first);
	// it breaks ties between reruns created in the same millisecond.
	seq int
}

func (s *Started) key() string {
	if s.WorkflowID != "" && s.PipelineNumber == 0 {
		return s.WorkflowID
	}
	return s.PipelineID
}

func (s *Started) alive() bool { return s.State != stateDead }

// Name names the rollback for people.
func (s *Started) Name() string {
	if s.PipelineNumber > 0 && s.WorkflowID == "" {
		return fmt.Sprintf("pipeline %d", s.PipelineNumber)
	}
	if s.WorkflowID != "" {
		return "workflow " + s.WorkflowID
	}
	return "pipeline " + s.PipelineID
}

// earliest orders rollbacks: the first started wins. Pipeline numbers are
// assigned in creation order per project, so the lowest number is the
// earliest and no two are equal; reruns (workflows) are ordered by creation
// time, then by the order the API lists them in, so every caller picks the
// same survivor.
func earliest(list []Started) Started {
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.PipelineNumber != b.PipelineNumber && a.WorkflowID == "" {
			return a.PipelineNumber < b.PipelineNumber
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		if a.seq != b.seq {
			return a.seq < b.seq
		}
		return a.key() < b.key()
	})
	return list[0]
}

// listRollbacks finds the rollbacks started for the failed pipeline, with
// their state: pipelines newer than it whose pmguard_rollback_of names it,
// or, for reruns, runs of the target's deploy workflow created after it
// failed.
func (r *run) listRollbacks(ctx context.Context, st *strategy, t *Target) ([]Started, error) {
	failed := r.current
	var out []Started
	if st.name == StrategyRerun {
		wfs, err := r.c.Pipelines.Workflows(ctx, t.PipelineID)
		if err != nil {
			return nil, fmt.Errorf("workflows of pipeline %d: %w", t.PipelineNumber, err)
		}
		// The API lists a pipeline's workflows newest first.
		for i, w := range wfs {
			if w.Name == t.WorkflowName && w.ID != t.WorkflowID && w.CreatedAt.After(failed.CreatedAt) {
				s := Started{PipelineID: w.PipelineID, WorkflowID: w.ID, CreatedAt: w.CreatedAt, URL: r.c.WorkflowURL(&w), seq: len(wfs) - i}
				s.State, s.Why = judgeState([]circleci.Workflow{w}, "", nil, time.Duration(0))
				s.State, s.Why = r.supersede(s.State, s.Why, []circleci.Workflow{w})
				out = append(out, s)
			}
		}
		return out, nil
	}
	// Rollbacks are newer than the failed pipeline, so they sit at the top
	// of the newest-first list; stop at the failed pipeline, however many
	// pages of other pipelines the project ran since (the client's page
	// limit bounds a list that never ends).
	var ps []circleci.Pipeline
	for p, err := range r.c.Pipelines.All(ctx, r.o.ProjectSlug, nil, 0) {
		if err != nil {
			return nil, fmt.Errorf("listing pipelines: %w", err)
		}
		if p.Number <= failed.Number {
			break
		}
		if p.StringParam(ParamRollbackOf) == failed.ID {
			ps = append(ps, p)
		}
	}
	out = make([]Started, len(ps))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(r.o.Concurrency, 1))
	for i := range ps {
		p := &ps[i]
		out[i] = Started{PipelineID: p.ID, PipelineNumber: p.Number, CreatedAt: p.CreatedAt, URL: r.c.PipelineURL(p.ProjectSlug, p.Number)}
		g.Go(func() error {
			var wfs []circleci.Workflow
			if p.State != "errored" {
				var err error
				if wfs, err = r.c.Pipelines.Workflows(gctx, p.ID); err != nil {
					return fmt.Errorf("workflows of rollback pipeline %d: %w", p.Number, err)
				}
			}
			state, why := judgeState(wfs, p.State, p.Errors, r.o.Now().Sub(p.CreatedAt))
			out[i].State, out[i].Why = r.supersede(state, why, wfs)
			return nil
		})
	}
	return out, g.Wait()
}

// supersede reads a rollback that succeeded before the current workflow
// was created (a rerun of the failed deploy) as dead: that deploy ran the
// failed version again after it, so it no longer holds production and the
// rerun's failure needs a rollback of its own. A job of the workflow that
// failed first still joins it.
func (r *run) supersede(state, why string, wfs []circleci.Workflow) (string, string) {
	if state != stateSucceeded || r.workflow == nil {
		return state, why
	}
	var end time.Time
	for _, w := range wfs {
		if w.StoppedAt == nil {
			return state, why
		}
		if w.StoppedAt.After(end) {
			end = *w.StoppedAt
		}
	}
	if !end.Before(r.workflow.CreatedAt) {
		return state, why
	}
	return stateDead, fmt.Sprintf("%s, then workflow %s deployed pipeline %d again", why, r.workflow.Name, r.current.Number)
}

// judgeState says whether a rollback runs, succeeded or is dead, from its
// pipeline's state and workflows.
func judgeState(wfs []circleci.Workflow, pipelineState string, errs []circleci.PipelineError, age time.Duration) (string, string) {
	if pipelineState == "errored" {
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, e.Message)
		}
		return stateDead, "errored: " + strings.Join(msgs, "; ")
	}
	if len(wfs) == 0 {
		if age > neverStarted {
			return stateDead, fmt.Sprintf("no workflow started within %s", neverStarted)
		}
		return stateLive, "starting"
	}
	_, ok, summary := judge(wfs)
	for _, w := range wfs {
		if !w.Done() {
			return stateLive, summary
		}
	}
	if ok {
		return stateSucceeded, summary
	}
	return stateDead, summary
}

// params are the pipeline parameters a rollback receives: the user's, then
// pmguard's three (which New keeps the user from setting).
func (r *run) params(t *Target) map[string]any {
	p := maps.Clone(r.o.Parameters)
	if p == nil {
		p = map[string]any{}
	}
	p[ParamRollback] = true
	p[ParamTargetVersion] = t.Version
	p[ParamRollbackOf] = r.current.ID
	return p
}

// trigger sends the one write that starts the rollback. It is not retried
// after an answer that may come after the work was done (5xx, timeout):
// the caller looks for what it created instead.
func (r *run) trigger(ctx context.Context, st *strategy, t *Target) (*Started, error) {
	o := r.o
	if o.OnTrigger != nil {
		o.OnTrigger()
	}
	wctx := httpx.OnlyUnservedRetries(ctx)
	branch, tag := r.current.Branch(), ""
	if branch == "" {
		tag = t.Tag
		if tag == "" {
			tag = r.current.Tag()
		}
	}
	switch st.name {
	case StrategyRerun:
		id, err := r.c.Workflows.Rerun(wctx, t.WorkflowID, circleci.RerunRequest{})
		if err != nil {
			return nil, err
		}
		w, err := r.c.Workflows.Get(ctx, id)
		if err != nil {
			return &Started{PipelineID: t.PipelineID, WorkflowID: id, CreatedAt: r.o.Now(), State: stateLive}, nil
		}
		return &Started{PipelineID: w.PipelineID, WorkflowID: id, CreatedAt: w.CreatedAt, URL: r.c.WorkflowURL(w), State: stateLive}, nil
	case StrategyRollbackPipeline:
		resp, err := r.c.Deploy.Rollback(wctx, st.projectID, circleci.RollbackRequest{
			ComponentName: t.Component, EnvironmentName: t.Environment, Namespace: t.Namespace,
			CurrentVersion: t.CurrentVersion, TargetVersion: t.Version,
			Reason:     fmt.Sprintf("pmguard: pipeline %d failed", r.current.Number),
			Parameters: r.params(t),
		})
		if err != nil {
			return nil, err
		}
		s := &Started{PipelineID: resp.ID, CreatedAt: r.o.Now(), State: stateLive}
		if p, err := r.c.Pipelines.Get(ctx, resp.ID); err == nil {
			s.PipelineNumber, s.CreatedAt, s.URL = p.Number, p.CreatedAt, r.c.PipelineURL(p.ProjectSlug, p.Number)
		}
		return s, nil
	case StrategyDefinition:
		def := o.DefinitionID
		if def == "" {
			def = st.definitionID
		}
		ref := &circleci.Ref{Branch: branch, Tag: tag}
		pc, err := r.c.Pipelines.Run(wctx, o.ProjectSlug, circleci.RunRequest{DefinitionID: def, Config: ref, Checkout: ref, Parameters: r.params(t)})
		if err != nil {
			return nil, err
		}
		return &Started{PipelineID: pc.ID, PipelineNumber: pc.Number, CreatedAt: pc.CreatedAt, URL: r.c.PipelineURL(o.ProjectSlug, pc.Number), State: stateLive}, nil
	default: // trigger
		pc, err := r.c.Pipelines.Trigger(wctx, o.ProjectSlug, circleci.TriggerRequest{Branch: branch, Tag: tag, Parameters: r.params(t)})
		if err != nil {
			return nil, err
		}
		return &Started{PipelineID: pc.ID, PipelineNumber: pc.Number, CreatedAt: pc.CreatedAt, URL: r.c.PipelineURL(o.ProjectSlug, pc.Number), State: stateLive}, nil
	}
}

// ambiguous reports whether a failed write may still have been carried
// out: a 5xx answer, a timeout or a broken connection (a 4xx says it was
// not).
func ambiguous(err error) bool {
	var ae *circleci.APIError
	if errors.As(err, &ae) {
		return ae.StatusCode >= 500
	}
	var ue *circleci.UnexpectedResponseError
	return !errors.As(err, &ue) && !errors.Is(err, context.Canceled)
}

// startOnce keeps one live rollback per failed pipeline (see docs/rollback.md):
//
//  1. A rollback already running (or done) for the failed pipeline is
//     joined. Dead ones (cancelled, failed, errored, never started) are
//     counted: after MaxAttempts no other starts.
//  2. A caller ranked after another running job of the failed pipeline
//     (lower job number, or node index within one job) waits for that
//     job's rollback to show in the list rather than start its own.
//  3. The trigger is sent once. After a 5xx or a timeout the caller looks
//     for a rollback of the failed pipeline before it sends another.
//  4. After its trigger a caller waits until its own rollback shows in the
//     list: a list that shows it shows every rollback created before it,
//     so all callers agree that the earliest live one survives. A caller
//     whose rollback is not the earliest cancels it and joins the earliest.
func (r *run) startOnce(ctx context.Context, st *strategy, t *Target, res *Result) (*Result, error) {
	before, err := r.listRollbacks(ctx, st, t)
	if err != nil {
		return nil, err
	}
	if s := firstAlive(before); s != nil {
		return r.join(ctx, res, *s, fmt.Sprintf("%s already rolls back pipeline %d (%s)", s.Name(), r.current.Number, s.Why))
	}
	dead := before
	res.Attempt = attempts(dead, 2*r.o.ListLag) + 1
	if len(dead) > 0 {
		var parts []string
		for _, d := range dead {
			parts = append(parts, d.Name()+" "+d.Why)
		}
		if res.Attempt > MaxAttempts {
			why := fmt.Sprintf("%d rollbacks of pipeline %d ended without success (%s); a rollback that keeps failing is not started again: roll back by hand", res.Attempt-1, r.current.Number, strings.Join(parts, "; "))
			r.printf("Skipped: %s.\n", why)
			r.event(ctx, events.RollbackFailed, t.Version, "loop guard: "+why, events.Rollback{Reason: "attempts", Strategy: st.name, TargetVersion: t.Version, Attempt: res.Attempt - 1})
			return res, verdict.Failf("%s", why)
		}
		r.printf("Earlier rollbacks of pipeline %d ended without success: %s; this is attempt %d of %d.\n", r.current.Number, strings.Join(parts, "; "), res.Attempt, MaxAttempts)
	}
	if s, err := r.deferToEarlierCallers(ctx, st, t, before); err != nil {
		return nil, err
	} else if s != nil {
		return r.join(ctx, res, *s, fmt.Sprintf("%s was started by a caller ranked before this one", s.Name()))
	}
	started, err := r.trigger(ctx, st, t)
	if errors.Is(err, circleci.ErrDryRun) {
		res.Outcome = OutcomeDryRun
		r.printf("Dry run: no rollback started.\n")
		r.event(ctx, events.RollbackSkipped, t.Version, "dry run: the rollback request was printed, not sent", events.Rollback{
			Reason: "dry_run", Strategy: st.name, TargetVersion: t.Version, TargetPipelineNumber: int(t.PipelineNumber), APICalls: int(r.c.Calls())})
		return res, nil
	}
	if err != nil && ambiguous(err) && ctx.Err() == nil {
		// The rollback may exist: find it before sending the trigger again.
		r.printf("The trigger failed (%v); looking for the rollback it may have created before sending it again.\n", err)
		list, lerr := r.poll(ctx, st, t, func(l []Started) bool { return newAny(l, before) != nil }, 2*r.o.ListLag)
		if lerr != nil {
			return nil, lerr
		}
		if s := newAny(list, before); s != nil && newAlive(list, before) == nil {
			// It was created and will not run (its config does not
			// compile): a second trigger would only do the same.
			r.printf("%s appeared and will not run (%s); not sending the trigger again.\n", s.Name(), s.Why)
			return r.settle(ctx, st, t, res, *s)
		}
		if s := newAlive(list, before); s != nil {
			if r.leader {
				// No job ranked before this one, and the jobs after it wait
				// for it: the new rollback is this caller's own.
				r.printf("%s appeared: this caller's own (no job of the pipeline is ranked before it).\n", s.Name())
				res.SecondsToTrigger = r.o.Now().Sub(r.start).Seconds()
				return r.settle(ctx, st, t, res, *s)
			}
			return r.join(ctx, res, *s, fmt.Sprintf("the trigger answered an error after it may have created the rollback; %s rolls back pipeline %d (this caller's own or another's)", s.Name(), r.current.Number))
		}
		r.printf("No rollback appeared within %s; sending the trigger again.\n", 2*r.o.ListLag)
		started, err = r.trigger(ctx, st, t)
	}
	if err != nil {
		return nil, fmt.Errorf("starting the rollback (%s): %w", st.name, err)
	}
	res.SecondsToTrigger = r.o.Now().Sub(r.start).Seconds()
	return r.settle(ctx, st, t, res, *started)
}

// settle waits until the caller's own rollback shows in the list (bounded)
// and keeps the earliest live one.
func (r *run) settle(ctx context.Context, st *strategy, t *Target, res *Result, own Started) (*Result, error) {
	list, err := r.poll(ctx, st, t, func(l []Started) bool { return find(l, own.key()) != nil }, 2*r.o.ListLag)
	if err != nil {
		return nil, err
	}
	if s := find(list, own.key()); s != nil {
		own.State, own.Why = s.State, s.Why
	} else {
		r.printf("warning: %s does not show in the pipeline list after %s; deciding on what the list shows.\n", own.Name(), 2*r.o.ListLag)
		own.seq = 1 << 30 // not listed yet: assume it is the newest
		list = append(list, own)
	}
	alive := aliveOf(list)
	if len(alive) == 0 {
		why := fmt.Sprintf("%s was accepted but %s", own.Name(), own.Why)
		r.event(ctx, events.RollbackFailed, t.Version, "the rollback did not start: "+why, events.Rollback{Reason: "not_started", Strategy: st.name, TargetVersion: t.Version,
			RollbackPipelineID: own.PipelineID, RollbackPipelineNumber: int(own.PipelineNumber), RollbackURL: own.URL, Attempt: res.Attempt})
		return nil, fmt.Errorf("the rollback did not start: %s %s", why, own.URL)
	}
	first := earliest(alive)
	if !own.alive() {
		// This caller's pipeline will not run (it errored, or ended): there
		// is nothing to cancel, and another caller's rollback runs.
		return r.join(ctx, res, first, fmt.Sprintf("%s rolls back pipeline %d; this caller's own %s %s", first.Name(), r.current.Number, own.Name(), own.Why))
	}
	if first.key() != own.key() {
		// A rival's rollback started first: cancel this caller's duplicate.
		if err := r.cancel(ctx, own, true); err != nil {
			r.printf("warning: cancelling the duplicate %s: %v\n", own.Name(), err)
		}
		res.Cancelled = &own
		res.Action = ActionCancelled
		return r.join(ctx, res, first, fmt.Sprintf("%s started first; cancelled this caller's duplicate %s", first.Name(), own.Name()))
	}
	// Later live ones are duplicates; their callers cancel them too
	// (cancelling is idempotent), which covers a caller that died.
	for _, s := range alive {
		if s.key() != own.key() && s.State == stateLive {
			if err := r.cancel(ctx, s, false); err != nil {
				r.printf("warning: cancelling the duplicate %s: %v\n", s.Name(), err)
			}
		}
	}
	res.Outcome, res.Action = OutcomeInitiated, ActionStarted
	res.Rollback = &own
	msg := r.schemaMessage()
	if t.Warning != "" {
		msg += "; warning: " + t.Warning
	}
	r.printf("Rollback started: %s %s\n", own.Name(), own.URL)
	r.event(ctx, events.RollbackInitiated, t.Version, fmt.Sprintf("rollback of pipeline %d to %s by %s: %s%s", r.current.Number, t.Describe(), st.name, own.URL, msg), events.Rollback{
		Strategy: st.name, Action: ActionStarted, TargetVersion: t.Version, TargetPipelineNumber: int(t.PipelineNumber), TargetRevision: t.Commit,
		RollbackPipelineID: own.PipelineID, RollbackPipelineNumber: int(own.PipelineNumber), RollbackWorkflowID: own.WorkflowID,
		RollbackURL: own.URL, PagesSearched: t.PagesSearched, APICalls: int(r.c.Calls()), SecondsToTrigger: res.SecondsToTrigger,
		Attempt: res.Attempt, SchemaCheck: r.schemaFigure(), SchemaFindings: r.schemaLines()})
	r.planMarker(ctx, t)
	if !r.o.Wait {
		return res, nil
	}
	return r.follow(ctx, res, own, true)
}

// poll lists the rollbacks until done says the list is the one to decide
// on or the window passes, and returns the last list.
func (r *run) poll(ctx context.Context, st *strategy, t *Target, done func([]Started) bool, window time.Duration) ([]Started, error) {
	deadline := r.o.Now().Add(window)
	for {
		list, err := r.listRollbacks(ctx, st, t)
		if err != nil || done(list) || !r.o.Now().Before(deadline) {
			return list, err
		}
		if err := r.o.Sleep(ctx, min(r.o.SettlePoll, deadline.Sub(r.o.Now()))); err != nil {
			return nil, err
		}
	}
}

// deferToEarlierCallers avoids starting a duplicate: while a job of the
// failed pipeline ranked before this caller runs (a lower job number, or a
// lower node index of this job), that job may be starting the rollback, so
// this caller waits for it to show in the list. It gives up (and starts
// one) when the earlier jobs stopped ListLag ago with nothing to show, or
// after 2×ListLag.
func (r *run) deferToEarlierCallers(ctx context.Context, st *strategy, t *Target, before []Started) (*Started, error) {
	if r.o.JobNumber <= 0 || r.o.DryRun {
		return nil, nil
	}
	deadline := r.o.Now().Add(2 * r.o.ListLag)
	announced := false
	for {
		running, lastStop, err := r.earlierCallers(ctx)
		if err != nil {
			return nil, err
		}
		if len(running) == 0 && !r.o.Now().Before(lastStop.Add(r.o.ListLag)) {
			r.leader = !announced
			return nil, nil
		}
		if !announced {
			announced = true
			what := "an earlier job of this pipeline stopped moments ago"
			if len(running) > 0 {
				what = "job " + strings.Join(running, ", job ") + " of this pipeline runs and is ranked before this one"
			}
			r.printf("Waiting up to %s for a rollback to show in the list: %s and may be starting one.\n", 2*r.o.ListLag, what)
		}
		list, err := r.listRollbacks(ctx, st, t)
		if err != nil {
			return nil, err
		}
		if s := newAlive(list, before); s != nil {
			return s, nil
		}
		if !r.o.Now().Before(deadline) {
			r.printf("No rollback showed within %s; starting one.\n", 2*r.o.ListLag)
			return nil, nil
		}
		if err := r.o.Sleep(ctx, min(r.o.SettlePoll, deadline.Sub(r.o.Now()))); err != nil {
			return nil, err
		}
	}
}

// earlierCallers lists the running jobs of the failed pipeline ranked before
// this caller, and when the last one of the lower-numbered jobs stopped.
func (r *run) earlierCallers(ctx context.Context) ([]string, time.Time, error) {
	wfs, err := r.c.Pipelines.Workflows(ctx, r.current.ID)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("workflows of pipeline %d: %w", r.current.Number, err)
	}
	var running []string
	var lastStop time.Time
	for _, w := range wfs {
		if w.Done() && w.StoppedAt != nil && r.o.Now().Sub(*w.StoppedAt) > r.o.ListLag {
			continue // stopped long ago: its rollback, if any, shows already
		}
		jobs, err := r.c.Workflows.Jobs(ctx, w.ID)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("jobs of workflow %s: %w", w.Name, err)
		}
		for _, j := range jobs {
			if j.JobNumber == nil {
				continue
			}
			n := *j.JobNumber
			earlier := n < r.o.JobNumber || (n == r.o.JobNumber && r.o.NodeIndex > 0)
			if !earlier {
				continue
			}
			switch {
			case n == r.o.JobNumber && j.Status == "running":
				// This caller's own job: the nodes before it rank first
				// while they run (a node that passed calls no rollback).
				nodes, err := r.earlierNodes(ctx, n)
				if err != nil {
					return nil, time.Time{}, err
				}
				running = append(running, nodes...)
			case j.Status == "running":
				running = append(running, fmt.Sprint(n))
			case j.StoppedAt != nil && j.StoppedAt.After(lastStop):
				lastStop = *j.StoppedAt
			}
		}
	}
	return running, lastStop, nil
}

// earlierNodes lists the running nodes of this caller's own job with a
// lower index than its own, as the job's parallel runs show them.
func (r *run) earlierNodes(ctx context.Context, job int64) ([]string, error) {
	d, err := r.c.Jobs.Get(ctx, r.o.ProjectSlug, job)
	if err != nil {
		return nil, fmt.Errorf("job %d: %w", job, err)
	}
	var out []string
	for _, p := range d.ParallelRuns {
		if p.Index < int64(r.o.NodeIndex) && p.Status == "running" {
			out = append(out, fmt.Sprintf("%d node %d", job, p.Index))
		}
	}
	return out, nil
}

// attempts counts the rounds among dead rollbacks: duplicates started in
// one round (within window of its first) and cancelled count once.
func attempts(dead []Started, window time.Duration) int {
	sorted := append([]Started(nil), dead...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].CreatedAt.Before(sorted[j].CreatedAt) })
	n := 0
	var round time.Time
	for i, s := range sorted {
		if i == 0 || s.CreatedAt.Sub(round) > window {
			n++
			round = s.CreatedAt
		}
	}
	return n
}

func firstAlive(list []Started) *Started {
	alive := aliveOf(list)
	if len(alive) == 0 {
		return nil
	}
	s := earliest(alive)
	return &s
}

// aliveOf is the live rollbacks of list, in a slice of their own (earliest
// sorts it).
func aliveOf(list []Started) []Started {
	var alive []Started
	for _, s := range list {
		if s.alive() {
			alive = append(alive, s)
		}
	}
	return alive
}

// newAlive is the earliest live rollback of list that before did not hold.
func newAlive(list, before []Started) *Started {
	var fresh []Started
	for _, s := range list {
		if s.alive() && find(before, s.key()) == nil {
			fresh = append(fresh, s)
		}
	}
	return firstAlive(fresh)
}

// newAny is a rollback of list that before did not hold, live or not.
func newAny(list, before []Started) *Started {
	for i := range list {
		if find(before, list[i].key()) == nil {
			return &list[i]
		}
	}
	return nil
}

func find(list []Started, key string) *Started {
	for i := range list {
		if list[i].key() == key {
			return &list[i]
		}
	}
	return nil
}

// join reports the rollback this caller did not start (or cancelled its
// own for) and follows it when asked.
func (r *run) join(ctx context.Context, res *Result, first Started, why string) (*Result, error) {
	res.Outcome = OutcomeDuplicate
	if res.Action == "" {
		res.Action = ActionJoined
	}
	res.Rollback = &first
	f := events.Rollback{Reason: "duplicate", Action: res.Action, RollbackPipelineID: first.PipelineID, RollbackPipelineNumber: int(first.PipelineNumber),
		RollbackWorkflowID: first.WorkflowID, RollbackURL: first.URL, APICalls: int(r.c.Calls()), Attempt: res.Attempt,
		SchemaCheck: r.schemaFigure(), SchemaFindings: r.schemaLines()}
	if c := res.Cancelled; c != nil {
		f.CancelledPipelineID, f.CancelledPipelineNumber, f.CancelledWorkflowID = c.PipelineID, int(c.PipelineNumber), c.WorkflowID
		r.printf("Cancelled: %s, a duplicate this caller started.\n", c.Name())
	}
	r.printf("Joined: %s %s\n", why, first.URL)
	target := ""
	if res.Target != nil {
		target = res.Target.Version
	}
	r.event(ctx, events.RollbackSkipped, target, res.Action+": "+why+r.schemaMessage(), f)
	if !r.o.Wait {
		return res, nil
	}
	return r.follow(ctx, res, first, false)
}

// cancel cancels a rollback's running workflows. A pipeline just triggered
// may have none yet: with wait (the caller's own duplicate) it follows the
// pipeline's state at the status polls' pace until its workflows show (and
// cancels them), it errors (nothing will run), or the time a rollback may
// take to start has passed (then every caller counts it as never started).
// Without wait (another caller's duplicate, which that caller cancels) it
// cancels what shows now.
func (r *run) cancel(ctx context.Context, s Started, wait bool) error {
	if s.WorkflowID != "" && s.PipelineNumber == 0 {
		w, err := r.c.Workflows.Get(ctx, s.WorkflowID)
		if err != nil {
			return err
		}
		if !w.Done() {
			return r.c.Workflows.Cancel(ctx, w.ID)
		}
		return nil
	}
	created := s.CreatedAt
	if created.IsZero() {
		created = r.o.Now()
	}
	pace := r.pace(created.Add(neverStarted))
	for {
		wfs, err := r.c.Pipelines.Workflows(ctx, s.PipelineID)
		if err != nil {
			return err
		}
		if len(wfs) > 0 {
			for _, w := range wfs {
				if !w.Done() {
					if err := r.c.Workflows.Cancel(ctx, w.ID); err != nil {
						return err
					}
				}
			}
			return nil
		}
		if !wait {
			return nil
		}
		p, err := r.c.Pipelines.Get(ctx, s.PipelineID)
		if err != nil {
			return err
		}
		if p.State == "errored" {
			_, why := judgeState(nil, p.State, p.Errors, 0)
			r.printf("The duplicate %s will not run (%s): nothing to cancel.\n", s.Name(), why)
			return nil
		}
		more, err := pace.wait(ctx)
		if err != nil {
			return err
		}
		if !more {
			return fmt.Errorf("%s showed no workflow to cancel within %s of its creation", s.Name(), neverStarted)
		}
	}
}
