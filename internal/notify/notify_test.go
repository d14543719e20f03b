package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/jobenv"
	"github.com/pmguard/pmguard/internal/notify/slacktest"
)

func TestPostsDeployFailedWithFigures(t *testing.T) {
	h := newHarness(t)
	h.appendEvents(canaryFailure())
	s := h.settings()
	s.Template = DeployFailed
	s.Mentions = "<!subteam^S0123|oncall>"
	res := h.run(s)
	if res.err != nil {
		t.Fatalf("run: %v\n%s%s", res.err, res.out, res.errw)
	}
	msgs := h.slack.Messages("incidents")
	if len(msgs) != 1 {
		t.Fatalf("want 1 message in #incidents, got %d", len(msgs))
	}
	m := msgs[0]
	mustContain(t, "blocks", blockText(m.Blocks), "error rate 25% &gt; 2%", "p95 812 ms &gt; 500 ms", "Fix checkout timeout under load", "https://circleci.com/gh/acme/api/1234", "<!subteam^S0123|oncall>")
	mustContain(t, "fallback text", m.Text, "<!subteam^S0123|oncall>", "Deploy failed: acme/api main 1a2b3c4", "error rate 25% &gt; 2%")
	n := h.readEvents("notified")
	if len(n) != 1 || n[0].Figures.String("ts") != m.TS || n[0].Figures.String("template") != DeployFailed || !n[0].Figures.Bool("parent") {
		t.Fatalf("notified event = %+v, message ts %s", n, m.TS)
	}
	if n[0].PipelineID != jobEnvVars()["CIRCLE_PIPELINE_ID"] {
		t.Fatalf("notified event pipeline_id = %q", n[0].PipelineID)
	}
}

// The incident's later notices go into the first notice's thread and update
// its status line, even from another run that only shares the event log.
func TestThreadContinuityAcrossRuns(t *testing.T) {
	h := newHarness(t)
	h.appendEvents(canaryFailure())
	s := h.settings()
	s.Template = DeployFailed
	if res := h.run(s); res.err != nil {
		t.Fatal(res.err)
	}
	parent := h.slack.Messages("incidents")[0]

	h.clock.Sleep(t.Context(), 2*time.Minute)
	h.appendEvents(rollbackInitiated())
	s2 := h.settings()
	s2.Template = RollbackStarted
	res := h.run(s2)
	if res.err != nil {
		t.Fatal(res.err)
	}
	mustContain(t, "output", res.out, "replied with ROLLBACK_STARTED in the incident's thread", "updated the status line")

	h.clock.Sleep(t.Context(), 5*time.Minute)
	h.appendEvents(events.Event{Verb: "rollback", Event: "rollback_completed", Target: "v1.4.2"})
	s3 := h.settings()
	s3.Template = RollbackSucceeded
	if res := h.run(s3); res.err != nil {
		t.Fatal(res.err)
	}

	msgs := h.slack.Messages("incidents")
	if len(msgs) != 3 {
		t.Fatalf("want the parent and 2 replies, got %d messages", len(msgs))
	}
	for _, r := range msgs[1:] {
		if r.ThreadTS != parent.TS {
			t.Fatalf("reply %s is not in the thread of %s (thread_ts %q)", r.TS, parent.TS, r.ThreadTS)
		}
	}
	updated := msgs[0]
	if updated.Edits != 2 {
		t.Fatalf("parent updated %d times, want 2", updated.Edits)
	}
	blob := blockText(updated.Blocks)
	mustContain(t, "updated parent", blob, "rolled back, resolved", "https://app.circleci.com/pipelines/gh/acme/api/568", "rollback pipeline #568")
	if strings.Contains(blob, "No rollback has started yet") {
		t.Fatal("parent still says no rollback started")
	}
}

func TestSuccessIsNotAThreadParent(t *testing.T) {
	h := newHarness(t)
	s := h.settings()
	s.Template = DeploySucceeded
	if res := h.run(s); res.err != nil {
		t.Fatal(res.err)
	}
	if res := h.run(s); res.err != nil {
		t.Fatal(res.err)
	}
	for _, m := range h.slack.Messages("incidents") {
		if m.ThreadTS != "" {
			t.Fatal("a success notice was threaded under another success")
		}
	}
	for _, e := range h.readEvents("notified") {
		if e.Figures.Bool("parent") {
			t.Fatal("a success notice was recorded as an incident's parent")
		}
	}
}

func TestThreadOff(t *testing.T) {
	h := newHarness(t)
	s := h.settings()
	s.Template = DeployFailed
	s.Thread = false
	h.run(s)
	s.Template = RollbackStarted
	h.run(s)
	msgs := h.slack.Messages("incidents")
	if len(msgs) != 2 || msgs[1].ThreadTS != "" || msgs[0].Edits != 0 {
		t.Fatalf("thread: false still threaded: %+v", msgs)
	}
}

func TestSeveralChannels(t *testing.T) {
	h := newHarness(t)
	h.slack.AddChannel("deploys", true)
	s := h.settings()
	s.Channel = config.List{"incidents", "#deploys"}
	s.Template = CanaryFailed
	h.appendEvents(canaryFailure())
	if res := h.run(s); res.err != nil {
		t.Fatal(res.err)
	}
	s.Template = RollbackStarted
	if res := h.run(s); res.err != nil {
		t.Fatal(res.err)
	}
	for _, ch := range []string{"incidents", "deploys"} {
		msgs := h.slack.Messages(ch)
		if len(msgs) != 2 || msgs[1].ThreadTS != msgs[0].TS {
			t.Fatalf("#%s: want a parent and a reply in its thread, got %+v", ch, msgs)
		}
	}
}

// The orb passes its default channel as the text "$SLACK_DEFAULT_CHANNEL".
func TestChannelFromDefaultChannelVariable(t *testing.T) {
	h := newHarness(t)
	h.slack.AddChannel("deploys", true)
	h.env["SLACK_DEFAULT_CHANNEL"] = "deploys, #incidents"
	s := h.settings()
	s.Template = DeploySucceeded
	s.Channel = config.List{"$SLACK_DEFAULT_CHANNEL"}
	if res := h.run(s); res.err != nil {
		t.Fatal(res.err)
	}
	if len(h.slack.Messages("deploys")) != 1 || len(h.slack.Messages("incidents")) != 1 {
		t.Fatal("the default channel variable was not expanded")
	}
	delete(h.env, "SLACK_DEFAULT_CHANNEL")
	if res := h.run(s); exitcode.Of(res.err) != exitcode.BadInput {
		t.Fatalf("unset $SLACK_DEFAULT_CHANNEL: exit %d, want 2", exitcode.Of(res.err))
	}
}

