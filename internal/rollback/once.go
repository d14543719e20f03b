package rollback

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/events"
)

// Started is a rollback run: a pipeline (rollback_pipeline, definition,
// trigger) or a rerun workflow (rerun).
type Started struct {
	PipelineID     string
	PipelineNumber int64
	WorkflowID     string // rerun: the new workflow
	CreatedAt      time.Time
	URL            string
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

// listRollbacks finds the rollbacks already started for the failed
// pipeline: pipelines newer than it whose pmguard_rollback_of names it, or,
// for reruns, runs of the target's deploy workflow created after it failed.
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
				out = append(out, Started{PipelineID: w.PipelineID, WorkflowID: w.ID, CreatedAt: w.CreatedAt, URL: r.c.WorkflowURL(&w), seq: len(wfs) - i})
			}
		}
		return out, nil
	}
	// Rollbacks are newer than the failed pipeline, so they sit at the top
	// of the newest-first list; stop at the failed pipeline.
	for p, err := range r.c.Pipelines.All(ctx, r.o.ProjectSlug, nil, 5) {
		if err != nil {
			return nil, fmt.Errorf("listing pipelines: %w", err)
		}
		if p.Number <= failed.Number {
			break
		}
		if p.StringParam(ParamRollbackOf) == failed.ID {
			out = append(out, Started{PipelineID: p.ID, PipelineNumber: p.Number, CreatedAt: p.CreatedAt, URL: r.c.PipelineURL(p.ProjectSlug, p.Number)})
		}
	}
	return out, nil
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

// trigger sends the one write that starts the rollback.
func (r *run) trigger(ctx context.Context, st *strategy, t *Target) (*Started, error) {
	o := r.o
	if o.OnTrigger != nil {
		o.OnTrigger()
	}
	branch, tag := r.current.Branch(), ""
	if branch == "" {
		tag = t.Tag
		if tag == "" {
			tag = r.current.Tag()
		}
	}
	switch st.name {
	case StrategyRerun:
		id, err := r.c.Workflows.Rerun(ctx, t.WorkflowID, circleci.RerunRequest{})
		if err != nil {
			return nil, err
		}
		w, err := r.c.Workflows.Get(ctx, id)
		if err != nil {
			return &Started{PipelineID: t.PipelineID, WorkflowID: id, CreatedAt: r.o.Now()}, nil
		}
		return &Started{PipelineID: w.PipelineID, WorkflowID: id, CreatedAt: w.CreatedAt, URL: r.c.WorkflowURL(w)}, nil
	case StrategyRollbackPipeline:
		resp, err := r.c.Deploy.Rollback(ctx, st.projectID, circleci.RollbackRequest{
			ComponentName: t.Component, EnvironmentName: t.Environment, Namespace: t.Namespace,
			CurrentVersion: t.CurrentVersion, TargetVersion: t.Version,
			Reason:     fmt.Sprintf("pmguard: pipeline %d failed", r.current.Number),
			Parameters: r.params(t),
		})
		if err != nil {
			return nil, err
		}
		s := &Started{PipelineID: resp.ID, CreatedAt: r.o.Now()}
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
		pc, err := r.c.Pipelines.Run(ctx, o.ProjectSlug, circleci.RunRequest{DefinitionID: def, Config: ref, Checkout: ref, Parameters: r.params(t)})
		if err != nil {
			return nil, err
		}
		return &Started{PipelineID: pc.ID, PipelineNumber: pc.Number, CreatedAt: pc.CreatedAt, URL: r.c.PipelineURL(o.ProjectSlug, pc.Number)}, nil
	default: // trigger
		pc, err := r.c.Pipelines.Trigger(ctx, o.ProjectSlug, circleci.TriggerRequest{Branch: branch, Tag: tag, Parameters: r.params(t)})
		if err != nil {
			return nil, err
		}
		return &Started{PipelineID: pc.ID, PipelineNumber: pc.Number, CreatedAt: pc.CreatedAt, URL: r.c.PipelineURL(o.ProjectSlug, pc.Number)}, nil
	}
}

