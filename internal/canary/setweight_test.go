package canary

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/exitcode"
)

// lateShift is a set_weight that hands the work to a child which outlives
// it: the child records its pid and its own child's, then would apply the
// weight long after pmguard stopped waiting. The rollback (weight 0)
// records any of those processes still there when it runs, and then the 0.
const lateShift = `
if [ "$PMGUARD_WEIGHT" = 0 ]; then
  for p in $(cat "$DIR/pids" 2>/dev/null); do
    kill -0 "$p" 2>/dev/null && echo "$p" >> "$DIR/alive-at-rollback"
  done
  echo 0 >> "$DIR/weights"
  exit 0
fi
sh -c 'echo $$ >> "$DIR/pids"; sleep 600 & echo $! >> "$DIR/pids"; echo "$PMGUARD_WEIGHT" > "$DIR/started"; wait; echo "$PMGUARD_WEIGHT" >> "$DIR/weights"' &
wait
`

// alive lists the pids in file whose processes still exist.
func alive(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("set_weight's child never started: %v", err)
	}
	var out []string
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		if pid > 0 && syscall.Kill(pid, 0) == nil {
			out = append(out, f)
		}
	}
	return out
}

// killPids ends whatever a failed test left running.
func killPids(file string) {
	b, _ := os.ReadFile(file)
	for _, f := range strings.Fields(string(b)) {
		if pid, _ := strconv.Atoi(f); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// lateShiftRollout is a two-step rollout whose set_weight is lateShift,
// with set_weight_timeout timeout; it returns the run and lateShift's DIR.
func lateShiftRollout(t *testing.T, timeout string) (*Options, string) {
	t.Helper()
	srv := httptest.NewServer(&service{})
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	t.Cleanup(func() { killPids(filepath.Join(dir, "pids")) })
	env := map[string]string{"PATH": os.Getenv("PATH"), "DIR": dir}
	o, err := load(t, env, "--url", srv.URL, "--steps", "10,50", "--rate", "100", "--max-duration", "20s",
		"--set-weight", lateShift, "--set-weight-timeout", timeout)
	if err != nil {
		t.Fatal(err)
	}
	return o, dir
}

// assertTreeEnded checks that none of lateShift's processes outlived the
// run or were there when the rollback ran, and that only the rollback's 0
// was applied; how names the way set_weight was stopped.
func assertTreeEnded(t *testing.T, dir, how string) {
	t.Helper()
	if left := alive(t, filepath.Join(dir, "pids")); len(left) > 0 {
		t.Errorf("processes of the %s set_weight still run after pmguard returned: %v", how, left)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "alive-at-rollback")); err == nil {
		t.Errorf("processes of the %s set_weight were still there when the rollback ran: %s", how, b)
	}
	if w, _ := os.ReadFile(filepath.Join(dir, "weights")); strings.Join(strings.Fields(string(w)), " ") != "0" {
		t.Errorf("weights applied %q, want only the rollback's 0", w)
	}
}

// TestSetWeightTimeoutEndsItsProcessTree: a set_weight that outlasts
// set_weight_timeout is killed with every process it started, and they are
// gone before the rollback's set_weight runs, so none of them can apply its
// weight after the weight went back to 0.
func TestSetWeightTimeoutEndsItsProcessTree(t *testing.T) {
	o, dir := lateShiftRollout(t, "500ms")
	var out strings.Builder
	err := o.testRun(&syncWriter{w: &out}, nil, config.Reports{JSON: dir + "/r.json"})
	if exitcode.Of(err) != exitcode.CouldNotRun || !strings.Contains(err.Error(), "set_weight_timeout") {
		t.Fatalf("exit %d: %v\n%s", exitcode.Of(err), err, out.String())
	}
	assertTreeEnded(t, dir, "timed-out")
	if res := readResult(t, dir+"/r.json"); !res.RolledBack {
		t.Errorf("report: rolled_back %v", res.RolledBack)
	}
}

// TestSetWeightInterruptedEndsItsProcessTree: a run interrupted (SIGTERM,
// a cancelled job) while set_weight runs ends set_weight's whole tree, then
// sets the weight back to 0.
func TestSetWeightInterruptedEndsItsProcessTree(t *testing.T) {
	o, dir := lateShiftRollout(t, "10m")
	o.d.Stdout = &syncWriter{w: &strings.Builder{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Interrupt once set_weight's child has started.
		for ctx.Err() == nil {
			if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	err := Run(ctx, o)
	if err == nil || !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err %v, want the interruption", err)
	}
	assertTreeEnded(t, dir, "interrupted")
}

// TestSetWeightOutputIsRedacted: set_weight's output and the command line
// pmguard echoes lose the run's secrets and whatever has a credential's
// shape (URL query values and user info, Authorization and Bearer values,
// Slack and GitHub tokens), though pmguard was never told about them.
func TestSetWeightOutputIsRedacted(t *testing.T) {
	srv := httptest.NewServer(&service{})
	t.Cleanup(srv.Close)
	const lb = "lbsecret-4e5f6a7b"
	env := map[string]string{"PATH": os.Getenv("PATH"), "LB_TOKEN": lb}
	shift := `echo "calling https://lb.example/api?access_token=$LB_TOKEN&w=$PMGUARD_WEIGHT"; ` +
		`echo "Authorization: Bearer $LB_TOKEN" >&2; printf 'user https://deploy:%s@lb.example\n' "$LB_TOKEN"; ` +
		`echo posting with xoxb-1234567890-0987654321-AbCdEfGh; printf 'gh ghp_abcdefghijklmnopqrstuvwxyz0123456789'; ` +
		`true --literal-token=ghp_zyxwvutsrqponmlkjihgfedcba9876543210`
	o, err := load(t, env, "--url", srv.URL+"/?key=probe-key-1234", "--steps", "50,100", "--rate", "400", "--min-samples", "100",
		"--max-duration", "20s", "--set-weight", shift)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	dir := t.TempDir()
	if err := o.testRun(&syncWriter{w: &out}, nil, config.Reports{JSON: dir + "/r.json"}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got := out.String()
	for _, leak := range []string{lb, "xoxb-", "ghp_", "probe-key-1234"} {
		if strings.Contains(got, leak) {
			t.Errorf("output holds %q:\n%s", leak, got)
		}
	}
	for _, want := range []string{"calling https://lb.example/api?access_token=REDACTED&w=REDACTED", "Authorization: Bearer [REDACTED]",
		"user https://REDACTED@lb.example", "posting with [REDACTED]", "gh [REDACTED]\n", "--literal-token=[REDACTED]"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

// TestSetWeightFailureIsReported: when set_weight fails at a step, that
// step is a failed JUnit case saying so, the verdict event and the deploy
// marker say set_weight failed (not an inconclusive analysis), the summary
// is printed, and the rollback's canary_weight_set carries step 0 and
// weight 0.
func TestSetWeightFailureIsReported(t *testing.T) {
	srv := httptest.NewServer(&service{})
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	env := map[string]string{"PATH": cliPath(t) + ":" + os.Getenv("PATH"), "CIRCLE_SHA1": "abc1234", "CIRCLE_JOB": "deploy"}
	o, err := load(t, env, "--url", srv.URL, "--steps", "50,100", "--rate", "400", "--min-samples", "100", "--max-duration", "20s",
		"--set-weight", `[ "$PMGUARD_WEIGHT" != 100 ]`)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	o.RunCLI = rec.runCLI
	o.events, _ = o.d.Events(filepath.Join(dir, "events.jsonl"))
	var out strings.Builder
	err = o.testRun(&syncWriter{w: &out}, nil, config.Reports{JSON: dir + "/r.json", JUnit: dir + "/j.xml"})
	if exitcode.Of(err) != exitcode.CouldNotRun {
		t.Fatalf("exit %d: %v", exitcode.Of(err), err)
	}
	const why = "set_weight 100% failed: exit status 1"

	junit, _ := os.ReadFile(dir + "/j.xml")
	var suites struct {
		Suite struct {
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(junit, &suites); err != nil {
		t.Fatalf("junit: %v\n%s", err, junit)
	}
	suite := suites.Suite
	if len(suite.Cases) != 2 || suite.Failures != 1 || suite.Cases[0].Failure != nil || suite.Cases[1].Failure == nil ||
		!strings.Contains(suite.Cases[1].Failure.Message+suite.Cases[1].Failure.Text, why) {
		t.Errorf("junit: step 2 must be the failed case saying %q:\n%s", why, junit)
	}

	evs, _, err := events.ReadFiles(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var verdict *events.Event
	var weights []string
	for i, e := range evs {
		switch e.Event {
		case events.CanaryFailed, events.CanaryInconclusive, events.CanaryPassed:
			verdict = &evs[i]
		case events.CanaryWeightSet:
			step, okS := e.Figures.Number("step")
			w, okW := e.Figures.Number("weight")
			if !okS || !okW {
				t.Errorf("canary_weight_set without step or weight: %v", e.Figures)
			}
			weights = append(weights, fmt.Sprintf("%g:%g", step, w))
		}
	}
	if verdict == nil || verdict.Event != events.CanaryFailed || !strings.Contains(verdict.Message, why) || strings.Contains(verdict.Message, "INCONCLUSIVE") {
		t.Errorf("verdict event %+v", verdict)
	} else {
		var f events.Canary
		verdict.Decode(&f)
		if f.DecidedBy != "set_weight" || !f.RolledBack || f.Step != 2 || !strings.Contains(f.Reason, why) {
			t.Errorf("verdict figures %+v", f)
		}
	}
	if got := strings.Join(weights, " "); got != "1:50 0:0" {
		t.Errorf("canary_weight_set step:weight %q, want 1:50 0:0", got)
	}

	last := rec.cli[len(rec.cli)-1]
	if !strings.Contains(last, "--status=FAILED") || !strings.Contains(last, why) || strings.Contains(last, "INCONCLUSIVE") {
		t.Errorf("marker: %s", last)
	}
	for _, want := range []string{"canary FAILED after", "step 2 (100%): " + why, "  steps:", "step 1 (50%)   PASS", "rolled back: weight set to 0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if res := readResult(t, dir+"/r.json"); res.Verdict != Failed || res.Check != "set_weight" || len(res.Steps) != 2 || res.Steps[1].Check != "set_weight" {
		t.Errorf("report: verdict %s decided by %q, steps %+v", res.Verdict, res.Check, res.Steps)
	}
}

// TestSetWeightLeavingABackgroundProcess: a set_weight that exits 0 but
// leaves a process running with its output (a port-forward started with &)
// has set the weight: the step goes on, and the process is ended with the
// command's group rather than left behind.
func TestSetWeightLeavingABackgroundProcess(t *testing.T) {
	srv := httptest.NewServer(&service{})
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	t.Cleanup(func() { killPids(filepath.Join(dir, "pids")) })
	env := map[string]string{"PATH": os.Getenv("PATH"), "DIR": dir}
	shift := `sleep 600 & echo $! >> "$DIR/pids"; echo "$PMGUARD_WEIGHT" >> "$DIR/weights"; echo "set $PMGUARD_WEIGHT"`
	o, err := load(t, env, "--url", srv.URL, "--steps", "10,100", "--rate", "200", "--max-duration", "30s",
		"--set-weight", shift)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := o.testRun(&syncWriter{w: &out}, nil, config.Reports{}); err != nil {
		t.Fatalf("a set_weight that exited 0 failed the run: %v\n%s", err, out.String())
	}
	if w, _ := os.ReadFile(filepath.Join(dir, "weights")); strings.Join(strings.Fields(string(w)), " ") != "10 100" {
		t.Errorf("weights applied %q, want 10 100", w)
	}
	if left := alive(t, filepath.Join(dir, "pids")); len(left) > 0 {
		t.Errorf("set_weight's background processes still run after pmguard returned: %v", left)
	}
}
