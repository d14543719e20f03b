package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/apitest"
	"github.com/pmguard/pmguard/internal/github/githubtest"
)

// pmguard followups end to end, with the env vars the orb job sets: issues
// created, the rerun creates none, and the exit codes.
func TestFollowupsVerb(t *testing.T) {
	gh := githubtest.New(t)
	dir := t.TempDir()
	env := map[string]string{
		"PMGUARD_FOLLOWUPS_MODE": "sync", "PMGUARD_FOLLOWUPS_TRACKER": "github",
		"PMGUARD_FOLLOWUPS_INCIDENT_FILE":    "../../internal/postmortem/testdata/reference/incident.yml",
		"PMGUARD_FOLLOWUPS_GITHUB_REPO":      "acme/shop",
		"PMGUARD_FOLLOWUPS_GITHUB_TOKEN_ENV": "FOLLOWUPS_TOKEN", "FOLLOWUPS_TOKEN": githubtest.Token,
		"PMGUARD_FOLLOWUPS_GITHUB_API_URL": gh.URL(), "PMGUARD_FOLLOWUPS_POSTMORTEM_DIR": dir,
		"PMGUARD_FOLLOWUPS_OWNERS": "@dba=octo-dba", "PMGUARD_EVENTS_FILE": filepath.Join(dir, "events.jsonl"),
	}
	for run := 0; run < 2; run++ {
		code, stdout, stderr := invoke(t, env, "followups")
		if code != 0 || len(gh.Issues()) != 3 {
			t.Fatalf("run %d: exit %d, %d issues\n%s%s", run, code, len(gh.Issues()), stdout, stderr)
		}
		if strings.Contains(stdout+stderr, githubtest.Token) {
			t.Error("the token leaked")
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "followups.json")); err != nil || !strings.Contains(string(b), `"outcome": "unchanged"`) {
		t.Errorf("followups.json: %s %v", b, err)
	}
	env["PMGUARD_FOLLOWUPS_MODE"] = "weekly"
	if code, _, stderr := invoke(t, env, "followups"); code != 2 || !strings.Contains(stderr, "mode") {
		t.Errorf("bad mode: exit %d: %s", code, stderr)
	}
	env["PMGUARD_FOLLOWUPS_MODE"] = "sync"
	gh.Inject(apitest.Fault{Status: 401, Body: `{"message":"Bad credentials"}`})
	if code, _, stderr := invoke(t, env, "followups"); code != 3 || !strings.Contains(stderr, "HTTP 401: Bad credentials (the token is not valid)") {
		t.Errorf("bad token: exit %d: %s", code, stderr)
	}
}

// Whatever a verb prints passes the run's redactor: a token pasted into an
// action item (printed in the summary by a path that does not redact it
// itself) stays hidden.
func TestVerbOutputHidesKnownSecrets(t *testing.T) {
	gh := githubtest.New(t)
	dir := t.TempDir()
	incident := filepath.Join(dir, "incident.yml")
	if err := os.WriteFile(incident, []byte("title: token in an action\nseverity: SEV2\naction_items:\n"+
		"  - action: Rotate "+githubtest.Token+" now\n    type: prevent\n    priority: P0\n    owner: \"@dba\"\n    deadline: 2026-11-27\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"PMGUARD_FOLLOWUPS_MODE": "sync", "PMGUARD_FOLLOWUPS_TRACKER": "github",
		"PMGUARD_FOLLOWUPS_INCIDENT_FILE": incident, "PMGUARD_FOLLOWUPS_GITHUB_REPO": "acme/shop",
		"PMGUARD_FOLLOWUPS_GITHUB_TOKEN_ENV": "FOLLOWUPS_TOKEN", "FOLLOWUPS_TOKEN": githubtest.Token,
		"PMGUARD_FOLLOWUPS_GITHUB_API_URL": gh.URL(), "PMGUARD_FOLLOWUPS_POSTMORTEM_DIR": dir,
		"PMGUARD_FOLLOWUPS_OWNERS": "@dba=octo-dba", "PMGUARD_EVENTS_FILE": filepath.Join(dir, "events.jsonl"),
	}
	code, stdout, stderr := invoke(t, env, "followups")
	if code != 0 || len(gh.Issues()) != 1 {
		t.Fatalf("exit %d, %d issues\n%s%s", code, len(gh.Issues()), stdout, stderr)
	}
	if strings.Contains(stdout+stderr, githubtest.Token) {
		t.Errorf("the token is printed:\n%s%s", stdout, stderr)
	}
	if !strings.Contains(stdout, "Rotate ") {
		t.Errorf("the action is not in the summary:\n%s", stdout)
	}
}
