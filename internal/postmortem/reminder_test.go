package postmortem

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/notify/slacktest"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
)

// reminderRun runs the postmortem verb outside CI (no CIRCLE_* variables)
// against the Slack stand-in, as the orb's environment would.
func reminderRun(t *testing.T, s *slacktest.Server, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errw bytes.Buffer
	d := verbtest.Deps(env, &out, &errw)
	d.Now = func() time.Time { return at("16:00:00") }
	o, err := New(context.Background(), d, args)
	if err != nil {
		return out.String() + errw.String(), err
	}
	err = Run(context.Background(), o)
	return out.String() + errw.String(), err
}

// The meeting reminder is scheduled by postmortem itself, three days after
// the first bad signal (the 14:12 alert, not the 14:25 Slack notice), in
// the incident's thread, once across reruns, with no placeholders.
func TestMeetingReminder(t *testing.T) {
	s := slacktest.Start(t)
	s.Now = func() time.Time { return at("16:00:00") }
	chID := s.AddChannel("incidents", true)
	// The incident's first notice, as the rollback job's notify posted it.
	parentTS := "1763648705.000100"
	dir := t.TempDir()
	fixture, err := os.ReadFile("testdata/reference/events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	parent := `{"time":"2026-11-20T14:25:05Z","verb":"notify","event":"notified","pipeline_id":"` + failedID + `","job":"rollback","figures":{"channel":"` + chID +
		`","channel_name":"incidents","ts":"` + parentTS + `","parent":true,"template":"ROLLBACK_STARTED"}}` + "\n"
	evFile := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(evFile, append(fixture, parent...), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SLACK_ACCESS_TOKEN": s.Token, "PMGUARD_SLACK_API_URL": s.APIURL(),
		"PMGUARD_POSTMORTEM_SLACK_CHANNEL": "incidents", "PMGUARD_POSTMORTEM_EVENT_LOGS": evFile,
		"PMGUARD_POSTMORTEM_INCIDENT_FILE": "testdata/reference/incident.yml", "PMGUARD_POSTMORTEM_OUTPUT_DIR": filepath.Join(dir, "out"),
		"PMGUARD_EVENTS_FILE": filepath.Join(dir, "pm.jsonl"), "PMGUARD_POSTMORTEM_LINK": "https://app.circleci.com/jobs/7020",
		// The fixture's first notice is in a channel this stand-in lacks: no thread import.
		"PMGUARD_POSTMORTEM_SLACK_THREAD": "none"}
	// Other messages already scheduled: the stand-in lists two a page, so
	// finding the reminder again walks the pages.
	c := slack.New(s.Token, slack.OptionAPIURL(s.APIURL()))
	for i := 1; i <= 3; i++ {
		if _, _, err := c.ScheduleMessage(chID, strconv.FormatInt(at("16:00:00").Add(time.Duration(i)*time.Hour).Unix(), 10), slack.MsgOptionText("standup", false)); err != nil {
			t.Fatal(err)
		}
	}
	for run := 1; run <= 2; run++ {
		out, err := reminderRun(t, s, env)
		if err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out)
		}
		if strings.Contains(out, s.Token) {
			t.Errorf("run %d printed the Slack token", run)
		}
		if run == 2 && !strings.Contains(out, "already scheduled") {
			t.Errorf("rerun did not find the reminder:\n%s", out)
		}
	}
	var sch []slacktest.Scheduled
	for _, m := range s.Scheduled() {
		if m.Text != "standup" {
			sch = append(sch, m)
		}
	}
	if len(sch) != 1 {
		t.Fatalf("%d reminders scheduled, want 1 across two runs: %+v", len(sch), sch)
	}
	r := sch[0]
	if want := at("14:12:00").Add(72 * time.Hour).Unix(); r.PostAt != want || r.Channel != chID || r.ThreadTS != parentTS {
		t.Errorf("reminder at %d in %s thread %q; want %d in %s thread %s", r.PostAt, r.Channel, r.ThreadTS, want, chID, parentTS)
	}
	posts := s.Messages("incidents")
	if len(posts) != 2 {
		t.Fatalf("%d posts, want the draft's link once per run", len(posts))
	}
	for _, text := range []string{r.Text, posts[0].Text} {
		for _, bad := range []string{"this project", "Job job", "*Job*"} {
			if strings.Contains(text, bad) {
				t.Errorf("placeholder %q in %q", bad, text)
			}
		}
	}
	if !strings.Contains(r.Text, "Post-mortem meeting due: Checkout errors after deploy #1234 (incident of 2026-11-20 14:12 UTC)") ||
		!strings.Contains(posts[0].Text, "Time to mitigate 18 min, impact 18 min") || posts[0].ThreadTS != parentTS {
		t.Errorf("reminder %q; post %+v", r.Text, posts[0])
	}
	if v := s.Violations(); len(v) > 0 {
		t.Errorf("requests or responses outside Slack's spec:\n%s", strings.Join(v, "\n"))
	}
	if s.Calls("chat.scheduledMessages.list") < 2 {
		t.Errorf("the scheduled messages were not listed on each run")
	}
	logData, _ := os.ReadFile(env["PMGUARD_EVENTS_FILE"])
	md, _ := os.ReadFile(filepath.Join(dir, "out", "postmortem.json"))
	if strings.Contains(string(logData)+string(md)+r.Text, s.Token) {
		t.Errorf("the Slack token leaked into the event log, the draft or the reminder")
	}
	evs, _, _ := events.ReadFiles(env["PMGUARD_EVENTS_FILE"])
	if n := len(events.Filter(evs, events.PostmortemReminderScheduled)); n != 1 {
		t.Errorf("%d postmortem_reminder_scheduled events, want 1", n)
	}
}

// A bad reminder or impact time is bad input, naming the setting.
func TestReminderSettings(t *testing.T) {
	s := slacktest.Start(t)
	for _, c := range []struct{ key, val, want string }{
		{"PMGUARD_POSTMORTEM_REMINDER", "soon", "PMGUARD_POSTMORTEM_REMINDER"},
		{"PMGUARD_POSTMORTEM_IMPACT_START", "noon", "PMGUARD_POSTMORTEM_IMPACT_START"},
	} {
		out, err := reminderRun(t, s, map[string]string{c.key: c.val, "PMGUARD_POSTMORTEM_OUTPUT_DIR": t.TempDir()})
		if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%s: exit %d %v\n%s", c.key, c.val, exitcode.Of(err), err, out)
		}
	}
	if len(s.Requests()) != 0 {
		t.Errorf("bad input reached Slack")
	}
}
