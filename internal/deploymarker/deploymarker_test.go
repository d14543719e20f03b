package deploymarker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pmguard/pmguard/internal/deploymarker"
	"github.com/pmguard/pmguard/internal/deploymarker/markertest"
	"github.com/pmguard/pmguard/internal/jobenv"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
)

func TestWriter(t *testing.T) {
	ctx := context.Background()
	job := jobenv.Job{JobName: "deploy", SHA: "4f2c9a1", Tag: "v1.4.0", ProjectRepo: "api"}

	// No CLI in PATH: no writer, and every call is a no-op.
	var out strings.Builder
	w := deploymarker.New(deploymarker.Options{Job: job, Path: t.TempDir(), Out: &out})
	w.Plan(ctx)
	w.Running(ctx)
	w.Failed(ctx, "x")
	if w != nil || out.Len() != 0 {
		t.Fatalf("writer %v, output %q", w, out.String())
	}

	// The stand-in: the tag is the version, a multi-line reason is one
	// line, a secret is redacted before it reaches argv.
	cli := markertest.Install(t)
	w = deploymarker.New(deploymarker.Options{
		Settings: deploymarker.Settings{DeployName: "api-release", DeployNamespace: "web"}, Job: job, Path: cli.Dir, Out: &out,
		Redact: func(s string) string { return strings.ReplaceAll(s, "hunter2", "[REDACTED]") },
	})
	w.Plan(ctx)
	w.Running(ctx)
	w.Failed(ctx, "canary FAILED:\n  error rate 20%\n  token hunter2")
	w.Succeeded(ctx) // closed: nothing more
	calls := cli.Calls(t)
	want := []string{
		"run release plan api-release --target-version=v1.4.0 --component-name=api --namespace=web",
		"run release update api-release --status=RUNNING",
		"run release update api-release --status=FAILED --failure-reason=canary FAILED: error rate 20% token [REDACTED]",
	}
	if len(calls) != len(want) {
		t.Fatalf("calls %q\n%s", calls, out.String())
	}
	for i, c := range calls {
		if got := strings.Join(c, " "); got != want[i] {
			t.Errorf("call %d: %s\nwant %s", i, got, want[i])
		}
	}

	// A CLI that fails is a note, never an error; updates after a failed
	// plan are skipped.
	out.Reset()
	w = deploymarker.New(deploymarker.Options{Job: job, Path: cli.Dir, Out: &out,
		Run: func(context.Context, string, ...string) ([]byte, error) {
			return []byte("no task agent"), errors.New("exit status 1")
		}})
	w.Plan(ctx)
	w.Running(ctx)
	w.Succeeded(ctx)
	if got := out.String(); strings.Count(got, "deploy marker: note") != 1 || !strings.Contains(got, "no task agent") {
		t.Errorf("output %q", got)
	}

	// No version to record: a note, no plan.
	out.Reset()
	w = deploymarker.New(deploymarker.Options{Job: jobenv.Job{}, Path: cli.Dir, Out: &out, Run: func(context.Context, string, ...string) ([]byte, error) {
		t.Error("the CLI ran without a version")
		return nil, nil
	}})
	w.Plan(ctx)
	w.Failed(ctx, "x")
	if !strings.Contains(out.String(), "no version to record") {
		t.Errorf("output %q", out.String())
	}

	// A rollback plan adds --rollback; the stand-in refuses one that does
	// not name the environment it rolls back.
	for _, env := range []string{"production", ""} {
		out.Reset()
		cli := markertest.Install(t)
		w = deploymarker.New(deploymarker.Options{Rollback: true, Job: job, Path: cli.Dir, Out: &out,
			Settings: deploymarker.Settings{DeployName: "deploy-rollback", DeployVersion: "v1.3.0", DeployEnvironment: env}})
		w.Plan(ctx)
		w.Succeeded(ctx)
		calls := cli.Calls(t)
		if env == "" {
			if len(calls) != 1 || !strings.Contains(out.String(), "needs --component-name and --environment-name") {
				t.Errorf("calls %q, output %q", calls, out.String())
			}
			continue
		}
		want := "run release plan deploy-rollback --target-version=v1.3.0 --environment-name=production --component-name=api --rollback"
		if len(calls) != 2 || strings.Join(calls[0], " ") != want || cli.Statuses(t)[0] != "SUCCESS" {
			t.Errorf("calls %q\nwant %s then SUCCESS", calls, want)
		}
		if !strings.Contains(out.String(), "planned rollback deploy-rollback of api in production to v1.3.0") {
			t.Errorf("output %q", out.String())
		}
	}
}

