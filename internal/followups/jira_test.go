package followups_test

import (
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/jira/jiratest"
)

// The same follow-ups in Jira: one issue per item, found again by its key
// label, due dates in duedate, assignees by account id.
func TestJiraSyncIdempotent(t *testing.T) {
	r := newRig(t)
	j := jiratest.New(t)
	env := []string{"PMGUARD_FOLLOWUPS_TRACKER", "jira", "PMGUARD_FOLLOWUPS_JIRA_URL", j.URL(), "PMGUARD_FOLLOWUPS_JIRA_PROJECT", "OPS",
		"JIRA_EMAIL", jiratest.Email, "JIRA_API_TOKEN", jiratest.Token,
		"PMGUARD_FOLLOWUPS_OWNERS", "@platform-team=5b10ac8d82e05b22cc7d4ef5"}
	out, err := r.run(t, "2026-11-20", env...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	is := j.Issues()
	if len(is) != 3 || is[0].Fields["duedate"] != "2026-11-27" || is[0].Fields["summary"] != "[P0] Block locking migrations before deploy (pmguard migrations)" {
		t.Fatalf("issues: %+v", is)
	}
	if a, _ := is[0].Fields["assignee"].(map[string]any); a["accountId"] != "5b10ac8d82e05b22cc7d4ef5" {
		t.Errorf("assignee = %v", is[0].Fields["assignee"])
	}
	out, err = r.run(t, "2026-11-21", env...)
	if err != nil || len(j.Issues()) != 3 || strings.Count(out, "unchanged") != 3 {
		t.Fatalf("rerun: %v, %d issues\n%s", err, len(j.Issues()), out)
	}
	j.Resolve("OPS-1")
	out, err = r.run(t, "2026-12-05", append(env, "PMGUARD_FOLLOWUPS_MODE", "report")...)
	if err != nil || !strings.Contains(out, "1 overdue") || !strings.Contains(out, "OPS-2 "+j.URL()+"/browse/OPS-2") || strings.Contains(out, "Overdue: Block locking") {
		t.Errorf("report: %v\n%s", err, out)
	}
	if strings.Contains(out, jiratest.Token) {
		t.Error("token leaked")
	}
}