func TestEventAndPatternGating(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(*Settings, map[string]string)
		sent    bool
		because string
	}{
		{"fail event, failed job", func(s *Settings, _ map[string]string) { s.Event = "fail"; s.JobStatus = "fail" }, true, ""},
		{"fail event, passed job", func(s *Settings, _ map[string]string) { s.Event = "fail"; s.JobStatus = "pass" }, false, "job passed"},
		{"pass event, failed job", func(s *Settings, _ map[string]string) { s.Event = "pass"; s.JobStatus = "failed" }, false, "job failed"},
		{"pass event, status from template", func(s *Settings, _ map[string]string) { s.Event = "pass"; s.Template = DeploySucceeded }, true, ""},
		{"fail event, custom, unknown status", func(s *Settings, _ map[string]string) {
			s.Event = "fail"
			s.Template = ""
			s.Custom = `{"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"x"}}]}`
		}, false, "unknown"},
		{"status recorded by the orb", func(s *Settings, env map[string]string) {
			s.Event = "fail"
			s.Template = ""
			s.Custom = `{"text":"x"}`
			env["PMGUARD_JOB_STATUS"] = "fail"
		}, true, ""},
		{"job_status overrides the recorded status", func(s *Settings, env map[string]string) {
			s.Event = "fail"
			s.JobStatus = "pass"
			env["PMGUARD_JOB_STATUS"] = "fail"
		}, false, "job passed"},
		{"branch pattern miss", func(s *Settings, _ map[string]string) { s.BranchPattern = "release/.+, prod" }, false, "branch_pattern"},
		{"branch pattern is whole-name", func(s *Settings, _ map[string]string) { s.BranchPattern = "mai" }, false, "branch_pattern"},
		{"branch pattern hit", func(s *Settings, _ map[string]string) { s.BranchPattern = "release/.+,main" }, true, ""},
		{"branch patterns separated by blanks", func(s *Settings, _ map[string]string) { s.BranchPattern = "release/.+ main" }, true, ""},
		{"tag pattern miss", func(s *Settings, env map[string]string) {
			env["CIRCLE_TAG"] = "v1.2.3-rc1"
			s.TagPattern = `v\d+\.\d+\.\d+`
		}, false, "tag_pattern"},
		{"branch pattern miss on a build with a branch and a tag", func(s *Settings, env map[string]string) {
			env["CIRCLE_TAG"] = "v1.2.3"
			s.BranchPattern = "prod"
		}, false, "branch_pattern"},
		{"tag build without a branch: branch pattern not checked", func(s *Settings, env map[string]string) {
			env["CIRCLE_TAG"] = "v1.2.3"
			delete(env, "CIRCLE_BRANCH")
			s.BranchPattern = "prod"
		}, true, ""},
		{"tag pattern hit", func(s *Settings, env map[string]string) {
			env["CIRCLE_TAG"] = "v1.2.3"
			s.TagPattern = `v\d+\.\d+\.\d+`
		}, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			s := h.settings()
			s.Template = DeployFailed
			c.edit(&s, h.env)
			res := h.run(s)
			if res.err != nil {
				t.Fatal(res.err)
			}
			got := len(h.slack.AllMessages()) > 0
			if got != c.sent {
				t.Fatalf("sent = %v, want %v\n%s", got, c.sent, res.out)
			}
			if !c.sent {
				mustContain(t, "output", res.out, "not sending", c.because)
			}
		})
	}
}

// Bad input is exit 2 and found before any call to Slack.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Settings)
		want string
	}{
		{"event", func(s *Settings) { s.Event = "sometimes" }, "event"},
		{"template", func(s *Settings) { s.Template = "DEPLOY_EXPLODED" }, "not a built-in template"},
		{"custom not JSON", func(s *Settings) { s.Custom = `{"blocks": [` }, "not valid JSON"},
		{"custom and template_file", func(s *Settings) { s.Custom = `{"text":"x"}`; s.TemplateFile = "x.json" }, "both set"},
		{"retry_delay", func(s *Settings) { s.RetryDelay = "soon" }, "not a delay"},
		{"api_domain", func(s *Settings) { s.APIDomain = "https://slack-gov.com/api" }, "not a host name"},
		{"template in a credential", func(s *Settings) { s.Template = "SLACK_ACCESS_TOKEN" }, "holds a credential"},
		{"template in an unset variable", func(s *Settings) { s.Template = "MY_TEMPLATE" }, "$MY_TEMPLATE is not set"},
		{"access_token and token_env apart", func(s *Settings) { s.AccessToken = "A_TOKEN"; s.TokenEnv = "B_TOKEN" }, "token_env names another variable"},
		{"custom without content", func(s *Settings) { s.Custom = `{"channel":"x"}` }, "no blocks"},
		{"block without type", func(s *Settings) { s.Custom = `{"blocks":[{"text":"x"}]}` }, "no \"type\""},
		{"blocks not a list", func(s *Settings) { s.Custom = `{"blocks":{"type":"divider"}}` }, "\"blocks\" must be an array"},
		{"block not an object", func(s *Settings) { s.Custom = `{"blocks":[{"type":"divider"},"x"]}` }, "block 2 is not an object"},
		{"attachments not a list", func(s *Settings) { s.Custom = `{"attachments":"x"}` }, "\"attachments\" must be an array"},
		{"attachment not an object", func(s *Settings) { s.Custom = `{"attachments":[1]}` }, "attachment 1 is not an object"},
		{"branch regex", func(s *Settings) { s.BranchPattern = "(" }, "not a regular expression"},
		{"reminder too far", func(s *Settings) { s.PostmortemReminder = "121d" }, "120 days"},
		{"reminder word", func(s *Settings) { s.PostmortemReminder = "soon" }, "not a delay"},
		{"job status", func(s *Settings) { s.JobStatus = "meh" }, "job status"},
		{"responder", func(s *Settings) { s.Responders = config.List{"bob"} }, "neither a Slack user ID nor an email"},
		{"no channel", func(s *Settings) { s.Channel = nil }, "SLACK_DEFAULT_CHANNEL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			s := h.settings()
			c.edit(&s)
			res := h.run(s)
			if exitcode.Of(res.err) != exitcode.BadInput {
				t.Fatalf("exit %d (%v), want 2", exitcode.Of(res.err), res.err)
			}
			mustContain(t, "error", res.err.Error(), c.want)
			if n := len(h.slack.Requests()); n != 0 {
				t.Fatalf("%d call(s) to Slack before rejecting bad input", n)
			}
		})
	}
}

