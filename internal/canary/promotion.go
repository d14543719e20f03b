package canary

import (
	"context"
	"fmt"
	"io"

	"github.com/pmguard/pmguard/internal/events"
)

// recordPromotion closes the release a passing canary left RUNNING
// (deploy_marker_success promotion) with how the promotion went. The
// canary's verdict event, found in the event log by the release's name,
// says whether one is open: a release the canary already marked FAILED,
// or none planned (markers off, shadow mode, a job that failed before the
// analysis), is left alone. Like every marker, this never fails the step.
func (o *Options) recordPromotion(ctx context.Context, out io.Writer) error {
	m := o.markers(out)
	if m == nil {
		return nil // markers off, or no circleci CLI: nothing was planned either
	}
	verdict, fig, ok := o.canaryVerdict(m.Name())
	switch {
	case !ok:
		fmt.Fprintf(out, "canary: no canary verdict for release %s in the event log %s: no deploy marker to update\n", m.Name(), o.EventsFile)
		return nil
	case fig.DeployMarker != "RUNNING" && fig.DeployMarker != "PENDING":
		fmt.Fprintf(out, "canary: release %s is not waiting for its promotion (the canary left it %s: %s); nothing to update\n",
			m.Name(), orNone(fig.DeployMarker), verdict.Message)
		return nil
	}
	m.Resume(fig.DeployMarker)
	if o.Promotion == "succeeded" {
		fmt.Fprintf(out, "canary: the promotion after the canary's pass succeeded\n")
		m.Succeeded(ctx)
		return nil
	}
	reason := "the canary passed, then a later step failed, so the promotion (deploy_full) did not complete; the canary: " + verdict.Message
	if u := o.d.Job.BuildURL; u != "" {
		reason += "; see " + u
	}
	fmt.Fprintf(out, "canary: the promotion after the canary's pass failed\n")
	m.Failed(ctx, reason)
	return nil
}

// canaryVerdict is the newest canary verdict event in the event log for
// the release named name, of this pipeline.
func (o *Options) canaryVerdict(name string) (events.Event, events.Canary, bool) {
	if o.EventsFile == "" {
		return events.Event{}, events.Canary{}, false
	}
	evs, err := events.ReadFiles(o.EventsFile)
	if err != nil {
		return events.Event{}, events.Canary{}, false
	}
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		switch e.Event {
		case events.CanaryPassed, events.CanaryFailed, events.CanaryInconclusive:
		default:
			continue
		}
		if p := o.d.Job.PipelineID; p != "" && e.PipelineID != "" && e.PipelineID != p {
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
