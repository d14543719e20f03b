package migrations

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// git's error output quotes what it was given; a URL's credentials in it
// never reach the message.
func TestGitErrorHidesURLCredentials(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	_, err := ExecGit{Dir: dir}.Run(context.Background(), nil, "check-ref-format", "--branch", "see https://deployer:hunter2secret@git.example.com/shop")
	var ge *GitError
	if !errors.As(err, &ge) {
		t.Fatalf("want a *GitError, got %v", err)
	}
	if !strings.Contains(ge.Stderr, "git.example.com") {
		t.Fatalf("git's message is not kept: %q", ge.Stderr)
	}
	if strings.Contains(err.Error(), "hunter2secret") {
		t.Errorf("the URL's password is in the message: %v", err)
	}
}
