package orb_test

import (
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/notify/slacktest"
	"github.com/pmguard/pmguard/orb/orbtest"
)

// slackOrbCase is one behaviour of the CircleCI slack orb's notify command
// (its notify script and integration tests), replayed through pmguard's orb:
// the job's environment and earlier steps, one slack/notify step as a slack
// orb config writes it, and what the slack orb would have done.
type slackOrbCase struct {
	name   string
	env    map[string]string // beyond the defaults; "" removes a default
	export string            // a step before the notice: lines for $BASH_ENV
	fail   bool              // the job's own work fails
	notify map[string]any
	more   []map[string]any // later notify steps of the job
	fault  *slacktest.Fault
	// stepFails: the notice step itself fails (exit != 0).
	stepFails bool
	check     func(t *testing.T, s *slacktest.Server, out string)
}

// TestSlackOrbNotifyBehaviours checks, case by case, that a slack/notify
// step does what the slack orb's notify does with the same parameters and
// environment, or differs only as docs/from-slack-orb.md says.
func TestSlackOrbNotifyBehaviours(t *testing.T) {
	block := `{"type":"section","text":{"type":"mrkdwn","text":"%s"}}`
	customOf := func(text string) string { return `{"blocks":[` + strings.Replace(block, "%s", text, 1) + `]}` }
	none := func(channel string) func(t *testing.T, s *slacktest.Server, out string) {
		return func(t *testing.T, s *slacktest.Server, out string) {
			t.Helper()
			if n := len(s.AllMessages()); n != 0 {
				t.Fatalf("%d message(s) posted, want none: %v\n%s", n, posted(s, channel), out)
			}
		}
	}
	posts := func(channel string, contains ...string) func(t *testing.T, s *slacktest.Server, out string) {
		return func(t *testing.T, s *slacktest.Server, _ string) {
			t.Helper()
			wantPosts(channel, 1, contains...)(t, s)
		}
	}
	cases := []slackOrbCase{
		// Channels: the list is split as the script's shell splits it, on
		// commas and blanks; $VAR in it is expanded when the step runs.
		{name: "channel list with blanks", notify: map[string]any{"custom": customOf("two"), "channel": "ABCXYZ ZXCVBN"},
			check: func(t *testing.T, s *slacktest.Server, _ string) {
				wantPosts("ABCXYZ", 1, "two")(t, s)
				wantPosts("ZXCVBN", 1, "two")(t, s)
			}},
		{name: "channel list with commas and blanks", notify: map[string]any{"custom": customOf("two"), "channel": "ABCXYZ, ZXCVBN"},
			check: func(t *testing.T, s *slacktest.Server, _ string) {
				wantPosts("ABCXYZ", 1, "two")(t, s)
				wantPosts("ZXCVBN", 1, "two")(t, s)
			}},
		{name: "channel from a variable of an earlier step", export: "export DEPLOY_CHANNEL=ZXCVBN",
			notify: map[string]any{"custom": customOf("here"), "channel": "$DEPLOY_CHANNEL"}, check: posts("ZXCVBN", "here")},
		{name: "default channel", notify: map[string]any{"custom": customOf("default")}, check: posts("incidents", "default")},

		// Filters: each pattern of the list must match the whole ref; the
		// branch pattern is checked when there is a branch, the tag pattern
		// when there is a tag.
		{name: "branch_pattern list with blanks", notify: map[string]any{"custom": customOf("x"), "branch_pattern": "production main"}, check: posts("incidents", "x")},
		{name: "branch_pattern matches the whole name", env: map[string]string{"CIRCLE_BRANCH": "feature-x"},
			notify: map[string]any{"custom": customOf("x"), "branch_pattern": "feat"}, check: none("incidents")},
		{name: "branch_pattern regex", env: map[string]string{"CIRCLE_BRANCH": "release/12"},
			notify: map[string]any{"custom": customOf("x"), "branch_pattern": "main,release/[0-9]+"}, check: posts("incidents", "x")},
		{name: "branch_pattern on a tag build without a branch", env: map[string]string{"CIRCLE_BRANCH": "", "CIRCLE_TAG": "v1.2.0"},
			notify: map[string]any{"custom": customOf("x"), "branch_pattern": "main"}, check: posts("incidents", "x")},
		{name: "tag_pattern on a branch build", notify: map[string]any{"custom": customOf("x"), "tag_pattern": `v[0-9.]+`}, check: posts("incidents", "x")},
		{name: "tag_pattern not matching the tag", env: map[string]string{"CIRCLE_BRANCH": "", "CIRCLE_TAG": "v1.2.0"},
			notify: map[string]any{"custom": customOf("x"), "tag_pattern": "release-.*"}, check: none("incidents")},
		{name: "branch and tag both set, branch not matching", env: map[string]string{"CIRCLE_TAG": "v1.2.0"},
			notify: map[string]any{"custom": customOf("x"), "branch_pattern": "production"}, check: none("incidents")},
		// The slack orb's patterns default to .+; pmguard's to empty, which
		// filters nothing even inverted (docs/from-slack-orb.md). Written
		// out, .+ does what it does there.
		{name: "invert_match on a tag build, tag_pattern left empty", env: map[string]string{"CIRCLE_BRANCH": "", "CIRCLE_TAG": "v1.2.0"},
			notify: map[string]any{"custom": customOf("x"), "branch_pattern": "main", "invert_match": true}, check: posts("incidents", "x")},
		{name: "invert_match on a tag build, tag_pattern .+", env: map[string]string{"CIRCLE_BRANCH": "", "CIRCLE_TAG": "v1.2.0"},
			notify: map[string]any{"custom": customOf("x"), "branch_pattern": "main", "tag_pattern": ".+", "invert_match": true}, check: none("incidents")},
		{name: "alternation matches the whole name", env: map[string]string{"CIRCLE_BRANCH": "main-x"},
			notify: map[string]any{"custom": customOf("x"), "branch_pattern": "main|develop"}, check: none("incidents")},
		{name: "invert_match and a matching branch", env: map[string]string{"CIRCLE_BRANCH": "pr-123"},
			notify: map[string]any{"custom": customOf("x"), "branch_pattern": "pr-[0-9]+", "invert_match": true}, check: none("incidents")},
		{name: "invert_match and another branch", env: map[string]string{"CIRCLE_BRANCH": "foo"},
			notify: map[string]any{"custom": customOf("x"), "branch_pattern": "pr-[0-9]+", "invert_match": true}, check: posts("incidents", "x")},

		// event against the job's status.
		{name: "event pass and a failed job", fail: true, notify: map[string]any{"event": "pass", "template": "basic_success_1"}, check: none("incidents")},
		{name: "event fail and a failed job", fail: true, notify: map[string]any{"event": "fail", "template": "basic_fail_1"}, check: posts("incidents", "Job Failed. :red_circle:")},
		// The template is what it says, whatever the job's status.
		{name: "basic_fail_1 on a passed job with event always", notify: map[string]any{"event": "always", "template": "basic_fail_1"},
			check: posts("incidents", "Job Failed. :red_circle:")},
		{name: "event always and a passed job", notify: map[string]any{"event": "always", "template": "basic_success_1"}, check: posts("incidents", "Job Succeeded. :white_check_mark:")},

		// Custom templates.
		{name: "custom without text", notify: map[string]any{"custom": customOf("no text")},
			check: func(t *testing.T, s *slacktest.Server, _ string) {
				// Sent with its blocks; the fallback text comes from them.
				if m := s.Messages("incidents"); len(m) != 1 || len(m[0].Blocks) != 1 || m[0].Text != "no text" {
					t.Fatalf("want the blocks with a fallback text made from them, got %+v", m)
				}
			}},
		{name: "custom with its own text", notify: map[string]any{"custom": `{"text":"User-added text","blocks":[` + strings.Replace(block, "%s", "b", 1) + `]}`},
			check: func(t *testing.T, s *slacktest.Server, _ string) {
				if m := s.Messages("incidents"); len(m) != 1 || m[0].Text != "User-added text" {
					t.Fatalf("want the template's own text, got %+v", m)
				}
			}},
		{name: "channel inside the custom JSON", notify: map[string]any{"custom": `{"channel":"ZXCVBN","blocks":[` + strings.Replace(block, "%s", "where", 1) + `]}`, "channel": "ABCXYZ"},
			check: func(t *testing.T, s *slacktest.Server, out string) {
				wantPosts("ABCXYZ", 1, "where")(t, s)
				wantPosts("ZXCVBN", 0)(t, s)
				if !strings.Contains(out, "ignored key(s) channel") {
					t.Errorf("the step does not say the template's channel is not used:\n%s", out)
				}
			}},
		{name: "custom that is not JSON", notify: map[string]any{"custom": `{"blocks": [`}, stepFails: true, check: none("incidents")},
		{name: "custom wins over template", notify: map[string]any{"custom": customOf("mine"), "template": "basic_fail_1"},
			check: func(t *testing.T, s *slacktest.Server, _ string) {
				wantPosts("incidents", 1, "mine")(t, s)
				if strings.Contains(posted(s, "incidents")[0], "Job Failed") {
					t.Error("the built-in template was sent instead of custom")
				}
			}},
		{name: "template naming a variable of an earlier step", export: `export MY_TEMPLATE='` + customOf(`Deployed ${CIRCLE_BRANCH} at $CIRCLE_SHA1`) + `'`,
			notify: map[string]any{"template": "MY_TEMPLATE"}, check: posts("incidents", "Deployed main at 1a2b3c4d5e6f708192a3b4c5d6e7f80912a3b4c5")},
		{name: "custom naming a variable of an earlier step", export: `export MY_TEMPLATE='` + customOf(`from a variable on ${CIRCLE_BRANCH}`) + `'`,
			notify: map[string]any{"custom": "$MY_TEMPLATE"}, check: posts("incidents", "from a variable on main")},
		{name: "template that is a file path", notify: map[string]any{"template": "/tmp/template.json"}, stepFails: true, check: none("incidents")},
		{name: "values with quotes, backslashes and newlines", export: `export DEPLOY_NOTE='said "hi" \ then'$'\n''bye'`,
			notify: map[string]any{"custom": customOf(`note: $DEPLOY_NOTE`), "template_vars": "DEPLOY_NOTE"},
			check:  posts("incidents", `note: said \"hi\" \\ then\nbye`)},
		{name: "a variable of the job's own, listed", export: `export COMMIT_AUTHOR='Ada Lovelace'`,
			notify: map[string]any{"custom": customOf(`by $COMMIT_AUTHOR`), "template_vars": "COMMIT_AUTHOR"}, check: posts("incidents", "by Ada Lovelace")},
		{name: "a dollar that is no variable", notify: map[string]any{"custom": customOf(`costs $5, $(date) and $`)}, check: posts("incidents", "costs $5, $(date) and $")},
		{name: "unset variable", notify: map[string]any{"custom": customOf(`pr [${CIRCLE_PULL_REQUEST}]`)}, check: posts("incidents", "pr []")},
		{name: "mentions in a custom template", notify: map[string]any{"custom": customOf(`hey $SLACK_PARAM_MENTIONS`), "mentions": "<@U0123ABCD>"},
			check: posts("incidents", "hey <@U0123ABCD>")},
		{name: "circleci_host in a custom template", notify: map[string]any{"custom": customOf(`<${SLACK_PARAM_CIRCLECI_HOST}/x|link>`), "circleci_host": "https://ci.example.com"},
			check: posts("incidents", "<https://ci.example.com/x|link>")},

		// Errors, retries, debug, unfurl, the token's variable.
		{name: "ignore_errors false and a refused notice", notify: map[string]any{"custom": customOf("x"), "channel": "nope", "ignore_errors": false},
			stepFails: true, check: none("nope")},
		{name: "ignore_errors default and a refused notice", notify: map[string]any{"custom": customOf("x"), "channel": "nope"},
			check: func(t *testing.T, s *slacktest.Server, out string) {
				if !strings.Contains(out, "channel_not_found") {
					t.Errorf("the step does not say what Slack answered:\n%s", out)
				}
			}},
		// With ignore_errors left true, a channel Slack refuses does not
		// keep the notice from the others.
		{name: "a refused channel among others", notify: map[string]any{"custom": customOf("rest"), "channel": "nope,ABCXYZ"},
			check: posts("ABCXYZ", "rest")},
		// retry_delay 0 is the slack orb's "retry at once".
		{name: "retries after a transient failure, at once", fault: &slacktest.Fault{Method: "chat.postMessage", Times: 1, Status: 503},
			notify: map[string]any{"custom": customOf("again"), "retries": 1, "retry_delay": 0},
			check: func(t *testing.T, s *slacktest.Server, _ string) {
				wantPosts("incidents", 1, "again")(t, s)
				if n := s.Calls("chat.postMessage"); n != 2 {
					t.Errorf("%d chat.postMessage calls, want 2 (one retry)", n)
				}
			}},
		// The slack orb takes any number of retries; pmguard's are bounded
		// by timeout anyway, so a larger number is capped, not refused.
		{name: "retries beyond pmguard's bound", notify: map[string]any{"custom": customOf("many"), "retries": 20},
			check: func(t *testing.T, s *slacktest.Server, out string) {
				wantPosts("incidents", 1, "many")(t, s)
				if !strings.Contains(out, "retries 20 is more than 10") {
					t.Errorf("the step does not say retries was capped:\n%s", out)
				}
			}},
		// The slack orb fails the step once every attempt failed, even with
		// ignore_errors left true; pmguard warns and passes
		// (docs/from-slack-orb.md).
		{name: "retries 0 and Slack unavailable", fault: &slacktest.Fault{Method: "chat.postMessage", Times: 5, Status: 503},
			notify: map[string]any{"custom": customOf("once"), "retries": 0},
			check: func(t *testing.T, s *slacktest.Server, out string) {
				wantPosts("incidents", 0)(t, s)
				if n := s.Calls("chat.postMessage"); n != 1 {
					t.Errorf("%d chat.postMessage calls, want 1 (retries: 0)", n)
				}
				if !strings.Contains(out, "not (fully) delivered") {
					t.Errorf("the step does not say the notice was lost:\n%s", out)
				}
			}},
		{name: "no channel at all", env: map[string]string{"SLACK_DEFAULT_CHANNEL": ""}, notify: map[string]any{"custom": customOf("x")},
			stepFails: true, check: none("incidents")},
		// pmguard checks a custom template on every run, also when event
		// means nothing is posted (the slack orb exits before reading it).
		{name: "invalid custom on a run that posts nothing", notify: map[string]any{"custom": `{"blocks": [`, "event": "fail"},
			stepFails: true, check: none("incidents")},
		{name: "scheduled_offset_seconds", notify: map[string]any{"custom": customOf("later"), "scheduled_offset_seconds": 300},
			check: func(t *testing.T, s *slacktest.Server, _ string) {
				wantPosts("incidents", 0)(t, s)
				sched := s.Scheduled()
				if len(sched) != 1 || !strings.Contains(toJSON(sched[0].Blocks), "later") {
					t.Fatalf("want one scheduled message, got %+v", sched)
				}
				// The offset is counted from when the step runs.
				if d := sched[0].PostAt - sched[0].DateCreated; d < 290 || d > 310 {
					t.Errorf("post_at is %ds after scheduling, want about 300", d)
				}
			}},
		{name: "thread_id in two channels", notify: map[string]any{"custom": customOf("started"), "channel": "ABCXYZ,ZXCVBN", "thread_id": "deploy"},
			more: []map[string]any{{"custom": customOf("finished"), "channel": "ABCXYZ,ZXCVBN", "thread_id": "deploy"}},
			check: func(t *testing.T, s *slacktest.Server, _ string) {
				for _, ch := range []string{"ABCXYZ", "ZXCVBN"} {
					m := s.Messages(ch)
					if len(m) != 2 || m[0].ThreadTS != "" || m[1].ThreadTS != m[0].TS {
						t.Errorf("%s: want a parent and a reply in its thread, got %v", ch, posted(s, ch))
					}
				}
			}},
		// Values are escaped for Slack's markup outside URLs: a "<" of a
		// value is shown, not read as a link or mention (docs/from-slack-orb.md).
		{name: "values in text and in URLs", export: `export DEPLOY_NOTE='a <b> & c'`,
			notify: map[string]any{"template_vars": "DEPLOY_NOTE", "custom": `{"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"n: $DEPLOY_NOTE"}},` +
				`{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"Job"},"url":"${CIRCLE_BUILD_URL}?a=1&b=2"}]}]}`},
			check: posts("incidents", "n: a &lt;b&gt; &amp; c", `"url":"https://circleci.com/gh/acme/api/1234?a=1&b=2"`)},
		{name: "debug", notify: map[string]any{"custom": customOf("dbg"), "debug": true},
			check: func(t *testing.T, s *slacktest.Server, out string) {
				wantPosts("incidents", 1, "dbg")(t, s)
				if !strings.Contains(out, `"blocks"`) || !strings.Contains(out, "Slack answered chat.postMessage: ok") {
					t.Errorf("debug does not show the message and Slack's answer:\n%s", out)
				}
			}},
		{name: "unfurl settings", notify: map[string]any{"custom": customOf("u"), "unfurl_links": true, "unfurl_media": false},
			check: func(t *testing.T, s *slacktest.Server, _ string) {
				for _, r := range s.Requests() {
					if r.Method == "chat.postMessage" && (r.Params.Get("unfurl_links") != "true" || r.Params.Get("unfurl_media") != "false") {
						t.Errorf("chat.postMessage with unfurl_links=%q unfurl_media=%q", r.Params.Get("unfurl_links"), r.Params.Get("unfurl_media"))
					}
				}
				wantPosts("incidents", 1, "u")(t, s)
			}},
		{name: "access_token naming another variable", env: map[string]string{"SLACK_ACCESS_TOKEN": "", "MY_SLACK_TOKEN": "@token"},
			notify: map[string]any{"custom": customOf("tok"), "access_token": "MY_SLACK_TOKEN"}, check: posts("incidents", "tok")},
	}

	h := newHarness(t)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if i > 0 {
				h.job = orbtest.NewJob(t, h.job.Orb)
				h.job.Env["PMGUARD_INSTALL_RETRY_WAIT"] = "0"
			}
			h.deadline(t)
			ownTmp(h)
			slack := slackStandIn(t, h)
			for _, ch := range []string{"ABCXYZ", "ZXCVBN"} {
				slack.AddChannel(ch, true)
			}
			for k, v := range map[string]string{
				"SLACK_DEFAULT_CHANNEL": "incidents", "CIRCLE_PROJECT_USERNAME": "acme", "CIRCLE_PROJECT_REPONAME": "api",
				"CIRCLE_BRANCH": "main", "CIRCLE_SHA1": "1a2b3c4d5e6f708192a3b4c5d6e7f80912a3b4c5", "CIRCLE_JOB": "deploy",
				"CIRCLE_BUILD_NUM": "1234", "CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/api/1234", "CIRCLE_USERNAME": "alice",
			} {
				h.job.Env[k] = v
			}
			for k, v := range c.env {
				switch {
				case v == "":
					delete(h.job.Env, k)
				case v == "@token":
					h.job.Env[k] = slack.Token
				default:
					h.job.Env[k] = v
				}
			}
			if err := h.install(nil); err != nil {
				t.Fatal(err)
			}
			if c.fault != nil {
				slack.Inject(*c.fault)
			}
			work := "true"
			if c.fail {
				work = "echo 'the job failed' >&2; exit 1"
			}
			if c.export != "" {
				work = "cat >> \"$BASH_ENV\" <<'EOF'\n" + c.export + "\nEOF\n" + work
			}
			steps := []any{map[string]any{"run": map[string]any{"name": "the job's own work", "command": work}},
				map[string]any{"pmguard/notify": c.notify}}
			for _, n := range c.more {
				steps = append(steps, map[string]any{"pmguard/notify": n})
			}
			h.job.RunSteps(h.ctx, steps...)
			last := h.job.LastRun()
			if last == nil || !strings.HasPrefix(last.Name, "Slack notice") {
				t.Fatalf("the notice step did not run: %+v", h.job.Steps)
			}
			if (last.Exit != 0) != c.stepFails {
				t.Fatalf("notice step exit %d, want failure=%v:\n%s", last.Exit, c.stepFails, last.Output)
			}
			if strings.Contains(last.Output, slack.Token) {
				t.Error("the notice step printed the Slack token")
			}
			c.check(t, slack, last.Output)
		})
	}
}
