package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/jobenv"
	"github.com/pmguard/pmguard/internal/notify/slacktest"
)

// slackOrbEnv is the job environment of the comparison, with the variables
// the slack orb's notify step sets for its templates.
func slackOrbEnv() map[string]string {
	env := jobEnvVars()
	env["CIRCLE_TAG"] = "v1.4.3"
	env["SLACK_PARAM_MENTIONS"] = "<@U0123ABCD>"
	env["SLACK_PARAM_CIRCLECI_HOST"] = "https://circleci.example.com"
	return env
}

// slackOrbRendering is what the slack orb posts for one of its templates:
// the JSON with its $VAR / ${VAR} substituted from env and its $(date ...)
// evaluated at now.
func slackOrbRendering(t *testing.T, name string, env map[string]string, now time.Time) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "slackorb", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "$(date +'%m/%d/%Y %T')", now.Format("01/02/2006 15:04:05"))
	s = expandVars(s, func(k string) string { return env[k] })
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s after substitution: %v", name, err)
	}
	return v
}

// comparable is a message as JSON values, without button ids (the slack orb
// names them action_id or callback_id; pmguard always action_id).
func comparable(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	var strip func(any)
	strip = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			if x["type"] == "button" {
				delete(x, "action_id")
				delete(x, "callback_id")
			}
			for _, y := range x {
				strip(y)
			}
		case []any:
			for _, y := range x {
				strip(y)
			}
		}
	}
	strip(out)
	return out
}

// The slack orb's four templates, rendered by pmguard for a job pmguard
// knows nothing more about, are the blocks and text the slack orb posts.
func TestSlackOrbTemplatesMatch(t *testing.T) {
	env := slackOrbEnv()
	for _, name := range []string{SlackBasicFail, SlackBasicSuccess, SlackTaggedDeploy, SlackBasicOnHold} {
		t.Run(name, func(t *testing.T) {
			want := slackOrbRendering(t, name, env, t0)
			f := &Facts{Job: jobenv.FromEnv(config.MapEnv(env)), Mentions: env["SLACK_PARAM_MENTIONS"], Now: t0, CircleCIHost: env["SLACK_PARAM_CIRCLECI_HOST"]}
			m, err := Render(name, f)
			if err != nil {
				t.Fatal(err)
			}
			got := comparable(t, map[string]any{"text": m.Text, "blocks": m.Blocks})
			if w := comparable(t, want); !reflect.DeepEqual(got, w) {
				gb, _ := json.MarshalIndent(got, "", " ")
				wb, _ := json.MarshalIndent(w, "", " ")
				t.Fatalf("pmguard's %s:\n%s\nthe slack orb's:\n%s", name, gb, wb)
			}
			blocks, _ := json.Marshal(m.Blocks)
			if code := slacktest.CheckBlocks(blocks); code != "" {
				t.Fatalf("Slack would refuse it: %s", code)
			}
		})
	}
}

