package orb_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pmguard/pmguard/internal/notify/slacktest"
	"github.com/pmguard/pmguard/orb/orbtest"
)

// slackOrbLine is the one line a slack orb user changes to switch.
var slackOrbLine = regexp.MustCompile(`(?m)^(\s*slack:\s*)circleci/slack@\S+\s*$`)

// switchedExample is a slack orb example (testdata/slackorb) with its orb
// line pointing at pmguard's orb, and nothing else changed.
func switchedExample(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "slackorb", name+".yml"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(slackOrbLine.FindAllIndex(b, -1)); n != 1 {
		t.Fatalf("%s: %d slack orb lines, want 1", name, n)
	}
	switched := slackOrbLine.ReplaceAll(b, []byte("${1}pmguard/pmguard@1"))
	if diff := changedLines(string(b), string(switched)); diff != 1 {
		t.Fatalf("%s: %d lines changed, want only the orb line", name, diff)
	}
	var ex struct {
		Usage map[string]any `yaml:"usage"`
	}
	if err := yaml.Unmarshal(switched, &ex); err != nil {
		t.Fatal(err)
	}
	// The switched config is still a valid CircleCI config.
	usage, err := yaml.Marshal(ex.Usage)
	if err != nil {
		t.Fatal(err)
	}
	if err := loadSchema(t).ValidateYAML(usage); err != nil {
		t.Fatalf("%s with pmguard's orb: not a valid config: %v", name, err)
	}
	return ex.Usage
}

func changedLines(a, b string) int {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	n := 0
	for i := range al {
		if i >= len(bl) || al[i] != bl[i] {
			n++
		}
	}
	return n
}

// jobSteps are a config job's steps as pmguard's orb runs them: the slack
// alias's commands become pmguard's (a config's orb alias resolves so), a
// run step becomes one that passes or fails as the scenario says (the
// job's own work), and other orbs' commands are left out (they are not
// pmguard's to run).
func jobSteps(t *testing.T, usage map[string]any, job string, fail bool) []any {
	t.Helper()
	jobs, _ := usage["jobs"].(map[string]any)
	j, _ := jobs[job].(map[string]any)
	steps, _ := j["steps"].([]any)
	if len(steps) == 0 {
		t.Fatalf("job %s has no steps", job)
	}
	work := "true"
	if fail {
		work = "echo 'the job failed' >&2; exit 1"
	}
	out := []any{map[string]any{"run": map[string]any{"name": "the job's own work", "command": work}}}
	for _, s := range steps {
		key, body := "", any(nil)
		switch x := s.(type) {
		case string:
			key = x
		case map[string]any:
			for k, v := range x {
				key, body = k, v
			}
		}
		switch {
		case strings.HasPrefix(key, "slack/"):
			out = append(out, map[string]any{"pmguard/" + strings.TrimPrefix(key, "slack/"): body})
		case key == "run":
			// Replaced by the job's own work above.
		case key == "checkout" || strings.Contains(key, "/"):
		default:
			t.Fatalf("job %s: unexpected step %q", job, key)
		}
	}
	return out
}

// run is one job of a switched example, in a scenario: its branch or tag,
// whether its own work fails, and what Slack then holds.
type switchRun struct {
	job  string
	fail bool
	env  map[string]string // CIRCLE_BRANCH, CIRCLE_TAG ... beyond the defaults
	// check asserts what was posted.
	check func(t *testing.T, s *slacktest.Server)
}

// posted is the messages in channel as text, one per message.
func posted(s *slacktest.Server, channel string) []string {
	var out []string
	for _, m := range s.Messages(channel) {
		b, _ := json.Marshal(m.Blocks)
		out = append(out, m.Text+" "+strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">").Replace(string(b)))
	}
	return out
}

func wantPosts(channel string, n int, contains ...string) func(t *testing.T, s *slacktest.Server) {
	return func(t *testing.T, s *slacktest.Server) {
		t.Helper()
		msgs := posted(s, channel)
		if len(msgs) != n {
			t.Fatalf("%d message(s) in %s, want %d: %v", len(msgs), channel, n, msgs)
		}
		for _, m := range msgs {
			for _, c := range contains {
				if !strings.Contains(m, c) {
					t.Errorf("message in %s lacks %q: %s", channel, c, m)
				}
			}
		}
	}
}

