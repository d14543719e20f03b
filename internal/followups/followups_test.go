package followups_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/apitest"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/followups"
	"github.com/pmguard/pmguard/internal/github/githubtest"
	"github.com/pmguard/pmguard/internal/notify/slacktest"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
)

const incident = "../postmortem/testdata/reference/incident.yml"

type rig struct {
	gh  *githubtest.Server
	sl  *slacktest.Server
	env map[string]string
	dir string
}

func newRig(t *testing.T) *rig {
	gh := githubtest.New(t)
	sl := slacktest.Start(t)
	sl.AddChannel("incidents", true)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "postmortem.md"), []byte("# Checkout errors after deploy #1234\n\n## Action items\n\n…\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "postmortem.json"), []byte(`{"title":"Checkout errors after deploy #1234","action_items":[{"action":"Add a write-path probe to the post-deploy health check","owner":"@checkout-oncall"}]}`), 0o644)
	env := map[string]string{
		"GITHUB_TOKEN": githubtest.Token, "PMGUARD_FOLLOWUPS_GITHUB_API_URL": gh.URL(), "CIRCLE_PROJECT_USERNAME": "acme", "CIRCLE_PROJECT_REPONAME": "shop",
		"PMGUARD_FOLLOWUPS_INCIDENT_FILE": incident, "PMGUARD_FOLLOWUPS_POSTMORTEM_DIR": dir,
		"PMGUARD_FOLLOWUPS_OWNERS": "@platform-team=octo-platform\n@checkout-oncall=octo-checkout",
		"PMGUARD_FOLLOWUPS_LINK":   "https://app.circleci.com/pipelines/gh/acme/shop/1236",
		"SLACK_ACCESS_TOKEN":       sl.Token, "PMGUARD_SLACK_API_URL": sl.APIURL(),
	}
	return &rig{gh: gh, sl: sl, env: env, dir: dir}
}

func (r *rig) run(t *testing.T, now string, env ...string) (string, error) {
	t.Helper()
	e := map[string]string{}
	for k, v := range r.env {
		e[k] = v
	}
	for i := 0; i+1 < len(env); i += 2 {
		e[env[i]] = env[i+1]
	}
	var out bytes.Buffer
	d := verbtest.Deps(e, &out, &out)
	tm, _ := time.Parse(time.DateOnly, now)
	d.Now = func() time.Time { return tm.Add(9 * time.Hour) }
	o, err := followups.New(context.Background(), d, nil)
	if err != nil {
		return out.String(), err
	}
	err = followups.Run(context.Background(), o)
	return out.String(), err
}

// A create that GitHub carried out but whose answer was lost (a gateway's
// 502 after the work) is not sent again: the issue it made is found and
// used, so no item gets a second issue.
func TestCreateAnsweredWithA5xxAfterTheWork(t *testing.T) {
	r := newRig(t)
	r.gh.Inject(apitest.Fault{Method: http.MethodPost, Path: "/repos/acme/shop/issues", Status: http.StatusBadGateway, Body: `{"message":"Bad Gateway"}`, Times: 1, AfterWork: true})
	out, err := r.run(t, "2026-11-20")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "but the ticket was made") {
		t.Errorf("output does not say the failed create made its issue:\n%s", out)
	}
	titles := map[string]int{}
	for _, i := range r.gh.Issues() {
		titles[i.Title]++
	}
	for title, n := range titles {
		if n > 1 {
			t.Errorf("%d issues titled %q", n, title)
		}
	}
	if len(titles) != 3 {
		t.Errorf("%d issues, want one per action item (3):\n%s", len(titles), out)
	}
}

