// Package deploymarker records a guarded deploy in CircleCI's Deploys view
// through the `circleci` CLI that CircleCI puts in every job:
// `circleci run release plan NAME --target-version=… [--environment-name=…]
// [--component-name=…] [--namespace=…]`, then `circleci run release update
// NAME --status=RUNNING|SUCCESS|FAILED [--failure-reason=…]`. A rollback's
// plan adds `--rollback`, which CircleCI shows as a rollback of the
// component in the environment.
//
// Markers are a courtesy to the Deploys view: a missing CLI or a failing
// command is a note on the output, never a change to the verdict.
package deploymarker

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/jobenv"
	"github.com/pmguard/pmguard/internal/verb"
)

// Settings are the marker settings every guard that writes markers embeds
// (PMGUARD_<VERB>_DEPLOY_*).
type Settings struct {
	DeployMarkers     string `env:"DEPLOY_MARKERS, default=auto" flag:"deploy-markers" form:"\"auto\" or \"off\"" group:"Deploy markers" usage:"auto: record the deploy in CircleCI's Deploys view with the circleci CLI when it is in PATH (plan, RUNNING, SUCCESS or FAILED with the verdict); off: never"`
	DeployName        string `env:"DEPLOY_NAME" flag:"deploy-name" group:"Deploy markers" usage:"the release plan's name, as a type: release job's plan_name repeats it (default: $CIRCLE_JOB)"`
	DeployComponent   string `env:"DEPLOY_COMPONENT" flag:"deploy-component" group:"Deploy markers" usage:"the component deployed (default: $CIRCLE_PROJECT_REPONAME)"`
	DeployEnvironment string `env:"DEPLOY_ENVIRONMENT" flag:"deploy-environment" group:"Deploy markers" usage:"the environment deployed to, as named in CircleCI (default: omitted, which CircleCI accepts when the organization has one)"`
	DeployVersion     string `env:"DEPLOY_VERSION" flag:"deploy-version" group:"Deploy markers" usage:"the version deployed (default: $CIRCLE_TAG, else $CIRCLE_SHA1)"`
	DeployNamespace   string `env:"DEPLOY_NAMESPACE" flag:"deploy-namespace" group:"Deploy markers" usage:"the namespace deployed to (default: omitted)"`
	ReleaseValidation bool   `env:"RELEASE_VALIDATION" flag:"release-validation" group:"Deploy markers" usage:"a type: release job with CircleCI's release validation owns this plan's success: write RUNNING and FAILED, never SUCCESS"`
}

// Validate normalises s and names a bad value.
func (s *Settings) Validate(set *config.Set) error {
	s.DeployMarkers = strings.ToLower(strings.TrimSpace(s.DeployMarkers))
	if s.DeployMarkers != "auto" && s.DeployMarkers != "off" {
		return set.Invalid(&s.DeployMarkers, s.DeployMarkers, "unknown choice", "")
	}
	return set.OneLine(&s.DeployName, &s.DeployComponent, &s.DeployEnvironment, &s.DeployVersion, &s.DeployNamespace)
}

// Runner runs a command and returns its combined output.
type Runner func(ctx context.Context, name string, args ...string) ([]byte, error)

// Options build a Writer.
type Options struct {
	Settings Settings
	Job      jobenv.Job
	// Path is the PATH the CLI is looked up in (the job's).
	Path string
	// Env is the environment the CLI runs with: the job's variables, which
	// the CLI reads. Nil runs it with an empty one.
	Env config.Env
	Out io.Writer
	// Redact removes secrets from a failure reason before it reaches argv
	// and from the CLI's output (text pmguard did not write, which may quote
	// a credential pmguard was never told about, such as the CLI's own
	// token): the run's Redactor.Text, known secrets and credential shapes.
	Redact func(string) string
	// Run runs the CLI; nil runs it as a process.
	Run Runner
	// Rollback plans the release as a rollback (`--rollback`) to
	// Settings.DeployVersion.
	Rollback bool
	// Timeout bounds each CLI call (0: 30s).
	Timeout time.Duration
}