// TestSlackOrbExamplesSwitch runs each of the CircleCI slack orb's example
// usages through pmguard's orb with only the orb line changed, against the
// Slack stand-in, and checks what was posted.
func TestSlackOrbExamplesSwitch(t *testing.T) {
	cases := map[string][]switchRun{
		"custom_notification": {{job: "notify", check: wantPosts("incidents", 1, "*This is a text notification*")}},
		"full_deployment_sample": {
			{job: "deploy", env: map[string]string{"CIRCLE_TAG": "v1.0.0"}, check: wantPosts("incidents", 1, "Deployment Successful! :tada:", "*Tag*: v1.0.0")},
			{job: "deploy", fail: true, env: map[string]string{"CIRCLE_TAG": "v1.0.0"}, check: wantPosts("incidents", 1, "Job Failed. :red_circle:", "*Mentions*: @EngineeringTeam")},
		},
		"notify_on_fail_with_template": {
			{job: "deploy", check: wantPosts("ABCXYZ", 0)}, // event: fail, and the job passed
			{job: "deploy", fail: true, check: wantPosts("ABCXYZ", 1, "Job Failed. :red_circle:", "*Job*: deploy")},
		},
		"notify_thread": {
			{job: "deploy", check: func(t *testing.T, s *slacktest.Server) {
				msgs := s.Messages("engineering")
				if len(msgs) != 2 || msgs[0].ThreadTS != "" || msgs[1].ThreadTS != msgs[0].TS {
					t.Fatalf("want *Deployment started.* and a reply in its thread, got %v", posted(s, "engineering"))
				}
				wantPosts("engineering", 2, "*Deployment ")(t, s)
			}},
		},
		"notify_two_channels": {{job: "deploy", check: func(t *testing.T, s *slacktest.Server) {
			wantPosts("ABCXYZ", 1, "*This is a text notification*")(t, s)
			wantPosts("ZXCVBN", 1, "*This is a text notification*")(t, s)
		}}},
		"notify_with_inferred_template": {
			// pmguard infers its own templates from the job's status.
			{job: "deploy", fail: true, check: wantPosts("incidents", 1, "Deploy failed")},
		},
		"only_notify_on_branch": {
			{job: "build", fail: true, env: map[string]string{"CIRCLE_BRANCH": "main"}, check: wantPosts("incidents", 1, "Job Failed. :red_circle:", "*Branch*: main")},
			{job: "build", fail: true, env: map[string]string{"CIRCLE_BRANCH": "production"}, check: wantPosts("incidents", 1, "*Mentions*: <@U8XXXXXXX>, @UserName")},
		},
		"scheduled_notification": {{job: "scheduled_notify", check: func(t *testing.T, s *slacktest.Server) {
			wantPosts("incidents", 0)(t, s)
			if sched := s.Scheduled(); len(sched) != 1 || !strings.Contains(toJSON(sched[0].Blocks), "*This is a scheduled text notification*") {
				t.Fatalf("want one scheduled message, got %v", sched)
			}
		}}},
		"successful_tagged_deployment": {
			{job: "deploy", check: wantPosts("ABCXYZ", 1, "Job Failed. :red_circle:")}, // the example's own template choice
		},
		// Only the slack orb's on-hold job, which pmguard's orb has not.
		"on_hold_notification": nil,
	}
	names, _ := filepath.Glob(filepath.Join("testdata", "slackorb", "*.yml"))
	if len(names) != len(cases) {
		t.Fatalf("%d examples in testdata/slackorb, %d cases", len(names), len(cases))
	}
	sort.Strings(names)
	for _, path := range names {
		name := strings.TrimSuffix(filepath.Base(path), ".yml")
		t.Run(name, func(t *testing.T) {
			runs, ok := cases[name]
			if !ok {
				t.Fatalf("no case for %s", name)
			}
			usage := switchedExample(t, name)
			// One packed orb and release server per example; each run is a
			// job of its own.
			h := newHarness(t)
			checkWorkflowJobs(t, usage, h.job.Orb)
			for i, r := range runs {
				if i > 0 {
					h.job = orbtest.NewJob(t, h.job.Orb)
					h.job.Env["PMGUARD_INSTALL_RETRY_WAIT"] = "0"
				}
				ownTmp(h)
				slack := slackStandIn(t, h)
				for _, ch := range []string{"ABCXYZ", "ZXCVBN", "engineering"} {
					slack.AddChannel(ch, true)
				}
				for k, v := range map[string]string{
					"SLACK_DEFAULT_CHANNEL": "incidents", "CIRCLE_PROJECT_USERNAME": "acme", "CIRCLE_PROJECT_REPONAME": "api",
					"CIRCLE_BRANCH": "main", "CIRCLE_SHA1": "1a2b3c4d5e6f708192a3b4c5d6e7f80912a3b4c5", "CIRCLE_JOB": r.job,
					"CIRCLE_BUILD_NUM": "1234", "CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/api/1234", "CIRCLE_USERNAME": "alice",
				} {
					h.job.Env[k] = v
				}
				for k, v := range r.env {
					h.job.Env[k] = v
					if k == "CIRCLE_TAG" {
						delete(h.job.Env, "CIRCLE_BRANCH")
					}
				}
				// The release comes from the loopback release server (an
				// install step of the test's, which notify's own install
				// then finds verified in place).
				if err := h.install(nil); err != nil {
					t.Fatal(err)
				}
				err := h.job.RunSteps(h.ctx, jobSteps(t, usage, r.job, r.fail)...)
				if r.fail != h.job.Failed() {
					t.Fatalf("job %s (fail=%v): err %v", r.job, r.fail, err)
				}
				for _, s := range h.job.Steps {
					if strings.HasPrefix(s.Name, "Slack notice") && s.Exit != 0 {
						t.Fatalf("the notice step failed:\n%s", s.Output)
					}
				}
				r.check(t, slack)
			}
		})
	}
}