// Every Slack error a user can fix is printed with its fix, recorded as
// notify_failed with its code, and exits 0; with fail_on_error it exits 3.
func TestSlackErrorsAreWarningsWithFixes(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(*harness, *Settings)
		code    string
		fix     string
		channel string
	}{
		{"not in channel", func(h *harness, s *Settings) {
			h.slack.AddChannel("private-ops", false)
			s.Channel = config.List{"private-ops"}
		}, "not_in_channel", "invite the Slack app to #private-ops", "private-ops"},
		{"channel not found", func(h *harness, s *Settings) { s.Channel = config.List{"no-such-channel"} }, "channel_not_found", "check the channel name", "no-such-channel"},
		{"invalid auth", func(h *harness, s *Settings) { h.env["SLACK_ACCESS_TOKEN"] = "xoxb-wrong-token-1234" }, "invalid_auth", "$SLACK_ACCESS_TOKEN does not hold a valid token", "incidents"},
		{"missing scope", func(h *harness, s *Settings) {
			h.slack.Inject(slacktest.Fault{Method: "chat.postMessage", Code: "missing_scope", Needed: "chat:write.public"})
		}, "missing_scope", "add the scope chat:write.public", "incidents"},
		{"archived", func(h *harness, s *Settings) { h.slack.Archive("incidents") }, "is_archived", "#incidents is archived", "incidents"},
	}
	for _, c := range cases {
		for _, failOnError := range []bool{false, true} {
			name := c.name
			if failOnError {
				name += ", fail_on_error"
			}
			t.Run(name, func(t *testing.T) {
				h := newHarness(t)
				s := h.settings()
				s.Template = DeployFailed
				s.FailOnError = failOnError
				c.setup(h, &s)
				res := h.run(s)
				if failOnError {
					if exitcode.Of(res.err) != exitcode.CouldNotRun {
						t.Fatalf("exit %d (%v), want 3", exitcode.Of(res.err), res.err)
					}
					mustContain(t, "error", res.err.Error(), c.code, c.fix)
				} else {
					if res.err != nil {
						t.Fatalf("a Slack failure failed the step: %v", res.err)
					}
					mustContain(t, "stderr", res.errw, "warning", c.code, c.fix, "deploy guard is not affected")
				}
				f := h.readEvents("notify_failed")
				if len(f) != 1 || f[0].Figures.String("error") != c.code || f[0].Figures.String("channel") != c.channel {
					t.Fatalf("notify_failed events = %+v", f)
				}
				if strings.Contains(h.eventsText(), h.slack.Token) || strings.Contains(h.eventsText(), "xoxb-wrong-token-1234") {
					t.Fatal("a token reached the event log")
				}
			})
		}
	}
}

// A 429 is waited out as Slack asks (Retry-After), then the notice goes.
// httpx does the waiting, on the real clock: Retry-After is a second here.
func TestRateLimitWaitsRetryAfter(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.slack.Inject(slacktest.Fault{Method: "chat.postMessage", Times: 2, Status: http.StatusTooManyRequests, RetryAfter: 1})
	s := h.settings()
	s.Template = DeployFailed
	start := time.Now()
	res := h.run(s)
	if res.err != nil || len(h.slack.Messages("incidents")) != 1 {
		t.Fatalf("err %v, %d message(s)\n%s%s", res.err, len(h.slack.Messages("incidents")), res.out, res.errw)
	}
	if waited := time.Since(start); waited < 2*time.Second {
		t.Fatalf("sent after %s: the two Retry-After: 1 were not waited", waited)
	}
	if c := h.slack.Calls("chat.postMessage"); c != 3 {
		t.Fatalf("%d calls, want 3", c)
	}
	mustContain(t, "output", res.out, "rate limited", "pausing its requests for 1s", "retry 2 of 3")
}

// Retries are bounded: a Slack that never stops answering 429 costs a few
// calls and a warning, and a Retry-After past the timeout is not waited.
func TestRateLimitIsBounded(t *testing.T) {
	t.Parallel()
	t.Run("retries run out", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.slack.Inject(slacktest.Fault{Method: "chat.postMessage", Times: 100, Status: http.StatusTooManyRequests, RetryAfter: 1})
		s := h.settings()
		s.Template = DeployFailed
		res := h.run(s)
		if res.err != nil {
			t.Fatal(res.err)
		}
		if c := h.slack.Calls("chat.postMessage"); c != 4 {
			t.Fatalf("%d calls, want 4 (1 + 3 retries)", c)
		}
		mustContain(t, "stderr", res.errw, "rate_limited", "rate limited on each of 4 attempts")
	})
	t.Run("retry-after beyond the timeout", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.slack.Inject(slacktest.Fault{Method: "chat.postMessage", Times: 100, Status: http.StatusTooManyRequests, RetryAfter: 120})
		s := h.settings()
		s.Template = DeployFailed
		s.Timeout.Duration = 20 * time.Second
		start := time.Now()
		res := h.run(s)
		if res.err != nil {
			t.Fatal(res.err)
		}
		if c := h.slack.Calls("chat.postMessage"); c != 1 {
			t.Fatalf("%d calls: a Retry-After past the timeout was waited", c)
		}
		if took := time.Since(start); took > 20*time.Second {
			t.Fatalf("took %s with a 20s timeout", took)
		}
		mustContain(t, "stderr", res.errw, "rate_limited", "Slack asked to wait 2m0s", "would pass notify's timeout", "not retried")
		if strings.Contains(res.out+res.errw, "waiting 2m0s") {
			t.Fatalf("the output claims a wait that did not happen:\n%s%s", res.out, res.errw)
		}
	})
}

// Slack's "ok": false answers that say nothing was done are retried, and
// so are internal and fatal errors of calls that are safe to repeat; after
// those, part of a new message may exist, so it is not sent twice.
func TestSlackRetryPolicy(t *testing.T) {
	cases := []struct {
		method, code string
		retry        bool
	}{
		{"chat.postMessage", "service_unavailable", true},
		{"chat.postMessage", "request_timeout", true},
		{"chat.postMessage", "ratelimited", true},
		{"chat.postMessage", "internal_error", false},
		{"chat.postMessage", "fatal_error", false},
		{"conversations.create", "internal_error", false},
		{"chat.update", "internal_error", true},
		{"users.lookupByEmail", "fatal_error", true},
		{"chat.postMessage", "channel_not_found", false},
	}
	for _, c := range cases {
		body := `{"ok":false,"error":"` + c.code + `"}`
		req, _ := http.NewRequest(http.MethodPost, "https://slack.com/api/"+c.method, nil)
		resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: req}
		retry, err := slackRetry(t.Context(), resp, nil)
		if err != nil || retry != c.retry {
			t.Errorf("%s %s: retry %v (%v), want %v", c.method, c.code, retry, err, c.retry)
		}
		if b, _ := io.ReadAll(resp.Body); string(b) != body {
			t.Errorf("%s %s: the body slack-go reads is %q", c.method, c.code, b)
		}
	}
}