// Each action item becomes one issue; a rerun updates, never duplicates.
func TestSyncIdempotent(t *testing.T) {
	r := newRig(t)
	out, err := r.run(t, "2026-11-20")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	issues := r.gh.Issues()
	if len(issues) != 3 || strings.Count(out, "created") != 3 {
		t.Fatalf("%d issues:\n%s", len(issues), out)
	}
	first := issues[0]
	if first.Title != "[P0] Block locking migrations before deploy (pmguard migrations)" || !strings.Contains(first.Body, "- Due: 2026-11-27") ||
		!strings.Contains(first.Body, "- Owner: @platform-team") || !strings.Contains(first.Body, "<!-- pmguard:followup ") ||
		strings.Join(first.Assignees, ",") != "octo-platform" || strings.Join(first.Labels, ",") != "postmortem-follow-up,P0" {
		t.Errorf("issue #1 = %+v", first)
	}
	if len(issues[2].Assignees) != 0 { // @dba has no login in the handle map
		t.Errorf("unmapped owner assigned: %+v", issues[2].Assignees)
	}

	// Rerun from another job (another $CIRCLE_BUILD_URL): nothing to do.
	out, err = r.run(t, "2026-11-21", "PMGUARD_FOLLOWUPS_LINK", "https://app.circleci.com/pipelines/gh/acme/shop/1240")
	if err != nil || len(r.gh.Issues()) != 3 || strings.Count(out, "unchanged") != 3 {
		t.Fatalf("rerun: %v, %d issues\n%s", err, len(r.gh.Issues()), out)
	}
	// A changed handle map updates the issue in place.
	out, err = r.run(t, "2026-11-21", "PMGUARD_FOLLOWUPS_OWNERS", "@platform-team=octo-platform\n@checkout-oncall=octo-checkout\n@dba=octo-dba")
	if err != nil || len(r.gh.Issues()) != 3 || strings.Count(out, "updated") != 1 || strings.Join(r.gh.Issues()[2].Assignees, ",") != "octo-dba" {
		t.Fatalf("update: %v, %+v\n%s", err, r.gh.Issues(), out)
	}
	for _, c := range r.gh.Calls() {
		if strings.HasPrefix(c, "GET /search") {
			t.Errorf("search API used: %s", c)
		}
	}

	// The links are in the post-mortem, once.
	md, _ := os.ReadFile(filepath.Join(r.dir, "postmortem.md"))
	if strings.Count(string(md), "## Follow-up tickets") != 1 || !strings.Contains(string(md), "[#2](https://github.com/acme/shop/issues/2)") ||
		!strings.HasPrefix(string(md), "# Checkout errors after deploy #1234") {
		t.Errorf("postmortem.md:\n%s", md)
	}
	var pj struct {
		ActionItems []map[string]any `json:"action_items"`
	}
	b, _ := os.ReadFile(filepath.Join(r.dir, "postmortem.json"))
	if json.Unmarshal(b, &pj) != nil || pj.ActionItems[0]["ticket"] != "https://github.com/acme/shop/issues/2" {
		t.Errorf("postmortem.json: %s", b)
	}
	var fj struct {
		Followups []followups.Followup `json:"followups"`
	}
	b, _ = os.ReadFile(filepath.Join(r.dir, "followups.json"))
	if json.Unmarshal(b, &fj) != nil || len(fj.Followups) != 3 || fj.Followups[0].Ticket != "#1" {
		t.Errorf("followups.json: %s", b)
	}
	if strings.Contains(out+string(md), githubtest.Token) {
		t.Error("the token leaked")
	}
}

