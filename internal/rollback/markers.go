package rollback

import (
	"context"

	"github.com/pmguard/pmguard/internal/deploymarker"
	"github.com/pmguard/pmguard/internal/jobenv"
)

// planMarker records the rollback in CircleCI's Deploys view through
// deploymarker (`circleci run release plan NAME --rollback …`), when asked
// and when the job has the CLI. Markers are a courtesy: a missing CLI or a
// failing command is a note, never a failure.
func (r *run) planMarker(ctx context.Context, t *Target) {
	if !r.o.ReleaseMarkers {
		return
	}
	r.marker = nil
	comp, env := t.Component, t.Environment
	if comp == "" {
		comp = r.o.Component
	}
	if env == "" {
		env = r.o.Environment
	}
	redact := func(s string) string { return s }
	if r.o.Redactor != nil {
		redact = r.o.Redactor.Redact
	}
	w := deploymarker.New(deploymarker.Options{
		Settings: deploymarker.Settings{
			DeployMarkers: "auto", DeployName: markerName(r.o.JobName),
			DeployComponent: comp, DeployEnvironment: env, DeployVersion: t.Version, DeployNamespace: t.Namespace,
		},
		// The component is named above; the job's repository is no
		// fallback for what a rollback rolls back.
		Job:  jobenv.Job{JobName: r.o.JobName},
		Path: r.o.CLIPath, Env: r.o.CLIEnv, Out: r.o.Out, Redact: redact, Run: r.o.RunCLI, Rollback: true,
	})
	if w == nil {
		r.printf("Note: release_markers is on but the circleci CLI is not in PATH; no deploy marker recorded.\n")
		return
	}
	if comp == "" || env == "" {
		r.printf("Note: release_markers needs component and environment; no deploy marker recorded.\n")
		return
	}
	w.Plan(ctx)
	// The rollback is already started: it is running, not pending.
	w.Running(ctx)
	r.marker = w
}

// markerName names the rollback's release plan apart from the plan the
// failed deploy's own guards may have made in the same job ($CIRCLE_JOB).
func markerName(job string) string {
	if job == "" {
		return "rollback"
	}
	return job + "-rollback"
}

// updateMarker records the followed rollback's outcome on the marker (a
// no-op when none was planned).
func (r *run) updateMarker(ctx context.Context, own bool, status, reason string) {
	if !own {
		return
	}
	if status == "SUCCESS" {
		r.marker.Succeeded(ctx)
		return
	}
	r.marker.Failed(ctx, reason)
}
