package rollback

import (
	"context"
	"strings"
)

// planMarker records the rollback in CircleCI's Deploys view with the
// `circleci` CLI (`circleci run release plan --rollback`), when asked and
// when the job has the CLI. Markers are a courtesy: a missing CLI or a
// failing command is a note, never a failure.
func (r *run) planMarker(ctx context.Context, t *Target) {
	if !r.o.ReleaseMarkers {
		return
	}
	r.markerPlanned = false
	bin, err := r.o.LookPath("circleci")
	if err != nil {
		r.printf("Note: release_markers is on but the circleci CLI is not in PATH; no deploy marker recorded.\n")
		return
	}
	comp, env := t.Component, t.Environment
	if comp == "" {
		comp = r.o.Component
	}
	if env == "" {
		env = r.o.Environment
	}
	if comp == "" || env == "" {
		r.printf("Note: release_markers needs component and environment; no deploy marker recorded.\n")
		return
	}
	args := []string{"run", "release", "plan", "--rollback", "--environment-name=" + env, "--component-name=" + comp, "--target-version=" + t.Version}
	if t.Namespace != "" {
		args = append(args, "--namespace="+t.Namespace)
	}
	if out, err := r.o.Exec(ctx, bin, args...); err != nil {
		r.printf("Note: %s %s failed: %v %s\n", bin, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		return
	}
	r.markerPlanned = true
	r.printf("Deploy marker: planned rollback of %s in %s to %s.\n", comp, env, t.Version)
}

// updateMarker records the followed rollback's outcome on the marker.
func (r *run) updateMarker(ctx context.Context, own bool, status string) {
	if !own || !r.markerPlanned {
		return
	}
	bin, err := r.o.LookPath("circleci")
	if err != nil {
		return
	}
	args := []string{"run", "release", "update", "--status=" + status}
	if out, err := r.o.Exec(ctx, bin, args...); err != nil {
		r.printf("Note: %s %s failed: %v %s\n", bin, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		return
	}
	r.printf("Deploy marker: %s.\n", status)
}