// ownTmp gives the job the /tmp of its own that every CircleCI job has:
// the notify command's default event log, /tmp/pmguard/events.jsonl, is
// under the job's directory instead, so runs never share one.
func ownTmp(h *harness) {
	h.job.Orb.Commands["notify"].Parameters["events_file"].Default = filepath.Join(h.job.Dir, "tmp", "pmguard", "events.jsonl")
}

// checkWorkflowJobs: every slack/<job> a workflow names is a job of
// pmguard's orb, except the slack orb's on-hold (docs/from-slack-orb.md
// gives the job to write instead; TestOnHoldReplacement runs it).
func checkWorkflowJobs(t *testing.T, usage map[string]any, o *orbtest.Orb) {
	t.Helper()
	wfs, _ := usage["workflows"].(map[string]any)
	for _, wf := range wfs {
		w, _ := wf.(map[string]any)
		jobs, _ := w["jobs"].([]any)
		for _, j := range jobs {
			name := ""
			switch x := j.(type) {
			case string:
				name = x
			case map[string]any:
				for k := range x {
					name = k
				}
			}
			if !strings.HasPrefix(name, "slack/") || name == "slack/on-hold" {
				continue
			}
			if _, ok := o.Jobs[strings.TrimPrefix(name, "slack/")]; !ok {
				t.Errorf("workflow job %s: pmguard's orb has no such job", name)
			}
		}
	}
}

// The slack orb's on-hold job is, with pmguard's orb, a job of one's own
// with one notify step: basic_on_hold_1 links the waiting workflow.
func TestOnHoldReplacement(t *testing.T) {
	h := newHarness(t)
	ownTmp(h)
	slack := slackStandIn(t, h)
	h.job.Env["CIRCLE_WORKFLOW_ID"] = "7c1c7a52-9e0a-4c43-9a6e-4f1d3d0b7a11"
	h.job.Env["CIRCLE_BRANCH"] = "main"
	h.job.Env["SLACK_DEFAULT_CHANNEL"] = "incidents"
	if err := h.install(nil); err != nil {
		t.Fatal(err)
	}
	if err := h.job.RunSteps(h.ctx, map[string]any{"pmguard/notify": map[string]any{"template": "basic_on_hold_1", "mentions": "<!here>", "step_name": "Slack - Sending Notification"}}); err != nil {
		t.Fatal(err)
	}
	if last := h.job.LastRun(); last == nil || last.Name != "Slack - Sending Notification" {
		t.Errorf("step_name did not name the notice step: %+v", last)
	}
	wantPosts("incidents", 1, "ON HOLD - Awaiting Approval :raised_hand:", "https://circleci.com/workflow-run/7c1c7a52-9e0a-4c43-9a6e-4f1d3d0b7a11", "*Mentions*: <!here>")(t, slack)
}

// slackOrbNotifyParams are the CircleCI slack orb's notify parameters (v6)
// and their types: every one is a parameter of pmguard's notify of the same
// type, so a config that sets it compiles unchanged; TestCommandsMatchVerbSettings
// checks each reaches pmguard notify, and internal/notify's tests what it does.
var slackOrbNotifyParams = map[string]string{
	"template": "string", "custom": "string", "event": "enum", "branch_pattern": "string", "tag_pattern": "string",
	"invert_match": "boolean", "mentions": "string", "channel": "string", "ignore_errors": "boolean", "debug": "boolean",
	"circleci_host": "string", "step_name": "string", "thread_id": "string", "scheduled_offset_seconds": "integer",
	"retries": "integer", "retry_delay": "integer", "unfurl_links": "boolean", "unfurl_media": "boolean",
	"access_token": "env_var_name", "api_domain": "string", "windows_execution": "boolean",
}

func TestNotifyAcceptsSlackOrbParameters(t *testing.T) {
	params := commandParams(t, "notify")
	for name, typ := range slackOrbNotifyParams {
		p, ok := params[name]
		if !ok {
			t.Errorf("notify lacks the slack orb's parameter %s", name)
			continue
		}
		if p["type"] != typ {
			t.Errorf("notify's %s is of type %v, the slack orb's of type %s", name, p["type"], typ)
		}
	}
	if got := fmt.Sprint(params["event"]["enum"]); got != "[fail pass always]" {
		t.Errorf("event's values are %s, the slack orb's [fail pass always]", got)
	}
}
