package canary

import (
	"context"
	"fmt"
	"io"

	"github.com/pmguard/pmguard/internal/events"
)

// recordPromotion closes the release a canary left RUNNING (deploy_marker_
// success promotion) with how the promotion went. The canary's verdict
// event, found in the event log by the release's name and this job, says
// whether one is open: a release the canary already closed, or none
// planned (markers off, shadow mode, a job that failed before the
// analysis), is left alone, and so is one whose promotion is recorded
// already. A canary that did not pass, whose FAILED update did not reach
// CircleCI, is marked FAILED with its own reason whatever the promotion
// says. Like every marker, this never fails the step.
func (o *Options) recordPromotion(ctx context.Context, out io.Writer) error {
	m := o.markers(out)
	if m == nil {
		return nil // markers off, or no circleci CLI: nothing was planned either
	}
	last, fig, ok := o.canaryVerdict(m.Name())
	switch {
	case !ok:
		of := "of this job"
		if o.PromotionAnyJob {
			of = "of this pipeline"
		}
		fmt.Fprintf(out, "canary: no canary verdict for release %s %s in the event log %s: no deploy marker to update\n", m.Name(), of, o.EventsFile)
		return nil
	case last.Event == events.CanaryPromotion:
		fmt.Fprintf(out, "canary: the promotion of release %s is recorded already (%s); nothing to update\n", m.Name(), fig.DeployMarker)
		return nil
	case fig.DeployMarker != "RUNNING" && fig.DeployMarker != "PENDING":
		fmt.Fprintf(out, "canary: release %s is not waiting for its promotion (the canary left it %s: %s); nothing to update\n",
			m.Name(), orNone(fig.DeployMarker), last.Message)
		return nil
	}
	m.Resume(fig.DeployMarker)
	passed := fig.Passed || last.Event == events.CanaryPassed
	var msg string
	switch {
	case !passed:
		fmt.Fprintf(out, "canary: the canary did not pass (%s); release %s is marked FAILED\n", last.Message, m.Name())
		m.Failed(ctx, "the canary did not pass: "+last.Message)
		msg = "the canary did not pass"
	case o.Promotion == "succeeded":
		fmt.Fprintf(out, "canary: the promotion after the canary's pass succeeded\n")
		m.Succeeded(ctx)
		msg = "the promotion succeeded"
	default:
		reason := "the canary passed, then a later step failed, so the promotion (deploy_full) did not complete; the canary: " + last.Message
		if u := o.d.Job.BuildURL; u != "" {
			reason += "; see " + u
		}
		fmt.Fprintf(out, "canary: the promotion after the canary's pass failed\n")
		m.Failed(ctx, reason)
		msg = "the promotion failed"
	}
	o.appendEvent(events.CanaryPromotion, events.Canary{DeployName: m.Name(), DeployMarker: m.Status(), Passed: passed}, nil, msg)
	return nil
}

// canaryVerdict is the newest canary verdict or promotion event in the
// event log for the release named name, of this pipeline and, unless
// promotion_any_job, of this job (an event log attached from another job
// may hold a release of the same name).
func (o *Options) canaryVerdict(name string) (events.Event, events.Canary, bool) {
	if o.EventsFile == "" {
		return events.Event{}, events.Canary{}, false
	}
	evs, skipped, err := events.ReadFiles(o.EventsFile)
	if err != nil {
		return events.Event{}, events.Canary{}, false
	}
	if skipped != nil {
		fmt.Fprintf(o.d.Stdout, "canary: note: %v\n", skipped)
	}
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		switch e.Event {
		case events.CanaryPassed, events.CanaryFailed, events.CanaryInconclusive, events.CanaryPromotion:
		default:
			continue
		}
		if p := o.d.Job.PipelineID; p != "" && e.PipelineID != "" && e.PipelineID != p {
			continue
		}
		if u := o.d.Job.BuildURL; !o.PromotionAnyJob && u != "" && e.JobURL != "" && e.JobURL != u {
			continue
		}
		var f events.Canary
		e.Decode(&f)
		if f.DeployName == name {
			return e, f, true
		}
	}
	return events.Event{}, events.Canary{}, false
}

func orNone(s string) string {
	if s == "" {
		return "with no marker"
	}
	return s
}
