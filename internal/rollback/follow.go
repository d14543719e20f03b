package rollback

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/verdict"
)

// follow polls the rollback's workflows with backoff until they all finish
// or wait_timeout passes. It returns nil when they all succeed and a
// verdict of fail otherwise. wait_timeout bounds the whole follow, requests
// in flight included: a status endpoint that hangs is cut off at the
// deadline (httpx retries nothing past it) and the outcome is a timeout.
func (r *run) follow(ctx context.Context, res *Result, s Started, own bool) (*Result, error) {
	o := r.o
	start := o.Now()
	deadline := start.Add(o.WaitTimeout)
	wctx, cancel := context.WithTimeout(ctx, o.WaitTimeout)
	defer cancel()
	pace := r.pace(deadline)
	r.printf("Waiting for %s (up to %s)...\n", s.Name(), o.WaitTimeout)
	last := "no status yet"
	// readFailed is the outcome of a failed status read: a timeout when
	// wait_timeout cut it off, the error otherwise.
	readFailed := func(err error) (*Result, error) {
		if ctx.Err() == nil && wctx.Err() != nil {
			return r.timedOut(ctx, res, s, own, start, last, err)
		}
		return nil, fmt.Errorf("following %s: %w", s.Name(), err)
	}
	for {
		wfs, err := r.workflowsOf(wctx, s)
		if err != nil {
			return readFailed(err)
		}
		if len(wfs) == 0 {
			// A pipeline without workflows may never get one: its config
			// did not compile, or it never started.
			why, err := r.notStarted(wctx, s)
			if err != nil {
				return readFailed(err)
			}
			if why != "" {
				res.Outcome = OutcomeFailed
				figures := r.followFigures(s, own, start)
				figures.Status, figures.Reason = why, "not_started"
				r.printf("Rollback did not start: %s %s %s\n", s.Name(), why, s.URL)
				r.event(ctx, events.RollbackFailed, res.Target.Version, fmt.Sprintf("the rollback did not start: %s %s: %s", s.Name(), why, s.URL), figures)
				r.updateMarker(ctx, own, "FAILED", fmt.Sprintf("rollback %s did not start (%s): %s", s.Name(), why, s.URL))
				return res, fmt.Errorf("the rollback did not start: %s %s %s", s.Name(), why, s.URL)
			}
		}
		done, ok, summary := judge(wfs)
		if summary != last {
			r.printf("  %s: %s\n", s.Name(), summary)
			last = summary
		}
		figures := r.followFigures(s, own, start)
		if done {
			r.durations(&figures, s, wfs)
		}
		if done && ok {
			res.Outcome = OutcomeCompleted
			r.printf("Rollback succeeded: %s %s\n", s.Name(), s.URL)
			if figures.RestoreSeconds > 0 {
				r.printf("  the rollback ran %s; time to restore %s (from the start of the failed pipeline %d)\n",
					seconds(figures.RollbackSeconds), seconds(figures.RestoreSeconds), r.current.Number)
			}
			r.event(ctx, events.RollbackCompleted, res.Target.Version, fmt.Sprintf("%s succeeded: %s", s.Name(), s.URL), figures)
			r.updateMarker(ctx, own, "SUCCESS", "")
			return res, nil
		}
		if done {
			res.Outcome = OutcomeFailed
			r.printf("Rollback failed: %s (%s) after %s %s\n", s.Name(), summary, seconds(figures.RollbackSeconds), s.URL)
			figures.Status = summary
			r.event(ctx, events.RollbackFailed, res.Target.Version, fmt.Sprintf("%s did not succeed (%s): %s", s.Name(), summary, s.URL), figures)
			r.updateMarker(ctx, own, "FAILED", fmt.Sprintf("rollback %s did not succeed (%s): %s", s.Name(), summary, s.URL))
			return res, verdict.Failf("rollback %s did not succeed (%s): %s", s.Name(), summary, s.URL)
		}
		more, err := pace.wait(wctx)
		switch {
		case err != nil && ctx.Err() == nil:
			return r.timedOut(ctx, res, s, own, start, summary, err)
		case err != nil:
			return nil, err
		case !more:
			return r.timedOut(ctx, res, s, own, start, summary, nil)
		}
	}
}

