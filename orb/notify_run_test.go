package orb_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

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
