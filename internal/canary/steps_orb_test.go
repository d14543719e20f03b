package canary

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/deploymarker/markertest"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/orb/orbtest"
)

// weightedService is a canary whose error rate depends on its share of
// traffic: from failAt percent on, every fifth request fails (20%). Its
// share is what the rollout's set_weight command last wrote to file.
type weightedService struct {
	file   string
	failAt int // 0: healthy at every weight
	n      atomic.Int64
}

func (s *weightedService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := s.n.Add(1)
	b, _ := os.ReadFile(s.file)
	weight, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if weight == 0 {
		// No traffic is routed to a canary at 0%: the probe would see it
		// refuse, which no step should ever observe.
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if s.failAt > 0 && weight >= s.failAt && i%5 == 0 {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Write([]byte("ok\n"))
}

// TestOrbCanaryDeploySteps runs canary_deploy with steps 10,50,100 through
// the orb in bash, as CircleCI would: set_weight is a script in the
// project that routes traffic (here: writes the weight the loopback canary
// reads), the canary fails from 50% on in the first case, and the
// `circleci` CLI on PATH is a stand-in that validates its flags
// (markertest).
func TestOrbCanaryDeploySteps(t *testing.T) {
	o, bin := orbWithVerb(t)
	const secret = "s3cr3t-query-value"

	tests := []struct {
		name       string
		failAt     int
		mode       string
		wantFailed bool
		verdicts   []State // per step judged
		weights    string  // every weight set, in order
		ran        string
		skipped    string
		markers    []string // the status of each update
		fullFails  bool     // deploy_full fails
	}{
		{"fails at 50%: rolled back to 0", 50, "enforce", true, []State{Passed, Failed}, "10 50 0", "Roll back", "Deploy everywhere", []string{"RUNNING", "FAILED"}, false},
		{"healthy at every weight: promoted", 0, "enforce", false, []State{Passed, Passed, Passed}, "10 50 100", "Deploy everywhere", "Roll back", []string{"RUNNING", "SUCCESS"}, false},
		{"healthy, but deploy_full fails: FAILED after it", 0, "enforce", true, []State{Passed, Passed, Passed}, "10 50 100", "Deploy everywhere", "Roll back", []string{"RUNNING", "FAILED"}, true},
		{"shadow: judged at every weight, never enforced", 50, "shadow", false, []State{Passed, Failed, Failed}, "10 50 100", "Deploy everywhere", "Roll back", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job := orbtest.NewJob(t, o)
			if err := os.MkdirAll(job.Dir, 0o755); err != nil {
				t.Fatal(err)
			}
			weightFile := filepath.Join(job.Dir, "weight")
			shift := "#!/bin/sh\necho \"$1\" > weight\necho \"$1\" >> weights.log\necho \"routed $1% to the canary\"\n"
			if err := os.WriteFile(filepath.Join(job.Dir, "shift.sh"), []byte(shift), 0o755); err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(&weightedService{file: weightFile, failAt: tc.failAt})
			t.Cleanup(srv.Close)
			url := srv.URL
			cli := markertest.Install(t)
			job.Env["PATH"] = cli.Dir + ":" + bin + ":" + os.Getenv("PATH")
			job.Env["CIRCLE_JOB"] = "deploy-api"
			job.Env["CIRCLE_SHA1"] = "4f2c9a1d8e7b6c5a4f3e2d1c0b9a8f7e6d5c4b3a"
			job.Env["CIRCLE_PROJECT_REPONAME"] = "api"
			job.Env["CIRCLE_BUILD_URL"] = "https://circleci.com/gh/acme/api/77"
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			dir := job.Dir
			full := "echo full"
			if tc.fullFails {
				full = "echo the full deploy broke; exit 1"
			}
			err := job.Run(ctx, "canary_deploy", map[string]any{
				"deploy_canary":      []any{map[string]any{"run": map[string]any{"name": "Deploy the canary", "command": "echo canary deployed at 0%"}}},
				"steps":              "10,50,100",
				"set_weight":         "./shift.sh $PMGUARD_WEIGHT",
				"mode":               tc.mode,
				"deploy_environment": "production",
				"url":                url + "/?token=" + secret,
				"rate":               "400",
				"min_samples":        200,
				"max_duration":       "20s",
				"events_file":        filepath.Join(dir, "events.jsonl"),
				"report_path":        filepath.Join(dir, "report.json"),
				"junit_path":         filepath.Join(dir, "junit.xml"),
				"deploy_full":        []any{map[string]any{"run": map[string]any{"name": "Deploy everywhere", "command": full}}},
				"rollback":           []any{map[string]any{"run": map[string]any{"name": "Roll back", "command": "echo rolling back", "when": "on_fail"}}},
			})
			if (err != nil) != tc.wantFailed {
				t.Fatalf("job error %v, want failed=%v", err, tc.wantFailed)
			}
			ran := map[string]bool{}
			var judged string
			// Which step wrote the release's outcome, and after which.
			var order []string
			outcome := ""
			for _, s := range job.Steps {
				if s.Kind == "run" {
					ran[s.Name] = s.Ran
					if s.Ran {
						order = append(order, s.Name)
					}
					if s.Name == "Judge the canary" {
						judged = s.Output
					}
					if strings.Contains(s.Output, "deploy marker: deploy-api SUCCESS") || strings.Contains(s.Output, "deploy marker: deploy-api FAILED") {
						outcome = s.Name
					}
				}
			}
			switch {
			case tc.markers == nil:
			case tc.verdicts[len(tc.verdicts)-1] == Failed:
				if outcome != "Judge the canary" {
					t.Errorf("the failed canary's FAILED was written by %q", outcome)
				}
			default:
				// The release's outcome is recorded after deploy_full ran,
				// never by the analysis.
				want := "Record the promotion on the deploy marker"
				if tc.fullFails {
					want = "Record the failed promotion on the deploy marker"
				}
				if outcome != want || strings.Join(order, " > ") == "" || !strings.Contains(strings.Join(order, " > "), "Deploy everywhere > "+want) {
					t.Errorf("outcome written by %q; steps run: %s", outcome, strings.Join(order, " > "))
				}
			}
			if !ran[tc.ran] || ran[tc.skipped] {
				t.Errorf("steps run: %v", ran)
			}

			// set_weight ran for each step reached, then 0 on a rollback.
			w, _ := os.ReadFile(filepath.Join(dir, "weights.log"))
			if got := strings.Join(strings.Fields(string(w)), " "); got != tc.weights {
				t.Errorf("weights set %q, want %q\n%s", got, tc.weights, judged)
			}

			// The report has every step with its own verdict and figures.
			res := readResult(t, filepath.Join(dir, "report.json"))
			if len(res.Steps) != len(tc.verdicts) {
				t.Fatalf("report has %d steps, want %d\n%s", len(res.Steps), len(tc.verdicts), judged)
			}
			for i, s := range res.Steps {
				if s.State != tc.verdicts[i] || s.Weight != []int{10, 50, 100}[i] || s.Samples == 0 || s.Reason == "" {
					t.Errorf("step %d: %+v", i+1, s)
				}
			}
			canaryFailed := tc.wantFailed && !tc.fullFails
			if res.Mode != tc.mode || res.RolledBack != (tc.weights == "10 50 0") || res.Pass == canaryFailed {
				t.Errorf("report: mode %q rolled_back %v pass %v", res.Mode, res.RolledBack, res.Pass)
			}
			if canaryFailed && (res.Step != 2 || res.Weight != 50 || !strings.HasPrefix(res.Reason, "step 2 (50%):")) {
				t.Errorf("report names step %d (%d%%): %q", res.Step, res.Weight, res.Reason)
			}
			for i, s := range res.Steps {
				if !strings.Contains(judged, fmt.Sprintf("step %d (%d%%)", s.Step, s.Weight)) || !strings.Contains(judged, "set_weight "+strconv.Itoa(s.Weight)+"%") {
					t.Errorf("output lacks step %d:\n%s", i+1, judged)
				}
			}

			// JUnit: one case per planned step.
			junit, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
			if err != nil {
				t.Fatal(err)
			}
			var suite struct {
				Cases []struct {
					Name    string    `xml:"name,attr"`
					Failure *struct{} `xml:"failure"`
					Skipped *struct{} `xml:"skipped"`
				} `xml:"testsuite>testcase"`
			}
			if err := xml.Unmarshal(junit, &suite); err != nil {
				t.Fatalf("junit: %v\n%s", err, junit)
			}
			if len(suite.Cases) != 3 {
				t.Fatalf("junit has %d cases:\n%s", len(suite.Cases), junit)
			}
			for i, c := range suite.Cases {
				want := "pass"
				switch {
				case i >= len(tc.verdicts):
					want = "skipped" // not reached
				case tc.verdicts[i] == Failed && tc.mode == "shadow":
					want = "skipped"
				case tc.verdicts[i] == Failed:
					want = "failure"
				}
				got := "pass"
				if c.Failure != nil {
					got = "failure"
				} else if c.Skipped != nil {
					got = "skipped"
				}
				if got != want || !strings.HasPrefix(c.Name, fmt.Sprintf("step %d (", i+1)) {
					t.Errorf("junit case %d %q: %s, want %s", i, c.Name, got, want)
				}
			}

			// Events: a canary_step per step judged, with its figures.
			evs, _, err := events.ReadFiles(filepath.Join(dir, "events.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			var steps []events.Canary
			var final events.Canary
			for _, e := range evs {
				var f events.Canary
				e.Decode(&f)
				switch e.Event {
				case events.CanaryStep:
					steps = append(steps, f)
				case events.CanaryPassed, events.CanaryFailed:
					final = f
				}
			}
			if len(steps) != len(tc.verdicts) || steps[0].Weight != 10 || steps[0].Samples == 0 || steps[len(steps)-1].Step != len(tc.verdicts) {
				t.Errorf("canary_step events: %+v", steps)
			}
			if final.StepsPlanned != 3 || final.Mode != tc.mode || final.RolledBack != res.RolledBack {
				t.Errorf("verdict event: %+v", final)
			}

			// Deploy markers: plan, RUNNING, then the outcome with the
			// verdict; none in shadow mode, and never the secret.
			calls := cli.Calls(t)
			for _, c := range calls {
				if argv := strings.Join(c, " "); strings.Contains(argv, secret) {
					t.Errorf("the secret reached the circleci CLI's argv: %s", argv)
				}
			}
			statuses := cli.Statuses(t)
			if strings.Join(statuses, " ") != strings.Join(tc.markers, " ") {
				t.Errorf("marker updates %v, want %v; calls %q\n%s", statuses, tc.markers, calls, judged)
			}
			if tc.markers != nil {
				plan := strings.Join(calls[0], " ")
				if plan != "run release plan deploy-api --target-version=4f2c9a1d8e7b6c5a4f3e2d1c0b9a8f7e6d5c4b3a --environment-name=production --component-name=api" {
					t.Errorf("plan: %s", plan)
				}
				last := calls[len(calls)-1]
				if tc.fullFails {
					reason := strings.Join(last[5:], " ")
					if !strings.Contains(reason, "the promotion (deploy_full) did not complete") || !strings.Contains(reason, "canary PASSED") {
						t.Errorf("failure reason: %s", reason)
					}
				} else if tc.wantFailed {
					reason := strings.Join(last[5:], " ")
					if !strings.Contains(reason, "--failure-reason=canary FAILED") || !strings.Contains(reason, "step 2 (50%)") ||
						!strings.Contains(reason, "rolled back: weight set to 0") || !strings.Contains(reason, "https://circleci.com/gh/acme/api/77") {
						t.Errorf("failure reason: %s", reason)
					}
				}
			}
			if strings.Contains(judged, "deploy marker: note") {
				t.Errorf("the fake CLI refused a call:\n%s", judged)
			}
		})
	}
}

// TestOrbCanaryDeployChecksBeforeDeploying: a bad parameter fails
// canary_deploy before deploy_canary runs (exit 2, naming the orb
// parameter, flag and env var); nothing is deployed, set_weight never runs.
func TestOrbCanaryDeployChecksBeforeDeploying(t *testing.T) {
	o, bin := orbWithVerb(t)
	tests := []struct {
		name string
		args map[string]any
		want []string
	}{
		{"an empty weight", map[string]any{"steps": "10,,50"},
			[]string{`invalid steps "10,,50"`, "--steps", "PMGUARD_CANARY_STEPS", "an empty weight between commas"}},
		{"a latency share without latency_threshold", map[string]any{"latency_pass_share": "5%"},
			[]string{"invalid latency_pass_share", "--latency-pass-share", "PMGUARD_CANARY_LATENCY_PASS_SHARE", "without latency_threshold"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job := orbtest.NewJob(t, o)
			job.Env["PATH"] = bin + ":" + os.Getenv("PATH")
			args := map[string]any{
				"deploy_canary": []any{map[string]any{"run": map[string]any{"name": "Deploy the canary", "command": "echo deployed > deployed"}}},
				"steps":         "10,50,100", "set_weight": "echo $PMGUARD_WEIGHT >> weights",
				"url": "http://127.0.0.1:1/", "max_duration": "20s",
				"events_file": filepath.Join(job.Dir, "events.jsonl"),
				"report_path": filepath.Join(job.Dir, "report.json"),
				"junit_path":  filepath.Join(job.Dir, "junit.xml"),
				"deploy_full": []any{map[string]any{"run": map[string]any{"name": "Deploy everywhere", "command": "echo full"}}},
			}
			for k, v := range tc.args {
				args[k] = v
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := job.Run(ctx, "canary_deploy", args)
			var se *orbtest.StepError
			if !errors.As(err, &se) || se.Step.Name != "Check the canary's parameters" || se.Step.Exit != 2 {
				t.Fatalf("err %v, want the check step to exit 2", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(se.Step.Output, w) {
					t.Errorf("the check's message lacks %q:\n%s", w, se.Step.Output)
				}
			}
			for _, f := range []string{"deployed", "weights"} {
				if _, err := os.Stat(filepath.Join(job.Dir, f)); err == nil {
					t.Errorf("%s exists: something ran after the bad parameter", f)
				}
			}
		})
	}
}
