package rollback

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/verdict"
)

// follow polls the rollback's workflows with backoff until they all finish
// or wait_timeout passes. It exits 0 when they all succeed and 1 otherwise.
func (r *run) follow(ctx context.Context, res *Result, s Started, own bool) (*Result, error) {
	o := r.o
	start := o.Now()
	deadline := start.Add(o.WaitTimeout)
	delay := o.PollMin
	r.printf("Waiting for %s (up to %s)...\n", s.Name(), o.WaitTimeout)
	last := ""
	for {
		wfs, err := r.workflowsOf(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("following %s: %w", s.Name(), err)
		}
		done, ok, summary := judge(wfs)
		if summary != last {
			r.printf("  %s: %s\n", s.Name(), summary)
			last = summary
		}
		figures := map[string]any{"rollback_pipeline_id": s.PipelineID, "rollback_pipeline_number": s.PipelineNumber,
			"rollback_workflow_id": s.WorkflowID, "rollback_url": s.URL, "wait_seconds": o.Now().Sub(start).Seconds(), "joined": !own}
		if done && ok {
			res.Outcome = OutcomeCompleted
			r.printf("Rollback succeeded: %s %s\n", s.Name(), s.URL)
			r.event("rollback_completed", res.Target.Version, fmt.Sprintf("%s succeeded: %s", s.Name(), s.URL), figures)
			r.updateMarker(ctx, own, "SUCCESS")
			return res, nil
		}
		if done {
			res.Outcome = OutcomeFailed
			figures["status"] = summary
			r.event("rollback_failed", res.Target.Version, fmt.Sprintf("%s did not succeed (%s): %s", s.Name(), summary, s.URL), figures)
			r.updateMarker(ctx, own, "FAILED")
			return res, verdict.Failf("rollback %s did not succeed (%s): %s", s.Name(), summary, s.URL)
		}
		now := o.Now()
		if !now.Before(deadline) {
			res.Outcome = OutcomeTimeout
			figures["status"] = summary
			figures["reason"] = "timeout"
			r.event("rollback_failed", res.Target.Version, fmt.Sprintf("%s still not finished after %s (%s): %s", s.Name(), o.WaitTimeout, summary, s.URL), figures)
			return res, verdict.Failf("rollback %s still not finished after wait_timeout %s (%s): %s", s.Name(), o.WaitTimeout, summary, s.URL)
		}
		wait := min(delay, deadline.Sub(now))
		if err := o.Sleep(ctx, wait); err != nil {
			return nil, err
		}
		delay = min(time.Duration(float64(delay)*1.5), o.PollMax)
	}
}

func (r *run) workflowsOf(ctx context.Context, s Started) ([]circleci.Workflow, error) {
	if s.WorkflowID != "" && s.PipelineNumber == 0 {
		w, err := r.c.Workflows.Get(ctx, s.WorkflowID)
		if err != nil {
			return nil, err
		}
		return []circleci.Workflow{*w}, nil
	}
	return r.c.Pipelines.Workflows(ctx, s.PipelineID)
}

// judge says whether every workflow finished and all succeeded. A pipeline
// without workflows yet is still starting.
func judge(wfs []circleci.Workflow) (done, ok bool, summary string) {
	if len(wfs) == 0 {
		return false, false, "starting"
	}
	done, ok = true, true
	var parts []string
	for _, w := range wfs {
		parts = append(parts, w.Name+" "+w.Status)
		if !w.Done() {
			done = false
		}
		if w.Status != circleci.StatusSuccess {
			ok = false
		}
	}
	return done, ok, strings.Join(parts, ", ")
}
