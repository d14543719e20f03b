package notify

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/jobenv"
	"github.com/pmguard/pmguard/internal/notify/slacktest"
	"github.com/pmguard/pmguard/internal/verb"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
)

// t0 is the tests' wall clock: 2026-11-23 14:03 UTC.
var t0 = time.Date(2026, 11, 23, 14, 3, 0, 0, time.UTC)

// fakeClock is a clock that sleeping moves forward, so waits are counted,
// never spent.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return ctx.Err()
}

func (c *fakeClock) Slept() (total time.Duration, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.slept {
		total += d
	}
	return total, len(c.slept)
}

// jobEnvVars is a realistic CircleCI job environment.
func jobEnvVars() map[string]string {
	return map[string]string{
		"CIRCLE_PROJECT_USERNAME": "acme",
		"CIRCLE_PROJECT_REPONAME": "api",
		"CIRCLE_BRANCH":           "main",
		"CIRCLE_SHA1":             "1a2b3c4d5e6f708192a3b4c5d6e7f80912a3b4c5",
		"CIRCLE_JOB":              "deploy-prod",
		"CIRCLE_BUILD_NUM":        "1234",
		"CIRCLE_BUILD_URL":        "https://circleci.com/gh/acme/api/1234",
		"CIRCLE_WORKFLOW_ID":      "7c1c7a52-9e0a-4c43-9a6e-4f1d3d0b7a11",
		"CIRCLE_PIPELINE_ID":      "5f2c8b1e-2d3a-4b5c-8d9e-0a1b2c3d4e5f",
		"CIRCLE_PIPELINE_NUMBER":  "567",
		"CIRCLE_USERNAME":         "alice",
	}
}

// harness is a stand-in Slack, an event log and a clock shared by one
// test's runs of notify.
type harness struct {
	t      *testing.T
	slack  *slacktest.Server
	clock  *fakeClock
	events string
	env    map[string]string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	s := slacktest.Start(t)
	h := &harness{t: t, slack: s, clock: newClock(), events: filepath.Join(t.TempDir(), "events.jsonl")}
	s.Now = h.clock.Now
	s.AddChannel("incidents", true)
	h.env = jobEnvVars()
	h.env["SLACK_ACCESS_TOKEN"] = s.Token
	h.env["PMGUARD_SLACK_API_URL"] = s.APIURL()
	return h
}

// result is one run's outcome.
type result struct {
	err       error
	out, errw string
}

// settings are the defaults config would give, pointed at the stand-in.
func (h *harness) settings() Settings {
	s := Settings{
		Event:         "always",
		BranchPattern: ".+",
		TagPattern:    ".+",
		TokenEnv:      "SLACK_ACCESS_TOKEN",
		WebhookEnv:    "SLACK_WEBHOOK_URL",
		Thread:        true,
		Channel:       config.List{"incidents"},
		AccessToken:   "SLACK_ACCESS_TOKEN",
		APIDomain:     "slack.com",
		IgnoreErrors:  true,
		UnfurlMedia:   true,
		Retries:       3,
		RetryDelay:    "1",
	}
	s.EventsFile = h.events
	s.Timeout.Duration = 30 * time.Second
	u, _ := config.ParseURL(h.env["PMGUARD_SLACK_API_URL"])
	s.APIURL.URL = u
	return s
}

// run is one separate invocation of notify: fresh Options and state, only
// the event log file and Slack shared with other runs.
func (h *harness) run(s Settings) result {
	h.t.Helper()
	var out, errw bytes.Buffer
	o := &Options{d: h.deps(&out, &errw), Settings: s,
		Subject: func(context.Context, string) string { return "Fix checkout timeout under load" }}
	err := o.withLog()
	if err == nil {
		err = Run(context.Background(), o)
	}
	return result{err: err, out: out.String(), errw: errw.String()}
}

// deps are one run's dependencies: the harness's environment and clock.
func (h *harness) deps(out, errw *bytes.Buffer) *verb.Deps {
	d := verbtest.Deps(h.env, out, errw)
	d.Now, d.Sleep = h.clock.Now, h.clock.Sleep
	return d
}

// appendEvents writes events as the other guards would.
func (h *harness) appendEvents(evs ...events.Event) {
	h.t.Helper()
	log, err := events.Open(h.events, jobenv.FromEnv(config.MapEnv(h.env)))
	if err != nil {
		h.t.Fatal(err)
	}
	for _, e := range evs {
		if e.Time.IsZero() {
			e.Time = h.clock.Now()
		}
		if err := log.Append(context.Background(), e); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) readEvents(name string) []events.Event {
	h.t.Helper()
	evs, _, err := events.ReadFiles(h.events)
	if err != nil && !os.IsNotExist(err) {
		h.t.Fatal(err)
	}
	return events.Filter(evs, name)
}

func (h *harness) eventsText() string {
	b, _ := os.ReadFile(h.events)
	return string(b)
}

// canaryFailure is what pmguard canary writes when a canary fails.
func canaryFailure() events.Event {
	return events.Event{Verb: "canary", Event: "canary_failed", Target: "https://canary.acme.example", Message: "canary failed: error rate 25% > 2%", Figures: map[string]any{
		"verdict": "failed", "error_rate": 0.25, "threshold": 0.02, "p95_ms": 812.0,
		"latency_threshold_ms": 500.0, "samples": 1200.0, "errors": 300.0, "source": "probe",
	}}
}

func healthFailure() []events.Event {
	return []events.Event{
		{Verb: "health", Event: "health_started", Figures: map[string]any{"endpoints": 3.0}},
		{Verb: "health", Event: "endpoint_failed", Target: "https://api.acme.example/health", Message: "status 503, expected 200", Figures: map[string]any{"status": 503.0, "expect_status": "200", "latency_ms": 41.0}},
		{Verb: "health", Event: "endpoint_failed", Target: "https://api.acme.example/ready", Message: "timeout after 5s", Figures: map[string]any{"status": 0.0, "expect_status": "200"}},
		{Verb: "health", Event: "health_failed", Message: "2 of 3 endpoint(s) failed", Figures: map[string]any{"endpoints": 3.0, "passed": 1.0, "failed": 2.0, "failing_endpoints": []any{"https://api.acme.example/health", "https://api.acme.example/ready"}}},
	}
}

func rollbackInitiated() events.Event {
	return events.Event{Verb: "rollback", Event: "rollback_initiated", Target: "v1.4.2", Figures: map[string]any{
		"strategy": "rerun_pipeline", "target_version": "v1.4.2", "target_pipeline_number": 561.0,
		"rollback_pipeline_id": "9d8c7b6a-5e4f-4a3b-9c2d-1e0f9a8b7c6d", "rollback_pipeline_number": 568.0,
		"rollback_url": "https://app.circleci.com/pipelines/gh/acme/api/568", "failed_pipeline_number": 567.0,
	}}
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}

// blockText is every string in blocks, one per line, for "does the message
// say X" checks.
func blockText(blocks []map[string]any) string {
	var b strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for _, x := range t {
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		case string:
			b.WriteString(t + "\n")
		}
	}
	for _, bl := range blocks {
		walk(bl)
	}
	return b.String()
}