// startOnce starts the rollback unless one already runs for the failed
// pipeline, then settles races: every caller lists the rollbacks again and
// all agree the earliest survives; the others are cancelled.
func (r *run) startOnce(ctx context.Context, st *strategy, t *Target, res *Result) (*Result, error) {
	existing, err := r.listRollbacks(ctx, st, t)
	if err != nil {
		return nil, err
	}
	if len(existing) > 0 {
		first := earliest(existing)
		return r.duplicate(ctx, res, first, fmt.Sprintf("%s already rolls back pipeline %d", first.Name(), r.current.Number))
	}
	started, err := r.trigger(ctx, st, t)
	if errors.Is(err, circleci.ErrDryRun) {
		res.Outcome = OutcomeDryRun
		r.printf("Dry run: no rollback started.\n")
		r.event(events.RollbackSkipped, t.Version, "dry run: the rollback request was printed, not sent", events.Rollback{
			Reason: "dry_run", Strategy: st.name, TargetVersion: t.Version, TargetPipelineNumber: int(t.PipelineNumber), APICalls: int(r.c.Calls())})
		return res, nil
	}
	if err != nil {
		return nil, fmt.Errorf("starting the rollback (%s): %w", st.name, err)
	}
	secondsToTrigger := r.o.Now().Sub(r.start).Seconds()
	all, err := r.listRollbacks(ctx, st, t)
	if err != nil {
		return nil, err
	}
	own := *started
	own.seq = 1 << 30      // not listed yet: assume it is the newest
	all = append(all, own) // after the listed copy, which dedupe keeps
	first := earliest(dedupe(all))
	var cancelErr error
	for _, s := range dedupe(all) {
		if s.key() != first.key() {
			// Cancelling is idempotent, so every caller may cancel every
			// loser: a caller that died after triggering leaves no duplicate.
			if err := r.cancel(ctx, s); err != nil && cancelErr == nil {
				cancelErr = err
			}
		}
	}
	if first.key() != started.key() {
		if cancelErr != nil {
			r.printf("warning: cancelling duplicate %s: %v\n", started.Name(), cancelErr)
		}
		return r.duplicate(ctx, res, first, fmt.Sprintf("%s started first; cancelled this caller's %s", first.Name(), started.Name()))
	}
	if cancelErr != nil {
		r.printf("warning: cancelling a duplicate rollback: %v\n", cancelErr)
	}
	res.Outcome = OutcomeInitiated
	res.Rollback = started
	r.printf("Rollback started: %s %s\n", started.Name(), started.URL)
	r.event(events.RollbackInitiated, t.Version, fmt.Sprintf("rollback of pipeline %d to %s by %s: %s", r.current.Number, t.Describe(), st.name, started.URL), events.Rollback{
		Strategy: st.name, TargetVersion: t.Version, TargetPipelineNumber: int(t.PipelineNumber), TargetRevision: t.Revision,
		RollbackPipelineID: started.PipelineID, RollbackPipelineNumber: int(started.PipelineNumber), RollbackWorkflowID: started.WorkflowID,
		RollbackURL: started.URL, PagesSearched: t.PagesSearched, APICalls: int(r.c.Calls()), SecondsToTrigger: secondsToTrigger})
	r.planMarker(ctx, t)
	if !r.o.Wait {
		return res, nil
	}
	return r.follow(ctx, res, *started, true)
}

func dedupe(list []Started) []Started {
	seen := map[string]bool{}
	var out []Started
	for _, s := range list {
		if !seen[s.key()] {
			seen[s.key()] = true
			out = append(out, s)
		}
	}
	return out
}

func (r *run) duplicate(ctx context.Context, res *Result, first Started, why string) (*Result, error) {
	res.Outcome = OutcomeDuplicate
	res.Rollback = &first
	r.printf("Skipped: %s %s\n", why, first.URL)
	r.event(events.RollbackSkipped, res.Target.Version, "duplicate: "+why, events.Rollback{
		Reason: "duplicate", RollbackPipelineID: first.PipelineID, RollbackPipelineNumber: int(first.PipelineNumber),
		RollbackWorkflowID: first.WorkflowID, RollbackURL: first.URL, APICalls: int(r.c.Calls())})
	if !r.o.Wait {
		return res, nil
	}
	return r.follow(ctx, res, first, false)
}

// cancel cancels a rollback's running workflows. A pipeline may not have
// its workflows yet right after the trigger, so it waits for them a little.
func (r *run) cancel(ctx context.Context, s Started) error {
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
	delay := time.Second
	for try := 0; try < 8; try++ {
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
		if err := r.o.Sleep(ctx, delay); err != nil {
			return err
		}
		delay = min(delay*2, 10*time.Second)
	}
	return fmt.Errorf("%s has no workflows to cancel yet", s.Name())
}
