package orb_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestYamllint lints the orb source and the project's pipeline with the
// committed .yamllint (orb-tools' lint job, made stricter: see the file),
// warnings included. yamllint comes from Debian (apt-get install yamllint);
// in CI its absence fails the test.
func TestYamllint(t *testing.T) {
	yl, err := exec.LookPath("yamllint")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("yamllint is not installed (apt-get install --no-install-recommends yamllint)")
		}
		t.Skip("yamllint is not installed; CI fails here")
	}
	config := filepath.Join(root(t), ".yamllint")
	lint := func(paths ...string) ([]byte, error) {
		cmd := exec.Command(yl, append([]string{"--strict", "-f", "parsable", "-c", config}, paths...)...)
		cmd.Dir = root(t)
		return cmd.CombinedOutput()
	}
	if out, err := lint("orb/src", ".circleci"); err != nil {
		t.Fatalf("yamllint: %v\n%s", err, out)
	}
	// The config is in effect: a truthy yes, a duplicated key and trailing
	// spaces fail.
	bad := filepath.Join(t.TempDir(), "bad.yml")
	writeFile(t, bad, "a: yes\nb: 1\nb: 2\nc: x \n")
	if out, err := lint(bad); err == nil {
		t.Errorf("yamllint passed a file with yes, a duplicated key and trailing spaces:\n%s", out)
	}
}
