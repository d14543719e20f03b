package notify

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/notify/slacktest"
)

// Slack may post a message and still answer with a 5xx or lose the
// connection: the notice is found by its post id and not posted again, in
// the channel as in the incident's thread.
func TestPostedThenFailedIsNotPostedTwice(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault slacktest.Fault
	}{
		{"500", slacktest.Fault{Method: "chat.postMessage", Status: http.StatusInternalServerError, After: true}},
		{"503", slacktest.Fault{Method: "chat.postMessage", Status: http.StatusServiceUnavailable, After: true}},
		{"dropped", slacktest.Fault{Method: "chat.postMessage", Drop: true, After: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.appendEvents(canaryFailure())
			s := h.settings()
			s.Template = DeployFailed
			h.slack.Inject(tc.fault)
			res := h.run(s)
			if n := len(h.slack.Messages("incidents")); res.err != nil || n != 1 {
				t.Fatalf("parent: %d message(s), err %v\n%s%s", n, res.err, res.out, res.errw)
			}
			mustContain(t, "output", res.out, "the server had carried out the request", "posted DEPLOY_FAILED to #incidents")
			if res.errw != "" {
				t.Fatalf("a warning for a notice that was posted:\n%s", res.errw)
			}
			// The next notice replies in the thread the first one started.
			h.slack.Inject(tc.fault)
			s.Template = RollbackStarted
			res = h.run(s)
			msgs := h.slack.Messages("incidents")
			if len(msgs) != 2 || msgs[1].ThreadTS != msgs[0].TS {
				t.Fatalf("reply: %d message(s) %+v\n%s%s", len(msgs), msgs, res.out, res.errw)
			}
			mustContain(t, "output", res.out, "replied with ROLLBACK_STARTED in the incident's thread")
			if n := len(h.readEvents("notified")); n != 2 {
				t.Fatalf("%d notified event(s), want 2", n)
			}
		})
	}
}

// A failure before Slack posted anything is still retried, once the
// channel is read and the notice is not there.
func TestFailedBeforePostingIsRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.slack.Inject(slacktest.Fault{Method: "chat.postMessage", Status: http.StatusBadGateway})
	s := h.settings()
	s.Template = DeployFailed
	res := h.run(s)
	if n := len(h.slack.Messages("incidents")); res.err != nil || n != 1 {
		t.Fatalf("%d message(s), err %v\n%s%s", n, res.err, res.out, res.errw)
	}
	if c, r := h.slack.Calls("chat.postMessage"), h.slack.Calls("conversations.history"); c != 2 || r == 0 {
		t.Fatalf("%d post(s), %d history read(s): want 2 posts, the second after reading the channel", c, r)
	}
}

// When the channel cannot be read, a post that may have gone through is not
// repeated: the warning says to look.
func TestUncheckablePostIsNotRepeated(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.slack.Inject(slacktest.Fault{Method: "chat.postMessage", Status: http.StatusInternalServerError, After: true})
	// The thread's lookup reads the history first, then the check.
	h.slack.Inject(slacktest.Fault{Method: "conversations.history", Code: "missing_scope", Needed: "channels:history", Times: 2})
	s := h.settings()
	s.Template = DeployFailed
	res := h.run(s)
	if n := len(h.slack.Messages("incidents")); n != 1 || h.slack.Calls("chat.postMessage") != 1 {
		t.Fatalf("%d message(s), %d post(s), want 1 and 1\n%s%s", n, h.slack.Calls("chat.postMessage"), res.out, res.errw)
	}
	mustContain(t, "warning", res.errw, "unconfirmed", "HTTP 500", "missing_scope", "look in #incidents")
}

// A scheduled notice Slack scheduled before failing is not scheduled twice.
func TestScheduledThenFailedIsNotScheduledTwice(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.slack.Inject(slacktest.Fault{Method: "chat.scheduleMessage", Status: http.StatusInternalServerError, After: true})
	s := h.settings()
	s.Template = DeployFailed
	s.ScheduledOffset = 600
	res := h.run(s)
	if n := len(h.slack.Scheduled()); res.err != nil || n != 1 || res.errw != "" {
		t.Fatalf("%d scheduled, err %v\n%s%s", n, res.err, res.out, res.errw)
	}
	if ev := h.readEvents("notified"); len(ev) != 1 || ev[0].Figures["scheduled_message_id"] != h.slack.Scheduled()[0].ID {
		t.Fatalf("notified events %+v, want the one scheduled message's id", ev)
	}
}

// A secret the run knows never reaches Slack, not even in part where a
// section is cut at Slack's 3000 characters: the text is redacted whole
// before it is cut.
func TestSecretAtTheCutIsRedactedFirst(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	token := h.slack.Token
	for _, at := range []int{2990, 3000 - len(token)/2} {
		text := strings.Repeat("a", at) + token + strings.Repeat("b", 100)
		s := h.settings()
		s.Custom = `{"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"` + text + `"}}]}`
		res := h.run(s)
		msgs := h.slack.Messages("incidents")
		if res.err != nil || len(msgs) == 0 {
			t.Fatalf("nothing posted: %v\n%s%s", res.err, res.out, res.errw)
		}
		got := blockText(msgs[len(msgs)-1].Blocks)
		if strings.Contains(got, token[:10]) || strings.Contains(got, token[len(token)-10:]) {
			t.Fatalf("cut at %d: part of the token reached Slack: …%s", at, got[max(0, len(got)-120):])
		}
	}
}

// An incident channel Slack created before failing is the incident's
// channel: no second one is made under the next name.
func TestCreatedThenFailedChannelIsNotCreatedTwice(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.appendEvents(canaryFailure())
	h.slack.Inject(slacktest.Fault{Method: "conversations.create", Status: http.StatusInternalServerError, After: true})
	s := h.settings()
	s.Template = DeployFailed
	s.IncidentChannel = true
	res := h.run(s)
	if _, ok := h.slack.Channel("inc-20261123-api-567"); !ok || res.err != nil {
		t.Fatalf("no incident channel: %v\n%s%s", res.err, res.out, res.errw)
	}
	if _, twice := h.slack.Channel("inc-20261123-api-567-2"); twice || h.slack.Calls("conversations.create") != 1 {
		t.Fatalf("%d create call(s), a second channel: %v\n%s%s", h.slack.Calls("conversations.create"), twice, res.out, res.errw)
	}
	if n := len(h.slack.Messages("inc-20261123-api-567")); n != 1 {
		t.Fatalf("%d notice(s) in the incident channel, want 1\n%s%s", n, res.out, res.errw)
	}
}

// Slack unreachable: the warning, the output and the event name the API URL
// without its user name (slack-go's http.Client would print it).
func TestUnreachableSlackHidesTheURLsCredentials(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	s := h.settings()
	s.Template = DeployFailed
	s.Retries = 1
	u, _ := config.ParseURL("http://tokuser-abcdef123@127.0.0.1:1/api/")
	s.APIURL.URL = u
	res := h.run(s)
	mustContain(t, "warning", res.errw, "unreachable", "127.0.0.1:1/api/chat.postMessage")
	for what, text := range map[string]string{"output": res.out, "warning": res.errw, "event log": h.eventsText()} {
		if strings.Contains(text, "tokuser-abcdef123") {
			t.Errorf("the %s shows the URL's user name:\n%s", what, text)
		}
	}
}