// With failing figures in the event log, basic_fail_1 is the slack orb's
// blocks and then pmguard's: what failed, what happens next, the status
// line; once a rollback starts the parent is rewritten to say so.
func TestSlackOrbFailTemplateCarriesTheIncident(t *testing.T) {
	env := slackOrbEnv()
	want := slackOrbRendering(t, SlackBasicFail, env, t0)["blocks"].([]any)
	f := &Facts{Job: jobenv.FromEnv(config.MapEnv(env)), Mentions: env["SLACK_PARAM_MENTIONS"], Now: t0}
	factsFrom(f, []events.Event{canaryFailure()}, "")
	m, _ := Render(SlackBasicFail, f)
	if len(m.Blocks) <= len(want) {
		t.Fatalf("%d blocks, want the slack orb's %d and more", len(m.Blocks), len(want))
	}
	if got := comparable(t, m.Blocks[:len(want)]); !reflect.DeepEqual(got, comparable(t, want)) {
		t.Fatalf("the first blocks are not the slack orb's: %v", got)
	}
	mustContain(t, "extras", blockText(m.Blocks[len(want):]), "What failed", "error rate 25% &gt; 2%", "What happens next", "Status:")

	h := newHarness(t)
	h.env["CIRCLE_BRANCH"] = "main"
	h.appendEvents(canaryFailure())
	s := h.settings()
	s.Template, s.Event = SlackBasicFail, "fail"
	s.JobStatus = "fail"
	if res := h.run(s); res.err != nil {
		t.Fatalf("%v\n%s", res.err, res.errw)
	}
	h.appendEvents(rollbackInitiated())
	s.Template = RollbackStarted
	if res := h.run(s); res.err != nil {
		t.Fatalf("%v\n%s", res.err, res.errw)
	}
	msgs := h.slack.Messages("incidents")
	if len(msgs) != 2 || msgs[1].ThreadTS != msgs[0].TS {
		t.Fatalf("want basic_fail_1 and a reply in its thread, got %d message(s)", len(msgs))
	}
	if msgs[0].Edits != 1 || !strings.Contains(blockText(msgs[0].Blocks), "rolling back") {
		t.Fatalf("the parent's status line was not updated (%d edits):\n%s", msgs[0].Edits, blockText(msgs[0].Blocks))
	}
}

// A value with quotes, '*', '<' and $(...) stays one string, escaped.
func TestSlackOrbTemplateValuesStayText(t *testing.T) {
	env := slackOrbEnv()
	env["CIRCLE_BRANCH"] = `fix "quotes" *bold* <!channel> $(rm -rf /)`
	f := &Facts{Job: jobenv.FromEnv(config.MapEnv(env)), Now: t0}
	m, _ := Render(SlackBasicFail, f)
	mustContain(t, "blocks", blockText(m.Blocks), `*Branch*: fix "quotes" *bold* &lt;!channel&gt; $(rm -rf /)`)
}

// envRun runs the notify verb as the orb does: settings from
// PMGUARD_NOTIFY_* variables in the job's environment, through New.
func (h *harness) envRun(vars map[string]string) result {
	h.t.Helper()
	env := map[string]string{}
	for k, v := range h.env {
		env[k] = v
	}
	env["PMGUARD_EVENTS_FILE"] = h.events
	env["PMGUARD_NOTIFY_CHANNEL"] = "incidents"
	env["PMGUARD_JOB_STATUS"] = "pass"
	for k, v := range vars {
		env[k] = v
	}
	var out, errw bytes.Buffer
	saved := h.env
	h.env = env
	d := h.deps(&out, &errw)
	h.env = saved
	o, err := New(context.Background(), d, nil)
	if err == nil {
		o.Subject = func(context.Context, string) string { return "" }
		err = Run(context.Background(), o)
	}
	return result{err: err, out: out.String(), errw: errw.String()}
}

