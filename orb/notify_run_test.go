package orb_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pmguard/pmguard/internal/notify/slacktest"
	"github.com/pmguard/pmguard/orb/orbtest"
)

// slackStandIn starts the Slack Web API stand-in and points the job at it the
// way a project would point pmguard at a proxy: PMGUARD_SLACK_API_URL in the
// job's environment.
func slackStandIn(t *testing.T, h *harness) *slacktest.Server {
	t.Helper()
	s := slacktest.Start(t)
	s.AddChannel("incidents", true)
	h.job.Env["SLACK_ACCESS_TOKEN"] = s.Token
	h.job.Env["PMGUARD_SLACK_API_URL"] = s.APIURL()
	return s
}

// A failing health_check with slack_channel posts HEALTH_CHECK_FAILED
// through the orb's own notify steps: the job status recorded by the
// on_fail step, pmguard found on PATH, the figures read from the event log.
func TestHealthCheckPostsItsFailureToSlack(t *testing.T) {
	h := newHarness(t)
	slack := slackStandIn(t, h)
	down := newEndpoint(t, func(int64, *http.Request) int { return http.StatusServiceUnavailable })
	err := h.healthCheck(map[string]any{"endpoints": down.URL + "/health", "retries": 1, "slack_channel": "incidents"})
	if _, ok := err.(*orbtest.StepError); !ok {
		t.Fatalf("health_check of an endpoint that stays down: err = %v, want a failed step", err)
	}
	msgs := slack.Messages("incidents")
	if len(msgs) != 1 {
		t.Fatalf("want one notice in #incidents, got %d; last step output:\n%s", len(msgs), h.job.LastRun().Output)
	}
	text := msgs[0].Text
	for _, b := range msgs[0].Blocks {
		text += " " + strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(toJSON(b)), "\\u0026", "&"), "\\n", " ")
	}
	for _, want := range []string{"Health check failed", down.URL + "/health", "503"} {
		if !strings.Contains(text, want) {
			t.Errorf("notice lacks %q:\n%s", want, text)
		}
	}
	for _, s := range h.job.Steps {
		if strings.Contains(s.Output, slack.Token) {
			t.Errorf("step %q printed the Slack token", s.Name)
		}
	}
}

