package canary

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/deploymarker/markertest"
	"github.com/pmguard/pmguard/internal/exitcode"
)

func TestStepsBadInput(t *testing.T) {
	url := "http://127.0.0.1:1/"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"steps without set_weight", []string{"--steps", "10,50,100"}, "PMGUARD_CANARY_SET_WEIGHT"},
		{"set_weight without steps", []string{"--set-weight", "./shift.sh $PMGUARD_WEIGHT"}, "PMGUARD_CANARY_STEPS"},
		{"falling weights", []string{"--steps", "50,10", "--set-weight", "true"}, "does not rise"},
		{"weight 0", []string{"--steps", "0,50", "--set-weight", "true"}, "from 1 to 100"},
		{"weight over 100", []string{"--steps", "10,150", "--set-weight", "true"}, "from 1 to 100"},
		{"not a number", []string{"--steps", "10,half", "--set-weight", "true"}, "steps"},
		{"an empty weight", []string{"--steps", "10,,50", "--set-weight", "true"}, `invalid steps "10,,50" (flag --steps, env PMGUARD_CANARY_STEPS): an empty weight between commas`},
		{"a trailing comma", []string{"--steps", "10,50,", "--set-weight", "true"}, "PMGUARD_CANARY_STEPS"},
		{"pause without steps", []string{"--pause", "1m"}, "pause"},
		{"percentage with steps", []string{"--steps", "10,100", "--set-weight", "true", "--percentage", "10"}, "percentage"},
		{"unknown mode", []string{"--mode", "dry"}, "PMGUARD_CANARY_MODE"},
		{"unknown deploy_markers", []string{"--deploy-markers", "maybe"}, "PMGUARD_CANARY_DEPLOY_MARKERS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, nil, append([]string{"--url", url}, tc.args...)...)
			if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("exit %d: %v; want 2 naming %s", exitcode.Of(err), err, tc.want)
			}
		})
	}
	o, err := load(t, nil, "--url", url, "--steps", "10%, 50%,100", "--set-weight", "true")
	if err != nil || len(o.Steps) != 3 || o.Steps[1] != 50 || o.Mode != "enforce" {
		t.Fatalf("steps %v mode %q: %v", o.Steps, o.Mode, err)
	}
}

// recorder stands in for set_weight and the circleci CLI.
type recorder struct {
	mu      sync.Mutex
	weights []int
	failAt  int // set_weight fails for this weight
	cli     []string
}

func (r *recorder) setWeight(_ context.Context, _, w int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.weights = append(r.weights, w)
	if w == r.failAt && w != 0 {
		return errors.New("exit status 1")
	}
	return nil
}

func (r *recorder) runCLI(_ context.Context, name string, args ...string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cli = append(r.cli, filepath.Base(name)+" "+strings.Join(args, " "))
	return nil, nil
}