// The scheduled run: overdue items and those due soon go to Slack; a closed
// issue is done.
func TestOverdueReport(t *testing.T) {
	r := newRig(t)
	if out, err := r.run(t, "2026-11-20"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	r.gh.Close(3) // the lock-wait alert is in place
	evFile := filepath.Join(t.TempDir(), "events.jsonl")
	out, err := r.run(t, "2026-12-05", "PMGUARD_FOLLOWUPS_MODE", "report", "PMGUARD_FOLLOWUPS_SLACK_CHANNEL", "incidents", "PMGUARD_FOLLOWUPS_REMIND_BEFORE", "7d", "PMGUARD_EVENTS_FILE", evFile)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	msgs := r.sl.Messages("incidents")
	if len(msgs) != 1 {
		t.Fatalf("%d Slack messages\n%s", len(msgs), out)
	}
	text := msgs[0].Text
	for _, want := range []string{
		"2 overdue, 0 due within 7 days",
		"Overdue: Block locking migrations before deploy (pmguard migrations) — @platform-team, due 2026-11-27 (#1 https://github.com/acme/shop/issues/1): 8 days overdue",
		"Overdue: Add a write-path probe to the post-deploy health check — @checkout-oncall, due 2026-12-04 (#2 https://github.com/acme/shop/issues/2): 1 day overdue",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Alert on lock wait") {
		t.Errorf("a closed issue is reported:\n%s", text)
	}
	evs, _, _ := events.ReadFiles(evFile)
	var f events.Followups
	rep := events.Filter(evs, events.FollowupsReported)
	if len(rep) == 1 {
		rep[0].Decode(&f)
	}
	if len(rep) != 1 || f.Overdue != 2 || f.DueSoon != 0 || f.Items != 3 {
		t.Errorf("followups_reported = %+v (%+v)", f, evs)
	}
	// Earlier, the first item is a reminder.
	out, err = r.run(t, "2026-11-25", "PMGUARD_FOLLOWUPS_MODE", "report", "PMGUARD_FOLLOWUPS_REMIND_BEFORE", "3d")
	if err != nil || !strings.Contains(out, "Reminder: Block locking migrations before deploy (pmguard migrations) — @platform-team, due 2026-11-27") || !strings.Contains(out, "due in 2 days") {
		t.Errorf("reminder: %v\n%s", err, out)
	}
	if len(r.gh.Issues()) != 3 {
		t.Errorf("a report created issues")
	}
}

// A missing incident file is named with its flag, env var and the form
// expected, like every other bad setting.
func TestMissingIncidentFileSaysWhatIsAccepted(t *testing.T) {
	r := newRig(t)
	_, err := r.run(t, "2026-11-20", "PMGUARD_FOLLOWUPS_INCIDENT_FILE", "no-such-incident.yml")
	if exitcode.Of(err) != exitcode.BadInput {
		t.Fatalf("exit %d (%v), want 2", exitcode.Of(err), err)
	}
	for _, w := range []string{"invalid incident_file", "flag --incident-file", "env PMGUARD_FOLLOWUPS_INCIDENT_FILE", "accepted: the path of the team's incident.yml"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not say %q", err, w)
		}
	}
}

func TestBadInput(t *testing.T) {
	r := newRig(t)
	for _, c := range [][]string{
		{"PMGUARD_FOLLOWUPS_MODE", "later"},
		{"PMGUARD_FOLLOWUPS_TRACKER", "trello"},
		{"GITHUB_TOKEN", ""},
		{"PMGUARD_FOLLOWUPS_OWNERS", "@platform-team"},
		{"PMGUARD_FOLLOWUPS_GITHUB_REPO", "not a repo"},
		{"PMGUARD_FOLLOWUPS_INCIDENT_FILE", "no-such-incident.yml"},
		// GitHub's listing reads a comma as two labels an issue must both
		// carry: reruns would not find the issues and make them again.
		{"PMGUARD_FOLLOWUPS_LABEL", "postmortem,follow-up"},
		// Jira labels cannot hold spaces.
		{"PMGUARD_FOLLOWUPS_TRACKER", "jira", "PMGUARD_FOLLOWUPS_JIRA_URL", r.gh.URL(), "PMGUARD_FOLLOWUPS_JIRA_PROJECT", "OPS",
			"JIRA_EMAIL", "a@example.com", "JIRA_API_TOKEN", "t", "PMGUARD_FOLLOWUPS_LABEL", "post mortem"},
		{"PMGUARD_FOLLOWUPS_TRACKER", "jira", "PMGUARD_FOLLOWUPS_JIRA_URL", r.gh.URL(), "PMGUARD_FOLLOWUPS_JIRA_PROJECT", "OPS",
			"JIRA_EMAIL", "a@example.com", "JIRA_API_TOKEN", "t", "PMGUARD_FOLLOWUPS_LABELS", "team,on call"},
	} {
		_, err := r.run(t, "2026-11-20", c...)
		if exitcode.Of(err) != exitcode.BadInput {
			t.Errorf("%v: exit %d (%v)", c, exitcode.Of(err), err)
		}
		if strings.Contains(c[len(c)-2], "LABEL") {
			for _, w := range []string{"flag --label", "env PMGUARD_FOLLOWUPS_LABEL", "accepted: "} {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("%v: %v does not say %q", c, err, w)
				}
			}
		}
	}
	if n := len(r.gh.Calls()); n != 0 {
		t.Errorf("%d requests before the input was checked", n)
	}
}