// A passing health_check posts nothing, even with slack_channel set.
func TestHealthCheckPassingPostsNothing(t *testing.T) {
	h := newHarness(t)
	slack := slackStandIn(t, h)
	up := newEndpoint(t, func(int64, *http.Request) int { return http.StatusOK })
	if err := h.healthCheck(map[string]any{"endpoints": up.URL + "/health", "slack_channel": "incidents"}); err != nil {
		t.Fatalf("health_check of a healthy endpoint failed: %v\n%s", err, h.job.LastRun().Output)
	}
	if n := len(slack.AllMessages()); n != 0 {
		t.Fatalf("a passing check posted %d message(s)", n)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// notify_incident_thread.yml as CircleCI runs it: the deploy job fails, so
// its steps after the failure never run and nothing reaches the rollback
// job, which runs on the deploy job's failure only. The rollback job's
// notice still replies in the deploy job's thread and updates its parent.
func TestIncidentThreadExampleAcrossJobs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("src", "examples", "notify_incident_thread.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		Usage struct {
			Jobs      map[string]struct{ Steps []any } `yaml:"jobs"`
			Workflows map[string]struct{ Jobs []any }  `yaml:"workflows"`
		} `yaml:"usage"`
	}
	if err := yaml.Unmarshal(b, &ex); err != nil {
		t.Fatal(err)
	}
	// The rollback runs when the deploy job failed: a job status condition,
	// not a plain requires (which would never let it run).
	if !strings.Contains(toJSON(ex.Usage.Workflows), `"requires":[{"deploy":"failed"}]`) {
		t.Fatalf("no job of the workflow requires deploy: failed: %s", toJSON(ex.Usage.Workflows))
	}

	h := newHarness(t)
	slack := slacktest.Start(t)
	slack.AddChannel("incidents", true)
	slack.AddUser("oncall-lead@myapp.com")
	for i, run := range []struct {
		job  string
		fail bool
	}{{"deploy", true}, {"rollback", false}} {
		if i > 0 {
			h.job = orbtest.NewJob(t, h.job.Orb)
			h.job.Env["PMGUARD_INSTALL_RETRY_WAIT"] = "0"
		}
		ownTmp(h)
		h.job.Env["SLACK_ACCESS_TOKEN"] = slack.Token
		h.job.Env["PMGUARD_SLACK_API_URL"] = slack.APIURL()
		h.job.Env["CIRCLE_PROJECT_REPONAME"] = "api"
		if err := h.install(nil); err != nil {
			t.Fatal(err)
		}
		work := "true"
		if run.fail {
			work = "echo 'deploy failed' >&2; exit 1"
		}
		steps := []any{map[string]any{"run": map[string]any{"name": "the job's own work", "command": work}}}
		for _, s := range ex.Usage.Jobs[run.job].Steps {
			if m, ok := s.(map[string]any); ok && m["pmguard/notify"] != nil {
				steps = append(steps, m)
			}
		}
		h.job.RunSteps(h.ctx, steps...)
		if h.job.Failed() != run.fail {
			t.Fatalf("job %s failed=%v, want %v", run.job, h.job.Failed(), run.fail)
		}
		for _, s := range h.job.Steps {
			if strings.HasPrefix(s.Name, "Slack notice") && s.Exit != 0 {
				t.Fatalf("job %s: the notice step failed:\n%s", run.job, s.Output)
			}
		}
	}
	msgs := slack.Messages("incidents")
	if len(msgs) != 2 || msgs[1].ThreadTS != msgs[0].TS || msgs[0].Edits != 1 {
		t.Fatalf("want the deploy job's notice and the rollback job's reply in its thread, with the parent updated; got %+v\nlast step:\n%s",
			msgs, h.job.LastRun().Output)
	}
	if !strings.Contains(toJSON(msgs[1].Blocks), "Rolled back") && !strings.Contains(toJSON(msgs[1].Blocks), "rolled back") {
		t.Errorf("the reply is not the rollback notice: %s", toJSON(msgs[1].Blocks))
	}
}

// On an image without bash, CircleCI runs steps with /bin/sh, which never
// reads $BASH_ENV: the status the on_fail / on_success steps record must
// still reach pmguard, or event: fail would post a failure template after a
// job that passed.
func TestNotifyOnAnImageWithoutBash(t *testing.T) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("busybox is not installed (apt-get install --no-install-recommends busybox)")
		}
		t.Skip("busybox is not installed (CI fails here)")
	}
	h := newHarness(t)
	slack := slackStandIn(t, h)
	h.job.Shell = bb + " sh -eo pipefail"
	// Such images put the install directory on PATH themselves.
	h.job.Env["PATH"] = h.installDir() + ":" + os.Getenv("PATH")
	notice := map[string]any{"event": "fail", "channel": "incidents", "template": "DEPLOY_FAILED", "base_url": h.server.URL}

	if err := h.job.RunSteps(h.ctx, map[string]any{"run": map[string]any{"name": "deploy", "command": "true"}}); err != nil {
		t.Fatal(err)
	}
	if err := h.job.Run(h.ctx, "notify", notice); err != nil {
		t.Fatalf("notify after a passing step: %v\n%s", err, h.job.LastRun().Output)
	}
	if n := len(slack.AllMessages()); n != 0 {
		t.Fatalf("event: fail after a passing job posted %d message(s); last step:\n%s", n, h.job.LastRun().Output)
	}

	if err := h.job.RunSteps(h.ctx, map[string]any{"run": map[string]any{"name": "smoke test", "command": "exit 1"}}); err == nil {
		t.Fatal("a step running exit 1 passed")
	}
	if err := h.job.Run(h.ctx, "notify", notice); err != nil {
		t.Fatalf("notify after a failed step: %v\n%s", err, h.job.LastRun().Output)
	}
	if n := len(slack.Messages("incidents")); n != 1 {
		t.Fatalf("event: fail after a failed step posted %d message(s), want 1; last step:\n%s", n, h.job.LastRun().Output)
	}
}