// cliPath is a PATH holding an executable named circleci (the writer only
// looks it up; the recorder runs it).
func cliPath(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "circleci"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestStepsHold: an undecided step with on_inconclusive hold stops the
// rollout at its weight, passes, and leaves the marker RUNNING for the
// approval's decision.
func TestStepsHold(t *testing.T) {
	srv := httptest.NewServer(&service{})
	t.Cleanup(srv.Close)
	env := map[string]string{"PATH": cliPath(t), "CIRCLE_SHA1": "abc1234", "CIRCLE_JOB": "deploy"}
	o, err := load(t, env, "--url", srv.URL, "--steps", "10,50,100", "--set-weight", "unused", "--rate", "100",
		"--min-samples", "100000", "--max-duration", "300ms", "--timeout", "200ms", "--on-inconclusive", "hold")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	o.SetWeightFunc, o.RunCLI = rec.setWeight, rec.runCLI
	dir := t.TempDir()
	if err := o.testRun(nil, nil, config.Reports{JSON: dir + "/r.json"}); err != nil {
		t.Fatalf("hold must pass the step: %v", err)
	}
	res := readResult(t, dir+"/r.json")
	if !res.Held || !res.Pass || res.Verdict != Inconclusive || len(res.Steps) != 1 || res.RolledBack {
		t.Errorf("report: held %v pass %v verdict %s steps %d rolled back %v", res.Held, res.Pass, res.Verdict, len(res.Steps), res.RolledBack)
	}
	if len(rec.weights) != 1 || rec.weights[0] != 10 {
		t.Errorf("weights set %v, want [10] (held at 10%%, no rollback)", rec.weights)
	}
	want := "circleci run release plan deploy --target-version=abc1234\ncircleci run release update deploy --status=RUNNING"
	if got := strings.Join(rec.cli, "\n"); got != want {
		t.Errorf("CLI calls:\n%s\nwant:\n%s", got, want)
	}
}

// TestSetWeightFailure: a set_weight that fails stops the rollout, sets the
// weight back to 0, and is "could not run" (exit 3), with the marker
// FAILED.
func TestSetWeightFailure(t *testing.T) {
	srv := httptest.NewServer(&service{})
	t.Cleanup(srv.Close)
	env := map[string]string{"PATH": cliPath(t), "CIRCLE_SHA1": "abc1234"}
	o, err := load(t, env, "--url", srv.URL, "--steps", "10,50", "--set-weight", "unused", "--rate", "400", "--min-samples", "100", "--max-duration", "20s")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{failAt: 50}
	o.SetWeightFunc, o.RunCLI = rec.setWeight, rec.runCLI
	dir := t.TempDir()
	err = o.testRun(nil, nil, config.Reports{JSON: dir + "/r.json"})
	if exitcode.Of(err) != exitcode.CouldNotRun || !strings.Contains(err.Error(), "step 2 (50%)") {
		t.Fatalf("exit %d: %v", exitcode.Of(err), err)
	}
	if got := rec.weights; len(got) != 3 || got[0] != 10 || got[1] != 50 || got[2] != 0 {
		t.Errorf("weights set %v, want [10 50 0]", got)
	}
	last := rec.cli[len(rec.cli)-1]
	if !strings.Contains(last, "--status=FAILED") || !strings.Contains(last, "set_weight 50% failed") || !strings.Contains(last, "rolled back") {
		t.Errorf("last CLI call: %s", last)
	}
	// The report is written all the same: the step judged, the step
	// set_weight stopped, the rollback.
	res := readResult(t, dir+"/r.json")
	if res.Pass || !res.RolledBack || len(res.Steps) != 2 || res.Steps[0].Weight != 10 || res.Steps[1].Check != checkSetWeight ||
		!strings.Contains(res.Reason, "set_weight 50% failed") {
		t.Errorf("report: pass %v rolled back %v steps %+v reason %q", res.Pass, res.RolledBack, res.Steps, res.Reason)
	}
}

// TestShadowSingleShare: in shadow mode a failing canary is reported as
// failed (report, events, JUnit skipped) and the step passes.
func TestShadowSingleShare(t *testing.T) {
	srv := httptest.NewServer(&service{errEvery: 3})
	t.Cleanup(srv.Close)
	env := map[string]string{"PATH": cliPath(t), "CIRCLE_SHA1": "abc1234"}
	o, err := load(t, env, "--url", srv.URL, "--rate", "400", "--max-duration", "20s", "--mode", "shadow")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	o.RunCLI = rec.runCLI
	dir := t.TempDir()
	log, _ := o.d.Events(dir + "/events.jsonl")
	o.events = log
	var out strings.Builder
	if err := o.testRun(&syncWriter{w: &out}, nil, config.Reports{JSON: dir + "/r.json", JUnit: dir + "/r.xml"}); err != nil {
		t.Fatalf("shadow mode must never fail the step: %v", err)
	}
	res := readResult(t, dir+"/r.json")
	if res.Verdict != Failed || !res.Pass || res.Mode != "shadow" {
		t.Errorf("report: verdict %s pass %v mode %q", res.Verdict, res.Pass, res.Mode)
	}
	junit, _ := os.ReadFile(dir + "/r.xml")
	if strings.Contains(string(junit), "<failure") || !strings.Contains(string(junit), "shadow mode: not enforced") {
		t.Errorf("junit:\n%s", junit)
	}
	evs, _ := os.ReadFile(dir + "/events.jsonl")
	if !strings.Contains(string(evs), `"event":"canary_failed"`) || !strings.Contains(string(evs), `"mode":"shadow"`) {
		t.Errorf("events:\n%s", evs)
	}
	if len(rec.cli) != 0 {
		t.Errorf("shadow mode wrote deploy markers: %q", rec.cli)
	}
	if !strings.Contains(out.String(), "shadow mode") {
		t.Errorf("output:\n%s", out.String())
	}
}

// sleepRecorder is the wall clock whose sleeps return at once, recorded.
type sleepRecorder struct {
	RealClock
	mu     sync.Mutex
	sleeps []string
}

func (c *sleepRecorder) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d.String())
	c.mu.Unlock()
	return ctx.Err()
}

