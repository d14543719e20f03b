package dora

import (
	"context"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// gitRepo builds a linear repository with one commit per name, authored at
// the given times, and returns the directory and each name's hash.
func gitRepo(t *testing.T, commits []struct{ name, authored string }) (string, map[string]string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed for lead times")
	}
	dir := t.TempDir()
	run := func(env []string, args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null",
			"GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_COMMITTER_NAME=dev", "GIT_COMMITTER_EMAIL=dev@example.com")
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run(nil, "init", "-q", "-b", "main")
	hashes := map[string]string{}
	for _, c := range commits {
		date := "GIT_AUTHOR_DATE=" + ts(c.authored).Format("2006-01-02T15:04:05Z")
		run([]string{date, "GIT_COMMITTER_DATE=2026-11-14T00:00:00Z"}, "commit", "-q", "--allow-empty", "-m", c.name)
		hashes[c.name] = run(nil, "rev-parse", "HEAD")
	}
	return dir, hashes
}

// The synthetic history in a real repository: git attribution yields the
// changes TestSyntheticHistory was hand-computed from, including D9 shipping
// commits authored over four days and c4 reaching production only with D5.
func TestGitAttribution(t *testing.T) {
	order := []struct{ name, authored string }{{"c0", "2026-10-30 12:00"}}
	for _, c := range syntheticCommits {
		if c.commit == "c10" || c.commit == "c11" || !strings.HasPrefix(c.commit, "c9") {
			order = append(order, struct{ name, authored string }{c.commit, c.authored})
		}
		if c.commit == "c8" { // c9a, c9b, c9 follow c8
			for _, n := range []string{"c9a", "c9b", "c9"} {
				for _, x := range syntheticCommits {
					if x.commit == n {
						order = append(order, struct{ name, authored string }{n, x.authored})
					}
				}
			}
		}
	}
	dir, hashes := gitRepo(t, order)
	deploys := syntheticDeploys()
	for i := range deploys {
		deploys[i].Revision = hashes[deploys[i].Revision]
	}
	got, notes, err := Attribute(context.Background(), dir, deploys)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) > 0 {
		t.Errorf("notes: %v", notes)
	}
	byHash := map[string]string{}
	for n, h := range hashes {
		byHash[h] = n
	}
	var gotS, wantS []string
	for _, c := range got {
		gotS = append(gotS, byHash[c.Commit]+"@"+c.PipelineID+"@"+c.Authored.Format("01-02 15:04")+"@"+c.Deployed.Format("01-02 15:04"))
	}
	for _, c := range syntheticChanges() {
		wantS = append(wantS, c.Commit+"@"+c.PipelineID+"@"+c.Authored.Format("01-02 15:04")+"@"+c.Deployed.Format("01-02 15:04"))
	}
	sort.Strings(gotS)
	sort.Strings(wantS)
	if strings.Join(gotS, "\n") != strings.Join(wantS, "\n") {
		t.Errorf("attribution:\n got %v\nwant %v", gotS, wantS)
	}
}

// A deployed revision the clone lacks (a shallow checkout) is a note, not a
// failure, and the other deployments still count.
func TestGitMissingRevision(t *testing.T) {
	dir, hashes := gitRepo(t, []struct{ name, authored string }{{"a", "2026-11-02 08:00"}, {"b", "2026-11-02 09:00"}})
	deploys := []Deploy{
		{PipelineID: "P1", Revision: hashes["a"], Status: "success", Finished: ts("2026-11-02 08:30")},
		{PipelineID: "P2", Revision: "0123456789abcdef0123456789abcdef01234567", Status: "success", Finished: ts("2026-11-02 08:45")},
		{PipelineID: "P3", Revision: hashes["b"], Status: "success", Finished: ts("2026-11-02 09:30")},
	}
	got, notes, err := Attribute(context.Background(), dir, deploys)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Commit != hashes["b"] || got[0].PipelineID != "P3" || got[0].LeadTime().Minutes() != 30 {
		t.Errorf("changes = %+v", got)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "1 deployed revision") {
		t.Errorf("notes = %v", notes)
	}
}