func TestSlackOrbSettingsFromEnv(t *testing.T) {
	custom := func(text string) string {
		return `{"blocks":[{"type":"section","fields":[{"type":"plain_text","text":"` + text + `","emoji":true}]}]}`
	}
	t.Run("invert_match", func(t *testing.T) {
		h := newHarness(t)
		h.env["CIRCLE_BRANCH"] = "main"
		res := h.envRun(map[string]string{"PMGUARD_NOTIFY_BRANCH_PATTERN": "main", "PMGUARD_NOTIFY_INVERT_MATCH": "true"})
		mustContain(t, "output", res.out, `branch "main" matches branch_pattern (invert_match is set)`)
		h.env["CIRCLE_BRANCH"] = "feature/x"
		h.envRun(map[string]string{"PMGUARD_NOTIFY_BRANCH_PATTERN": "main", "PMGUARD_NOTIFY_INVERT_MATCH": "true"})
		if n := len(h.slack.Messages("incidents")); n != 1 {
			t.Fatalf("%d message(s), want 1 (feature/x only)", n)
		}
	})
	t.Run("ignore_errors", func(t *testing.T) {
		h := newHarness(t)
		h.slack.AddChannel("elsewhere", false)
		if res := h.envRun(map[string]string{"PMGUARD_NOTIFY_CHANNEL": "elsewhere"}); res.err != nil {
			t.Fatalf("ignore_errors defaults to true, but the step failed: %v", res.err)
		}
		res := h.envRun(map[string]string{"PMGUARD_NOTIFY_CHANNEL": "elsewhere", "PMGUARD_NOTIFY_IGNORE_ERRORS": "false"})
		if res.err == nil || !strings.Contains(res.err.Error(), "not_in_channel") {
			t.Fatalf("ignore_errors: false: err = %v, want the Slack error", res.err)
		}
	})
	t.Run("debug", func(t *testing.T) {
		h := newHarness(t)
		res := h.envRun(map[string]string{"PMGUARD_NOTIFY_DEBUG": "true", "PMGUARD_NOTIFY_TEMPLATE": "basic_success_1"})
		mustContain(t, "output", res.out, "debug: chat.postMessage to incidents", `"Job Succeeded. :white_check_mark:"`, "debug: Slack answered chat.postMessage: ok")
		if strings.Contains(res.out+res.errw, h.slack.Token) {
			t.Fatal("debug output shows the token")
		}
	})
	t.Run("circleci_host", func(t *testing.T) {
		h := newHarness(t)
		h.envRun(map[string]string{"PMGUARD_NOTIFY_TEMPLATE": "basic_on_hold_1", "PMGUARD_NOTIFY_CIRCLECI_HOST": "https://circleci.acme.example/"})
		mustContain(t, "message", toJSONString(h.slack.Messages("incidents")), "https://circleci.acme.example/workflow-run/"+h.env["CIRCLE_WORKFLOW_ID"])
	})
	t.Run("thread_id", func(t *testing.T) {
		h := newHarness(t)
		h.envRun(map[string]string{"PMGUARD_NOTIFY_THREAD_ID": "deployment", "PMGUARD_NOTIFY_CUSTOM": custom("Deployment started.")})
		h.envRun(map[string]string{"PMGUARD_NOTIFY_THREAD_ID": "testing", "PMGUARD_NOTIFY_CUSTOM": custom("Tests started.")})
		h.envRun(map[string]string{"PMGUARD_NOTIFY_THREAD_ID": "deployment", "PMGUARD_NOTIFY_CUSTOM": custom("Deployment finished.")})
		msgs := h.slack.Messages("incidents")
		if len(msgs) != 3 || msgs[0].ThreadTS != "" || msgs[1].ThreadTS != "" || msgs[2].ThreadTS != msgs[0].TS {
			t.Fatalf("want two threads and a reply in the first: %s", toJSONString(msgs))
		}
		// An incident notice does not reply in a named thread.
		res := h.envRun(map[string]string{"PMGUARD_JOB_STATUS": "fail", "PMGUARD_NOTIFY_TEMPLATE": "basic_fail_1"})
		if msgs := h.slack.Messages("incidents"); len(msgs) != 4 || msgs[3].ThreadTS != "" {
			t.Fatalf("the incident notice went into a named thread:\n%s", res.out)
		}
	})
	t.Run("scheduled_offset_seconds", func(t *testing.T) {
		h := newHarness(t)
		res := h.envRun(map[string]string{"PMGUARD_NOTIFY_SCHEDULED_OFFSET_SECONDS": "30", "PMGUARD_NOTIFY_CUSTOM": custom("This is a scheduled text notification")})
		sched := h.slack.Scheduled()
		if len(sched) != 1 || sched[0].PostAt != t0.Add(30*time.Second).Unix() || len(h.slack.Messages("incidents")) != 0 {
			t.Fatalf("want one message scheduled 30 s ahead and none posted: %v\n%s%s", sched, res.out, res.errw)
		}
		if e := h.readEvents(events.Notified); len(e) != 1 || e[0].Figures["scheduled_message_id"] != sched[0].ID {
			t.Fatalf("notified events: %v", e)
		}
	})
	t.Run("unfurl_links and unfurl_media", func(t *testing.T) {
		h := newHarness(t)
		h.envRun(nil)
		h.envRun(map[string]string{"PMGUARD_NOTIFY_UNFURL_LINKS": "true", "PMGUARD_NOTIFY_UNFURL_MEDIA": "false"})
		var got [][2]string
		for _, r := range h.slack.Requests() {
			if r.Method == "chat.postMessage" {
				got = append(got, [2]string{r.Params.Get("unfurl_links"), r.Params.Get("unfurl_media")})
			}
		}
		if want := [][2]string{{"false", ""}, {"true", "false"}}; !reflect.DeepEqual(got, want) {
			t.Fatalf("unfurl_links, unfurl_media sent: %v, want %v", got, want)
		}
	})
	t.Run("retries and retry_delay", func(t *testing.T) {
		h := newHarness(t)
		h.slack.Inject(slacktest.Fault{Method: "chat.postMessage", Status: http.StatusServiceUnavailable, Times: 5})
		res := h.envRun(map[string]string{"PMGUARD_NOTIFY_RETRIES": "1", "PMGUARD_NOTIFY_RETRY_DELAY": "10ms"})
		if c := h.slack.Calls("chat.postMessage"); c != 2 {
			t.Fatalf("%d calls with retries: 1, want 2\n%s", c, res.out)
		}
		mustContain(t, "warning", res.errw, "on each of 2 attempts")
		h.slack.Inject(slacktest.Fault{Method: "chat.postMessage", Status: http.StatusServiceUnavailable, Times: 5})
		h.envRun(map[string]string{"PMGUARD_NOTIFY_RETRIES": "0"})
		if c := h.slack.Calls("chat.postMessage"); c != 3 {
			t.Fatalf("retries: 0 made %d call(s), want 1", c-2)
		}
		// The slack orb takes any number of retries: a larger one than
		// pmguard's bound is capped, not bad input.
		h.slack.Inject(slacktest.Fault{Method: "chat.postMessage", Status: http.StatusServiceUnavailable, Times: 20})
		res = h.envRun(map[string]string{"PMGUARD_NOTIFY_RETRIES": "15", "PMGUARD_NOTIFY_RETRY_DELAY": "1ms"})
		if res.err != nil {
			t.Fatalf("retries: 15: %v", res.err)
		}
		mustContain(t, "output", res.out, "retries 15 is more than 10")
		if c := h.slack.Calls("chat.postMessage") - 3; c != 11 {
			t.Fatalf("retries: 15 made %d call(s), want 11 (capped at 10 retries)\n%s", c, res.out)
		}
		// retry_delay: 0 is the slack orb's "retry at once", not bad input.
		h = newHarness(t)
		h.slack.Inject(slacktest.Fault{Method: "chat.postMessage", Status: http.StatusServiceUnavailable, Times: 1})
		res = h.envRun(map[string]string{"PMGUARD_NOTIFY_RETRIES": "2", "PMGUARD_NOTIFY_RETRY_DELAY": "0"})
		if res.err != nil || len(h.slack.Messages("incidents")) != 1 {
			t.Fatalf("retry_delay: 0: %v, %d message(s)\n%s%s", res.err, len(h.slack.Messages("incidents")), res.out, res.errw)
		}
		if _, err := parseRetryDelay("-1"); err == nil {
			t.Fatal("a negative retry_delay was accepted")
		}
	})
	t.Run("access_token", func(t *testing.T) {
		h := newHarness(t)
		h.env["MY_SLACK_TOKEN"] = h.env["SLACK_ACCESS_TOKEN"]
		delete(h.env, "SLACK_ACCESS_TOKEN")
		res := h.envRun(map[string]string{"PMGUARD_NOTIFY_ACCESS_TOKEN": "MY_SLACK_TOKEN"})
		if len(h.slack.Messages("incidents")) != 1 {
			t.Fatalf("nothing posted with access_token: MY_SLACK_TOKEN:\n%s%s", res.out, res.errw)
		}
	})
	t.Run("api_domain", func(t *testing.T) {
		h := newHarness(t)
		var out bytes.Buffer
		env := map[string]string{"PMGUARD_NOTIFY_API_DOMAIN": "slack-gov.com", "SLACK_ACCESS_TOKEN": "xoxb-1", "PMGUARD_NOTIFY_CHANNEL": "incidents"}
		saved := h.env
		h.env = env
		o, err := New(context.Background(), h.deps(&out, &out), nil)
		h.env = saved
		if err != nil {
			t.Fatal(err)
		}
		if o.p.apiURL != "https://slack-gov.com/api/" {
			t.Fatalf("api_domain slack-gov.com: API URL %q", o.p.apiURL)
		}
	})
	t.Run("windows_execution", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("the note is for other executors")
		}
		h := newHarness(t)
		res := h.envRun(map[string]string{"PMGUARD_NOTIFY_WINDOWS_EXECUTION": "true"})
		mustContain(t, "output", res.out, "windows_execution is set but this executor runs "+runtime.GOOS)
		if len(h.slack.Messages("incidents")) != 1 {
			t.Fatal("nothing posted")
		}
	})
}