// TestStepsPause: the pause comes between steps, after a pass, never
// before the first step or after the last.
func TestStepsPause(t *testing.T) {
	srv := httptest.NewServer(&service{})
	t.Cleanup(srv.Close)
	o, err := load(t, nil, "--url", srv.URL, "--steps", "10,50,100", "--set-weight", "unused", "--pause", "3m",
		"--rate", "400", "--min-samples", "100", "--max-duration", "20s")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	o.SetWeightFunc = rec.setWeight
	clk := &sleepRecorder{}
	dir := t.TempDir()
	if err := o.testRun(nil, clk, config.Reports{JSON: dir + "/r.json"}); err != nil {
		t.Fatal(err)
	}
	// Each 3m pause is slept a minute at a time, with a keep-alive line
	// in between (TestPauseKeepsTheStepAlive).
	if got := strings.Join(clk.sleeps, " "); got != "1m0s 1m0s 1m0s 1m0s 1m0s 1m0s" {
		t.Errorf("sleeps %q, want two 3m pauses", got)
	}
	if res := readResult(t, dir+"/r.json"); res.Verdict != Passed || len(res.Steps) != 3 || !strings.HasPrefix(res.Reason, "all 3 steps passed") {
		t.Errorf("verdict %s, %d steps, %q", res.Verdict, len(res.Steps), res.Reason)
	}
	if len(rec.weights) != 3 {
		t.Errorf("weights %v", rec.weights)
	}
}

// TestSetWeightEnvironment: set_weight runs in the run's environment (not
// the process's) with PMGUARD_WEIGHT and PMGUARD_STEP added.
func TestSetWeightEnvironment(t *testing.T) {
	srv := httptest.NewServer(&service{})
	t.Cleanup(srv.Close)
	t.Setenv("PMGUARD_TEST_OUTSIDE", "process only")
	log := filepath.Join(t.TempDir(), "shift.log")
	env := map[string]string{"PATH": os.Getenv("PATH"), "SHIFT_LOG": log, "SHIFT_TOKEN": "t0k"}
	o, err := load(t, env, "--url", srv.URL, "--steps", "10,50", "--rate", "400", "--min-samples", "100", "--max-duration", "20s",
		"--set-weight", `echo "$PMGUARD_STEP $PMGUARD_WEIGHT $SHIFT_TOKEN [$PMGUARD_TEST_OUTSIDE]" >> "$SHIFT_LOG"`)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := o.testRun(nil, nil, config.Reports{JSON: dir + "/r.json"}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if want := "1 10 t0k []\n2 50 t0k []\n"; string(got) != want {
		t.Errorf("set_weight saw:\n%swant:\n%s", got, want)
	}
}

// TestCheckOnly: --check-only checks every setting and exits, 0 or 2,
// before any request, set_weight run or deploy marker; a set_weight that
// sh cannot parse is bad input too.
func TestCheckOnly(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	env := map[string]string{"PATH": cliPath(t) + ":" + os.Getenv("PATH"), "CIRCLE_SHA1": "abc1234", "DIR": dir}
	o, err := load(t, env, "--url", srv.URL, "--steps", "10,50", "--set-weight", `touch "$DIR/ran"`, "--check-only")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	o.RunCLI = rec.runCLI
	var out strings.Builder
	if err := o.testRun(&syncWriter{w: &out}, nil, config.Reports{JSON: dir + "/r.json"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil || hits.Load() != 0 || len(rec.cli) != 0 {
		t.Errorf("--check-only ran set_weight, sent %d requests or wrote markers %q", hits.Load(), rec.cli)
	}
	if _, err := os.Stat(dir + "/r.json"); err == nil {
		t.Error("--check-only wrote a report")
	}
	if !strings.Contains(out.String(), "the settings are valid") {
		t.Errorf("output:\n%s", out.String())
	}

	_, err = load(t, env, "--url", srv.URL, "--steps", "10,50", "--set-weight", `./shift.sh "$PMGUARD_WEIGHT`, "--check-only")
	if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), "PMGUARD_CANARY_SET_WEIGHT") || !strings.Contains(err.Error(), "sh cannot parse it") {
		t.Errorf("exit %d: %v", exitcode.Of(err), err)
	}
	// The message quotes the command without the credentials in it.
	for _, bad := range []string{
		`curl -H "Authorization: Bearer sk-live-abcdef123456" "https://lb.example/w?sig=sk-live-abcdef123456`,
		`kubectl --token=sk-live-abcdef123456 patch "x`,
		`curl "https://ops:sk-live-abcdef123456@lb.example/w`,
	} {
		_, err = load(t, env, "--url", srv.URL, "--steps", "10,50", "--set-weight", bad, "--check-only")
		if exitcode.Of(err) != exitcode.BadInput || strings.Contains(err.Error(), "sk-live-abcdef123456") {
			t.Errorf("set_weight %s: exit %d, %v", bad, exitcode.Of(err), err)
		}
	}
}

// TestCheckOnlyLeavesRunTimeInputsToTheAnalysis: canary_deploy checks the
// settings before deploy_canary, which may export a variable a setting
// names or write a file one reads. Under --check-only those are notes (exit
// 0); the analysis itself still rejects them (exit 2).
func TestCheckOnlyLeavesRunTimeInputsToTheAnalysis(t *testing.T) {
	env := map[string]string{"PATH": os.Getenv("PATH")}
	missing := filepath.Join(t.TempDir(), "ca.pem")
	cases := map[string][]string{
		"a header's ${VAR}": {"--url", "http://127.0.0.1:1/ping", "--header", "Authorization: Bearer ${CANARY_TOKEN}"},
		"ca_file":           {"--url", "https://127.0.0.1:1/ping", "--ca-file", missing},
		"prometheus_token_env": {"--source", "prometheus", "--prometheus-url", "http://127.0.0.1:1", "--canary-selector", `{track="canary"}`,
			"--prometheus-token-env", "PROM_TOKEN"},
		"dd keys": {"--source", "datadog", "--canary-selector", "track:canary"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := load(t, env, args...); exitcode.Of(err) != exitcode.BadInput {
				t.Fatalf("the analysis: exit %d (%v), want bad input", exitcode.Of(err), err)
			}
			o, err := load(t, env, append(args, "--check-only")...)
			if err != nil {
				t.Fatalf("--check-only: %v", err)
			}
			var out strings.Builder
			if err := o.testRun(&syncWriter{w: &out}, nil, config.Reports{}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "note: ") || !strings.Contains(out.String(), "checks it again") {
				t.Errorf("no note of what is checked later:\n%s", out.String())
			}
		})
	}
}