// The CLI runs with the run's environment (verb.Deps.Env), not the
// process's: it sees the job variables the run has, and a variable only
// the process holds never reaches it.
func TestCLIRunsWithTheRunsEnvironment(t *testing.T) {
	ctx := context.Background()
	t.Setenv("CIRCLE_JOB", "the-process-job")
	t.Setenv("PMGUARD_MARKERTEST_PROCESS_ONLY", "leaked")
	cli := markertest.Install(t, "CIRCLE_JOB", "PMGUARD_MARKERTEST_PROCESS_ONLY", "PATH")
	d := verbtest.Deps(map[string]string{"PATH": cli.Dir, "CIRCLE_JOB": "deploy", "CIRCLE_SHA1": "4f2c9a1"}, nil, nil)
	var out strings.Builder
	w := deploymarker.ForVerb(deploymarker.Settings{DeployMarkers: "auto"}, d, &out, nil)
	w.Plan(ctx)
	w.Succeeded(ctx)
	if got := cli.Statuses(t); len(got) != 1 || got[0] != "SUCCESS" || strings.Contains(out.String(), "note:") {
		t.Fatalf("statuses %q, output %q", got, out.String())
	}
	want := "CIRCLE_JOB=deploy PATH=" + cli.Dir
	env := cli.Env(t)
	if len(env) != 2 {
		t.Fatalf("environments of %d calls, want 2: %q", len(env), env)
	}
	for i, e := range env {
		if got := strings.Join(e, " "); got != want {
			t.Errorf("call %d ran with %s\nwant %s", i, got, want)
		}
	}

	// Options without an environment run the CLI with an empty one.
	cli = markertest.Install(t, "CIRCLE_JOB", "PMGUARD_MARKERTEST_PROCESS_ONLY")
	w = deploymarker.New(deploymarker.Options{Job: jobenv.Job{JobName: "deploy", SHA: "4f2c9a1"}, Path: cli.Dir, Out: &out})
	w.Plan(ctx)
	if env := cli.Env(t); len(env) != 1 || len(env[0]) != 0 {
		t.Errorf("the CLI saw %q, want none of the process's variables", env)
	}
}

// A Writer says what it last wrote, and a later run can resume a release
// an earlier one left open: its updates go to that plan without a new one.
func TestResume(t *testing.T) {
	ctx := context.Background()
	job := jobenv.Job{JobName: "deploy", SHA: "4f2c9a1", ProjectRepo: "api"}
	cli := markertest.Install(t)
	var out strings.Builder
	w := deploymarker.New(deploymarker.Options{Job: job, Path: cli.Dir, Out: &out})
	w.Plan(ctx)
	if w.Status() != "PENDING" || w.Name() != "deploy" {
		t.Errorf("after plan: status %q name %q", w.Status(), w.Name())
	}
	w.Running(ctx)
	if w.Status() != "RUNNING" {
		t.Errorf("after RUNNING: status %q", w.Status())
	}

	later := deploymarker.New(deploymarker.Options{Job: job, Path: cli.Dir, Out: &out})
	later.Succeeded(ctx) // not planned by this writer: nothing
	later.Resume("RUNNING")
	later.Succeeded(ctx)
	if got := strings.Join(cli.Statuses(t), " "); got != "RUNNING SUCCESS" || later.Status() != "SUCCESS" {
		t.Errorf("statuses %q, resumed writer's status %q", got, later.Status())
	}
	if calls := cli.Calls(t); len(calls) != 3 {
		t.Errorf("calls %q: want one plan and two updates", calls)
	}
	var none *deploymarker.Writer
	none.Resume("RUNNING")
	if none.Status() != "" || none.Name() != "" {
		t.Error("a nil Writer has no status or name")
	}
}