// The same policy against the stand-in, for the codes Slack's spec lists.
func TestSlackErrorCodesRetried(t *testing.T) {
	t.Parallel()
	cases := []struct {
		method, code string
		calls        int
	}{
		{"chat.scheduleMessage", "request_timeout", 2},
		{"chat.scheduleMessage", "fatal_error", 1},
		{"chat.update", "fatal_error", 2},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.code, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.slack.Inject(slacktest.Fault{Method: c.method, Code: c.code})
			s := h.settings()
			s.Template = DeployFailed
			s.PostmortemReminder = "3d"
			res := h.run(s)
			if c.method == "chat.update" { // a later notice updates the first
				s.Template = RollbackStarted
				res = h.run(s)
			}
			if got := h.slack.Calls(c.method); got != c.calls {
				t.Fatalf("%d call(s) of %s, want %d\n%s%s", got, c.method, c.calls, res.out, res.errw)
			}
		})
	}
}

func TestServerErrorsAreRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.slack.Inject(slacktest.Fault{Method: "chat.postMessage", Status: http.StatusServiceUnavailable})
	h.slack.Inject(slacktest.Fault{Method: "chat.postMessage", Status: http.StatusInternalServerError})
	s := h.settings()
	s.Template = DeployFailed
	res := h.run(s)
	if res.err != nil || len(h.slack.Messages("incidents")) != 1 {
		t.Fatalf("err %v\n%s%s", res.err, res.out, res.errw)
	}
	if c := h.slack.Calls("chat.postMessage"); c != 3 {
		t.Fatalf("%d calls, want 3 (two server errors, then the post)", c)
	}
	mustContain(t, "output", res.out, "retry 1 of 3", "retry 2 of 3")
}

func TestIncidentChannel(t *testing.T) {
	h := newHarness(t)
	bob := h.slack.AddUser("bob@acme.example")
	carol := h.slack.AddUser("carol@acme.example")
	// A channel of the same name exists: the next name is taken.
	h.slack.AddChannel("inc-20261123-api-567", false)
	h.appendEvents(canaryFailure())
	s := h.settings()
	s.Template = DeployFailed
	s.IncidentChannel = true
	s.Responders = config.List{"bob@acme.example", carol, "nobody@acme.example"}
	res := h.run(s)
	if res.err != nil {
		t.Fatal(res.err)
	}
	ch, ok := h.slack.Channel("inc-20261123-api-567-2")
	if !ok {
		t.Fatalf("no incident channel created:\n%s%s", res.out, res.errw)
	}
	mustContain(t, "output", res.out, "#inc-20261123-api-567 is taken", "created incident channel #inc-20261123-api-567-2", "invited 2 responder(s)")
	mustContain(t, "stderr", res.errw, "no Slack user has the email nobody@acme.example")
	mustContain(t, "topic", ch.Topic, "Deploy incident: acme/api main 1a2b3c4", "https://circleci.com/gh/acme/api/1234")
	if !contains(ch.Members, bob) || !contains(ch.Members, carol) {
		t.Fatalf("members %v, want bob %s and carol %s", ch.Members, bob, carol)
	}
	if len(h.slack.Messages(ch.ID)) != 1 {
		t.Fatal("no summary in the incident channel")
	}
	main := h.slack.Messages("incidents")
	if len(main) != 1 {
		t.Fatalf("%d messages in the main channel", len(main))
	}
	mustContain(t, "main channel notice", blockText(main[0].Blocks), "Incident channel: <#"+ch.ID+">")

	// A later notice of the same incident goes to the same incident channel.
	s.Template = RollbackStarted
	if res := h.run(s); res.err != nil {
		t.Fatal(res.err)
	}
	if h.slack.Calls("conversations.create") != 2 {
		t.Fatalf("conversations.create called %d times, want 2 (taken + created) and no more", h.slack.Calls("conversations.create"))
	}
	if len(h.slack.Messages(ch.ID)) != 2 {
		t.Fatal("the follow-up did not reach the incident channel")
	}
}

func TestIncidentChannelName(t *testing.T) {
	cases := []struct{ repo, pipe, want string }{
		{"api", "1234", "inc-20261123-api-1234"},
		{"Payments.Service", "88", "inc-20261123-payments-service-88"},
		{"", "1a2b3c4", "inc-20261123-deploy-1a2b3c4"},
		{strings.Repeat("very-long-repository-name-", 5), "123456", ""},
	}
	for _, c := range cases {
		got := incidentChannelName(t0, c.repo, c.pipe)
		if c.want != "" && got != c.want {
			t.Errorf("name(%q, %q) = %q, want %q", c.repo, c.pipe, got, c.want)
		}
		if len(got)+3 > maxChannelName || got != strings.ToLower(got) || strings.ContainsAny(got, " .#") {
			t.Errorf("name(%q, %q) = %q (%d chars) breaks Slack's rules", c.repo, c.pipe, got, len(got))
		}
	}
}