// The slack orb's dynamic templates: template names an environment variable
// holding the JSON (exported through $BASH_ENV), or custom is $VAR; its
// variables are expanded from the environment as far as the allow-list
// (CircleCI's job facts, template_vars) lets them, credentials never.
func TestTemplateFromEnvironment(t *testing.T) {
	h := newHarness(t)
	h.env["PMGUARD_NOTIFY_TEMPLATE_VARS"] = "DEPLOY_NOTE,BOT"
	h.env["UNLISTED"] = "postgres://app:pw-unlisted@db/app"
	h.env["DEPLOY_NOTE"] = `a "quoted" *note*`
	h.env["API_SECRET"] = "hunter2"
	h.env["BOT"] = h.env["SLACK_ACCESS_TOKEN"] // a secret under a harmless name
	h.env["MY_TEMPLATE"] = `{"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"Deploy of $CIRCLE_BRANCH: ${DEPLOY_NOTE} $API_SECRET$BOT$UNLISTED"}}]}`
	res := h.envRun(map[string]string{"PMGUARD_NOTIFY_TEMPLATE": "MY_TEMPLATE"})
	res2 := h.envRun(map[string]string{"PMGUARD_NOTIFY_CUSTOM": "$MY_TEMPLATE"})
	msgs := h.slack.Messages("incidents")
	if len(msgs) != 2 {
		t.Fatalf("%d message(s), want 2\n%s%s%s", len(msgs), res.out, res.errw, res2.errw)
	}
	for _, m := range msgs {
		text := blockText(m.Blocks)
		mustContain(t, "message", text, `Deploy of main: a "quoted" *note* `)
		if strings.Contains(text, "hunter2") || strings.Contains(text, h.slack.Token) || strings.Contains(text, "pw-unlisted") {
			t.Fatal("a credential was expanded")
		}
	}
	mustContain(t, "output", res.out, "$API_SECRET is left empty", "$BOT is left empty: its value holds a secret of this run",
		"$UNLISTED is left empty: it is neither a CircleCI job fact nor listed in template_vars")

	// A template in the token's variable is refused without showing it.
	res = h.envRun(map[string]string{"PMGUARD_NOTIFY_TEMPLATE": "SLACK_ACCESS_TOKEN"})
	if res.err == nil || strings.Contains(res.err.Error()+res.out, h.slack.Token) {
		t.Fatalf("template: SLACK_ACCESS_TOKEN: err = %v", res.err)
	}
}

func toJSONString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
