package followups_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/github/githubtest"
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