func TestPostmortemReminder(t *testing.T) {
	t.Run("in the thread, 3 days on", func(t *testing.T) {
		h := newHarness(t)
		s := h.settings()
		s.Template = DeployFailed
		s.PostmortemReminder = "true"
		s.PostmortemURL.URL, _ = config.ParseURL("https://circleci.com/api/v1.1/project/gh/acme/api/1234/artifacts/0/postmortem.md")
		if res := h.run(s); res.err != nil {
			t.Fatal(res.err)
		}
		sch := h.slack.Scheduled()
		if len(sch) != 1 {
			t.Fatalf("%d scheduled", len(sch))
		}
		parent := h.slack.Messages("incidents")[0]
		if sch[0].ThreadTS != parent.TS || sch[0].PostAt != t0.Add(72*time.Hour).Unix() {
			t.Fatalf("scheduled %+v; want thread %s at %d", sch[0], parent.TS, t0.Add(72*time.Hour).Unix())
		}
		mustContain(t, "reminder", blockText(sch[0].Blocks), "Post-mortem due", "postmortem.md", "2026-11-23 14:03 UTC")
		// Once per incident.
		s.Template = RollbackStarted
		h.run(s)
		if len(h.slack.Scheduled()) != 1 {
			t.Fatal("a second reminder was scheduled for the same incident")
		}
	})
	t.Run("time_in_past is retried later", func(t *testing.T) {
		h := newHarness(t)
		h.slack.Inject(slacktest.Fault{Method: "chat.scheduleMessage", Code: "time_in_past"})
		s := h.settings()
		s.Template = DeployFailed
		s.PostmortemReminder = "36h"
		res := h.run(s)
		sch := h.slack.Scheduled()
		if res.err != nil || len(sch) != 1 || sch[0].PostAt <= t0.Add(36*time.Hour).Unix() {
			t.Fatalf("err %v scheduled %+v\n%s", res.err, sch, res.errw)
		}
	})
	t.Run("restricted_too_many moves it along", func(t *testing.T) {
		h := newHarness(t)
		h.slack.MaxScheduledPerWindow = 1
		s := h.settings()
		s.Template = DeployFailed
		s.PostmortemReminder = "3d"
		h.run(s)
		// Another incident (another pipeline) the same minute.
		h.env["CIRCLE_PIPELINE_ID"] = "another-pipeline"
		res := h.run(s)
		sch := h.slack.Scheduled()
		if res.err != nil || len(sch) != 2 || sch[1].PostAt-sch[0].PostAt < 300 {
			t.Fatalf("err %v scheduled %+v\n%s%s", res.err, sch, res.out, res.errw)
		}
	})
	t.Run("a Slack refusal is a warning", func(t *testing.T) {
		h := newHarness(t)
		h.slack.Inject(slacktest.Fault{Method: "chat.scheduleMessage", Code: "restricted_too_many", Times: 10})
		s := h.settings()
		s.Template = DeployFailed
		s.PostmortemReminder = "3d"
		res := h.run(s)
		if res.err != nil || len(h.slack.Messages("incidents")) != 1 {
			t.Fatal("the reminder's failure cost the notice")
		}
		mustContain(t, "stderr", res.errw, "restricted_too_many")
	})
	t.Run("in the incident channel", func(t *testing.T) {
		h := newHarness(t)
		s := h.settings()
		s.Template = DeployFailed
		s.IncidentChannel = true
		s.PostmortemReminder = "1d12h"
		if res := h.run(s); res.err != nil {
			t.Fatal(res.err)
		}
		ch, _ := h.slack.Channel("inc-20261123-api-567")
		sch := h.slack.Scheduled()
		if len(sch) != 1 || sch[0].Channel != ch.ID || sch[0].ThreadTS != "" || sch[0].PostAt != t0.Add(36*time.Hour).Unix() {
			t.Fatalf("scheduled %+v, want in %s at +36h", sch, ch.ID)
		}
	})
}

func TestParseReminder(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"", 0, false}, {"false", 0, false}, {"true", 72 * time.Hour, false}, {"3d", 72 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false}, {"90m", 90 * time.Minute, false}, {"120d", 120 * 24 * time.Hour, false},
		{"121d", 0, true}, {"30s", 0, true}, {"-1d", 0, true}, {"3 days", 0, true},
	}
	for _, c := range cases {
		got, err := parseReminder(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("parseReminder(%q) = %s, %v", c.in, got, err)
		}
	}
}

func TestWebhookMode(t *testing.T) {
	h := newHarness(t)
	delete(h.env, "SLACK_ACCESS_TOKEN")
	h.env["SLACK_WEBHOOK_URL"] = h.slack.WebhookURL()
	h.appendEvents(healthFailure()...)
	s := h.settings()
	s.Template = HealthCheckFailed
	s.IncidentChannel = true
	res := h.run(s)
	if res.err != nil {
		t.Fatal(res.err)
	}
	msgs := h.slack.Messages("webhook")
	if len(msgs) != 1 {
		t.Fatalf("%d webhook message(s)", len(msgs))
	}
	mustContain(t, "webhook message", blockText(msgs[0].Blocks), "https://api.acme.example/health", "status 503, expected 200")
	mustContain(t, "output", res.out, "webhook mode", "ignored")
	if h.slack.Calls("conversations.create") != 0 {
		t.Fatal("webhook mode created a channel")
	}
	// A second notice is a new message: webhooks cannot thread.
	s.Template = RollbackStarted
	h.run(s)
	if m := h.slack.Messages("webhook"); len(m) != 2 || m[1].ThreadTS != "" {
		t.Fatal("webhook mode threaded")
	}
	out := res.out + res.errw + h.eventsText()
	if strings.Contains(out, "webhooksecret") {
		t.Fatal("the webhook URL leaked")
	}

	t.Run("revoked", func(t *testing.T) {
		h.slack.Inject(slacktest.Fault{Method: "webhook", Status: http.StatusNotFound, Code: "no_service"})
		res := h.run(s)
		if res.err != nil {
			t.Fatal(res.err)
		}
		mustContain(t, "stderr", res.errw, "no_service", "create a new one")
		if strings.Contains(res.out+res.errw+h.eventsText(), "webhooksecret") {
			t.Fatal("the webhook URL leaked")
		}
	})
}

// Slack is down (every call hangs) while a rollback is running: notify gives
// up within its timeout, exits 0, and the rollback's own events are intact.
func TestSlackOutageDuringRollback(t *testing.T) {
	h := newHarness(t)
	h.slack.Inject(slacktest.Fault{Hang: true, Times: 1000})
	h.appendEvents(canaryFailure(), rollbackInitiated())

	rollbackDone := make(chan error, 1)
	go func() {
		// The rollback keeps writing its progress to the same event log.
		log, err := events.Open(h.events, jobenvFrom(h.env))
		if err != nil {
			rollbackDone <- err
			return
		}
		for i := 0; i < 50; i++ {
			if err := log.Append(context.Background(), events.Event{Verb: "rollback", Event: "rollback_progress", Figures: map[string]any{"step": i}}); err != nil {
				rollbackDone <- err
				return
			}
		}
		rollbackDone <- log.Append(context.Background(), events.Event{Verb: "rollback", Event: "rollback_completed"})
	}()

	s := h.settings()
	s.Template = RollbackStarted
	s.Timeout.Duration = 300 * time.Millisecond // real time: hanging calls end at the deadline
	res := h.run(s)
	if res.err != nil {
		t.Fatalf("notify failed the step during an outage: %v", res.err)
	}
	if err := <-rollbackDone; err != nil {
		t.Fatalf("the rollback was disturbed: %v", err)
	}
	mustContain(t, "stderr", res.errw, "warning", "deploy guard is not affected")
	if got := len(h.readEvents("rollback_progress")); got != 50 {
		t.Fatalf("%d rollback events, want 50", got)
	}
	if len(h.readEvents("rollback_completed")) != 1 || len(h.readEvents("notify_failed")) != 1 {
		t.Fatal("missing rollback_completed or notify_failed")
	}
	// Bounded: no wait beyond the timeout was even attempted.
	if total, _ := h.clock.Slept(); total > 300*time.Millisecond {
		t.Fatalf("planned %s of waits with a 300ms timeout", total)
	}
}

