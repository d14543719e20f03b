package canary

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/notify"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
	"github.com/pmguard/pmguard/orb/orbtest"
)

// asVerb makes this test binary stand in for `pmguard canary` (and
// `pmguard notify`, which the orb's canary commands call for their Slack
// notices) when the orb test's wrapper script runs it: it builds the verb
// through New from the environment the orb step sets, as cmd/pmguard does.
// (Not PMGUARD_CANARY_*: the verb would warn of it as no setting.)
const asVerb = "PMGUARD_TEST_RUN_CANARY"

func TestMain(m *testing.M) {
	switch os.Getenv(asVerb) {
	case "":
		os.Exit(m.Run())
	case "notify":
		os.Exit(runNotify(os.Args[1:]))
	default:
		os.Exit(runVerb(os.Args[1:]))
	}
}

func runVerb(args []string) int {
	ctx := context.Background()
	o, err := New(ctx, verbtest.OS(), args)
	if err == nil {
		err = Run(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pmguard canary:", err)
	}
	return exitcode.Of(err)
}

func runNotify(args []string) int {
	ctx := context.Background()
	o, err := notify.New(ctx, verbtest.OS(), args)
	if err == nil {
		err = notify.Run(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pmguard notify:", err)
	}
	return exitcode.Of(err)
}

// orbWithVerb is the packed orb and a PATH directory whose pmguard runs
// this test binary as the canary and notify verbs.
func orbWithVerb(t *testing.T) (*orbtest.Orb, string) {
	return orbtest.WithVerbs(t, filepath.Join("..", "..", "orb", "src"), asVerb, "canary", "notify")
}

// TestOrbCanaryDeploy runs the orb's canary_deploy command the way
// CircleCI would, against a loopback canary: a failing canary runs the
// rollback steps (when: on_fail) and not deploy_full; a healthy one the
// reverse.
func TestOrbCanaryDeploy(t *testing.T) {
	o, bin := orbWithVerb(t)

	tests := []struct {
		name       string
		errEvery   int
		wantFailed bool
		ran        string // the step that must run
		skipped    string // the step that must not
	}{
		{"bad canary is rolled back", 4, true, "Roll back", "Deploy everywhere"},
		{"healthy canary is promoted", 0, false, "Deploy everywhere", "Roll back"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := startService(t, &service{errEvery: tc.errEvery})
			job := orbtest.NewJob(t, o)
			job.Env["PATH"] = bin + ":" + os.Getenv("PATH")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			events := filepath.Join(job.Dir, "events.jsonl")
			err := job.Run(ctx, "canary_deploy", map[string]any{
				"deploy_canary": []any{map[string]any{"run": map[string]any{"name": "Deploy the canary", "command": "echo canary at 10%"}}},
				"url":           url,
				"rate":          "200",
				"min_samples":   300,
				"max_duration":  "30s",
				"percentage":    10,
				"events_file":   events,
				"report_path":   filepath.Join(job.Dir, "report.json"),
				"junit_path":    filepath.Join(job.Dir, "junit.xml"),
				"deploy_full":   []any{map[string]any{"run": map[string]any{"name": "Deploy everywhere", "command": "echo full"}}},
				"rollback":      []any{map[string]any{"run": map[string]any{"name": "Roll back", "command": "echo rolling back", "when": "on_fail"}}},
			})
			if (err != nil) != tc.wantFailed {
				t.Fatalf("job error %v, want failed=%v", err, tc.wantFailed)
			}
			ran := map[string]bool{}
			var verdictOut string
			for _, s := range job.Steps {
				if s.Kind == "run" {
					ran[s.Name] = s.Ran
					if s.Name == "Judge the canary" {
						verdictOut = s.Output
						if s.Env["PMGUARD_CANARY_PERCENTAGE"] != "10" || s.Env["PMGUARD_CANARY_RATE"] != "200" {
							t.Errorf("parameters did not reach the env: %v", s.Env)
						}
					}
				}
			}
			if !ran["Deploy the canary"] || !ran[tc.ran] || ran[tc.skipped] {
				t.Errorf("steps run: %v", ran)
			}
			if !strings.Contains(verdictOut, "canary ") || !strings.Contains(verdictOut, "requests:") {
				t.Errorf("the step's output lacks the verdict:\n%s", verdictOut)
			}
			if _, err := os.Stat(events); err != nil {
				t.Errorf("no event log: %v", err)
			}
			if res := readResult(t, filepath.Join(job.Dir, "report.json")); res.Percentage != 10 || res.Source != "probe" {
				t.Errorf("report: percentage %d, source %q", res.Percentage, res.Source)
			}
		})
	}
}
