package followups_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/github/githubtest"
	"github.com/pmguard/pmguard/internal/jira/jiratest"
)

// patchByHand changes an issue through GitHub's API as a person does in
// GitHub's page (the page sends the same PATCH).
func patchByHand(t *testing.T, gh *githubtest.Server, number, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPatch, gh.URL()+"/repos/acme/shop/issues/"+number, bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer "+githubtest.Token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("PATCH #%s: %v %v", number, err, resp)
	}
	resp.Body.Close()
}

// What the team does to an issue in GitHub between runs — a triage label,
// a person taking the unassigned item — is not undone by a rerun whose
// items did not change; a changed item keeps them too.
func TestRerunKeepsTriage(t *testing.T) {
	r := newRig(t)
	if out, err := r.run(t, "2026-11-20"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// #3 (@dba, no login in the handle map) is taken by a person, and
	// labelled for the team's board.
	patchByHand(t, r.gh, "3", `{"labels":["postmortem-follow-up","P2","team:data"],"assignees":["octo-volunteer"]}`)
	out, err := r.run(t, "2026-11-21", "PMGUARD_FOLLOWUPS_LINK", "https://app.circleci.com/pipelines/gh/acme/shop/1240")
	if err != nil || len(r.gh.Issues()) != 3 {
		t.Fatalf("rerun: %v, %d issues\n%s", err, len(r.gh.Issues()), out)
	}
	if n := strings.Count(out, "unchanged"); n != 3 {
		t.Errorf("%d items unchanged, want 3:\n%s", n, out)
	}
	i := r.gh.Issues()[2]
	if strings.Join(i.Assignees, ",") != "octo-volunteer" || !strings.Contains(strings.Join(i.Labels, ","), "team:data") {
		t.Errorf("rerun undid the triage: labels %q, assignees %q", i.Labels, i.Assignees)
	}
	// The handle map now names @dba: the issue gets its login, and keeps
	// the person and the label.
	out, err = r.run(t, "2026-11-22", "PMGUARD_FOLLOWUPS_OWNERS", "@platform-team=octo-platform\n@checkout-oncall=octo-checkout\n@dba=octo-dba")
	if err != nil || strings.Count(out, "updated") != 1 {
		t.Fatalf("update: %v\n%s", err, out)
	}
	i = r.gh.Issues()[2]
	if strings.Join(i.Assignees, ",") != "octo-volunteer,octo-dba" || strings.Join(i.Labels, ",") != "postmortem-follow-up,P2,team:data" {
		t.Errorf("after the update: labels %q, assignees %q", i.Labels, i.Assignees)
	}
}

// The same in Jira: a label and an assignee set in Jira stay, and an item
// that did not change is not edited again on every run.
func TestJiraRerunKeepsTriage(t *testing.T) {
	r := newRig(t)
	j := jiratest.New(t)
	env := []string{"PMGUARD_FOLLOWUPS_TRACKER", "jira", "PMGUARD_FOLLOWUPS_JIRA_URL", j.URL(), "PMGUARD_FOLLOWUPS_JIRA_PROJECT", "OPS",
		"JIRA_EMAIL", jiratest.Email, "JIRA_API_TOKEN", jiratest.Token, "PMGUARD_FOLLOWUPS_OWNERS", "@platform-team=5b10ac8d82e05b22cc7d4ef5"}
	if out, err := r.run(t, "2026-11-20", env...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	labels, _ := j.Issues()[2].Fields["labels"].([]any)
	var hand []string
	for _, l := range labels {
		hand = append(hand, `"`+l.(string)+`"`)
	}
	req, _ := http.NewRequest(http.MethodPut, j.URL()+"/rest/api/3/issue/OPS-3", strings.NewReader(`{"fields":{"labels":[`+strings.Join(hand, ",")+`,"team-data"],"assignee":{"accountId":"712020:volunteer"}}}`))
	req.SetBasicAuth(jiratest.Email, jiratest.Token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT OPS-3: %v %v", err, resp)
	}
	out, err := r.run(t, "2026-11-21", env...)
	if err != nil || strings.Count(out, "unchanged") != 3 {
		t.Errorf("rerun: %v\n%s", err, out)
	}
	f := j.Issues()[2].Fields
	if a, _ := f["assignee"].(map[string]any); a["accountId"] != "712020:volunteer" || !strings.Contains(fmt.Sprint(f["labels"]), "team-data") {
		t.Errorf("rerun undid the triage: labels %v, assignee %v", f["labels"], f["assignee"])
	}
}