// TestCLIOutputRedacted: what a failing CLI prints is text pmguard did not
// write, so a credential it quotes is removed from the note even when the
// run was never told about it.
func TestCLIOutputRedacted(t *testing.T) {
	const token = "ccipat_4f2c9a1d8e7b6c5a"
	var out strings.Builder
	cli := markertest.Install(t)
	w := deploymarker.New(deploymarker.Options{Job: jobenv.Job{JobName: "deploy", SHA: "4f2c9a1"}, Path: cli.Dir, Out: &out,
		Run: func(context.Context, string, ...string) ([]byte, error) {
			return []byte("Error: request failed (circle-token=" + token + ")\nAuthorization: Bearer " + token), errors.New("exit status 1")
		}})
	w.Plan(context.Background())
	if !strings.Contains(out.String(), "deploy marker: note") || strings.Contains(out.String(), token) {
		t.Errorf("output %q", out.String())
	}
}

// TestLongReasonStaysUTF8: a failure reason cut to the CLI's length is cut
// between characters, so argv stays valid UTF-8 for the API's JSON.
func TestLongReasonStaysUTF8(t *testing.T) {
	cli := markertest.Install(t)
	var out strings.Builder
	w := deploymarker.New(deploymarker.Options{Job: jobenv.Job{JobName: "deploy", SHA: "4f2c9a1"}, Path: cli.Dir, Out: &out})
	w.Plan(context.Background())
	w.Failed(context.Background(), "health check FAILED: x"+strings.Repeat("é", 600))
	calls := cli.Calls(t)
	last := strings.Join(calls[len(calls)-1], " ")
	if !strings.Contains(last, "--failure-reason=health check FAILED") || !utf8.ValidString(last) || !strings.HasSuffix(last, "...") {
		t.Errorf("failure reason %q", last)
	}
}

// TestHungCLI: a call that runs out of its time says so once, and the
// run's later calls are skipped instead of each waiting out the timeout.
func TestHungCLI(t *testing.T) {
	ctx := context.Background()
	cli := markertest.Install(t)
	cli.HangOn(t, "--status=RUNNING")
	var out strings.Builder
	w := deploymarker.New(deploymarker.Options{Job: jobenv.Job{JobName: "deploy", SHA: "4f2c9a1"}, Path: cli.Dir, Out: &out, Timeout: 50 * time.Millisecond})
	w.Plan(ctx)
	w.Running(ctx)
	w.Running(ctx)
	w.Failed(ctx, "canary FAILED")
	if calls := cli.Calls(t); len(calls) != 2 {
		t.Errorf("calls %q: want the plan and one RUNNING", calls)
	}
	got := out.String()
	if strings.Count(got, "note:") != 1 || !strings.Contains(got, "did not finish within 50ms; the run's later deploy markers are skipped") {
		t.Errorf("output %q", got)
	}
	if w.Status() != "PENDING" {
		t.Errorf("status %q, want the last one written", w.Status())
	}
}

// TestMarkersFollowTheRunsContext: the plan and RUNNING end with the run
// (an interrupted run plans nothing and leaves nothing running), while the
// final status gets time of its own after it.
func TestMarkersFollowTheRunsContext(t *testing.T) {
	cli := markertest.Install(t)
	var out strings.Builder
	var live []bool // per call: whether its context was still live
	run := func(ctx context.Context, name string, args ...string) ([]byte, error) {
		live = append(live, ctx.Err() == nil)
		return nil, ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := deploymarker.New(deploymarker.Options{Job: jobenv.Job{JobName: "deploy", SHA: "4f2c9a1"}, Path: cli.Dir, Out: &out, Run: run})
	w.Plan(ctx)
	cancel()
	w.Running(ctx)
	w.Failed(ctx, "the analysis was interrupted")
	if len(live) != 2 || !live[0] || !live[1] {
		t.Errorf("calls' contexts live: %v, want the plan and the final FAILED, both live", live)
	}
	if w.Status() != "FAILED" {
		t.Errorf("status %q", w.Status())
	}

	// Cancelled before the plan: no call at all.
	live = nil
	w = deploymarker.New(deploymarker.Options{Job: jobenv.Job{JobName: "deploy", SHA: "4f2c9a1"}, Path: cli.Dir, Out: &out, Run: run})
	w.Plan(ctx)
	w.Running(ctx)
	w.Failed(ctx, "x")
	if len(live) != 0 {
		t.Errorf("%d calls after the run was interrupted", len(live))
	}
}