// Writer writes one deploy's markers. Its zero value and a nil *Writer
// write nothing.
type Writer struct {
	o       Options
	bin     string
	name    string
	planned bool
	closed  bool
	status  string // the last status written
	// hung: a call ran out of its time, so the CLI (or the task agent it
	// talks to) is stuck; the run's later calls are skipped rather than
	// each costing the timeout again.
	hung bool
}

// New returns the writer of one deploy, or nil when markers are off or the
// circleci CLI is not in PATH (markers are then silently skipped: most jobs
// outside CircleCI have no CLI, and that is not worth a line).
func New(o Options) *Writer {
	if o.Settings.DeployMarkers == "off" {
		return nil
	}
	bin := lookPath("circleci", o.Path)
	if bin == "" {
		return nil
	}
	if o.Run == nil {
		environ := config.Environ(o.Env)
		o.Run = func(ctx context.Context, name string, args ...string) ([]byte, error) {
			cmd := exec.CommandContext(ctx, name, args...)
			cmd.Env = environ
			// A child the CLI leaves holding its output open must not keep
			// the guard waiting past the call's timeout.
			cmd.WaitDelay = time.Second
			return cmd.CombinedOutput()
		}
	}
	if o.Redact == nil {
		o.Redact = httpx.RedactText // credential shapes, no secrets known
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	name := o.Settings.DeployName
	if name == "" {
		name = o.Job.JobName
	}
	if name == "" {
		name = "default" // the CLI's own default plan name
	}
	return &Writer{o: o, bin: bin, name: name}
}

// ForVerb is New for a verb: the job, its environment and PATH and the
// run's redactor from d.
func ForVerb(s Settings, d *verb.Deps, out io.Writer, run Runner) *Writer {
	return New(Options{Settings: s, Job: d.Job, Path: JobPath(d), Env: d.Env, Out: out, Redact: d.Redactor.Text, Run: run})
}

// JobPath is the PATH the job's shell would find the CLI in: the run's
// environment's, as the CLI then runs with it.
func JobPath(d *verb.Deps) string { return config.Get(d.Env, "PATH") }

// Name is the release plan's name ("" for a nil Writer).
func (w *Writer) Name() string {
	if w == nil {
		return ""
	}
	return w.name
}

// Status is the status the release was last given by this Writer: PENDING
// once planned, then RUNNING, SUCCESS or FAILED; "" when nothing was
// written (a nil Writer, a CLI that failed).
func (w *Writer) Status() string {
	if w == nil {
		return ""
	}
	return w.status
}

// Resume takes over a release an earlier run planned and left open (an
// earlier step of the job, a job before this one), at its status: updates
// go to it without a new plan.
func (w *Writer) Resume(status string) {
	if w == nil {
		return
	}
	w.planned, w.closed, w.status = true, false, status
}

// Plan creates the release plan (PENDING in the Deploys view).
func (w *Writer) Plan(ctx context.Context) {
	if w == nil || w.planned {
		return
	}
	s := w.o.Settings
	version := firstOf(s.DeployVersion, w.o.Job.Tag, w.o.Job.SHA)
	if version == "" {
		w.note("no version to record (set deploy_version, or run in a CircleCI job with CIRCLE_SHA1); no deploy marker recorded")
		w.closed = true
		return
	}
	args := []string{"run", "release", "plan", w.name, "--target-version=" + version}
	if e := s.DeployEnvironment; e != "" {
		args = append(args, "--environment-name="+e)
	}
	comp := firstOf(s.DeployComponent, w.o.Job.ProjectRepo)
	if comp != "" {
		args = append(args, "--component-name="+comp)
	}
	if n := s.DeployNamespace; n != "" {
		args = append(args, "--namespace="+n)
	}
	if w.o.Rollback {
		args = append(args, "--rollback")
	}
	if !w.run(ctx, args, false) {
		return
	}
	w.planned, w.status = true, "PENDING"
	if w.o.Rollback {
		fmt.Fprintf(w.o.Out, "deploy marker: planned rollback %s of %s in %s to %s\n", w.name, comp, s.DeployEnvironment, version)
		return
	}
	fmt.Fprintf(w.o.Out, "deploy marker: planned %s (version %s)\n", w.name, version)
}

// Running marks the planned release RUNNING.
func (w *Writer) Running(ctx context.Context) {
	if w == nil || !w.planned || w.closed {
		return
	}
	w.update(ctx, "RUNNING", "", false)
}

// Succeeded marks the release SUCCESS, unless a release job's validation
// owns its success.
func (w *Writer) Succeeded(ctx context.Context) {
	if w == nil || !w.planned || w.closed {
		return
	}
	w.closed = true
	if w.o.Settings.ReleaseValidation {
		fmt.Fprintf(w.o.Out, "deploy marker: %s passed; its success is left to the type: release job's validation\n", w.name)
		return
	}
	w.update(ctx, "SUCCESS", "", true)
}

// Failed marks the release FAILED with reason (the verdict, and what was
// rolled back).
func (w *Writer) Failed(ctx context.Context, reason string) {
	if w == nil || !w.planned || w.closed {
		return
	}
	w.closed = true
	w.update(ctx, "FAILED", reason, true)
}

func (w *Writer) update(ctx context.Context, status, reason string, final bool) {
	args := []string{"run", "release", "update", w.name, "--status=" + status}
	if reason != "" {
		args = append(args, "--failure-reason="+oneLine(w.o.Redact(reason), 1000))
	}
	if w.run(ctx, args, final) {
		w.status = status
		fmt.Fprintf(w.o.Out, "deploy marker: %s %s\n", w.name, status)
	}
}

// run runs one CLI call within the Writer's timeout. A plan or RUNNING
// (final false) is part of the verb's run and ends with its context; the
// final status is written after the verb's own deadline or interruption,
// so it gets time of its own.
func (w *Writer) run(ctx context.Context, args []string, final bool) bool {
	if w.hung {
		return false // said once, when the call ran out of time
	}
	if final {
		ctx = context.WithoutCancel(ctx)
	} else if ctx.Err() != nil {
		return false // the run is over: nothing to mark as planned or running
	}
	// A marker is never worth holding up the verdict: the CLI only talks to
	// the local task agent.
	callCtx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	defer cancel()
	out, err := w.o.Run(callCtx, w.bin, args...)
	cmd := "circleci " + strings.Join(args[:3], " ")
	switch {
	case err == nil:
		return true
	case callCtx.Err() != nil && ctx.Err() == nil:
		w.hung = true
		w.note(fmt.Sprintf("%s did not finish within %s; the run's later deploy markers are skipped (the Deploys view shows %s's last status)", cmd, w.o.Timeout, w.name))
	case ctx.Err() != nil:
		w.note(fmt.Sprintf("%s was stopped: the run was interrupted or ran out of time", cmd))
	default:
		w.note(fmt.Sprintf("%s failed: %v %s", cmd, err, oneLine(w.o.Redact(string(out)), 300)))
	}
	return false
}

func (w *Writer) note(msg string) {
	fmt.Fprintf(w.o.Out, "deploy marker: note: %s\n", strings.TrimSpace(msg))
}

// lookPath finds an executable file in path (a PATH value), as the job's
// shell would.
func lookPath(file, path string) string {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// oneLine flattens s to one line of at most n bytes (a failure reason is
// shown in a list).
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		i := n - 3
		for i > 0 && !utf8.RuneStart(s[i]) {
			i-- // cut between characters: argv becomes the API's JSON
		}
		s = s[:i] + "..."
	}
	return s
}