func TestSecretsNeverInOutputOrEvents(t *testing.T) {
	h := newHarness(t)
	h.env["SLACK_ACCESS_TOKEN"] = h.slack.Token
	h.env["SLACK_WEBHOOK_URL"] = h.slack.WebhookURL()
	// A custom template trying to print the secrets.
	s := h.settings()
	s.Custom = `{"text":"$SLACK_ACCESS_TOKEN ${SLACK_WEBHOOK_URL}","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"token=$SLACK_ACCESS_TOKEN"}}]}`
	s.JobStatus = "fail"
	res := h.run(s)
	// And a failure whose message could carry them.
	h.env["SLACK_ACCESS_TOKEN"] = "xoxb-not-the-right-one-4242"
	res2 := h.run(s)
	all := res.out + res.errw + res2.out + res2.errw + h.eventsText()
	for _, m := range h.slack.AllMessages() {
		b, _ := json.Marshal(m)
		all += string(b)
	}
	for _, secret := range []string{h.slack.Token, "xoxb-not-the-right-one-4242", "webhooksecret"} {
		if strings.Contains(all, secret) {
			t.Fatalf("secret %q found in output, events or messages", secret)
		}
	}
	if !strings.Contains(res2.errw, "invalid_auth") {
		t.Fatalf("want the auth failure reported: %s", res2.errw)
	}
}

func TestPreviewWithoutCredentials(t *testing.T) {
	h := newHarness(t)
	delete(h.env, "SLACK_ACCESS_TOKEN")
	h.appendEvents(canaryFailure())
	s := h.settings()
	s.Template = CanaryFailed
	res := h.run(s)
	if res.err != nil {
		t.Fatal(res.err)
	}
	mustContain(t, "preview", res.out, "showing the message instead of sending it", "Canary failed: acme/api", "error rate 25% > 2%", "[View job] https://circleci.com/gh/acme/api/1234", `"type": "header"`)
	if len(h.slack.Requests()) != 0 {
		t.Fatal("preview called Slack")
	}
	s.FailOnError = true
	if res := h.run(s); exitcode.Of(res.err) != exitcode.BadInput {
		t.Fatalf("no credentials with fail_on_error: exit %d", exitcode.Of(res.err))
	}
	// Through New, as the orb runs it, named as every bad setting is:
	// orb parameter, flag, env var, accepted form.
	res = h.envRun(map[string]string{"PMGUARD_NOTIFY_FAIL_ON_ERROR": "true"})
	var ie *config.InputError
	if !errors.As(res.err, &ie) || ie.Param != "token_env" || exitcode.Of(res.err) != exitcode.BadInput {
		t.Fatalf("no credentials with fail_on_error: %T %v", res.err, res.err)
	}
	mustContain(t, "fail_on_error error", res.err.Error(), `invalid token_env "SLACK_ACCESS_TOKEN" (flag --token-env, env PMGUARD_NOTIFY_TOKEN_ENV)`,
		"fail_on_error is set", "$SLACK_WEBHOOK_URL (webhook_env)", "; accepted: the name of an env var holding a Slack bot token")
	// The CircleCI slack orb's spelling: ignore_errors: false, access_token.
	res = h.envRun(map[string]string{"PMGUARD_NOTIFY_IGNORE_ERRORS": "false", "PMGUARD_NOTIFY_ACCESS_TOKEN": "MY_SLACK_TOKEN"})
	mustContain(t, "ignore_errors error", fmt.Sprint(res.err), `invalid access_token "MY_SLACK_TOKEN" (flag --access-token, env PMGUARD_NOTIFY_ACCESS_TOKEN)`,
		"ignore_errors is false, but $MY_SLACK_TOKEN holds no Slack token")
	if len(h.slack.Requests()) != 0 {
		t.Fatal("bad input called Slack")
	}
}

func TestCustomTemplateThroughSlack(t *testing.T) {
	h := newHarness(t)
	h.env["DEPLOY_NOTE"] = "he said \"ship it\"\nthen *bold* `code` \\ $(rm -rf /) ${HOME} <!channel> & done"
	s := h.settings()
	s.JobStatus = "fail"
	s.TemplateVars = config.List{"DEPLOY_NOTE"}
	s.Mentions = "<@U0ONCALL1>"
	s.Custom = `{
	  "text": "Deploy note: $DEPLOY_NOTE",
	  "blocks": [
	    {"type": "header", "text": {"type": "plain_text", "text": "Note for ${CIRCLE_PROJECT_REPONAME}: $DEPLOY_NOTE"}},
	    {"type": "section", "text": {"type": "mrkdwn", "text": "$SLACK_PARAM_MENTIONS $DEPLOY_NOTE"}},
	    {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Job"}, "url": "${CIRCLE_BUILD_URL}?a=1&b=2"}]}
	  ]
	}`
	res := h.run(s)
	if res.err != nil {
		t.Fatal(res.err)
	}
	msgs := h.slack.Messages("incidents")
	if len(msgs) != 1 {
		t.Fatalf("custom message not posted:\n%s%s", res.out, res.errw)
	}
	m := msgs[0]
	sec := textOf(m.Blocks[1]["text"])
	want := "<@U0ONCALL1> he said \"ship it\"\nthen *bold* `code` \\ $(rm -rf /) ${HOME} &lt;!channel&gt; &amp; done"
	if sec != want {
		t.Fatalf("section text\n got %q\nwant %q", sec, want)
	}
	if hdr := textOf(m.Blocks[0]["text"]); !strings.HasPrefix(hdr, "Note for api: he said") || len([]rune(hdr)) > maxHeaderText {
		t.Fatalf("header %q", hdr)
	}
	el := m.Blocks[2]["elements"].([]any)[0].(map[string]any)
	if el["url"] != "https://circleci.com/gh/acme/api/1234?a=1&b=2" {
		t.Fatalf("button url %q", el["url"])
	}
}