// TestInterruptedAnalysisNeverPasses: an analysis cut short by an
// interruption (SIGTERM, a cancelled job) has no verdict, so it is "could
// not run" (exit 3) whatever on_inconclusive says: it does not pass (and
// promote), hold, or go on to the next weight; with steps the weight goes
// back to 0 first.
func TestInterruptedAnalysisNeverPasses(t *testing.T) {
	for _, tc := range []struct {
		onInconclusive string
		steps          bool
	}{{"pass", false}, {"hold", false}, {"pass", true}, {"hold", true}, {"fail", true}} {
		name := tc.onInconclusive
		if tc.steps {
			name += " with steps"
		}
		t.Run(name, func(t *testing.T) {
			var served atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served.Add(1) }))
			t.Cleanup(srv.Close)
			args := []string{"--url", srv.URL, "--rate", "50", "--min-samples", "2000", "--max-duration", "10m", "--on-inconclusive", tc.onInconclusive}
			if tc.steps {
				args = append(args, "--steps", "10,50,100", "--set-weight", "unused")
			}
			cli := markertest.Install(t)
			o, err := load(t, map[string]string{"PATH": cli.Dir, "CIRCLE_JOB": "deploy", "CIRCLE_SHA1": "4f2c9a1"}, args...)
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			o.SetWeightFunc = rec.setWeight
			dir := t.TempDir()
			var out strings.Builder
			o.d.Stdout, o.Reports = &syncWriter{w: &out}, config.Reports{JSON: dir + "/r.json"}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				for served.Load() < 20 && ctx.Err() == nil {
					time.Sleep(5 * time.Millisecond)
				}
				cancel()
			}()
			err = Run(ctx, o)
			if exitcode.Of(err) != exitcode.CouldNotRun {
				t.Fatalf("exit %d: %v, want 3 (could not run)\n%s", exitcode.Of(err), err, out.String())
			}
			res := readResult(t, dir+"/r.json")
			if res.Pass || res.Held || !res.Interrupted {
				t.Errorf("report: pass %v held %v interrupted %v", res.Pass, res.Held, res.Interrupted)
			}
			// The headline says the run was interrupted; on_inconclusive
			// played no part in it.
			calls := cli.Calls(t)
			reason := strings.Join(calls[len(calls)-1], " ")
			if !strings.Contains(reason, "--failure-reason=canary INTERRUPTED after") || strings.Contains(reason, "on_inconclusive") {
				t.Errorf("marker: %s", reason)
			}
			if tc.steps && (!strings.Contains(out.String(), "\ncanary INTERRUPTED after") || strings.Contains(out.String(), "(on_inconclusive")) {
				t.Errorf("output:\n%s", out.String())
			}
			if tc.steps {
				rec.mu.Lock()
				defer rec.mu.Unlock()
				if fmt.Sprint(rec.weights) != "[10 0]" || !res.RolledBack {
					t.Errorf("weights set %v (rolled back %v), want [10 0]", rec.weights, res.RolledBack)
				}
			}
		})
	}
}