// Two action items with the same action would share one key: the run
// would create an issue for each, and reruns update the first from both.
func TestRepeatedActionIsBadInput(t *testing.T) {
	r := newRig(t)
	inc := filepath.Join(t.TempDir(), "incident.yml")
	os.WriteFile(inc, []byte("title: Checkout errors\ndate: 2026-11-20\naction_items:\n  - action: Add a lock-wait alert\n    owner: \"@dba\"\n  - action: add a lock-wait alert\n    owner: \"@platform-team\"\n"), 0o644)
	_, err := r.run(t, "2026-11-20", "PMGUARD_FOLLOWUPS_INCIDENT_FILE", inc)
	if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(fmt.Sprint(err), "repeats action item 1") {
		t.Errorf("exit %d (%v), want 2 naming the repeat; %d issues", exitcode.Of(err), err, len(r.gh.Issues()))
	}
	if n := len(r.gh.Calls()); n != 0 {
		t.Errorf("%d requests before the input was checked", n)
	}
}

// A postmortem_dir without the draft (the workspace attached elsewhere)
// cannot receive the links: the run says so, naming the setting, rather
// than leaving the draft without them silently.
func TestNoDraftInPostmortemDirIsSaid(t *testing.T) {
	r := newRig(t)
	empty := t.TempDir()
	out, err := r.run(t, "2026-11-20", "PMGUARD_FOLLOWUPS_POSTMORTEM_DIR", empty)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "warning") || !strings.Contains(out, "postmortem.md") || !strings.Contains(out, "postmortem_dir") {
		t.Errorf("no warning that the draft is not in %s:\n%s", empty, out)
	}
	if _, err := os.Stat(filepath.Join(empty, "followups.json")); err != nil {
		t.Errorf("followups.json not written: %v", err)
	}
	// With the draft there, no warning.
	out, _ = r.run(t, "2026-11-21")
	if strings.Contains(out, "postmortem_dir") {
		t.Errorf("warning with the draft in place:\n%s", out)
	}
}

// An action whose text holds a follow-up marker (pasted from an issue) does
// not make its issue pass for another item's: reruns keep one issue each.
func TestMarkerInActionText(t *testing.T) {
	r := newRig(t)
	if out, err := r.run(t, "2026-11-20"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	first := r.gh.Issues()[0].Body
	mark := first[strings.Index(first, "<!-- pmguard:followup"):]
	mark = mark[:strings.Index(mark, "-->")+3]
	inc := filepath.Join(t.TempDir(), "incident.yml")
	os.WriteFile(inc, []byte("title: \"Checkout errors after deploy #1234\"\ndate: 2026-11-20\naction_items:\n  - action: \"Block locking migrations before deploy (pmguard migrations)\"\n  - action: \"Document the lock check "+mark+"\"\n"), 0o644)
	// Same title and date: the first item keeps its issue.
	for i := 0; i < 2; i++ {
		if out, err := r.run(t, "2026-11-21", "PMGUARD_FOLLOWUPS_INCIDENT_FILE", inc); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	if n := len(r.gh.Issues()); n != 4 {
		t.Errorf("%d issues after two reruns, want 4 (the 3 first and one for the new item)", n)
	}
}

// Action text goes into postmortem.md escaped as the draft escapes it: no
// raw HTML, and a quoted section marker cannot cut the section on reruns.
func TestLinksSectionEscapesActionText(t *testing.T) {
	r := newRig(t)
	inc := filepath.Join(t.TempDir(), "incident.yml")
	os.WriteFile(inc, []byte("title: Checkout\ndate: 2026-11-20\naction_items:\n  - action: \"Drop the <b>lock</b> | keep <!-- /pmguard:followups --> rows\"\n    owner: \"@dba\"\n"), 0o644)
	for i := 0; i < 2; i++ {
		if out, err := r.run(t, "2026-11-20", "PMGUARD_FOLLOWUPS_INCIDENT_FILE", inc); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	md, _ := os.ReadFile(filepath.Join(r.dir, "postmortem.md"))
	if n := strings.Count(string(md), "## Follow-up tickets"); n != 1 || strings.Contains(string(md), "<b>") || strings.Count(string(md), "<!-- /pmguard:followups -->") != 1 {
		t.Errorf("postmortem.md (%d sections):\n%s", n, md)
	}
}