func jobenvFrom(m map[string]string) jobenv.Job { return jobenv.FromEnv(config.MapEnv(m)) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A custom template expands CircleCI's job facts and the job's own
// variables, never a credential: not one named by a *_env setting, not one
// whose name says it is one, not even when template_vars lists it.
func TestTemplateNeverExpandsCredentials(t *testing.T) {
	const tmpl = `{"text":"t=$CIRCLE_TOKEN d=${DD_API_KEY} s=$SLACK_ACCESS_TOKEN b=$CIRCLE_BRANCH n=$DEPLOY_NOTE","blocks":[
	  {"type":"section","text":{"type":"mrkdwn","text":"${CIRCLE_TOKEN} ${DD_API_KEY} ${SLACK_ACCESS_TOKEN} ${MY_SIGNING_SECRET} on ${CIRCLE_BRANCH}: $DEPLOY_NOTE"}}]}`
	secrets := map[string]string{"CIRCLE_TOKEN": "cci-secret-0123456789", "DD_API_KEY": "dd-secret-0123456789", "MY_SIGNING_SECRET": "sig-secret-0123456789"}
	for _, mode := range []string{"posted", "preview"} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t)
			for k, v := range secrets {
				h.env[k] = v
			}
			h.env["DEPLOY_NOTE"] = "cache warmed"
			if mode == "preview" {
				h.env["SLACK_ACCESS_TOKEN"] = ""
			}
			s := h.settings()
			s.Custom = tmpl
			s.JobStatus = "fail"
			s.TemplateVars = config.List{"DEPLOY_NOTE", "DD_API_KEY", "SLACK_ACCESS_TOKEN"}
			res := h.run(s)
			if res.err != nil {
				t.Fatal(res.err)
			}
			all := res.out + res.errw + h.eventsText()
			for _, m := range h.slack.AllMessages() {
				b, _ := json.Marshal(m)
				all += string(b)
			}
			for _, secret := range append([]string{h.slack.Token}, secrets["CIRCLE_TOKEN"], secrets["DD_API_KEY"], secrets["MY_SIGNING_SECRET"]) {
				if strings.Contains(all, secret) {
					t.Fatalf("%s: secret %q expanded:\n%s", mode, secret, all)
				}
			}
			shown := res.out
			if mode == "posted" {
				msgs := h.slack.Messages("incidents")
				if len(msgs) != 1 {
					t.Fatalf("%d messages", len(msgs))
				}
				shown = msgs[0].Text + "\n" + blockText(msgs[0].Blocks)
			}
			mustContain(t, mode, shown, "b=main", "on main: cache warmed")
			mustContain(t, "output", res.out, "$CIRCLE_TOKEN is left empty", "$DD_API_KEY is left empty: its name looks like a credential", "$SLACK_ACCESS_TOKEN is left empty")
		})
	}
}

// A branch name that is not UTF-8 is made valid everywhere, the fallback
// text included.
func TestInvalidUTF8IsSanitised(t *testing.T) {
	h := newHarness(t)
	h.env["CIRCLE_BRANCH"] = "feat/\xff\xfe-x"
	s := h.settings()
	s.Template = DeployFailed
	if res := h.run(s); res.err != nil {
		t.Fatal(res.err)
	}
	m := h.slack.Messages("incidents")[0]
	if !utf8.ValidString(m.Text) || !utf8.ValidString(blockText(m.Blocks)) || !strings.Contains(m.Text, "feat/\uFFFD") {
		t.Fatalf("text %q, blocks %q", m.Text, blockText(m.Blocks))
	}
}

// A webhook URL that is not http(s) is bad input naming its setting, found
// before any call; its value, the secret, is not printed.
func TestWebhookURLMustBeHTTP(t *testing.T) {
	h := newHarness(t)
	delete(h.env, "SLACK_ACCESS_TOKEN")
	h.env["SLACK_WEBHOOK_URL"] = "ftp://hooks.example/services/T0/B0/ftpsecret"
	res := h.run(h.settings())
	if exitcode.Of(res.err) != exitcode.BadInput {
		t.Fatalf("exit %d (%v), want 2", exitcode.Of(res.err), res.err)
	}
	mustContain(t, "error", res.err.Error(), "SLACK_WEBHOOK_URL", "scheme must be http or https")
	if strings.Contains(res.err.Error()+res.out+res.errw, "ftpsecret") {
		t.Fatal("the webhook URL was printed")
	}
}

// Another verb's notice: its own text, or a built-in template in the
// incident's thread found among the events it passes, recorded in its log.
func TestPoster(t *testing.T) {
	h := newHarness(t)
	s := h.settings()
	s.Template = DeployFailed
	if res := h.run(s); res.err != nil {
		t.Fatal(res.err)
	}
	parent := h.slack.Messages("incidents")[0]
	evs := h.readEvents(events.Notified)
	h.env["PMGUARD_NOTIFY_CHANNEL"] = "elsewhere" // the job's notify settings are not the poster's
	h.env["PMGUARD_NOTIFY_MENTIONS"] = "<!here>"

	var out, errw bytes.Buffer
	logFile := filepath.Join(t.TempDir(), "other.jsonl")
	d := h.deps(&out, &errw)
	log, err := d.Events(logFile)
	if err != nil {
		t.Fatal(err)
	}
	p := NewPoster(d, log)
	if err := p.Post(t.Context(), Notice{Channel: "incidents", Text: "*Deploys:* 12 a week & rising"}); err != nil {
		t.Fatal(err)
	}
	if err := p.Post(t.Context(), Notice{Channel: "incidents", Template: PostmortemReminder, Thread: true,
		IncidentKey: jobEnvVars()["CIRCLE_PIPELINE_ID"], PostmortemURL: "https://circleci.com/gh/acme/api/77", Events: evs}); err != nil {
		t.Fatal(err)
	}
	msgs := h.slack.Messages("incidents")
	if len(msgs) != 3 {
		t.Fatalf("%d messages\n%s%s", len(msgs), out.String(), errw.String())
	}
	if msgs[1].Text != "*Deploys:* 12 a week &amp; rising" || msgs[1].ThreadTS != "" || strings.Contains(msgs[1].Text, "<!here>") {
		t.Fatalf("summary %+v", msgs[1])
	}
	if msgs[2].ThreadTS != parent.TS || !strings.Contains(blockText(msgs[2].Blocks), "https://circleci.com/gh/acme/api/77") {
		t.Fatalf("reminder %+v", msgs[2])
	}
	got, _, _ := events.ReadFiles(logFile)
	if n := events.Filter(got, events.Notified); len(n) != 2 {
		t.Fatalf("notified events in the poster's log: %+v", got)
	}
}

// TestWrongShapedAnswersAreUnexpected: an HTTP 200 that is not Slack's
// answer (not JSON, JSON of another shape, too large, no code, an "error"
// that is a page) is an unexpected_response pointing at the API URL, never
// "unreachable" nor success.
func TestWrongShapedAnswersAreUnexpected(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"another shape", `{"ok":true,"channel":"C1","ts":"1.2","message":"a string"}`, "not the shape of Slack's answer (field message"},
		{"html", `<html><body>Sign in</body></html>`, "HTTP 200 but not JSON"},
		{"too large", `{"ok":true,"pad":"` + strings.Repeat("p", 6<<20) + `"}`, "larger than 1 MiB"},
		{"empty object", `{}`, "field ts missing"},
		{"not ok, no code", `{"ok":false}`, "field ts missing"},
		{"a page as the error", `{"ok":false,"error":"<html>` + strings.Repeat("e", 4000) + `</html>"}`, "is not a Slack error code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			h := newHarness(t)
			h.env["PMGUARD_SLACK_API_URL"] = srv.URL + "/api/"
			s := h.settings()
			s.Template = DeployFailed
			res := h.run(s)
			if res.err != nil {
				t.Fatal(res.err)
			}
			mustContain(t, "stderr", res.errw, "unexpected_response", tc.want, "the answer is not Slack's")
			if strings.Contains(res.errw, "unreachable") || strings.Contains(res.out, "posted") {
				t.Errorf("reported as unreachable or posted:\n%s%s", res.out, res.errw)
			}
			if len(res.errw) > 4000 {
				t.Errorf("%d bytes on stderr", len(res.errw))
			}
			evs, _, _ := events.ReadFiles(h.events)
			failed := events.Filter(evs, events.NotifyFailed)
			if len(failed) != 1 || failed[0].Figures.String("error") != "unexpected_response" {
				t.Errorf("notify_failed events %+v", failed)
			}
		})
	}
}