// pacer spaces the status polls of a rollback run: PollMin, then ×1.5 up
// to PollMax, never past its deadline. Following a rollback and waiting
// for a duplicate's workflows to cancel both poll at this pace.
type pacer struct {
	r        *run
	delay    time.Duration
	deadline time.Time
}

func (r *run) pace(deadline time.Time) *pacer {
	return &pacer{r: r, delay: r.o.PollMin, deadline: deadline}
}

// wait sleeps until the next poll; false when the deadline has come.
func (p *pacer) wait(ctx context.Context) (bool, error) {
	now := p.r.o.Now()
	if !now.Before(p.deadline) {
		return false, nil
	}
	if err := p.r.o.Sleep(ctx, min(p.delay, p.deadline.Sub(now))); err != nil {
		return false, err
	}
	p.delay = min(time.Duration(float64(p.delay)*1.5), p.r.o.PollMax)
	return true, nil
}

// durations fills how long the finished rollback ran (its creation to its
// last workflow's end, as the API reports them) and, on success, the time
// to restore: from the failed pipeline's start to that end.
func (r *run) durations(f *events.Rollback, s Started, wfs []circleci.Workflow) {
	var end time.Time
	for _, w := range wfs {
		if w.StoppedAt != nil && w.StoppedAt.After(end) {
			end = *w.StoppedAt
		}
	}
	if end.IsZero() {
		end = r.o.Now()
	}
	created := s.CreatedAt
	if created.IsZero() {
		for _, w := range wfs {
			if created.IsZero() || w.CreatedAt.Before(created) {
				created = w.CreatedAt
			}
		}
	}
	if !created.IsZero() && end.After(created) {
		f.RollbackSeconds = end.Sub(created).Seconds()
	}
	ok := true
	for _, w := range wfs {
		ok = ok && w.Status == circleci.StatusSuccess
	}
	if ok && r.current != nil && end.After(r.current.CreatedAt) {
		f.RestoreSeconds = end.Sub(r.current.CreatedAt).Seconds()
	}
}

func seconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

func (r *run) followFigures(s Started, own bool, start time.Time) events.Rollback {
	return events.Rollback{RollbackPipelineID: s.PipelineID, RollbackPipelineNumber: int(s.PipelineNumber),
		RollbackWorkflowID: s.WorkflowID, RollbackURL: s.URL, WaitSeconds: r.o.Now().Sub(start).Seconds(), Joined: !own}
}

// timedOut ends a follow that reached wait_timeout; cut is the request or
// wait the deadline cut off, if any.
func (r *run) timedOut(ctx context.Context, res *Result, s Started, own bool, start time.Time, summary string, cut error) (*Result, error) {
	res.Outcome = OutcomeTimeout
	figures := r.followFigures(s, own, start)
	figures.Status, figures.Reason = summary, "timeout"
	r.event(ctx, events.RollbackFailed, res.Target.Version, fmt.Sprintf("%s still not finished after %s (%s): %s", s.Name(), r.o.WaitTimeout, summary, s.URL), figures)
	why := ""
	if cut != nil {
		why = fmt.Sprintf("; cut off at the deadline: %v", cut)
	}
	return res, verdict.Failf("rollback %s still not finished after wait_timeout %s (%s): %s%s", s.Name(), r.o.WaitTimeout, summary, s.URL, why)
}

// notStarted says why a rollback pipeline that shows no workflow will never
// run one (it errored, or none started within neverStarted), or "" while it
// may still; a rerun always has its workflow.
func (r *run) notStarted(ctx context.Context, s Started) (string, error) {
	if s.WorkflowID != "" || s.PipelineID == "" {
		return "", nil
	}
	p, err := r.c.Pipelines.Get(ctx, s.PipelineID)
	if err != nil {
		return "", err
	}
	if state, why := judgeState(nil, p.State, p.Errors, r.o.Now().Sub(p.CreatedAt)); state == stateDead {
		return why, nil
	}
	return "", nil
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