// TestAnswerIsBoundedWhateverItsType: slack-go decodes any HTTP 200 as
// JSON, whatever its Content-Type. An answer that is not labelled JSON and
// never ends (a string that goes on) is read no further than for a JSON
// one: the bound is on bytes read, not on the type the server claims.
func TestAnswerIsBoundedWhateverItsType(t *testing.T) {
	const stop = 64 << 20 // the server gives up here; a bounded read stops long before
	for _, ctype := range []string{"text/plain", "text/html; charset=utf-8", ""} {
		name := ctype
		if name == "" {
			name = "no Content-Type"
		}
		t.Run(name, func(t *testing.T) {
			var sent atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = []string{ctype}
				io.WriteString(w, `{"ok":true,"channel":"C1","ts":"`)
				chunk := []byte(strings.Repeat("1", 32<<10))
				for sent.Load() < stop {
					n, err := w.Write(chunk)
					sent.Add(int64(n))
					if err != nil {
						return
					}
				}
			}))
			t.Cleanup(srv.Close)
			h := newHarness(t)
			h.env["PMGUARD_SLACK_API_URL"] = srv.URL + "/api/"
			s := h.settings()
			s.Template = DeployFailed
			res := h.run(s)
			if res.err != nil {
				t.Fatal(res.err)
			}
			mustContain(t, "stderr", res.errw, "unexpected_response", "larger than 1 MiB")
			if n := sent.Load(); n >= stop/2 {
				t.Errorf("the server sent %d MiB before notify stopped reading", n>>20)
			}
		})
	}
}

// TestRetryAfterInAnyForm: a final 429 is rate_limited whatever form its
// Retry-After takes (an HTTP date, a fraction, a negative number, a word),
// never "unreachable" with slack-go's parse error.
func TestRetryAfterInAnyForm(t *testing.T) {
	for name, ra := range map[string]string{
		"a word": "soon", "negative": "-5", "a fraction": "0.5",
		"a date past": time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat),
	} {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Retry-After", ra)
				w.WriteHeader(http.StatusTooManyRequests)
			}))
			t.Cleanup(srv.Close)
			h := newHarness(t)
			h.env["PMGUARD_SLACK_API_URL"] = srv.URL + "/api/"
			s := h.settings()
			s.Template = DeployFailed
			s.Retries, s.RetryDelay = 1, "0"
			res := h.run(s)
			if res.err != nil {
				t.Fatal(res.err)
			}
			mustContain(t, "stderr", res.errw, "rate_limited")
			if strings.Contains(res.errw, "unreachable") || strings.Contains(res.errw, "strconv") || strings.Contains(res.errw, "parsing") {
				t.Errorf("a 429 reported as a failure to reach Slack:\n%s", res.errw)
			}
			if calls.Load() == 0 {
				t.Error("Slack was never asked")
			}
		})
	}
}

// TestAnswerErrorsOfEveryMethodAreClassified: some slack-go methods
// (pins.list among them) turn Slack's "ok": false into a plain error of the
// answer's "error". That is Slack's code (channel_not_found, with its fix),
// or, when the answer has no code ({}, null) or a page for one,
// unexpected_response; never "unreachable", and a page is not quoted.
func TestAnswerErrorsOfEveryMethodAreClassified(t *testing.T) {
	page := "<html>" + strings.Repeat("sign in ", 500) + "</html>"
	for _, tc := range []struct{ name, pins, want string }{
		{"a code", `{"ok":false,"error":"channel_not_found"}`, "pins.list to C0123456789 failed: channel_not_found"},
		{"no code", `{}`, `unexpected_response (HTTP 200 without Slack's "ok" or an error code)`},
		{"null", `null`, `unexpected_response (HTTP 200 without Slack's "ok" or an error code)`},
		{"a page as the error", `{"ok":false,"error":` + strconv.Quote(page) + `}`, "unexpected_response"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				if strings.HasSuffix(r.URL.Path, "/pins.list") {
					io.WriteString(w, tc.pins)
					return
				}
				io.WriteString(w, `{"ok":true,"has_more":false,"messages":[{"type":"message","ts":"1763648705.000100","text":"deploy failed"}]}`)
			}))
			t.Cleanup(srv.Close)
			h := newHarness(t)
			h.env["PMGUARD_SLACK_API_URL"] = srv.URL + "/api/"
			var out, errw bytes.Buffer
			_, err := NewPoster(h.deps(&out, &errw), nil).ReadThread(t.Context(), "SLACK_ACCESS_TOKEN", "C0123456789", "1763648705.000100")
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "unreachable") {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "sign in") {
				t.Errorf("the page is quoted: %v", err)
			}
		})
	}
}

// TestEventsFromOtherWritersAreRedacted: an event log pmguard did not
// redact (another tool's, an older release's) quotes a failing URL with
// its password and key, and a token. The notice shows the failure, never
// those values.
func TestEventsFromOtherWritersAreRedacted(t *testing.T) {
	h := newHarness(t)
	const url = "https://admin:hunter2pass@api.example.com/health?api_key=SEKRETKEY1"
	h.appendEvents(events.Event{Verb: "health", Event: events.HealthFailed, Target: url,
		Message: "1 of 1 endpoint(s) failed: " + url + " with " + h.env["SLACK_ACCESS_TOKEN"],
		Figures: events.Figures{"failing_endpoints": []any{url}}})
	s := h.settings()
	s.Template = DeployFailed
	if res := h.run(s); res.err != nil {
		t.Fatal(res.err)
	}
	msgs := h.slack.Messages("incidents")
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	b, _ := json.Marshal(msgs)
	if !strings.Contains(string(b), "api.example.com/health") {
		t.Fatalf("the notice does not show the failure:\n%s", b)
	}
	for _, secret := range []string{"hunter2pass", "SEKRETKEY1", h.env["SLACK_ACCESS_TOKEN"]} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the notice shows %q:\n%s", secret, b)
		}
	}
}
